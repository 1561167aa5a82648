"""HTTP routes of the disclosure officer: the JSON API and the workspace pages.

Reading needs ``disclosure:read`` (investigators: entries of their own district only), drafting
and editing ``disclosure:write``, overriding, approving, publishing, correcting and withdrawing
``disclosure:publish``. Pages send forms with the session's CSRF token and answer with "see
other"; a refused step shows the page again with the reason (422/409).
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the loaders.
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from citytrace.api.deps import ActorDep, RecordId, SessionDep, UnitOfWorkRoute
from citytrace.auth.dependencies import case_for, check_district, district_filter, require
from citytrace.auth.permissions import Permission, Principal
from citytrace.cases import service as cases
from citytrace.cases.models import Case
from citytrace.disclosure import service
from citytrace.disclosure.models import DisclosureEntry, EntryStatus, Precision
from citytrace.disclosure.rules import SKIP_TEXT, WORKPLACE_KINDS
from citytrace.disclosure.schemas import (
    CorrectionIn,
    DraftIn,
    DraftOut,
    EntryEdit,
    EntryOut,
    IdsIn,
    ListRiskOut,
    OverrideIn,
    PublishOut,
    SkippedOut,
    WithdrawIn,
    parse_reasons,
)
from citytrace.errors import CitytraceError, InputError, from_validation
from citytrace.web.pages import redirect, render

router = APIRouter(tags=["disclosure"], route_class=UnitOfWorkRoute)
pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


def _entry_for(permission: Permission) -> Callable[..., DisclosureEntry]:
    """A dependency giving the path's entry: 404 if absent, 403 outside an investigator's
    district (audited)."""

    def load_entry(
        entry_id: RecordId,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require(permission))],
    ) -> DisclosureEntry:
        entry = service.get_or_raise(session=session, entry_id=entry_id)
        check_district(
            session=session,
            principal=principal,
            permission=permission,
            district_code=entry.district_code,
            entity=service.ENTITY,
            entity_id=entry.id,
        )
        return entry

    return load_entry


entry_for = cache(_entry_for)

Reader = Annotated[Principal, Depends(require(Permission.DISCLOSURE_READ))]
Writer = Annotated[Principal, Depends(require(Permission.DISCLOSURE_WRITE))]
Publisher = Annotated[Principal, Depends(require(Permission.DISCLOSURE_PUBLISH))]
ReadEntry = Annotated[DisclosureEntry, Depends(entry_for(Permission.DISCLOSURE_READ))]
WriteEntry = Annotated[DisclosureEntry, Depends(entry_for(Permission.DISCLOSURE_WRITE))]
PublishEntry = Annotated[DisclosureEntry, Depends(entry_for(Permission.DISCLOSURE_PUBLISH))]


def _draft_out(result: service.DraftResult) -> DraftOut:
    return DraftOut(
        created=result.created,
        merged=result.merged,
        suppressed=result.suppressed,
        skipped=[
            SkippedOut(visit_id=v, reason=s.value, message=SKIP_TEXT[s]) for v, s in result.skipped
        ],
    )


def _risk_out(risk: Any) -> ListRiskOut:
    return ListRiskOut(
        entries=risk.entries,
        blocked=risk.blocked,
        warnings=risk.warnings,
        min_k=risk.min_k,
        unknown_k=risk.unknown_k,
        linkable_cases=risk.linkable_cases,
    )


# --- the API ---------------------------------------------------------------------------------


@router.get("/api/disclosure/entries")
def list_entries(
    session: SessionDep,
    me: Reader,
    status: EntryStatus | None = None,
    district_code: str | None = None,
) -> list[EntryOut]:
    """Entries of the place list with their risk, by district and time (an investigator: their
    own district)."""
    district = district_filter(
        session=session,
        principal=me,
        permission=Permission.DISCLOSURE_READ,
        district_code=district_code,
    )
    return [
        EntryOut.of(e)
        for e in service.list_(session=session, status=status, district_code=district)
    ]


@router.get("/api/disclosure/entries/{entry_id}")
def get_entry(entry: ReadEntry) -> EntryOut:
    """One entry, its risk and the reasons found."""
    return EntryOut.of(entry)


@router.get("/api/disclosure/risk")
def list_risk(session: SessionDep, me: Reader) -> ListRiskOut:
    """The risk of the list as a whole, as last checked."""
    return _risk_out(service.list_risk(session=session))


@router.post("/api/disclosure/risk/check")
def check_risk(session: SessionDep, me: Writer) -> ListRiskOut:
    """Count again, in the city's records, the people around every draft and published entry."""
    return _risk_out(service.check_risk(session=session, actor=me.username))


@router.post("/api/cases/{case_id}/disclosure/draft", status_code=201)
def draft(
    case: Annotated[Case, Depends(case_for(Permission.DISCLOSURE_WRITE))],
    data: DraftIn,
    session: SessionDep,
    actor: ActorDep,
) -> DraftOut:
    """Draft entries from the case's reviewed visits inside its disclosure window (all of them,
    or ``visit_ids``); visits at a place and time already drafted join that draft."""
    result = service.draft_from_case(
        session=session, actor=actor, case_id=case.id, visit_ids=data.visit_ids
    )
    return _draft_out(result)


@router.patch("/api/disclosure/entries/{entry_id}")
def edit_entry(
    entry: WriteEntry, data: EntryEdit, session: SessionDep, actor: ActorDep
) -> EntryOut:
    """Edit or generalise a draft (wider ``time_step_min``, ``show_business_name: false``,
    ``precision: district``); an approved entry goes back to draft; the risk is checked again."""
    return EntryOut.of(service.update(session=session, actor=actor, entry_id=entry.id, data=data))


@router.delete("/api/disclosure/entries/{entry_id}", status_code=204)
def discard_entry(entry: WriteEntry, session: SessionDep, actor: ActorDep) -> Response:
    """Discard a draft that will not be published."""
    service.discard(session=session, actor=actor, entry_id=entry.id)
    return Response(status_code=204)


@router.post("/api/disclosure/entries/{entry_id}/override")
def override_entry(
    entry: PublishEntry, data: OverrideIn, session: SessionDep, actor: ActorDep
) -> EntryOut:
    """Record why a blocked entry may be published all the same (audited)."""
    return EntryOut.of(
        service.override(
            session=session, actor=actor, entry_id=entry.id, justification=data.justification
        )
    )


@router.post("/api/disclosure/approve")
def approve(data: IdsIn, session: SessionDep, me: Publisher) -> list[EntryOut]:
    """Approve drafts for publication, all or none (blocked ones are refused)."""
    entries = service.approve(session=session, actor=me.username, entry_ids=data.entry_ids)
    return [EntryOut.of(e) for e in entries]


@router.post("/api/disclosure/publish")
def publish(data: IdsIn, session: SessionDep, me: Publisher) -> PublishOut:
    """Publish approved entries, all or none; the open-data feed changes with them."""
    result = service.publish(session=session, actor=me.username, entry_ids=data.entry_ids)
    return PublishOut(published=result.published, suppressed=result.suppressed)


@router.post("/api/disclosure/entries/{entry_id}/correct")
def correct_entry(
    entry: PublishEntry, data: CorrectionIn, session: SessionDep, actor: ActorDep
) -> EntryOut:
    """Correct a published entry: published again as the next version, with the note."""
    edit = EntryEdit.model_validate(
        data.model_dump(exclude_unset=True, exclude={"correction_note"})
    )
    return EntryOut.of(
        service.correct(
            session=session, actor=actor, entry_id=entry.id, data=edit, note=data.correction_note
        )
    )


@router.post("/api/disclosure/entries/{entry_id}/withdraw")
def withdraw_entry(
    entry: PublishEntry, data: WithdrawIn, session: SessionDep, actor: ActorDep
) -> EntryOut:
    """Withdraw a published entry; the change feed tells consumers, with the reason."""
    return EntryOut.of(
        service.withdraw(session=session, actor=actor, entry_id=entry.id, reason=data.reason)
    )


# --- the officer's pages ---------------------------------------------------------------------

STATUS_VIEWS = {
    "open": (EntryStatus.DRAFT, EntryStatus.APPROVED),
    "published": (EntryStatus.PUBLISHED,),
    "ended": (EntryStatus.WITHDRAWN, EntryStatus.EXPIRED, EntryStatus.SUPPRESSED),
}


def _list_page(
    request: Request,
    session: SessionDep,
    me: Principal,
    *,
    view: str = "open",
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    view = view if view in STATUS_VIEWS else "open"
    district = district_filter(
        session=session, principal=me, permission=Permission.DISCLOSURE_READ, district_code=None
    )
    entries = service.list_(session=session, status=STATUS_VIEWS[view], district_code=district)
    return render(
        request,
        "disclosure_officer.html",
        {
            "entries": entries,
            "reasons": {e.id: parse_reasons(e.risk_reason) for e in entries},
            "risk": service.list_risk(session=session),
            "view": view,
            "views": list(STATUS_VIEWS),
            "workplace_kinds": WORKPLACE_KINDS,
            "error": error,
            "notice": notice,
        },
        principal=me,
        status_code=status,
        page_url="/disclosure",
    )


def _entry_page(
    request: Request,
    session: SessionDep,
    me: Principal,
    entry: DisclosureEntry,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "disclosure_officer_entry.html",
        {
            "entry": entry,
            "reasons": parse_reasons(entry.risk_reason),
            "cases_count": len({s.case_id for s in entry.sources}),
            "precisions": [p.value for p in Precision],
            "workplace_kinds": WORKPLACE_KINDS,
            "error": error,
            "notice": notice,
        },
        principal=me,
        status_code=status,
        page_url=f"/disclosure/entries/{entry.id}",
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return from_validation(exc).reason
    if isinstance(exc, InputError):
        return f"{exc.location}: {exc.reason}" if exc.location else exc.reason
    return str(exc)


def _status_of(exc: Exception) -> int:
    from citytrace.errors import ConflictError, NotFoundError

    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, NotFoundError):
        return 404
    return 422


@pages.get("/disclosure")
def officer_page(request: Request, session: SessionDep, me: Reader, view: str = "open") -> Response:
    """The place list being prepared: each entry with its risk and the reason, and the steps."""
    notice = request.query_params.get("notice")
    known = {"drafted", "approved", "published", "checked", "discarded"}
    return _list_page(request, session, me, view=view, notice=notice if notice in known else None)


@pages.get("/disclosure/entries/{entry_id}")
def entry_page(request: Request, session: SessionDep, entry: ReadEntry) -> Response:
    """One entry: what will be shown, its risk, and the forms to edit, generalise, override,
    approve, publish, correct or withdraw it."""
    notice = request.query_params.get("notice")
    me: Principal = request.state.principal
    known = {"saved", "overridden", "approved", "published", "corrected", "withdrawn"}
    return _entry_page(request, session, me, entry, notice=notice if notice in known else None)


@pages.post("/disclosure/draft")
def draft_form(
    request: Request,
    session: SessionDep,
    me: Writer,
    case_reference: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Draft from a case, named by its reference."""
    try:
        reference = case_reference.strip()
        if not reference:
            raise InputError("give a case reference", location="case_reference")
        found = [c for c in cases.list_(session=session) if c.reference == reference]
        if not found:
            raise InputError(f"no case {reference}", location="case_reference")
        case = found[0]
        check_district(
            session=session,
            principal=me,
            permission=Permission.DISCLOSURE_WRITE,
            district_code=case.district_code,
            entity="case",
            entity_id=case.id,
        )
        service.draft_from_case(session=session, actor=me.username, case_id=case.id)
    except CitytraceError as exc:
        if not isinstance(exc, InputError):
            raise
        return _list_page(request, session, me, error=_reason(exc), status=422)
    return redirect("/disclosure?notice=drafted")


@pages.post("/disclosure/risk/check")
def risk_check_form(request: Request, session: SessionDep, me: Writer) -> Response:
    """Count again the people around every open and published entry."""
    service.check_risk(session=session, actor=me.username)
    return redirect("/disclosure?notice=checked")


def _form_edit(values: dict[str, str]) -> EntryEdit:
    data: dict[str, Any] = {}
    for name in (
        "place_kind",
        "business_name",
        "road_address",
        "notes",
        "transport_line",
        "transport_car",
        "boarding_stop",
        "alighting_stop",
    ):
        if name in values:
            data[name] = values[name]
    if values.get("time_step_min", "").strip():
        data["time_step_min"] = values["time_step_min"].strip()
    if values.get("precision", "").strip():
        data["precision"] = values["precision"].strip()
    data["show_business_name"] = values.get("show_business_name") == "on"
    data["mass_exposure"] = values.get("mass_exposure") == "on"
    disinfected = values.get("disinfected", "")
    if disinfected in ("yes", "no"):
        data["disinfected"] = disinfected == "yes"
    return EntryEdit.model_validate(data)


async def _form_values(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


EDIT_FIELDS = 4000


@pages.post("/disclosure/entries/{entry_id}/edit")
async def edit_form(request: Request, session: SessionDep, entry: WriteEntry) -> Response:
    """Save the edit form (a published entry: a correction, with its note)."""
    me: Principal = request.state.principal
    values = {k: v[:EDIT_FIELDS] for k, v in (await _form_values(request)).items()}
    try:
        edit = _form_edit(values)
        if entry.status == EntryStatus.PUBLISHED:
            if not me.can(Permission.DISCLOSURE_PUBLISH):
                raise InputError("only a publisher may correct a published entry")
            service.correct(
                session=session,
                actor=me.username,
                entry_id=entry.id,
                data=edit,
                note=values.get("correction_note", ""),
            )
            notice = "corrected"
        else:
            service.update(session=session, actor=me.username, entry_id=entry.id, data=edit)
            notice = "saved"
    except (CitytraceError, ValidationError) as exc:
        session.expire_all()
        return _entry_page(request, session, me, entry, error=_reason(exc), status=_status_of(exc))
    return redirect(f"/disclosure/entries/{entry.id}?notice={notice}")


def _step(
    request: Request,
    session: SessionDep,
    entry: DisclosureEntry,
    action: Callable[[Principal], object],
    notice: str,
) -> Response:
    me: Principal = request.state.principal
    try:
        action(me)
    except CitytraceError as exc:
        session.expire_all()
        return _entry_page(request, session, me, entry, error=_reason(exc), status=_status_of(exc))
    return redirect(f"/disclosure/entries/{entry.id}?notice={notice}")


@pages.post("/disclosure/entries/{entry_id}/override")
def override_form(
    request: Request,
    session: SessionDep,
    entry: PublishEntry,
    justification: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Publish despite the risk: the justification is recorded and audited."""
    return _step(
        request,
        session,
        entry,
        lambda me: service.override(
            session=session, actor=me.username, entry_id=entry.id, justification=justification
        ),
        "overridden",
    )


@pages.post("/disclosure/entries/{entry_id}/approve")
def approve_form(request: Request, session: SessionDep, entry: PublishEntry) -> Response:
    """Approve the draft for publication."""
    return _step(
        request,
        session,
        entry,
        lambda me: service.approve(session=session, actor=me.username, entry_ids=[entry.id]),
        "approved",
    )


@pages.post("/disclosure/entries/{entry_id}/publish")
def publish_form(request: Request, session: SessionDep, entry: PublishEntry) -> Response:
    """Publish the approved entry."""
    return _step(
        request,
        session,
        entry,
        lambda me: service.publish(session=session, actor=me.username, entry_ids=[entry.id]),
        "published",
    )


@pages.post("/disclosure/entries/{entry_id}/withdraw")
def withdraw_form(
    request: Request,
    session: SessionDep,
    entry: PublishEntry,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Withdraw the published entry, with a reason."""
    return _step(
        request,
        session,
        entry,
        lambda me: service.withdraw(
            session=session, actor=me.username, entry_id=entry.id, reason=reason
        ),
        "withdrawn",
    )


@pages.post("/disclosure/entries/{entry_id}/discard")
def discard_form(request: Request, session: SessionDep, entry: WriteEntry) -> Response:
    """Discard a draft that will not be published."""
    me: Principal = request.state.principal
    try:
        service.discard(session=session, actor=me.username, entry_id=entry.id)
    except CitytraceError as exc:
        return _entry_page(request, session, me, entry, error=_reason(exc), status=_status_of(exc))
    return redirect("/disclosure?notice=discarded")


router.include_router(pages)
