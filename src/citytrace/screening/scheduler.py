"""Result notifications sent from inside the service: an asyncio task, started and stopped with
the app's lifespan, that sends the outbox's due messages every ``screening_outbox_interval_min``
minutes (1 by default), so that a person hears of their result without anyone running
``citytrace screening outbox send``.

Each run (in a worker thread, on its own session) claims, sends and marks each message in
transactions of its own (:func:`citytrace.screening.outbox.send_pending`), so several service
processes, or the command beside them, deliver each message once. A failed run is logged and
the next one tried at the next interval; 0 minutes disables the task (e.g. when a system timer
runs the command instead).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine

from citytrace.config import get_settings
from citytrace.db import session_factory
from citytrace.schedule import install_periodic, repeat
from citytrace.screening.outbox import SendReport

log = logging.getLogger(__name__)

ACTOR = "outbox-scheduler"
FIRST_RUN_MAX_DELAY_S = 5.0  # after the service starts (at most the interval)


def run_once(engine: Engine) -> SendReport:
    """Send what is due now, on a session of its own."""
    from citytrace.screening import outbox

    with session_factory(engine)() as session:
        return outbox.send_pending(session=session, actor=ACTOR)


async def run_periodically(
    engine: Engine, interval_s: float, run: Callable[[Engine], SendReport] | None = None
) -> None:
    """Send soon after start, then every ``interval_s`` seconds, forever."""
    await repeat(
        partial(run or run_once, engine),
        interval_s=interval_s,
        first_delay_s=min(interval_s, FIRST_RUN_MAX_DELAY_S),
        name="sending the outbox",
        report=_log,
    )


def _log(report: SendReport) -> None:
    if report.sent or report.retried or report.failed or report.skipped:
        log.info(
            "outbox: %d sent, %d to retry, %d failed, %d skipped",
            report.sent,
            report.retried,
            report.failed,
            report.skipped,
        )
    for error in report.errors:
        log.warning("outbox: %s", error)


def install_outbox(app: FastAPI) -> None:
    """Send result notifications in the background of ``app`` while it is up, on
    ``app.state.engine``, unless ``screening_outbox_interval_min`` is 0."""
    install_periodic(
        app,
        name="citytrace-outbox",
        interval_min=lambda: get_settings().screening_outbox_interval_min,
        loop=run_periodically,
    )
