"""HTTP routes of cases and their evidence."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel

from citytrace.api.deps import ActorDep, SessionDep
from citytrace.cases import service
from citytrace.cases.models import Case, CaseStatus
from citytrace.cases.schemas import CaseCreate, CaseOut, CaseUpdate, IdentityOut
from citytrace.errors import InputError
from citytrace.evidence import service as evidence
from citytrace.evidence.readers import EvidenceKind
from citytrace.investigation import service as investigation

router = APIRouter(prefix="/api/cases", tags=["cases"])


def _out(case: Case) -> CaseOut:
    window = service.window(case)
    return CaseOut.model_validate(case).model_copy(
        update={"window_start": window.start, "window_end": window.end}
    )


@router.post("", status_code=201)
def create_case(data: CaseCreate, session: SessionDep, actor: ActorDep) -> CaseOut:
    """Register a confirmed case (identity fields, if given, are stored apart)."""
    return _out(service.create(session=session, actor=actor, data=data))


@router.get("")
def list_cases(
    session: SessionDep, district_code: str | None = None, status: CaseStatus | None = None
) -> list[CaseOut]:
    return [
        _out(c) for c in service.list_(session=session, district_code=district_code, status=status)
    ]


@router.get("/{case_id}")
def get_case(case_id: int, session: SessionDep) -> CaseOut:
    return _out(service.get_or_raise(session=session, case_id=case_id))


@router.patch("/{case_id}")
def update_case(case_id: int, data: CaseUpdate, session: SessionDep, actor: ActorDep) -> CaseOut:
    return _out(service.update(session=session, actor=actor, case_id=case_id, data=data))


@router.get("/{case_id}/identity")
def get_identity(case_id: int, session: SessionDep, actor: ActorDep) -> IdentityOut | None:
    """The patient's identity; every read is audited."""
    identity = service.read_identity(session=session, actor=actor, case_id=case_id)
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
    case_id: int,
    file: Annotated[UploadFile, File(description="An evidence file of a supported kind")],
    session: SessionDep,
    actor: ActorDep,
    kind: Annotated[EvidenceKind | None, Form()] = None,
    assume_tz: Annotated[str | None, Form()] = None,
) -> EvidenceOut:
    """Attach an evidence file and rebuild the route; the same file twice changes nothing."""
    service.get_or_raise(session=session, case_id=case_id)
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
def list_evidence(case_id: int, session: SessionDep) -> list[EvidenceOut]:
    service.get_or_raise(session=session, case_id=case_id)
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
