"""The retention policy ``screening``: a booking with everything that hangs on it (the person's
sealed name, phone and e-mail, the slot, the queue entry, the sample, the result and its
notifications) is removed ``CITYTRACE_RETENTION_SCREENING_DAYS`` after it closed: cancelled,
a no-show, or its result stored. A booking whose notification is still to be sent waits for it.
A positive result's case keeps its own copy of the identity, under the investigation's policies.
"""

from __future__ import annotations

from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.orm import Session

from citytrace.retention.policies import Counts, PurgeContext
from citytrace.screening.models import (
    Booking,
    OutboxMessage,
    OutboxStatus,
    Result,
    Sample,
)


def _due(ctx: PurgeContext) -> Select[int]:
    unsent = exists().where(
        Sample.booking_id == Booking.id,
        Result.sample_id == Sample.id,
        OutboxMessage.result_id == Result.id,
        OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
    )
    return (
        select(Booking.id)
        .where(Booking.closed_at.is_not(None), Booking.closed_at <= ctx.cutoff, ~unsent)
        .order_by(Booking.id)
    )


def purge_screening(ctx: PurgeContext) -> Counts:
    """Remove the due bookings in batches, each batch committed with its audit event."""
    session: Session = ctx.session
    due = _due(ctx)
    if ctx.dry_run:
        count = session.scalar(select(func.count()).select_from(due.subquery()))
        return {"bookings": int(count or 0)}
    total = 0
    while True:
        ids = list(session.scalars(due.limit(ctx.batch_size)))
        if not ids:
            break
        # The database cascades to slot, queue entry, sample, result and outbox.
        session.execute(delete(Booking).where(Booking.id.in_(ids)))
        ctx.commit_batch({"bookings": len(ids)})
        total += len(ids)
    return {"bookings": total}
