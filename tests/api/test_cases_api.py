"""The JSON API: a case from registration to a reviewed route, over real files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.auth.models import Role
from citytrace.evidence.models import EvidenceFile
from tests.auth.factories import bearer, make_user
from tests.factories import CARD_CSV, gpx_text


@pytest.fixture
def client(engine: Engine, session: Session) -> Iterator[TestClient]:
    """A client signed in as an administrator (by API token)."""
    app = create_app(engine)
    app.dependency_overrides[get_session] = lambda: session
    headers = bearer(session, make_user(session, Role.ADMINISTRATOR, username="admin"))
    with TestClient(app, raise_server_exceptions=False, headers=headers) as c:
        yield c


def _case(client: TestClient) -> int:
    resp = client.post(
        "/api/cases",
        json={
            "confirmed_date": "2020-03-05",
            "symptom_onset_date": "2020-03-03",
            "district_code": "11140",
            "identity": {"full_name": "Hong Gildong", "phone": "010-0000-1111"},
        },
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert "identity" not in body and "Hong" not in resp.text
    return int(body["id"])


class TestCaseFlow:
    def test_upload_reconstruct_review(
        self, client: TestClient, session: Session, tmp_path: Path
    ) -> None:
        case_id = _case(client)
        resp = client.post(
            f"/api/cases/{case_id}/evidence", files={"file": ("track.gpx", gpx_text().encode())}
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["kind"] == "gpx" and resp.json()["n_fixes"] == 99
        resp = client.post(
            f"/api/cases/{case_id}/evidence", files={"file": ("card.csv", CARD_CSV.encode())}
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["kind"] == "card"

        route = client.get(f"/api/cases/{case_id}/route").json()
        assert len(route) == 2
        first, second = route
        assert first["district_code"] == "11140"  # City Hall is in Jung-gu
        assert second["venue_name"] == "Seoul Station Cafe"
        assert second["evidence_kinds"] == ["card", "gps"]
        assert all(v["status"] == "proposed" for v in route)

        assert client.post(f"/api/visits/{first['id']}/confirm").json()["status"] == "confirmed"
        edited = client.patch(
            f"/api/visits/{second['id']}",
            json={
                "finished_at": "2020-03-03T12:30:00+00:00",
                "note": "patient says they left at 21:30",
            },
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["edited"] is True

        # A rebuild keeps what the investigator reviewed.
        rebuilt = client.post(f"/api/cases/{case_id}/route/rebuild").json()
        assert rebuilt == {"proposed": 0, "kept_reviewed": 2, "replaced": 0}
        after = client.get(f"/api/cases/{case_id}/route").json()
        assert [v["status"] for v in after] == ["confirmed", "confirmed"]
        assert after[1]["finished_at"].startswith("2020-03-03T12:30:00")

    def test_same_file_twice_changes_nothing(self, client: TestClient, session: Session) -> None:
        case_id = _case(client)
        files = {"file": ("card.csv", CARD_CSV.encode())}
        assert client.post(f"/api/cases/{case_id}/evidence", files=files).status_code == 201
        again = client.post(f"/api/cases/{case_id}/evidence", files=files)
        assert again.json()["already_attached"] is True
        count = session.scalar(
            select(func.count()).select_from(EvidenceFile).where(EvidenceFile.case_id == case_id)
        )
        assert count == 1

    def test_bad_file_is_refused_and_nothing_is_stored(
        self, client: TestClient, session: Session
    ) -> None:
        case_id = _case(client)
        resp = client.post(
            f"/api/cases/{case_id}/evidence",
            files={
                "file": ("Records.json", b'{"locations": [{"latitudeE7": 375663000, "longitudeE7"')
            },
        )
        assert resp.status_code == 422
        assert "Records.json" in resp.json()["error"] or "truncated" in resp.json()["error"]
        assert "Traceback" not in resp.text
        count = session.scalar(
            select(func.count()).select_from(EvidenceFile).where(EvidenceFile.case_id == case_id)
        )
        assert count == 0

    def test_identity_read_is_separate_and_audited(self, client: TestClient) -> None:
        case_id = _case(client)
        resp = client.get(f"/api/cases/{case_id}/identity")
        assert resp.json()["full_name"] == "Hong Gildong"


class TestErrors:
    def test_missing_case_is_404(self, client: TestClient) -> None:
        resp = client.get("/api/cases/999999")
        assert resp.status_code == 404 and resp.json() == {"error": "case 999999 does not exist"}

    def test_validation_errors_name_fields_not_values(self, client: TestClient) -> None:
        resp = client.post(
            "/api/cases",
            json={"confirmed_date": "not-a-date", "identity": {"full_name": "", "phone": "abc"}},
        )
        assert resp.status_code == 422
        fields = {p["field"] for p in resp.json()["problems"]}
        assert {"body.confirmed_date", "body.identity.full_name", "body.identity.phone"} <= fields
        assert "abc" not in resp.text

    def test_visit_edit_with_end_before_start_is_refused(self, client: TestClient) -> None:
        case_id = _case(client)
        client.post(
            f"/api/cases/{case_id}/evidence", files={"file": ("card.csv", CARD_CSV.encode())}
        )
        (visit,) = client.get(f"/api/cases/{case_id}/route").json()
        resp = client.patch(
            f"/api/visits/{visit['id']}", json={"finished_at": "2020-03-01T00:00:00+00:00"}
        )
        assert resp.status_code == 422 and "finished_at" in resp.json()["error"]

    def test_openapi_documents_the_routes(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        assert (
            "/api/cases/{case_id}/evidence" in paths and "/api/visits/{visit_id}/confirm" in paths
        )


class TestReadsAreAudited:
    def test_reading_a_route_or_a_contact_list_is_audited(
        self, client: TestClient, session: Session
    ) -> None:
        from citytrace.audit import service as audit

        case_id = _case(client)
        client.post(
            f"/api/cases/{case_id}/evidence", files={"file": ("card.csv", CARD_CSV.encode())}
        )
        assert len(client.get(f"/api/cases/{case_id}/route").json()) == 1
        assert client.get(f"/api/cases/{case_id}/contacts").json() == []
        events = audit.list_(session=session, entity="case", entity_id=case_id)
        reads = [(e.action, e.actor, e.detail) for e in events[-2:]]
        assert reads == [
            ("route.read", "admin", {"visits": 1}),
            ("contact.list", "admin", {"contacts": 0}),
        ]
