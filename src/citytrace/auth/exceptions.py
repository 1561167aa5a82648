"""Refusals of the accounts domain; the app maps them to 401, 403 and 429."""

from __future__ import annotations

from citytrace.errors import CitytraceError


class AuditedRefusalError(CitytraceError):
    """A refusal whose audit record (and failure count) is committed before it is sent."""


class AuthenticationError(CitytraceError):
    """No valid session or token (401). Never says which part was wrong."""


class LoginFailedError(AuthenticationError, AuditedRefusalError):
    """Wrong credentials, or an inactive or locked account: all look the same (401)."""


class PermissionDeniedError(AuditedRefusalError):
    """Signed in, but not allowed to do this or to reach this record (403)."""


class RateLimitedError(CitytraceError):
    """Too many requests from a client or for an account (429)."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many requests: try again in {retry_after_s} s")
