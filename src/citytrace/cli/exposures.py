"""`citytrace exposures`: the contacts of confirmed cases, from their visits and the records."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer

from citytrace.errors import InputError
from citytrace.exposure import (
    CloseContactRule,
    Engine,
    ExposureRule,
    RecordStore,
    find_contacts,
    normalise_records,
)
from citytrace.exposure.io import (
    RECORD_FILE_COLUMNS,
    VISIT_FILE_COLUMNS,
    check_output_path,
    read_table,
    write_contacts,
)

_OPTIONS = {
    "distance_m": "--distance-m",
    "min_overlap_min": "--min-overlap-min",
    "close.max_distance_m": "--close-distance-m",
    "close.min_overlap_min": "--close-min-overlap-min",
}


def _rule(
    distance_m: float, min_overlap_min: float, close_distance_m: float, close_min_overlap_min: float
) -> ExposureRule:
    try:
        return ExposureRule(
            distance_m=distance_m,
            min_overlap_min=min_overlap_min,
            close=CloseContactRule(
                max_distance_m=close_distance_m, min_overlap_min=close_min_overlap_min
            ),
        )
    except InputError as exc:
        # Name the option as it is spelled on the command line.
        option = _OPTIONS.get(exc.location or "", exc.location or "")
        raise InputError(exc.reason, location=f"option {option}") from None


def _number(value: str, option: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InputError("is not a number", location=f"option {option}") from None


def _required(value: Path | None, option: str) -> Path:
    if value is None:
        raise InputError("is required", location=f"option {option}")
    return value


# Options are parsed here rather than by typer so that every mistake is one line naming the
# option (typer's own usage errors currently escape the entry point as a stack trace).
def exposures(
    case_visits: Annotated[
        Path | None,
        typer.Option(
            "--case-visits",
            help="The cases' visits: .csv or .parquet with case_id, latitude, longitude, "
            "started_at, finished_at (optional: radius_m, person_id = the case's own person).",
        ),
    ] = None,
    records: Annotated[
        Path | None,
        typer.Option(
            "--records",
            help="The city's records: .csv or .parquet with person_id, latitude, longitude, "
            "started_at, finished_at (empty: a point in time; optional: radius_m, kind, venue_id, "
            "place_kind), or a record store folder.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Contacts to write: .csv or .parquet.")
    ] = None,
    distance_m: Annotated[
        str,
        typer.Option(
            metavar="METRES", help="Largest distance between a visit and a record, in metres."
        ),
    ] = "20",
    min_overlap_min: Annotated[
        str, typer.Option(metavar="MINUTES", help="Shortest time together, in minutes.")
    ] = "15",
    engine: Annotated[
        str,
        typer.Option(
            metavar="[duckdb|postgres|spark|index|brute]",
            help=(
                "Search engine; all give the same contacts. spark runs on "
                "CITYTRACE_SPARK_MASTER (default local[*])."
            ),
        ),
    ] = Engine.DUCKDB.value,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL for --engine postgres (default: CITYTRACE_DATABASE_URL)."),
    ] = None,
    close_distance_m: Annotated[
        str, typer.Option(metavar="METRES", help="A close contact is within this many metres ...")
    ] = "2",
    close_min_overlap_min: Annotated[
        str, typer.Option(metavar="MINUTES", help="... for at least this many minutes.")
    ] = "15",
) -> None:
    """Find everyone who shared a place and a time with the cases (one row per case and person)."""
    started = time.perf_counter()
    visits_path = _required(case_visits, "--case-visits")
    records_path = _required(records, "--records")
    output_path = _required(output, "--output")
    try:
        chosen = Engine(engine)
    except ValueError:
        names = ", ".join(e.value for e in Engine)
        raise InputError(
            f"unknown engine {engine!r}: use one of {names}", location="option --engine"
        ) from None
    rule = _rule(
        _number(distance_m, "--distance-m"),
        _number(min_overlap_min, "--min-overlap-min"),
        _number(close_distance_m, "--close-distance-m"),
        _number(close_min_overlap_min, "--close-min-overlap-min"),
    )
    url = database_url
    if chosen is Engine.POSTGRES and not url:
        from citytrace.config import get_settings

        url = get_settings().database_url
        if not url or not url.startswith("postgres"):
            raise InputError(
                "--engine postgres needs --database-url or CITYTRACE_DATABASE_URL",
                location="option --database-url",
            )
    check_output_path(output_path)
    visits, visit_rows = read_table(visits_path, VISIT_FILE_COLUMNS)
    source: RecordStore | pa.Table
    if records_path.is_dir():
        source = RecordStore.open(records_path)
    else:
        table, record_rows = read_table(records_path, RECORD_FILE_COLUMNS)
        # Checked here so that errors name the file's lines.
        source = normalise_records(table, rows=record_rows)
    contacts = find_contacts(
        visits,
        source,
        rule,
        engine=chosen.value,
        database_url=url,
        visit_rows=visit_rows,
    )
    write_contacts(contacts, output_path)
    cases = contacts.column("case_id").unique() if contacts.num_rows else []
    close = sum(1 for r in contacts.column("risk_class").to_pylist() if r == "close")
    typer.echo(
        f"{contacts.num_rows:,} contacts ({close:,} close) of {len(cases):,} cases "
        f"in {time.perf_counter() - started:.1f} s -> {output_path}"
    )
