"""GeoLife trajectories (``.plt``, the OziExplorer track layout, Zheng et al., User Guide 1.3).

Six header lines, then ``lat,lon,0,altitude_ft,days_since_1899-12-30,YYYY-MM-DD,HH:MM:SS`` with
times in GMT. Only the date and time fields are read for the time; the day count repeats them.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from ._collect import Collector
from ._io import iter_text_lines
from ._values import RecordError, iso_to_us, number_position

__all__ = ["read_plt"]

HEADER_LINES = 6
_DATUM_LINE = 2
_DATUM = "WGS 84"
_FIELDS = 7


def read_plt(path: Path, collector: Collector) -> None:
    """Read the track points of a GeoLife ``.plt`` file as fixes (``source_index``: line)."""
    last = 0
    for number, line in iter_text_lines(path):
        last = number
        if number <= HEADER_LINES:
            if number == _DATUM_LINE and line.strip() != _DATUM:
                raise collector.refuse(
                    f"the header's datum line is not {_DATUM!r}: not a GeoLife .plt file",
                    f"line {number}",
                )
            continue
        text = line.strip()
        if not text:
            continue
        fields = text.split(",")
        try:
            if len(fields) < _FIELDS:
                raise RecordError(f"{len(fields)} fields, expected {_FIELDS}")
            date, time = fields[5].strip(), fields[6].strip()
            tracked_at = iso_to_us(f"{date}T{time}", UTC, "date and time")
            lat, lon = number_position(fields[0], fields[1])
            collector.add_fix(tracked_at, lat, lon, None, number)
        except RecordError as exc:
            collector.reject(*exc.at_line(number))
    if last < HEADER_LINES:
        raise collector.refuse(
            f"the file ends inside the {HEADER_LINES}-line GeoLife header", f"line {last}"
        )
