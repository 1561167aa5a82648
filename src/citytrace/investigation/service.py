"""A case's route: rebuilt from its evidence, reviewed visit by visit; every change audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.config import get_settings
from citytrace.db import utcnow
from citytrace.errors import InputError, NotFoundError
from citytrace.evidence import service as evidence
from citytrace.investigation.models import Visit, VisitStatus
from citytrace.investigation.route import RouteParams, RouteVisit, reconstruct_route
from citytrace.investigation.schemas import ReviewAction, VisitEdit


@dataclass(frozen=True)
class RebuildResult:
    proposed: int
    kept_reviewed: int
    replaced: int


def list_visits(*, session: Session, case_id: int) -> Sequence[Visit]:
    return session.scalars(
        select(Visit).where(Visit.case_id == case_id).order_by(Visit.started_at, Visit.id)
    ).all()


def read_route(*, session: Session, actor: str, case_id: int) -> Sequence[Visit]:
    """The case's visits for a person to see; the read is audited (a route is personal data)."""
    visits = list_visits(session=session, case_id=case_id)
    audit.record(
        session=session,
        actor=actor,
        action="route.read",
        entity="case",
        entity_id=case_id,
        detail={"visits": len(visits)},
    )
    return visits


def get_visit_or_raise(*, session: Session, visit_id: int) -> Visit:
    visit = session.get(Visit, visit_id)
    if visit is None:
        raise NotFoundError(f"visit {visit_id} does not exist")
    return visit


def _overlaps(a: Visit, b: RouteVisit) -> bool:
    return a.started_at < b.finished_at and b.started_at < a.finished_at


def rebuild_route(
    *,
    session: Session,
    actor: str,
    case_id: int,
    params: RouteParams | None = None,
    evidence_dir: Path | None = None,
) -> RebuildResult:
    """Propose the case's visits anew from all its evidence.

    Visits an investigator has reviewed (confirmed, rejected or edited) are kept as they are, and
    no new proposal is made over their time; unreviewed proposals are replaced.
    """
    from citytrace.geo import load_city

    case = cases.get_or_raise(session=session, case_id=case_id)
    files = evidence.list_(session=session, case_id=case.id)
    fixes, observations = evidence.load(files, evidence_dir=evidence_dir)
    city = load_city(get_settings().city)
    route = reconstruct_route(
        fixes=fixes,
        observations=observations,
        window=cases.window(case),
        params=params,
        locate=city.locate,
    )
    existing = list_visits(session=session, case_id=case.id)
    reviewed = [v for v in existing if v.status != VisitStatus.PROPOSED or v.edited]
    replaced = len(existing) - len(reviewed)
    session.execute(
        delete(Visit).where(
            Visit.case_id == case.id,
            Visit.status == VisitStatus.PROPOSED,
            Visit.edited.is_(False),
        )
    )
    proposed = 0
    for rv in route:
        if any(_overlaps(v, rv) for v in reviewed):
            continue
        session.add(
            Visit(
                case_id=case.id,
                started_at=rv.started_at,
                finished_at=rv.finished_at,
                latitude=rv.latitude,
                longitude=rv.longitude,
                radius_m=rv.radius_m,
                district_code=rv.district_code,
                neighbourhood_code=rv.neighbourhood_code,
                venue_id=rv.venue_id,
                venue_name=rv.venue_name,
                venue_kind=rv.venue_kind,
                address=rv.address,
                evidence_kinds=list(rv.evidence_kinds),
                evidence_count=rv.evidence_count,
                confidence=rv.confidence,
            )
        )
        proposed += 1
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="route.rebuild",
        entity="case",
        entity_id=case.id,
        detail={"proposed": proposed, "kept": len(reviewed), "replaced": replaced},
    )
    return RebuildResult(proposed=proposed, kept_reviewed=len(reviewed), replaced=replaced)


def review_visit(
    *,
    session: Session,
    actor: str,
    visit_id: int,
    action: ReviewAction,
    edit: VisitEdit | None = None,
) -> Visit:
    """Confirm, reject or edit one visit of a route."""
    visit = get_visit_or_raise(session=session, visit_id=visit_id)
    changed: list[str] = []
    if action == ReviewAction.EDIT:
        if edit is None:
            raise InputError("an edit needs at least one field to change")
        values = edit.model_dump(exclude_unset=True, exclude={"note"})
        if not values and edit.note is None:
            raise InputError("an edit needs at least one field to change")
        started: datetime = values.get("started_at", visit.started_at)
        finished: datetime = values.get("finished_at", visit.finished_at)
        if finished <= started:
            raise InputError("finished_at must be after started_at", location="finished_at")
        if "latitude" in values or "longitude" in values:
            from citytrace.geo import load_city

            lat = values.get("latitude", visit.latitude)
            lon = values.get("longitude", visit.longitude)
            districts, hoods = load_city(get_settings().city).locate([lat], [lon])
            values["district_code"], values["neighbourhood_code"] = districts[0], hoods[0]
        for key, value in values.items():
            setattr(visit, key, value)
        changed = sorted(values)
        visit.edited = True
        visit.status = VisitStatus.CONFIRMED
    elif action == ReviewAction.CONFIRM:
        visit.status = VisitStatus.CONFIRMED
    else:
        visit.status = VisitStatus.REJECTED
    if edit is not None and edit.note is not None:
        visit.review_note = edit.note
    visit.reviewed_by = actor
    visit.reviewed_at = utcnow()
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action=f"visit.{action.value}",
        entity="case",
        entity_id=visit.case_id,
        detail={"visit_id": visit.id, "fields": changed},
    )
    return visit
