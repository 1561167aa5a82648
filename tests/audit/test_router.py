"""The administrator's view of the audit log over HTTP: filters, pages, verification, and the
permission ``audit:read``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.audit import service as audit
from citytrace.audit.router import router
from citytrace.auth.models import Role
from citytrace.config import get_settings
from tests.auth.factories import bearer, make_user


@pytest.fixture
def client(
    engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("CITYTRACE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CITYTRACE_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("CITYTRACE_ARGON2_PARALLELISM", "1")
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    get_settings.cache_clear()
    app = create_app(engine)
    if not any(getattr(r, "path", "") == "/api/audit" for r in app.routes):
        app.include_router(router)
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def record(session: Session, n: int) -> None:
    for i in range(n):
        audit.record(
            session=session,
            actor="inv-5",
            action="case.identity.read",
            entity="case",
            entity_id=500 + i,
            client="198.51.100.4",
        )


class TestAuditApi:
    def test_administrator_filters_and_pages(self, client: TestClient, session: Session) -> None:
        headers = bearer(session, make_user(session, Role.ADMINISTRATOR))
        record(session, 3)
        query = {"actor": "inv-5", "action": "case.identity.read", "limit": 2}
        first = client.get("/api/audit", params=query, headers=headers)
        assert first.status_code == 200, first.text
        body = first.json()
        assert [e["entity_id"] for e in body["events"]] == ["502", "501"]
        assert (
            body["events"][0]["client"] == "198.51.100.4" and len(body["events"][0]["hash"]) == 64
        )
        second = client.get(
            "/api/audit", params=query | {"before_id": body["next_before_id"]}, headers=headers
        ).json()
        assert [e["entity_id"] for e in second["events"]] == ["500"]
        assert second["next_before_id"] is None
        one = client.get(
            "/api/audit", params={"entity": "case", "entity_id": "501"}, headers=headers
        ).json()
        assert [e["entity_id"] for e in one["events"]] == ["501"]
        since = client.get(
            "/api/audit", params={"since": "2999-01-01T00:00:00+00:00"}, headers=headers
        ).json()
        assert since["events"] == []
        seen = client.get("/api/audit", params={"action": "audit.search"}, headers=headers).json()
        assert seen["events"] and seen["events"][0]["actor"] == "administrator-1"
        assert seen["events"][0]["client"] == "testclient"

    def test_verify_names_a_tampered_event(self, client: TestClient, session: Session) -> None:
        headers = bearer(session, make_user(session, Role.ADMINISTRATOR))
        record(session, 3)
        ok = client.get("/api/audit/verify", headers=headers).json()
        assert ok["ok"] is True and ok["broken_id"] is None
        target = audit.search(
            session=session, actor="t", where=audit.AuditFilter(entity_id="501")
        ).events[0]
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
        session.execute(
            text("UPDATE audit_event SET entity_id = '999' WHERE id = :id"), {"id": target.id}
        )
        broken = client.get("/api/audit/verify", headers=headers).json()
        assert broken["ok"] is False and broken["broken_id"] == target.id

    def test_others_are_refused(self, client: TestClient, session: Session) -> None:
        assert client.get("/api/audit").status_code == 401
        headers = bearer(session, make_user(session, Role.INVESTIGATOR))
        assert client.get("/api/audit", headers=headers).status_code == 403
        assert client.get("/api/audit/verify", headers=headers).status_code == 403

    def test_bad_filters_are_422(self, client: TestClient, session: Session) -> None:
        headers = bearer(session, make_user(session, Role.ADMINISTRATOR))
        for params in ({"limit": 0}, {"since": "yesterday"}, {"before_id": -1}):
            assert client.get("/api/audit", params=params, headers=headers).status_code == 422
