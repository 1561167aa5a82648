"""Where the current action comes from, so that every audit event records it.

The web layer binds the client's address for the duration of a request
(:class:`ClientAddressMiddleware`); :func:`citytrace.audit.service.record` uses it when its caller
does not name a client. Commands and the scheduler bind nothing: their events have no client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["ClientAddressMiddleware", "bind_client", "current_client"]

_client: ContextVar[str | None] = ContextVar("citytrace_audit_client", default=None)


def current_client() -> str | None:
    """The address bound for the current request, if any."""
    return _client.get()


@contextmanager
def bind_client(address: str | None) -> Iterator[None]:
    """Record ``address`` as the client of every audit event written inside the block."""
    token = _client.set(address)
    try:
        yield
    finally:
        _client.reset(token)


class ClientAddressMiddleware:
    """A pure ASGI middleware binding each HTTP request's client address (as the ASGI server
    reports it, or behind a trusted proxy the last ``X-Forwarded-For`` hop).

    Install it with ``app.add_middleware(ClientAddressMiddleware)``. Being pure ASGI (not
    ``BaseHTTPMiddleware``), the bound value reaches handlers run in the thread pool, which copy
    the context they are started from.
    """

    def __init__(self, app: Any, *, behind_proxy: bool = False) -> None:
        self.app = app
        self.behind_proxy = behind_proxy

    def _address(self, scope: Any) -> str | None:
        if self.behind_proxy:
            # The last hop is the one our own proxy added; earlier ones the client can forge.
            for name, value in scope.get("headers", ()):
                if name == b"x-forwarded-for":
                    text = bytes(value).decode("latin-1")
                    hops = [h.strip() for h in text.split(",") if h.strip()]
                    if hops:
                        return hops[-1][:64]
        client = scope.get("client")
        return None if not client else str(client[0])[:64]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with bind_client(self._address(scope)):
            await self.app(scope, receive, send)
