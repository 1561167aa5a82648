"""API shapes of aggregate figures."""

from __future__ import annotations

from pydantic import BaseModel

from citytrace.cases.models import CaseStatus


class CaseCountOut(BaseModel):
    district_code: str | None
    status: CaseStatus
    cases: int
