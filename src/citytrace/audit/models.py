"""Audit events: who did what to which record, from where, written in the same transaction as
the action, and chained by hashes so that a changed, removed or inserted event shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from citytrace.db import Base, utcnow


class AuditEvent(Base):
    """One event of the append-only log; see :mod:`citytrace.audit.chain` for its hash."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(60), index=True)
    # References and counts only, never personal data itself.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The network address the action came from; None for the command line and the scheduler.
    client: Mapped[str | None] = mapped_column(String(64))
    # The hash of the event before (or the genesis value); unique, so that the chain cannot fork.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"AuditEvent(id={self.id}, action={self.action!r}, entity_id={self.entity_id!r})"
