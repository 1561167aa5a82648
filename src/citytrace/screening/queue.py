"""The arrival queue: check-in by the QR code of a booking, a live queue per lane or booth, the
estimated wait from recent service times, and a walk-through booth's turnover.

A booking's QR code holds ``CTS1:<reference>:<tag>``, the tag a keyed hash of the reference, so
that a mistyped or made-up code is refused rather than checking in someone else. Each arrival
gets the day's next ticket number at the clinic and waits at its booked unit (a walk-in at the
unit with the shortest estimated wait).

Estimated wait (minutes) at a unit, for the person ``i`` places back (0 = next):
``remaining + i * (mean service + turnover)``, where ``mean service`` is the mean of the last
:data:`RECENT_SERVICES` services at that unit within :data:`RECENT_WINDOW` (the clinic's
configured service time when there are none), ``turnover`` the booth's ventilation wait plus
disinfectant contact (5 + 1 min by default for walk-through booths, Yangji Hospital 2020), and
``remaining`` what is left of the current service and turnover. A booth is not called again
before its turnover is over.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import segno
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.db import utcnow
from citytrace.errors import ConflictError, InputError, NotFoundError
from citytrace.screening import clinics
from citytrace.screening.models import (
    Booking,
    BookingStatus,
    Clinic,
    QueueEntry,
    QueueStatus,
    Unit,
)
from citytrace.security.keys import get_keyring

__all__ = [
    "ClinicQueue",
    "UnitQueue",
    "WaitingEntry",
    "call",
    "call_next",
    "check_in",
    "checkin_payload",
    "checkin_qr_svg",
    "estimated_wait_min",
    "get_entry",
    "get_entry_or_raise",
    "leave",
    "live_queue",
    "parse_checkin_code",
]

PAYLOAD_PREFIX = "CTS1"
RECENT_SERVICES = 10
RECENT_WINDOW = timedelta(hours=3)


# --- the QR code ---------------------------------------------------------------------------


def _tags(reference: str) -> tuple[str, ...]:
    """The check tag of a booking's QR code: under the current hash key first, then the old
    ones (a code printed before a rotation of the hash key still checks in)."""
    return tuple(h[:10].upper() for h in get_keyring().keyed_hashes("screening.checkin", reference))


def checkin_payload(booking: Booking) -> str:
    """The text of the booking's QR code: ``CTS1:<reference>:<tag>``."""
    return f"{PAYLOAD_PREFIX}:{booking.reference}:{_tags(booking.reference)[0]}"


def checkin_qr_svg(booking: Booking, *, scale: int = 4) -> str:
    """The booking's QR code as an inline SVG element."""
    qr = segno.make(checkin_payload(booking), error="m")
    return str(qr.svg_inline(scale=scale, dark="#000", light="#fff"))


def parse_checkin_code(code: str) -> str:
    """The booking reference in a scanned QR code (checked) or a typed reference.

    Raises
    ------
    InputError
        A QR code that is damaged or not one of ours.
    """
    text = code.strip()
    if text.upper().startswith(f"{PAYLOAD_PREFIX}:"):
        parts = text.split(":")
        tags = _tags(parts[1]) if len(parts) == 3 else ()
        matches = [secrets.compare_digest(t, parts[2].upper()) for t in tags]  # each, in full
        if not any(matches):
            raise InputError("this QR code is damaged or not a booking of ours", location="code")
        return parts[1]
    reference = text.replace("-", "").replace(" ", "").upper()
    if not reference.isalnum() or not 1 <= len(reference) <= 20:
        raise InputError("give the QR code's text or a booking reference", location="code")
    return reference


# --- entries -------------------------------------------------------------------------------


def get_entry(*, session: Session, entry_id: int) -> QueueEntry | None:
    return session.get(QueueEntry, entry_id)


def get_entry_or_raise(*, session: Session, entry_id: int) -> QueueEntry:
    entry = get_entry(session=session, entry_id=entry_id)
    if entry is None:
        raise NotFoundError(f"queue entry {entry_id} does not exist")
    return entry


def _entries_of_day(session: Session, clinic_id: int, day: date) -> Sequence[QueueEntry]:
    return session.scalars(
        select(QueueEntry)
        .where(QueueEntry.clinic_id == clinic_id, QueueEntry.service_date == day)
        .order_by(QueueEntry.ticket)
    ).all()


def check_in(
    *, session: Session, actor: str, clinic: Clinic, code: str, now: datetime | None = None
) -> QueueEntry:
    """Check in the booking of a scanned QR code (or typed reference) at ``clinic``: the day's
    next ticket, in the queue of its unit. Scanning an arrival again gives the same entry.

    Raises
    ------
    NotFoundError
        No such booking at this clinic.
    ConflictError
        Cancelled, already tested, a no-show, or booked for another day.
    """
    from citytrace.screening.booking import lock_clinic

    now = now or utcnow()
    reference = parse_checkin_code(code)
    with session.begin_nested():
        clinic = lock_clinic(session, clinic.id)
        booking = session.scalar(
            select(Booking).where(Booking.reference == reference, Booking.clinic_id == clinic.id)
        )
        if booking is None:
            raise NotFoundError(f"no booking {reference} at this clinic")
        existing = session.scalar(select(QueueEntry).where(QueueEntry.booking_id == booking.id))
        if existing is not None:
            return existing
        if booking.status != BookingStatus.BOOKED:
            raise ConflictError(f"booking {reference} is {booking.status}: it cannot check in")
        today = clinics.local_date(now)
        if booking.slot_starts_at is not None:
            booked_day = clinics.local_date(booking.slot_starts_at)
            # An overnight opening's slots after midnight belong to the evening before.
            if booked_day != today and not (
                booked_day == today + timedelta(days=1)
                and booking.slot_starts_at - now < timedelta(hours=12)
            ):
                raise ConflictError(f"booking {reference} is for {booked_day}, not today")
        unit_id = booking.unit_id
        units = [u for u in clinic.units if u.active]
        if not units:
            raise ConflictError(f"clinic {clinic.reference} has no lane or booth in use")
        if unit_id not in {u.id for u in units}:
            state = live_queue(session=session, clinic=clinic, now=now)
            unit_id = min(state.units, key=lambda u: (u.estimated_wait_min, u.number)).unit_id
        ticket = (
            session.scalar(
                select(func.max(QueueEntry.ticket)).where(
                    QueueEntry.clinic_id == clinic.id, QueueEntry.service_date == today
                )
            )
            or 0
        ) + 1
        entry = QueueEntry(
            clinic_id=clinic.id,
            unit_id=unit_id,
            booking_id=booking.id,
            service_date=today,
            ticket=ticket,
            status=QueueStatus.WAITING,
            arrived_at=now,
        )
        session.add(entry)
        booking.status = BookingStatus.CHECKED_IN
        booking.checked_in_at = now
        booking.unit_id = unit_id
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.queue.check_in",
            entity="booking",
            entity_id=booking.id,
            detail={"clinic_id": clinic.id, "ticket": ticket, "unit_id": unit_id},
        )
    return entry


def _unit_ready_at(session: Session, clinic: Clinic, unit_id: int) -> datetime | None:
    """When the unit's turnover after its last person ends (``None`` if never used)."""
    last = session.scalar(
        select(func.max(QueueEntry.finished_at)).where(
            QueueEntry.unit_id == unit_id, QueueEntry.finished_at.is_not(None)
        )
    )
    if last is None:
        return None
    return last + timedelta(minutes=clinic.ventilation_min + clinic.disinfection_min)


def call(*, session: Session, actor: str, entry_id: int, now: datetime | None = None) -> QueueEntry:
    """Call a waiting person to their lane or booth (service begins).

    Raises
    ------
    ConflictError
        Not waiting, the unit is busy, or the booth's turnover is not over.
    """
    now = now or utcnow()
    with session.begin_nested():
        entry = get_entry_or_raise(session=session, entry_id=entry_id)
        if entry.status != QueueStatus.WAITING:
            raise ConflictError(f"ticket {entry.ticket} is {entry.status}, not waiting")
        clinic = session.get(Clinic, entry.clinic_id)
        assert clinic is not None
        if entry.unit_id is None:
            raise ConflictError(f"ticket {entry.ticket} has no lane or booth")
        busy = session.scalar(
            select(QueueEntry.ticket).where(
                QueueEntry.unit_id == entry.unit_id, QueueEntry.status == QueueStatus.IN_SERVICE
            )
        )
        unit = session.get(Unit, entry.unit_id)
        label = unit.label if unit is not None else "the unit"
        if busy is not None:
            raise ConflictError(f"{label} is still serving ticket {busy}")
        ready_at = _unit_ready_at(session, clinic, entry.unit_id)
        if ready_at is not None and ready_at > now:
            local = ready_at.astimezone(clinics.zone()).strftime("%H:%M:%S")
            raise ConflictError(f"{label} is being ventilated and disinfected until {local}")
        entry.status = QueueStatus.IN_SERVICE
        entry.called_at = now
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.queue.call",
            entity="booking",
            entity_id=entry.booking_id,
            detail={"ticket": entry.ticket, "unit_id": entry.unit_id},
        )
    return entry


def call_next(
    *, session: Session, actor: str, clinic: Clinic, unit_id: int, now: datetime | None = None
) -> QueueEntry | None:
    """Call the first person waiting at ``unit_id`` (``None`` when nobody is waiting)."""
    now = now or utcnow()
    if unit_id not in {u.id for u in clinic.units}:
        raise NotFoundError(f"clinic {clinic.reference} has no unit {unit_id}")
    first = session.scalar(
        select(QueueEntry)
        .where(
            QueueEntry.clinic_id == clinic.id,
            QueueEntry.unit_id == unit_id,
            QueueEntry.status == QueueStatus.WAITING,
            QueueEntry.service_date == clinics.local_date(now),
        )
        .order_by(QueueEntry.ticket)
        .limit(1)
    )
    if first is None:
        return None
    return call(session=session, actor=actor, entry_id=first.id, now=now)


def finish(session: Session, entry: QueueEntry, now: datetime) -> None:
    """End the service of ``entry`` (called by sample collection, in its transaction)."""
    if entry.status not in (QueueStatus.IN_SERVICE, QueueStatus.WAITING):
        raise ConflictError(f"ticket {entry.ticket} is {entry.status}")
    if entry.called_at is None:
        entry.called_at = now
    entry.status = QueueStatus.DONE
    entry.finished_at = now


def leave(
    *, session: Session, actor: str, entry_id: int, now: datetime | None = None
) -> QueueEntry:
    """Someone left the queue untested: their booking becomes a no-show."""
    now = now or utcnow()
    with session.begin_nested():
        entry = get_entry_or_raise(session=session, entry_id=entry_id)
        if entry.status not in (QueueStatus.WAITING, QueueStatus.IN_SERVICE):
            raise ConflictError(f"ticket {entry.ticket} is {entry.status}")
        was_serving = entry.status == QueueStatus.IN_SERVICE
        entry.status = QueueStatus.LEFT
        # A booth that had someone in it still needs its turnover.
        entry.finished_at = now if was_serving else None
        booking = session.get(Booking, entry.booking_id)
        assert booking is not None
        booking.status = BookingStatus.NO_SHOW
        booking.closed_at = now
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.queue.leave",
            entity="booking",
            entity_id=entry.booking_id,
            detail={"ticket": entry.ticket},
        )
    return entry


# --- the live queue ------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingEntry:
    entry: QueueEntry
    reference: str
    slot_starts_at: datetime | None
    estimated_wait_min: float


@dataclass(frozen=True)
class UnitQueue:
    """One lane or booth: who is in service, who waits (with their estimated waits), when the
    booth is ready again, and the wait a new arrival would have."""

    unit_id: int
    number: int
    label: str
    in_service: QueueEntry | None
    in_service_reference: str | None
    waiting: list[WaitingEntry]
    ready_at: datetime | None
    mean_service_min: float
    turnover_min: int
    estimated_wait_min: float


@dataclass(frozen=True)
class ClinicQueue:
    clinic_id: int
    service_date: date
    units: list[UnitQueue]
    done_today: int

    @property
    def waiting(self) -> int:
        return sum(len(u.waiting) for u in self.units)

    @property
    def estimated_wait_min(self) -> float | None:
        """The wait of a new arrival at the unit that would take them first."""
        return min((u.estimated_wait_min for u in self.units), default=None)


def _mean_service_min(session: Session, clinic: Clinic, unit_id: int, now: datetime) -> float:
    rows = session.execute(
        select(QueueEntry.called_at, QueueEntry.finished_at)
        .where(
            QueueEntry.unit_id == unit_id,
            QueueEntry.status == QueueStatus.DONE,
            QueueEntry.finished_at >= now - RECENT_WINDOW,
            QueueEntry.called_at.is_not(None),
        )
        .order_by(QueueEntry.finished_at.desc())
        .limit(RECENT_SERVICES)
    ).all()
    durations = [
        (finished - called).total_seconds() / 60.0
        for called, finished in rows
        if called is not None and finished is not None and finished >= called
    ]
    if not durations:
        return float(clinic.service_time_min)
    return sum(durations) / len(durations)


def live_queue(*, session: Session, clinic: Clinic, now: datetime | None = None) -> ClinicQueue:
    """The clinic's queue of today, unit by unit, with estimated waits (see the module)."""
    now = now or utcnow()
    today = clinics.local_date(now)
    entries = _entries_of_day(session, clinic.id, today)
    references = dict(
        session.execute(
            select(Booking.id, Booking.reference).where(
                Booking.id.in_([e.booking_id for e in entries])
            )
        ).all()
    )
    slots = dict(
        session.execute(
            select(Booking.id, Booking.slot_starts_at).where(
                Booking.id.in_([e.booking_id for e in entries])
            )
        ).all()
    )
    turnover = clinic.ventilation_min + clinic.disinfection_min
    units = []
    for unit in clinic.units:
        if not unit.active:
            continue
        mine = [e for e in entries if e.unit_id == unit.id]
        serving = next((e for e in mine if e.status == QueueStatus.IN_SERVICE), None)
        waiting = [e for e in mine if e.status == QueueStatus.WAITING]
        mean = _mean_service_min(session, clinic, unit.id, now)
        ready_at = None if serving is not None else _unit_ready_at(session, clinic, unit.id)
        if serving is not None and serving.called_at is not None:
            elapsed = (now - serving.called_at).total_seconds() / 60.0
            remaining = max(0.0, mean - elapsed) + turnover
        elif ready_at is not None and ready_at > now:
            remaining = (ready_at - now).total_seconds() / 60.0
        else:
            remaining = 0.0
        per_person = mean + turnover
        units.append(
            UnitQueue(
                unit_id=unit.id,
                number=unit.number,
                label=unit.label,
                in_service=serving,
                in_service_reference=None if serving is None else references[serving.booking_id],
                waiting=[
                    WaitingEntry(
                        entry=e,
                        reference=references[e.booking_id],
                        slot_starts_at=slots.get(e.booking_id),
                        estimated_wait_min=round(remaining + i * per_person, 1),
                    )
                    for i, e in enumerate(waiting)
                ],
                ready_at=ready_at if ready_at is not None and ready_at > now else None,
                mean_service_min=round(mean, 2),
                turnover_min=turnover,
                estimated_wait_min=round(remaining + len(waiting) * per_person, 1),
            )
        )
    done = sum(1 for e in entries if e.status == QueueStatus.DONE)
    return ClinicQueue(clinic_id=clinic.id, service_date=today, units=units, done_today=done)


def estimated_wait_min(
    *, session: Session, clinic: Clinic, now: datetime | None = None
) -> float | None:
    """The wait a person arriving now would have (``None``: no lane or booth in use)."""
    return live_queue(session=session, clinic=clinic, now=now).estimated_wait_min
