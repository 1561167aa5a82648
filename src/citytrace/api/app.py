"""The web application: the JSON API and the investigator's workspace, over the same services
as the CLI."""

from __future__ import annotations

import logging
import traceback

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import DataError as DBAPIDataError
from sqlalchemy.exc import OperationalError as DBAPIOperationalError

from citytrace import __version__
from citytrace.errors import CitytraceError, ConflictError, InputError, NotFoundError

log = logging.getLogger(__name__)


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, **extra})


def _refusal(request: Request, status: int, message: str, **extra: object) -> Response:
    """An error as JSON for the API, as a page (never with the message) for the workspace.

    The open data's errors carry its CORS headers, so that another site's page reads them too
    (a bad ``since``, a 429 with its ``Retry-After``), not only its successes."""
    from citytrace.disclosure.public import CORS, OPEN_DATA_PREFIX
    from citytrace.web.pages import error_page, is_page

    if is_page(request):
        return error_page(request, status)
    response = _error(status, message, **extra)
    if request.url.path.startswith(OPEN_DATA_PREFIX):
        response.raw_headers.extend(CORS)
    return response


def create_app(engine: Engine | None = None) -> FastAPI:
    """The FastAPI app bound to ``engine`` (the configured database by default)."""
    from citytrace.api.admission import AdmissionMiddleware
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
    from citytrace.contacts.router import router as contacts_router
    from citytrace.contacts.scheduler import install_record_index
    from citytrace.db import get_engine
    from citytrace.disclosure.public import OpenDataFastPath
    from citytrace.disclosure.public import router as disclosure_public_router
    from citytrace.disclosure.router import router as disclosure_router
    from citytrace.disclosure.scheduler import install_disclosure
    from citytrace.investigation.router import router as visits_router
    from citytrace.retention.scheduler import install_retention
    from citytrace.screening.pages import router as screening_pages_router
    from citytrace.screening.router import router as screening_router
    from citytrace.screening.scheduler import install_outbox
    from citytrace.stats.router import router as stats_router
    from citytrace.web.pages import LEAFLET_DIR, STATIC_DIR
    from citytrace.web.router import router as web_router

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
    # At most so many requests at once past the feed's fast path; the others wait on the event
    # loop, so that a request holding a database lock always finds a worker thread to finish.
    app.add_middleware(AdmissionMiddleware, max_requests=settings.max_concurrent_requests)
    # The open-data feed from memory, outermost (it sets the same security headers itself).
    app.add_middleware(OpenDataFastPath)

    @app.exception_handler(AuthenticationError)
    async def _unauthenticated(request: Request, exc: AuthenticationError) -> Response:
        from citytrace.web.pages import is_page, to_login

        if is_page(request):
            return to_login(request)
        response = _error(401, str(exc))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(PermissionDeniedError)
    async def _forbidden(request: Request, exc: PermissionDeniedError) -> Response:
        return _refusal(request, 403, str(exc))

    @app.exception_handler(RateLimitedError)
    async def _rate_limited(request: Request, exc: RateLimitedError) -> Response:
        response = _refusal(request, 429, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
        return _refusal(request, 404, str(exc))

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> Response:
        return _refusal(request, 409, str(exc))

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> Response:
        return _refusal(request, 422, str(exc), location=exc.location)

    @app.exception_handler(CitytraceError)
    async def _other(request: Request, exc: CitytraceError) -> Response:
        return _refusal(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        # Field names and reasons only: the rejected values may be personal data.
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        return _refusal(request, 422, "invalid request", problems=problems)

    @app.exception_handler(DBAPIDataError)
    async def _bad_value(request: Request, exc: DBAPIDataError) -> Response:
        # The database refused a value that passed validation (a NUL character in a text on
        # PostgreSQL, a number beyond its column): bad input, not a fault. Never the message,
        # which quotes the statement.
        route = getattr(request.scope.get("route"), "path", "?")
        log.info(
            "database refused a value (%s) on %s %s", type(exc.orig).__name__, request.method, route
        )
        return _refusal(request, 422, "invalid value")

    @app.exception_handler(DBAPIOperationalError)
    async def _busy(request: Request, exc: DBAPIOperationalError) -> Response:
        # The embedded SQLite database stayed locked by other writers for its whole busy
        # timeout: the service is busy, not broken; the client may try again.
        if "database is locked" not in str(exc.orig):
            return await _unexpected(request, exc)
        route = getattr(request.scope.get("route"), "path", "?")
        log.warning("database busy on %s %s", request.method, route)
        response = _refusal(request, 503, "the service is busy: try again in a moment")
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The type and the stack only: an exception's message may quote personal data (a
        # database error quotes the values of its statement).
        route = getattr(request.scope.get("route"), "path", "?")
        stack = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, route, stack)
        return _refusal(request, 500, "internal error")

    @app.get("/api/health", tags=["service"], dependencies=[Depends(require(Permission.PUBLIC))])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(cases_router)
    app.include_router(visits_router)
    app.include_router(contacts_router)
    app.include_router(stats_router)
    app.include_router(audit_router)
    app.include_router(disclosure_router)
    app.include_router(disclosure_public_router)
    app.include_router(screening_router)
    app.include_router(screening_pages_router)
    # The investigator's workspace: pages, their scripts and styles, and Leaflet (packaged).
    app.include_router(web_router)
    app.mount("/static/leaflet", StaticFiles(directory=LEAFLET_DIR), name="leaflet")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_retention(app)
    install_disclosure(app)
    install_record_index(app)
    install_outbox(app)
    return app
