"""API shapes of routes and visits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citytrace.investigation.models import VisitStatus


class VisitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    started_at: datetime
    finished_at: datetime
    latitude: float
    longitude: float
    radius_m: float
    district_code: str | None
    neighbourhood_code: str | None
    venue_id: str | None
    venue_name: str | None
    venue_kind: str | None
    address: str | None
    evidence_kinds: list[str]
    evidence_count: int
    confidence: float
    status: VisitStatus
    edited: bool
    review_note: str
    reviewed_by: str | None
    reviewed_at: datetime | None


class ReviewAction(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"
    EDIT = "edit"


class VisitEdit(BaseModel):
    started_at: datetime | None = None
    finished_at: datetime | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    venue_name: str | None = Field(default=None, max_length=200)
    venue_kind: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=400)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _aware(self) -> VisitEdit:
        for name in ("started_at", "finished_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a UTC offset")
        return self


class RebuildOut(BaseModel):
    proposed: int
    kept_reviewed: int
    replaced: int
