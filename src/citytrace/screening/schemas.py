"""API shapes of the screening domain. A citizen's name, phone and e-mail travel only in
:class:`PersonIn` (to book) and :class:`PersonOut` (an audited read), never in other shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citytrace.screening.models import (
    BookingStatus,
    ClinicKind,
    LocationPrecision,
    OutboxStatus,
    Outcome,
    QueueStatus,
    SampleStatus,
)

# Bookable dates and result times outside these are mistakes (and their arithmetic would
# overflow the calendar).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
HOURS_PATTERN = r"^(closed|\d\d:\d\d-\d\d:\d\d)$"
REFERENCE_PATTERN = r"^[A-Za-z0-9\-_.]{1,64}$"


def _plausible_time(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("give the time with its offset, e.g. 2020-03-05T10:00:00+09:00")
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"time is not between {EARLIEST:%Y} and {LATEST:%Y}")
    return value


def _plausible_date(value: date | None) -> date | None:
    if value is not None and not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"date is not between {EARLIEST:%Y} and {LATEST:%Y}")
    return value


# --- clinics -------------------------------------------------------------------------------


class ClinicCreate(BaseModel):
    reference: str | None = Field(default=None, pattern=REFERENCE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    kind: ClinicKind
    address: str = Field(default="", max_length=300)
    province: str = Field(default="", max_length=40)
    district_name: str = Field(default="", max_length=60)
    district_code: str | None = Field(default=None, max_length=10)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    phone: str = Field(default="", max_length=60)
    weekday_hours: str | None = Field(default=None, pattern=HOURS_PATTERN)
    saturday_hours: str | None = Field(default=None, pattern=HOURS_PATTERN)
    holiday_hours: str | None = Field(default=None, pattern=HOURS_PATTERN)
    service_time_min: int | None = Field(default=None, ge=1, le=240)
    ventilation_min: int | None = Field(default=None, ge=0, le=120)
    disinfection_min: int | None = Field(default=None, ge=0, le=120)
    units: int | None = Field(default=None, ge=1, le=50, description="Lanes or booths in use.")


class ClinicUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: ClinicKind | None = None
    address: str | None = Field(default=None, max_length=300)
    province: str | None = Field(default=None, max_length=40)
    district_name: str | None = Field(default=None, max_length=60)
    district_code: str | None = Field(default=None, max_length=10)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    phone: str | None = Field(default=None, max_length=60)
    weekday_hours: str | None = Field(default=None, pattern=HOURS_PATTERN)
    saturday_hours: str | None = Field(default=None, pattern=HOURS_PATTERN)
    holiday_hours: str | None = Field(default=None, pattern=HOURS_PATTERN)
    service_time_min: int | None = Field(default=None, ge=1, le=240)
    ventilation_min: int | None = Field(default=None, ge=0, le=120)
    disinfection_min: int | None = Field(default=None, ge=0, le=120)
    units: int | None = Field(default=None, ge=1, le=50)
    active: bool | None = None


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: int
    label: str
    active: bool


class ClinicOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    name: str
    kind: ClinicKind
    address: str
    province: str
    district_name: str
    district_code: str | None
    latitude: float | None
    longitude: float | None
    location_precision: LocationPrecision
    phone: str
    weekday_hours: str | None
    saturday_hours: str | None
    holiday_hours: str | None
    service_time_min: int
    ventilation_min: int
    disinfection_min: int
    slot_interval_min: int
    active: bool
    source: str
    units: list[UnitOut]


class ImportIssueOut(BaseModel):
    file: str
    line: int
    reason: str


class MergedOut(BaseModel):
    name: str
    lines: list[str]


class ImportReportOut(BaseModel):
    files: list[str]
    rows_read: int
    clinics: int
    created: int
    updated: int
    unchanged: int
    by_kind: dict[str, int]
    placed_by_district: int
    location_unknown: int
    location_unknown_by_province: dict[str, int]
    kept_own_location: int
    merged: list[MergedOut]
    rejected: list[ImportIssueOut]
    notes: list[ImportIssueOut]


# --- slots and bookings --------------------------------------------------------------------


class SlotOut(BaseModel):
    starts_at: datetime
    ends_at: datetime
    free_units: int


class PersonIn(BaseModel):
    """Who is to be tested: sealed at rest, never in logs or error messages."""

    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+\- ]{4,40}$")
    email: str | None = Field(
        default=None, max_length=200, pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,20}$"
    )
    language: str = Field(default="ko", pattern=r"^(ko|en)$")

    def __repr__(self) -> str:
        return "PersonIn(...)"

    __str__ = __repr__

    @model_validator(mode="after")
    def _reachable(self) -> PersonIn:
        if not self.phone and not self.email:
            raise ValueError("give a phone number or an e-mail address for the result")
        return self


class PersonOut(BaseModel):
    full_name: str
    phone: str | None
    email: str | None
    language: str

    def __repr__(self) -> str:
        return "PersonOut(...)"

    __str__ = __repr__


class BookingIn(BaseModel):
    """A citizen's booking: a slot's start, or the earliest free slot of a day (or from now)."""

    clinic_id: int = Field(ge=1, le=2**31 - 1)
    starts_at: datetime | None = None
    day: date | None = None
    person: PersonIn
    idempotency_key: str | None = Field(
        default=None,
        min_length=8,
        max_length=100,
        pattern=r"^[A-Za-z0-9\-_.:]+$",
        description="The same key again returns the same booking (a retry never books twice).",
    )

    _time = field_validator("starts_at")(classmethod(lambda cls, v: _plausible_time(v)))
    _date = field_validator("day")(classmethod(lambda cls, v: _plausible_date(v)))


class WalkInIn(BaseModel):
    person: PersonIn


class AccessIn(BaseModel):
    """A citizen's reference and access code (in the body, never in a URL)."""

    reference: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9\-]+$")
    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9\-]+$")


class RescheduleIn(AccessIn):
    starts_at: datetime

    _time = field_validator("starts_at")(classmethod(lambda cls, v: _plausible_time(v)))


class StaffRescheduleIn(BaseModel):
    starts_at: datetime

    _time = field_validator("starts_at")(classmethod(lambda cls, v: _plausible_time(v)))


class BookingOut(BaseModel):
    """A booking without the person."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    clinic_id: int
    unit_id: int | None
    slot_starts_at: datetime | None
    walk_in: bool
    status: BookingStatus
    created_at: datetime
    cancelled_at: datetime | None
    checked_in_at: datetime | None


class BookingCreated(BookingOut):
    access_code: str = Field(
        description="Shown once: with the reference it opens the booking and its result."
    )
    replayed: bool = Field(description="True when the idempotency key had booked it already.")
    checkin_payload: str


class MyBookingOut(BaseModel):
    """What a citizen sees with their code: the booking, the clinic, the result when ready."""

    booking: BookingOut
    clinic_name: str
    clinic_address: str
    checkin_payload: str
    result: Outcome | None
    result_reported_at: datetime | None


# --- queue ---------------------------------------------------------------------------------


class CheckInIn(BaseModel):
    code: str = Field(
        min_length=1, max_length=200, description="The QR code's text, or the booking reference."
    )


class QueueEntryOut(BaseModel):
    id: int
    ticket: int
    booking_reference: str
    unit_id: int | None
    status: QueueStatus
    arrived_at: datetime
    called_at: datetime | None
    finished_at: datetime | None
    slot_starts_at: datetime | None
    estimated_wait_min: float | None


class UnitQueueOut(BaseModel):
    unit_id: int
    number: int
    label: str
    in_service: QueueEntryOut | None
    waiting: list[QueueEntryOut]
    ready_at: datetime | None
    mean_service_min: float
    estimated_wait_min: float


class ClinicQueueOut(BaseModel):
    clinic_id: int
    service_date: date
    units: list[UnitQueueOut]
    estimated_wait_min: float | None
    waiting: int
    done_today: int


# --- samples, results, outbox --------------------------------------------------------------


class SampleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    label: str
    clinic_id: int
    booking_id: int
    status: SampleStatus
    collected_at: datetime
    lab: str | None
    sent_at: datetime | None
    received_at: datetime | None
    resulted_at: datetime | None


class SendIn(BaseModel):
    labels: list[str] = Field(min_length=1, max_length=1000)
    lab: str = Field(min_length=1, max_length=120)


class ReceiveIn(BaseModel):
    labels: list[str] = Field(min_length=1, max_length=1000)


class ResultIn(BaseModel):
    outcome: Outcome
    reported_at: datetime | None = None

    _time = field_validator("reported_at")(classmethod(lambda cls, v: _plausible_time(v)))


class ResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sample_id: int
    outcome: Outcome
    reported_at: datetime
    entered_at: datetime
    source: str
    case_id: int | None
    created: bool = True


class RowErrorOut(BaseModel):
    line: int
    field: str | None
    reason: str


class LabImportOut(BaseModel):
    file: str
    rows: int
    stored: int
    already_stored: int
    positives: int
    cases_opened: int
    errors: list[RowErrorOut]
    accepted: bool


class OutboxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    result_id: int
    channel: str
    template: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


class SendReportOut(BaseModel):
    sent: int
    retried: int
    failed: int
    skipped: int


# --- finder --------------------------------------------------------------------------------


class NearbyClinicOut(BaseModel):
    clinic: ClinicOut
    distance_m: float
    approximate: bool = Field(description="The clinic is placed by its district only.")
    open_now: bool
    current_wait_min: float | None
    next_free_slot: datetime | None
