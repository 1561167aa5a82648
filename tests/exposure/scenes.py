"""Random scenes of case visits and records, drawn to sit on the edges of the search.

Positions: exactly at the distance limit (along a meridian, a parallel, a diagonal), a hair
beyond it, on grid cell corners of every level, across the antimeridian, in the far north; radius
records whose circles come exactly within the limit. Times: overlaps of exactly the minimum and a
microsecond less, stays across local midnight in Seoul and in UTC and across bucket edges, stays
of 12 hours and more (up to days), point-in-time records given a dwell time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import strategies as st

from citytrace.exposure import ExposureRule, LiveIndex, RecordStore
from citytrace.exposure.grid import BUCKET_US, GRIDS
from citytrace.geo import EARTH_RADIUS_M

UTC_US = pa.timestamp("us", tz="UTC")
MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
SEOUL_MIDNIGHT_US = int(datetime(2020, 3, 1, 15, 0, tzinfo=UTC).timestamp()) * 1_000_000
UTC_MIDNIGHT_US = int(datetime(2020, 3, 2, 0, 0, tzinfo=UTC).timestamp()) * 1_000_000
KINDS = ("visit", "card", "cell", "checkin", "gps")
BEARINGS = (0.0, 90.0, 45.0, 200.0, 180.0, 270.0)
RADII_BY_CLASS = ((0.0, 0.0, 10.0), (10.5, 100.0), (150.0, 1000.0), (1500.0, 9999.0))


def destination(
    lat: float, lon: float, distance_m: float, bearing_deg: float
) -> tuple[float, float]:
    """The point ``distance_m`` from ``(lat, lon)`` along ``bearing_deg`` on the sphere."""
    delta = distance_m / EARTH_RADIUS_M
    theta = math.radians(bearing_deg)
    phi1, lam1 = math.radians(lat), math.radians(lon)
    phi2 = math.asin(
        math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
    )
    lam2 = lam1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1),
        math.cos(delta) - math.sin(phi1) * math.sin(phi2),
    )
    lon2 = (math.degrees(lam2) + 540.0) % 360.0 - 180.0
    return max(-90.0, min(90.0, math.degrees(phi2))), lon2


def cell_corner(lat: float, lon: float, level: int) -> tuple[float, float]:
    """The corner of the grid cell of the radius class ``level`` nearest to ``(lat, lon)``."""
    g = GRIDS[level]
    row = round((lat + 90.0) / g.row_deg)
    col = round((lon + 180.0) / g.col_deg)
    return row * g.row_deg - 90.0, col * g.col_deg - 180.0


@dataclass
class Scene:
    rule: ExposureRule
    visits: pa.Table
    records: pa.Table


ORIGINS = {
    "seoul": (37.5665, 126.9780),
    "antimeridian": (-16.5, 179.99995),
    "north": (78.22, 15.65),
    "equator": (0.0, 0.0),
}


@st.composite
def scenes(draw: st.DrawFn, *, max_records: int = 30, text_ids: bool | None = None) -> Scene:
    distance_m = draw(st.sampled_from([20.0, 50.0, 2.0, 0.0, 7.5]))
    overlap_min = draw(st.sampled_from([15.0, 0.0, 1.0, 45.0]))
    rule = ExposureRule(distance_m=distance_m, min_overlap_min=overlap_min)
    t_us = rule.min_overlap_us
    origin = draw(st.sampled_from(sorted(ORIGINS)))
    lat0, lon0 = ORIGINS[origin]
    if draw(st.booleans()):
        lat0, lon0 = cell_corner(lat0, lon0, draw(st.integers(0, len(GRIDS) - 1)))
    base_us = draw(
        st.sampled_from(
            [
                SEOUL_MIDNIGHT_US,
                UTC_MIDNIGHT_US,
                # Edges of the time buckets of every duration class.
                *[(UTC_MIDNIGHT_US // int(b) + 1) * int(b) for b in BUCKET_US],
            ]
        )
    )
    # A place is where visits happen; an "aimed" place lies exactly the reach of a record of
    # radius class `level` away from a grid corner of that class, along `bearing`, so that the
    # record exactly at the limit in that direction lands on the corner's grid lines.
    n_places = draw(st.integers(1, 3))
    places: list[tuple[float, float, float | None, float]] = []
    for _ in range(n_places):
        if draw(st.booleans()):
            lat, lon = destination(lat0, lon0, draw(st.floats(0, 120)), draw(st.floats(0, 360)))
            places.append((lat, lon, None, 0.0))
        else:
            level = draw(st.integers(0, len(GRIDS) - 1))
            radius = draw(st.sampled_from(RADII_BY_CLASS[level]))
            bearing = draw(st.sampled_from(BEARINGS))
            corner = cell_corner(lat0, lon0, level)
            lat, lon = destination(*corner, distance_m + radius, bearing + 180.0)
            places.append((lat, lon, bearing, radius))
    if text_ids is None:
        text_ids = draw(st.booleans())

    def case_id(c: int) -> int | str:
        return f"C{c:02d}" if text_ids else 1000 + c

    def person_id(p: int) -> int | str:
        return f"p{p:03d}" if text_ids else p

    duration = st.sampled_from(
        [0, 1, t_us, t_us + 1, 30 * MINUTE_US, 12 * HOUR_US, 13 * HOUR_US + 7, 50 * HOUR_US]
    )
    visits = []
    for _ in range(draw(st.integers(1, 6))):
        case = draw(st.integers(0, 2))
        lat, lon, aim, aim_radius = places[draw(st.integers(0, n_places - 1))]
        start = base_us + draw(st.integers(-180, 180)) * MINUTE_US + draw(st.sampled_from([0, 1]))
        visits.append(
            {
                "case_id": case_id(case),
                "latitude": lat,
                "longitude": lon,
                "radius_m": 0.0 if aim is not None else draw(st.sampled_from([0.0, 3.0, 100.0])),
                "aim": aim,
                "aim_radius": aim_radius,
                "started_at": start,
                "finished_at": start + draw(duration),
                "person_id": person_id(100 + case),
            }
        )
    records = []
    seen = set()
    for _ in range(draw(st.integers(0, max_records))):
        v = visits[draw(st.integers(0, len(visits) - 1))]
        radius = draw(st.sampled_from([0.0, 0.0, 5.0, 10.0, 10.5, 150.0, 1500.0, 9999.0]))
        bearing = draw(st.sampled_from(BEARINGS))
        if v["aim"] is not None and draw(st.booleans()):
            radius, bearing = v["aim_radius"], v["aim"]
        # Distance from the visit: exactly at the limit (circles included), a hair beyond,
        # anywhere nearby, or on the visit itself.
        reach = distance_m + v["radius_m"] + radius
        how = draw(st.sampled_from(["limit", "limit", "beyond", "near", "same"]))
        if how == "limit":
            d = reach
        elif how == "beyond":
            d = reach + 1e-4
        elif how == "same":
            d = 0.0
        else:
            d = draw(st.floats(0, 2 * reach + 60))
        lat, lon = destination(v["latitude"], v["longitude"], d, bearing)
        timing = draw(st.sampled_from(["exact_t", "short_t", "random", "point"]))
        if timing == "exact_t":  # overlaps the visit by exactly T from its end
            start = v["finished_at"] - t_us
            end = start + max(t_us, draw(duration))
        elif timing == "short_t":  # a microsecond short of T
            start = v["finished_at"] - t_us + 1
            end = start + max(t_us, draw(duration))
        else:
            start = v["started_at"] + draw(st.integers(-900, 900)) * MINUTE_US
            end = start + draw(duration)
        person = draw(st.integers(0, 6))
        if draw(st.integers(0, 9)) == 0:
            person = 100 + draw(st.integers(0, 2))  # a case's own records
        kind = draw(st.sampled_from(KINDS))
        row = (
            person_id(person),
            lat,
            lon,
            radius,
            start,
            None if timing == "point" else end,
            kind,
            draw(st.sampled_from([None, "cafe", "subway", "restaurant"])),
        )
        # Rows that differ only in the kind of place could normalise to the same record.
        if row[:7] in seen:
            continue
        seen.add(row[:7])
        records.append(row)
    names = (
        "person_id",
        "latitude",
        "longitude",
        "radius_m",
        "started_at",
        "finished_at",
        "kind",
        "place_kind",
    )
    id_type = pa.string() if text_ids else pa.int64()
    record_table = pa.table(
        {
            "person_id": pa.array([r[0] for r in records], id_type),
            "latitude": pa.array([r[1] for r in records], pa.float64()),
            "longitude": pa.array([r[2] for r in records], pa.float64()),
            "radius_m": pa.array([r[3] for r in records], pa.float64()),
            "started_at": pa.array([r[4] for r in records], UTC_US),
            "finished_at": pa.array([r[5] for r in records], UTC_US),
            "kind": pa.array([r[6] for r in records], pa.string()),
            "place_kind": pa.array([r[7] for r in records], pa.string()),
        }
    )
    assert record_table.column_names == list(names)
    visit_table = pa.table(
        {
            "case_id": pa.array([v["case_id"] for v in visits], id_type),
            "latitude": pa.array([v["latitude"] for v in visits], pa.float64()),
            "longitude": pa.array([v["longitude"] for v in visits], pa.float64()),
            "radius_m": pa.array([v["radius_m"] for v in visits], pa.float64()),
            "started_at": pa.array([v["started_at"] for v in visits], UTC_US),
            "finished_at": pa.array([v["finished_at"] for v in visits], UTC_US),
            "person_id": pa.array([v["person_id"] for v in visits], id_type),
        }
    )
    # Two visits drawn alike are one visit.
    unique = visit_table.group_by(visit_table.column_names).aggregate([])
    return Scene(rule=rule, visits=unique, records=record_table)


def cases_of(visits: pa.Table) -> pa.Table:
    """People's visits (of a synthetic city) as case visits: each person a case, left out of
    its own contacts."""
    return pa.table(
        {
            "case_id": visits.column("person_id"),
            "latitude": visits.column("latitude"),
            "longitude": visits.column("longitude"),
            "started_at": visits.column("started_at"),
            "finished_at": visits.column("finished_at"),
            "person_id": visits.column("person_id"),
        }
    )


def live_by_day(store: RecordStore) -> LiveIndex:
    """A live index of the store with a segment a day, as the days came (before any merge)."""
    live = LiveIndex(store)
    for day in store.days():
        segment = live._index([day])
        assert segment is not None
        live._swap((*live._state.segments, segment))
    return live
