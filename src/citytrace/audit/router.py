"""HTTP routes of the audit log, for administrators (permission ``audit:read``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from citytrace.api.deps import SessionDep, UnitOfWorkRoute
from citytrace.audit import service
from citytrace.audit.schemas import AuditEventOut, AuditPageOut, ChainCheckOut
from citytrace.auth.dependencies import client_address, require
from citytrace.auth.permissions import Permission, Principal

router = APIRouter(prefix="/api/audit", tags=["audit"], route_class=UnitOfWorkRoute)

# Every route here declares ``audit:read`` (granted to administrators only, see
# citytrace.auth.permissions.ROLE_PERMISSIONS); looking at the log is itself audited.
AuditReader = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


@router.get("")
def list_events(
    request: Request,
    session: SessionDep,
    principal: AuditReader,
    actor: Annotated[str | None, Query(max_length=120)] = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    entity: Annotated[str | None, Query(max_length=40)] = None,
    entity_id: Annotated[str | None, Query(max_length=60)] = None,
    since: Annotated[datetime | None, Query(description="Inclusive, ISO 8601 with offset.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive, ISO 8601 with offset.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, description="From a previous page.")] = None,
) -> AuditPageOut:
    """Audit events, newest first, filtered; page on with ``before_id``.

    Requires the permission ``audit:read``.
    """
    page = service.search(
        session=session,
        actor=principal.username,
        where=service.AuditFilter(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            since=since,
            until=until,
        ),
        limit=limit,
        before_id=before_id,
        client=client_address(request),
    )
    return AuditPageOut(
        events=[AuditEventOut.model_validate(e) for e in page.events],
        next_before_id=page.next_before_id,
    )


@router.get("/verify")
def verify_chain(request: Request, session: SessionDep, principal: AuditReader) -> ChainCheckOut:
    """Walk the hash chain and name the first broken link, if any.

    Requires the permission ``audit:read``.
    """
    check = service.verify_and_record(
        session=session, actor=principal.username, client=client_address(request)
    )
    return ChainCheckOut(
        ok=check.ok,
        events=check.events,
        head=check.head,
        broken_id=check.broken_id,
        reason=check.reason,
    )
