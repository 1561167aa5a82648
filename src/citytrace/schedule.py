"""Background jobs of the service: an asyncio task started and stopped with the app's lifespan.

Used by the retention purge, the disclosure expiry, the outbox of result notifications and the
record index (each supplies its own loop, which does the blocking work in a worker thread so
that the event loop keeps serving requests; :func:`repeat` is the loop of a job run at a fixed
interval).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

__all__ = ["install_periodic", "repeat"]

log = logging.getLogger(__name__)


def install_periodic(
    app: FastAPI,
    *,
    name: str,
    interval_min: Callable[[], float],
    loop: Callable[[Engine, float], Coroutine[Any, Any, None]],
) -> None:
    """Run ``loop(engine, interval_s)`` in the background of ``app`` while it is up, on
    ``app.state.engine``, as the task ``name``; ``interval_min`` is read at start, and 0 (or
    less) runs nothing. The task is cancelled when the app stops."""
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with previous(app_) as state:
            minutes = interval_min()
            task = None
            if minutes > 0:
                task = asyncio.create_task(loop(app_.state.engine, minutes * 60), name=name)
            try:
                yield state
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app.router.lifespan_context = lifespan


async def repeat(
    job: Callable[[], Any],
    *,
    interval_s: float,
    first_delay_s: float,
    name: str,
    report: Callable[[Any], None] | None = None,
) -> None:
    """Run ``job`` in a worker thread after ``first_delay_s`` seconds, then every ``interval_s``,
    forever, handing each result to ``report``; a failed run is logged and the next one tried
    at the next interval."""
    await asyncio.sleep(first_delay_s)
    while True:
        try:
            result = await asyncio.to_thread(job)
            if report is not None:
                report(result)
        except Exception:
            log.exception("%s failed; trying again in %.0f s", name, interval_s)
        await asyncio.sleep(interval_s)
