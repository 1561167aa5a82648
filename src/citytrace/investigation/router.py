"""HTTP routes of a case's route of visits and their review."""

from __future__ import annotations

from fastapi import APIRouter

from citytrace.api.deps import ActorDep, SessionDep
from citytrace.cases import service as cases
from citytrace.investigation import service
from citytrace.investigation.schemas import RebuildOut, ReviewAction, VisitEdit, VisitOut

router = APIRouter(tags=["route"])


@router.get("/api/cases/{case_id}/route")
def get_route(case_id: int, session: SessionDep, actor: ActorDep) -> list[VisitOut]:
    """The case's visits in time order, each with its evidence, confidence and review state."""
    cases.get_or_raise(session=session, case_id=case_id)
    return [
        VisitOut.model_validate(v) for v in service.list_visits(session=session, case_id=case_id)
    ]


@router.post("/api/cases/{case_id}/route/rebuild")
def rebuild_route(case_id: int, session: SessionDep, actor: ActorDep) -> RebuildOut:
    """Propose visits anew from all evidence; reviewed visits are kept."""
    result = service.rebuild_route(session=session, actor=actor, case_id=case_id)
    return RebuildOut(
        proposed=result.proposed, kept_reviewed=result.kept_reviewed, replaced=result.replaced
    )


@router.post("/api/visits/{visit_id}/confirm")
def confirm_visit(visit_id: int, session: SessionDep, actor: ActorDep) -> VisitOut:
    visit = service.review_visit(
        session=session, actor=actor, visit_id=visit_id, action=ReviewAction.CONFIRM
    )
    return VisitOut.model_validate(visit)


@router.post("/api/visits/{visit_id}/reject")
def reject_visit(
    visit_id: int, session: SessionDep, actor: ActorDep, edit: VisitEdit | None = None
) -> VisitOut:
    visit = service.review_visit(
        session=session, actor=actor, visit_id=visit_id, action=ReviewAction.REJECT, edit=edit
    )
    return VisitOut.model_validate(visit)


@router.patch("/api/visits/{visit_id}")
def edit_visit(visit_id: int, edit: VisitEdit, session: SessionDep, actor: ActorDep) -> VisitOut:
    """Correct a visit's time, place or venue; an edited visit counts as confirmed."""
    visit = service.review_visit(
        session=session, actor=actor, visit_id=visit_id, action=ReviewAction.EDIT, edit=edit
    )
    return VisitOut.model_validate(visit)
