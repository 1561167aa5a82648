"""The exposure rule and the exact pairwise test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citytrace.errors import InputError
from citytrace.exposure import TOLERANCE_M, CloseContactRule, ExposureRule
from citytrace.exposure.definition import gap_m, overlap_us
from citytrace.geo import haversine_m


class TestExposureRule:
    def test_defaults(self) -> None:
        rule = ExposureRule()
        assert (rule.distance_m, rule.min_overlap_min) == (20.0, 15.0)
        assert rule.min_overlap_us == 15 * 60_000_000
        assert rule.limit_m == 20.0 + TOLERANCE_M
        assert rule.close == CloseContactRule(2.0, 15.0, 10.0)

    @pytest.mark.parametrize(
        ("kwargs", "where"),
        [
            ({"distance_m": -1.0}, "distance_m"),
            ({"distance_m": math.nan}, "distance_m"),
            ({"distance_m": 5000.0}, "distance_m"),
            ({"min_overlap_min": math.inf}, "min_overlap_min"),
            ({"min_overlap_min": "15"}, "min_overlap_min"),
        ],
    )
    def test_bad_values_are_named(self, kwargs: dict[str, object], where: str) -> None:
        with pytest.raises(InputError) as caught:
            ExposureRule(**kwargs)  # type: ignore[arg-type]
        assert caught.value.location == where


class TestCloseContactRule:
    def test_bad_values_are_named(self) -> None:
        with pytest.raises(InputError, match=r"close\.max_distance_m"):
            CloseContactRule(max_distance_m=-2.0)


class TestGapM:
    def test_is_haversine_less_both_radii(self) -> None:
        lat1, lon1, lat2, lon2 = 37.5, 127.0, 37.5009, 127.0
        got = gap_m(np.array([lat1]), np.array([lon1]), np.array([3.0]),
                    np.array([lat2]), np.array([lon2]), np.array([4.0]))  # fmt: skip
        assert got[0] == pytest.approx(haversine_m(lat1, lon1, lat2, lon2) - 7.0)


class TestOverlapUs:
    def test_is_negative_when_apart(self) -> None:
        got = overlap_us(
            np.array([0, 0]), np.array([10, 10]), np.array([5, 20]), np.array([30, 40])
        )
        assert got.tolist() == [5, -10]
