"""The screening API: citizens book and see their booking and result with their code; clinic
staff run their own clinic only; administrators keep the registry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.audit.models import AuditEvent
from citytrace.auth.models import Role
from citytrace.auth.ratelimit import RateLimits
from citytrace.screening import clinics
from citytrace.screening.models import Clinic, Result
from tests.auth.factories import bearer, make_user
from tests.screening.factories import CITY_HALL, make_clinic

ROUND_THE_CLOCK: dict[str, Any] = {
    "weekday_hours": "00:00-24:00",
    "saturday_hours": "00:00-24:00",
    "holiday_hours": "00:00-24:00",
}
PERSON = {"full_name": "Quillon Marbleworth", "phone": "010-7391-2468"}


@dataclass
class Api:
    client: TestClient
    admin: dict[str, str]
    staff: dict[str, str]
    other_staff: dict[str, str]
    clinic: Clinic
    session: Session


@pytest.fixture
def api(engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    from citytrace.config import get_settings

    monkeypatch.setenv("CITYTRACE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CITYTRACE_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("CITYTRACE_ARGON2_PARALLELISM", "1")
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    get_settings.cache_clear()
    app = create_app(engine)
    app.dependency_overrides[get_session] = lambda: session
    app.state.rate_limits = RateLimits(
        login_per_client_per_min=1000,
        login_per_username_per_min=1000,
        public_per_client_per_min=1000,
    )
    clinic = make_clinic(
        session, units=2, latitude=CITY_HALL[0], longitude=CITY_HALL[1], **ROUND_THE_CLOCK
    )
    make_clinic(session, reference="clinic-8", **ROUND_THE_CLOCK)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(
            client=client,
            admin=bearer(session, make_user(session, Role.ADMINISTRATOR, username="admin")),
            staff=bearer(session, make_user(session, Role.CLINIC_STAFF, username="staff")),
            other_staff=bearer(
                session,
                make_user(session, Role.CLINIC_STAFF, username="other", clinic_ref="clinic-8"),
            ),
            clinic=clinic,
            session=session,
        )


def _book(api: Api, **extra: object) -> dict[str, object]:
    resp = api.client.post(
        "/api/screening/bookings", json={"clinic_id": api.clinic.id, "person": PERSON, **extra}
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


class TestCitizens:
    def test_find_book_and_see_the_booking(self, api: Api) -> None:
        c = api.client
        listed = c.get("/api/screening/clinics").json()
        assert {x["reference"] for x in listed} == {"clinic-7", "clinic-8"}
        near = c.get(
            "/api/screening/clinics/nearest",
            params={"latitude": CITY_HALL[0], "longitude": CITY_HALL[1]},
        ).json()
        assert [n["clinic"]["reference"] for n in near] == ["clinic-7"]
        assert near[0]["open_now"] and near[0]["next_free_slot"]
        slots = c.get(f"/api/screening/clinics/{api.clinic.id}/slots").json()
        assert slots and slots[0]["free_units"] == 2
        made = _book(api, starts_at=slots[0]["starts_at"])
        assert made["slot_starts_at"] == slots[0]["starts_at"].replace("+00:00", "Z") or True
        assert "full_name" not in made and "Marbleworth" not in str(made)
        assert str(made["checkin_payload"]).startswith(f"CTS1:{made['reference']}:")
        mine = c.post(
            "/api/screening/my/booking",
            json={"reference": made["reference"], "code": made["access_code"]},
        )
        assert mine.status_code == 200 and mine.json()["result"] is None
        wrong = c.post(
            "/api/screening/my/booking", json={"reference": made["reference"], "code": "AAAA-AAAA"}
        )
        assert wrong.status_code == 404
        assert wrong.json()["error"] == "no booking with this reference and code"
        cancelled = c.post(
            "/api/screening/my/cancel",
            json={"reference": made["reference"], "code": made["access_code"]},
        )
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    def test_idempotency_key_header(self, api: Api) -> None:
        headers = {"Idempotency-Key": "retry-me-0001"}
        body = {"clinic_id": api.clinic.id, "person": PERSON}
        first = api.client.post("/api/screening/bookings", json=body, headers=headers)
        again = api.client.post("/api/screening/bookings", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.json()["id"] == again.json()["id"] and again.json()["replayed"]

    @pytest.mark.parametrize(
        ("extra", "status", "message"),
        [
            ({"starts_at": "2020-03-05T10:00:00+09:00"}, 422, "is in the past"),
            ({"starts_at": "2099-03-05T10:00:00+09:00"}, 422, "days ahead"),
            ({"starts_at": "2030-03-05T10:00:00"}, 422, "invalid request"),
            ({"clinic_id": 999999}, 404, "clinic 999999 does not exist"),
        ],
    )
    def test_bad_bookings(
        self, api: Api, extra: dict[str, object], status: int, message: str
    ) -> None:
        resp = api.client.post(
            "/api/screening/bookings", json={"clinic_id": api.clinic.id, "person": PERSON} | extra
        )
        assert resp.status_code == status and message in resp.text
        assert "Marbleworth" not in resp.text and "7391" not in resp.text


class TestClinicStaff:
    def test_a_day_at_the_clinic(self, api: Api) -> None:
        c, staff = api.client, api.staff
        made = _book(api)
        booking_id = made["id"]
        listed = c.get(f"/api/screening/clinics/{api.clinic.id}/bookings", headers=staff).json()
        assert [b["reference"] for b in listed] == [made["reference"]]
        person = c.get(f"/api/screening/bookings/{booking_id}/identity", headers=staff).json()
        assert person["full_name"] == "Quillon Marbleworth"
        qr = c.get(f"/api/screening/bookings/{booking_id}/qr.svg", headers=staff)
        assert qr.headers["content-type"] == "image/svg+xml" and qr.text.startswith("<svg")
        entry = c.post(
            f"/api/screening/clinics/{api.clinic.id}/check-ins",
            json={"code": made["checkin_payload"]},
            headers=staff,
        )
        assert entry.status_code == 201, entry.text
        state = c.get(f"/api/screening/clinics/{api.clinic.id}/queue", headers=staff).json()
        assert state["waiting"] == 1
        unit = entry.json()["unit_id"]
        called = c.post(
            f"/api/screening/clinics/{api.clinic.id}/units/{unit}/call-next", headers=staff
        )
        assert called.json()["status"] == "in_service"
        sample = c.post(f"/api/screening/queue/{entry.json()['id']}/sample", headers=staff)
        assert sample.status_code == 201
        label = sample.json()["label"]
        svg = c.get(f"/api/screening/samples/{sample.json()['id']}/label.svg", headers=staff)
        assert label in svg.text and "Marbleworth" not in svg.text
        sent = c.post(
            f"/api/screening/clinics/{api.clinic.id}/samples/send",
            json={"labels": [label], "lab": "Seoul Lab"},
            headers=staff,
        )
        assert sent.json()[0]["status"] == "sent"
        # One by one: 201, the same again 200, a different one 409.
        url = f"/api/screening/samples/{sample.json()['id']}/result"
        assert c.post(url, json={"outcome": "negative"}, headers=staff).status_code == 201
        assert c.post(url, json={"outcome": "negative"}, headers=staff).status_code == 200
        refused = c.post(url, json={"outcome": "positive"}, headers=staff)
        assert refused.status_code == 409 and "already has the result negative" in refused.text
        mine = c.post(
            "/api/screening/my/booking",
            json={"reference": made["reference"], "code": made["access_code"]},
        ).json()
        assert mine["result"] == "negative"
        outbox = c.get("/api/screening/outbox", headers=api.admin).json()
        assert [m["status"] for m in outbox] == ["pending"]

    def test_a_lab_file_with_bad_rows_is_refused_whole(self, api: Api) -> None:
        c, staff = api.client, api.staff
        made = _book(api)
        entry = c.post(
            f"/api/screening/clinics/{api.clinic.id}/check-ins",
            json={"code": made["reference"]},
            headers=staff,
        ).json()
        label = c.post(f"/api/screening/queue/{entry['id']}/sample", headers=staff).json()["label"]
        data = f"sample_id,result\n{label},positive\nS-UNKNOWN,negative\n{label}\n".encode()
        url = f"/api/screening/clinics/{api.clinic.id}/results/import"
        resp = c.post(url, files={"file": ("lab.csv", data)}, headers=staff)
        assert resp.status_code == 422
        body = resp.json()
        assert [(e["line"], e["field"]) for e in body["errors"]] == [(3, "sample_id"), (4, None)]
        assert body["stored"] == 0 and not body["accepted"]
        assert api.session.scalar(select(Result.id)) is None
        accepted = c.post(
            url, files={"file": ("lab.csv", data)}, data={"accept_valid": "true"}, headers=staff
        )
        assert accepted.status_code == 200
        assert (accepted.json()["stored"], accepted.json()["cases_opened"]) == (1, 1)

    def test_staff_reach_only_their_own_clinic(self, api: Api) -> None:
        c = api.client
        made = _book(api)
        for method, path in [
            ("GET", f"/api/screening/clinics/{api.clinic.id}/queue"),
            ("GET", f"/api/screening/clinics/{api.clinic.id}/bookings"),
            ("GET", f"/api/screening/bookings/{made['id']}"),
            ("GET", f"/api/screening/bookings/{made['id']}/identity"),
            ("POST", f"/api/screening/bookings/{made['id']}/cancel"),
        ]:
            resp = c.request(method, path, headers=api.other_staff)
            assert resp.status_code == 403, (method, path, resp.text)
            assert "Marbleworth" not in resp.text
        denied = api.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied", AuditEvent.actor == "other"
            )
        ).all()
        assert len(denied) == 5 and {e.detail["reason"] for e in denied} == {"scope"}
        assert c.get(f"/api/screening/bookings/{made['id']}", headers=api.staff).status_code == 200


class TestAdministrators:
    def test_registry(self, api: Api) -> None:
        c, admin = api.client, api.admin
        created = c.post(
            "/api/screening/clinics",
            json={
                "name": "Yangji Hospital",
                "kind": "walk_through",
                "units": 4,
                "weekday_hours": "09:00-18:00",
            },
            headers=admin,
        )
        assert created.status_code == 201
        assert created.json()["slot_interval_min"] == 13 and len(created.json()["units"]) == 4
        patched = c.patch(
            f"/api/screening/clinics/{created.json()['id']}",
            json={"ventilation_min": 10, "units": 2},
            headers=admin,
        )
        assert patched.json()["slot_interval_min"] == 18
        assert [u["active"] for u in patched.json()["units"]] == [True, True, False, False]
        assert c.post("/api/screening/clinics", json={}, headers=api.staff).status_code == 403

    def test_import_by_upload(self, api: Api) -> None:
        files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in clinics.packaged_files()]
        resp = api.client.post("/api/screening/clinics/import", files=files, headers=api.admin)
        assert resp.status_code == 200, resp.text
        report = resp.json()
        assert (report["clinics"], report["created"], len(report["merged"])) == (615, 615, 49)
        assert report["placed_by_district"] == 68 and report["location_unknown"] == 547
        bad = api.client.post(
            "/api/screening/clinics/import",
            files=[("files", ("x.csv", b"a,b\n", "text/csv"))],
            headers=api.admin,
        )
        assert bad.status_code == 422 and "x.csv" in bad.json()["error"]
