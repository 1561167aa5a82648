"""`citytrace disclosure ...`: the public place list, from drafts to the open-data export.

citytrace disclosure draft 12                 # drafts from case 12's reviewed route
citytrace disclosure review [--check]         # entries with their risk and the reason
citytrace disclosure edit 3 --time-step-min 60 --hide-name
citytrace disclosure override 3 --justification "..."
citytrace disclosure approve 3 4
citytrace disclosure publish 3 4
citytrace disclosure withdraw 3 --reason "wrong place"
citytrace disclosure export --format geojson --output places.geojson
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from citytrace.cli._common import actor, echo_json, session_scope
from citytrace.errors import InputError

app = typer.Typer(
    help="Public disclosure of places (drafts, risk, publication).", no_args_is_help=True
)


class View(StrEnum):
    OPEN = "open"
    PUBLISHED = "published"
    ENDED = "ended"
    ALL = "all"


class Format(StrEnum):
    GEOJSON = "geojson"
    CSV = "csv"
    JSON = "json"


def _line(entry: object) -> str:
    from citytrace.disclosure.models import DisclosureEntry
    from citytrace.disclosure.schemas import parse_reasons

    assert isinstance(entry, DisclosureEntry)
    reasons = "; ".join(r.text() for r in parse_reasons(entry.risk_reason)) or "-"
    k = "?" if entry.risk_k is None else str(entry.risk_k)
    return (
        f"#{entry.id} [{entry.status.value}] {entry.district_code} {entry.place_kind} "
        f"{entry.business_name or '-'} | {entry.road_address or '-'} | "
        f"{entry.exposure_start.isoformat()} .. {entry.exposure_end.isoformat()} | "
        f"risk {entry.risk_level.value} k={k}: {reasons}"
    )


@app.command("draft")
def draft(
    case_id: Annotated[int, typer.Argument(help="The case whose reviewed route is drafted.")],
    visit: Annotated[
        list[int] | None, typer.Option("--visit", help="Only these visits (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Draft entries from a case's confirmed visits inside its disclosure window."""
    from citytrace.disclosure import service
    from citytrace.disclosure.rules import SKIP_TEXT

    with session_scope() as session:
        result = service.draft_from_case(
            session=session, actor=actor(), case_id=case_id, visit_ids=visit or None
        )
    if as_json:
        echo_json(
            {
                "created": result.created,
                "merged": result.merged,
                "suppressed": result.suppressed,
                "skipped": [{"visit_id": v, "reason": s.value} for v, s in result.skipped],
            }
        )
        return
    typer.echo(
        f"drafted {len(result.created)} new entries, merged into {len(result.merged)}, "
        f"suppressed {len(result.suppressed)}"
    )
    for visit_id, skip in result.skipped:
        typer.echo(f"  visit {visit_id} skipped: {SKIP_TEXT[skip]}")


@app.command("review")
def review(
    view: Annotated[View, typer.Option("--view", help="Which entries.")] = View.OPEN,
    check: Annotated[
        bool, typer.Option("--check", help="Count the people around each entry again first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The entries with their risk and its reason, and the risk of the list as a whole."""
    from citytrace.disclosure import service
    from citytrace.disclosure.models import EntryStatus
    from citytrace.disclosure.schemas import EntryOut

    statuses = {
        View.OPEN: (EntryStatus.DRAFT, EntryStatus.APPROVED),
        View.PUBLISHED: (EntryStatus.PUBLISHED,),
        View.ENDED: (EntryStatus.WITHDRAWN, EntryStatus.EXPIRED, EntryStatus.SUPPRESSED),
        View.ALL: tuple(EntryStatus),
    }[view]
    with session_scope() as session:
        risk = (
            service.check_risk(session=session, actor=actor())
            if check
            else service.list_risk(session=session)
        )
        entries = service.list_(session=session, status=statuses)
        if as_json:
            echo_json(
                {
                    "risk": risk.__dict__,
                    "entries": [EntryOut.of(e).model_dump(mode="json") for e in entries],
                }
            )
            return
        typer.echo(
            f"{risk.entries} live entries: {risk.blocked} blocked, {risk.warnings} with warnings, "
            f"smallest k {risk.min_k if risk.min_k is not None else '?'}, "
            f"{risk.unknown_k} without population data, "
            f"{risk.linkable_cases} cases traceable through their own entries"
        )
        for entry in entries:
            typer.echo(_line(entry))


@app.command("edit")
def edit(
    entry_id: Annotated[int, typer.Argument()],
    time_step_min: Annotated[
        int | None, typer.Option("--time-step-min", help="Widen the window to this step.")
    ] = None,
    hide_name: Annotated[bool, typer.Option("--hide-name", help="Drop the business name.")] = False,
    district_only: Annotated[
        bool, typer.Option("--district-only", help="Show the district only.")
    ] = False,
    mass_exposure: Annotated[
        bool | None,
        typer.Option("--mass-exposure/--no-mass-exposure", help="Possible mass exposure."),
    ] = None,
    disinfected: Annotated[
        bool | None, typer.Option("--disinfected/--not-disinfected", help="Disinfection note.")
    ] = None,
    notes: Annotated[str | None, typer.Option("--notes")] = None,
    correction_note: Annotated[
        str | None,
        typer.Option("--correction-note", help="For a published entry: publish a correction."),
    ] = None,
) -> None:
    """Edit or generalise a draft; with --correction-note, correct a published entry."""
    from pydantic import ValidationError

    from citytrace.disclosure import service
    from citytrace.disclosure.models import EntryStatus, Precision
    from citytrace.disclosure.schemas import EntryEdit
    from citytrace.errors import from_validation

    values: dict[str, object] = {}
    if time_step_min is not None:
        values["time_step_min"] = time_step_min
    if hide_name:
        values["show_business_name"] = False
    if district_only:
        values["precision"] = Precision.DISTRICT
    if mass_exposure is not None:
        values["mass_exposure"] = mass_exposure
    if disinfected is not None:
        values["disinfected"] = disinfected
    if notes is not None:
        values["notes"] = notes
    try:
        data = EntryEdit.model_validate(values)
    except ValidationError as exc:
        raise from_validation(exc) from None
    with session_scope() as session:
        entry = service.get_or_raise(session=session, entry_id=entry_id)
        if entry.status == EntryStatus.PUBLISHED:
            if not correction_note:
                raise InputError(
                    "a published entry is corrected: give --correction-note", location="entry"
                )
            entry = service.correct(
                session=session, actor=actor(), entry_id=entry_id, data=data, note=correction_note
            )
        else:
            entry = service.update(session=session, actor=actor(), entry_id=entry_id, data=data)
        typer.echo(_line(entry))


@app.command("override")
def override(
    entry_id: Annotated[int, typer.Argument()],
    justification: Annotated[str, typer.Option("--justification", help="Why (recorded).")],
) -> None:
    """Publish a blocked entry all the same: the justification is recorded and audited."""
    from citytrace.disclosure import service

    with session_scope() as session:
        entry = service.override(
            session=session, actor=actor(), entry_id=entry_id, justification=justification
        )
        typer.echo(_line(entry))


@app.command("approve")
def approve(entry_ids: Annotated[list[int], typer.Argument(help="Entries to approve.")]) -> None:
    """Approve drafts for publication (all or none; blocked ones are refused)."""
    from citytrace.disclosure import service

    with session_scope() as session:
        entries = service.approve(session=session, actor=actor(), entry_ids=entry_ids)
        for entry in entries:
            typer.echo(_line(entry))


@app.command("publish")
def publish(entry_ids: Annotated[list[int], typer.Argument(help="Approved entries.")]) -> None:
    """Publish approved entries (all or none); the open-data feed changes with them."""
    from citytrace.disclosure import service

    with session_scope() as session:
        result = service.publish(session=session, actor=actor(), entry_ids=entry_ids)
    typer.echo(
        f"published {result.published}; suppressed (all contacts identified) {result.suppressed}"
    )


@app.command("withdraw")
def withdraw(
    entry_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason", help="Published with the withdrawal.")],
) -> None:
    """Withdraw a published entry; the change feed tells consumers, with the reason."""
    from citytrace.disclosure import service

    with session_scope() as session:
        entry = service.withdraw(session=session, actor=actor(), entry_id=entry_id, reason=reason)
        typer.echo(_line(entry))


@app.command("expire")
def expire() -> None:
    """Expire what is due and suppress places whose contacts are all identified, now (the
    service does this by itself; this is for a system timer when it is not running)."""
    from citytrace.db import utcnow
    from citytrace.disclosure import service

    now = utcnow()
    with session_scope() as session:
        expired = service.expire_due(session=session, actor=actor(), now=now)
        suppressed = service.suppress_identified(session=session, actor=actor(), now=now)
    typer.echo(f"expired {expired}, suppressed {suppressed}")


@app.command("export")
def export(
    fmt: Annotated[Format, typer.Option("--format", help="geojson, csv or json.")],
    output: Annotated[
        Path | None, typer.Option("--output", help="Write here (default: standard output).")
    ] = None,
) -> None:
    """The published place list as open data, as served at /api/public/."""
    from citytrace.db import utcnow
    from citytrace.disclosure import feed, service

    if output is not None and output.is_dir():
        raise InputError("is a folder, not a file", location=f"--output {output}")
    with session_scope() as session:
        body = feed.render(service.published_entries(session, utcnow()), fmt.value)
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        temporary.write_bytes(body)
        temporary.replace(output)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(
            f"cannot be written ({exc.strerror})", location=f"--output {output}"
        ) from None
    typer.echo(f"wrote {len(body)} bytes to {output}", err=True)
