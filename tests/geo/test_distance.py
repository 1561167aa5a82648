"""haversine_m against distances known independently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citytrace.geo import EARTH_RADIUS_M, haversine_m


class TestHaversineM:
    def test_one_degree_of_latitude(self) -> None:
        assert haversine_m(37.0, 127.0, 38.0, 127.0) == pytest.approx(
            EARTH_RADIUS_M * math.pi / 180
        )

    def test_one_degree_of_longitude_on_the_equator_and_at_60_degrees(self) -> None:
        assert haversine_m(0.0, 10.0, 0.0, 11.0) == pytest.approx(111_194.93, abs=0.01)
        # A parallel is not a great circle, so the chord is slightly shorter than cos(60) * 1 deg.
        assert haversine_m(60.0, 10.0, 60.0, 11.0) == pytest.approx(55_596.0, abs=5.0)

    def test_paris_london(self) -> None:
        # The textbook haversine example: 343.5 km on a sphere of 6,371 km.
        assert haversine_m(48.8566, 2.3522, 51.5074, -0.1278) / 1000 == pytest.approx(
            343.56, abs=0.05
        )

    def test_seoul_city_hall_to_gangnam_station(self) -> None:
        # 8.78 km on the sphere; the WGS84 ellipsoid gives 8.79 km.
        assert haversine_m(37.5663, 126.9779, 37.4979, 127.0276) == pytest.approx(8_778.0, abs=1.0)

    def test_zero_and_antipodes(self) -> None:
        assert haversine_m(37.5, 127.0, 37.5, 127.0) == 0.0
        assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_M)

    def test_scalars_give_a_float(self) -> None:
        assert isinstance(haversine_m(37.5, 127.0, 37.6, 127.1), float)

    def test_arrays_broadcast(self) -> None:
        lat = np.array([37.5, 37.6, 37.7])
        d = haversine_m(lat, 127.0, 37.5, 127.0)
        assert isinstance(d, np.ndarray)
        assert d.shape == (3,)
        assert d[0] == 0.0
        np.testing.assert_allclose(d[1:], [11_119.49, 22_238.99], atol=0.01)
        grid = haversine_m(lat[:, None], np.array([127.0, 127.1])[None, :], 37.5, 127.0)
        assert grid.shape == (3, 2)
