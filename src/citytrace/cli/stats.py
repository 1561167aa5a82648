"""`citytrace stats ...`: the outbreak picture, in counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Annotated, Any

import typer

from citytrace.cli._common import echo_json, parse_date, session_scope

app = typer.Typer(
    help="The outbreak picture: epidemic curve, clusters, timeliness.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV, for a spreadsheet.")]


@app.command("curve")
def curve(
    by: Annotated[str, typer.Option(help="confirmed or onset.")] = "confirmed",
    district: Annotated[str | None, typer.Option(help="Only this district's cases.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    to: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD.")] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Cases a day, with the mean of the seven days ending on each."""
    from citytrace.errors import InputError
    from citytrace.stats import export, service

    if by not in ("confirmed", "onset"):
        raise InputError("must be confirmed or onset", location="--by")
    start, end = parse_date(from_, "--from"), parse_date(to, "--to")
    if start is not None and end is not None and end < start:
        raise InputError("--to is before --from", location="--to")
    with session_scope() as session:
        days = service.epidemic_curve(
            session=session, by=by, district_code=district, start=start, end=end
        )
    if _printed(days, export.curve_csv, as_json=as_json, as_csv=as_csv):
        return
    for d in days:
        typer.echo(f"{d.day}  {d.cases:>5}  {d.mean_7d:>6.1f}  {'#' * d.cases}")


@app.command("clusters")
def clusters(
    min_cases: Annotated[int, typer.Option(min=2, help="The smallest cluster shown.")] = 2,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Clusters of cases linked by transmission, largest first."""
    from citytrace.stats import export, service

    with session_scope() as session:
        found = service.clusters(session=session, min_cases=min_cases)
    if _printed(found, export.clusters_csv, as_json=as_json, as_csv=as_csv):
        return
    if not found:
        typer.echo("no cluster")
    for c in found:
        districts = ", ".join(f"{d or 'none'} {n}" for d, n in c.districts.items())
        typer.echo(
            f"{c.cases:>4} cases, {c.links} links, {c.generations} generations, "
            f"{c.first_confirmed} .. {c.last_confirmed}  ({districts})"
        )


@app.command("timeliness")
def timeliness(as_json: JsonOption = False, as_csv: CsvOption = False) -> None:
    """Hours from a case's registration to the first place published from its route."""
    from citytrace.stats import export, service

    with session_scope() as session:
        rows = service.timeliness(session=session)
    if _printed(rows, export.timeliness_csv, as_json=as_json, as_csv=as_csv):
        return
    if not rows:
        typer.echo("no case has a published place yet")
    for t in rows:
        typer.echo(
            f"{t.district_code or 'all':<6} {t.cases:>5} cases  median {t.median_hours:>6.1f} h  "
            f"90th percentile {t.p90_hours:>6.1f} h"
        )


def _printed(
    rows: Sequence[Any], to_csv: Callable[[Sequence[Any]], str], *, as_json: bool, as_csv: bool
) -> bool:
    """Print the rows as JSON or CSV when asked; whether they were."""
    if as_json:
        echo_json([asdict(r) for r in rows])
    elif as_csv:
        typer.echo(to_csv(rows), nl=False)
    return as_json or as_csv
