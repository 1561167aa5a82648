"""Published entries and a served app for the tests of the public side (feed, pages).

Entries are inserted as the publishing workflow leaves them, so that the public side is tested
on its own; the app reads them through the test's session (rolled back afterwards).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.config import get_settings
from citytrace.disclosure.models import DisclosureEntry, EntryStatus

# 2020-03-03 10:00 in Seoul.
START = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)
FAR = datetime.now(UTC) + timedelta(days=30)
CAFE = (37.5663, 126.9779)


def publish(session: Session, **fields: Any) -> DisclosureEntry:
    """A published entry (fields as keyword arguments; ``now`` sets its publication time)."""
    now = fields.pop("now", datetime.now(UTC))
    values: dict[str, Any] = {
        "public_id": uuid.uuid4().hex,
        "status": EntryStatus.PUBLISHED,
        "district_code": "11140",
        "place_kind": "cafe",
        "business_name": "Blue Cup",
        "road_address": "Sejong-daero 110",
        "latitude": CAFE[0],
        "longitude": CAFE[1],
        "exposure_start": START,
        "exposure_end": START + timedelta(minutes=60),
        "disinfected": True,
        "notes": "",
        "last_contact_at": START + timedelta(minutes=60),
        "expires_at": FAR,
        "published_at": now,
        "updated_at": now,
        "risk_k": 12,
        "risk_reason": "12 people around",
    }
    values.update(fields)
    entry = DisclosureEntry(**values)
    session.add(entry)
    session.flush()
    return entry


@pytest.fixture(name="public_app")
def public_app_fixture(
    engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> FastAPI:
    """The app over the test's session, with no background job holding the database."""
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    get_settings.cache_clear()
    app = create_app(engine)
    app.dependency_overrides[get_session] = lambda: session
    return app


@pytest.fixture(name="public_client")
def public_client_fixture(public_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(public_app, raise_server_exceptions=False) as c:
        yield c
