"""`citytrace audit ...`: list the audit log and verify its hash chain."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from citytrace.audit import service
from citytrace.cli._common import actor, echo_json, session_scope
from citytrace.config import get_settings
from citytrace.errors import InputError

app = typer.Typer(help="The audit log.", no_args_is_help=True)


def _parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time; without an offset, in the configured time zone."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{value!r} is not an ISO 8601 date or time", location=option) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return parsed


@app.command("verify")
def verify() -> None:
    """Walk the hash chain; exit code 1 and the first broken event if it does not hold."""
    with session_scope() as session:
        check = service.verify_and_record(session=session, actor=actor())
    if check.ok:
        typer.echo(f"audit chain intact: {check.events} events, head {check.head}")
        return
    typer.secho(
        f"audit chain broken at event {check.broken_id}: {check.reason} "
        f"({check.events} events before it are intact)",
        err=True,
        fg=typer.colors.RED,
    )
    # SystemExit, not typer.Exit: the entry point runs click with standalone_mode=False, where
    # click would turn typer.Exit into a return value and the exit code would be lost.
    sys.exit(1)


@app.command("list")
def list_(
    actor_: Annotated[str | None, typer.Option("--actor", help="Only this actor.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. case.identity.read.")
    ] = None,
    entity: Annotated[str | None, typer.Option(help="Only this kind of entity, e.g. case.")] = None,
    entity_id: Annotated[str | None, typer.Option(help="Only this entity id.")] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time (ISO 8601 with offset).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Before this time (ISO 8601 with offset).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List audit events, newest first."""
    where = service.AuditFilter(
        actor=actor_,
        action=action,
        entity=entity,
        entity_id=entity_id,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
    )
    with session_scope() as session:
        page = service.search(session=session, actor=actor(), where=where, limit=limit)
        if as_json:
            echo_json(
                [
                    {
                        "id": e.id,
                        "at": e.at.isoformat(),
                        "actor": e.actor,
                        "action": e.action,
                        "entity": e.entity,
                        "entity_id": e.entity_id,
                        "client": e.client,
                        "detail": e.detail,
                    }
                    for e in page.events
                ]
            )
            return
        for e in page.events:
            typer.echo(
                f"{e.id:>7}  {e.at:%Y-%m-%d %H:%M:%S}Z  {e.actor:<20} {e.action:<22} "
                f"{e.entity}:{e.entity_id or '-':<8} {e.client or '-':<15} {e.detail}"
            )
