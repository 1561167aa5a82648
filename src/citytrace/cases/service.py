"""Cases: every change goes through here and is audited in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases.models import Case, CaseIdentity, CaseStatus
from citytrace.cases.schemas import CaseCreate, CaseDates, CaseUpdate
from citytrace.config import get_settings
from citytrace.errors import ConflictError, InputError, NotFoundError, from_validation
from citytrace.investigation.route import DisclosureWindow


def get(*, session: Session, case_id: int) -> Case | None:
    return session.get(Case, case_id)


def get_or_raise(*, session: Session, case_id: int) -> Case:
    case = get(session=session, case_id=case_id)
    if case is None:
        raise NotFoundError(f"case {case_id} does not exist")
    return case


def list_(
    *, session: Session, district_code: str | None = None, status: CaseStatus | None = None
) -> Sequence[Case]:
    query = select(Case).order_by(Case.confirmed_date.desc(), Case.id.desc())
    if district_code is not None:
        query = query.where(Case.district_code == district_code)
    if status is not None:
        query = query.where(Case.status == status)
    return session.scalars(query).all()


def _next_reference(session: Session, data: CaseCreate) -> str:
    prefix = f"C{data.confirmed_date:%Y%m%d}-"
    count = session.scalar(select(func.count()).where(Case.reference.like(f"{prefix}%"))) or 0
    return f"{prefix}{count + 1:04d}"


def _check_district(code: str | None) -> None:
    if code is None:
        return
    from citytrace.geo import load_city

    city = load_city(get_settings().city)
    if code not in {d.code for d in city.districts}:
        raise InputError(f"unknown district code {code!r}", location="district_code")


def create(*, session: Session, actor: str, data: CaseCreate) -> Case:
    """Register a confirmed case; its identity, if given, goes to a table of its own."""
    _check_district(data.district_code)
    reference = data.reference or _next_reference(session, data)
    if session.scalar(select(Case.id).where(Case.reference == reference)) is not None:
        raise ConflictError(f"a case with reference {reference!r} already exists")
    case = Case(
        reference=reference,
        district_code=data.district_code,
        symptom_onset_date=data.symptom_onset_date,
        specimen_collected_date=data.specimen_collected_date,
        confirmed_date=data.confirmed_date,
        isolated_date=data.isolated_date,
        notes=data.notes,
    )
    if data.identity is not None:
        case.identity = CaseIdentity(**data.identity.model_dump())
    session.add(case)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="case.create",
        entity="case",
        entity_id=case.id,
        detail={"identity": data.identity is not None},
    )
    return case


def update(*, session: Session, actor: str, case_id: int, data: CaseUpdate) -> Case:
    case = get_or_raise(session=session, case_id=case_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "district_code" in changes:
        _check_district(changes["district_code"])
    merged = {
        "symptom_onset_date": case.symptom_onset_date,
        "specimen_collected_date": case.specimen_collected_date,
        "confirmed_date": case.confirmed_date,
        "isolated_date": case.isolated_date,
    }
    merged.update({k: v for k, v in changes.items() if k in merged})
    try:
        CaseDates(**merged)
    except ValueError as exc:
        raise from_validation(exc) from None
    for key, value in changes.items():
        setattr(case, key, value)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="case.update",
        entity="case",
        entity_id=case.id,
        detail={"fields": sorted(changes)},
    )
    return case


def read_identity(*, session: Session, actor: str, case_id: int) -> CaseIdentity | None:
    """The patient's identity; the read itself is audited."""
    case = get_or_raise(session=session, case_id=case_id)
    audit.record(
        session=session, actor=actor, action="case.identity.read", entity="case", entity_id=case.id
    )
    return case.identity


def window(case: Case) -> DisclosureWindow:
    """The case's disclosure window in the configured time zone."""
    settings = get_settings()
    return DisclosureWindow.for_case(
        symptom_onset_date=case.symptom_onset_date,
        specimen_collected_date=case.specimen_collected_date,
        confirmed_date=case.confirmed_date,
        isolated_date=case.isolated_date,
        timezone=settings.timezone,
        days_before=settings.window_days_before_onset,
    )
