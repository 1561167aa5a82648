"""The hash chain of the audit log, as pure functions.

Each event's hash is SHA-256 (FIPS 180-4) over a canonical JSON of its fields and the hash of
the event before it: keys sorted, no spaces, UTF-8, times in UTC with microseconds (the
canonical form of RFC 8785 for the values an event holds). The first event chains from
:data:`GENESIS`. Changing, removing or inserting an event breaks the link to the next one; the
id is not hashed (the chain itself fixes the order), so that the hash can be computed before the
row is inserted and never needs an update.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

__all__ = ["GENESIS", "canonical", "event_hash", "normalise_detail"]

GENESIS = hashlib.sha256(b"citytrace audit log v1").hexdigest()


def normalise_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    """``detail`` as the database gives it back: what JSON can hold, tuples as lists."""
    normalised: dict[str, Any] = json.loads(json.dumps(detail or {}, ensure_ascii=False))
    return normalised


def canonical(
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    detail: dict[str, Any],
    client: str | None,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken over."""
    if at.tzinfo is None:
        raise ValueError("an audit event's time must be timezone-aware")
    fields = {
        "action": action,
        "actor": actor,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "client": client,
        "detail": detail,
        "entity": entity,
        "entity_id": entity_id,
        "prev_hash": prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    detail: dict[str, Any],
    client: str | None,
    prev_hash: str,
) -> str:
    """The hex SHA-256 of :func:`canonical`."""
    return hashlib.sha256(
        canonical(
            at=at,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            detail=detail,
            client=client,
            prev_hash=prev_hash,
        )
    ).hexdigest()
