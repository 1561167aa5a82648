"""HTTP routes of aggregate figures (permission ``stats:read``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from citytrace.api.deps import SessionDep, UnitOfWorkRoute
from citytrace.auth.dependencies import require
from citytrace.auth.permissions import Permission, Principal
from citytrace.errors import InputError
from citytrace.stats import export, service
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
Format = Annotated[
    Literal["json", "csv"],
    Query(alias="format", description="csv: the same figures for a spreadsheet"),
]


def _csv(text: str, name: str) -> Response:
    """A CSV download named ``name``."""
    return Response(
        text,
        media_type=export.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/epidemic-curve", response_model=list[CurveDayOut])
def epidemic_curve(
    session: SessionDep,
    _: Reader,
    by: Literal["confirmed", "onset"] = "confirmed",
    district_code: str | None = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    output: Format = "json",
) -> list[CurveDayOut] | Response:
    """Cases a day, by confirmation or by symptom onset, with the mean of seven days; every day
    from the first to the last (or ``from`` .. ``to``)."""
    if start is not None and end is not None and end < start:
        raise InputError("'to' is before 'from'", location="query.to")
    days = service.epidemic_curve(
        session=session, by=by, district_code=district_code, start=start, end=end
    )
    if output == "csv":
        return _csv(export.curve_csv(days), f"epidemic-curve-{by}")
    return [CurveDayOut(**asdict(d)) for d in days]


@router.get("/clusters", response_model=list[ClusterOut])
def clusters(
    session: SessionDep,
    _: Reader,
    min_cases: Annotated[int, Query(ge=2, le=10_000)] = 2,
    output: Format = "json",
) -> list[ClusterOut] | Response:
    """Clusters of cases linked by transmission (a contact of one case confirmed as another),
    largest first; counts only."""
    found = service.clusters(session=session, min_cases=min_cases)
    if output == "csv":
        return _csv(export.clusters_csv(found), "clusters")
    return [ClusterOut(**asdict(c)) for c in found]


@router.get("/timeliness", response_model=list[TimelinessOut])
def timeliness(
    session: SessionDep, _: Reader, output: Format = "json"
) -> list[TimelinessOut] | Response:
    """Hours from a case's registration to the first place published from its route: for all
    cases, then per district."""
    rows = service.timeliness(session=session)
    if output == "csv":
        return _csv(export.timeliness_csv(rows), "timeliness")
    return [TimelinessOut(**asdict(t)) for t in rows]
