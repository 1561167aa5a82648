"""`citytrace retention ...`: purge what the retention policies say is due."""

from __future__ import annotations

from typing import Annotated

import typer

from citytrace.cli._common import actor, echo_json

app = typer.Typer(help="Retention of personal data.", no_args_is_help=True)


@app.command("policies")
def policies() -> None:
    """Show each retention policy: what it covers and after how long."""
    import citytrace.retention.service  # noqa: F401  (registers the built-in purgers)
    from citytrace.config import get_settings
    from citytrace.retention.policies import POLICIES, get_purger

    settings = get_settings()
    for policy in POLICIES:
        state = "" if get_purger(policy.name) else " [no purger registered yet]"
        typer.echo(
            f"{policy.name}: {policy.days(settings)} days after {policy.after} "
            f"(CITYTRACE_{policy.setting.upper()}){state}\n  {policy.covers}"
        )


@app.command("purge")
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what is due; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove every record that its retention policy says is due now (in batches, audited)."""
    from citytrace.config import get_settings
    from citytrace.db import get_engine, session_factory, utcnow
    from citytrace.migrations import upgrade
    from citytrace.retention.policies import POLICIES
    from citytrace.retention.service import purge as run_purge

    engine = get_engine()
    upgrade(engine)
    # A plain session, not one unit of work: each batch of the purge commits on its own.
    with session_factory(engine)() as session:
        results = run_purge(session=session, now=utcnow(), dry_run=dry_run, actor=actor())
    if as_json:
        echo_json({"dry_run": dry_run, "results": results})
        return
    settings = get_settings()
    verb = "due" if dry_run else "purged"
    for policy in POLICIES:
        counts = results.get(policy.name)
        rule = f"{policy.days(settings)} days after {policy.after}"
        if counts is None:
            typer.echo(f"{policy.name}: no purger registered yet ({rule})")
        else:
            shown = ", ".join(f"{n} {kind}" for kind, n in counts.items())
            typer.echo(f"{policy.name}: {verb} {shown} ({rule})")
    orphans = results.get("orphan_files") or {}
    typer.echo(f"orphan files: {verb} {orphans.get('files', 0)}")
