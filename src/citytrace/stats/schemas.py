"""API shapes of aggregate figures."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from citytrace.cases.models import CaseStatus


class CaseCountOut(BaseModel):
    district_code: str | None
    status: CaseStatus
    cases: int


class CurveDayOut(BaseModel):
    day: date
    cases: int
    mean_7d: float = Field(description="mean of this day and the six before")


class ClusterOut(BaseModel):
    cases: int
    links: int = Field(description="contacts of one case of the cluster confirmed as another")
    generations: int = Field(description="cases in the longest chain of links")
    first_confirmed: date
    last_confirmed: date
    districts: dict[str, int] = Field(description='cases by district ("" where none)')


class TimelinessOut(BaseModel):
    district_code: str | None = Field(description="the cases' district; none: all cases")
    cases: int = Field(description="cases with a place published from their route")
    median_hours: float = Field(description="from the case's registration to its first place")
    p90_hours: float
