"""The purge inside the service: an asyncio task, started and stopped with the app's lifespan,
that runs :func:`citytrace.retention.service.purge` every ``retention_interval_min`` minutes.

The purge itself runs in a worker thread (it is blocking database and file work), so the event
loop keeps serving requests. A failed run is logged and the next one tried at the next interval;
0 minutes disables the task (e.g. when a system timer runs ``citytrace retention purge``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine

from citytrace.config import get_settings
from citytrace.db import session_factory, utcnow
from citytrace.schedule import install_periodic, repeat

log = logging.getLogger(__name__)

ACTOR = "retention-scheduler"
FIRST_RUN_MAX_DELAY_S = 60.0


def run_once(engine: Engine) -> dict[str, dict[str, int] | None]:
    """One purge at the present time, on its own session."""
    from citytrace.retention.service import purge

    with session_factory(engine)() as session:
        return purge(session=session, now=utcnow(), actor=ACTOR)


async def run_periodically(
    engine: Engine, interval_s: float, run: Callable[[Engine], object] | None = None
) -> None:
    """Purge now and then forever: first after at most a minute (so a service restarted more
    often than the interval still purges), then every ``interval_s`` seconds."""
    await repeat(
        partial(run or run_once, engine),
        interval_s=interval_s,
        first_delay_s=min(interval_s, FIRST_RUN_MAX_DELAY_S),
        name="retention purge",
        report=lambda result: log.info("retention purge: %s", result),
    )


def install_retention(app: FastAPI) -> None:
    """Run the purge in the background of ``app`` while it is up (from its lifespan), on
    ``app.state.engine``, unless ``retention_interval_min`` is 0."""
    install_periodic(
        app,
        name="citytrace-retention",
        interval_min=lambda: get_settings().retention_interval_min,
        loop=run_periodically,
    )
