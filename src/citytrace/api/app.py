"""The web application: the JSON API over the same services as the CLI."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
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
    from citytrace.cases.router import router as cases_router
    from citytrace.db import get_engine
    from citytrace.investigation.router import router as visits_router

    app = FastAPI(
        title="citytrace",
        version=__version__,
        description=(
            "Case investigation API of citytrace: register confirmed cases, attach location "
            "evidence, reconstruct and review each case's route of visits."
        ),
    )
    app.state.engine = engine or get_engine()
    app.state.default_actor = "local-operator"

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
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal error")

    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(cases_router)
    app.include_router(visits_router)
    return app
