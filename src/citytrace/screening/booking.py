"""Booking: slots per lane or booth from opening hours and service time; book, cancel,
reschedule, walk in, no-show.

A slot is a (unit, start) on the clinic's grid: from each opening time, one every
``Clinic.slot_interval_min`` minutes (service plus a booth's turnover), as long as the service
ends by closing time. A live booking holds its slot through a
:class:`~citytrace.screening.models.SlotClaim`, unique per (unit, start) in the database, so
overbooking is impossible on every backend whatever happens above it. Each booking change first
raises the clinic's ``booking_version``: a row lock on PostgreSQL and the write lock on SQLite,
so that concurrent bookings of one clinic queue up behind each other instead of failing over and
over; the unique claim stays the guarantee.

Citizens' names, phones and e-mails are sealed (AES-256-GCM, each field bound to its column and
booking) and opened only by :func:`read_identity`, which is audited. A citizen reaches their own
booking with its reference and the access code shown once at booking (:func:`verify_access`);
the code is kept only as a keyed hash, and five wrong codes lock the booking.

Every function here is atomic: it works in a savepoint, so a refusal leaves nothing behind even
inside a longer transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.auth.exceptions import AuditedRefusalError
from citytrace.cases.service import normalise_phone
from citytrace.db import utcnow
from citytrace.errors import ConflictError, InputError, NotFoundError
from citytrace.screening import clinics
from citytrace.screening.models import Booking, BookingStatus, Clinic, SlotClaim, Unit
from citytrace.screening.schemas import PersonIn, PersonOut
from citytrace.security.crypto import Keyring
from citytrace.security.keys import get_keyring

__all__ = [
    "BOOKING_HORIZON_DAYS",
    "AccessCodeError",
    "BookingResult",
    "SlotTime",
    "book",
    "cancel",
    "find_by_phone",
    "get",
    "get_by_reference",
    "get_or_raise",
    "list_for_clinic",
    "lock_clinic",
    "mark_no_show",
    "next_free_slot",
    "read_identity",
    "reschedule",
    "slots",
    "verify_access",
    "walk_in",
]

BOOKING_HORIZON_DAYS = 28
"""How far ahead a slot may be booked."""
MAX_CODE_FAILURES = 5
"""Wrong access codes after which a booking is locked to citizens (staff can still reach it)."""
CITIZEN = "citizen"
"""The audit actor of a citizen's own requests (the client address is recorded too)."""
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed by people
PERSON_FIELDS = ("full_name", "phone", "email")


class AccessCodeError(NotFoundError, AuditedRefusalError):
    """A wrong reference or code (404, the same for both); the failure count is kept."""


@dataclass(frozen=True)
class SlotTime:
    """A slot start of a clinic: when, until when, and which units are still free then."""

    starts_at: datetime
    ends_at: datetime
    free_unit_ids: tuple[int, ...]

    @property
    def free_units(self) -> int:
        return len(self.free_unit_ids)


@dataclass(frozen=True)
class BookingResult:
    """A booking and its access code (shown to the citizen once; a replay issues a new one)."""

    booking: Booking
    access_code: str
    replayed: bool = False


# --- lookups -------------------------------------------------------------------------------


def get(*, session: Session, booking_id: int) -> Booking | None:
    return session.get(Booking, booking_id)


def get_or_raise(*, session: Session, booking_id: int) -> Booking:
    booking = get(session=session, booking_id=booking_id)
    if booking is None:
        raise NotFoundError(f"booking {booking_id} does not exist")
    return booking


def get_by_reference(*, session: Session, reference: str) -> Booking | None:
    return session.scalar(select(Booking).where(Booking.reference == _normalise_code(reference)))


def list_for_clinic(
    *,
    session: Session,
    clinic_id: int,
    day: date | None = None,
    status: BookingStatus | None = None,
) -> Sequence[Booking]:
    """A clinic's bookings (of one local day: by slot, or walk-ins by arrival), in order."""
    query = select(Booking).where(Booking.clinic_id == clinic_id)
    if day is not None:
        zone = clinics.zone()
        start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        end = start + timedelta(days=1)
        query = query.where(
            ((Booking.slot_starts_at >= start) & (Booking.slot_starts_at < end))
            | (
                Booking.slot_starts_at.is_(None)
                & (Booking.created_at >= start)
                & (Booking.created_at < end)
            )
        )
    if status is not None:
        query = query.where(Booking.status == status)
    return session.scalars(
        query.order_by(Booking.slot_starts_at.is_(None), Booking.slot_starts_at, Booking.id)
    ).all()


# --- slots ---------------------------------------------------------------------------------


def _active_units(clinic: Clinic) -> list[Unit]:
    return [u for u in clinic.units if u.active]


def _starts(clinic: Clinic, window: tuple[datetime, datetime]) -> list[datetime]:
    start, end = window
    step = timedelta(minutes=clinic.slot_interval_min)
    service = timedelta(minutes=clinic.service_time_min)
    out = []
    t = start
    while t + service <= end:
        out.append(t)
        t += step
    return out


def slots(*, session: Session, clinic: Clinic, day: date) -> list[SlotTime]:
    """Every slot start of the opening that begins on the local date ``day`` (an overnight
    opening runs into the next day), with the units still free at each."""
    window = clinics.opening_window(clinic, day)
    units = _active_units(clinic)
    if window is None or not units or not clinic.active:
        return []
    starts = _starts(clinic, window)
    if not starts:
        return []
    taken: dict[datetime, set[int]] = {}
    rows = session.execute(
        select(SlotClaim.starts_at, SlotClaim.unit_id).where(
            SlotClaim.unit_id.in_([u.id for u in units]),
            SlotClaim.starts_at >= starts[0],
            SlotClaim.starts_at <= starts[-1],
        )
    )
    for starts_at, unit_id in rows:
        taken.setdefault(starts_at, set()).add(unit_id)
    length = timedelta(minutes=clinic.service_time_min)
    return [
        SlotTime(
            starts_at=t,
            ends_at=t + length,
            free_unit_ids=tuple(u.id for u in units if u.id not in taken.get(t, ())),
        )
        for t in starts
    ]


def free_slots(
    *, session: Session, clinic: Clinic, day: date, now: datetime | None = None
) -> list[SlotTime]:
    """The slots of ``day`` that start after ``now`` and have a free unit."""
    now = now or utcnow()
    return [
        s
        for s in slots(session=session, clinic=clinic, day=day)
        if s.starts_at > now and s.free_units
    ]


def next_free_slot(
    *,
    session: Session,
    clinic: Clinic,
    now: datetime | None = None,
    horizon_days: int = BOOKING_HORIZON_DAYS,
) -> SlotTime | None:
    """The earliest free slot after ``now`` within ``horizon_days``, or ``None``."""
    now = now or utcnow()
    today = clinics.local_date(now)
    # The day before too: its overnight opening may still be running.
    for offset in range(-1, horizon_days + 1):
        found = free_slots(
            session=session, clinic=clinic, day=today + timedelta(days=offset), now=now
        )
        if found:
            return found[0]
    return None


def lock_clinic(session: Session, clinic_id: int) -> Clinic:
    """Take the clinic's booking lock for the rest of the transaction, and the clinic.

    The first statement of a booking change: on SQLite it takes the database's write lock before
    anything is read (a read first could not be upgraded to a write once another booking had
    committed), on PostgreSQL the clinic row's lock.
    """
    done = session.execute(
        update(Clinic)
        .where(Clinic.id == clinic_id)
        .values(booking_version=Clinic.booking_version + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 1) == 0:
        raise NotFoundError(f"clinic {clinic_id} does not exist")
    clinic = session.get(Clinic, clinic_id, populate_existing=True)
    if clinic is None:  # pragma: no cover - the update found it
        raise NotFoundError(f"clinic {clinic_id} does not exist")
    return clinic


def _local(at: datetime) -> str:
    return at.astimezone(clinics.zone()).strftime("%Y-%m-%d %H:%M")


def _slot_at(session: Session, clinic: Clinic, starts_at: datetime, now: datetime) -> SlotTime:
    """The slot starting at ``starts_at``, or a clear refusal of why there is none."""
    if starts_at <= now:
        raise InputError(f"{_local(starts_at)} is in the past", location="starts_at")
    if starts_at > now + timedelta(days=BOOKING_HORIZON_DAYS):
        raise InputError(
            f"{_local(starts_at)} is more than {BOOKING_HORIZON_DAYS} days ahead",
            location="starts_at",
        )
    if not clinic.active:
        raise ConflictError(f"clinic {clinic.reference} is closed for bookings")
    day = clinics.local_date(starts_at)
    for opening_day in (day - timedelta(days=1), day):
        window = clinics.opening_window(clinic, opening_day)
        if window is None or not window[0] <= starts_at < window[1]:
            continue
        for slot in slots(session=session, clinic=clinic, day=opening_day):
            if slot.starts_at == starts_at:
                return slot
        first = _local(window[0])[-5:]
        raise InputError(
            f"{_local(starts_at)} is not a slot start: slots start every "
            f"{clinic.slot_interval_min} min from {first} and end by closing time",
            location="starts_at",
        )
    hours = clinics.hours_on(clinic, day)
    said = "unknown hours" if hours is None else hours
    raise InputError(
        f"{_local(starts_at)} is outside the clinic's opening hours ({said} on {day:%A})",
        location="starts_at",
    )


def _earliest(session: Session, clinic: Clinic, day: date | None, now: datetime) -> list[SlotTime]:
    if not clinic.active:
        raise ConflictError(f"clinic {clinic.reference} is closed for bookings")
    if day is not None:
        today = clinics.local_date(now)
        if day < today:
            raise InputError(f"{day} is in the past", location="day")
        if day > today + timedelta(days=BOOKING_HORIZON_DAYS):
            raise InputError(
                f"{day} is more than {BOOKING_HORIZON_DAYS} days ahead", location="day"
            )
        found = free_slots(session=session, clinic=clinic, day=day, now=now)
        if not found:
            raise ConflictError(f"clinic {clinic.reference} has no free slot on {day}")
        return found
    slot = next_free_slot(session=session, clinic=clinic, now=now)
    if slot is None:
        raise ConflictError(
            f"clinic {clinic.reference} has no free slot in the next {BOOKING_HORIZON_DAYS} days"
        )
    # The earliest, then the rest of its day as fall-backs.
    rest = free_slots(
        session=session, clinic=clinic, day=clinics.local_date(slot.starts_at), now=now
    )
    return [slot] + [s for s in rest if s.starts_at > slot.starts_at]


# --- codes and sealed fields ---------------------------------------------------------------


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def _normalise_code(value: str) -> str:
    return value.replace("-", "").replace(" ", "").upper()


def _new_reference() -> str:
    return f"B{_random(9)}"


def _new_code() -> str:
    raw = _random(8)
    return f"{raw[:4]}-{raw[4:]}"


ACCESS_CODE_KIND = "screening.access_code"


def _code_hash(keyring: Keyring, code: str) -> str:
    return keyring.keyed_hash(ACCESS_CODE_KIND, _normalise_code(code))


def _context(booking_id: int, field: str) -> bytes:
    return f"screening_booking.{field}:{booking_id}".encode()


def _seal(booking: Booking, person: PersonIn | PersonOut, keyring: Keyring) -> None:
    booking.key_id = keyring.current_id
    values = {"full_name": person.full_name, "phone": person.phone, "email": person.email}
    for field, value in values.items():
        setattr(
            booking, f"{field}_enc", keyring.seal_text(value, context=_context(booking.id, field))
        )
    booking.phone_hash = _phone_hash(keyring, person.phone)


def _phone_hash(keyring: Keyring, phone: str | None) -> str | None:
    digits = normalise_phone(phone or "")
    return keyring.keyed_hash("phone", digits) if digits else None


def _open(booking: Booking, keyring: Keyring) -> PersonOut:
    def open_(field: str) -> str | None:
        return keyring.open_text(
            getattr(booking, f"{field}_enc"), context=_context(booking.id, field)
        )

    return PersonOut.model_construct(
        full_name=open_("full_name") or "",
        phone=open_("phone"),
        email=open_("email"),
        language=booking.language,
    )


def _request_hash(**parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _person_key(person: PersonIn) -> dict[str, str]:
    return {
        "full_name": " ".join(person.full_name.split()),
        "phone": normalise_phone(person.phone or ""),
        "email": (person.email or "").lower(),
    }


# --- booking changes -----------------------------------------------------------------------


def _replay(session: Session, actor: str, booking: Booking, request_hash: str) -> BookingResult:
    if booking.request_hash != request_hash:
        raise ConflictError(
            "this idempotency key was used for a different booking request: use a new key"
        )
    code = _new_code()
    booking.access_code_hash = _code_hash(get_keyring(), code)
    booking.code_failures = 0
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="screening.booking.replay",
        entity="booking",
        entity_id=booking.id,
        detail={"clinic_id": booking.clinic_id},
    )
    return BookingResult(booking=booking, access_code=code, replayed=True)


def _claim(session: Session, booking: Booking, candidates: Sequence[SlotTime]) -> bool:
    """Claim the first (slot, unit) still free among ``candidates``; whether one was."""
    for slot in candidates:
        for unit_id in slot.free_unit_ids:
            try:
                with session.begin_nested():
                    session.add(
                        SlotClaim(unit_id=unit_id, starts_at=slot.starts_at, booking_id=booking.id)
                    )
                    session.flush()
            except IntegrityError:
                continue  # taken meanwhile (the database refused the second claim)
            booking.unit_id = unit_id
            booking.slot_starts_at = slot.starts_at
            return True
    return False


def book(
    *,
    session: Session,
    actor: str,
    clinic_id: int,
    person: PersonIn,
    starts_at: datetime | None = None,
    day: date | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> BookingResult:
    """Book a slot for ``person``: the slot starting at ``starts_at``, or else the earliest free
    one of ``day``, or else the earliest free one from ``now``.

    The same ``idempotency_key`` again (with the same request) returns the booking it made, with
    a new access code, and books nothing; with a different request it is refused.

    Raises
    ------
    InputError
        A start in the past, too far ahead, outside opening hours or off the slot grid.
    ConflictError
        The slot has just been taken (every unit), no slot is free, the clinic is closed, or
        the idempotency key was used for another request.
    NotFoundError
        No such clinic.
    """
    now = now or utcnow()
    request_hash = _request_hash(
        clinic_id=clinic_id,
        starts_at=None if starts_at is None else starts_at.isoformat(),
        day=None if day is None else day.isoformat(),
        person=_person_key(person),
    )
    with session.begin_nested():
        clinic = lock_clinic(session, clinic_id)
        if idempotency_key is not None:
            existing = session.scalar(
                select(Booking).where(Booking.idempotency_key == idempotency_key)
            )
            if existing is not None:
                return _replay(session, actor, existing, request_hash)
        if starts_at is not None:
            candidates = [_slot_at(session, clinic, starts_at, now)]
            if not candidates[0].free_units:
                raise ConflictError(
                    f"the slot at {_local(starts_at)} has just been taken: choose another"
                )
        else:
            candidates = _earliest(session, clinic, day, now)
        keyring = get_keyring()
        code = _new_code()
        booking = Booking(
            reference=_new_reference(),
            clinic_id=clinic.id,
            status=BookingStatus.BOOKED,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            access_code_hash=_code_hash(keyring, code),
            language=person.language,
            key_id=keyring.current_id,
            full_name_enc=b"",
        )
        session.add(booking)
        session.flush()
        _seal(booking, person, keyring)
        if not _claim(session, booking, candidates):
            if starts_at is not None:
                raise ConflictError(
                    f"the slot at {_local(starts_at)} has just been taken: choose another"
                )
            raise ConflictError(f"clinic {clinic.reference} has no free slot left: try later")
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.booking.create",
            entity="booking",
            entity_id=booking.id,
            detail={"clinic_id": clinic.id, "walk_in": False},
        )
    return BookingResult(booking=booking, access_code=code)


def walk_in(
    *, session: Session, actor: str, clinic_id: int, person: PersonIn, now: datetime | None = None
) -> BookingResult:
    """Register someone who came without a booking and put them in the queue (checked in).

    Raises
    ------
    ConflictError
        The clinic is not open now.
    """
    from citytrace.screening import queue

    now = now or utcnow()
    with session.begin_nested():
        clinic = lock_clinic(session, clinic_id)
        if not clinics.is_open(clinic, now):
            raise ConflictError(f"clinic {clinic.reference} is not open now")
        keyring = get_keyring()
        code = _new_code()
        booking = Booking(
            reference=_new_reference(),
            clinic_id=clinic.id,
            status=BookingStatus.BOOKED,
            walk_in=True,
            access_code_hash=_code_hash(keyring, code),
            language=person.language,
            key_id=keyring.current_id,
            full_name_enc=b"",
        )
        session.add(booking)
        session.flush()
        _seal(booking, person, keyring)
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.booking.create",
            entity="booking",
            entity_id=booking.id,
            detail={"clinic_id": clinic.id, "walk_in": True},
        )
        queue.check_in(session=session, actor=actor, clinic=clinic, code=booking.reference, now=now)
    return BookingResult(booking=booking, access_code=code)


def _live(booking: Booking, doing: str) -> None:
    if booking.status != BookingStatus.BOOKED:
        raise ConflictError(f"booking {booking.reference} is {booking.status}: cannot {doing} it")


def cancel(
    *, session: Session, actor: str, booking_id: int, now: datetime | None = None
) -> Booking:
    """Cancel a booking and free its slot.

    Raises
    ------
    ConflictError
        It is not booked (cancelled, checked in, ...), or its slot has begun.
    """
    now = now or utcnow()
    with session.begin_nested():
        booking = get_or_raise(session=session, booking_id=booking_id)
        lock_clinic(session, booking.clinic_id)
        session.refresh(booking)
        _live(booking, "cancel")
        if booking.slot_starts_at is not None and booking.slot_starts_at <= now:
            raise ConflictError(f"the slot of booking {booking.reference} has begun")
        if booking.claim is not None:
            session.delete(booking.claim)
            booking.claim = None
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = booking.closed_at = now
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.booking.cancel",
            entity="booking",
            entity_id=booking.id,
        )
    return booking


def reschedule(
    *,
    session: Session,
    actor: str,
    booking_id: int,
    starts_at: datetime,
    now: datetime | None = None,
) -> Booking:
    """Move a booking to the slot starting at ``starts_at`` (at the same clinic). The old slot is
    freed only if the new one is had.

    Raises
    ------
    InputError, ConflictError
        As :func:`book`; also when the booking is not booked or is a walk-in.
    """
    now = now or utcnow()
    with session.begin_nested():
        booking = get_or_raise(session=session, booking_id=booking_id)
        clinic = lock_clinic(session, booking.clinic_id)
        session.refresh(booking)
        _live(booking, "reschedule")
        if booking.walk_in:
            raise ConflictError(f"booking {booking.reference} is a walk-in: it has no slot")
        if booking.slot_starts_at is not None and booking.slot_starts_at <= now:
            raise ConflictError(f"the slot of booking {booking.reference} has begun")
        if booking.slot_starts_at == starts_at:
            return booking
        old = booking.claim
        if old is not None:
            session.delete(old)
            booking.claim = None
            session.flush()
        slot = _slot_at(session, clinic, starts_at, now)
        if not _claim(session, booking, [slot]):
            raise ConflictError(
                f"the slot at {_local(starts_at)} has just been taken: choose another"
            )
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.booking.reschedule",
            entity="booking",
            entity_id=booking.id,
        )
    return booking


def mark_no_show(
    *, session: Session, actor: str, booking_id: int, now: datetime | None = None
) -> Booking:
    """Record that a booked person did not come (once their slot has begun)."""
    now = now or utcnow()
    with session.begin_nested():
        booking = get_or_raise(session=session, booking_id=booking_id)
        _live(booking, "mark as a no-show")
        if booking.slot_starts_at is None or booking.slot_starts_at > now:
            raise ConflictError(f"the slot of booking {booking.reference} has not begun yet")
        booking.status = BookingStatus.NO_SHOW
        booking.closed_at = now
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.booking.no_show",
            entity="booking",
            entity_id=booking.id,
        )
    return booking


# --- citizens' access and identity ---------------------------------------------------------


def verify_access(*, session: Session, reference: str, code: str) -> Booking:
    """The booking of ``reference`` if ``code`` is its access code.

    Raises
    ------
    AccessCodeError
        Unknown reference or wrong code (the same message for both); each wrong code counts, and
        after :data:`MAX_CODE_FAILURES` the booking is locked to citizens.
    """
    booking = get_by_reference(session=session, reference=reference)
    refused = AccessCodeError("no booking with this reference and code")
    if booking is None:
        raise refused
    if booking.code_failures >= MAX_CODE_FAILURES:
        raise AccessCodeError(
            "too many wrong codes for this booking: the clinic can give you a new code"
        )
    expected = booking.access_code_hash
    keyring = get_keyring()
    hashes = keyring.keyed_hashes(ACCESS_CODE_KIND, _normalise_code(code))
    matches = [secrets.compare_digest(h, expected) for h in hashes]  # each, in constant time
    if not any(matches):
        booking.code_failures += 1
        session.flush()
        audit.record(
            session=session,
            actor=CITIZEN,
            action="screening.booking.code_failed",
            entity="booking",
            entity_id=booking.id,
            detail={"failures": booking.code_failures},
        )
        raise refused
    if booking.code_failures:
        booking.code_failures = 0
    if not matches[0]:  # made with an old hash key: now the current one's
        booking.access_code_hash = hashes[0]
    return booking


def new_access_code(*, session: Session, actor: str, booking_id: int) -> str:
    """Issue a new access code (the old one stops working, a lock is lifted); shown once."""
    booking = get_or_raise(session=session, booking_id=booking_id)
    code = _new_code()
    booking.access_code_hash = _code_hash(get_keyring(), code)
    booking.code_failures = 0
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="screening.booking.new_code",
        entity="booking",
        entity_id=booking.id,
    )
    return code


def read_identity(*, session: Session, actor: str, booking_id: int) -> PersonOut:
    """The booked person's name, phone and e-mail, opened; the read is audited."""
    booking = get_or_raise(session=session, booking_id=booking_id)
    audit.record(
        session=session,
        actor=actor,
        action="screening.booking.identity.read",
        entity="booking",
        entity_id=booking.id,
    )
    return _open(booking, get_keyring())


def open_person(booking: Booking) -> PersonOut:
    """The person of a booking, for a caller that audits the purpose itself (the notifier)."""
    return _open(booking, get_keyring())


def find_by_phone(
    *, session: Session, actor: str, phone: str, clinic_id: int | None = None
) -> Sequence[Booking]:
    """Bookings whose person has this phone number (exact match of its digits), of one clinic
    if given. The search is audited, without the number."""
    digits = normalise_phone(phone)
    if not digits:
        raise InputError("the number has no digits", location="phone")
    query = select(Booking).where(
        Booking.phone_hash.in_(get_keyring().keyed_hashes("phone", digits))
    )
    if clinic_id is not None:
        query = query.where(Booking.clinic_id == clinic_id)
    found = session.scalars(query.order_by(Booking.id)).all()
    audit.record(
        session=session,
        actor=actor,
        action="screening.booking.search",
        entity="booking",
        detail={"by": "phone", "found": len(found), "clinic_id": clinic_id},
    )
    return found


def reseal_bookings(*, session: Session, keyring: Keyring, limit: int) -> int:
    """Re-seal up to ``limit`` bookings not under the current key; how many (for a rotation)."""
    rows = session.scalars(
        select(Booking)
        .where(Booking.key_id != keyring.current_id)
        .order_by(Booking.id)
        .limit(limit)
        .with_for_update()
    ).all()
    for row in rows:
        _seal(row, _open(row, keyring), keyring)
    session.flush()
    return len(rows)


def rehash_bookings(
    *, session: Session, keyring: Keyring, after_id: int, limit: int
) -> tuple[int, int, int]:
    """Make the phone hashes of up to ``limit`` bookings after ``after_id`` with the current
    hash key: the last id read, how many were read and how many changed (for a rotation of the
    hash key). Access codes are kept only as hashes: each is made again under the current key
    when it is next used (:func:`verify_access`)."""
    rows = session.scalars(
        select(Booking).where(Booking.id > after_id).order_by(Booking.id).limit(limit)
        .with_for_update()
    ).all()  # fmt: skip
    changed = 0
    for row in rows:
        phone_hash = _phone_hash(keyring, _open(row, keyring).phone)
        if phone_hash != row.phone_hash:
            row.phone_hash = phone_hash
            changed += 1
    session.flush()
    return (rows[-1].id if rows else after_id), len(rows), changed


def booking_key_counts(*, session: Session) -> dict[str, int]:
    """How many bookings are sealed under each key id."""
    rows = session.execute(select(Booking.key_id, func.count()).group_by(Booking.key_id)).all()
    return {str(key_id): int(count) for key_id, count in rows}
