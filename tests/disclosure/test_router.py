"""The officer's API and workspace pages: permissions, the workflow over HTTP, the list with
each entry's risk and reason in Korean and English, and refusals shown with their reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.audit.models import AuditEvent
from citytrace.auth.models import Role
from citytrace.config import get_settings
from citytrace.db import utcnow
from citytrace.disclosure import service
from citytrace.disclosure.models import EntryStatus
from tests.auth.factories import OTHER_DISTRICT, bearer, make_user
from tests.disclosure.officer import make_case, make_visit


@pytest.fixture
def app(engine, session: Session, monkeypatch: pytest.MonkeyPatch) -> FastAPI:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITYTRACE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CITYTRACE_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("CITYTRACE_ARGON2_PARALLELISM", "1")
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    get_settings.cache_clear()
    app = create_app(engine)
    app.dependency_overrides[get_session] = lambda: session
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def recent_case(session: Session, district: str = "11140") -> int:
    """A case whose visit was yesterday (so that nothing has expired)."""
    at = (utcnow() - timedelta(days=1)).replace(second=0, microsecond=0)
    case = make_case(session, district=district, onset=at.date() - timedelta(days=1))
    make_visit(
        session,
        case,
        at=at,
        district=district,
        venue_id=f"V-{district}",
        address=f"Road {district}",
        place=(37.56 + int(district) % 7 * 0.01, 126.97),
    )
    return case.id


class TestApi:
    def test_the_workflow_over_http(self, client: TestClient, session: Session) -> None:
        officer = bearer(session, make_user(session, Role.DISCLOSURE_OFFICER))
        case_id = recent_case(session)
        drafted = client.post(f"/api/cases/{case_id}/disclosure/draft", json={}, headers=officer)
        assert drafted.status_code == 201, drafted.text
        (entry_id,) = drafted.json()["created"]

        listed = client.get("/api/disclosure/entries", headers=officer).json()
        assert [e["id"] for e in listed] == [entry_id]
        shown = listed[0]
        assert shown["risk_level"] == "blocked" and shown["risk_k"] is None
        assert shown["risk_reasons"][0]["code"] == "no_population"
        assert "case_id" not in shown and shown["cases"] == 1

        refused = client.post(
            "/api/disclosure/approve", json={"entry_ids": [entry_id]}, headers=officer
        )
        assert refused.status_code == 409 and "no population data" in refused.json()["error"]
        not_yet = client.post(
            "/api/disclosure/publish", json={"entry_ids": [entry_id]}, headers=officer
        )
        assert not_yet.status_code == 409 and "approve it first" in not_yet.json()["error"]

        edited = client.patch(
            f"/api/disclosure/entries/{entry_id}",
            json={"time_step_min": 60, "show_business_name": False},
            headers=officer,
        )
        assert edited.status_code == 200 and edited.json()["business_name"] is None
        short = client.post(
            f"/api/disclosure/entries/{entry_id}/override",
            json={"justification": "short"},
            headers=officer,
        )
        assert short.status_code == 422
        overridden = client.post(
            f"/api/disclosure/entries/{entry_id}/override",
            json={"justification": "no records loaded in this test city"},
            headers=officer,
        )
        assert overridden.json()["risk_level"] == "warning"
        assert (
            client.post(
                "/api/disclosure/approve", json={"entry_ids": [entry_id]}, headers=officer
            ).status_code
            == 200
        )
        published = client.post(
            "/api/disclosure/publish", json={"entry_ids": [entry_id]}, headers=officer
        )
        assert published.json() == {"published": [entry_id], "suppressed": []}

        corrected = client.post(
            f"/api/disclosure/entries/{entry_id}/correct",
            json={"notes": "closed on Monday", "correction_note": "notes added"},
            headers=officer,
        )
        assert corrected.status_code == 200 and corrected.json()["version"] == 2
        withdrawn = client.post(
            f"/api/disclosure/entries/{entry_id}/withdraw",
            json={"reason": "wrong place"},
            headers=officer,
        )
        assert withdrawn.json()["status"] == "withdrawn"
        again = client.post(
            f"/api/disclosure/entries/{entry_id}/withdraw",
            json={"reason": "again"},
            headers=officer,
        )
        assert again.status_code == 409
        audited = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("disclosure.%"))
            .order_by(AuditEvent.id)
        ).all()
        assert audited == [
            "disclosure.draft",
            "disclosure.edit",
            "disclosure.override",
            "disclosure.approve",
            "disclosure.publish",
            "disclosure.correct",
            "disclosure.withdraw",
        ]

    def test_investigators_read_their_district_only_and_never_publish(
        self, client: TestClient, session: Session
    ) -> None:
        mine = recent_case(session)
        other = recent_case(session, district=OTHER_DISTRICT)
        for case_id in (mine, other):
            service.draft_from_case(session=session, actor="t", case_id=case_id)
        entries = {e.district_code: e.id for e in service.list_(session=session)}
        investigator = bearer(session, make_user(session, Role.INVESTIGATOR))
        listed = client.get("/api/disclosure/entries", headers=investigator).json()
        assert [e["district_code"] for e in listed] == ["11140"]
        assert (
            client.get(
                f"/api/disclosure/entries/{entries['11140']}", headers=investigator
            ).status_code
            == 200
        )
        assert (
            client.get(
                f"/api/disclosure/entries/{entries[OTHER_DISTRICT]}", headers=investigator
            ).status_code
            == 403
        )
        assert (
            client.post(
                "/api/disclosure/approve",
                json={"entry_ids": [entries["11140"]]},
                headers=investigator,
            ).status_code
            == 403
        )
        analyst = bearer(session, make_user(session, Role.ANALYST))
        assert client.get("/api/disclosure/entries", headers=analyst).status_code == 403

    def test_drafting_a_case_without_a_reviewed_route(
        self, client: TestClient, session: Session
    ) -> None:
        officer = bearer(session, make_user(session, Role.DISCLOSURE_OFFICER))
        case = make_case(session)
        resp = client.post(f"/api/cases/{case.id}/disclosure/draft", json={}, headers=officer)
        assert resp.status_code == 422 and "has no route" in resp.json()["error"]


class TestPages:
    def test_the_list_shows_risk_and_reason_in_both_languages(
        self, client: TestClient, session: Session
    ) -> None:
        officer = bearer(session, make_user(session, Role.DISCLOSURE_OFFICER))
        service.draft_from_case(session=session, actor="t", case_id=recent_case(session))
        korean = client.get("/disclosure", headers=officer)
        assert korean.status_code == 200
        assert "인구 자료가 없어" in korean.text and "차단" in korean.text
        english = client.get("/disclosure?lang=en", headers=officer)
        assert "No population data" in english.text and "blocked" in english.text
        assert 'href="/disclosure"' in english.text  # the navigation link

    def test_steps_from_the_entry_page(self, client: TestClient, session: Session) -> None:
        officer = bearer(session, make_user(session, Role.DISCLOSURE_OFFICER))
        service.draft_from_case(session=session, actor="t", case_id=recent_case(session))
        (entry,) = service.list_(session=session)
        page = client.get(f"/disclosure/entries/{entry.id}?lang=en", headers=officer)
        assert page.status_code == 200 and "approve-form" in page.text
        refused = client.post(f"/disclosure/entries/{entry.id}/approve?lang=en", headers=officer)
        assert refused.status_code == 409 and "page-error" in refused.text
        assert "no population data" in refused.text
        edited = client.post(
            f"/disclosure/entries/{entry.id}/edit",
            data={"time_step_min": "120", "precision": "district"},
            headers=officer,
            follow_redirects=False,
        )
        assert edited.status_code == 303
        session.refresh(entry)
        assert entry.road_address is None and entry.latitude is None
        assert entry.exposure_end - entry.exposure_start >= timedelta(hours=2)
        bad = client.post(
            f"/disclosure/entries/{entry.id}/edit",
            data={"time_step_min": "0"},
            headers=officer,
        )
        assert bad.status_code == 422 and "time_step_min" in bad.text
        client.post(
            f"/disclosure/entries/{entry.id}/override",
            data={"justification": "no records loaded in this test city"},
            headers=officer,
        )
        for step in ("approve", "publish"):
            done = client.post(
                f"/disclosure/entries/{entry.id}/{step}", headers=officer, follow_redirects=False
            )
            assert done.status_code == 303, done.text
        session.refresh(entry)
        assert entry.status == EntryStatus.PUBLISHED
        withdrawn = client.post(
            f"/disclosure/entries/{entry.id}/withdraw",
            data={"reason": "wrong"},
            headers=officer,
            follow_redirects=False,
        )
        assert withdrawn.status_code == 303
        session.refresh(entry)
        assert entry.status == EntryStatus.WITHDRAWN

    def test_draft_form_names_a_missing_case(self, client: TestClient, session: Session) -> None:
        officer = bearer(session, make_user(session, Role.DISCLOSURE_OFFICER))
        resp = client.post("/disclosure/draft", data={"case_reference": "NOPE"}, headers=officer)
        assert resp.status_code == 422 and "no case NOPE" in resp.text
