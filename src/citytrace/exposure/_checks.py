"""Column checks shared by records and case visits: each error names the column or the rows.

Messages never quote a value (personal data); they name where the value is and what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from citytrace.errors import InputError

UTC_US = pa.timestamp("us", tz="UTC")
# Location evidence from before 1970 or after 2099 is a mistake, not a record.
MIN_TIME_US = 0
MAX_TIME_US = 4_102_444_800_000_000  # 2100-01-01T00:00:00Z
_SHOWN = 3


@dataclass(frozen=True)
class Rows:
    """How errors name rows: ``row 3`` of a table (counting from 0) or ``line 5`` of a file.

    ``line_of`` maps a data row to its line when the table came from a CSV file.
    """

    path: str | None = None
    line_of: Callable[[int], int] | None = None

    def name(self, rows: Sequence[int] | NDArray[np.int64]) -> str:
        """``rows 3, 8, 9 and 4 more (counting from 0)`` or ``lines 5, 10 and 11``."""
        rows = [int(r) for r in rows]
        shown = rows[:_SHOWN]
        if self.line_of is not None:
            numbers = [str(self.line_of(r)) for r in shown]
            noun = "line" if len(rows) == 1 else "lines"
            suffix = ""
        else:
            numbers = [str(r) for r in shown]
            noun = "row" if len(rows) == 1 else "rows"
            suffix = " (counting from 0)"
        text = ", ".join(numbers)
        if len(rows) > _SHOWN:
            text += f" and {len(rows) - _SHOWN} more"
        elif len(rows) > 1:
            text = ", ".join(numbers[:-1]) + " and " + numbers[-1]
        return f"{noun} {text}{suffix}"

    def error(self, rows: NDArray[np.int64] | Sequence[int], reason: str) -> InputError:
        return InputError(reason, path=self.path, location=self.name(rows))

    def column_error(self, column: str, reason: str) -> InputError:
        return InputError(reason, path=self.path, location=f"column '{column}'")


def require_columns(table: pa.Table, names: Sequence[str], what: str, rows: Rows) -> None:
    """Refuse a table of another schema, naming the first missing column."""
    if not isinstance(table, pa.Table):
        raise InputError(f"{what} must be a pyarrow.Table, not {type(table).__name__}")
    for name in names:
        if table.schema.get_field_index(name) < 0:
            raise rows.column_error(name, f"is missing: {what} need the columns {', '.join(names)}")


def no_nulls(column: pa.ChunkedArray, name: str, rows: Rows) -> None:
    if column.null_count:
        bad = np.flatnonzero(np.asarray(column.is_null().to_numpy(zero_copy_only=False)))
        raise rows.error(bad, f"{name} is empty")


def numbers(
    table: pa.Table, name: str, rows: Rows, *, default: float | None = None
) -> NDArray[np.float64]:
    """A numeric column as float64, finite; nulls become ``default`` or are refused."""
    if table.schema.get_field_index(name) < 0:
        if default is None:
            raise rows.column_error(name, "is missing")
        return np.full(table.num_rows, default, dtype=np.float64)
    column = table.column(name)
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
        raise rows.column_error(name, f"must hold numbers, not {kind}")
    if default is None:
        no_nulls(column, name, rows)
    else:
        column = column.fill_null(default) if column.null_count else column
    values = np.ascontiguousarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64).reshape(
        -1
    )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise rows.error(bad, f"{name} is not a finite number")
    return values


def coordinates(table: pa.Table, rows: Rows) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``latitude`` within -90..90 and ``longitude`` within -180..180."""
    lat = numbers(table, "latitude", rows)
    lon = numbers(table, "longitude", rows)
    bad = np.flatnonzero(np.abs(lat) > 90.0)
    if bad.size:
        raise rows.error(bad, "latitude is outside -90..90")
    bad = np.flatnonzero(np.abs(lon) > 180.0)
    if bad.size:
        raise rows.error(bad, "longitude is outside -180..180")
    return lat, lon


def times_us(
    table: pa.Table, name: str, rows: Rows, *, nullable: bool = False
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """A timestamp column as UTC microseconds, and which values are null (``nullable`` only)."""
    column = table.column(name)
    kind = column.type
    if pa.types.is_null(kind) and nullable:
        return np.zeros(table.num_rows, np.int64), np.ones(table.num_rows, bool)
    if not pa.types.is_timestamp(kind):
        raise rows.column_error(name, f"must be a time with a UTC offset, not {kind}")
    if kind.tz is None:
        raise rows.column_error(
            name, "has no time zone: give times with their UTC offset (2020-03-01T09:30+09:00)"
        )
    null = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool).reshape(-1)
    if null.any() and not nullable:
        raise rows.error(np.flatnonzero(null), f"{name} is empty")
    raw = np.ascontiguousarray(
        column.cast(pa.int64()).fill_null(0).to_numpy(), dtype=np.int64
    ).reshape(-1)
    if kind.unit == "ns":
        bad = np.flatnonzero(raw % 1000)
        if bad.size:
            raise rows.error(bad, f"{name} is finer than a microsecond")
        raw = raw // 1000
    elif kind.unit in ("s", "ms"):
        scale = 1_000_000 if kind.unit == "s" else 1000
        bad = np.flatnonzero(np.abs(raw) > MAX_TIME_US // scale)
        if bad.size:
            raise rows.error(bad, f"{name} is not between 1970 and 2099")
        raw = raw * scale
    bad = np.flatnonzero(~null & ((raw < MIN_TIME_US) | (raw >= MAX_TIME_US)))
    if bad.size:
        raise rows.error(bad, f"{name} is not between 1970 and 2099")
    return raw, null


def ids(table: pa.Table, name: str, rows: Rows) -> pa.Array:
    """An identifier column: int64 or string, no nulls, as one array."""
    column = table.column(name)
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_integer(kind):
        try:
            column = column.cast(pa.int64())
        except pa.ArrowInvalid:
            raise rows.column_error(name, "has integers beyond int64") from None
    elif pa.types.is_large_string(kind):
        column = column.cast(pa.string())
    elif not pa.types.is_string(kind):
        raise rows.column_error(name, f"must hold integers or text, not {kind}")
    no_nulls(column, name, rows)
    if column.type == pa.string():
        empty = np.flatnonzero(
            np.asarray(pc.equal(pc.utf8_trim_whitespace(column), "").to_numpy(zero_copy_only=False))
        )
        if empty.size:
            raise rows.error(empty, f"{name} is empty")
    return column.combine_chunks()


def texts(table: pa.Table, name: str, rows: Rows, *, default: str | None) -> pa.Array:
    """An optional text column (integers are written as text); nulls become ``default``."""
    if table.schema.get_field_index(name) < 0:
        return pa.array([default] * table.num_rows, pa.string())
    column = table.column(name)
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        column = column.cast(pa.string())
    elif not pa.types.is_string(kind):
        raise rows.column_error(name, f"must hold text, not {kind}")
    if default is not None and column.null_count:
        column = column.fill_null(default)
    return column.combine_chunks()


def hash_rows(columns: Sequence[NDArray[np.generic]]) -> NDArray[np.uint64]:
    """A 64-bit hash of each row of equal-length numeric arrays (splitmix64 mixing)."""
    n = len(columns[0]) if columns else 0
    h = np.full(n, 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for values in columns:
            bits = np.ascontiguousarray(values)
            if bits.dtype.itemsize != 8:
                bits = bits.astype(np.int64)
            x = bits.view(np.uint64) ^ (h >> np.uint64(29))
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = (h * np.uint64(31)) ^ (x ^ (x >> np.uint64(31)))
    return h


def duplicate_rows(columns: Sequence[NDArray[np.generic]]) -> NDArray[np.int64]:
    """Rows equal in every column to an earlier row, ascending.

    Rows are hashed; within each group of equal hashes every row is compared, column by column
    and all at once, with the group's first row. Only a true collision of hashes (rows that
    differ but hash alike, about never) takes a slower pairwise path.
    """
    h = hash_rows(columns)
    order = np.lexsort((np.arange(h.size), h))  # by hash, then row
    sorted_h = h[order]
    repeat = np.flatnonzero(sorted_h[1:] == sorted_h[:-1]) + 1
    if repeat.size == 0:
        return np.empty(0, np.int64)
    # The first row of each run of equal hashes, for every position.
    starts = np.concatenate([[True], sorted_h[1:] != sorted_h[:-1]])
    first = order[np.maximum.accumulate(np.where(starts, np.arange(h.size), 0))]
    rows = order[repeat]
    leaders = first[repeat]
    same = np.ones(rows.size, dtype=bool)
    for values in columns:
        same &= values[rows] == values[leaders]
    found = [int(r) for r in rows[same]]
    for row, leader in zip(rows[~same], leaders[~same], strict=True):
        # A collision: compare with every earlier row of the run.
        run = order[(sorted_h == h[leader]) & (order < row)]
        if any(all(_equal(c[row], c[e]) for c in columns) for e in run if e != leader):
            found.append(int(row))
    return np.array(sorted(found), dtype=np.int64)


def _equal(a: object, b: object) -> bool:
    return bool(a == b) or (a != a and b != b)  # NaN never reaches here, but be safe
