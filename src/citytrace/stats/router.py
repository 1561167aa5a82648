"""HTTP routes of aggregate figures (permission ``stats:read``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from citytrace.api.deps import SessionDep, UnitOfWorkRoute
from citytrace.auth.dependencies import require
from citytrace.auth.permissions import Permission, Principal
from citytrace.errors import InputError
from citytrace.stats import service
from citytrace.stats.schemas import CaseCountOut, ClusterOut, CurveDayOut, TimelinessOut

router = APIRouter(prefix="/api/stats", tags=["stats"], route_class=UnitOfWorkRoute)


@router.get("/cases")
def case_counts(
    session: SessionDep, _: Annotated[Principal, Depends(require(Permission.STATS_READ))]
) -> list[CaseCountOut]:
    """Cases per district and status."""
    return [
        CaseCountOut(district_code=c.district_code, status=c.status, cases=c.cases)
        for c in service.case_counts(session=session)
    ]


Reader = Annotated[Principal, Depends(require(Permission.STATS_READ))]
_MAX_DAYS = 3660


@router.get("/epidemic-curve")
def epidemic_curve(
    session: SessionDep,
    _: Reader,
    by: Literal["confirmed", "onset"] = "confirmed",
    district_code: str | None = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> list[CurveDayOut]:
    """Cases a day, by confirmation or by symptom onset, with the mean of seven days; every day
    from the first to the last (or ``from`` .. ``to``)."""
    if start is not None and end is not None:
        if end < start:
            raise InputError("'to' is before 'from'", location="query.to")
        if (end - start).days > _MAX_DAYS:
            raise InputError(f"at most {_MAX_DAYS} days at once", location="query.to")
    days = service.epidemic_curve(
        session=session, by=by, district_code=district_code, start=start, end=end
    )
    return [CurveDayOut(**asdict(d)) for d in days]


@router.get("/clusters")
def clusters(
    session: SessionDep, _: Reader, min_cases: Annotated[int, Query(ge=2, le=10_000)] = 2
) -> list[ClusterOut]:
    """Clusters of cases linked by transmission (a contact of one case confirmed as another),
    largest first; counts only."""
    return [ClusterOut(**asdict(c)) for c in service.clusters(session=session, min_cases=min_cases)]


@router.get("/timeliness")
def timeliness(session: SessionDep, _: Reader) -> list[TimelinessOut]:
    """Hours from a case's registration to the first place published from its route: for all
    cases, then per district."""
    return [TimelinessOut(**asdict(t)) for t in service.timeliness(session=session)]
