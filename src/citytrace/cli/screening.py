"""`citytrace screening ...`: the clinic registry and its import, slots and bookings, the
arrival queue, lab results and the outbox of result notifications."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from citytrace.cli._common import actor, echo_json, parse_date, session_scope
from citytrace.errors import InputError, from_validation
from citytrace.screening.models import Clinic

app = typer.Typer(help="Screening clinics, bookings, queues and results.", no_args_is_help=True)
clinics_app = typer.Typer(help="The registry of screening clinics.", no_args_is_help=True)
results_app = typer.Typer(help="Test results from labs.", no_args_is_help=True)
outbox_app = typer.Typer(help="Result notifications.", no_args_is_help=True)
app.add_typer(clinics_app, name="clinics")
app.add_typer(results_app, name="results")
app.add_typer(outbox_app, name="outbox")


def _clinic(session: Session, ref: str) -> Clinic:
    """A clinic by its reference or id."""
    from citytrace.screening import clinics

    found = clinics.get_by_reference(session=session, reference=ref)
    if found is None and ref.isdigit() and int(ref) < 2**31:
        found = clinics.get(session=session, clinic_id=int(ref))
    if found is None:
        raise InputError(f"no clinic {ref!r} (give its reference or id)", location="CLINIC")
    return found


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    from citytrace.screening import clinics

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{value!r} is not a time (2020-03-05T10:30, or with an offset)", location=option
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=clinics.zone())


def _local(at: datetime | None) -> str:
    if at is None:
        return "-"
    from citytrace.screening import clinics

    return at.astimezone(clinics.zone()).strftime("%Y-%m-%d %H:%M")


# --- clinics -------------------------------------------------------------------------------


@clinics_app.command("import")
def import_clinics(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Clinic list CSVs (information and region files); none: the packaged list."
        ),
    ] = None,
    drive_through: Annotated[
        list[Path] | None,
        typer.Option("--drive-through", help="A file listing drive-through clinics."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import clinic lists and print the import report (counts, placement, merges, rejected
    rows with their lines). Importing again updates, never duplicates."""
    from dataclasses import asdict

    from citytrace.screening import clinics

    with session_scope() as session:
        if files:
            report = clinics.import_files(
                session=session,
                actor=actor(),
                paths=[*files, *(drive_through or [])],
                drive_through=drive_through or (),
            )
        else:
            report = clinics.import_packaged(session=session, actor=actor())
    if as_json:
        echo_json(asdict(report) | {"location_unknown": report.location_unknown})
    else:
        typer.echo(report.summary())


@clinics_app.command("list")
def list_clinics(
    province: Annotated[str | None, typer.Option(help="Only this province, e.g. 서울.")] = None,
    district: Annotated[str | None, typer.Option(help="Only this district code.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="drive_through, walk_through or conventional.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Part of the name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List clinics by province and name."""
    from citytrace.screening import clinics
    from citytrace.screening.models import ClinicKind
    from citytrace.screening.schemas import ClinicOut

    try:
        wanted = None if kind is None else ClinicKind(kind)
    except ValueError:
        raise InputError(f"unknown kind {kind!r}", location="--kind") from None
    with session_scope() as session:
        rows = clinics.list_(
            session=session,
            province=province,
            district_code=district,
            kind=wanted,
            name_contains=name,
        )
        if as_json:
            echo_json([ClinicOut.model_validate(c).model_dump(mode="json") for c in rows])
            return
        for c in rows:
            typer.echo(
                f"{c.id:>5}  {c.reference:<14} {c.kind:<13} {c.province:<4} "
                f"{c.district_name:<8} {c.location_precision:<8} {c.unit_count} units  "
                f"{c.weekday_hours or '?'} / {c.saturday_hours or '?'} / "
                f"{c.holiday_hours or '?'}  {c.name}"
            )
        typer.echo(f"{len(rows)} clinics")


@clinics_app.command("set")
def set_clinic(
    clinic: Annotated[str, typer.Argument(help="The clinic's reference or id.")],
    units: Annotated[int | None, typer.Option(help="Lanes or booths in use.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="drive_through, walk_through, conventional.")
    ] = None,
    service_time_min: Annotated[int | None, typer.Option(help="Minutes a person.")] = None,
    ventilation_min: Annotated[int | None, typer.Option(help="Booth ventilation wait.")] = None,
    disinfection_min: Annotated[int | None, typer.Option(help="Disinfectant contact.")] = None,
    weekday_hours: Annotated[str | None, typer.Option(help="HH:MM-HH:MM or closed.")] = None,
    saturday_hours: Annotated[str | None, typer.Option(help="HH:MM-HH:MM or closed.")] = None,
    holiday_hours: Annotated[str | None, typer.Option(help="HH:MM-HH:MM or closed.")] = None,
    latitude: Annotated[float | None, typer.Option(help="The clinic's own position.")] = None,
    longitude: Annotated[float | None, typer.Option(help="The clinic's own position.")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
) -> None:
    """Change a clinic's units, service and turnover times, hours, position or state."""
    from citytrace.screening import clinics
    from citytrace.screening.schemas import ClinicUpdate

    given = {
        "units": units,
        "kind": kind,
        "service_time_min": service_time_min,
        "ventilation_min": ventilation_min,
        "disinfection_min": disinfection_min,
        "weekday_hours": weekday_hours,
        "saturday_hours": saturday_hours,
        "holiday_hours": holiday_hours,
        "latitude": latitude,
        "longitude": longitude,
        "active": active,
    }
    try:
        data = ClinicUpdate(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise from_validation(exc) from None
    with session_scope() as session:
        found = _clinic(session, clinic)
        changed = clinics.update(session=session, actor=actor(), clinic_id=found.id, data=data)
        typer.echo(
            f"clinic {changed.reference}: {changed.kind}, {changed.unit_count} units, "
            f"{changed.slot_interval_min} min a slot"
        )


@app.command("slots")
def slots(
    clinic: Annotated[str, typer.Argument(help="The clinic's reference or id.")],
    day: Annotated[
        str | None, typer.Option(help="Local date YYYY-MM-DD; today by default.")
    ] = None,
) -> None:
    """The free slots of a day."""
    from citytrace.db import utcnow
    from citytrace.screening import booking, clinics

    with session_scope() as session:
        found = _clinic(session, clinic)
        when = parse_date(day, "--day") or clinics.local_date(utcnow())
        free = booking.free_slots(session=session, clinic=found, day=when)
        for s in free:
            typer.echo(f"{_local(s.starts_at)}  {s.free_units} free")
        typer.echo(f"{len(free)} slots with a free unit on {when}")


@app.command("book")
def book(
    clinic: Annotated[str, typer.Argument(help="The clinic's reference or id.")],
    name: Annotated[str, typer.Option(help="The person's name (sealed at rest).")],
    phone: Annotated[str | None, typer.Option(help="For the result (sealed).")] = None,
    email: Annotated[str | None, typer.Option(help="For the result (sealed).")] = None,
    at: Annotated[str | None, typer.Option(help="Slot start, e.g. 2020-03-05T10:30.")] = None,
    day: Annotated[str | None, typer.Option(help="The earliest free slot of this day.")] = None,
    language: Annotated[str, typer.Option(help="ko or en.")] = "ko",
    idempotency_key: Annotated[str | None, typer.Option(help="Retry safely.")] = None,
) -> None:
    """Book a slot; prints the reference and the access code (shown once)."""
    from citytrace.screening import booking
    from citytrace.screening.schemas import PersonIn

    try:
        person = PersonIn(full_name=name, phone=phone, email=email, language=language)
    except ValueError as exc:
        raise from_validation(exc) from None
    with session_scope() as session:
        found = _clinic(session, clinic)
        result = booking.book(
            session=session,
            actor=actor(),
            clinic_id=found.id,
            person=person,
            starts_at=_time(at, "--at"),
            day=parse_date(day, "--day"),
            idempotency_key=idempotency_key,
        )
        b = result.booking
        typer.echo(
            f"booking {b.reference} at {_local(b.slot_starts_at)}; access code "
            f"{result.access_code}"
            + (" (an earlier booking of this key)" if result.replayed else "")
        )


@app.command("cancel")
def cancel(reference: Annotated[str, typer.Argument(help="The booking reference.")]) -> None:
    """Cancel a booking and free its slot."""
    from citytrace.screening import booking

    with session_scope() as session:
        found = booking.get_by_reference(session=session, reference=reference)
        if found is None:
            raise InputError(f"no booking {reference!r}", location="REFERENCE")
        booking.cancel(session=session, actor=actor(), booking_id=found.id)
        typer.echo(f"booking {found.reference} cancelled")


@app.command("reschedule")
def reschedule(
    reference: Annotated[str, typer.Argument(help="The booking reference.")],
    at: Annotated[str, typer.Option(help="The new slot's start.")],
) -> None:
    """Move a booking to another slot of its clinic."""
    from citytrace.screening import booking

    starts_at = _time(at, "--at")
    assert starts_at is not None
    with session_scope() as session:
        found = booking.get_by_reference(session=session, reference=reference)
        if found is None:
            raise InputError(f"no booking {reference!r}", location="REFERENCE")
        moved = booking.reschedule(
            session=session, actor=actor(), booking_id=found.id, starts_at=starts_at
        )
        typer.echo(f"booking {moved.reference} moved to {_local(moved.slot_starts_at)}")


@app.command("check-in")
def check_in(
    clinic: Annotated[str, typer.Argument(help="The clinic's reference or id.")],
    code: Annotated[str, typer.Argument(help="The QR code's text or the booking reference.")],
) -> None:
    """Check in an arrival: prints their ticket and lane or booth."""
    from citytrace.screening import queue

    with session_scope() as session:
        found = _clinic(session, clinic)
        entry = queue.check_in(session=session, actor=actor(), clinic=found, code=code)
        typer.echo(f"ticket {entry.ticket} at unit {entry.unit_id}")


@app.command("queue")
def show_queue(
    clinic: Annotated[str, typer.Argument(help="The clinic's reference or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Today's queue, lane by lane or booth by booth, with estimated waits."""
    from citytrace.screening import queue

    with session_scope() as session:
        found = _clinic(session, clinic)
        state = queue.live_queue(session=session, clinic=found)
        if as_json:
            echo_json(
                {
                    "service_date": state.service_date.isoformat(),
                    "estimated_wait_min": state.estimated_wait_min,
                    "units": [
                        {
                            "label": u.label,
                            "in_service": u.in_service_reference,
                            "waiting": [w.reference for w in u.waiting],
                            "estimated_wait_min": u.estimated_wait_min,
                        }
                        for u in state.units
                    ],
                }
            )
            return
        for u in state.units:
            serving = u.in_service_reference or "-"
            tickets = " ".join(str(w.entry.ticket) for w in u.waiting) or "-"
            typer.echo(
                f"{u.label}: serving {serving}; waiting {tickets}; "
                f"a new arrival waits about {u.estimated_wait_min:.0f} min"
            )
        typer.echo(f"done today: {state.done_today}")


@app.command("find")
def find(
    latitude: Annotated[float, typer.Option("--lat", help="Latitude (WGS84).")],
    longitude: Annotated[float, typer.Option("--lon", help="Longitude (WGS84).")],
    limit: Annotated[int, typer.Option(help="How many.")] = 5,
    open_now: Annotated[bool, typer.Option("--open-now", help="Only clinics open now.")] = False,
) -> None:
    """The nearest clinics to a point, with wait and next free slot."""
    from citytrace.screening import finder

    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InputError("not a position on Earth", location="--lat/--lon")
    with session_scope() as session:
        for n in finder.nearest(
            session=session,
            latitude=latitude,
            longitude=longitude,
            limit=max(1, min(limit, 50)),
            open_now=open_now,
        ):
            approx = "~" if n.approximate else ""
            wait = "closed" if n.current_wait_min is None else f"wait {n.current_wait_min:.0f} min"
            typer.echo(
                f"{approx}{n.distance_m / 1000:.1f} km  {n.clinic.kind:<13} {wait:<12} "
                f"next {_local(n.next_free_slot)}  {n.clinic.name} ({n.clinic.reference})"
            )


# --- results -------------------------------------------------------------------------------


@results_app.command("import")
def import_results(
    file: Annotated[Path, typer.Argument(help="A lab's CSV: sample_id,result[,reported_at].")],
    clinic: Annotated[str | None, typer.Option(help="Only samples of this clinic.")] = None,
    accept_valid_rows: Annotated[
        bool,
        typer.Option("--accept-valid-rows", help="Store the good rows even if others are bad."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Store the results of a lab's file. A file with a bad row stores nothing (unless
    --accept-valid-rows) and every bad row is listed with its line."""
    from dataclasses import asdict

    from citytrace.screening import samples

    report: samples.LabImportReport
    try:
        with session_scope() as session:
            clinic_id = None if clinic is None else _clinic(session, clinic).id
            report = samples.import_lab_file(
                session=session,
                actor=actor(),
                path=file,
                clinic_id=clinic_id,
                accept_valid=accept_valid_rows,
            )
    except samples.LabFileRefusedError as refused:
        report = refused.report
    if as_json:
        echo_json(asdict(report))
    else:
        typer.echo(report.summary())
    if not report.accepted:
        sys.exit(1)


@results_app.command("enter")
def enter_result(
    sample: Annotated[str, typer.Argument(help="The sample id (label).")],
    outcome: Annotated[str, typer.Argument(help="positive, negative or inconclusive.")],
    at: Annotated[str | None, typer.Option(help="When the lab had it; now by default.")] = None,
) -> None:
    """Enter one result (the same result again changes nothing)."""
    from citytrace.screening import samples
    from citytrace.screening.models import Outcome

    try:
        value = Outcome(outcome)
    except ValueError:
        raise InputError(
            f"{outcome!r} is not positive, negative or inconclusive", location="OUTCOME"
        ) from None
    with session_scope() as session:
        found = samples.get_by_label(session=session, label=sample)
        if found is None:
            raise InputError(f"unknown sample id {sample!r}", location="SAMPLE")
        recorded = samples.record_result(
            session=session,
            actor=actor(),
            sample_id=found.id,
            outcome=value,
            reported_at=_time(at, "--at"),
        )
        if not recorded.created:
            typer.echo(f"{found.label}: {value} was stored already; nothing changed")
        else:
            case = recorded.result.case_id
            typer.echo(
                f"{found.label}: {value} stored"
                + (f"; case {case} opened" if case is not None else "")
            )


# --- outbox --------------------------------------------------------------------------------


@outbox_app.command("send")
def send(
    limit: Annotated[int, typer.Option(help="At most this many messages.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send the result notifications that are due (each once; failures retried later)."""
    from dataclasses import asdict

    from citytrace.db import get_engine, session_factory
    from citytrace.migrations import upgrade
    from citytrace.screening import outbox

    engine = get_engine()
    upgrade(engine)
    # A plain session: each message is claimed, sent and marked in transactions of its own.
    with session_factory(engine)() as session:
        report = outbox.send_pending(session=session, actor=actor(), limit=max(1, limit))
    if as_json:
        echo_json(asdict(report))
        return
    typer.echo(
        f"sent {report.sent}, to retry {report.retried}, failed {report.failed}, "
        f"skipped {report.skipped}"
    )
    for error in report.errors:
        typer.echo(f"  {error}")


@outbox_app.command("list")
def list_outbox(
    status: Annotated[str | None, typer.Option(help="pending, sending, sent or failed.")] = None,
) -> None:
    """Notifications, newest first (no text, no address)."""
    from citytrace.screening import outbox
    from citytrace.screening.models import OutboxStatus

    try:
        wanted = None if status is None else OutboxStatus(status)
    except ValueError:
        raise InputError(f"unknown status {status!r}", location="--status") from None
    with session_scope() as session:
        for m in outbox.list_(session=session, status=wanted):
            typer.echo(
                f"{m.id:>6}  result {m.result_id:<6} {m.channel:<8} {m.status:<8} "
                f"attempts {m.attempts}  sent {_local(m.sent_at)}  {m.last_error or ''}"
            )
