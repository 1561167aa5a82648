"""HTTP routes of a case's route of visits and their review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from citytrace.api.deps import ActorDep, SessionDep, UnitOfWorkRoute
from citytrace.auth.dependencies import case_for, visit_for
from citytrace.auth.permissions import Permission
from citytrace.cases.models import Case
from citytrace.investigation import service
from citytrace.investigation.models import Visit
from citytrace.investigation.schemas import RebuildOut, ReviewAction, VisitEdit, VisitOut

router = APIRouter(tags=["route"], route_class=UnitOfWorkRoute)

ReviewedVisit = Annotated[Visit, Depends(visit_for(Permission.ROUTE_REVIEW))]


@router.get("/api/cases/{case_id}/route")
def get_route(
    case: Annotated[Case, Depends(case_for(Permission.CASE_READ))],
    session: SessionDep,
    actor: ActorDep,
) -> list[VisitOut]:
    """The case's visits in time order, each with its evidence, confidence and review state."""
    return [
        VisitOut.model_validate(v)
        for v in service.read_route(session=session, actor=actor, case_id=case.id)
    ]


@router.post("/api/cases/{case_id}/route/rebuild")
def rebuild_route(
    case: Annotated[Case, Depends(case_for(Permission.ROUTE_REVIEW))],
    session: SessionDep,
    actor: ActorDep,
) -> RebuildOut:
    """Propose visits anew from all evidence; reviewed visits are kept."""
    result = service.rebuild_route(session=session, actor=actor, case_id=case.id)
    return RebuildOut(
        proposed=result.proposed, kept_reviewed=result.kept_reviewed, replaced=result.replaced
    )


@router.post("/api/visits/{visit_id}/confirm")
def confirm_visit(visit: ReviewedVisit, session: SessionDep, actor: ActorDep) -> VisitOut:
    visit = service.review_visit(
        session=session, actor=actor, visit_id=visit.id, action=ReviewAction.CONFIRM
    )
    return VisitOut.model_validate(visit)


@router.post("/api/visits/{visit_id}/reject")
def reject_visit(
    visit: ReviewedVisit, session: SessionDep, actor: ActorDep, edit: VisitEdit | None = None
) -> VisitOut:
    visit = service.review_visit(
        session=session, actor=actor, visit_id=visit.id, action=ReviewAction.REJECT, edit=edit
    )
    return VisitOut.model_validate(visit)


@router.patch("/api/visits/{visit_id}")
def edit_visit(
    visit: ReviewedVisit, edit: VisitEdit, session: SessionDep, actor: ActorDep
) -> VisitOut:
    """Correct a visit's time, place or venue; an edited visit counts as confirmed."""
    visit = service.review_visit(
        session=session, actor=actor, visit_id=visit.id, action=ReviewAction.EDIT, edit=edit
    )
    return VisitOut.model_validate(visit)
