"""Reading case visits and records from CSV or Parquet, and writing contacts.

CSV files have a header row naming the columns (any order; names are trimmed and matched without
regard to case; other columns are ignored), times in ISO 8601 **with** a UTC offset
(``2020-03-01T12:34:56+09:00``), WGS84 degrees, and empty fields for missing optional values.
Errors name the file and the line (CSV) or row (Parquet), never the value found there.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from citytrace.csvcheck import first_failing_cast, structure_error
from citytrace.errors import InputError
from citytrace.exposure._checks import UTC_US, Rows

__all__ = [
    "RECORD_FILE_COLUMNS",
    "VISIT_FILE_COLUMNS",
    "check_output_path",
    "read_table",
    "write_contacts",
]

_TIME, _NUMBER, _ID, _TEXT = "time", "number", "id", "text"

VISIT_FILE_COLUMNS: Mapping[str, str] = {
    "case_id": _ID,
    "latitude": _NUMBER,
    "longitude": _NUMBER,
    "started_at": _TIME,
    "finished_at": _TIME,
    "radius_m": _NUMBER,
    "person_id": _ID,
}
"""Columns read from a case-visits file, and their kind of value."""

RECORD_FILE_COLUMNS: Mapping[str, str] = {
    "person_id": _ID,
    "latitude": _NUMBER,
    "longitude": _NUMBER,
    "started_at": _TIME,
    "finished_at": _TIME,
    "radius_m": _NUMBER,
    "kind": _TEXT,
    "venue_id": _TEXT,
    "place_kind": _TEXT,
}
"""Columns read from a records file, and their kind of value."""

_ARROW_TYPES = {_TIME: UTC_US, _NUMBER: pa.float64(), _ID: pa.string(), _TEXT: pa.string()}
_REASONS = {
    _TIME: "is not an ISO 8601 time with a UTC offset (write e.g. 2020-03-01T09:30:00+09:00)",
    _NUMBER: "is not a number",
}
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _kind(path: Path) -> str:
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError("unknown file type: use .csv or .parquet", path=str(path))
    return kind


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Refuse, before any work, an output path that cannot be written."""
    file = Path(path)
    _kind(file)
    if not file.parent.is_dir():
        raise InputError("folder does not exist", path=str(file))
    if file.is_dir():
        raise InputError("is a folder", path=str(file))
    return file


def read_table(path: str | os.PathLike[str], columns: Mapping[str, str]) -> tuple[pa.Table, Rows]:
    """Read the known ``columns`` of a CSV or Parquet file.

    Returns
    -------
    tuple
        The table (times as ``timestamp[us, UTC]``, numbers as float64, ids as int64 when every id
        is a plain integer, else text) and how errors name its rows.

    Raises
    ------
    InputError
        No such file, an empty file, a file that is not CSV or Parquet, or a value that does not
        parse (naming the line and column).
    """
    file = Path(path)
    kind = _kind(file)
    if not file.is_file():
        raise InputError("no such file", path=str(file))
    if file.stat().st_size == 0:
        raise InputError("file is empty", path=str(file))
    if kind == "parquet":
        return _read_parquet(file, columns), Rows(path=str(file))
    lines = _LineMap(file)
    return _read_csv(file, columns, lines), Rows(path=str(file), line_of=lines)


def _read_parquet(file: Path, columns: Mapping[str, str]) -> pa.Table:
    try:
        parquet = pq.ParquetFile(file)
    except (pa.ArrowInvalid, OSError):
        raise InputError("is not a Parquet file", path=str(file)) from None
    with parquet:
        present = [n for n in columns if parquet.schema_arrow.get_field_index(n) >= 0]
        return parquet.read(columns=present)


def _header(file: Path) -> list[str]:
    with file.open("r", encoding="utf-8-sig", newline="") as text:
        try:
            first = text.readline()
        except UnicodeDecodeError:
            raise InputError("is not a UTF-8 CSV file", path=str(file)) from None
    if not first.strip():
        raise InputError("file is empty", path=str(file))
    return next(csv.reader(io.StringIO(first)))


def _read_csv(file: Path, columns: Mapping[str, str], lines: _LineMap) -> pa.Table:
    header = _header(file)
    names = [h.strip().lower() for h in header]
    repeated = sorted({n for n in names if names.count(n) > 1 and n in columns})
    if repeated:
        raise InputError(
            "appears twice in the header", path=str(file), location=f"column '{repeated[0]}'"
        )
    wanted = {h: names[i] for i, h in enumerate(header) if names[i] in columns}
    types = {h: _ARROW_TYPES[columns[n]] for h, n in wanted.items()}
    read = pa_csv.ReadOptions(column_names=header, skip_rows=1, encoding="utf8")
    convert = pa_csv.ConvertOptions(
        column_types=types, include_columns=list(wanted), strings_can_be_null=True
    )
    try:
        table = pa_csv.read_csv(file, read_options=read, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        # Arrow's message quotes the value (personal data) and names no line: find it ourselves.
        raise _diagnose(file, header, wanted, columns, lines) from None
    table = table.rename_columns([wanted[h] for h in table.column_names])
    for i, name in enumerate(table.column_names):
        if columns[name] == _ID:
            table = table.set_column(i, name, _ids(table.column(name)))
    return table


def _ids(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """int64 when every id is an integer written canonically ("7", not "007"), else text, so
    that two different ids never merge."""
    try:
        numbers = column.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column
    if pc.all(pc.equal(numbers.cast(pa.string()), column)).as_py() is False:
        return column
    return numbers


def _diagnose(
    file: Path,
    header: list[str],
    wanted: Mapping[str, str],
    columns: Mapping[str, str],
    lines: _LineMap,
) -> InputError:
    """The first line and column that Arrow could not read, and why."""
    read = pa_csv.ReadOptions(column_names=header, skip_rows=1, encoding="utf8")
    as_text = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(wanted, pa.string()),
        include_columns=list(wanted),
        strings_can_be_null=True,
    )
    try:
        text = pa_csv.read_csv(file, read_options=read, convert_options=as_text)
    except UnicodeDecodeError:
        return InputError("is not a UTF-8 CSV file", path=str(file))
    except pa.ArrowInvalid:
        return structure_error(file, len(header))
    for header_name, name in wanted.items():
        kind = columns[name]
        if kind not in _REASONS:
            continue
        values = text.column(header_name).combine_chunks()
        row = first_failing_cast(values, _ARROW_TYPES[kind])
        if row >= 0:
            return InputError(
                f"{name} {_REASONS[kind]}", path=str(file), location=f"line {lines(row)}"
            )
    return InputError("cannot be read as CSV", path=str(file))


class _LineMap:
    """Maps a data row to its line in the file (Arrow skips empty lines); built on first use."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._lines: np.ndarray | None = None

    def __call__(self, row: int) -> int:
        if self._lines is None:
            numbers = []
            with self.file.open("rb") as raw:
                for number, line in enumerate(raw, start=1):
                    if number > 1 and line.strip(b"\r\n"):
                        numbers.append(number)
            self._lines = np.array(numbers, dtype=np.int64)
        if 0 <= row < self._lines.size:
            return int(self._lines[row])
        return row + 2


def write_contacts(contacts: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write contacts to ``.csv`` or ``.parquet``, all or nothing (temporary file, then rename).

    In CSV, times are ISO 8601 in UTC (``2020-03-01T03:30:00+00:00``) and numbers in their
    shortest exact form.
    """
    # The stay-point writer is a generic atomic table writer; one implementation, not two.
    from citytrace.trajectory.io import write_staypoints

    check_output_path(path)
    write_staypoints(contacts, path)
