"""Clinics, people and bookings for the screening tests, made through the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citytrace.screening import booking, clinics, queue, samples
from citytrace.screening.models import Clinic, ClinicKind, Outcome, Sample
from citytrace.screening.schemas import ClinicCreate, PersonIn

# A Thursday, 09:30 in Seoul.
NOW = datetime(2020, 3, 5, 0, 30, tzinfo=UTC)
CITY_HALL = (37.5663, 126.9779)


def seoul(day: int, hour: int, minute: int = 0) -> datetime:
    """A time of March 2020 in Seoul, as UTC."""
    return datetime(2020, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=9)


def make_clinic(
    session: Session,
    *,
    reference: str = "clinic-7",
    name: str | None = None,
    kind: ClinicKind = ClinicKind.DRIVE_THROUGH,
    units: int = 1,
    weekday_hours: str | None = "09:00-18:00",
    saturday_hours: str | None = "09:00-13:00",
    holiday_hours: str | None = "closed",
    district_code: str | None = "11140",
    latitude: float | None = None,
    longitude: float | None = None,
    **extra: Any,
) -> Clinic:
    return clinics.create(
        session=session,
        actor="test",
        data=ClinicCreate(
            reference=reference,
            name=name or f"Clinic {reference}",
            kind=kind,
            units=units,
            weekday_hours=weekday_hours,
            saturday_hours=saturday_hours,
            holiday_hours=holiday_hours,
            district_code=district_code,
            latitude=latitude,
            longitude=longitude,
            **extra,
        ),
    )


def person(n: int = 0, **extra: Any) -> PersonIn:
    return PersonIn(
        full_name=extra.pop("full_name", f"Hong Gildong {n}"),
        phone=extra.pop("phone", f"010-5555-{n:04d}"),
        **extra,
    )


def book(
    session: Session, clinic: Clinic, starts_at: datetime | None = None, n: int = 0, **kw: Any
) -> booking.BookingResult:
    return booking.book(
        session=session,
        actor="citizen",
        clinic_id=clinic.id,
        person=person(n),
        starts_at=starts_at,
        now=kw.pop("now", NOW),
        **kw,
    )


def sampled(session: Session, clinic: Clinic, n: int = 0) -> Sample:
    """A booking of the 10:00 slot (plus ``n`` slots), checked in, called and sampled."""
    start = seoul(5, 10) + timedelta(minutes=clinic.slot_interval_min * n)
    made = book(session, clinic, start, n=n)
    entry = queue.check_in(
        session=session,
        actor="staff",
        clinic=clinic,
        code=queue.checkin_payload(made.booking),
        now=start - timedelta(minutes=5),
    )
    queue.call(session=session, actor="staff", entry_id=entry.id, now=start)
    return samples.collect(
        session=session, actor="staff", entry_id=entry.id, now=start + timedelta(minutes=8)
    )


def route_walk_records(session: Session) -> dict[str, dict[str, int]]:
    """Records for the route walk (tests/auth): a round-the-clock clinic of the test clinic
    staff (``clinic-7``), a booking checked in there, a collected sample with its result and
    notification, so that every screening path parameter names a record in reach."""
    from datetime import UTC

    from citytrace.db import utcnow
    from citytrace.screening import outbox

    clinic = make_clinic(
        session,
        weekday_hours="00:00-24:00",
        saturday_hours="00:00-24:00",
        holiday_hours="00:00-24:00",
        latitude=CITY_HALL[0],
        longitude=CITY_HALL[1],
    )
    now = utcnow().astimezone(UTC)
    made = booking.book(
        session=session, actor="test", clinic_id=clinic.id, person=person(1), now=now
    )
    second = booking.book(
        session=session, actor="test", clinic_id=clinic.id, person=person(2), now=now
    )
    entry = booking.walk_in(
        session=session, actor="test", clinic_id=clinic.id, person=person(3), now=now
    )
    walk_in_entry = queue.check_in(
        session=session, actor="test", clinic=clinic, code=entry.booking.reference, now=now
    )
    sample = samples.collect(session=session, actor="test", entry_id=walk_in_entry.id, now=now)
    result = samples.record_result(
        session=session, actor="test", sample_id=sample.id, outcome=Outcome.NEGATIVE, now=now
    )
    message = outbox.list_(session=session)[0]
    waiting = queue.check_in(
        session=session,
        actor="test",
        clinic=clinic,
        code=second.booking.reference,
        now=second.booking.slot_starts_at or now,
    )
    return {
        "clinic_id": {"in": clinic.id},
        "booking_id": {"in": made.booking.id},
        "queue_entry_id": {"in": waiting.id},
        "sample_id": {"in": sample.id},
        "unit_id": {"in": clinic.units[0].id},
        "message_id": {"in": message.id},
        "result_id": {"in": result.result.id},
    }
