"""The cases' visits that a search starts from, checked and numbered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from citytrace.exposure._checks import (
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
