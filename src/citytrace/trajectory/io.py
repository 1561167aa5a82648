"""Reading position fixes and writing stay points, as CSV or Parquet (chosen by extension).

The fix CSV is trackintel's position-fix layout: a header naming ``user_id``, ``tracked_at``,
``latitude`` and ``longitude`` (any order, other columns ignored), times in ISO 8601 with a UTC
offset (``2008-10-23 02:53:04+00:00`` or ``2008-10-23T02:53:04+00:00``), WGS84 degrees.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from citytrace.csvcheck import first_failing_cast, structure_error
from citytrace.errors import InputError
from citytrace.trajectory._fixes import FIX_COLUMNS, check_columns, fix_arrays, row_label

__all__ = ["read_fixes", "write_staypoints"]

_TIME = pa.timestamp("us", tz="UTC")
_CSV_TYPES = {
    "user_id": pa.string(),
    "tracked_at": _TIME,
    "latitude": pa.float64(),
    "longitude": pa.float64(),
}
_ZONE_AT_END = re.compile(r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)\s*$")


def read_fixes(path: str | os.PathLike[str]) -> pa.Table:
    """Read position fixes from a ``.csv`` or ``.parquet`` file and check them.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV in trackintel's position-fix layout, or Parquet with the same columns
        (``tracked_at`` a timestamp with a time zone).

    Returns
    -------
    pyarrow.Table
        ``user_id`` (int64 when every id is a plain integer, else string), ``tracked_at``
        (``timestamp[us, tz=UTC]``), ``latitude`` and ``longitude`` (float64), in file order.

    Raises
    ------
    InputError
        Naming the file and, where it applies, the column or the line (CSV) or row (Parquet): no
        such file, an empty file, a missing column, a time without a UTC offset, a value that does
        not parse, an empty value or a coordinate outside WGS84.
    """
    file = Path(path)
    where = str(file)
    kind = _kind(file)
    if not file.is_file():
        raise InputError("no such file", path=where)
    if file.stat().st_size == 0:
        raise InputError("file is empty", path=where)
    if kind == "csv":
        table = _read_csv(file)
        label = _CsvLines(file).label
    else:
        table = _read_parquet(file)
        label = row_label
    fix_arrays(table, path=where, label=label)
    return _normalized(table)


def write_staypoints(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write a table (stay points) to ``.csv`` or ``.parquet``, all or nothing.

    The file is written next to its destination under a temporary name and renamed into place,
    so a reader never sees half a file. In CSV, times are ISO 8601 in UTC with the offset
    (``2008-10-23T02:53:04+00:00``; microseconds only when there are any) and floats are written
    in their shortest exact form.

    Raises
    ------
    InputError
        An unknown extension or a folder that does not exist.
    """
    file = Path(path)
    kind = _kind(file)
    if not file.parent.is_dir():
        raise InputError("folder does not exist", path=str(file))
    handle, temp_name = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as sink:
            if kind == "csv":
                _write_csv(_csv_ready(table), sink)
            else:
                pq.write_table(table, sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp_name, file)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _kind(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError("unknown file type: use .csv or .parquet", path=str(file))


def _read_parquet(file: Path) -> pa.Table:
    try:
        parquet = pq.ParquetFile(file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError("is not a Parquet file", path=str(file)) from exc
    with parquet:
        check_columns(parquet.schema_arrow, path=str(file))
        streamed = _stream_parquet(parquet)
        if streamed is not None:
            return streamed
        # Something to report (a wrong type, an empty value, ...): fix_arrays names it.
        return parquet.read(columns=list(FIX_COLUMNS))


def _stream_parquet(parquet: pq.ParquetFile) -> pa.Table | None:
    """Batch by batch into one contiguous array per column, or None if a batch does not convert.

    Arrow gives a chunk per row group; the detector needs contiguous columns. Copying each batch
    into its place as it is decoded reuses the decoder's memory and never holds two copies.
    """
    schema = parquet.schema_arrow
    user_type = schema.field("user_id").type
    if pa.types.is_dictionary(user_type):
        user_type = user_type.value_type
    numeric_user = pa.types.is_integer(user_type)
    if not (numeric_user or pa.types.is_string(user_type) or pa.types.is_large_string(user_type)):
        return None
    time_type = schema.field("tracked_at").type
    if not (pa.types.is_timestamp(time_type) and time_type.tz is not None):
        return None
    n = parquet.metadata.num_rows
    users = np.empty(n, np.int64) if numeric_user else None
    user_chunks: list[pa.Array] = []
    times = np.empty(n, np.int64)
    lat = np.empty(n, np.float64)
    lon = np.empty(n, np.float64)
    at = 0
    for batch in _batches(parquet):
        if any(column.null_count for column in batch.columns):
            return None
        size = batch.num_rows
        try:
            user = batch.column("user_id").cast(pa.int64() if numeric_user else user_type)
            if users is None:
                user_chunks.append(user)
            else:
                users[at : at + size] = user.to_numpy()
            times[at : at + size] = batch.column("tracked_at").cast(_TIME).cast(pa.int64())
            lat[at : at + size] = batch.column("latitude").cast(pa.float64()).to_numpy()
            lon[at : at + size] = batch.column("longitude").cast(pa.float64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        at += size
    user_ids = pa.array(users) if users is not None else pa.concat_arrays(user_chunks)
    if users is None and not user_chunks:
        user_ids = pa.array([], user_type)
    return pa.table(
        {
            "user_id": user_ids,
            "tracked_at": pa.array(times, _TIME),
            "latitude": pa.array(lat),
            "longitude": pa.array(lon),
        }
    )


def _batches(parquet: pq.ParquetFile) -> Iterator[pa.RecordBatch]:
    # A row group at a time: Arrow decodes its columns in parallel.
    for group in range(parquet.num_row_groups):
        yield from parquet.read_row_group(group, columns=list(FIX_COLUMNS)).to_batches()


def _normalized(table: pa.Table) -> pa.Table:
    """The checked fix table with the documented types (casts only where they differ)."""
    wanted = {"tracked_at": _TIME, "latitude": pa.float64(), "longitude": pa.float64()}
    user_type = table.schema.field("user_id").type
    if pa.types.is_dictionary(user_type):
        wanted["user_id"] = user_type.value_type
    elif pa.types.is_integer(user_type):
        wanted["user_id"] = pa.int64()
    for index, name in enumerate(table.column_names):
        if name in wanted and table.schema.field(name).type != wanted[name]:
            table = table.set_column(index, name, table.column(name).cast(wanted[name]))
    return table


def _read_csv(file: Path) -> pa.Table:
    header = _csv_header(file)
    missing = [name for name in FIX_COLUMNS if name not in header]
    if missing:
        raise InputError(
            f"is missing (a fix CSV needs the columns {', '.join(FIX_COLUMNS)})",
            path=str(file),
            location=f"column '{missing[0]}'",
        )
    convert = pa_csv.ConvertOptions(
        column_types=_CSV_TYPES, include_columns=list(FIX_COLUMNS), strings_can_be_null=True
    )
    batches = []
    try:
        with pa_csv.open_csv(file, convert_options=convert) as reader:
            schema = reader.schema
            batches.extend(reader)
    except pa.ArrowInvalid:
        # Arrow's message quotes the value (personal data) and names no line: find it ourselves.
        raise _diagnose_csv(file, len(header)) from None
    table = pa.Table.from_batches(batches, schema).select(list(FIX_COLUMNS))
    return table.set_column(0, "user_id", _user_ids(table.column("user_id")))


def _csv_header(file: Path) -> list[str]:
    try:
        with file.open("r", encoding="utf-8-sig", newline="") as text:
            first = text.readline()
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text", path=str(file), location="line 1") from None
    if not first.strip():
        raise InputError("file is empty", path=str(file))
    return next(csv.reader(io.StringIO(first)))


def _user_ids(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """int64 when every id is a plain integer written canonically ("7", not "007"), else the
    strings as they are, so two different ids never merge."""
    try:
        numbers = column.cast(pa.int64())
    except pa.ArrowInvalid:
        return column
    if pc.all(pc.equal(numbers.cast(pa.string()), column)).as_py() is False:
        return column
    return numbers


class _CsvLines:
    """Maps a data row to its line in the file (Arrow skips blank lines); only on errors."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def label(self, row: int) -> str:
        for line_number, data_row in self._data_lines():
            if data_row == row:
                return f"line {line_number}"
        return f"data row {row + 1}"

    def _data_lines(self) -> Iterator[tuple[int, int]]:
        data_row = -1
        with self.file.open("rb") as raw:
            for line_number, line in enumerate(raw, start=1):
                if line_number == 1 or not line.strip(b"\r\n"):
                    continue
                data_row += 1
                yield line_number, data_row


def _diagnose_csv(file: Path, n_fields: int) -> InputError:
    """The first line that Arrow could not convert, and why."""
    where = str(file)
    lines = _CsvLines(file)
    as_text = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(FIX_COLUMNS, pa.string()),
        include_columns=list(FIX_COLUMNS),
        strings_can_be_null=True,
    )
    try:
        text = pa_csv.read_csv(file, convert_options=as_text)
    except pa.ArrowInvalid:
        return structure_error(file, n_fields)
    for name, target in (
        ("tracked_at", _TIME),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
    ):
        values = text.column(name).combine_chunks()
        row = first_failing_cast(values, target)
        if row < 0:
            continue
        if name != "tracked_at":
            reason = f"{name} is not a number"
        elif _ZONE_AT_END.search(str(values[row].as_py())) is None:
            reason = "tracked_at has no UTC offset (write e.g. 2008-10-23T02:53:04+00:00)"
        else:
            reason = "tracked_at is not an ISO 8601 time with at most microseconds"
        return InputError(reason, path=where, location=lines.label(row))
    return InputError("cannot be read as position fixes", path=where)


def _write_csv(table: pa.Table, sink: BinaryIO) -> None:
    """Quotes only where a value needs them (Arrow's own default quotes every string)."""
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(table.column_names)
    sink.write(header.getvalue().encode())
    try:
        pa_csv.write_csv(
            table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="none")
        )
    except pa.ArrowInvalid:  # a value with a comma, quote or line break: quote the strings
        sink.seek(len(header.getvalue().encode()))
        sink.truncate()
        pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False))


def _csv_ready(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 text in UTC with ``+00:00``; other columns as they are."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = _iso_utc(column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _iso_utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    utc = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
    # Whole seconds print without a fraction; otherwise %S prints the unit's digits.
    with contextlib.suppress(pa.ArrowInvalid):
        utc = utc.cast(pa.timestamp("s", tz="UTC"))
    return pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S+00:00")
