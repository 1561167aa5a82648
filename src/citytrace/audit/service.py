"""The audit log: recording events in the caller's transaction, searching and verifying it.

Callers pass references and counts, never personal data. The log is append-only: this module
has no update or delete, and on PostgreSQL a trigger refuses both (migration 0004).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from citytrace.audit.chain import GENESIS, event_hash, normalise_detail
from citytrace.audit.context import current_client
from citytrace.audit.models import AuditEvent
from citytrace.db import utcnow

# The first key of the advisory lock that serialises writers of the chain ("audt"); the second
# is the schema, so that separate schemas (one per test worker) keep separate chains.
_LOCK_CLASS = 0x61756474


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; every field is optional and they combine with AND."""

    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def as_detail(self) -> dict[str, str]:
        return {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in self.__dict__.items()
            if v is not None
        }


@dataclass(frozen=True)
class AuditPage:
    events: Sequence[AuditEvent]
    next_before_id: int | None  # pass as ``before_id`` for the next (older) page


@dataclass(frozen=True)
class ChainCheck:
    """The result of walking the chain: ``ok``, or the first event whose link is broken."""

    ok: bool
    events: int
    head: str
    broken_id: int | None = None
    reason: str | None = None


def _lock_chain(session: Session) -> None:
    """Serialise writers so that two transactions never chain from the same event.

    PostgreSQL: a transaction-level advisory lock, released at commit or rollback. SQLite: the
    database write lock does it (a second writer waits, or fails, and never sees a stale head);
    the unique ``prev_hash`` refuses a fork on any backend.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, hashtext(current_schema()))"),
            {"cls": _LOCK_CLASS},
        )


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
    client: str | None = None,
) -> AuditEvent:
    """Append an audit event to the chain, in the caller's transaction.

    ``client`` is the address the action came from; by default the one bound for the current
    request (:mod:`citytrace.audit.context`).
    """
    _lock_chain(session)
    prev_hash = (
        session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    )
    fields: dict[str, Any] = {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "detail": normalise_detail(detail),
        "client": client if client is not None else current_client(),
        "prev_hash": prev_hash,
    }
    event = AuditEvent(**fields, hash=event_hash(**fields))
    session.add(event)
    # Insert now, under the lock, so that ids follow the order of the chain.
    session.flush()
    return event


def _filtered(query: Select[Any], where: AuditFilter) -> Select[Any]:
    if where.actor is not None:
        query = query.where(AuditEvent.actor == where.actor)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.entity is not None:
        query = query.where(AuditEvent.entity == where.entity)
    if where.entity_id is not None:
        query = query.where(AuditEvent.entity_id == where.entity_id)
    if where.since is not None:
        query = query.where(AuditEvent.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.at < where.until)
    return query


def list_(
    *, session: Session, entity: str | None = None, entity_id: int | str | None = None
) -> Sequence[AuditEvent]:
    """The events about one entity, oldest first."""
    where = AuditFilter(entity=entity, entity_id=None if entity_id is None else str(entity_id))
    return session.scalars(_filtered(select(AuditEvent), where).order_by(AuditEvent.id)).all()


def search(
    *,
    session: Session,
    actor: str,
    where: AuditFilter,
    limit: int = 100,
    before_id: int | None = None,
    client: str | None = None,
) -> AuditPage:
    """One page of matching events, newest first. Looking at the log is itself audited."""
    query = _filtered(select(AuditEvent), where)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    rows = session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit + 1)).all()
    events = rows[:limit]
    record(
        session=session,
        actor=actor,
        action="audit.search",
        entity="audit",
        detail={"filter": where.as_detail(), "returned": len(events)},
        client=client,
    )
    return AuditPage(
        events=events, next_before_id=events[-1].id if len(rows) > limit and events else None
    )


def verify(*, session: Session, batch_size: int = 1000) -> ChainCheck:
    """Walk the whole chain, oldest first, and name the first event whose link is broken.

    A removed last event cannot be seen from the chain alone: compare ``head`` with one noted
    earlier (or kept elsewhere) to detect that.
    """
    columns = (
        AuditEvent.id,
        AuditEvent.at,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.entity,
        AuditEvent.entity_id,
        AuditEvent.detail,
        AuditEvent.client,
        AuditEvent.prev_hash,
        AuditEvent.hash,
    )
    rows = session.execute(
        select(*columns).order_by(AuditEvent.id).execution_options(yield_per=batch_size)
    )
    expected, previous_id, count = GENESIS, None, 0
    for row in rows:
        if row.prev_hash != expected:
            before = "the genesis value" if previous_id is None else f"event {previous_id}"
            rows.close()
            return ChainCheck(
                ok=False,
                events=count,
                head=expected,
                broken_id=row.id,
                reason=f"it does not chain from {before}: an event before it was removed, "
                "inserted or rewritten",
            )
        recomputed = event_hash(
            at=row.at,
            actor=row.actor,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            detail=row.detail,
            client=row.client,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            rows.close()
            return ChainCheck(
                ok=False,
                events=count,
                head=expected,
                broken_id=row.id,
                reason="its contents do not match its hash: the event was changed",
            )
        expected, previous_id, count = row.hash, row.id, count + 1
    return ChainCheck(ok=True, events=count, head=expected)


def verify_and_record(*, session: Session, actor: str, client: str | None = None) -> ChainCheck:
    """:func:`verify`, and record that it was done and what it found."""
    check = verify(session=session)
    record(
        session=session,
        actor=actor,
        action="audit.verify",
        entity="audit",
        entity_id=check.broken_id,
        detail={"ok": check.ok, "events": check.events},
        client=client,
    )
    return check
