"""`citytrace case ...`: register cases, attach evidence, show and review routes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citytrace.cases import service
from citytrace.cases.schemas import CaseCreate, CaseOut, IdentityIn
from citytrace.cli._common import actor, echo_json, parse_date, session_scope
from citytrace.errors import InputError, from_validation
from citytrace.evidence import service as evidence
from citytrace.evidence.readers import EvidenceKind
from citytrace.investigation import service as investigation
from citytrace.investigation.schemas import ReviewAction, VisitEdit, VisitOut

app = typer.Typer(help="Confirmed cases, their evidence and their route.", no_args_is_help=True)
visit_app = typer.Typer(help="Review one visit of a route.", no_args_is_help=True)
app.add_typer(visit_app, name="visit")


@app.command("create")
def create(
    confirmed: Annotated[str, typer.Option(help="Confirmation date, YYYY-MM-DD.")],
    onset: Annotated[str | None, typer.Option(help="Symptom onset date.")] = None,
    specimen: Annotated[str | None, typer.Option(help="Specimen collection date.")] = None,
    isolated: Annotated[str | None, typer.Option(help="Isolation date.")] = None,
    district: Annotated[str | None, typer.Option(help="District code, e.g. 11140.")] = None,
    reference: Annotated[
        str | None, typer.Option(help="Case reference; made up if absent.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Patient's name (stored apart).")] = None,
    phone: Annotated[str | None, typer.Option(help="Patient's phone (stored apart).")] = None,
) -> None:
    """Register a confirmed case."""
    try:
        data = CaseCreate(
            confirmed_date=parse_date(confirmed, "--confirmed"),
            symptom_onset_date=parse_date(onset, "--onset"),
            specimen_collected_date=parse_date(specimen, "--specimen"),
            isolated_date=parse_date(isolated, "--isolated"),
            district_code=district,
            reference=reference,
            identity=None if name is None else IdentityIn(full_name=name, phone=phone),
        )
    except ValueError as exc:
        raise from_validation(exc) from None
    with session_scope() as session:
        case = service.create(session=session, actor=actor(), data=data)
        typer.echo(f"case {case.id} ({case.reference}) registered")


@app.command("list")
def list_(
    district: Annotated[str | None, typer.Option(help="Only this district.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List cases, newest confirmation first."""
    with session_scope() as session:
        rows = service.list_(session=session, district_code=district)
        if as_json:
            echo_json([CaseOut.model_validate(c).model_dump(mode="json") for c in rows])
            return
        for c in rows:
            typer.echo(
                f"{c.id:>5}  {c.reference:<16} {c.district_code or '-':<6} "
                f"confirmed {c.confirmed_date}  {c.status}"
            )


def _print_route(visits: list[VisitOut]) -> None:
    from zoneinfo import ZoneInfo

    from citytrace.config import get_settings

    tz = ZoneInfo(get_settings().timezone)
    for v in visits:
        start = v.started_at.astimezone(tz)
        end = v.finished_at.astimezone(tz)
        place = v.venue_name or v.venue_kind or f"{v.latitude:.5f},{v.longitude:.5f}"
        typer.echo(
            f"{v.id:>6}  {start:%Y-%m-%d %H:%M}-{end:%H:%M}  {v.district_code or '-':<6} "
            f"{place[:32]:<32} {','.join(v.evidence_kinds):<22} {v.confidence:.2f} {v.status}"
        )


@app.command("show")
def show(
    case_id: int,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a case, its evidence and its route."""
    with session_scope() as session:
        case = service.get_or_raise(session=session, case_id=case_id)
        window = service.window(case)
        files = evidence.list_(session=session, case_id=case_id)
        visits = [
            VisitOut.model_validate(v)
            for v in investigation.list_visits(session=session, case_id=case_id)
        ]
        if as_json:
            echo_json(
                {
                    "case": CaseOut.model_validate(case).model_dump(mode="json")
                    | {"window_start": window.start, "window_end": window.end},
                    "evidence": [
                        {
                            "id": e.id,
                            "kind": e.kind,
                            "name": e.original_name,
                            "fixes": e.n_fixes,
                            "observations": e.n_observations,
                            "rejected": e.records_rejected,
                        }
                        for e in files
                    ],
                    "route": [v.model_dump(mode="json") for v in visits],
                }
            )
            return
        typer.echo(
            f"case {case.id} {case.reference}  district {case.district_code or '-'}  {case.status}"
        )
        typer.echo(f"window {window.start.isoformat()} .. {window.end.isoformat()}")
        for e in files:
            typer.echo(
                f"  evidence {e.id}: {e.kind} {e.original_name} "
                f"({e.n_fixes} fixes, {e.n_observations} observations, "
                f"{e.records_rejected} rejected)"
            )
        _print_route(visits)


@app.command("attach")
def attach(
    case_id: int,
    files: Annotated[
        list[Path], typer.Argument(help="Evidence files.", exists=True, dir_okay=False)
    ],
    kind: Annotated[
        EvidenceKind | None, typer.Option(help="Kind of all files; sniffed if absent.")
    ] = None,
    assume_tz: Annotated[str | None, typer.Option(help="Zone for times without an offset.")] = None,
) -> None:
    """Attach evidence files (each one import, all or nothing) and rebuild the route."""
    for path in files:
        with session_scope() as session:
            result = evidence.attach(
                session=session,
                actor=actor(),
                case_id=case_id,
                path=path,
                kind=kind,
                assume_tz=assume_tz,
            )
            e = result.evidence
            if not result.created:
                typer.echo(f"{path}: already attached as evidence {e.id}; nothing changed")
                continue
            typer.echo(
                f"{path}: {e.kind}, {e.records_read} records, {e.n_fixes} fixes, "
                f"{e.n_observations} observations, {e.records_rejected} rejected"
            )
            for issue in e.issues[:20]:
                typer.echo(f"  {issue['severity']}: {issue['location']}: {issue['reason']}")
            if len(e.issues) > 20:
                typer.echo(f"  ... and {len(e.issues) - 20} more")
            result_route = investigation.rebuild_route(
                session=session, actor=actor(), case_id=case_id
            )
            typer.echo(f"route: {result_route.proposed} visits proposed")


@app.command("route")
def route(
    case_id: int,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Propose visits anew first.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the case's route of visits."""
    with session_scope() as session:
        service.get_or_raise(session=session, case_id=case_id)
        if rebuild:
            investigation.rebuild_route(session=session, actor=actor(), case_id=case_id)
        visits = [
            VisitOut.model_validate(v)
            for v in investigation.list_visits(session=session, case_id=case_id)
        ]
        if as_json:
            echo_json([v.model_dump(mode="json") for v in visits])
        else:
            _print_route(visits)


def _review(visit_id: int, action: ReviewAction, edit: VisitEdit | None) -> None:
    with session_scope() as session:
        visit = investigation.review_visit(
            session=session, actor=actor(), visit_id=visit_id, action=action, edit=edit
        )
        typer.echo(f"visit {visit.id}: {visit.status}{' (edited)' if visit.edited else ''}")


@visit_app.command("confirm")
def confirm(visit_id: int) -> None:
    """Confirm a visit."""
    _review(visit_id, ReviewAction.CONFIRM, None)


@visit_app.command("reject")
def reject(
    visit_id: int, note: Annotated[str | None, typer.Option(help="Why it is rejected.")] = None
) -> None:
    """Reject a visit."""
    _review(visit_id, ReviewAction.REJECT, VisitEdit(note=note) if note else None)


@visit_app.command("edit")
def edit(
    visit_id: int,
    started_at: Annotated[str | None, typer.Option(help="ISO 8601 with offset.")] = None,
    finished_at: Annotated[str | None, typer.Option(help="ISO 8601 with offset.")] = None,
    latitude: Annotated[float | None, typer.Option()] = None,
    longitude: Annotated[float | None, typer.Option()] = None,
    venue_name: Annotated[str | None, typer.Option()] = None,
    venue_kind: Annotated[str | None, typer.Option()] = None,
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Correct a visit; an edited visit counts as confirmed."""
    values = {
        k: v
        for k, v in {
            "started_at": started_at,
            "finished_at": finished_at,
            "latitude": latitude,
            "longitude": longitude,
            "venue_name": venue_name,
            "venue_kind": venue_kind,
            "note": note,
        }.items()
        if v is not None
    }
    try:
        changes = VisitEdit(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise from_validation(exc) from None
    _review(visit_id, ReviewAction.EDIT, changes)


contact_app = typer.Typer(help="Follow up one contact of a case.", no_args_is_help=True)
app.add_typer(contact_app, name="contact")


@app.command("contacts")
def contacts_(
    case_id: int,
    search: Annotated[
        bool, typer.Option("--search", help="Search the city's records first.")
    ] = False,
    distance_m: Annotated[float, typer.Option(help="Contact distance D, metres.")] = 20.0,
    min_overlap_min: Annotated[float, typer.Option(help="Least overlap T, minutes.")] = 15.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a case's contacts, after searching for them with --search."""
    from citytrace.contacts import service as contacts
    from citytrace.contacts.schemas import ContactOut

    with session_scope() as session:
        service.get_or_raise(session=session, case_id=case_id)
        if search:
            found = contacts.search(
                session=session,
                actor=actor(),
                case_id=case_id,
                distance_m=distance_m,
                min_overlap_min=min_overlap_min,
            )
            typer.echo(f"search: {found.found} contacts ({found.new} new, {found.updated} updated)")
        rows = [
            ContactOut.model_validate(c) for c in contacts.list_(session=session, case_id=case_id)
        ]
        if as_json:
            echo_json([c.model_dump(mode="json") for c in rows])
            return
        for c in rows:
            typer.echo(
                f"{c.id:>6}  person {c.person_ref:<10} first {c.first_contact_at:%Y-%m-%d %H:%M}Z "
                f"{c.max_overlap_min:>5.0f} min {c.min_distance_m:>5.1f} m  {c.risk_class:<6} "
                f"{c.state:<13} quarantine until {c.quarantine_until_date}"
            )


@app.command("chain")
def chain(
    case_id: int,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The transmission chain of a case: every case linked to it by transmission, directly or
    through others, by generation, with the cases each may have been infected by."""
    from citytrace.contacts import service as contacts
    from citytrace.contacts.schemas import ChainCaseOut

    with session_scope() as session:
        found = contacts.transmission_chain(session=session, actor=actor(), case_id=case_id)
    rows = [ChainCaseOut.model_validate(c) for c in found.cases]
    if as_json:
        echo_json(
            {
                "links": found.links,
                "generations": found.generations,
                "cases": [r.model_dump(mode="json") for r in rows],
            }
        )
        return
    typer.echo(f"{len(rows)} cases, {found.links} links, {found.generations} generations")
    refs = found.references()
    for r in rows:
        by = ", ".join(refs[a] for a in r.infected_by) or "-"
        mark = "*" if r.case_id == case_id else " "
        typer.echo(
            f"{mark} generation {r.generation:>3}  {r.reference:<14} {r.district_code or '-':<6} "
            f"confirmed {r.confirmed_date}  infected by {by}"
        )


@app.command("contacts-due")
def contacts_due(
    district: Annotated[str | None, typer.Option(help="Only this district's cases.")] = None,
    on: Annotated[str | None, typer.Option(help="The day, YYYY-MM-DD (default: today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Contacts of every case whose follow-up needs an action: register a case (tested
    positive), notify, quarantine, release; most urgent first, the longest waiting first."""
    from citytrace.contacts import service as contacts
    from citytrace.contacts.schemas import DueOut

    with session_scope() as session:
        rows = [
            DueOut.of(d)
            for d in contacts.due(
                session=session,
                actor=actor(),
                today=parse_date(on, "--on"),
                district_code=district,
            )
        ]
    if as_json:
        echo_json([d.model_dump(mode="json") for d in rows])
        return
    if not rows:
        typer.echo("no contact needs an action")
    for d in rows:
        c = d.contact
        typer.echo(
            f"{d.action:<13} since {d.since} ({d.waiting_days} d)  case {d.case_reference:<14} "
            f"contact {c.id:>6} (person {c.person_ref}, {c.risk_class}, {c.state}, "
            f"quarantine until {c.quarantine_until_date})"
        )


@contact_app.command("move")
def move(
    contact_id: int,
    state: Annotated[str, typer.Argument(help="notified, tested, in_quarantine or released.")],
    result: Annotated[str | None, typer.Option(help="Test result, with 'tested'.")] = None,
    note: Annotated[str | None, typer.Option(help="A note on the contact.")] = None,
    override_reason: Annotated[
        str | None, typer.Option(help="Why release comes before the end of quarantine.")
    ] = None,
) -> None:
    """Move a contact to its next state of follow-up."""
    from citytrace.contacts import service as contacts
    from citytrace.contacts.models import ContactState

    try:
        target = ContactState(state)
    except ValueError:
        choices = ", ".join(s.value for s in ContactState)
        raise InputError(f"unknown state {state!r}; one of {choices}", location="STATE") from None
    with session_scope() as session:
        moved = contacts.transition(
            session=session,
            actor=actor(),
            contact_id=contact_id,
            state=target,
            test_result=result,
            note=note,
            override_reason=override_reason,
        )
        typer.echo(f"contact {moved.id}: {moved.state}")
