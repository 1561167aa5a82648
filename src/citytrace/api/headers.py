"""Security headers on every response: a strict Content-Security-Policy, no framing, HSTS over TLS.

A pure ASGI middleware, so that it also covers error responses and streamed bodies.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers, MutableHeaders

HSTS = "max-age=31536000; includeSubDomains"
# Swagger UI (development only) loads its script and style from this CDN and starts itself with
# an inline script; nothing else is allowed either.
DOCS_CDN = "https://cdn.jsdelivr.net"


def content_security_policy(*, tile_host: str | None = None, docs: bool = False) -> str:
    """The CSP of the product: own scripts and styles only, images also from the tile host."""
    images = " ".join(p for p in ("'self'", "data:", tile_host) if p)
    script = "'self'"
    style = "'self'"
    if docs:
        script = f"'self' 'unsafe-inline' {DOCS_CDN}"
        style = f"'self' {DOCS_CDN}"
        images += " https://fastapi.tiangolo.com"
    return (
        f"default-src 'self'; script-src {script}; style-src {style}; img-src {images}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response.

    ``docs_paths`` get a CSP relaxed for Swagger UI's CDN (pass them only in development).
    HSTS is sent only to a client on HTTPS: the request's own scheme, or ``X-Forwarded-Proto``
    when ``behind_proxy`` says a trusted proxy terminates TLS.
    """

    def __init__(
        self,
        app: Any,
        *,
        tile_host: str | None = None,
        behind_proxy: bool = False,
        docs_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.behind_proxy = behind_proxy
        self.docs_paths = docs_paths
        self.csp = content_security_policy(tile_host=tile_host)
        self.docs_csp = content_security_policy(tile_host=tile_host, docs=True)

    def _https(self, scope: dict[str, Any]) -> bool:
        if scope.get("scheme") == "https":
            return True
        if self.behind_proxy:
            proto = Headers(scope=scope).get("x-forwarded-proto", "")
            return proto.split(",")[0].strip().lower() == "https"
        return False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        csp = self.docs_csp if path in self.docs_paths else self.csp
        https = self._https(scope)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = csp
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if https:
                    headers["Strict-Transport-Security"] = HSTS
                if path.startswith("/api/") and "cache-control" not in headers:
                    # Answers may hold personal data: no copies in browser or proxy caches.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
