"""The city's records of presence: one schema for every kind of evidence, checked and keyed.

A *record* says that a person was within ``radius_m`` of a position during an interval: a
visit, a venue check-in, a card payment, a telecom cell sighting, a GPS stay found in raw fixes.
:func:`normalise_records` checks a table of them and gives point-in-time records (a payment, a
check-in without check-out, a single cell sighting) an interval from their kind of place's typical
dwell time, placed as :mod:`citytrace.investigation.route` places them (a check-in or a fare opens
a visit; a bill falls near its end). :func:`keyed_records` adds the search keys of
:mod:`citytrace.exposure.grid`. The ``records_from_*`` functions turn the evidence tables of
``docs/evidence-formats.md`` (and the synthetic city's) into records.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from citytrace.errors import InputError
from citytrace.exposure import grid
from citytrace.exposure._checks import (
    UTC_US,
    Rows,
    coordinates,
    duplicate_rows,
    ids,
    numbers,
    require_columns,
    texts,
    times_us,
)
from citytrace.investigation.route import DEFAULT_DWELL_MIN, DWELL_MIN, PAID_ON_ARRIVAL

__all__ = [
    "KEYED_SCHEMA",
    "RECORD_COLUMNS",
    "RECORD_SCHEMA",
    "keyed_records",
    "normalise_records",
    "records_from_card",
    "records_from_cell",
    "records_from_checkins",
    "records_from_fixes",
    "records_from_observations",
    "records_from_visits",
]

RECORD_SCHEMA = pa.schema(
    [
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("latitude", pa.float64(), nullable=False),
        pa.field("longitude", pa.float64(), nullable=False),
        pa.field("radius_m", pa.float64(), nullable=False),
        pa.field("started_at", UTC_US, nullable=False),
        pa.field("finished_at", UTC_US, nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("venue_id", pa.string()),
    ]
)
"""Normalised records (``person_id`` may also be text in an in-memory table)."""

KEYED_SCHEMA = pa.schema(
    [
        *RECORD_SCHEMA,
        pa.field("level", pa.int16(), nullable=False),
        pa.field("cell", pa.int64(), nullable=False),
        pa.field("bucket", pa.int64(), nullable=False),
    ]
)
"""Records with their search keys, sorted by ``level, cell, started_at, person_id``."""

RECORD_COLUMNS = ("person_id", "latitude", "longitude", "started_at")
"""Columns a table of records must have; ``finished_at`` (empty: a point in time), ``radius_m``
(empty: 0), ``kind`` (empty: ``record``), ``venue_id`` and ``place_kind`` (for the dwell time) are
optional."""

_CELL_SIGHTING_US = 5 * 60_000_000  # a single cell sighting: 5 minutes either side (as route)


def normalise_records(
    table: pa.Table,
    *,
    dwell_min: Mapping[str, float] | None = None,
    default_dwell_min: float = DEFAULT_DWELL_MIN,
    rows: Rows | None = None,
) -> pa.Table:
    """Check a table of records and give every point-in-time record an interval.

    Parameters
    ----------
    table
        Columns :data:`RECORD_COLUMNS`, optionally ``finished_at``, ``radius_m``, ``kind``,
        ``venue_id`` and ``place_kind``; other columns are ignored. Times are timestamps with a
        time zone.
    dwell_min
        Typical minutes spent at each kind of place (``place_kind``); default
        :data:`citytrace.investigation.route.DWELL_MIN`.
    default_dwell_min
        Dwell time of a kind of place not in ``dwell_min``.
    rows
        How errors name rows (the file and its lines, for a table read from a file).

    Returns
    -------
    pyarrow.Table
        :data:`RECORD_SCHEMA`, in the input's order; ``person_id`` is int64 when the input's ids
        are integers, else text. The input is not modified.

    Raises
    ------
    InputError
        A missing column; an empty or impossible value (coordinates outside WGS84, a radius that is
        negative or above 10 km, a time outside 1970-2099); a record that finishes before it starts
        or lasts more than 31 days; rows that repeat an earlier row. The message names the column
        or the rows, never a value.
    """
    rows = rows or Rows()
    require_columns(table, RECORD_COLUMNS, "records", rows)
    person = ids(table, "person_id", rows)
    lat, lon = coordinates(table, rows)
    radius = numbers(table, "radius_m", rows, default=0.0)
    bad = np.flatnonzero((radius < 0.0) | (radius > grid.MAX_RADIUS_M))
    if bad.size:
        raise rows.error(bad, f"radius_m is not within 0..{grid.MAX_RADIUS_M:g} m")
    started, _ = times_us(table, "started_at", rows)
    if table.schema.get_field_index("finished_at") >= 0:
        finished, moment = times_us(table, "finished_at", rows, nullable=True)
    else:
        finished, moment = np.zeros_like(started), np.ones(started.size, bool)
    bad = np.flatnonzero(~moment & (finished < started))
    if bad.size:
        raise rows.error(bad, "finished_at is before started_at")
    kind = texts(table, "kind", rows, default="record")
    place_kind = texts(table, "place_kind", rows, default=None)
    if moment.any():
        started, finished = _assume_intervals(
            started,
            finished,
            moment,
            kind,
            place_kind,
            dict(DWELL_MIN if dwell_min is None else dwell_min),
            default_dwell_min,
        )
    too_long = np.flatnonzero(finished - started > grid.MAX_DURATION_MIN * 60_000_000)
    if too_long.size:
        raise rows.error(too_long, f"lasts more than {grid.MAX_DURATION_MIN // 1440} days")
    venue = texts(table, "venue_id", rows, default=None)
    schema = RECORD_SCHEMA
    if person.type != pa.int64():
        schema = schema.set(0, schema.field("person_id").with_type(person.type))
    arrays = [
        person,
        pa.array(lat),
        pa.array(lon),
        pa.array(radius),
        pa.array(started, UTC_US),
        pa.array(finished, UTC_US),
        kind,
        venue,
    ]
    result = pa.Table.from_arrays(arrays, schema=schema)
    repeated = duplicate_rows(_row_values(result))
    if repeated.size:
        raise rows.error(repeated, "repeats an earlier row (duplicate record)")
    return result


def _row_values(table: pa.Table) -> list[NDArray[np.generic]]:
    values: list[NDArray[np.generic]] = []
    for column in table.columns:
        if pa.types.is_string(column.type):
            codes = pc.dictionary_encode(column.combine_chunks())
            indices = codes.indices.fill_null(-1)
            values.append(np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64))
        elif pa.types.is_timestamp(column.type):
            values.append(np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64))
        else:
            values.append(np.asarray(column.to_numpy()))
    return values


def _assume_intervals(
    started: NDArray[np.int64],
    finished: NDArray[np.int64],
    moment: NDArray[np.bool_],
    kind: pa.Array,
    place_kind: pa.Array,
    dwell_min: dict[str, float],
    default_dwell_min: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Intervals for point-in-time records, placed as the route reconstruction places them: a
    card payment at a kind of place paid on leaving covers the three quarters of a dwell time
    before it and the quarter after; a single cell sighting 5 minutes either side; anything else
    (a check-in, a fare, a record of unknown kind) opens a visit of one dwell time."""
    encoded = pc.dictionary_encode(place_kind)
    names = encoded.dictionary.to_pylist()
    # Looked up by code; the last entry (code -1) is a record without a kind of place.
    dwell_lut = np.array(
        [round(dwell_min.get(p, default_dwell_min) * 60_000_000) for p in names]
        + [round(default_dwell_min * 60_000_000)],
        dtype=np.int64,
    )
    arrival_lut = np.array([p in PAID_ON_ARRIVAL for p in names] + [False])
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    dwell_us = dwell_lut[codes]
    on_arrival = arrival_lut[codes]
    is_card = np.asarray(pc.equal(kind, "card").fill_null(False).to_numpy(zero_copy_only=False))
    is_cell = np.asarray(pc.equal(kind, "cell").fill_null(False).to_numpy(zero_copy_only=False))
    # Before the moment: a bill is paid near the end of a visit (a quarter of the dwell after it).
    before = np.where(is_card & ~on_arrival, dwell_us - dwell_us // 4, 0)
    after = np.where(is_card & ~on_arrival, dwell_us // 4, dwell_us)
    before = np.where(is_cell, _CELL_SIGHTING_US, before)
    after = np.where(is_cell, _CELL_SIGHTING_US, after)
    start = np.where(moment, started - before, started)
    end = np.where(moment, started + after, finished)
    return start.astype(np.int64), end.astype(np.int64)


def keyed_records(records: pa.Table) -> pa.Table:
    """Normalised records with their search keys, sorted for the search.

    Parameters
    ----------
    records
        :data:`RECORD_SCHEMA` (the output of :func:`normalise_records`).

    Returns
    -------
    pyarrow.Table
        :data:`KEYED_SCHEMA` (``person_id`` as in the input), sorted by ``level``, ``cell``,
        ``started_at`` and ``person_id``.
    """
    lat = np.asarray(records.column("latitude").to_numpy(), dtype=np.float64)
    lon = np.asarray(records.column("longitude").to_numpy(), dtype=np.float64)
    radius = np.asarray(records.column("radius_m").to_numpy(), dtype=np.float64)
    started = np.asarray(records.column("started_at").cast(pa.int64()).to_numpy(), np.int64)
    finished = np.asarray(records.column("finished_at").cast(pa.int64()).to_numpy(), np.int64)
    level, cell, bucket = grid.record_keys(lat, lon, radius, started, finished)
    person_type = records.schema.field("person_id").type
    schema = KEYED_SCHEMA.set(0, KEYED_SCHEMA.field("person_id").with_type(person_type))
    keyed = pa.Table.from_arrays(
        [*records.columns, pa.array(level), pa.array(cell), pa.array(bucket)], schema=schema
    )
    return keyed.sort_by(
        [("level", "ascending"), ("cell", "ascending"), ("started_at", "ascending"),
         ("person_id", "ascending")]
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Evidence tables as records


def _with(table: pa.Table, columns: Mapping[str, str | pa.Array]) -> pa.Table:
    """A table of the named output columns, taken from input columns (by name) or arrays."""
    out = {}
    for name, source in columns.items():
        if isinstance(source, str):
            out[name] = table.column(source)
        else:
            out[name] = source
    return pa.table(out)


def _constant(table: pa.Table, value: str) -> pa.Array:
    return pa.array([value] * table.num_rows, pa.string())


def records_from_visits(visits: pa.Table, *, kind: str = "visit") -> pa.Table:
    """Records from visits with intervals (the synthetic city's ``visits``, a case's route).

    Columns used: ``person_id, latitude, longitude, started_at, finished_at`` and, when present,
    ``radius_m``, ``venue_id`` and ``place_kind``. Returns :data:`RECORD_SCHEMA`.
    """
    columns: dict[str, str | pa.Array] = {
        "person_id": "person_id",
        "latitude": "latitude",
        "longitude": "longitude",
        "started_at": "started_at",
        "finished_at": "finished_at",
        "kind": _constant(visits, kind),
    }
    for optional in ("radius_m", "venue_id", "place_kind"):
        if visits.schema.get_field_index(optional) >= 0:
            columns[optional] = optional
    require_columns(visits, ("person_id", "finished_at", *RECORD_COLUMNS[1:]), "visits", Rows())
    return normalise_records(_with(visits, columns))


def records_from_card(card: pa.Table, *, dwell_min: Mapping[str, float] | None = None) -> pa.Table:
    """Records from card transactions (``person_id, transacted_at, merchant_id,
    merchant_category, latitude, longitude``): a payment becomes an interval of its kind of
    merchant's dwell time."""
    require_columns(
        card, ("person_id", "transacted_at", "merchant_id", "latitude", "longitude"), "card",
        Rows(),
    )  # fmt: skip
    columns: dict[str, str | pa.Array] = {
        "person_id": "person_id",
        "latitude": "latitude",
        "longitude": "longitude",
        "started_at": "transacted_at",
        "kind": _constant(card, "card"),
        "venue_id": "merchant_id",
    }
    if card.schema.get_field_index("merchant_category") >= 0:
        columns["place_kind"] = "merchant_category"
    return normalise_records(_with(card, columns), dwell_min=dwell_min)


def records_from_checkins(
    checkins: pa.Table, *, dwell_min: Mapping[str, float] | None = None
) -> pa.Table:
    """Records from venue check-ins (``person_id, checked_in_at, checked_out_at, venue_id,
    venue_kind, latitude, longitude``); without a check-out, the venue kind's dwell time."""
    require_columns(
        checkins, ("person_id", "checked_in_at", "venue_id", "latitude", "longitude"),
        "check-ins", Rows(),
    )  # fmt: skip
    columns: dict[str, str | pa.Array] = {
        "person_id": "person_id",
        "latitude": "latitude",
        "longitude": "longitude",
        "started_at": "checked_in_at",
        "kind": _constant(checkins, "checkin"),
        "venue_id": "venue_id",
    }
    if checkins.schema.get_field_index("checked_out_at") >= 0:
        columns["finished_at"] = "checked_out_at"
    if checkins.schema.get_field_index("venue_kind") >= 0:
        columns["place_kind"] = "venue_kind"
    return normalise_records(_with(checkins, columns), dwell_min=dwell_min)


def records_from_cell(cell: pa.Table) -> pa.Table:
    """Records from telecom cell records (``person_id, started_at, finished_at, cell_id,
    latitude, longitude, radius_m``); a single sighting covers 5 minutes either side."""
    require_columns(
        cell, ("person_id", "started_at", "cell_id", "latitude", "longitude", "radius_m"),
        "cell records", Rows(),
    )  # fmt: skip
    columns: dict[str, str | pa.Array] = {
        "person_id": "person_id",
        "latitude": "latitude",
        "longitude": "longitude",
        "radius_m": "radius_m",
        "started_at": "started_at",
        "kind": _constant(cell, "cell"),
        "venue_id": "cell_id",
    }
    if cell.schema.get_field_index("finished_at") >= 0:
        columns["finished_at"] = "finished_at"
    return normalise_records(_with(cell, columns))


def records_from_fixes(
    fixes: pa.Table,
    *,
    radius_m: float = 10.0,
    dist_threshold_m: float = 100.0,
    time_threshold_min: float = 5.0,
    gap_threshold_min: float = 15.0,
) -> pa.Table:
    """Records from raw position fixes (``person_id, tracked_at, latitude, longitude``): the
    stay points of each person (Li et al. 2008, as :func:`citytrace.trajectory.generate_staypoints`
    finds them), each a record of kind ``gps`` with uncertainty ``radius_m``."""
    from citytrace.trajectory import generate_staypoints

    require_columns(fixes, ("person_id", "tracked_at", "latitude", "longitude"), "fixes", Rows())
    if not 0.0 <= radius_m <= grid.MAX_RADIUS_M:
        raise InputError(f"must be within 0..{grid.MAX_RADIUS_M:g}", location="radius_m")
    track = pa.table(
        {
            "user_id": fixes.column("person_id"),
            "tracked_at": fixes.column("tracked_at"),
            "latitude": fixes.column("latitude"),
            "longitude": fixes.column("longitude"),
        }
    )
    stays = generate_staypoints(
        track,
        dist_threshold_m=dist_threshold_m,
        time_threshold_min=time_threshold_min,
        gap_threshold_min=gap_threshold_min,
    )
    return normalise_records(
        pa.table(
            {
                "person_id": stays.column("user_id"),
                "latitude": stays.column("latitude"),
                "longitude": stays.column("longitude"),
                "radius_m": pa.array(np.full(stays.num_rows, radius_m)),
                "started_at": stays.column("started_at"),
                "finished_at": stays.column("finished_at"),
                "kind": _constant(stays, "gps"),
            }
        )
    )


def records_from_observations(
    observations: pa.Table, *, person_id: int, dwell_min: Mapping[str, float] | None = None
) -> pa.Table:
    """Records of one person from the observations that
    :func:`citytrace.evidence.readers.read_evidence` returns (``kind, started_at, finished_at,
    latitude, longitude, radius_m, place_id, place_kind``)."""
    require_columns(observations, ("kind", "started_at", "latitude", "longitude"), "observations",
                    Rows())  # fmt: skip
    columns: dict[str, str | pa.Array] = {
        "person_id": pa.array(np.full(observations.num_rows, person_id, dtype=np.int64)),
        "latitude": "latitude",
        "longitude": "longitude",
        "started_at": "started_at",
        "kind": "kind",
    }
    for name, source in (
        ("finished_at", "finished_at"),
        ("radius_m", "radius_m"),
        ("venue_id", "place_id"),
        ("place_kind", "place_kind"),
    ):
        if observations.schema.get_field_index(source) >= 0:
            columns[name] = source
    return normalise_records(_with(observations, columns), dwell_min=dwell_min)
