"""API shapes of cases. Identity travels separately and only when asked for."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citytrace.cases.models import CaseStatus


class IdentityIn(BaseModel):
    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+\- ]{4,40}$")
    resident_number: str | None = Field(default=None, max_length=20, pattern=r"^[0-9\-]{6,20}$")
    address: str | None = Field(default=None, max_length=400)

    def __repr__(self) -> str:  # never show personal data in logs
        return "IdentityIn(...)"

    __str__ = __repr__


class IdentityOut(IdentityIn):
    model_config = ConfigDict(from_attributes=True)


# Case dates outside these are mistakes, and the disclosure window around them would overflow
# the calendar (a 500 instead of a 422).
EARLIEST_CASE_DATE = date(1900, 1, 1)
LATEST_CASE_DATE = date(2999, 12, 31)


class CaseDates(BaseModel):
    symptom_onset_date: date | None = None
    specimen_collected_date: date | None = None
    confirmed_date: date
    isolated_date: date | None = None

    @field_validator(
        "symptom_onset_date", "specimen_collected_date", "confirmed_date", "isolated_date"
    )
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        if value is not None and not EARLIEST_CASE_DATE <= value <= LATEST_CASE_DATE:
            raise ValueError(f"date is not between {EARLIEST_CASE_DATE} and {LATEST_CASE_DATE}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> CaseDates:
        first = self.symptom_onset_date or self.specimen_collected_date
        if first and first > self.confirmed_date:
            raise ValueError("symptom onset or specimen collection is after confirmation")
        if self.isolated_date and first and self.isolated_date < first:
            raise ValueError("isolation date is before symptom onset or specimen collection")
        return self


class CaseCreate(CaseDates):
    reference: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9\-_]+$")
    district_code: str | None = Field(default=None, max_length=10)
    notes: str = Field(default="", max_length=4000)
    identity: IdentityIn | None = None


class CaseUpdate(BaseModel):
    symptom_onset_date: date | None = None
    specimen_collected_date: date | None = None
    confirmed_date: date | None = None
    isolated_date: date | None = None
    district_code: str | None = Field(default=None, max_length=10)
    status: CaseStatus | None = None
    notes: str | None = Field(default=None, max_length=4000)


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    district_code: str | None
    status: CaseStatus
    symptom_onset_date: date | None
    specimen_collected_date: date | None
    confirmed_date: date
    isolated_date: date | None
    notes: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
