"""The screening pages over HTTP: citizens find, book, open their booking and QR code and see
their result; clinic staff check in, call, sample and enter results (one by one or a lab's
CSV). On the embedded SQLite and on PostgreSQL."""

# ruff: noqa: F811  (the fixtures imported below are parameters of the tests)
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.auth.models import Role
from citytrace.db import utcnow
from citytrace.screening import booking, queue, samples
from citytrace.screening.models import (
    Booking,
    BookingStatus,
    Clinic,
    ClinicKind,
    Outcome,
    Result,
    Sample,
)
from tests.auth.conftest import _cheap_hashing, app, client  # noqa: F401
from tests.auth.factories import make_user
from tests.screening.factories import CITY_HALL, make_clinic, person
from tests.web.conftest import sign_in

FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]+)"')
SLOT = re.compile(r'name="starts_at" value="([^"]+)"')
REFERENCE = re.compile(r'id="booking-reference">([A-Z0-9]+)<')
CODE = re.compile(r'id="access-code">([A-Z0-9-]+)<')
ALWAYS = "00:00-24:00"


def open_clinic(session: Session, reference: str = "clinic-7", **extra: object) -> Clinic:
    """A round-the-clock clinic at City Hall (so that the real clock always finds it open)."""
    return make_clinic(
        session,
        reference=reference,
        weekday_hours=ALWAYS,
        saturday_hours=ALWAYS,
        holiday_hours=ALWAYS,
        latitude=CITY_HALL[0],
        longitude=CITY_HALL[1],
        **extra,  # type: ignore[arg-type]
    )


def book_by_page(http: TestClient, clinic: Clinic, name: str = "Kim Minji") -> dict[str, str]:
    """Book the first free slot through the form; returns the reference, code and page."""
    form = http.get(f"/screening/clinics/{clinic.id}")
    assert form.status_code == 200, form.text
    fields = {
        "clinic": str(clinic.id),
        "starts_at": SLOT.findall(form.text)[0],
        "full_name": name,
        "phone": "010-1234-5678",
        "form_token": FORM_TOKEN.findall(form.text)[0],
        "idempotency_key": IDEMPOTENCY.findall(form.text)[0],
    }
    booked = http.post(f"/screening/clinics/{clinic.id}/book", data=fields)
    assert booked.status_code == 200, booked.text
    return {
        "reference": REFERENCE.findall(booked.text)[0],
        "code": CODE.findall(booked.text)[0],
        "page": booked.text,
        **fields,
    }


def citizen_reads(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "screening.booking.citizen_read")
        )
        or 0
    )


class TestFindAndBook:
    def test_find_by_district_shows_kind_wait_and_next_slot(
        self, client: TestClient, session: Session
    ) -> None:
        near = open_clinic(session, name="Jung-gu Drive-through", units=2)
        make_clinic(
            session,
            reference="far",
            name="Far Walk-through",
            kind=ClinicKind.WALK_THROUGH,
            district_code="11740",
            latitude=37.53,
            longitude=127.14,
            weekday_hours="closed",
            saturday_hours="closed",
        )
        page = client.get("/screening?district=11140")
        assert page.status_code == 200
        names = re.findall(r'<h3><a href="/screening/clinics/\d+">([^<]+)</a>', page.text)
        assert names[:2] == ["Jung-gu Drive-through", "Far Walk-through"]
        first = page.text.split('class="card clinic-result"')[1]
        assert "드라이브 스루" in first and "운영 중" in first and "대기 없음" in first
        assert "가장 빠른 예약" in first and "예약 가능한 시간 없음" not in first
        only_walk = client.get("/screening?district=11140&kind=walk_through&lang=en")
        assert "Far Walk-through" in only_walk.text and "Jung-gu Drive" not in only_walk.text
        assert "Closed" in only_walk.text and "No free time" in only_walk.text
        opened = client.get("/screening?district=11140&kind=walk_through&open_now=1")
        assert opened.status_code == 200 and 'id="clinic-results"' not in opened.text
        assert near.id > 0

    def test_position_and_bad_position(self, client: TestClient, session: Session) -> None:
        open_clinic(session)
        found = client.get(f"/screening?lat={CITY_HALL[0]}&lon={CITY_HALL[1]}&lang=en")
        assert "0.0 km" in found.text
        bad = client.get("/screening?lat=abc&lon=200&lang=en")
        assert bad.status_code == 200 and "That position is not valid" in bad.text

    def test_book_qr_and_my_booking(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session)
        made = book_by_page(client, clinic)
        assert "확인 코드는 지금 한 번만" in made["page"]
        stored = booking.get_by_reference(session=session, reference=made["reference"])
        assert stored is not None and stored.status == BookingStatus.BOOKED
        assert stored.full_name_enc and b"Kim" not in stored.full_name_enc  # sealed

        svg = client.get("/screening/my-booking/qr.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg")
        assert svg.text.lstrip().startswith("<svg") and "Kim" not in svg.text
        png = client.get("/screening/my-booking/qr.png")
        assert png.content.startswith(b"\x89PNG") and png.headers["cache-control"] == "no-store"
        mine = client.get("/screening/my-booking")
        assert made["reference"] in mine.text and 'id="booking-qr"' in mine.text
        assert "아직 결과가 나오지 않았습니다" in mine.text

        # Another device has no access without the code; with it, it does.
        with TestClient(client.app) as other:
            assert other.get("/screening/my-booking/qr.svg").status_code == 404
            form = other.get("/screening/my-booking")
            token = FORM_TOKEN.findall(form.text)[0]
            wrong = other.post(
                "/screening/my-booking",
                data={"reference": made["reference"], "code": "WRONG", "form_token": token},
            )
            assert wrong.status_code == 422 and "맞지 않습니다" in wrong.text
            session.refresh(stored)
            assert stored.code_failures == 1
            opened = other.post(
                "/screening/my-booking",
                data={
                    "reference": made["reference"].lower(),
                    "code": made["code"],
                    "form_token": token,
                },
                follow_redirects=False,
            )
            assert opened.status_code == 303
            assert other.get("/screening/my-booking/qr.svg").status_code == 200
            assert made["reference"] in other.get("/screening/my-booking").text
        assert citizen_reads(session) == 2

    def test_a_form_sent_twice_books_once(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session)
        made = book_by_page(client, clinic)
        again = client.post(
            f"/screening/clinics/{clinic.id}/book",
            data={k: made[k] for k in ("clinic", "starts_at", "full_name", "phone", "form_token")}
            | {"idempotency_key": made["idempotency_key"]},
        )
        assert again.status_code == 200 and 'id="replayed"' in again.text
        assert REFERENCE.findall(again.text)[0] == made["reference"]
        count = session.scalar(select(func.count()).select_from(Booking))
        assert count == 1

    def test_a_forged_form_books_nothing(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session)
        form = client.get(f"/screening/clinics/{clinic.id}?lang=en")
        data = {
            "clinic": str(clinic.id),
            "starts_at": SLOT.findall(form.text)[0],
            "full_name": "Lee",
            "phone": "010-1111-2222",
            "form_token": "another-sites-guess-0123456789",
        }
        refused = client.post(f"/screening/clinics/{clinic.id}/book", data=data)
        assert refused.status_code == 422 and "This form has expired" in refused.text
        with TestClient(client.app) as stranger:  # no cookie at all
            assert (
                stranger.post(f"/screening/clinics/{clinic.id}/book", data=data).status_code == 422
            )
        assert session.scalar(select(func.count()).select_from(Booking)) == 0

    @pytest.mark.parametrize(
        ("change", "words"),
        [
            ({"starts_at": "2020-03-05T01:00:00+00:00"}, "is in the past"),
            ({"starts_at": "tomorrow"}, "Choose a time"),
            ({"full_name": ""}, "full_name"),
            ({"phone": ""}, "give a phone number or an e-mail address"),
            ({"phone": "call me"}, "phone"),
        ],
    )
    def test_bad_bookings_are_explained_and_store_nothing(
        self, client: TestClient, session: Session, change: dict[str, str], words: str
    ) -> None:
        clinic = open_clinic(session)
        form = client.get(f"/screening/clinics/{clinic.id}?lang=en")
        data = {
            "clinic": str(clinic.id),
            "starts_at": SLOT.findall(form.text)[0],
            "full_name": "Lee",
            "phone": "010-1111-2222",
            "form_token": FORM_TOKEN.findall(form.text)[0],
            "idempotency_key": IDEMPOTENCY.findall(form.text)[0],
        } | change
        refused = client.post(f"/screening/clinics/{clinic.id}/book", data=data)
        assert refused.status_code == 422, refused.text
        assert words in refused.text and 'id="book-error"' in refused.text
        assert session.scalar(select(func.count()).select_from(Booking)) == 0

    def test_a_slot_just_taken(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session)
        form = client.get(f"/screening/clinics/{clinic.id}?lang=en")
        slot = SLOT.findall(form.text)[0]
        from datetime import datetime

        booking.book(
            session=session,
            actor="citizen",
            clinic_id=clinic.id,
            person=person(9),
            starts_at=datetime.fromisoformat(slot),
        )
        data = {
            "clinic": str(clinic.id),
            "starts_at": slot,
            "full_name": "Lee",
            "phone": "010-1111-2222",
            "form_token": FORM_TOKEN.findall(form.text)[0],
            "idempotency_key": IDEMPOTENCY.findall(form.text)[0],
        }
        taken = client.post(f"/screening/clinics/{clinic.id}/book", data=data)
        assert taken.status_code == 409 and "has just been taken" in taken.text
        assert session.scalar(select(func.count()).select_from(Booking)) == 1

    def test_unknown_clinic(self, client: TestClient, session: Session) -> None:
        assert client.get("/screening/clinics/999").status_code == 404
        assert client.get("/screening/clinics/abc").status_code == 422
        gone = client.post("/screening/clinics/999/book", data={"full_name": "Lee"})
        assert gone.status_code == 422
        assert session.scalar(select(func.count()).select_from(Booking)) == 0

    def test_cancel_my_booking(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session)
        made = book_by_page(client, clinic)
        page = client.get("/screening/my-booking")
        token = FORM_TOKEN.findall(page.text)[0]
        cancelled = client.post("/screening/my-booking/cancel", data={"form_token": token})
        assert cancelled.status_code == 200 and 'id="page-notice"' in cancelled.text
        stored = booking.get_by_reference(session=session, reference=made["reference"])
        assert stored is not None and stored.status == BookingStatus.CANCELLED
        assert stored.claim is None  # the slot is free again
        client.post("/screening/my-booking/forget", data={"form_token": token})
        assert client.get("/screening/my-booking/qr.svg").status_code == 404


class TestMyResult:
    def test_result_behind_the_code(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session)
        made = book_by_page(client, clinic)
        with TestClient(client.app) as citizen:
            form = citizen.get("/screening/my-result?lang=en")
            token = FORM_TOKEN.findall(form.text)[0]
            data = {"reference": made["reference"], "code": made["code"], "form_token": token}
            pending = citizen.post("/screening/my-result", data=data)
            assert pending.status_code == 200 and "not ready yet" in pending.text

            stored = booking.get_by_reference(session=session, reference=made["reference"])
            assert stored is not None
            entry = queue.check_in(
                session=session, actor="staff", clinic=clinic, code=made["reference"]
            )
            sample = samples.collect(session=session, actor="staff", entry_id=entry.id)
            samples.record_result(
                session=session, actor="staff", sample_id=sample.id, outcome=Outcome.NEGATIVE
            )
            shown = citizen.post("/screening/my-result", data=data)
            assert 'outcome-negative">Negative' in shown.text
            refused = citizen.post("/screening/my-result", data=data | {"code": "ABCDEFGH"})
            assert refused.status_code == 422 and "Negative" not in refused.text


class TestStaffPages:
    def test_check_in_call_sample_and_result(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session, units=2)
        made = booking.book(session=session, actor="citizen", clinic_id=clinic.id, person=person(1))
        staff = make_user(session, Role.CLINIC_STAFF, clinic_ref=clinic.reference)
        csrf = sign_in(client, staff.username)
        page = client.get("/screening/staff?lang=en")
        assert page.status_code == 200 and "Lane 1" in page.text and "Lane 2" in page.text
        assert 'href="/screening/staff"' in page.text  # the nav link of clinic staff

        checked = client.post(
            "/screening/staff/check-in",
            data={"code": queue.checkin_payload(made.booking), "csrf_token": csrf},
        )
        assert checked.status_code == 200 and "Checked in: ticket 1" in checked.text
        assert made.booking.reference in checked.text
        tampered = client.post(
            "/screening/staff/check-in",
            data={"code": f"CTS1:{made.booking.reference}:AAAAAAAAAA", "csrf_token": csrf},
        )
        assert tampered.status_code == 422 and "damaged" in tampered.text

        unit_id = made.booking.unit_id
        called = client.post(
            "/screening/staff/call", data={"unit_id": str(unit_id), "csrf_token": csrf}
        )
        assert "Ticket 1 called" in called.text and "In service:" in called.text
        entry_id = re.findall(r'name="entry_id" value="(\d+)"', called.text)[0]
        collected = client.post(
            "/screening/staff/collect", data={"entry_id": entry_id, "csrf_token": csrf}
        )
        assert collected.status_code == 200
        sample = session.scalar(select(Sample).where(Sample.booking_id == made.booking.id))
        assert sample is not None and sample.label in collected.text
        assert f'src="/api/screening/samples/{sample.id}/label.svg"' in collected.text
        label = client.get(f"/api/screening/samples/{sample.id}/label.svg")
        assert label.status_code == 200 and sample.label in label.text

        entered = client.post(
            "/screening/staff/results",
            data={"label": sample.label.lower(), "outcome": "positive", "csrf_token": csrf},
        )
        assert entered.status_code == 200 and f"Result of {sample.label} stored" in entered.text
        result = session.scalar(select(Result).where(Result.sample_id == sample.id))
        assert result is not None and result.outcome == Outcome.POSITIVE
        assert result.case_id is not None  # a positive result opens a case
        again = client.post(
            "/screening/staff/results",
            data={"label": sample.label, "outcome": "positive", "csrf_token": csrf},
        )
        assert "already had this result" in again.text
        other = client.post(
            "/screening/staff/results",
            data={"label": sample.label, "outcome": "negative", "csrf_token": csrf},
        )
        assert other.status_code == 409 and "a different result is refused" in other.text

    def test_walk_in_gets_a_ticket_and_a_code(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session)
        staff = make_user(session, Role.CLINIC_STAFF, clinic_ref=clinic.reference)
        csrf = sign_in(client, staff.username)
        done = client.post(
            "/screening/staff/walk-in?lang=en",
            data={"full_name": "Park", "phone": "010-2222-3333", "csrf_token": csrf},
        )
        assert done.status_code == 200 and "Walk-in registered: ticket 1" in done.text
        assert 'id="walk-in-ticket"' in done.text
        refused = client.post(
            "/screening/staff/walk-in", data={"full_name": "Park", "csrf_token": csrf}
        )
        assert refused.status_code == 422

    def test_lab_csv_with_a_row_report(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session)
        staff = make_user(session, Role.CLINIC_STAFF, clinic_ref=clinic.reference)
        labels = []
        for n in range(2):
            made = booking.walk_in(
                session=session, actor="staff", clinic_id=clinic.id, person=person(n)
            )
            entry = queue.check_in(
                session=session, actor="staff", clinic=clinic, code=made.booking.reference
            )
            labels.append(samples.collect(session=session, actor="staff", entry_id=entry.id).label)
        csrf = sign_in(client, staff.username)
        bad = (
            f"sample_id,result\n{labels[0]},positive\nS200101-NOSUCH,negative\n{labels[1]},maybe\n"
        )
        refused = client.post(
            "/screening/staff/results/upload?lang=en",
            data={"csrf_token": csrf},
            files={"file": ("lab.csv", bad.encode(), "text/csv")},
        )
        assert refused.status_code == 422
        report = refused.text.split('id="lab-report"')[1]
        assert "nothing was stored" in report
        assert re.search(r"<th scope=\"row\">3</th><td>sample_id</td>", report)
        assert re.search(r"<th scope=\"row\">4</th><td>result</td>", report)
        assert session.scalar(select(func.count()).select_from(Result)) == 0

        partial = client.post(
            "/screening/staff/results/upload?lang=en",
            data={"csrf_token": csrf, "accept_valid": "1"},
            files={"file": ("lab.csv", bad.encode(), "text/csv")},
        )
        assert partial.status_code == 200
        assert "3 rows: 1 results stored" in partial.text and "2 bad rows" in partial.text
        good = f"sample_id,result\n{labels[0]},positive\n{labels[1]},음성\n"
        stored = client.post(
            "/screening/staff/results/upload?lang=en",
            data={"csrf_token": csrf},
            files={"file": ("lab2.csv", good.encode(), "text/csv")},
        )
        assert "2 rows: 1 results stored, 1 already stored" in stored.text
        outcomes = session.scalars(select(Result.outcome).order_by(Result.id)).all()
        assert outcomes == [Outcome.POSITIVE, Outcome.NEGATIVE]

    def test_staff_reach_only_their_clinic(self, client: TestClient, session: Session) -> None:
        mine = open_clinic(session)
        theirs = open_clinic(session, reference="clinic-8")
        made = booking.walk_in(
            session=session, actor="staff", clinic_id=theirs.id, person=person(1)
        )
        entry = queue.check_in(
            session=session, actor="staff", clinic=theirs, code=made.booking.reference
        )
        staff = make_user(session, Role.CLINIC_STAFF, clinic_ref=mine.reference)
        csrf = sign_in(client, staff.username)
        assert client.get("/screening/staff?clinic=clinic-8").status_code == 403
        left = client.post(
            "/screening/staff/leave", data={"entry_id": str(entry.id), "csrf_token": csrf}
        )
        assert left.status_code == 403
        check_in = client.post(
            "/screening/staff/check-in",
            data={"code": made.booking.reference, "csrf_token": csrf},
        )
        assert check_in.status_code == 404  # no such booking at my clinic
        denied = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "access.denied")
        ).all()
        assert [d["reason"] for d in denied] == ["scope", "scope"]

    def test_forms_need_the_csrf_token(self, client: TestClient, session: Session) -> None:
        clinic = open_clinic(session)
        staff = make_user(session, Role.CLINIC_STAFF, clinic_ref=clinic.reference)
        sign_in(client, staff.username)
        refused = client.post("/screening/staff/check-in", data={"code": "X"})
        assert refused.status_code == 403

    def test_administrator_chooses_the_clinic(self, client: TestClient, session: Session) -> None:
        open_clinic(session, name="City Hall Clinic")
        admin = make_user(session, Role.ADMINISTRATOR)
        sign_in(client, admin.username)
        chooser = client.get("/screening/staff")
        assert chooser.status_code == 200 and "City Hall Clinic" in chooser.text
        page = client.get("/screening/staff?clinic=clinic-7")
        assert page.status_code == 200 and 'name="clinic" value="clinic-7"' in page.text

    def test_staff_without_a_registered_clinic(self, client: TestClient, session: Session) -> None:
        staff = make_user(session, Role.CLINIC_STAFF, clinic_ref="nowhere")
        sign_in(client, staff.username)
        page = client.get("/screening/staff?lang=en")
        assert page.status_code == 200 and "is not in the registry" in page.text

    def test_anonymous_is_sent_to_sign_in(self, client: TestClient) -> None:
        page = client.get("/screening/staff", follow_redirects=False)
        assert page.status_code == 303 and "/login" in page.headers["location"]


def test_queue_version_changes_with_the_queue(client: TestClient, session: Session) -> None:
    clinic = open_clinic(session)
    staff = make_user(session, Role.CLINIC_STAFF, clinic_ref=clinic.reference)
    sign_in(client, staff.username)
    before = client.get("/screening/staff/queue.json").json()["version"]
    assert client.get("/screening/staff/queue.json").json()["version"] == before
    made = booking.walk_in(session=session, actor="staff", clinic_id=clinic.id, person=person(1))
    assert made.booking.checked_in_at is not None
    after = client.get("/screening/staff/queue.json").json()["version"]
    assert after != before
    assert utcnow() - made.booking.created_at < timedelta(minutes=1)
