"""Pages of screening: clinic staff (queue, check-in, samples, results) and citizens (find,
book, my booking, my result).

Citizens are anonymous: their pages are public (rate-limited per client). Their forms carry a
token that must match a ``SameSite=Strict`` cookie (so that no other site can post them), and a
booking form carries an idempotency key (a form sent twice books once). A citizen opens their
booking with its reference and access code; the page then keeps, for half an hour, a signed
cookie naming the booking and bound to its current code (a new code ends it). The QR code of
the booking is served as SVG or PNG from that cookie, never from a code in a URL.

Staff pages act on the signed-in clinic staff member's own clinic (``Principal.clinic_ref``);
an administrator chooses the clinic (``?clinic=``). Forms send the session's CSRF token.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the routes.
import hashlib
import hmac
import io
import json
import secrets
import time
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from citytrace.api.deps import RecordId, SessionDep, UnitOfWorkRoute
from citytrace.audit import service as audit
from citytrace.auth.dependencies import deny, is_https, require
from citytrace.auth.exceptions import PermissionDeniedError
from citytrace.auth.models import Role
from citytrace.auth.permissions import Permission, Principal
from citytrace.config import get_settings
from citytrace.db import utcnow
from citytrace.errors import (
    CitytraceError,
    ConflictError,
    InputError,
    NotFoundError,
    from_validation,
)
from citytrace.screening import booking as bookings
from citytrace.screening import clinics, finder, queue, samples
from citytrace.screening.deps import check_clinic
from citytrace.screening.models import (
    Booking,
    BookingStatus,
    Clinic,
    ClinicKind,
    Outcome,
    QueueEntry,
    Result,
    Sample,
)
from citytrace.screening.schemas import PersonIn
from citytrace.security.keys import get_keyring
from citytrace.web.i18n import LANGUAGES, negotiate
from citytrace.web.pages import city, redirect, render

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

PUBLIC = [Depends(require(Permission.PUBLIC))]
FORM_COOKIE = "citytrace_form"
ACCESS_COOKIE = "citytrace_booking"
ACCESS_MIN = 30
COOKIE_PATH = "/screening"
KINDS = tuple(k.value for k in ClinicKind)
MAX_LAB_BYTES = 20 * 1024 * 1024
FIND_LIMIT = 5  # nearest clinics on the find page (each costs its wait and next free slot)


# --- citizens' cookies -----------------------------------------------------------------------


def _secure(request: Request) -> bool:
    return get_settings().cookie_secure or is_https(request)


def _form_token(request: Request) -> str:
    """The visitor's form token: the cookie's, or a new one (set by :func:`_with_form_cookie`)."""
    current = request.cookies.get(FORM_COOKIE, "")
    return current if 20 <= len(current) <= 64 else secrets.token_urlsafe(24)


def _with_form_cookie(response: Response, request: Request, token: str) -> Response:
    if request.cookies.get(FORM_COOKIE) != token:
        response.set_cookie(
            FORM_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path=COOKIE_PATH,
        )
    return response


def _form_ok(request: Request, submitted: str) -> bool:
    """Whether a citizen's form came from our page: its token matches the cookie."""
    expected = request.cookies.get(FORM_COOKIE, "")
    return bool(expected) and hmac.compare_digest(submitted.encode(), expected.encode())


def _access_signatures(booking_id: int, expires: int, code_hash: str) -> tuple[str, ...]:
    """The signature of a page-access cookie: under the current hash key first, then the old
    ones (a cookie signed before a rotation of the hash key stays good until it expires)."""
    value = f"{booking_id}.{expires}.{code_hash}"
    return tuple(h[:40] for h in get_keyring().keyed_hashes("screening.page_access", value))


def _grant_access(response: Response, request: Request, booking: Booking) -> Response:
    expires = int(time.time()) + ACCESS_MIN * 60
    signature = _access_signatures(booking.id, expires, booking.access_code_hash)[0]
    response.set_cookie(
        ACCESS_COOKIE,
        f"{booking.id}.{expires}.{signature}",
        max_age=ACCESS_MIN * 60,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path=COOKIE_PATH,
    )
    return response


def _accessed_booking(request: Request, session: SessionDep) -> Booking | None:
    """The booking the visitor opened with its code (the cookie, while valid), or ``None``."""
    raw = request.cookies.get(ACCESS_COOKIE, "")
    parts = raw.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    booking_id, expires = int(parts[0]), int(parts[1])
    if expires < time.time() or booking_id > 2**31 - 1:
        return None
    booking = bookings.get(session=session, booking_id=booking_id)
    if booking is None:
        return None
    given = parts[2].encode()
    expected = _access_signatures(booking.id, expires, booking.access_code_hash)
    matches = [hmac.compare_digest(e.encode(), given) for e in expected]  # each, in full
    if not any(matches):
        return None
    return booking


# --- helpers ---------------------------------------------------------------------------------


def _citizen_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    page_url: str | None = None,
) -> Response:
    token = _form_token(request)
    response = render(
        request,
        template,
        {**context, "form_token": token},
        principal=getattr(request.state, "principal", None),
        status_code=status,
        page_url=page_url,
    )
    return _with_form_cookie(response, request, token)


def _reason(exc: Exception) -> str:
    """What to tell the user: the reason of our errors, the fields of a validation error."""
    if isinstance(exc, ValidationError):
        return from_validation(exc).reason
    if isinstance(exc, InputError):
        return exc.reason
    return str(exc)


def _pass_refusals(exc: Exception) -> None:
    """A refusal (403, audited) is not a form's error: it goes on to the app's handler."""
    if isinstance(exc, PermissionDeniedError):
        raise exc


def _status_of(exc: Exception) -> int:
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, NotFoundError):
        return 404
    return 422


def _parse_instant(value: str) -> datetime | None:
    """An ISO 8601 moment with its offset (a slot's start in a form), or ``None``."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _positive_id(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    number = int(value.strip())
    return number if 1 <= number <= 2**31 - 1 else None


def _result_of(session: SessionDep, booking: Booking) -> Result | None:
    """The result of the booking's sample, or ``None`` (not sampled or not resulted yet)."""
    return session.scalar(select(Result).join(Sample).where(Sample.booking_id == booking.id))


# --- citizens: a clinic and its slots, booking -----------------------------------------------


def _clinic_context(
    session: SessionDep, clinic: Clinic, day: date, now: datetime
) -> dict[str, Any]:
    free = bookings.free_slots(session=session, clinic=clinic, day=day, now=now)
    nxt = None if free else bookings.next_free_slot(session=session, clinic=clinic, now=now)
    wait = queue.estimated_wait_min(session=session, clinic=clinic, now=now)
    today = clinics.local_date(now)
    return {
        "clinic": clinic,
        "day": day,
        "today": today,
        "last_day": today + timedelta(days=bookings.BOOKING_HORIZON_DAYS),
        "slots": free,
        "next_slot": nxt,
        "open_now": clinics.is_open(clinic, now),
        "hours_today": clinics.hours_on(clinic, today),
        "wait_min": wait,
    }


def _book_page(
    request: Request,
    session: SessionDep,
    clinic: Clinic,
    *,
    day: date,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    now = utcnow()
    context = _clinic_context(session, clinic, day, now)
    context.update(
        {
            "values": values or {},
            "error": error,
            "idempotency_key": (values or {}).get("idempotency_key") or secrets.token_urlsafe(16),
        }
    )
    return _citizen_page(
        request,
        "screening_book.html",
        context,
        status=status,
        page_url=f"/screening/clinics/{clinic.id}",
    )


@router.get("/screening/clinics/{clinic_id}", dependencies=PUBLIC)
def book_form(
    request: Request, session: SessionDep, clinic_id: RecordId, day: str | None = None
) -> Response:
    """A clinic: its hours, current wait and the free slots of a day, with the booking form."""
    found = clinics.get(session=session, clinic_id=clinic_id)
    if found is None:
        raise NotFoundError("no such clinic")
    today = clinics.local_date(utcnow())
    chosen = _parse_day(day) or today
    chosen = min(max(chosen, today), today + timedelta(days=bookings.BOOKING_HORIZON_DAYS))
    if day is None:
        # The day of the next free slot, when today has none left.
        nxt = bookings.next_free_slot(session=session, clinic=found)
        if nxt is not None:
            chosen = clinics.local_date(nxt.starts_at)
    return _book_page(request, session, found, day=chosen)


@router.post("/screening/clinics/{clinic_id}/book", dependencies=PUBLIC)
def book(
    request: Request,
    session: SessionDep,
    clinic_id: RecordId,
    starts_at: Annotated[str, Form(max_length=40)] = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=200)] = "",
    form_token: Annotated[str, Form(max_length=100)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Book the chosen slot; the answer shows the reference, the access code (once) and the QR
    code, and opens the booking on this device."""
    found = clinics.get(session=session, clinic_id=clinic_id)
    if found is None:
        return _citizen_page(
            request,
            "screening_message.html",
            {"title_key": "screening.book.title", "message_key": "screening.book.no_clinic"},
            status=422,
        )
    values = {
        "starts_at": starts_at,
        "full_name": full_name,
        "phone": phone,
        "email": email,
        "idempotency_key": idempotency_key,
    }
    slot = _parse_instant(starts_at)
    day = clinics.local_date(slot or utcnow())
    error = None
    if not _form_ok(request, form_token):
        values["idempotency_key"] = ""  # a new form, a new key
        error = "screening.form_expired"
    elif slot is None:
        error = "screening.book.choose_slot"
    if error is not None:
        return _book_page(request, session, found, day=day, values=values, error=error, status=422)
    assert slot is not None
    lang = negotiate(request, get_settings().city)
    try:
        person = PersonIn(
            full_name=full_name.strip(),
            phone=phone.strip() or None,
            email=email.strip() or None,
            language=lang,
        )
        key = idempotency_key.strip()
        if not (8 <= len(key) <= 90 and key.replace("-", "").replace("_", "").isalnum()):
            key = secrets.token_urlsafe(16)  # not one of our forms' keys: a key of its own
        result = bookings.book(
            session=session,
            actor=bookings.CITIZEN,
            clinic_id=found.id,
            person=person,
            starts_at=slot,
            idempotency_key=f"page:{key}",
        )
    except (CitytraceError, ValidationError) as exc:
        _pass_refusals(exc)
        if isinstance(exc, ConflictError) and "idempotency" in str(exc).lower():
            values["idempotency_key"] = ""
        return _book_page(
            request,
            session,
            found,
            day=day,
            values=values,
            error=_reason(exc),
            status=_status_of(exc),
        )
    booked = result.booking
    response = _citizen_page(
        request,
        "screening_booked.html",
        {
            "booking": booked,
            "clinic": found,
            "access_code": result.access_code,
            "replayed": result.replayed,
        },
        page_url="/screening/my-booking",
    )
    return _grant_access(response, request, booked)


# --- citizens: my booking, its QR code, my result --------------------------------------------


def _my_booking_page(
    request: Request,
    session: SessionDep,
    booking: Booking | None,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {"booking": booking, "error": error, "notice": notice}
    if booking is not None:
        now = utcnow()
        clinic = clinics.get_or_raise(session=session, clinic_id=booking.clinic_id)
        result = _result_of(session, booking)
        context.update(
            {
                "clinic": clinic,
                "result": result,
                "can_cancel": booking.status == BookingStatus.BOOKED
                and booking.slot_starts_at is not None
                and booking.slot_starts_at > now,
                "unit": booking.unit,
            }
        )
        audit.record(
            session=session,
            actor=bookings.CITIZEN,
            action="screening.booking.citizen_read",
            entity="booking",
            entity_id=booking.id,
            detail={"result": result is not None},
        )
    return _citizen_page(
        request,
        "screening_my_booking.html",
        context,
        status=status,
        page_url="/screening/my-booking",
    )


@router.get("/screening/my-booking", dependencies=PUBLIC)
def my_booking(request: Request, session: SessionDep, cancelled: bool = False) -> Response:
    """My booking (opened with its code on this device), else the form to open it."""
    booking = _accessed_booking(request, session)
    notice = "screening.my.cancelled" if cancelled and booking is not None else None
    return _my_booking_page(request, session, booking, notice=notice)


def _open_with_code(
    request: Request, session: SessionDep, reference: str, code: str, form_token: str
) -> Booking | str:
    """The booking of a reference and access code, or the key of the message saying why not."""
    if not _form_ok(request, form_token):
        return "screening.form_expired"
    if not reference.strip() or not code.strip():
        return "screening.my.give_both"
    try:
        return bookings.verify_access(session=session, reference=reference, code=code)
    except bookings.AccessCodeError as exc:
        if "too many" in str(exc):
            return "screening.my.locked"
        return "screening.my.wrong"


@router.post("/screening/my-booking", dependencies=PUBLIC)
def open_my_booking(
    request: Request,
    session: SessionDep,
    reference: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=40)] = "",
    form_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Open my booking with its reference and access code (kept on this device for 30 min)."""
    found = _open_with_code(request, session, reference, code, form_token)
    if isinstance(found, str):
        return _my_booking_page(request, session, None, error=found, status=422)
    return _grant_access(redirect("/screening/my-booking"), request, found)


@router.post("/screening/my-booking/cancel", dependencies=PUBLIC)
def cancel_my_booking(
    request: Request,
    session: SessionDep,
    form_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Cancel my booking (the one opened on this device) and free its slot."""
    booking = _accessed_booking(request, session)
    if booking is None or not _form_ok(request, form_token):
        return _my_booking_page(
            request, session, booking, error="screening.form_expired", status=422
        )
    try:
        bookings.cancel(session=session, actor=bookings.CITIZEN, booking_id=booking.id)
    except CitytraceError as exc:
        _pass_refusals(exc)
        return _my_booking_page(
            request, session, booking, error=_reason(exc), status=_status_of(exc)
        )
    return redirect("/screening/my-booking?cancelled=1")


@router.post("/screening/my-booking/forget", dependencies=PUBLIC)
def forget_my_booking(
    request: Request, form_token: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """Close my booking on this device (a shared computer)."""
    response = redirect("/screening/my-booking")
    if _form_ok(request, form_token):
        response.delete_cookie(ACCESS_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


def _qr(booking: Booking) -> segno.QRCode:
    return segno.make(queue.checkin_payload(booking), error="m")


@router.get("/screening/my-booking/qr.svg", dependencies=PUBLIC)
def my_booking_qr_svg(request: Request, session: SessionDep) -> Response:
    """The check-in QR code of my booking, as SVG."""
    booking = _accessed_booking(request, session)
    if booking is None:
        raise NotFoundError("open your booking with its code first")
    out = io.BytesIO()
    _qr(booking).save(out, kind="svg", scale=8, border=4, dark="#000", light="#fff", xmldecl=False)
    return Response(
        out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@router.get("/screening/my-booking/qr.png", dependencies=PUBLIC)
def my_booking_qr_png(request: Request, session: SessionDep) -> Response:
    """The check-in QR code of my booking, as PNG (to save on a phone)."""
    booking = _accessed_booking(request, session)
    if booking is None:
        raise NotFoundError("open your booking with its code first")
    out = io.BytesIO()
    _qr(booking).save(out, kind="png", scale=8, border=4)
    return Response(
        out.getvalue(),
        media_type="image/png",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="booking-{booking.reference}.png"',
        },
    )


def _my_result_page(
    request: Request,
    session: SessionDep,
    *,
    booking: Booking | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {"booking": booking, "error": error, "result": None}
    if booking is not None:
        context["clinic"] = clinics.get_or_raise(session=session, clinic_id=booking.clinic_id)
        context["result"] = _result_of(session, booking)
        audit.record(
            session=session,
            actor=bookings.CITIZEN,
            action="screening.booking.citizen_read",
            entity="booking",
            entity_id=booking.id,
            detail={"result": context["result"] is not None},
        )
    return _citizen_page(
        request, "screening_my_result.html", context, status=status, page_url="/screening/my-result"
    )


@router.get("/screening/my-result", dependencies=PUBLIC)
def my_result_form(request: Request, session: SessionDep) -> Response:
    """The form that opens my test result with my booking's reference and code."""
    return _my_result_page(request, session)


@router.post("/screening/my-result", dependencies=PUBLIC)
def my_result(
    request: Request,
    session: SessionDep,
    reference: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=40)] = "",
    form_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """My test result (or that it is not ready yet), for the reference and code given."""
    found = _open_with_code(request, session, reference, code, form_token)
    if isinstance(found, str):
        return _my_result_page(request, session, error=found, status=422)
    return _my_result_page(request, session, booking=found)


# --- citizens: finding a clinic --------------------------------------------------------------


@cache
def _district_points() -> dict[str, tuple[float, float]]:
    """A point inside each district of the city (latitude, longitude)."""
    from shapely.geometry import shape

    points = {}
    for feature in city().outlines_geojson("district")["features"]:
        point = shape(feature["geometry"]).representative_point()
        points[str(feature["properties"]["code"])] = (point.y, point.x)
    return points


def _coordinate(value: str | None, low: float, high: float) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if low <= number <= high else None


@router.get("/screening", dependencies=PUBLIC)
def find(
    request: Request,
    session: SessionDep,
    district: str | None = None,
    lat: str | None = None,
    lon: str | None = None,
    kind: str | None = None,
    open_now: str | None = None,
) -> Response:
    """Find a clinic: the nearest open ones to my district or my position, with their kind,
    current wait and next free slot."""
    points = _district_points()
    latitude = _coordinate(lat, -90, 90)
    longitude = _coordinate(lon, -180, 180)
    chosen_district = district if district in points else None
    error = None
    if (lat or lon) and (latitude is None or longitude is None):
        error = "screening.find.bad_position"
        latitude = longitude = None
    if latitude is None and chosen_district is not None:
        latitude, longitude = points[chosen_district]
    chosen_kind = kind if kind in KINDS else None
    only_open = open_now == "1"
    results = None
    if latitude is not None and longitude is not None:
        results = finder.nearest(
            session=session,
            latitude=latitude,
            longitude=longitude,
            limit=FIND_LIMIT,
            open_now=only_open,
            kind=ClinicKind(chosen_kind) if chosen_kind else None,
        )
    return _citizen_page(
        request,
        "screening_find.html",
        {
            "districts": [d.code for d in city().districts],
            "district": chosen_district,
            "position": None if lat is None or latitude is None else (latitude, longitude),
            "kind": chosen_kind,
            "kinds": KINDS,
            "open_now": only_open,
            "results": results,
            "error": error,
        },
        page_url="/screening",
    )


# --- clinic staff ----------------------------------------------------------------------------

Operator = Annotated[Principal, Depends(require(Permission.CLINIC_OPERATE))]
ResultWriter = Annotated[Principal, Depends(require(Permission.RESULT_WRITE))]
NOTICES = {
    "checked_in": "screening.staff.checked_in",
    "called": "screening.staff.called",
    "nobody": "screening.staff.nobody_waiting",
    "left": "screening.staff.left",
    "collected": "screening.staff.collected",
    "sent": "screening.staff.sent",
    "received": "screening.staff.received",
    "result": "screening.staff.result_stored",
    "result_again": "screening.staff.result_again",
}


def _my_clinic(
    session: SessionDep, me: Principal, permission: Permission, requested: str | None
) -> Clinic | None:
    """The clinic a staff page acts on: clinic staff their own (asking for another is refused
    and audited), an administrator the one asked for (``None``: not chosen or unknown)."""
    requested = (requested or "").strip() or None
    if me.role == Role.CLINIC_STAFF:
        if requested is not None and requested != me.clinic_ref:
            raise deny(
                session=session,
                principal=me,
                permission=permission,
                reason="scope",
                entity="clinic",
                entity_id=requested[:64],
            )
        if not me.clinic_ref:
            return None
        return clinics.get_by_reference(session=session, reference=me.clinic_ref)
    if requested is None:
        return None
    return clinics.get_by_reference(session=session, reference=requested[:64])


def _clinic_query(me: Principal, clinic: Clinic | None) -> str:
    """The ``?clinic=`` an administrator's links and redirects carry."""
    if clinic is None or me.role == Role.CLINIC_STAFF:
        return ""
    return "?" + urlencode({"clinic": clinic.reference})


def _back(me: Principal, clinic: Clinic, path: str, **params: str | int) -> Response:
    query = {k: str(v) for k, v in params.items()}
    if me.role != Role.CLINIC_STAFF:
        query["clinic"] = clinic.reference
    return redirect(path + ("?" + urlencode(query) if query else ""))


def _check_scope(
    session: SessionDep, me: Principal, permission: Permission, clinic: Clinic, clinic_id: int
) -> None:
    """A record of ``clinic_id`` acted on from ``clinic``'s page: the same clinic, and one the
    principal reaches (403, audited)."""
    other = (
        clinic
        if clinic_id == clinic.id
        else clinics.get_or_raise(session=session, clinic_id=clinic_id)
    )
    if other is not clinic:
        raise deny(
            session=session,
            principal=me,
            permission=permission,
            reason="scope",
            entity="clinic",
            entity_id=clinic_id,
        )
    check_clinic(session=session, principal=me, permission=permission, clinic=clinic)


def _no_clinic_page(
    request: Request, session: SessionDep, me: Principal, template_page: str, status: int = 200
) -> Response:
    choices = clinics.list_(session=session, active=True) if me.role != Role.CLINIC_STAFF else []
    return render(
        request,
        "screening_staff_choose.html",
        {"choices": choices, "target": template_page, "clinic_ref": me.clinic_ref},
        principal=me,
        status_code=status,
    )


def _notice(done: str | None, value: str | None) -> tuple[str | None, str]:
    key = NOTICES.get(done or "")
    return key, (value or "")[:40]


def _queue_page(
    request: Request,
    session: SessionDep,
    me: Principal,
    clinic: Clinic,
    *,
    error: str | None = None,
    notice: tuple[str | None, str] = (None, ""),
    walk_in: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    now = utcnow()
    state = queue.live_queue(session=session, clinic=clinic, now=now)
    return render(
        request,
        "screening_staff.html",
        {
            "clinic": clinic,
            "state": state,
            "open_now": clinics.is_open(clinic, now),
            "clinic_param": _clinic_query(me, clinic),
            "error": error,
            "notice": notice[0],
            "notice_value": notice[1],
            "walk_in": walk_in,
        },
        principal=me,
        status_code=status,
        page_url="/screening/staff",
    )


@router.get("/screening/staff")
def staff_queue(
    request: Request,
    session: SessionDep,
    me: Operator,
    clinic: str | None = None,
    done: str | None = None,
    value: str | None = None,
) -> Response:
    """Today's queue of my clinic, lane by lane (or booth by booth), with check-in."""
    found = _my_clinic(session, me, Permission.CLINIC_OPERATE, clinic)
    if found is None:
        return _no_clinic_page(request, session, me, "/screening/staff")
    return _queue_page(request, session, me, found, notice=_notice(done, value))


@router.get("/screening/staff/queue.json")
def staff_queue_json(session: SessionDep, me: Operator, clinic: str | None = None) -> Response:
    """The queue's version: the page reloads itself when it changes (no personal data)."""
    found = _my_clinic(session, me, Permission.CLINIC_OPERATE, clinic)
    if found is None:
        return Response('{"version": null}', media_type="application/json")
    state = queue.live_queue(session=session, clinic=found)
    version = {
        "waiting": state.waiting,
        "done": state.done_today,
        "serving": [u.in_service.id if u.in_service else None for u in state.units],
        "tickets": [[w.entry.ticket for w in u.waiting] for u in state.units],
    }
    return Response(
        json.dumps({"version": hashlib.sha256(json.dumps(version).encode()).hexdigest()[:16]}),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _staff_action(
    request: Request, session: SessionDep, me: Operator, clinic: str
) -> Clinic | Response:
    found = _my_clinic(session, me, Permission.CLINIC_OPERATE, clinic)
    if found is None:
        return _no_clinic_page(request, session, me, "/screening/staff", status=422)
    return found


def _queue_refused(
    request: Request, session: SessionDep, me: Principal, clinic: Clinic, exc: Exception
) -> Response:
    """The queue page again with the form's error; a refusal (403) goes on to the app."""
    _pass_refusals(exc)
    return _queue_page(request, session, me, clinic, error=_reason(exc), status=_status_of(exc))


@router.post("/screening/staff/check-in")
def staff_check_in(
    request: Request,
    session: SessionDep,
    me: Operator,
    code: Annotated[str, Form(max_length=200)] = "",
    clinic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Check in an arrival: the booking's QR code as scanned, or its reference typed."""
    found = _staff_action(request, session, me, clinic)
    if isinstance(found, Response):
        return found
    try:
        entry = queue.check_in(session=session, actor=me.username, clinic=found, code=code)
    except CitytraceError as exc:
        return _queue_refused(request, session, me, found, exc)
    return _back(me, found, "/screening/staff", done="checked_in", value=entry.ticket)


@router.post("/screening/staff/walk-in")
def staff_walk_in(
    request: Request,
    session: SessionDep,
    me: Operator,
    full_name: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=200)] = "",
    language: Annotated[str, Form(max_length=5)] = "ko",
    clinic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Register someone who came without a booking: checked in at once; their reference and
    access code are shown once, to hand over."""
    found = _staff_action(request, session, me, clinic)
    if isinstance(found, Response):
        return found
    try:
        person = PersonIn(
            full_name=full_name.strip(),
            phone=phone.strip() or None,
            email=email.strip() or None,
            language=language if language in LANGUAGES else "ko",
        )
        result = bookings.walk_in(
            session=session, actor=me.username, clinic_id=found.id, person=person
        )
    except (CitytraceError, ValidationError) as exc:
        return _queue_refused(request, session, me, found, exc)
    entry = session.scalar(select(QueueEntry).where(QueueEntry.booking_id == result.booking.id))
    return _queue_page(
        request,
        session,
        me,
        found,
        walk_in={
            "reference": result.booking.reference,
            "code": result.access_code,
            "ticket": str(entry.ticket) if entry is not None else "",
        },
    )


def _entry_in_clinic(
    session: SessionDep, me: Principal, clinic: Clinic, entry_id: str
) -> QueueEntry:
    """The queue entry of the form (404 if absent; 403, audited, if of another clinic)."""
    number = _positive_id(entry_id)
    entry = queue.get_entry(session=session, entry_id=number) if number else None
    if entry is None:
        raise NotFoundError("no such ticket in today's queue")
    _check_scope(session, me, Permission.CLINIC_OPERATE, clinic, entry.clinic_id)
    return entry


@router.post("/screening/staff/call")
def staff_call(
    request: Request,
    session: SessionDep,
    me: Operator,
    unit_id: Annotated[str, Form(max_length=12)] = "",
    entry_id: Annotated[str, Form(max_length=12)] = "",
    clinic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Call a person to their lane or booth: the next one of a unit, or one chosen."""
    found = _staff_action(request, session, me, clinic)
    if isinstance(found, Response):
        return found
    try:
        if entry_id:
            entry = _entry_in_clinic(session, me, found, entry_id)
            called: QueueEntry | None = queue.call(
                session=session, actor=me.username, entry_id=entry.id
            )
        else:
            unit = _positive_id(unit_id)
            if unit is None:
                raise InputError("choose a lane or booth", location="unit_id")
            called = queue.call_next(session=session, actor=me.username, clinic=found, unit_id=unit)
    except CitytraceError as exc:
        return _queue_refused(request, session, me, found, exc)
    if called is None:
        return _back(me, found, "/screening/staff", done="nobody")
    return _back(me, found, "/screening/staff", done="called", value=called.ticket)


@router.post("/screening/staff/leave")
def staff_leave(
    request: Request,
    session: SessionDep,
    me: Operator,
    entry_id: Annotated[str, Form(max_length=12)] = "",
    clinic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Someone left the queue without being tested."""
    found = _staff_action(request, session, me, clinic)
    if isinstance(found, Response):
        return found
    try:
        entry = _entry_in_clinic(session, me, found, entry_id)
        queue.leave(session=session, actor=me.username, entry_id=entry.id)
    except CitytraceError as exc:
        return _queue_refused(request, session, me, found, exc)
    return _back(me, found, "/screening/staff", done="left", value=entry.ticket)


@router.post("/screening/staff/collect")
def staff_collect(
    request: Request,
    session: SessionDep,
    me: Operator,
    entry_id: Annotated[str, Form(max_length=12)] = "",
    clinic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Take the sample of the person in service: a new labelled sample (print its label)."""
    found = _staff_action(request, session, me, clinic)
    if isinstance(found, Response):
        return found
    try:
        entry = _entry_in_clinic(session, me, found, entry_id)
        sample = samples.collect(session=session, actor=me.username, entry_id=entry.id)
    except CitytraceError as exc:
        return _queue_refused(request, session, me, found, exc)
    return _back(me, found, "/screening/staff/samples", done="collected", value=sample.label)


# --- clinic staff: samples and results -------------------------------------------------------


def _samples_page(
    request: Request,
    session: SessionDep,
    me: Principal,
    clinic: Clinic,
    *,
    error: str | None = None,
    notice: tuple[str | None, str] = (None, ""),
    report: samples.LabImportReport | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rows = samples.list_(session=session, clinic_id=clinic.id, limit=200)
    new = None
    if notice[0] == NOTICES["collected"]:
        new = samples.get_by_label(session=session, label=notice[1])
        if new is not None and new.clinic_id != clinic.id:
            new = None
    return render(
        request,
        "screening_samples.html",
        {
            "clinic": clinic,
            "samples": rows,
            "references": _references(session, [s.booking_id for s in rows]),
            "clinic_param": _clinic_query(me, clinic),
            "can_write_results": me.can(Permission.RESULT_WRITE),
            "outcomes": [o.value for o in Outcome],
            "error": error,
            "notice": notice[0],
            "notice_value": notice[1],
            "report": report,
            "values": values or {},
            "new_sample": new,
        },
        principal=me,
        status_code=status,
        page_url="/screening/staff/samples",
    )


def _references(session: SessionDep, booking_ids: list[int]) -> dict[int, str]:
    if not booking_ids:
        return {}
    rows = session.execute(
        select(Booking.id, Booking.reference).where(Booking.id.in_(booking_ids))
    ).all()
    return {int(i): str(r) for i, r in rows}


@router.get("/screening/staff/samples")
def staff_samples(
    request: Request,
    session: SessionDep,
    me: Operator,
    clinic: str | None = None,
    done: str | None = None,
    value: str | None = None,
) -> Response:
    """My clinic's samples: labels, their way to the lab, results (one by one or a lab file)."""
    found = _my_clinic(session, me, Permission.CLINIC_OPERATE, clinic)
    if found is None:
        return _no_clinic_page(request, session, me, "/screening/staff/samples")
    return _samples_page(request, session, me, found, notice=_notice(done, value))


def _labels(raw: list[str]) -> list[str]:
    out: list[str] = []
    for item in raw:
        out.extend(part for part in item.replace(",", " ").split() if part)
    return out[:1000]


@router.post("/screening/staff/samples/send")
def staff_send_samples(
    request: Request,
    session: SessionDep,
    me: Operator,
    labels: Annotated[list[str] | None, Form(max_length=2000)] = None,
    lab: Annotated[str, Form(max_length=120)] = "",
    clinic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Send the chosen samples to a lab."""
    found = _my_clinic(session, me, Permission.CLINIC_OPERATE, clinic)
    if found is None:
        return _no_clinic_page(request, session, me, "/screening/staff/samples", status=422)
    chosen = _labels(labels or [])
    try:
        if not chosen:
            raise InputError("choose the samples to send", location="labels")
        if not lab.strip():
            raise InputError("name the lab", location="lab")
        sent = samples.send(
            session=session, actor=me.username, labels=chosen, lab=lab.strip(), clinic_id=found.id
        )
    except CitytraceError as exc:
        _pass_refusals(exc)
        return _samples_page(
            request, session, me, found, error=_reason(exc), status=_status_of(exc)
        )
    return _back(me, found, "/screening/staff/samples", done="sent", value=len(sent))


@router.post("/screening/staff/results")
def staff_enter_result(
    request: Request,
    session: SessionDep,
    me: ResultWriter,
    label: Annotated[str, Form(max_length=40)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
    clinic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Enter one sample's result (the same result again changes nothing)."""
    found = _my_clinic(session, me, Permission.RESULT_WRITE, clinic)
    if found is None:
        return _no_clinic_page(request, session, me, "/screening/staff/samples", status=422)
    values = {"label": label, "outcome": outcome}
    try:
        sample = samples.get_by_label(session=session, label=label) if label.strip() else None
        if sample is None or sample.clinic_id != found.id:
            raise InputError(f"no sample {label.strip()[:40]!r} at this clinic", location="label")
        if outcome not in {o.value for o in Outcome}:
            raise InputError("choose the result", location="outcome")
        recorded = samples.record_result(
            session=session, actor=me.username, sample_id=sample.id, outcome=Outcome(outcome)
        )
    except CitytraceError as exc:
        _pass_refusals(exc)
        return _samples_page(
            request,
            session,
            me,
            found,
            error=_reason(exc),
            values=values,
            status=_status_of(exc),
        )
    done = "result" if recorded.created else "result_again"
    return _back(me, found, "/screening/staff/samples", done=done, value=sample.label)


@router.post("/screening/staff/results/upload")
def staff_upload_results(
    request: Request,
    session: SessionDep,
    me: ResultWriter,
    file: Annotated[UploadFile | None, File()] = None,
    accept_valid: Annotated[str, Form(max_length=5)] = "",
    clinic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A lab's CSV of results: every bad row is reported; by default a file with a bad row
    stores nothing (with "store the good rows", the good ones are stored)."""
    found = _my_clinic(session, me, Permission.RESULT_WRITE, clinic)
    if found is None:
        return _no_clinic_page(request, session, me, "/screening/staff/samples", status=422)
    if file is None or not file.filename:
        return _samples_page(
            request, session, me, found, error="screening.samples.choose_file", status=422
        )
    name = Path(file.filename).name[:120]
    data = file.file.read(MAX_LAB_BYTES + 1)
    if len(data) > MAX_LAB_BYTES:
        return _samples_page(
            request, session, me, found, error="screening.samples.too_large", status=422
        )
    try:
        report = samples.import_lab_csv(
            session=session,
            actor=me.username,
            data=data,
            name=name,
            clinic_id=found.id,
            accept_valid=accept_valid == "1",
        )
    except samples.LabFileRefusedError as exc:
        return _samples_page(request, session, me, found, report=exc.report, status=422)
    except CitytraceError as exc:
        _pass_refusals(exc)
        refused = samples.LabImportReport(file=name, accepted=False)
        refused.errors.append(samples.RowError(0, None, _reason(exc)))
        return _samples_page(request, session, me, found, report=refused, status=422)
    return _samples_page(request, session, me, found, report=report)
