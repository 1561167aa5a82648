"""The web application: the JSON API over the same services as the CLI."""

from __future__ import annotations

import logging
import traceback

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from citytrace import __version__
from citytrace.errors import CitytraceError, ConflictError, InputError, NotFoundError

log = logging.getLogger(__name__)


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, **extra})


def create_app(engine: Engine | None = None) -> FastAPI:
    """The FastAPI app bound to ``engine`` (the configured database by default)."""
    from citytrace.api.headers import SecurityHeadersMiddleware
    from citytrace.audit.context import ClientAddressMiddleware
    from citytrace.audit.router import router as audit_router
    from citytrace.auth.dependencies import require
    from citytrace.auth.exceptions import (
        AuthenticationError,
        PermissionDeniedError,
        RateLimitedError,
    )
    from citytrace.auth.permissions import Permission
    from citytrace.auth.ratelimit import RateLimits
    from citytrace.auth.router import router as auth_router
    from citytrace.auth.router import users_router
    from citytrace.cases.router import router as cases_router
    from citytrace.config import get_settings
    from citytrace.db import get_engine
    from citytrace.investigation.router import router as visits_router
    from citytrace.retention.scheduler import install_retention
    from citytrace.stats.router import router as stats_router

    settings = get_settings()
    # Swagger UI loads from a CDN and starts with an inline script: development only. Elsewhere
    # the API is described by /openapi.json alone, for any client to render.
    development = settings.environment == "development"
    app = FastAPI(
        title="citytrace",
        version=__version__,
        description=(
            "Case investigation API of citytrace: register confirmed cases, attach location "
            "evidence, reconstruct and review each case's route of visits. Sign in with "
            "POST /api/auth/login (session cookie + X-CSRF-Token header) or send an API token "
            "as `Authorization: Bearer <token>`."
        ),
        docs_url="/docs" if development else None,
        redoc_url=None,
    )
    app.state.engine = engine or get_engine()
    app.state.rate_limits = RateLimits.from_settings()
    app.add_middleware(ClientAddressMiddleware, behind_proxy=settings.behind_proxy)
    app.add_middleware(
        SecurityHeadersMiddleware,
        tile_host=settings.map_tile_host,
        behind_proxy=settings.behind_proxy,
        docs_paths=frozenset({"/docs", "/docs/oauth2-redirect"}) if development else frozenset(),
    )

    @app.exception_handler(AuthenticationError)
    async def _unauthenticated(_: Request, exc: AuthenticationError) -> JSONResponse:
        response = _error(401, str(exc))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(PermissionDeniedError)
    async def _forbidden(_: Request, exc: PermissionDeniedError) -> JSONResponse:
        return _error(403, str(exc))

    @app.exception_handler(RateLimitedError)
    async def _rate_limited(_: Request, exc: RateLimitedError) -> JSONResponse:
        response = _error(429, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(InputError)
    async def _input(_: Request, exc: InputError) -> JSONResponse:
        return _error(422, str(exc), location=exc.location)

    @app.exception_handler(CitytraceError)
    async def _other(_: Request, exc: CitytraceError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Field names and reasons only: the rejected values may be personal data.
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        return _error(422, "invalid request", problems=problems)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The type and the stack only: an exception's message may quote personal data (a
        # database error quotes the values of its statement).
        route = getattr(request.scope.get("route"), "path", "?")
        stack = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, route, stack)
        return _error(500, "internal error")

    @app.get("/api/health", tags=["service"], dependencies=[Depends(require(Permission.PUBLIC))])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(cases_router)
    app.include_router(visits_router)
    app.include_router(stats_router)
    app.include_router(audit_router)
    install_retention(app)
    return app
