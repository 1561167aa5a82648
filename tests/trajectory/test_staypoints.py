"""citytrace.trajectory.staypoints against trackintel 1.4.2's ``generate_staypoints``."""

from __future__ import annotations

import math
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citytrace.errors import InputError
from citytrace.trajectory import generate_staypoints, staypoints_of_track
from citytrace.trajectory._kernels import _is_far, haversine_thresholds, trackintel_distance_m
from citytrace.trajectory.staypoints import _minutes_to_ns

UTC = pa.timestamp("us", tz="UTC")
MINUTE_US = 60_000_000


# ----------------------------------------------------------------------------------------------
# A direct transcription of trackintel 1.4.2 (preprocessing/positionfixes.py, geogr/distances.py,
# preprocessing/util.py), in plain Python, as the oracle of the property tests.


@dataclass(frozen=True)
class Fix:
    user_id: int | str
    t_us: int
    lat: float
    lon: float


@dataclass(frozen=True)
class Stay:
    user_id: int | str
    started_us: int
    finished_us: int
    lat: float
    lon: float
    n_fixes: int


def point_haversine_dist(lon_1: float, lat_1: float, lon_2: float, lat_2: float) -> float:
    """trackintel.geogr.point_haversine_dist(..., r=6371000, float_flag=True)."""
    lon_1, lat_1, lon_2, lat_2 = map(math.radians, (lon_1, lat_1, lon_2, lat_2))
    cos_lat2 = math.cos(lat_2)
    cos_lat1 = math.cos(lat_1)
    cos_lat_d = math.cos(lat_1 - lat_2)
    cos_lon_d = math.cos(lon_1 - lon_2)
    value = cos_lat_d - cos_lat1 * cos_lat2 * (1 - cos_lon_d)
    return math.nan if not -1 <= value <= 1 else 6371000 * math.acos(value)


def angle_centroid(points: list[tuple[float, float]]) -> tuple[float, float]:
    """union_all (distinct points, GEOS orders them by x then y) + angle_centroid_multipoints."""
    distinct = sorted(set(points))  # (lon, lat); tuple equality has 0.0 == -0.0, like GEOS
    lat = sum(p[1] for p in distinct) / len(distinct)
    x_sin = sum(math.sin(math.radians(p[0])) for p in distinct) / len(distinct)
    x_cos = sum(math.cos(math.radians(p[0])) for p in distinct) / len(distinct)
    return lat, math.degrees(math.atan2(x_sin, x_cos))


def trackintel_reference(
    fixes: list[Fix],
    *,
    dist_threshold_m: float,
    time_threshold_min: float,
    gap_threshold_min: float,
    include_last: bool,
    exclude_duplicate_fixes: bool,
) -> list[Stay]:
    rows = list(enumerate(fixes))
    if exclude_duplicate_fixes:  # pfs.drop_duplicates(): points compared by WKB, i.e. bits
        seen: set[tuple[Any, ...]] = set()
        unique = []
        for index, fix in rows:
            key = (fix.user_id, fix.t_us, struct.pack("<dd", fix.lon, fix.lat))
            if key not in seen:
                seen.add(key)
                unique.append((index, fix))
        rows = unique
    gap_ns = pd.Timedelta(gap_threshold_min, unit="minutes").value
    time_ns = pd.Timedelta(time_threshold_min, unit="minutes").value
    stays: list[Stay] = []
    for user in sorted({fix.user_id for _, fix in rows}):  # groupby("user_id")
        # df.sort_index(kind="stable").sort_values(by=["tracked_at"], kind="stable")
        track = [fix for _, fix in sorted((r for r in rows if r[1].user_id == user), key=_by_time)]
        t = [fix.t_us * 1000 for fix in track]
        x = [fix.lon for fix in track]
        y = [fix.lat for fix in track]

        curr = start = 0
        for curr in range(1, len(track)):
            if t[curr] - t[curr - 1] > gap_ns:
                start = curr
                continue
            delta_dist = point_haversine_dist(x[start], y[start], x[curr], y[curr])
            if delta_dist >= dist_threshold_m:
                if t[curr] - t[start] >= time_ns:
                    stays.append(_stay(user, t, x, y, start, curr, stop=curr))
                start = curr
        if include_last and t[curr] - t[start] >= time_ns:
            stays.append(_stay(user, t, x, y, start, curr, stop=len(t)))
    return stays


def _stay(
    user: int | str, t: list[int], x: list[float], y: list[float], start: int, end: int, stop: int
) -> Stay:
    """__create_new_staypoints: times of fixes start and end, points start:stop (the last
    stay includes the last fix)."""
    lat, lon = angle_centroid(list(zip(x[start:stop], y[start:stop], strict=True)))
    return Stay(user, t[start] // 1000, t[end] // 1000, lat, lon, stop - start)


def _by_time(row: tuple[int, Fix]) -> tuple[int, int]:
    return row[1].t_us, row[0]


# ----------------------------------------------------------------------------------------------
# Helpers


def fix_table(fixes: list[Fix], *, string_ids: bool = False) -> pa.Table:
    ids = [f"u{f.user_id}" if string_ids else f.user_id for f in fixes]
    return pa.table(
        {
            "user_id": pa.array(ids, pa.string() if string_ids else pa.int64()),
            "tracked_at": pa.array([f.t_us for f in fixes], UTC),
            "latitude": pa.array([f.lat for f in fixes], pa.float64()),
            "longitude": pa.array([f.lon for f in fixes], pa.float64()),
        }
    )


def stays_of(table: pa.Table) -> list[Stay]:
    columns = table.to_pydict()
    epoch = pd.Timestamp(0, tz="UTC")
    return [
        Stay(
            user,
            (pd.Timestamp(started) - epoch) // pd.Timedelta(microseconds=1),
            (pd.Timestamp(finished) - epoch) // pd.Timedelta(microseconds=1),
            lat,
            lon,
            n,
        )
        for user, started, finished, lat, lon, n in zip(
            columns["user_id"],
            columns["started_at"],
            columns["finished_at"],
            columns["latitude"],
            columns["longitude"],
            columns["n_fixes"],
            strict=True,
        )
    ]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Accurate great-circle distance (not trackintel's law of cosines) to compare positions."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    hav = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(hav)))


def assert_same_stays(ours: list[Stay], expected: list[Stay], *, tolerance_m: float) -> None:
    assert len(ours) == len(expected)
    for got, want in zip(ours, expected, strict=True):
        assert (got.user_id, got.started_us, got.finished_us) == (
            want.user_id,
            want.started_us,
            want.finished_us,
        )
        assert got.n_fixes == want.n_fixes
        assert haversine_m(got.lat, got.lon, want.lat, want.lon) <= tolerance_m


def boundary_step(lat: float, lon: float, dist_m: float, north: bool) -> float:
    """The first float latitude (north) or longitude (east) at which trackintel's distance from
    (lat, lon) reaches ``dist_m``."""
    inside = lat if north else lon
    outside = inside + 3 * dist_m / 111_000 / (
        1.0 if north else max(math.cos(math.radians(lat)), 1e-3)
    )

    def reaches(value: float) -> bool:
        if north:
            return point_haversine_dist(lon, lat, lon, value) >= dist_m
        return point_haversine_dist(lon, lat, value, lat) >= dist_m

    if not reaches(outside):
        return outside
    for _ in range(200):
        middle = (inside + outside) / 2
        if middle in (inside, outside):
            break
        inside, outside = (inside, middle) if reaches(middle) else (middle, outside)
    return outside


# ----------------------------------------------------------------------------------------------
# Random tracks: duplicates, equal times, gaps, points exactly at the threshold, poles, the
# antimeridian, signed zeros, several users interleaved in any row order.

TIME_STEPS_US = [
    0,
    1,
    1_000_000,
    30_000_000,
    5 * MINUTE_US - 1,
    5 * MINUTE_US,
    5 * MINUTE_US + 1,
    15 * MINUTE_US - 1,
    15 * MINUTE_US,
    15 * MINUTE_US + 1,
    60 * MINUTE_US,
]
ORIGINS = [(39.98, 116.32), (0.0, 0.0), (89.9995, 10.0), (-33.9, 151.2), (10.0, 179.9996)]
MOVES = ["same", "jitter", "walk", "boundary", "inside", "boundary_first", "far", "flip_zero"]


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0 if not -180.0 <= lon <= 180.0 else lon


def _moved(
    draw: st.DrawFn, lat: float, lon: float, first: tuple[float, float], dist: float
) -> tuple[float, float]:
    move = draw(st.sampled_from(MOVES))
    if move == "same":
        return lat, lon
    if move == "flip_zero":
        return (-lat if lat == 0 else lat), (-lon if lon == 0 else lon)
    if move in ("boundary", "inside", "boundary_first"):
        anchor = first if move == "boundary_first" else (lat, lon)
        north = draw(st.booleans())
        edge = boundary_step(anchor[0], anchor[1], max(dist, 0.01), north)
        if move == "inside":
            edge = float(np.nextafter(edge, -math.inf))
        new = (min(edge, 90.0), anchor[1]) if north else (anchor[0], _wrap(edge))
        return new
    metres = {"jitter": 20.0, "walk": 150.0, "far": 20_000.0}[move]
    north_m = draw(st.floats(-metres, metres))
    east_m = draw(st.floats(-metres, metres))
    new_lat = min(90.0, max(-90.0, lat + north_m / 111_195.0))
    scale = max(math.cos(math.radians(new_lat)), 1e-6)
    return new_lat, _wrap(lon + east_m / (111_195.0 * scale))


@st.composite
def random_fixes(draw: st.DrawFn, *, dist: float = 100.0, max_users: int = 3) -> list[Fix]:
    origin = draw(st.sampled_from(ORIGINS))
    fixes: list[Fix] = []
    for user in draw(st.lists(st.integers(0, 9), min_size=1, max_size=max_users, unique=True)):
        lat, lon = origin
        first = (lat, lon)
        t_us = draw(st.integers(1_200_000_000, 1_300_000_000)) * 1_000_000
        for k in range(draw(st.integers(1, 25))):
            if k:
                t_us += draw(st.sampled_from(TIME_STEPS_US))
                lat, lon = _moved(draw, lat, lon, first, dist)
            fixes.append(Fix(user, t_us, lat, lon))
    for _ in range(draw(st.integers(0, 3))):  # exact repeats, anywhere
        fixes.insert(draw(st.integers(0, len(fixes))), fixes[draw(st.integers(0, len(fixes) - 1))])
    if draw(st.booleans()):
        fixes = draw(st.permutations(fixes))
    return fixes


options = st.fixed_dictionaries(
    {
        "dist_threshold_m": st.sampled_from([100.0, 25.0, 0.0, 0.5, 5000.0]),
        "time_threshold_min": st.sampled_from([5.0, 0.0, 1 / 3]),
        "gap_threshold_min": st.sampled_from([15.0, 1e6, 0.5]),
        "include_last": st.booleans(),
        "exclude_duplicate_fixes": st.booleans(),
    }
)


def run_trackintel(fixes: list[Fix], **kwargs: Any) -> list[Stay]:
    """trackintel itself on the same fixes."""
    import geopandas as gpd
    import trackintel as ti

    frame = pd.DataFrame(
        {
            "user_id": [f.user_id for f in fixes],
            "tracked_at": pd.to_datetime([f.t_us for f in fixes], unit="us", utc=True),
        }
    )
    geometry = gpd.points_from_xy([f.lon for f in fixes], [f.lat for f in fixes])
    pfs = ti.Positionfixes(gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, sp = pfs.generate_staypoints(
            method="sliding",
            dist_threshold=kwargs["dist_threshold_m"],
            time_threshold=kwargs["time_threshold_min"],
            gap_threshold=kwargs["gap_threshold_min"],
            include_last=kwargs["include_last"],
            exclude_duplicate_pfs=kwargs["exclude_duplicate_fixes"],
        )
    epoch = pd.Timestamp(0, tz="UTC")
    one_us = pd.Timedelta(microseconds=1)
    return [
        Stay(
            row.user_id,
            (row.started_at - epoch) // one_us,
            (row.finished_at - epoch) // one_us,
            row.geometry.y,
            row.geometry.x,
            -1,
        )
        for row in sp.itertuples()
    ]


# ----------------------------------------------------------------------------------------------


class TestGenerateStaypoints:
    def test_a_stay_then_a_move(self) -> None:
        fixes = [
            Fix(7, 0, 40.0, 116.0),
            Fix(7, 2 * MINUTE_US, 40.0001, 116.0),
            Fix(7, 6 * MINUTE_US, 40.0002, 116.0),
            Fix(7, 7 * MINUTE_US, 40.01, 116.0),  # about 1.1 km north: leaves
            Fix(7, 8 * MINUTE_US, 40.02, 116.0),
        ]
        stays = generate_staypoints(fix_table(fixes))
        assert stays.schema == pa.schema(
            [
                ("user_id", pa.int64()),
                ("started_at", UTC),
                ("finished_at", UTC),
                ("latitude", pa.float64()),
                ("longitude", pa.float64()),
                ("n_fixes", pa.int64()),
            ]
        )
        [stay] = stays_of(stays)
        assert (stay.user_id, stay.started_us, stay.finished_us, stay.n_fixes) == (
            7,
            0,
            7 * MINUTE_US,
            3,
        )
        assert stay.lat == pytest.approx(40.0001, abs=1e-12)
        assert stay.lon == pytest.approx(116.0, abs=1e-12)

    def test_no_fixes_gives_an_empty_table_of_the_same_schema(self) -> None:
        empty = generate_staypoints(fix_table([]))
        assert empty.num_rows == 0
        assert empty.column_names == [
            "user_id",
            "started_at",
            "finished_at",
            "latitude",
            "longitude",
            "n_fixes",
        ]

    def test_string_users_sorted_and_times_converted_to_utc(self) -> None:
        minutes = [0, 0, 10, 10, 20, 20]
        table = pa.table(
            {
                "user_id": ["b", "a", "b", "a", "a", "b"],
                "tracked_at": pa.array([m * MINUTE_US for m in minutes], pa.int64()).cast(
                    pa.timestamp("us", tz="Asia/Seoul")
                ),
                "latitude": [1.0, 2.0, 1.0, 2.0, 3.0, 2.0],
                "longitude": [0.0] * 6,
            }
        )
        stays = generate_staypoints(table)
        assert stays.column("user_id").to_pylist() == ["a", "b"]
        assert stays.column("started_at").type == UTC
        assert stays.column("finished_at").cast(pa.int64()).to_pylist() == [
            20 * MINUTE_US,
            20 * MINUTE_US,
        ]

    def test_extra_columns_are_ignored_and_input_not_modified(self) -> None:
        table = fix_table(
            [Fix(1, i * MINUTE_US, 40 + 0.01 * (i // 10), 116.0) for i in range(40)]
        ).append_column("accuracy", pa.array([5.0] * 40))
        before = table.to_pydict()
        generate_staypoints(table)
        assert table.to_pydict() == before

    def test_nanosecond_and_second_times_are_accepted(self) -> None:
        fixes = [Fix(1, i * MINUTE_US, 40 + 0.01 * (i // 10), 116.0) for i in range(40)]
        table = fix_table(fixes)
        expected = generate_staypoints(table)
        for unit in ("s", "ns"):
            times = table.column("tracked_at").cast(pa.timestamp(unit, tz="UTC"))
            assert generate_staypoints(table.set_column(1, "tracked_at", times)).equals(expected)

    @pytest.mark.parametrize("missing", ["user_id", "tracked_at", "latitude", "longitude"])
    def test_a_missing_column_is_named(self, missing: str) -> None:
        table = fix_table([Fix(1, 0, 1.0, 1.0)]).drop_columns([missing])
        with pytest.raises(InputError, match=f"column '{missing}'"):
            generate_staypoints(table)

    def test_times_without_zone_are_refused(self) -> None:
        table = fix_table([Fix(1, 0, 1.0, 1.0)])
        naive = table.set_column(
            1, "tracked_at", table.column("tracked_at").cast(pa.timestamp("us"))
        )
        with pytest.raises(InputError, match="column 'tracked_at': has no time zone"):
            generate_staypoints(naive)

    @pytest.mark.parametrize(
        ("column", "value", "message"),
        [
            ("latitude", math.nan, "latitude is not a number"),
            ("latitude", 90.5, "latitude is not a number in -90..90"),
            ("longitude", -180.01, "longitude is not a number in -180..180"),
            ("longitude", math.inf, "longitude is not a number"),
            ("latitude", None, "latitude is empty"),
            ("tracked_at", None, "tracked_at is empty"),
            ("user_id", None, "user_id is empty"),
        ],
    )
    def test_a_bad_value_names_its_row(
        self, column: str, value: float | None, message: str
    ) -> None:
        table = fix_table([Fix(1, i, 1.0, 1.0) for i in range(5)])
        values = table.column(column).to_pylist()
        values[3] = value
        table = table.set_column(
            table.column_names.index(column), column, pa.array(values, table.column(column).type)
        )
        with pytest.raises(InputError, match=rf"row 3 .*{message}"):
            generate_staypoints(table)

    @pytest.mark.parametrize(
        ("option", "value"),
        [
            ("dist_threshold_m", -1.0),
            ("dist_threshold_m", math.nan),
            ("time_threshold_min", -0.5),
            ("gap_threshold_min", 0.0),
            ("gap_threshold_min", math.nan),
        ],
    )
    def test_an_invalid_option_is_named(self, option: str, value: float) -> None:
        with pytest.raises(InputError, match=f"option {option}"):
            generate_staypoints(fix_table([Fix(1, 0, 1.0, 1.0)]), **{option: value})

    def test_wrong_column_types_are_named(self) -> None:
        table = fix_table([Fix(1, 0, 1.0, 1.0)])
        as_text = table.set_column(2, "latitude", pa.array(["1.0"]))
        with pytest.raises(InputError, match="column 'latitude': must hold numbers"):
            generate_staypoints(as_text)
        with pytest.raises(InputError, match="column 'user_id'"):
            generate_staypoints(table.set_column(0, "user_id", pa.array([1.5])))

    def test_sub_microsecond_times_are_refused(self) -> None:
        table = fix_table([Fix(1, 0, 1.0, 1.0), Fix(1, 1, 1.0, 1.0)])
        ns = pa.array([0, 1500], pa.timestamp("ns", tz="UTC"))
        with pytest.raises(InputError, match=r"row 1 .*finer than a microsecond"):
            generate_staypoints(table.set_column(1, "tracked_at", ns))

    def test_many_fixes_at_one_instant(self) -> None:
        """A logger that stamps hundreds of fixes with one time: repeats are found by hashing."""
        rng = np.random.default_rng(5)
        fixes = [
            Fix(1, MINUTE_US * (i // 300), float(40 + rng.integers(0, 50) * 1e-4), 116.0)
            for i in range(900)
        ]
        fixes += [Fix(1, 10 * MINUTE_US, 41.0, 116.0)]
        for exclude in (True, False):
            kwargs: dict[str, Any] = {
                "dist_threshold_m": 100.0,
                "time_threshold_min": 1.0,
                "gap_threshold_min": 15.0,
                "include_last": True,
                "exclude_duplicate_fixes": exclude,
            }
            assert_same_stays(
                stays_of(generate_staypoints(fix_table(fixes), **kwargs)),
                trackintel_reference(fixes, **kwargs),
                tolerance_m=1e-3,
            )

    def test_a_dropped_repeat_is_not_part_of_the_next_stay(self) -> None:
        """f, x, r share a time; r repeats f and is dropped. x starts a stay that r would fall
        into: the fix after r has f's position and must still count in x's stay."""
        east = 1e-5 / math.cos(math.radians(40.0))  # about 1.1 m of longitude
        p0, p1, p2 = (40.0, 116.0), (40.0, 116.0 + 60 * east), (40.0, 116.0 + 110 * east)
        t1 = 10 * MINUTE_US
        fixes = [
            Fix(1, 0, *p0),
            Fix(1, t1, *p1),  # f: 60 m from the anchor
            Fix(1, t1, *p2),  # x: 110 m, the new anchor
            Fix(1, t1, *p1),  # r: repeats f
            Fix(1, t1 + MINUTE_US, *p1),  # 50 m from x
            Fix(1, t1 + 10 * MINUTE_US, 41.0, 116.0),
        ]
        kwargs: dict[str, Any] = {
            "dist_threshold_m": 100.0,
            "time_threshold_min": 5.0,
            "gap_threshold_min": 15.0,
            "include_last": False,
            "exclude_duplicate_fixes": True,
        }
        ours = stays_of(generate_staypoints(fix_table(fixes), **kwargs))
        assert [s.n_fixes for s in ours] == [2, 2]
        assert_same_stays(ours, trackintel_reference(fixes, **kwargs), tolerance_m=1e-3)

    def test_gap_threshold_infinity_means_no_gaps(self) -> None:
        fixes = [Fix(1, 0, 1.0, 1.0), Fix(1, 10**12, 1.0, 1.0), Fix(1, 10**12 + 1, 2.0, 1.0)]
        stays = generate_staypoints(fix_table(fixes), gap_threshold_min=math.inf)
        assert stays.num_rows == 1

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(fixes=random_fixes(), kwargs=options, string_ids=st.booleans())
    def test_same_as_a_transcription_of_trackintel(
        self, fixes: list[Fix], kwargs: dict[str, Any], string_ids: bool
    ) -> None:
        table = fix_table(fixes, string_ids=string_ids)
        ours = stays_of(generate_staypoints(table, **kwargs))
        expected = trackintel_reference(fixes, **kwargs)
        if string_ids:
            expected = [
                Stay(f"u{s.user_id}", s.started_us, s.finished_us, s.lat, s.lon, s.n_fixes)
                for s in sorted(expected, key=lambda s: (f"u{s.user_id}", s.started_us))
            ]
        assert_same_stays(ours, expected, tolerance_m=1e-3)

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(fixes=random_fixes(), kwargs=options)
    def test_same_as_trackintel_itself(self, fixes: list[Fix], kwargs: dict[str, Any]) -> None:
        ours = stays_of(generate_staypoints(fix_table(fixes), **kwargs))
        theirs = run_trackintel(fixes, **kwargs)
        ours = [Stay(s.user_id, s.started_us, s.finished_us, s.lat, s.lon, -1) for s in ours]
        assert_same_stays(ours, theirs, tolerance_m=1e-3)

    @settings(max_examples=100, deadline=None)
    @given(fixes=random_fixes(), kwargs=options)
    def test_invariants(self, fixes: list[Fix], kwargs: dict[str, Any]) -> None:
        table = fix_table(fixes)
        before = table.to_pydict()
        stays = stays_of(generate_staypoints(table, **kwargs))
        assert table.to_pydict() == before
        keys = [(s.user_id, s.started_us) for s in stays]
        assert keys == sorted(keys)
        for s in stays:
            assert s.n_fixes >= 1
            assert s.started_us <= s.finished_us
            if kwargs["time_threshold_min"] > 0:
                assert s.started_us < s.finished_us
            assert -90 <= s.lat <= 90
            assert -180 <= s.lon <= 180
        assert sum(s.n_fixes for s in stays) <= len(fixes)


class TestStaypointsOfTrack:
    def test_indices_and_the_open_stay(self) -> None:
        t = np.array([0, 1, 6, 7, 8, 20], np.int64) * MINUTE_US
        lat = np.array([40.0, 40.0, 40.0, 41.0, 41.0, 41.0])
        lon = np.full(6, 116.0)
        start, end, _, _ = staypoints_of_track(t, lat, lon)
        assert start.tolist() == [0]
        assert end.tolist() == [3]
        start, end, stay_lat, _ = staypoints_of_track(t, lat, lon, include_last=True)
        assert start.tolist() == [0, 3]
        assert end.tolist() == [3, 6]  # the open stay ends at len(t): it finished at t[-1]
        assert stay_lat.tolist() == [40.0, 41.0]

    def test_refuses_unsorted_times_naming_the_index(self) -> None:
        t = np.array([0, 5, 3], np.int64)
        with pytest.raises(InputError, match="index 2"):
            staypoints_of_track(t, np.zeros(3), np.zeros(3))

    def test_refuses_bad_coordinates_and_lengths(self) -> None:
        t = np.arange(3, dtype=np.int64)
        with pytest.raises(InputError, match="index 1: lat"):
            staypoints_of_track(t, np.array([0.0, 91.0, 0.0]), np.zeros(3))
        with pytest.raises(InputError, match="same length"):
            staypoints_of_track(t, np.zeros(2), np.zeros(3))
        with pytest.raises(InputError, match="option time_threshold_min"):
            staypoints_of_track(t, np.zeros(3), np.zeros(3), time_threshold_min=-1)

    @settings(max_examples=150, deadline=None)
    @given(fixes=random_fixes(max_users=1), kwargs=options)
    def test_same_as_a_transcription_of_trackintel(
        self, fixes: list[Fix], kwargs: dict[str, Any]
    ) -> None:
        fixes = sorted(fixes, key=lambda f: f.t_us)
        kwargs = {**kwargs, "exclude_duplicate_fixes": False}
        t = np.array([f.t_us for f in fixes], np.int64)
        lat = np.array([f.lat for f in fixes])
        lon = np.array([f.lon for f in fixes])
        copies = (t.copy(), lat.copy(), lon.copy())
        start, end, stay_lat, stay_lon = staypoints_of_track(
            t,
            lat,
            lon,
            dist_threshold_m=kwargs["dist_threshold_m"],
            time_threshold_min=kwargs["time_threshold_min"],
            gap_threshold_min=kwargs["gap_threshold_min"],
            include_last=kwargs["include_last"],
        )
        for original, copy in zip((t, lat, lon), copies, strict=True):
            np.testing.assert_array_equal(original, copy)
        ours = [
            Stay(
                fixes[0].user_id,
                int(t[s]),
                int(t[min(e, len(t) - 1)]),
                float(la),
                float(lo),
                int(e - s),
            )
            for s, e, la, lo in zip(start, end, stay_lat, stay_lon, strict=True)
        ]
        assert_same_stays(ours, trackintel_reference(fixes, **kwargs), tolerance_m=1e-3)


class TestDistanceDecision:
    """The trig-free test of the kernel decides exactly as trackintel's formula."""

    @pytest.mark.parametrize("dist_m", [100.0, 25.0, 0.0, 1e-3, 3.0, 5_000.0, 2e7])
    def test_at_and_around_the_threshold(self, dist_m: float) -> None:
        rng = np.random.default_rng(int(dist_m * 1000) % 2**32)
        hav_lo, hav_hi = haversine_thresholds(dist_m)
        checked = 0
        for _ in range(300):
            lat = float(rng.uniform(-89.99, 89.99))
            lon = float(rng.uniform(-179.99, 179.99))
            phi = math.radians(lat)
            for north in (True, False):
                edge = boundary_step(lat, lon, max(dist_m, 1e-9), north)
                for value in (edge, *(np.nextafter(edge, d) for d in (-math.inf, math.inf))):
                    p_lat, p_lon = (
                        (min(float(value), 90.0), lon) if north else (lat, _wrap(float(value)))
                    )
                    expected = point_haversine_dist(lon, lat, p_lon, p_lat) >= dist_m
                    got = _is_far(
                        lat, lon, math.cos(phi), math.sin(phi), p_lat, p_lon, dist_m, hav_lo, hav_hi
                    )
                    assert got == expected
                    checked += 1
        assert checked == 1800

    def test_kernel_formula_is_trackintels_bit_for_bit(self) -> None:
        from trackintel.geogr import point_haversine_dist as trackintel_dist

        rng = np.random.default_rng(3)
        for _ in range(2000):
            lon1, lon2 = rng.uniform(-180, 180, 2)
            lat1 = rng.uniform(-90, 90)
            lat2 = float(np.clip(lat1 + rng.normal(0, 1e-3), -90, 90))
            got = trackintel_distance_m(lon1, lat1, lon2, lat2)
            want = trackintel_dist(lon1, lat1, lon2, lat2, float_flag=True)
            assert got == want or (math.isnan(got) and math.isnan(want))

    @settings(max_examples=300, deadline=None)
    @given(minutes=st.floats(0, 1e7, allow_nan=False))
    def test_thresholds_in_nanoseconds_as_pandas(self, minutes: float) -> None:
        assert _minutes_to_ns(minutes) == pd.Timedelta(minutes, unit="minutes").value


# ----------------------------------------------------------------------------------------------
# The real GeoLife samples that trackintel tests itself on.

REAL_OPTIONS = {
    "defaults": {},
    "25m-5min-nogap": {
        "dist_threshold_m": 25.0,
        "time_threshold_min": 5.0,
        "gap_threshold_min": 1e6,
    },
}


@pytest.fixture(scope="module")
def geolife(data_dir: Path) -> dict[str, Any]:
    from trackintel.io import read_geolife

    folders = {}
    for name in ("geolife", "geolife_long", "geolife_long_10_MB"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' deprecations inside trackintel
            pfs, _ = read_geolife(str(data_dir / "trajectories" / "trackintel" / name))
        folders[name] = pfs
    return folders


def geolife_table(pfs: Any) -> pa.Table:
    return pa.table(
        {
            "user_id": pfs["user_id"].to_numpy(),
            "tracked_at": pa.array(pfs["tracked_at"]),
            "latitude": pfs.geometry.y.to_numpy(),
            "longitude": pfs.geometry.x.to_numpy(),
        }
    )


@pytest.mark.realdata
class TestGeoLife:
    @pytest.mark.parametrize("options_name", sorted(REAL_OPTIONS))
    @pytest.mark.parametrize("folder", ["geolife", "geolife_long", "geolife_long_10_MB"])
    def test_every_stay_point_as_trackintel(
        self, geolife: dict[str, Any], folder: str, options_name: str
    ) -> None:
        pfs = geolife[folder]
        kwargs = REAL_OPTIONS[options_name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, sp = pfs.generate_staypoints(
                method="sliding",
                dist_threshold=kwargs.get("dist_threshold_m", 100),
                time_threshold=kwargs.get("time_threshold_min", 5.0),
                gap_threshold=kwargs.get("gap_threshold_min", 15.0),
            )
        ours = generate_staypoints(geolife_table(pfs), **kwargs)
        assert ours.num_rows == len(sp) > 0
        assert ours.column("user_id").to_pylist() == sp["user_id"].tolist()
        for column in ("started_at", "finished_at"):
            assert ours.column(column).equals(pa.chunked_array([pa.array(sp[column]).cast(UTC)]))
        worst = max(
            haversine_m(lat, lon, p.y, p.x)
            for lat, lon, p in zip(
                ours.column("latitude").to_pylist(),
                ours.column("longitude").to_pylist(),
                sp.geometry,
                strict=True,
            )
        )
        assert worst <= 1.0

    def test_the_staypoints_of_sp_tpls(self, geolife: dict[str, Any], data_dir: Path) -> None:
        """trackintel's own regression file (geolife_long/sp_tpls.csv), made with 25 m, 5 min
        and a gap of 1e6 min: its 22 stay points, times and users."""
        expected = pd.read_csv(data_dir / "trajectories/trackintel/geolife_long/sp_tpls.csv")
        expected = expected[expected["type"] == "staypoint"]
        assert len(expected) == 22
        ours = generate_staypoints(
            geolife_table(geolife["geolife_long"]), **REAL_OPTIONS["25m-5min-nogap"]
        ).to_pandas()
        assert ours["user_id"].tolist() == expected["user_id"].tolist()
        for column in ("started_at", "finished_at"):
            assert ours[column].tolist() == pd.to_datetime(expected[column], utc=True).tolist()
