"""Expiry and suppression inside the service, not lazily: an asyncio task started and stopped
with the app's lifespan.

Each run (in a worker thread, on its own transaction) turns the entries whose ``expires_at`` has
come into ``expired`` and those whose contacts are by now all identified into ``suppressed``,
rebuilding the public feed when a published entry changed; then the task sleeps until the next
``expires_at`` or ``disclosure_interval_min``, whichever comes first, so that an entry leaves the
feed at its moment. 0 minutes disables the task.

The retention purge's ``published_places`` policy is served here too
(:func:`purge_published_places`, registered by :mod:`citytrace.disclosure`), so that ``citytrace
retention purge`` expires places when the service is not running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from citytrace.config import get_settings
from citytrace.db import session_factory, utcnow
from citytrace.retention.policies import Counts, PurgeContext
from citytrace.schedule import install_periodic

log = logging.getLogger(__name__)

ACTOR = "disclosure-scheduler"
# Wake a little after the moment, never before it (clocks of threads and the database agree to
# well under this).
SLACK_S = 0.05
# The first run waits this long after start (at most the interval), so that starting the service
# is not slowed by it.
FIRST_RUN_DELAY_S = 5.0


@dataclass(frozen=True)
class RunResult:
    expired: int
    suppressed: int
    next_expiry: datetime | None


def run_once(engine: Engine, now: datetime | None = None) -> RunResult:
    """Expire what is due and suppress what is identified at ``now``, in one transaction."""
    from citytrace.disclosure import service

    now = now or utcnow()
    with session_factory(engine)() as session, session.begin():
        expired = service.expire_due(session=session, actor=ACTOR, now=now)
        suppressed = service.suppress_identified(session=session, actor=ACTOR, now=now)
        upcoming = service.next_expiry(session=session)
    return RunResult(expired=expired, suppressed=suppressed, next_expiry=upcoming)


def delay_s(result: RunResult, interval_s: float, now: datetime) -> float:
    """How long to sleep after a run: until the next expiry, at most ``interval_s``."""
    if result.next_expiry is None:
        return interval_s
    until = (result.next_expiry - now).total_seconds() + SLACK_S
    return max(0.0, min(interval_s, until))


async def run_periodically(
    engine: Engine,
    interval_s: float,
    run: Callable[[Engine], RunResult] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Run soon after start, then again at each next expiry (at most ``interval_s`` apart),
    forever."""
    await asyncio.sleep(min(interval_s, FIRST_RUN_DELAY_S))
    while True:
        try:
            result = await asyncio.to_thread(run or run_once, engine)
            if result.expired or result.suppressed:
                log.info("disclosure: %d expired, %d suppressed", result.expired, result.suppressed)
            delay = delay_s(result, interval_s, clock())
        except Exception:
            log.exception("disclosure expiry failed; trying again in %.0f s", interval_s)
            delay = interval_s
        await asyncio.sleep(delay)


def install_disclosure(app: FastAPI) -> None:
    """Run expiry and suppression in the background of ``app`` while it is up, on
    ``app.state.engine``, unless ``disclosure_interval_min`` is 0."""
    install_periodic(
        app,
        name="citytrace-disclosure",
        interval_min=lambda: get_settings().disclosure_interval_min,
        loop=run_periodically,
    )


def purge_published_places(ctx: PurgeContext) -> Counts:
    """The retention policy ``published_places``: live entries whose last contact is at or
    before the cutoff become expired (they stay in the change feed as such)."""
    from citytrace.disclosure import service
    from citytrace.disclosure.models import DisclosureEntry

    if ctx.dry_run:
        due = ctx.session.scalar(
            select(func.count())
            .select_from(DisclosureEntry)
            .where(DisclosureEntry.status.in_(service.LIVE))
            .where(DisclosureEntry.last_contact_at <= ctx.cutoff)
        )
        return {"places": int(due or 0)}
    expired = service.expire_before(
        session=ctx.session, actor=ctx.actor, cutoff=ctx.cutoff, now=ctx.now
    )
    if expired:
        ctx.commit_batch({"places": expired})
    return {"places": expired}
