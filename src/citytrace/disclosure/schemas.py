"""API shapes of the disclosure officer's work: drafts, edits, risk, approval and publication.

The officer's view of an entry carries its risk and working fields, never a case or a visit:
where an entry came from is read only as counts (``sources``, ``cases``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from citytrace.disclosure.models import DisclosureEntry, EntryStatus, Precision, RiskLevel
from citytrace.disclosure.risk import Reason

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Justification = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=10, max_length=2000)
]
Ids = Annotated[
    list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(min_length=1, max_length=500)
]


class ReasonOut(BaseModel):
    code: str
    blocking: bool
    params: dict[str, int | float]
    message: str


class EntryOut(BaseModel):
    """An entry as the officer sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    public_id: str
    version: int
    status: EntryStatus
    district_code: str
    place_kind: str
    business_name: str | None
    road_address: str | None
    latitude: float | None
    longitude: float | None
    exposure_start: datetime
    exposure_end: datetime
    disinfected: bool | None
    notes: str
    transport_line: str | None
    transport_car: str | None
    boarding_stop: str | None
    boarding_at: datetime | None
    alighting_stop: str | None
    alighting_at: datetime | None
    last_contact_at: datetime
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None
    published_at: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    corrected_at: datetime | None
    correction_note: str | None
    suppressed_at: datetime | None
    suppression_reason: str | None
    mass_exposure: bool
    time_step_min: int
    precision: Precision
    risk_k: int | None
    risk_level: RiskLevel
    risk_reasons: list[ReasonOut]
    risk_checked_at: datetime | None
    override_justification: str | None
    sources: int
    cases: int

    @classmethod
    def of(cls, entry: DisclosureEntry) -> EntryOut:
        reasons = [
            ReasonOut(
                code=r.code.value, blocking=r.blocking, params=dict(r.params), message=r.text()
            )
            for r in parse_reasons(entry.risk_reason)
        ]
        values = {name: getattr(entry, name) for name in cls.model_fields if hasattr(entry, name)}
        values.pop("sources", None)
        return cls(
            **values,
            risk_reasons=reasons,
            sources=len(entry.sources),
            cases=len({s.case_id for s in entry.sources}),
        )


def parse_reasons(text: str) -> list[Reason]:
    """The reasons stored with an entry (a JSON list; empty when never checked)."""
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return [Reason.from_dict(item) for item in data if isinstance(item, dict)]


class DraftIn(BaseModel):
    """Draft entries from a case's reviewed route: all its confirmed visits in the window, or
    only the given ones (each must be confirmed, in the window, and name a place)."""

    visit_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        default=None, max_length=500
    )


class SkippedOut(BaseModel):
    visit_id: int
    reason: str
    message: str


class DraftOut(BaseModel):
    created: list[int]
    merged: list[int]
    suppressed: list[int]
    skipped: list[SkippedOut]


class EntryEdit(BaseModel):
    """Changes to an entry; only the fields given change. Generalising: a wider
    ``time_step_min``, ``show_business_name: false``, ``precision: district``."""

    model_config = ConfigDict(extra="forbid")

    place_kind: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None
    ) = None
    business_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None
    ) = None
    show_business_name: bool | None = None
    road_address: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=400)] | None
    ) = None
    precision: Precision | None = None
    time_step_min: int | None = Field(default=None, ge=1, le=1440)
    disinfected: bool | None = None
    notes: Text | None = None
    mass_exposure: bool | None = None
    transport_line: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None
    ) = None
    transport_car: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None
    ) = None
    boarding_stop: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None
    ) = None
    alighting_stop: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None
    ) = None
    alighting_at: datetime | None = None

    @field_validator("alighting_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset")
        return value


class CorrectionIn(EntryEdit):
    """A correction of a published entry: the changes and a note published with it."""

    correction_note: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)
    ]


class OverrideIn(BaseModel):
    justification: Justification


class WithdrawIn(BaseModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class IdsIn(BaseModel):
    entry_ids: Ids


class PublishOut(BaseModel):
    published: list[int]
    suppressed: list[int]


class ListRiskOut(BaseModel):
    entries: int
    blocked: int
    warnings: int
    min_k: int | None
    unknown_k: int
    linkable_cases: int
