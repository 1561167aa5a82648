"""Errors that reach a user: each says where the problem is and what is wrong."""

from __future__ import annotations


class CitytraceError(Exception):
    """Base of errors shown to users as a message, never as a stack trace."""


class NotFoundError(CitytraceError):
    """A referenced record does not exist."""


class ConflictError(CitytraceError):
    """The request conflicts with what is stored."""


class InputError(CitytraceError):
    """Bad input: names the file, line or field and what is wrong."""

    def __init__(self, message: str, *, path: str | None = None, location: str | None = None):
        self.path = path
        self.location = location
        self.reason = message
        where = ", ".join(p for p in (path, location) if p)
        super().__init__(f"{where}: {message}" if where else message)


def from_validation(exc: Exception) -> InputError:
    """An :class:`InputError` naming each invalid field of a pydantic validation error."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = []
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"])
            message = e["msg"].removeprefix("Value error, ")
            parts.append(f"{field}: {message}" if field else message)
        return InputError("; ".join(parts))
    return InputError(str(exc))
