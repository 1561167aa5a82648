"""Tables of the screening domain: clinics and their lanes or booths, bookings and the slots
they hold, the arrival queue, samples, results and the outbox of result notifications.

Capacity is kept by the database itself: a booking holds its slot through a row of
:class:`SlotClaim`, unique per (unit, slot start), so two bookings can never hold one slot on
any backend, whatever the service does. A result is unique per sample and a notification per
(result, channel), so a result is never stored or sent twice.

A citizen's name, phone and e-mail are sealed like a case's identity (AES-256-GCM, each field
bound to its column and booking, see :mod:`citytrace.screening.booking`), with a keyed hash of the
phone for exact-match search; the citizen's access code is kept only as a keyed hash.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from citytrace.db import Base, str_enum, utcnow


class ClinicKind(StrEnum):
    DRIVE_THROUGH = "drive_through"
    """Lanes: people stay in their car (about 10 min a person, 6 an hour per booth)."""
    WALK_THROUGH = "walk_through"
    """Booths: ventilated and disinfected between people."""
    CONVENTIONAL = "conventional"
    """Examination rooms (about 30 min a visitor)."""


class LocationPrecision(StrEnum):
    ADDRESS = "address"
    """The clinic's own position (entered by hand or geocoded)."""
    DISTRICT = "district"
    """A point inside the clinic's district: the distance to it is approximate."""
    UNKNOWN = "unknown"
    """No position: the city has no outline of the clinic's district."""


class Clinic(Base):
    """A screening clinic. ``reference`` is what a clinic staff account's ``clinic_ref`` names.

    Opening hours per kind of day are ``"HH:MM-HH:MM"`` in the configured time zone (a closing
    time at or before the opening one is on the next day; ``"00:00-24:00"`` is round the clock),
    ``"closed"``, or ``None`` when unknown (no slots are offered then); Sundays take the holiday
    hours. See :mod:`citytrace.screening.clinics`.
    """

    __tablename__ = "screening_clinic"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ClinicKind] = mapped_column(str_enum(ClinicKind), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    # As the source names them (e.g. "서울", "강남구"); the code only where the city knows it.
    province: Mapped[str] = mapped_column(String(40), default="")
    district_name: Mapped[str] = mapped_column(String(60), default="")
    district_code: Mapped[str | None] = mapped_column(String(10), index=True)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    location_precision: Mapped[LocationPrecision] = mapped_column(
        str_enum(LocationPrecision), default=LocationPrecision.UNKNOWN
    )
    phone: Mapped[str] = mapped_column(String(60), default="")
    weekday_hours: Mapped[str | None] = mapped_column(String(16))
    saturday_hours: Mapped[str | None] = mapped_column(String(16))
    holiday_hours: Mapped[str | None] = mapped_column(String(16))
    # One person's sampling at one lane or booth, and a booth's turnover after each person:
    # staff wait for the ventilation, then the disinfectant's contact time.
    service_time_min: Mapped[int]
    ventilation_min: Mapped[int] = mapped_column(default=0)
    disinfection_min: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    # Where the record came from (files and lines of an import, or "manual").
    source: Mapped[str] = mapped_column(String(300), default="manual")
    # An import's key of the clinic (name and address): importing again updates, never adds.
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Raised by every booking change; the row lock it takes serialises one clinic's bookings.
    booking_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    units: Mapped[list[Unit]] = relationship(
        back_populates="clinic", cascade="all, delete-orphan", order_by="Unit.number"
    )

    def __repr__(self) -> str:
        return f"Clinic(id={self.id}, reference={self.reference!r})"

    @property
    def slot_interval_min(self) -> int:
        """Minutes from one person's slot at a unit to the next: service plus turnover."""
        return self.service_time_min + self.ventilation_min + self.disinfection_min

    @property
    def unit_count(self) -> int:
        """How many lanes or booths are in use."""
        return sum(1 for u in self.units if u.active)


class Unit(Base):
    """A lane (drive-through), booth (walk-through) or room (conventional) of a clinic."""

    __tablename__ = "screening_unit"
    __table_args__ = (UniqueConstraint("clinic_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(
        ForeignKey("screening_clinic.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    label: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)

    clinic: Mapped[Clinic] = relationship(back_populates="units")


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    SAMPLED = "sampled"
    NO_SHOW = "no_show"


class Booking(Base):
    """A citizen's booking of a slot, or a walk-in (no slot). Personal fields are sealed."""

    __tablename__ = "screening_booking"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    clinic_id: Mapped[int] = mapped_column(
        ForeignKey("screening_clinic.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("screening_unit.id", ondelete="SET NULL"), index=True
    )
    slot_starts_at: Mapped[datetime | None] = mapped_column(index=True)
    walk_in: Mapped[bool] = mapped_column(default=False)
    status: Mapped[BookingStatus] = mapped_column(
        str_enum(BookingStatus), default=BookingStatus.BOOKED, index=True
    )
    # A client's key of the request: the same key again returns this booking, never a second.
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    # SHA-256 of what was asked with that key (clinic, slot, person): a different request under
    # the same key is refused.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    # The citizen's access code (shown once), as a keyed hash; failures lock it.
    access_code_hash: Mapped[str] = mapped_column(String(64))
    code_failures: Mapped[int] = mapped_column(default=0)
    language: Mapped[str] = mapped_column(String(5), default="ko")
    key_id: Mapped[str] = mapped_column(String(40), index=True)
    full_name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    # When the booking came to its end (cancelled, no-show, or its result stored): retention
    # counts from here.
    closed_at: Mapped[datetime | None] = mapped_column(index=True)

    clinic: Mapped[Clinic] = relationship()
    unit: Mapped[Unit | None] = relationship()
    claim: Mapped[SlotClaim | None] = relationship(
        back_populates="booking", cascade="all, delete-orphan", uselist=False
    )

    def __repr__(self) -> str:
        return f"Booking(id={self.id}, reference={self.reference!r}, status={self.status})"


class SlotClaim(Base):
    """The slot a live booking holds: at most one per (unit, start), enforced by the database.

    Cancelling or moving a booking deletes or moves its claim in the same transaction.
    """

    __tablename__ = "screening_slot_claim"
    __table_args__ = (UniqueConstraint("unit_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("screening_unit.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("screening_booking.id", ondelete="CASCADE"), unique=True
    )

    booking: Mapped[Booking] = relationship(back_populates="claim")


class QueueStatus(StrEnum):
    WAITING = "waiting"
    IN_SERVICE = "in_service"
    DONE = "done"
    LEFT = "left"


class QueueEntry(Base):
    """An arrival at a clinic: a ticket number of the day, in the queue of one lane or booth."""

    __tablename__ = "screening_queue_entry"
    __table_args__ = (UniqueConstraint("clinic_id", "service_date", "ticket"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(
        ForeignKey("screening_clinic.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("screening_unit.id", ondelete="SET NULL"), index=True
    )
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("screening_booking.id", ondelete="CASCADE"), unique=True
    )
    service_date: Mapped[date]
    ticket: Mapped[int]
    status: Mapped[QueueStatus] = mapped_column(
        str_enum(QueueStatus), default=QueueStatus.WAITING, index=True
    )
    arrived_at: Mapped[datetime] = mapped_column(default=utcnow)
    called_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    booking: Mapped[Booking] = relationship()
    unit: Mapped[Unit | None] = relationship()


class SampleStatus(StrEnum):
    COLLECTED = "collected"
    SENT = "sent"
    RECEIVED = "received"
    RESULTED = "resulted"


class Sample(Base):
    """A labelled sample, tracked from collection through the lab to its result."""

    __tablename__ = "screening_sample"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(32), unique=True)
    clinic_id: Mapped[int] = mapped_column(
        ForeignKey("screening_clinic.id", ondelete="CASCADE"), index=True
    )
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("screening_booking.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[SampleStatus] = mapped_column(
        str_enum(SampleStatus), default=SampleStatus.COLLECTED, index=True
    )
    collected_at: Mapped[datetime] = mapped_column(default=utcnow)
    collected_by: Mapped[str] = mapped_column(String(64))
    lab: Mapped[str | None] = mapped_column(String(120))
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    resulted_at: Mapped[datetime | None]

    booking: Mapped[Booking] = relationship()
    result: Mapped[Result | None] = relationship(back_populates="sample", uselist=False)


class Outcome(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    INCONCLUSIVE = "inconclusive"


class Result(Base):
    """A sample's result: one per sample (the same result again changes nothing; a different
    one is refused). A positive result opens a case (``case_id``)."""

    __tablename__ = "screening_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(
        ForeignKey("screening_sample.id", ondelete="CASCADE"), unique=True
    )
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome))
    # When the lab says it had the result (the entry time if it did not say).
    reported_at: Mapped[datetime]
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    entered_by: Mapped[str] = mapped_column(String(64))
    # "manual", or the lab file and line it came from.
    source: Mapped[str] = mapped_column(String(300), default="manual")
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_file.id", ondelete="SET NULL"), index=True
    )

    sample: Mapped[Sample] = relationship(back_populates="result")


class OutboxStatus(StrEnum):
    PENDING = "pending"
    """Waiting to be sent (again, after ``next_attempt_at``)."""
    SENDING = "sending"
    """Claimed by a sender; the gateway is told the message id, so a retry is not a resend."""
    SENT = "sent"
    FAILED = "failed"
    """Given up after the last attempt: needs a person."""


class OutboxMessage(Base):
    """A result notification to send through one channel: one per (result, channel).

    Holds no text and no address: both are made from the template and the sealed booking when it
    is sent, so the outbox keeps no personal data of its own.
    """

    __tablename__ = "screening_outbox"
    __table_args__ = (UniqueConstraint("result_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(
        ForeignKey("screening_result.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(5), default="ko")
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus), default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    result: Mapped[Result] = relationship()
