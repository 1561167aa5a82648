"""One person's evidence in the formats people and agencies really export (for import tests)."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from citytrace.errors import InputError
from citytrace.geo import load_city
from citytrace.synth.city import SynthCity, generate_people
from citytrace.synth.config import SynthConfig

CARD_COLUMNS = (
    "transacted_at",
    "merchant_id",
    "merchant_name",
    "merchant_category",
    "latitude",
    "longitude",
    "address",
    "amount_krw",
)
CELL_COLUMNS = ("started_at", "finished_at", "cell_id", "latitude", "longitude", "radius_m")
CHECKIN_COLUMNS = (
    "checked_in_at",
    "checked_out_at",
    "venue_id",
    "venue_name",
    "venue_kind",
    "latitude",
    "longitude",
    "address",
)


def _bound(value: datetime | date | None, zone: ZoneInfo, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InputError(f"{value.isoformat()} has no UTC offset")
        return value
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), tzinfo=zone)


def _window(table: pa.Table, column: str, start: datetime | None, end: datetime | None) -> pa.Table:
    mask = pa.array(np.ones(table.num_rows, dtype=bool))
    if start is not None:
        mask = pc.and_(
            mask,
            pc.greater_equal(
                table.column(column), pa.scalar(start, table.schema.field(column).type)
            ),
        )
    if end is not None:
        mask = pc.and_(
            mask, pc.less(table.column(column), pa.scalar(end, table.schema.field(column).type))
        )
    return table.filter(mask)


def _local_iso(value: Any, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    return str(value)


def _write_csv(path: Path, table: pa.Table, columns: tuple[str, ...], zone: ZoneInfo) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in table.select(list(columns)).to_pylist():
            writer.writerow([_local_iso(row[c], zone) for c in columns])
    return path


def export_person_evidence(
    city_or_config: SynthCity | SynthConfig,
    person_id: int,
    out_dir: Path | str,
    *,
    start: datetime | date | None = None,
    end: datetime | date | None = None,
) -> list[Path]:
    """Write one person's evidence as the files a confirmed case or an agency would hand over.

    The person is regenerated from the configuration, with phone fixes whether or not the city
    included them. Files: Google Takeout ``Records.json`` (``latitudeE7``, ``longitudeE7``,
    ``accuracy``, ISO ``timestamp`` in UTC, ``source`` GPS), and ``card.csv``, ``cell.csv``,
    ``checkins.csv`` in the layouts of ``docs/evidence-formats.md`` with local ISO 8601 times
    (``+09:00`` in Seoul).

    Parameters
    ----------
    start, end
        Keep records from ``start`` up to (not including) ``end``; a date is a whole local day
        (``end`` included). None: the whole span.

    Returns
    -------
    list of Path
        The files written.
    """
    config = city_or_config.config if isinstance(city_or_config, SynthCity) else city_or_config
    zone = ZoneInfo(load_city(config.city).timezone)
    lo, hi = _bound(start, zone, end=False), _bound(end, zone, end=True)
    person = generate_people(config, [person_id], all_fixes=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fixes = _window(person.fixes, "tracked_at", lo, hi)
    locations = [
        {
            "latitudeE7": round(lat * 1e7),
            "longitudeE7": round(lon * 1e7),
            "accuracy": round(acc),
            "timestamp": ts.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "source": "GPS",
        }
        for lat, lon, acc, ts in zip(
            fixes.column("latitude").to_pylist(),
            fixes.column("longitude").to_pylist(),
            fixes.column("accuracy_m").to_pylist(),
            fixes.column("tracked_at").to_pylist(),
            strict=True,
        )
    ]
    # A person without records of a kind hands over no file of that kind: an empty file is
    # something the readers refuse.
    written: list[Path] = []
    if locations:
        records = out / "Records.json"
        records.write_text(json.dumps({"locations": locations}, indent=2) + "\n", encoding="utf-8")
        written.append(records)
    for name, table, column, columns in (
        ("card.csv", person.card, "transacted_at", CARD_COLUMNS),
        ("cell.csv", person.cell, "started_at", CELL_COLUMNS),
        ("checkins.csv", person.checkins, "checked_in_at", CHECKIN_COLUMNS),
    ):
        rows = _window(table, column, lo, hi)
        if rows.num_rows:
            written.append(_write_csv(out / name, rows, columns, zone))
    return written
