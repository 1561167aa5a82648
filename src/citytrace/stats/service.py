"""Aggregates over cases; nothing here returns a row about one person."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.cases.models import Case, CaseStatus


@dataclass(frozen=True)
class CaseCount:
    district_code: str | None
    status: CaseStatus
    cases: int


def case_counts(*, session: Session) -> list[CaseCount]:
    """The number of cases per district and status, ordered by district."""
    query = (
        select(Case.district_code, Case.status, func.count())
        .group_by(Case.district_code, Case.status)
        .order_by(Case.district_code, Case.status)
    )
    return [CaseCount(district_code=d, status=s, cases=n) for d, s, n in session.execute(query)]
