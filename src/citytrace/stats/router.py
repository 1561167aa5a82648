"""HTTP routes of aggregate figures (permission ``stats:read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from citytrace.api.deps import SessionDep, UnitOfWorkRoute
from citytrace.auth.dependencies import require
from citytrace.auth.permissions import Permission, Principal
from citytrace.stats import service
from citytrace.stats.schemas import CaseCountOut

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
