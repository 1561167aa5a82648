"""The search grid: the window of a position holds every cell within reach (the module's proof)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from citytrace.exposure import _kernels
from citytrace.exposure.grid import (
    BUCKET_US,
    GRIDS,
    MAX_RADIUS_M,
    N_DURATIONS,
    record_keys,
)
from citytrace.geo import haversine_m
from tests.exposure.scenes import cell_corner, destination

MINUTE_US = 60_000_000


def in_window(lat: float, lon: float, reach_m: float, level: int, q: tuple[float, float]) -> bool:
    g = GRIDS[level]
    row0, row1, a0, a1, b0, b1 = _kernels.window(
        lat, lon, reach_m, g.row_deg, g.col_deg, float(g.n_rows), float(g.n_cols)
    )
    cell = int(g.cells(np.array([q[0]]), np.array([q[1]]))[0])
    row, col = divmod(cell, g.n_cols)
    return row0 <= row <= row1 and (a0 <= col <= a1 or b0 <= col <= b1)


positions = st.one_of(
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    st.tuples(st.floats(37.4, 37.7), st.floats(126.8, 127.2)),  # Seoul
    st.tuples(st.floats(-89.9999, 89.9999), st.sampled_from([-180.0, 180.0, 179.99999])),
    st.tuples(st.sampled_from([-90.0, 90.0, 89.9999]), st.floats(-180, 180)),
)


class TestWindow:
    @settings(max_examples=800, deadline=None)
    @given(
        p=positions,
        level=st.integers(0, len(GRIDS) - 1),
        reach_m=st.one_of(st.floats(0, 12_000), st.sampled_from([0.0, 20.0, 50.0, 10_020.0])),
        bearing=st.floats(0, 360),
        fraction=st.one_of(st.floats(0, 1), st.just(1.0)),
        on_corner=st.booleans(),
    )
    def test_every_position_within_reach_is_in_the_window(
        self,
        p: tuple[float, float],
        level: int,
        reach_m: float,
        bearing: float,
        fraction: float,
        on_corner: bool,
    ) -> None:
        q = destination(*p, reach_m * fraction, bearing)
        if on_corner:  # the other end on a grid corner, the visit at the reach from it
            q = cell_corner(*p, level)
            p = destination(*q, reach_m * fraction, bearing)
        if haversine_m(p[0], p[1], q[0], q[1]) <= reach_m:
            assert in_window(p[0], p[1], reach_m, level, q)

    def test_window_is_small_in_a_city(self) -> None:
        g = GRIDS[0]
        row0, row1, a0, a1, b0, b1 = _kernels.window(
            37.5665, 126.978, 30.0, g.row_deg, g.col_deg, float(g.n_rows), float(g.n_cols)
        )
        assert row1 - row0 + 1 <= 3 and a1 - a0 + 1 <= 4 and b1 < b0

    def test_antimeridian_wraps(self) -> None:
        g = GRIDS[0]
        _, _, a0, a1, b0, b1 = _kernels.window(
            0.0, 179.9999, 50.0, g.row_deg, g.col_deg, float(g.n_rows), float(g.n_cols)
        )
        assert a1 == g.n_cols - 1 and b0 == 0 and b1 >= 0 and a0 > b1


class TestRecordKeys:
    def test_levels_follow_radius_and_duration(self) -> None:
        lat = np.full(5, 37.5)
        lon = np.full(5, 127.0)
        radius = np.array([0.0, 10.0, 10.5, 1000.0, MAX_RADIUS_M])
        start = np.zeros(5, np.int64)
        end = np.array([60, 61, 240, 3840, 44640], np.int64) * MINUTE_US
        level, cell, bucket = record_keys(lat, lon, radius, start, end)
        assert (level // N_DURATIONS).tolist() == [0, 0, 1, 2, 3]
        assert (level % N_DURATIONS).tolist() == [0, 1, 1, 3, 4]
        assert bucket.tolist() == [0] * 5
        assert cell[0] == GRIDS[0].cells(lat[:1], lon[:1])[0]

    def test_buckets_floor_before_1970_and_after(self) -> None:
        level, _, bucket = record_keys(
            np.zeros(2), np.zeros(2), np.zeros(2), np.array([-1, int(BUCKET_US[0])]),
            np.array([0, int(BUCKET_US[0]) + 1]),
        )  # fmt: skip
        assert bucket.tolist() == [-1, 1] and level.tolist() == [0, 0]
