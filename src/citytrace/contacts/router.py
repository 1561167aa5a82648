"""HTTP routes of the exposure search and the follow-up of contacts."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends

from citytrace.api.deps import ActorDep, SessionDep, UnitOfWorkRoute
from citytrace.auth.dependencies import case_for, contact_for, district_filter, require
from citytrace.auth.permissions import Permission, Principal
from citytrace.cases.models import Case
from citytrace.contacts import service
from citytrace.contacts.models import Contact, ContactState
from citytrace.contacts.schemas import (
    ChainCaseOut,
    ChainOut,
    ContactOut,
    DueOut,
    LinkOut,
    LinksOut,
    SearchIn,
    SearchOut,
    TransitionIn,
)

router = APIRouter(tags=["contacts"], route_class=UnitOfWorkRoute)


@router.post("/api/cases/{case_id}/contacts/search")
def search_contacts(
    case: Annotated[Case, Depends(case_for(Permission.CONTACT_WRITE))],
    data: SearchIn,
    session: SessionDep,
    actor: ActorDep,
) -> SearchOut:
    """Find who shared a place and a time with the case (within ``distance_m`` for at least
    ``min_overlap_min``) in the city's records; new contacts are identified, known ones updated."""
    result = service.search(
        session=session,
        actor=actor,
        case_id=case.id,
        distance_m=data.distance_m,
        min_overlap_min=data.min_overlap_min,
    )
    return SearchOut(
        found=result.found,
        new=result.new,
        updated=result.updated,
        engine=result.engine,
        search_ms=round(result.search_ms, 3),
    )


@router.get("/api/cases/{case_id}/contacts")
def list_contacts(
    case: Annotated[Case, Depends(case_for(Permission.CONTACT_READ))],
    session: SessionDep,
    actor: ActorDep,
    state: ContactState | None = None,
) -> list[ContactOut]:
    """The case's contacts, earliest contact first, with where their follow-up stands."""
    return [
        ContactOut.model_validate(c)
        for c in service.read_list(session=session, actor=actor, case_id=case.id, state=state)
    ]


@router.get("/api/cases/{case_id}/links")
def case_links(
    case: Annotated[Case, Depends(case_for(Permission.CONTACT_READ))],
    session: SessionDep,
    actor: ActorDep,
) -> LinksOut:
    """The transmission around the case: the cases its person was a contact of before it was
    confirmed, and the cases whose persons were its contacts, confirmed afterwards."""
    sources, infected = service.transmission_links(session=session, actor=actor, case_id=case.id)
    return LinksOut(
        infected_by=[LinkOut.model_validate(link) for link in sources],
        infected=[LinkOut.model_validate(link) for link in infected],
    )


@router.get("/api/cases/{case_id}/chain")
def case_chain(
    case: Annotated[Case, Depends(case_for(Permission.CONTACT_READ))],
    session: SessionDep,
    actor: ActorDep,
) -> ChainOut:
    """The transmission chain the case belongs to: every case linked to it by transmission,
    directly or through others, with its generation and the cases it may have been infected
    by."""
    chain = service.transmission_chain(session=session, actor=actor, case_id=case.id)
    return ChainOut(
        links=chain.links,
        generations=chain.generations,
        cases=[ChainCaseOut.model_validate(c) for c in chain.cases],
    )


@router.get("/api/contacts/due")
def contacts_due(
    principal: Annotated[Principal, Depends(require(Permission.CONTACT_READ))],
    session: SessionDep,
    actor: ActorDep,
    district_code: str | None = None,
    on: date | None = None,
) -> list[DueOut]:
    """Every contact whose follow-up needs an action on the local day ``on`` (default: today),
    across cases (an investigator's own district's only): register a case for a positive test,
    notify, quarantine, release; most urgent first, the longest waiting first."""
    district = district_filter(
        session=session,
        principal=principal,
        permission=Permission.CONTACT_READ,
        district_code=district_code,
    )
    rows = service.due(session=session, actor=actor, today=on, district_code=district)
    return [DueOut.of(d) for d in rows]


@router.post("/api/contacts/{contact_id}/transition")
def transition_contact(
    contact: Annotated[Contact, Depends(contact_for(Permission.CONTACT_WRITE))],
    data: TransitionIn,
    session: SessionDep,
    actor: ActorDep,
) -> ContactOut:
    """Move a contact on: notified, tested (with its result), in quarantine, released (not before
    the end of quarantine, 14 days after the last contact, unless a reason is given)."""
    moved = service.transition(
        session=session,
        actor=actor,
        contact_id=contact.id,
        state=data.state,
        test_result=data.test_result,
        note=data.note,
        override_reason=data.override_reason,
    )
    return ContactOut.model_validate(moved)
