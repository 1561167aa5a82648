"""HTTP routes of cases and their evidence."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel

from citytrace.api.deps import ActorDep, SessionDep, UnitOfWorkRoute
from citytrace.auth.dependencies import case_for, check_district, district_filter, require
from citytrace.auth.models import Role
from citytrace.auth.permissions import Permission, Principal
from citytrace.cases import service
from citytrace.cases.models import Case, CaseStatus
from citytrace.cases.schemas import CaseCreate, CaseOut, CaseUpdate, IdentityOut
from citytrace.errors import InputError
from citytrace.evidence import service as evidence
from citytrace.evidence.readers import EvidenceKind
from citytrace.investigation import service as investigation

router = APIRouter(prefix="/api/cases", tags=["cases"], route_class=UnitOfWorkRoute)

CaseReader = Annotated[Case, Depends(case_for(Permission.CASE_READ))]
CaseWriter = Annotated[Case, Depends(case_for(Permission.CASE_WRITE))]


def _out(case: Case) -> CaseOut:
    window = service.window(case)
    return CaseOut.model_validate(case).model_copy(
        update={"window_start": window.start, "window_end": window.end}
    )


@router.post("", status_code=201)
def create_case(
    data: CaseCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(Permission.CASE_WRITE))],
) -> CaseOut:
    """Register a confirmed case (identity fields, if given, are stored apart).

    An investigator registers cases of their own district (theirs when none is given).
    """
    if principal.role == Role.INVESTIGATOR and data.district_code is None:
        data = data.model_copy(update={"district_code": principal.district_code})
    check_district(
        session=session,
        principal=principal,
        permission=Permission.CASE_WRITE,
        district_code=data.district_code,
    )
    return _out(service.create(session=session, actor=principal.username, data=data))


@router.get("")
def list_cases(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(Permission.CASE_READ))],
    district_code: str | None = None,
    status: CaseStatus | None = None,
) -> list[CaseOut]:
    """Cases, newest confirmation first; an investigator sees their own district's."""
    district_code = district_filter(
        session=session,
        principal=principal,
        permission=Permission.CASE_READ,
        district_code=district_code,
    )
    return [
        _out(c) for c in service.list_(session=session, district_code=district_code, status=status)
    ]


@router.get("/{case_id}")
def get_case(case: CaseReader) -> CaseOut:
    return _out(case)


@router.patch("/{case_id}")
def update_case(
    case: CaseWriter,
    data: CaseUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(Permission.CASE_WRITE))],
) -> CaseOut:
    """Change a case's dates, district, status or notes (not out of one's own district)."""
    if "district_code" in data.model_fields_set:
        check_district(
            session=session,
            principal=principal,
            permission=Permission.CASE_WRITE,
            district_code=data.district_code,
            entity_id=case.id,
        )
    return _out(
        service.update(session=session, actor=principal.username, case_id=case.id, data=data)
    )


@router.get("/{case_id}/identity")
def get_identity(
    case: Annotated[Case, Depends(case_for(Permission.CASE_IDENTITY))],
    session: SessionDep,
    actor: ActorDep,
) -> IdentityOut | None:
    """The patient's identity; every read is audited."""
    identity = service.read_identity(session=session, actor=actor, case_id=case.id)
    return None if identity is None else IdentityOut.model_validate(identity)


class IssueOut(BaseModel):
    location: str
    reason: str
    severity: str


class EvidenceOut(BaseModel):
    id: int
    kind: str
    original_name: str
    records_read: int
    records_rejected: int
    n_fixes: int
    n_observations: int
    issues: list[IssueOut]
    already_attached: bool = False


@router.post("/{case_id}/evidence", status_code=201)
def upload_evidence(
    case: Annotated[Case, Depends(case_for(Permission.EVIDENCE_WRITE))],
    file: Annotated[UploadFile, File(description="An evidence file of a supported kind")],
    session: SessionDep,
    actor: ActorDep,
    kind: Annotated[EvidenceKind | None, Form()] = None,
    assume_tz: Annotated[str | None, Form()] = None,
) -> EvidenceOut:
    """Attach an evidence file and rebuild the route; the same file twice changes nothing."""
    case_id = case.id
    if assume_tz is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(assume_tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"unknown time zone {assume_tz!r}", location="assume_tz") from None
    name = Path(file.filename or "upload").name
    with tempfile.TemporaryDirectory(prefix="citytrace-upload-") as tmp:
        path = Path(tmp) / "evidence"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        result = evidence.attach(
            session=session,
            actor=actor,
            case_id=case_id,
            path=path,
            original_name=name,
            kind=kind,
            assume_tz=assume_tz,
        )
    if result.created:
        investigation.rebuild_route(session=session, actor=actor, case_id=case_id)
    e = result.evidence
    return EvidenceOut(
        id=e.id,
        kind=e.kind,
        original_name=e.original_name,
        records_read=e.records_read,
        records_rejected=e.records_rejected,
        n_fixes=e.n_fixes,
        n_observations=e.n_observations,
        issues=[IssueOut(**i) for i in e.issues],
        already_attached=not result.created,
    )


@router.get("/{case_id}/evidence")
def list_evidence(case: CaseReader, session: SessionDep) -> list[EvidenceOut]:
    case_id = case.id
    return [
        EvidenceOut(
            id=e.id,
            kind=e.kind,
            original_name=e.original_name,
            records_read=e.records_read,
            records_rejected=e.records_rejected,
            n_fixes=e.n_fixes,
            n_observations=e.n_observations,
            issues=[IssueOut(**i) for i in e.issues],
        )
        for e in evidence.list_(session=session, case_id=case_id)
    ]
