"""Card transactions, telecom cell records and venue check-ins: the CSV layouts of
``docs/evidence-formats.md``, read with the standard ``csv`` module one row at a time."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._collect import Collector
from ._io import iter_text_lines
from ._model import EvidenceKind
from ._values import (
    RecordError,
    as_text,
    check_interval,
    iso_to_us,
    lower_text,
    number_position,
    optional_metres,
)

__all__ = ["LAYOUTS", "CsvLayout", "read_csv"]


@dataclass(frozen=True)
class CsvLayout:
    """Which columns of one CSV kind fill which observation fields."""

    kind: str
    started: str
    place_id: str
    finished: str | None = None
    radius: str | None = None
    place_name: str | None = None
    place_kind: str | None = None
    address: str | None = None

    @property
    def required(self) -> tuple[str, ...]:
        """The columns a file of this kind must have."""
        radius = (self.radius,) if self.radius else ()
        return (self.started, self.place_id, "latitude", "longitude", *radius)


LAYOUTS: dict[EvidenceKind, CsvLayout] = {
    EvidenceKind.CARD: CsvLayout(
        kind="card",
        started="transacted_at",
        place_id="merchant_id",
        place_name="merchant_name",
        place_kind="merchant_category",
        address="address",
    ),
    EvidenceKind.CELL: CsvLayout(
        kind="cell",
        started="started_at",
        finished="finished_at",
        place_id="cell_id",
        radius="radius_m",
    ),
    EvidenceKind.CHECKIN: CsvLayout(
        kind="checkin",
        started="checked_in_at",
        finished="checked_out_at",
        place_id="venue_id",
        place_name="venue_name",
        place_kind="venue_kind",
        address="address",
    ),
}


class _Lines:
    """The lines of the file for ``csv.reader``, remembering the number of the last one read."""

    def __init__(self, path: Path) -> None:
        self.last = 0
        self._lines = iter_text_lines(path)

    def __iter__(self) -> Iterator[str]:
        for number, line in self._lines:
            self.last = number
            yield line


def read_csv(path: Path, collector: Collector) -> None:
    """Read a card, cell or check-in CSV (the layout of ``collector.kind``) as observations."""
    layout = LAYOUTS[collector.kind]
    lines = _Lines(path)
    rows = csv.reader(lines)
    header = _next_row(collector, rows, lines)
    if header is None:
        raise collector.refuse("no header row", "line 1")
    columns = _columns(collector, header, layout)
    while True:
        first_line = lines.last + 1
        row = _next_row(collector, rows, lines)
        if row is None:
            return
        if not any(value.strip() for value in row):
            continue
        try:
            if len(row) > len(header):
                raise RecordError(f"{len(row)} fields, the header has {len(header)}")
            _read_row(collector, layout, columns, row, first_line)
        except RecordError as exc:
            collector.reject(*exc.at_line(first_line))


def _next_row(collector: Collector, rows: Iterator[list[str]], lines: _Lines) -> list[str] | None:
    try:
        return next(rows, None)
    except csv.Error as exc:
        raise collector.refuse(f"not valid CSV ({exc})", f"line {lines.last}") from None


def _columns(collector: Collector, header: list[str], layout: CsvLayout) -> dict[str, int]:
    """Column positions by name (trimmed, lowercased); refuses duplicates and missing columns."""
    columns: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = raw.strip().lower()
        if name in columns and name:
            raise collector.refuse(f"column {name!r} appears twice in the header", "line 1")
        columns[name] = position
    missing = [name for name in layout.required if name not in columns]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise collector.refuse(
            f"missing required column {names} for a {layout.kind} file", "line 1"
        )
    return columns


def _read_row(
    collector: Collector,
    layout: CsvLayout,
    columns: dict[str, int],
    row: list[str],
    line: int,
) -> None:
    def cell(name: str | None) -> str:
        position = columns.get(name) if name else None
        return row[position] if position is not None and position < len(row) else ""

    naive_tz = collector.naive_tz
    started = iso_to_us(cell(layout.started), naive_tz, layout.started)
    finished_text = cell(layout.finished).strip()
    finished = iso_to_us(finished_text, naive_tz, layout.finished) if finished_text else None
    place_id = as_text(cell(layout.place_id))
    if place_id is None:
        raise RecordError("empty", layout.place_id)
    lat, lon = number_position(cell("latitude"), cell("longitude"))
    radius = None
    if layout.radius:
        radius = optional_metres(cell(layout.radius), layout.radius)
        if radius is None:
            raise RecordError("empty", layout.radius)
    check_interval(started, finished, layout.finished)
    collector.add_observation(
        kind=layout.kind,
        started_at_us=started,
        finished_at_us=finished,
        latitude=lat,
        longitude=lon,
        source_index=line,
        radius_m=radius,
        place_id=place_id,
        place_name=as_text(cell(layout.place_name)),
        place_kind=lower_text(cell(layout.place_kind)),
        address=as_text(cell(layout.address)),
    )
