"""`citytrace records ...`: the city's records that the exposure search runs over."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The city's records for the exposure search.", no_args_is_help=True)


@app.command("append")
def append(
    files: Annotated[list[Path], typer.Argument(help="Records, CSV or Parquet.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace days that are already stored.")
    ] = False,
) -> None:
    """Add records (person_id, latitude, longitude, started_at[, finished_at, radius_m, kind,
    venue_id, place_kind]) to the store, one file per local day; each file all or nothing."""
    from citytrace.contacts.service import record_store
    from citytrace.exposure.daily import append_by_day
    from citytrace.exposure.io import RECORD_FILE_COLUMNS, read_table

    store = record_store()
    assert store is not None
    for path in files:
        table, rows = read_table(path, RECORD_FILE_COLUMNS)
        stats = append_by_day(store, table, replace=replace, rows=rows)
        total = sum(s.rows for s in stats)
        typer.echo(f"{path}: {total:,} records on {len(stats)} day(s)")


@app.command("days")
def days() -> None:
    """The days stored and how many records each holds."""
    from citytrace.contacts.service import record_store

    store = record_store(create=False)
    if store is None or not store.days():
        typer.echo("no records stored")
        return
    for day in store.days():
        typer.echo(f"{day.isoformat()}  {store.stats(day).rows:>12,}")
