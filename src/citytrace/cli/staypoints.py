"""`citytrace staypoints`: stay points from a file of position fixes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from citytrace.errors import InputError
from citytrace.trajectory import generate_staypoints, read_fixes, write_staypoints
from citytrace.trajectory.staypoints import check_thresholds


def staypoints(
    fixes_path: Annotated[
        Path,
        typer.Option(
            "--input",
            help="Position fixes: .csv (user_id,tracked_at,latitude,longitude) or .parquet.",
        ),
    ],
    stays_path: Annotated[
        Path, typer.Option("--output", help="Stay points to write: .csv or .parquet.")
    ],
    dist_threshold_m: Annotated[
        float, typer.Option(help="Distance from the anchor fix that ends a stay, in metres.")
    ] = 100.0,
    time_threshold_min: Annotated[float, typer.Option(help="Shortest stay, in minutes.")] = 5.0,
    gap_threshold_min: Annotated[
        float, typer.Option(help="Fixes further apart than this (minutes) are never in one stay.")
    ] = 15.0,
) -> None:
    """Detect stay points in position fixes (trackintel's sliding method, Li et al. 2008)."""
    started = time.perf_counter()
    try:
        check_thresholds(
            dist_threshold_m=dist_threshold_m,
            time_threshold_min=time_threshold_min,
            gap_threshold_min=gap_threshold_min,
        )
    except InputError as exc:
        # Name the option as it is spelled on the command line.
        option = "--" + (exc.location or "").removeprefix("option ").replace("_", "-")
        raise InputError(exc.reason, location=f"option {option}") from None
    fixes = read_fixes(fixes_path)
    stays = generate_staypoints(
        fixes,
        dist_threshold_m=dist_threshold_m,
        time_threshold_min=time_threshold_min,
        gap_threshold_min=gap_threshold_min,
    )
    write_staypoints(stays, stays_path)
    users = stays.column("user_id").unique() if stays.num_rows else []
    typer.echo(
        f"{stays.num_rows:,} stay points of {len(users):,} users from {fixes.num_rows:,} fixes "
        f"in {time.perf_counter() - started:.1f} s -> {stays_path}"
    )
