"""The contacts API: search the city's records from a case's route, then follow each contact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.auth.models import Role
from citytrace.contacts.service import record_index, record_store
from tests.auth.factories import bearer, make_user
from tests.factories import CARD_CSV

# The card payment of CARD_CSV: 11:20 in Seoul on 3 March 2020, at a cafe (paid on arrival).
PAID_AT = datetime(2020, 3, 3, 2, 20, tzinfo=UTC)
CAFE = (37.55475, 126.97075)


@pytest.fixture
def client(engine: Engine, session: Session) -> Iterator[TestClient]:
    app = create_app(engine)
    app.dependency_overrides[get_session] = lambda: session
    headers = bearer(session, make_user(session, Role.ADMINISTRATOR, username="admin"))
    with TestClient(app, raise_server_exceptions=False, headers=headers) as c:
        yield c


def _city_records() -> None:
    ts = pa.timestamp("us", tz="UTC")
    store = record_store()
    assert store is not None
    store.append_day(
        pa.table(
            {
                "person_id": pa.array([501, 502], pa.int64()),
                "latitude": [CAFE[0], CAFE[0] + 0.01],
                "longitude": [CAFE[1], CAFE[1]],
                "started_at": pa.array([PAID_AT, PAID_AT], ts),
                "finished_at": pa.array([PAID_AT + timedelta(hours=1)] * 2, ts),
            }
        )
    )


class TestContactsApi:
    def test_search_list_and_follow_up(self, client: TestClient) -> None:
        _city_records()
        case = client.post(
            "/api/cases", json={"confirmed_date": "2020-03-05", "symptom_onset_date": "2020-03-03"}
        ).json()
        upload = client.post(
            f"/api/cases/{case['id']}/evidence", files={"file": ("card.csv", CARD_CSV.encode())}
        )
        assert upload.status_code == 201, upload.text
        found = client.post(
            f"/api/cases/{case['id']}/contacts/search",
            json={"distance_m": 20, "min_overlap_min": 15},
        ).json()
        # The first search reads the store while the service's index is built.
        assert found.pop("engine") in {"duckdb", "index"} and found.pop("search_ms") > 0
        assert found == {"found": 1, "new": 1, "updated": 0}
        store = record_store()
        live = record_index(store) if store is not None else None
        assert live is not None
        live.refresh()
        again = client.post(f"/api/cases/{case['id']}/contacts/search", json={}).json()
        assert again["engine"] == "index" and (again["new"], again["updated"]) == (0, 1)
        (contact,) = client.get(f"/api/cases/{case['id']}/contacts").json()
        assert contact["person_ref"] == "501" and contact["state"] == "identified"
        assert contact["quarantine_until_date"] == "2020-03-17"

        moved = client.post(f"/api/contacts/{contact['id']}/transition", json={"state": "tested"})
        assert moved.status_code == 409
        assert "can move to in_quarantine, notified" in moved.json()["error"]
        moved = client.post(
            f"/api/contacts/{contact['id']}/transition", json={"state": "in_quarantine"}
        )
        assert moved.json()["state"] == "in_quarantine"
        # Quarantine ended on 17 March 2020, long before today.
        released = client.post(
            f"/api/contacts/{contact['id']}/transition", json={"state": "released"}
        )
        assert released.json()["state"] == "released"

    def test_search_needs_a_route(self, client: TestClient) -> None:
        case = client.post("/api/cases", json={"confirmed_date": "2020-03-05"}).json()
        resp = client.post(f"/api/cases/{case['id']}/contacts/search", json={})
        assert resp.status_code == 422 and "no route" in resp.json()["error"]

    def test_bad_search_options_name_the_field(self, client: TestClient) -> None:
        case = client.post("/api/cases", json={"confirmed_date": "2020-03-05"}).json()
        resp = client.post(f"/api/cases/{case['id']}/contacts/search", json={"distance_m": -3})
        assert resp.status_code == 422
        assert resp.json()["problems"][0]["field"] == "body.distance_m"


class TestDueApi:
    def test_worklist_is_scoped_to_the_investigators_district(
        self, session: Session, client: TestClient
    ) -> None:
        _city_records()
        for district in ("11140", "11110"):
            case = client.post(
                "/api/cases", json={"confirmed_date": "2020-03-05", "district_code": district}
            ).json()
            client.post(
                f"/api/cases/{case['id']}/evidence",
                files={"file": ("card.csv", CARD_CSV.encode())},
            )
            found = client.post(f"/api/cases/{case['id']}/contacts/search", json={}).json()
            assert found["new"] == 1
        everyone = client.get("/api/contacts/due", params={"on": "2020-03-06"})
        assert everyone.status_code == 200, everyone.text
        assert [(d["action"], d["district_code"]) for d in everyone.json()] == [
            ("notify", "11140"),
            ("notify", "11110"),
        ]
        assert (
            client.get(
                "/api/contacts/due", params={"on": "2020-03-06", "district_code": "11110"}
            ).json()[0]["case_reference"]
            == everyone.json()[1]["case_reference"]
        )

        investigator = bearer(
            session, make_user(session, Role.INVESTIGATOR, username="inv", district_code="11110")
        )
        own = client.get("/api/contacts/due", params={"on": "2020-03-06"}, headers=investigator)
        assert [d["district_code"] for d in own.json()] == ["11110"]
        other = client.get(
            "/api/contacts/due", params={"district_code": "11140"}, headers=investigator
        )
        assert other.status_code == 403
        clinic = bearer(session, make_user(session, Role.CLINIC_STAFF, username="clinic"))
        assert client.get("/api/contacts/due", headers=clinic).status_code == 403
        bad = client.get("/api/contacts/due", params={"on": "someday"})
        assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "query.on"
