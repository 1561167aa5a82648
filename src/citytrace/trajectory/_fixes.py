"""Validation of position-fix tables, shared by the reader and the stay-point detector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from citytrace.errors import InputError
from citytrace.trajectory import _kernels

FIX_COLUMNS = ("user_id", "tracked_at", "latitude", "longitude")

RowLabel = Callable[[int], str]


def row_label(row: int) -> str:
    """How errors name a row of an in-memory table."""
    return f"row {row} (counting from 0)"


@dataclass(frozen=True)
class FixArrays:
    """The four columns of a fix table, checked: no nulls, WGS84 coordinates, UTC times.

    ``user_id`` is int64 or a string type; the numpy arrays are read-only, never copies to be
    written to.
    """

    user_id: pa.ChunkedArray
    tracked_at_us: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray


def check_columns(schema: pa.Schema, *, path: str | None = None) -> None:
    """Raise :class:`InputError` naming the first required column that is missing."""
    for name in FIX_COLUMNS:
        if schema.get_field_index(name) < 0:
            raise InputError(
                f"is missing (a fix table needs {', '.join(FIX_COLUMNS)})",
                path=path,
                location=f"column '{name}'",
            )


def fix_arrays(
    fixes: pa.Table, *, path: str | None = None, label: RowLabel = row_label
) -> FixArrays:
    """Check a fix table and return its columns as arrays; the table is not modified.

    Raises
    ------
    InputError
        Naming the column (missing, wrong type, time without zone) or the row (empty value,
        coordinate that is not a finite WGS84 value, time finer than a microsecond).
    """
    if not isinstance(fixes, pa.Table):
        raise InputError(f"fixes must be a pyarrow.Table, not {type(fixes).__name__}")
    check_columns(fixes.schema, path=path)
    for name in FIX_COLUMNS:
        column = fixes.column(name)
        if column.null_count:
            first = pc.index(column.is_null(), True).as_py()
            raise InputError(f"{name} is empty", path=path, location=label(first))
    user_id = _user_column(fixes.column("user_id"), path)
    tracked_at_us = _times_us(fixes.column("tracked_at"), path, label)
    latitude = _float_column(fixes.column("latitude"), "latitude", path)
    longitude = _float_column(fixes.column("longitude"), "longitude", path)
    row, which = _kernels.first_bad_coordinate(latitude, longitude)
    if row >= 0:
        what = (
            "latitude is not a number in -90..90"
            if which == 0
            else ("longitude is not a number in -180..180")
        )
        raise InputError(what, path=path, location=label(row))
    return FixArrays(user_id, tracked_at_us, latitude, longitude)


def readonly(values: np.ndarray) -> np.ndarray:
    """A read-only view, so that the numba kernels see one array flavour and compile once."""
    view = values.view()
    view.flags.writeable = False
    return view


def _user_column(column: pa.ChunkedArray, path: str | None) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_integer(kind):
        if kind != pa.int64():
            try:
                column = column.cast(pa.int64())
            except pa.ArrowInvalid as exc:
                raise InputError(
                    "has integers beyond int64", path=path, location="column 'user_id'"
                ) from exc
        return column
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column
    raise InputError(
        f"must hold integers or strings, not {kind}", path=path, location="column 'user_id'"
    )


def _times_us(column: pa.ChunkedArray, path: str | None, label: RowLabel) -> np.ndarray:
    kind = column.type
    where = "column 'tracked_at'"
    if not pa.types.is_timestamp(kind):
        raise InputError(
            f"must be a timestamp with a time zone, not {kind}", path=path, location=where
        )
    if kind.tz is None:
        raise InputError(
            "has no time zone: give times as UTC instants (timestamp with tz)",
            path=path,
            location=where,
        )
    raw = _numpy(column.cast(pa.int64()))
    if kind.unit == "us":
        return raw
    if kind.unit == "ns":
        sub_us = np.flatnonzero(raw % 1000)
        if sub_us.size:
            raise InputError(
                "tracked_at is finer than a microsecond", path=path, location=label(int(sub_us[0]))
            )
        return readonly(raw // 1000)
    scale = 1_000_000 if kind.unit == "s" else 1000
    limit = np.iinfo(np.int64).max // scale
    too_far = np.flatnonzero(np.abs(raw) > limit)
    if too_far.size:
        raise InputError("tracked_at is out of range", path=path, location=label(int(too_far[0])))
    return readonly(raw * scale)


def _float_column(column: pa.ChunkedArray, name: str, path: str | None) -> np.ndarray:
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        raise InputError(f"must hold numbers, not {kind}", path=path, location=f"column '{name}'")
    if kind != pa.float64():
        column = column.cast(pa.float64())
    return _numpy(column)


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    if column.num_chunks == 1:
        values = column.chunk(0).to_numpy(zero_copy_only=False)
    elif column.num_chunks == 0:
        values = np.empty(0, column.type.to_pandas_dtype())
    else:
        values = column.to_numpy()
    return readonly(np.ascontiguousarray(values))
