"""The cases' visits that a search starts from, checked and numbered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from citytrace.exposure import _kernels
from citytrace.exposure._checks import (
    MAX_TIME_US,
    MIN_TIME_US,
    Rows,
    coordinates,
    duplicate_rows,
    ids,
    numbers,
    require_columns,
    times_us,
)
from citytrace.exposure.grid import MAX_RADIUS_M

__all__ = ["VISIT_COLUMNS", "CaseVisits", "check_visits"]

VISIT_COLUMNS = ("case_id", "latitude", "longitude", "started_at", "finished_at")
"""Columns a table of case visits must have; ``radius_m`` (empty: 0) and ``person_id`` (the
case's own person, left out of its contacts) are optional."""


@dataclass(frozen=True)
class CaseVisits:
    """Checked case visits as arrays; cases numbered ``0..n-1`` in the order of their ids.

    ``own_person`` is the case's own person id per visit where known (``has_own``), to be left out
    of its contacts.
    """

    case_ids: pa.Array  # distinct case ids, sorted; a visit's case is case_ids[case_code]
    case_code: NDArray[np.int64]
    latitude: NDArray[np.float64]
    longitude: NDArray[np.float64]
    radius_m: NDArray[np.float64]
    started_us: NDArray[np.int64]
    finished_us: NDArray[np.int64]
    own_person: pa.Array  # int64 or text; null where not known

    @property
    def size(self) -> int:
        return int(self.case_code.size)


def check_visits(
    visits: pa.Table,
    *,
    exclude_person_ids: Mapping[object, object] | None = None,
    rows: Rows | None = None,
) -> CaseVisits:
    """Check the cases' visits; the table is not modified.

    Parameters
    ----------
    visits
        :data:`VISIT_COLUMNS`, optionally ``radius_m`` and ``person_id``.
    exclude_person_ids
        The person of each case, as ``{case_id: person_id}``, left out of its contacts (in addition
        to a ``person_id`` column).
    rows
        How errors name rows.

    Raises
    ------
    InputError
        A missing column, an empty or impossible value, a visit that finishes before it starts, or
        a row that repeats an earlier one, naming the column or the rows.
    """
    if not exclude_person_ids:
        plain = _plain_visits(visits)
        if plain is not None:
            return plain
    rows = rows or Rows()
    require_columns(visits, VISIT_COLUMNS, "case visits", rows)
    case = ids(visits, "case_id", rows)
    lat, lon = coordinates(visits, rows)
    radius = numbers(visits, "radius_m", rows, default=0.0)
    bad = np.flatnonzero((radius < 0.0) | (radius > MAX_RADIUS_M))
    if bad.size:
        raise rows.error(bad, f"radius_m is not within 0..{MAX_RADIUS_M:g} m")
    started, _ = times_us(visits, "started_at", rows)
    finished, _ = times_us(visits, "finished_at", rows)
    bad = np.flatnonzero(finished < started)
    if bad.size:
        raise rows.error(bad, "finished_at is before started_at")
    own = _own_persons(visits, rows)
    if exclude_person_ids:
        given = [exclude_person_ids.get(k) for k in case.to_pylist()]
        text = pa.types.is_string(own.type) or any(isinstance(v, str) for v in given)
        kind = pa.string() if text else pa.int64()
        fill = pa.array([None if v is None else (str(v) if text else v) for v in given], kind)
        own = pc.coalesce(own.cast(kind), fill)
    distinct = pc.unique(case).sort()
    code = np.asarray(pc.index_in(case, distinct).to_numpy(zero_copy_only=False), np.int64)
    repeated = duplicate_rows([code, lat, lon, radius, started, finished])
    if repeated.size:
        raise rows.error(repeated, "repeats an earlier row (duplicate visit)")
    return CaseVisits(
        case_ids=distinct,
        case_code=code,
        latitude=lat,
        longitude=lon,
        radius_m=radius,
        started_us=started,
        finished_us=finished,
        own_person=own,
    )


def _plain_visits(visits: object) -> CaseVisits | None:
    """The checked visits of a plain table, with all checks in one compiled pass; None when the
    table is not plain (other column types, nulls, several chunks, text case ids) or fails a
    check: then the full path checks it and names the rows.

    Plain: int64 case ids, float64 positions and radii, times in microseconds with a time zone,
    no nulls, one chunk each, and ``person_id`` absent or int64. The result is the one the full
    path gives.
    """
    if not isinstance(visits, pa.Table) or visits.num_rows == 0:
        return None
    case = _plain_ints(visits, "case_id")
    lat = _plain_floats(visits, "latitude")
    lon = _plain_floats(visits, "longitude")
    started = _plain_times(visits, "started_at")
    finished = _plain_times(visits, "finished_at")
    if case is None or lat is None or lon is None or started is None or finished is None:
        return None
    if visits.schema.get_field_index("radius_m") < 0:
        radius = np.zeros(visits.num_rows, np.float64)
    else:
        plain_radius = _plain_floats(visits, "radius_m")
        if plain_radius is None:
            return None
        radius = plain_radius
    if visits.schema.get_field_index("person_id") < 0:
        own = pa.nulls(visits.num_rows, pa.int64())
    else:
        column = visits.column("person_id")
        if column.type != pa.int64() or column.num_chunks != 1:
            return None
        own = column.chunk(0)
    ok, distinct, codes = _kernels.plain_visits(
        case, lat, lon, radius, started, finished, MAX_RADIUS_M, MIN_TIME_US, MAX_TIME_US
    )
    if not ok:
        return None
    return CaseVisits(
        case_ids=pa.Array.from_buffers(pa.int64(), distinct.size, [None, pa.py_buffer(distinct)]),
        case_code=codes,
        latitude=lat,
        longitude=lon,
        radius_m=radius,
        started_us=started,
        finished_us=finished,
        own_person=own,
    )


def _plain_chunk(visits: pa.Table, name: str) -> pa.Array | None:
    """A column's only chunk, when it has one chunk and no nulls."""
    at = visits.schema.get_field_index(name)
    if at < 0:
        return None
    column = visits.column(at)
    if column.num_chunks != 1 or column.null_count:
        return None
    return column.chunk(0)


def _plain_ints(visits: pa.Table, name: str) -> NDArray[np.int64] | None:
    """An int64 column as a numpy copy (writable and the caller's, like the full path's
    arrays); or None."""
    chunk = _plain_chunk(visits, name)
    if chunk is None or chunk.type != pa.int64():
        return None
    return np.array(chunk.to_numpy(), np.int64)


def _plain_times(visits: pa.Table, name: str) -> NDArray[np.int64] | None:
    """A timestamp column in microseconds with a time zone, as int64 microseconds; or None."""
    chunk = _plain_chunk(visits, name)
    if chunk is None:
        return None
    kind = chunk.type
    if not pa.types.is_timestamp(kind) or kind.unit != "us" or kind.tz is None:
        return None
    return np.array(chunk.view(pa.int64()).to_numpy(), np.int64)


def _plain_floats(visits: pa.Table, name: str) -> NDArray[np.float64] | None:
    """A float64 column as a numpy copy; or None."""
    chunk = _plain_chunk(visits, name)
    if chunk is None or chunk.type != pa.float64():
        return None
    return np.array(chunk.to_numpy(), np.float64)


def _own_persons(visits: pa.Table, rows: Rows) -> pa.Array:
    """The optional ``person_id`` column: int64 or text, null where not known."""
    if visits.schema.get_field_index("person_id") < 0:
        return pa.nulls(visits.num_rows, pa.int64())
    column = visits.column("person_id")
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_null(kind):
        return column.cast(pa.int64()).combine_chunks()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.cast(pa.string()).combine_chunks()
    raise rows.column_error("person_id", f"must hold integers or text, not {kind}")
