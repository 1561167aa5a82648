"""`citytrace synth ...`: generate the synthetic city, or one person's evidence files."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from citytrace.errors import InputError

app = typer.Typer(help="Generate the synthetic city.", no_args_is_help=True)

_DATE = ["%Y-%m-%d"]

People = Annotated[int, typer.Option("--people", min=1, help="Residents in the city.")]
Days = Annotated[int, typer.Option("--days", min=1, help="Days simulated.")]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Seed of the city.")]
Start = Annotated[datetime, typer.Option("--start", formats=_DATE, help="First day (local).")]
City = Annotated[str, typer.Option("--city", help="Packaged city name or city folder.")]


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@app.command("city")
def city(
    output: Annotated[Path, typer.Option("--output", help="Folder for the Parquet files.")],
    people: People = 1000,
    days: Days = 14,
    seed: Seed = 0,
    start: Start = datetime(2020, 3, 1),
    fixes_for: Annotated[
        int, typer.Option("--fixes-for", min=0, help="Phone fixes for the first K people.")
    ] = 100,
    city: City = "seoul",
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="People per batch.")
    ] = 4096,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Write a synthetic city (venues, people, visits and evidence) as Parquet files."""
    from citytrace.synth import SynthConfig, write_city

    config = SynthConfig(
        n_people=people,
        n_days=days,
        seed=seed,
        start_date=start.date(),
        city=city,
        fixes_for=fixes_for,
        batch_size=batch_size,
    )
    counts = write_city(config, output, progress=progress)
    for name, rows in counts.items():
        typer.echo(f"{name}: {rows:,} rows")
    typer.echo(f"written to {output}")


@app.command("person")
def person(
    person_id: Annotated[int, typer.Option("--person-id", min=0, help="The person to export.")],
    output: Annotated[Path, typer.Option("--output", help="Folder for the evidence files.")],
    people: People = 1000,
    days: Days = 14,
    seed: Seed = 0,
    start: Start = datetime(2020, 3, 1),
    city: City = "seoul",
    from_: Annotated[
        datetime | None, typer.Option("--from", formats=_DATE, help="First day to export.")
    ] = None,
    to: Annotated[
        datetime | None, typer.Option("--to", formats=_DATE, help="Last day to export.")
    ] = None,
) -> None:
    """Export one person's evidence (Records.json, card.csv, cell.csv, checkins.csv)."""
    from citytrace.synth import SynthConfig, export_person_evidence

    if from_ is not None and to is not None and to < from_:
        raise InputError("--to is before --from")
    config = SynthConfig(
        n_people=people, n_days=days, seed=seed, start_date=start.date(), city=city, fixes_for=0
    )
    paths = export_person_evidence(config, person_id, output, start=_day(from_), end=_day(to))
    for path in paths:
        typer.echo(str(path))
