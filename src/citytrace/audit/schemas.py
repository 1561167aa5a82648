"""API shapes of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    detail: dict[str, Any]
    client: str | None
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    events: list[AuditEventOut]
    next_before_id: int | None
    """Pass as ``before_id`` for the next (older) page; null on the last page."""


class ChainCheckOut(BaseModel):
    ok: bool
    events: int
    head: str
    broken_id: int | None
    reason: str | None
