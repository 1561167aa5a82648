"""The investigator's workspace: server-rendered pages over the same services as the API.

Every page declares its permission as the API routes do (``require``, ``case_for``,
``visit_for``, ``contact_for``); forms send the session's CSRF token as ``csrf_token``. An
anonymous visitor is sent to the login page (303), a refusal is a 403 page (audited).
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the routes.
import hmac
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from citytrace.api.deps import SessionDep, UnitOfWorkRoute
from citytrace.auth import service as accounts
from citytrace.auth.dependencies import (
    SESSION_COOKIE,
    case_for,
    check_district,
    client_address,
    contact_for,
    district_filter,
    is_https,
    rate_limits,
    require,
    take_token,
    visit_for,
)
from citytrace.auth.models import Role
from citytrace.auth.permissions import Permission, Principal
from citytrace.cases import service as cases
from citytrace.cases.models import Case
from citytrace.cases.schemas import CaseCreate
from citytrace.config import get_settings
from citytrace.contacts import service as contacts
from citytrace.contacts.models import Contact, ContactState
from citytrace.contacts.schemas import SearchIn
from citytrace.errors import CitytraceError, InputError, from_validation
from citytrace.evidence import service as evidence
from citytrace.evidence.models import EvidenceFile
from citytrace.evidence.readers import EvidenceFormatError, EvidenceKind
from citytrace.investigation import service as investigation
from citytrace.investigation.models import Visit
from citytrace.investigation.schemas import ReviewAction, VisitEdit
from citytrace.stats import service as stats
from citytrace.web.pages import city, redirect, render

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

LOGIN_COOKIE = "citytrace_login"
"""A random value the login form sends back, so that another site cannot sign a browser in."""

Signed = Annotated[Principal, Depends(require(Permission.SELF))]
CaseReader = Annotated[Case, Depends(case_for(Permission.CASE_READ))]
ReviewedVisit = Annotated[Visit, Depends(visit_for(Permission.ROUTE_REVIEW))]
# A common set of zones for evidence written without a UTC offset.
ASSUMED_ZONES = ("Asia/Seoul", "UTC")
TEST_RESULTS = ("positive", "negative", "inconclusive")


def _principal(request: Request) -> Principal:
    # Set by ``require`` (through ``authenticate``) for every route below that needs one.
    principal: Principal = request.state.principal
    return principal


# --- signing in and out --------------------------------------------------------------------


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/cases"


def _login_page(request: Request, *, next_url: str, error: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"next_url": next_url, "login_token": token, "error": error},
        status_code=status,
        page_url="/login",
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=get_settings().cookie_secure or is_https(request),
        path="/login",
    )
    return response


@router.get("/login", dependencies=[Depends(require(Permission.PUBLIC))])
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return _login_page(request, next_url=_safe_next(next), error=None, status=200)


@router.post("/login", dependencies=[Depends(require(Permission.PUBLIC))])
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    login_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/cases",
) -> Response:
    """Sign in from the form: the session cookie, then on to the page asked for."""
    next_url = _safe_next(next)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(login_token.encode(), expected.encode()):
        return _login_page(request, next_url=next_url, error="login.expired", status=422)
    limits = rate_limits(request)
    address = client_address(request)
    take_token(limits.login_client.take(address))
    take_token(limits.login_username.take(username.strip().lower()))
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        accounts.logout(session=session, session_id=old)
    result = accounts.login(
        session=session, username=username, password=password, client_address=address
    )
    if result is None:
        # The failure (counted toward a lockout, audited) is committed with the request.
        return _login_page(request, next_url=next_url, error="login.failed", status=401)
    response = redirect(next_url)
    response.set_cookie(
        SESSION_COOKIE,
        result.session_id,
        httponly=True,
        samesite="strict",
        secure=get_settings().cookie_secure or is_https(request),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, me: Signed) -> Response:
    """Sign out: ends the session of the cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if me.via == "session" and session_id:
        accounts.logout(session=session, session_id=session_id)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/")
def home(request: Request, me: Signed) -> Response:
    """The start: the case list for those who may read cases."""
    if me.can(Permission.CASE_READ):
        return redirect("/cases")
    return render(request, "home.html", {}, principal=me)


@router.get("/outbreak")
def outbreak_page(
    request: Request,
    session: SessionDep,
    me: Annotated[Principal, Depends(require(Permission.STATS_READ))],
    by: Literal["confirmed", "onset"] = "confirmed",
) -> Response:
    """The outbreak picture in counts: the epidemic curve of the last weeks (a bar a day, with
    the seven-day mean), clusters linked by transmission, and the time to a published place."""
    curve = stats.epidemic_curve(session=session, by=by, last_days=_CURVE_DAYS)
    top = max((d.cases for d in curve), default=0) or 1
    return render(
        request,
        "outbreak.html",
        {
            "by": by,
            "curve": curve,
            "top": top,
            "clusters": stats.clusters(session=session),
            "timeliness": stats.timeliness(session=session),
        },
        principal=me,
        page_url="/outbreak",
    )


_CURVE_DAYS = 56  # the weeks the page shows
_CHAIN_ROWS = 200  # cases of a transmission chain shown on a case page (all in the API)


@router.get("/map/districts.json")
def district_outlines(me: Signed) -> JSONResponse:
    """The city's district outlines as GeoJSON, for the maps (no outside request needed)."""
    response = JSONResponse(city().outlines_geojson("district"))
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# --- cases ---------------------------------------------------------------------------------


@router.get("/cases")
def case_list(
    request: Request,
    session: SessionDep,
    me: Annotated[Principal, Depends(require(Permission.CASE_READ))],
) -> Response:
    """The cases of my district (administrators and disclosure officers: all)."""
    district = district_filter(
        session=session, principal=me, permission=Permission.CASE_READ, district_code=None
    )
    rows = cases.list_(session=session, district_code=district)
    return render(request, "cases.html", {"cases": rows, "district": district}, principal=me)


def _district_choices(me: Principal) -> list[str]:
    codes = [d.code for d in city().districts]
    if me.role == Role.INVESTIGATOR:
        return [c for c in codes if c == me.district_code]
    return codes


def _new_case_page(
    request: Request, me: Principal, *, values: dict[str, str], error: str | None, status: int
) -> Response:
    return render(
        request,
        "case_new.html",
        {"districts": _district_choices(me), "values": values, "error": error},
        principal=me,
        status_code=status,
        page_url="/cases/new",
    )


@router.get("/cases/new")
def new_case_form(
    request: Request, me: Annotated[Principal, Depends(require(Permission.CASE_WRITE))]
) -> Response:
    """The form registering a confirmed case."""
    return _new_case_page(
        request, me, values={"district_code": me.district_code or ""}, error=None, status=200
    )


@router.post("/cases/new")
def create_case(
    request: Request,
    session: SessionDep,
    me: Annotated[Principal, Depends(require(Permission.CASE_WRITE))],
    confirmed_date: Annotated[str, Form(max_length=20)] = "",
    district_code: Annotated[str, Form(max_length=10)] = "",
    reference: Annotated[str, Form(max_length=40)] = "",
    symptom_onset_date: Annotated[str, Form(max_length=20)] = "",
    specimen_collected_date: Annotated[str, Form(max_length=20)] = "",
    isolated_date: Annotated[str, Form(max_length=20)] = "",
    notes: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Register a case from the form, then open it."""
    values = {
        "confirmed_date": confirmed_date,
        "district_code": district_code,
        "reference": reference,
        "symptom_onset_date": symptom_onset_date,
        "specimen_collected_date": specimen_collected_date,
        "isolated_date": isolated_date,
        "notes": notes,
    }
    given = {k: v.strip() for k, v in values.items() if v.strip()}
    try:
        data = CaseCreate.model_validate(given)
    except ValidationError as exc:
        return _new_case_page(
            request, me, values=values, error=from_validation(exc).reason, status=422
        )
    if me.role == Role.INVESTIGATOR and data.district_code is None:
        data = data.model_copy(update={"district_code": me.district_code})
    check_district(
        session=session,
        principal=me,
        permission=Permission.CASE_WRITE,
        district_code=data.district_code,
    )
    case = cases.create(session=session, actor=me.username, data=data)
    return redirect(f"/cases/{case.id}")


@dataclass
class ImportReport:
    """What the last import of evidence gave, for the report on the case page."""

    name: str
    refused: bool = False
    already: bool = False
    records_read: int = 0
    records_rejected: int = 0
    message: str | None = None
    issues: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, e: EvidenceFile, *, already: bool = False) -> "ImportReport":
        return cls(
            name=e.original_name,
            already=already,
            records_read=e.records_read,
            records_rejected=e.records_rejected,
            issues=[dict(i) for i in e.issues],
        )


def _case_page(
    request: Request,
    session: SessionDep,
    case: Case,
    me: Principal,
    *,
    report: ImportReport | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    files = evidence.list_(session=session, case_id=case.id)
    if report is None and files:
        report = ImportReport.of(files[-1])
    return render(
        request,
        "case.html",
        {
            "case": case,
            "window": cases.window(case),
            "files": files,
            "report": report,
            "visits": investigation.read_route(
                session=session, actor=_principal(request).username, case_id=case.id
            ),
            "kinds": [k.value for k in EvidenceKind],
            "zones": ASSUMED_ZONES,
            "error": error,
            "notice": notice,
            "tile_url": get_settings().map_tile_url or "",
            "center": city().center,
            "zoom": city().zoom,
            "links": (
                contacts.transmission_links(session=session, actor=me.username, case_id=case.id)
                if me.can(Permission.CONTACT_READ)
                else None
            ),
            "chain": (
                contacts.transmission_chain(session=session, actor=me.username, case_id=case.id)
                if me.can(Permission.CONTACT_READ)
                else None
            ),
            "chain_rows": _CHAIN_ROWS,
        },
        principal=me,
        status_code=status,
        page_url=f"/cases/{case.id}",
    )


@router.get("/cases/{case_id}")
def case_page(
    request: Request,
    case: CaseReader,
    session: SessionDep,
    imported: int | None = None,
    again: bool = False,
    saved: bool = False,
) -> Response:
    """A case: summary, disclosure window, evidence and upload, and the route to review."""
    report = None
    if imported is not None:
        e = session.get(EvidenceFile, imported)
        if e is not None and e.case_id == case.id:
            report = ImportReport.of(e, already=again)
    return _case_page(
        request,
        session,
        case,
        _principal(request),
        report=report,
        notice="saved" if saved else None,
    )


@router.post("/cases/{case_id}/evidence")
def upload_evidence(
    request: Request,
    case: Annotated[Case, Depends(case_for(Permission.EVIDENCE_WRITE))],
    session: SessionDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form(max_length=40)] = "",
    assume_tz: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Attach an evidence file and rebuild the route; a refused file stores nothing and its
    rows' problems are shown on the page (422)."""
    me = _principal(request)
    name = Path(file.filename or "upload").name[:255]
    try:
        evidence_kind = EvidenceKind(kind) if kind else None
        if assume_tz:
            ZoneInfo(assume_tz)
    except (ValueError, KeyError):
        report = ImportReport(name=name, refused=True, message="kind or time zone is unknown")
        return _case_page(request, session, case, me, report=report, status=422)
    with tempfile.TemporaryDirectory(prefix="citytrace-upload-") as tmp:
        path = Path(tmp) / "evidence"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        try:
            # A savepoint: whatever fails rolls back all of this import, and only it.
            with session.begin_nested():
                result = evidence.attach(
                    session=session,
                    actor=me.username,
                    case_id=case.id,
                    path=path,
                    original_name=name,
                    kind=evidence_kind,
                    assume_tz=assume_tz or None,
                )
                if result.created:
                    investigation.rebuild_route(session=session, actor=me.username, case_id=case.id)
        except InputError as exc:
            issues = getattr(exc, "issues", ()) if isinstance(exc, EvidenceFormatError) else ()
            report = ImportReport(
                name=name,
                refused=True,
                # The reason and position only: the full message names the server's temp file.
                message=f"{exc.location}: {exc.reason}" if exc.location else exc.reason,
                issues=[
                    {"location": i.location, "reason": i.reason, "severity": i.severity}
                    for i in issues
                ],
            )
            return _case_page(request, session, case, me, report=report, status=422)
    again = "" if result.created else "&again=1"
    return redirect(f"/cases/{case.id}?imported={result.evidence.id}{again}#import-report")


# --- the route -----------------------------------------------------------------------------


def _review(
    request: Request,
    session: SessionDep,
    visit: Visit,
    action: ReviewAction,
    edit: VisitEdit | None,
) -> Response:
    me = _principal(request)
    try:
        with session.begin_nested():
            investigation.review_visit(
                session=session, actor=me.username, visit_id=visit.id, action=action, edit=edit
            )
    except InputError as exc:
        case = cases.get_or_raise(session=session, case_id=visit.case_id)
        return _case_page(request, session, case, me, error=exc.reason, status=422)
    return redirect(f"/cases/{visit.case_id}?saved=1#visit-{visit.id}")


@router.post("/visits/{visit_id}/confirm")
def confirm_visit(request: Request, visit: ReviewedVisit, session: SessionDep) -> Response:
    """Confirm a visit of the route."""
    return _review(request, session, visit, ReviewAction.CONFIRM, None)


@router.post("/visits/{visit_id}/reject")
def reject_visit(request: Request, visit: ReviewedVisit, session: SessionDep) -> Response:
    """Reject a visit: it stays in the record but leaves the route and the search."""
    return _review(request, session, visit, ReviewAction.REJECT, None)


def _local(value: str, zone: ZoneInfo) -> datetime | None:
    """A ``datetime-local`` value read in the city's zone; None when empty."""
    if not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError("a time is not a date and time", location="time") from None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


@router.post("/visits/{visit_id}/edit")
def edit_visit(
    request: Request,
    visit: ReviewedVisit,
    session: SessionDep,
    started_at: Annotated[str, Form(max_length=40)] = "",
    finished_at: Annotated[str, Form(max_length=40)] = "",
    venue_name: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Correct a visit's times or place name (times in the city's zone); it counts as confirmed."""
    zone = ZoneInfo(get_settings().timezone)
    changes: dict[str, Any] = {}
    try:
        for name, raw, current in (
            ("started_at", started_at, visit.started_at),
            ("finished_at", finished_at, visit.finished_at),
        ):
            value = _local(raw, zone)
            # The form shows minutes: an unchanged field must not cut the stored seconds.
            if value is not None and value.astimezone(zone).replace(second=0, microsecond=0) != (
                current.astimezone(zone).replace(second=0, microsecond=0)
            ):
                changes[name] = value
        if venue_name.strip() and venue_name.strip() != (visit.venue_name or ""):
            changes["venue_name"] = venue_name.strip()
        if note.strip():
            changes["note"] = note.strip()
        edit = VisitEdit.model_validate(changes)
    except (InputError, ValidationError) as exc:
        reason = exc.reason if isinstance(exc, InputError) else from_validation(exc).reason
        case = cases.get_or_raise(session=session, case_id=visit.case_id)
        return _case_page(request, session, case, _principal(request), error=reason, status=422)
    return _review(request, session, visit, ReviewAction.EDIT, edit)


# --- contacts ------------------------------------------------------------------------------


def _contacts_page(
    request: Request,
    session: SessionDep,
    case: Case,
    *,
    result: dict[str, object] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    rows = contacts.read_list(session=session, actor=_principal(request).username, case_id=case.id)
    return render(
        request,
        "contacts.html",
        {
            "case": case,
            "contacts": rows,
            "allowed": {c.id: sorted(contacts.ALLOWED[c.state]) for c in rows},
            "result": result,
            "error": error,
            "notice": notice,
            "search": SearchIn(),
        },
        principal=_principal(request),
        status_code=status,
        page_url=f"/cases/{case.id}/contacts",
    )


@router.get("/contacts/due")
def contacts_due_page(
    request: Request,
    session: SessionDep,
    me: Annotated[Principal, Depends(require(Permission.CONTACT_READ))],
    on: date | None = None,
) -> Response:
    """The follow-up worklist: every contact of my district's cases (administrators: all)
    that needs an action on the day (default: today), most urgent first."""
    district = district_filter(
        session=session, principal=me, permission=Permission.CONTACT_READ, district_code=None
    )
    rows = contacts.due(session=session, actor=me.username, today=on, district_code=district)
    return render(
        request,
        "contacts_due.html",
        {"rows": rows, "district": district, "on": on},
        principal=me,
        page_url="/contacts/due",
    )


@router.get("/cases/{case_id}/contacts")
def contacts_page(
    request: Request,
    case: Annotated[Case, Depends(case_for(Permission.CONTACT_READ))],
    session: SessionDep,
    found: int | None = None,
    new: int | None = None,
    updated: int | None = None,
    engine: Literal["index", "duckdb"] | None = None,
    ms: Annotated[float | None, Query(ge=0, le=86_400_000)] = None,
    changed: bool = False,
) -> Response:
    """A case's contacts: the exposure search (D, T) and the follow-up of each contact."""
    result: dict[str, object] | None = None
    if found is not None:
        result = {
            "found": found,
            "new": new or 0,
            "updated": updated or 0,
            "engine": engine,
            "ms": ms,
        }
    notice = "contacts.changed" if changed else None
    return _contacts_page(request, session, case, result=result, notice=notice)


@router.post("/cases/{case_id}/contacts/search")
def run_search(
    request: Request,
    case: Annotated[Case, Depends(case_for(Permission.CONTACT_WRITE))],
    session: SessionDep,
    distance_m: Annotated[str, Form(max_length=20)] = "",
    min_overlap_min: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Run the exposure search with the form's D and T and store the contacts found."""
    me = _principal(request)
    try:
        rule = SearchIn.model_validate(
            {
                k: v
                for k, v in (("distance_m", distance_m), ("min_overlap_min", min_overlap_min))
                if v.strip()
            }
        )
        with session.begin_nested():
            found = contacts.search(
                session=session,
                actor=me.username,
                case_id=case.id,
                distance_m=rule.distance_m,
                min_overlap_min=rule.min_overlap_min,
            )
    except (CitytraceError, ValidationError) as exc:
        reason = str(exc) if isinstance(exc, CitytraceError) else from_validation(exc).reason
        return _contacts_page(request, session, case, error=reason, status=422)
    how = f"&engine={found.engine}&ms={found.search_ms:.1f}" if found.engine else ""
    return redirect(
        f"/cases/{case.id}/contacts?found={found.found}&new={found.new}&updated={found.updated}"
        + how
    )


@router.post("/contacts/{contact_id}/transition")
def transition_contact(
    request: Request,
    contact: Annotated[Contact, Depends(contact_for(Permission.CONTACT_WRITE))],
    session: SessionDep,
    state: Annotated[str, Form(max_length=20)] = "",
    test_result: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    override_reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Move a contact to its next state (a test needs its result; early release a reason)."""
    me = _principal(request)
    case_id = contact.case_id
    try:
        if test_result and test_result not in TEST_RESULTS:
            raise InputError("unknown test result", location="test_result")
        with session.begin_nested():
            contacts.transition(
                session=session,
                actor=me.username,
                contact_id=contact.id,
                state=ContactState(state),
                test_result=test_result or None,
                note=note.strip() or None,
                override_reason=override_reason.strip() or None,
            )
    except (CitytraceError, ValueError) as exc:
        reason = str(exc) if isinstance(exc, CitytraceError) else "unknown state"
        case = cases.get_or_raise(session=session, case_id=case_id)
        return _contacts_page(request, session, case, error=reason, status=422)
    return redirect(f"/cases/{case_id}/contacts?changed=1#contact-{contact.id}")
