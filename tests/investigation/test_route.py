"""Route reconstruction from hand-made evidence: each rule of the merge, one at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from citytrace.evidence.readers import FIX_SCHEMA, OBSERVATION_SCHEMA
from citytrace.investigation.route import DisclosureWindow, RouteParams, reconstruct_route

T0 = datetime(2020, 3, 2, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
CAFE = (37.5665, 126.9780)
GYM = (37.5700, 126.9900)  # about 1.1 km from the cafe


def _fixes(*stays: tuple[tuple[float, float], datetime, datetime]) -> pa.Table:
    """Fixes every minute at each stay (a few metres of noise), nothing in between."""
    rng = np.random.default_rng(1)
    times: list[datetime] = []
    lats: list[float] = []
    lons: list[float] = []
    for (lat, lon), start, end in stays:
        t = start
        while t <= end:
            times.append(t)
            lats.append(lat + rng.normal(0, 2e-5))
            lons.append(lon + rng.normal(0, 2e-5))
            t += timedelta(minutes=1)
    n = len(times)
    return pa.table(
        {
            "tracked_at": pa.array(times, pa.timestamp("us", tz="UTC")),
            "latitude": lats,
            "longitude": lons,
            "accuracy_m": pa.array([10.0] * n),
            "source_index": pa.array(range(n), pa.int64()),
        },
        schema=FIX_SCHEMA,
    )


def _obs(rows: list[dict[str, object]]) -> pa.Table:
    defaults = {
        "finished_at": None,
        "radius_m": None,
        "place_id": None,
        "place_name": None,
        "place_kind": None,
        "address": None,
        "confidence": None,
    }
    full = [defaults | r | {"source_index": i} for i, r in enumerate(rows)]
    return pa.Table.from_pylist(full, schema=OBSERVATION_SCHEMA)


class TestReconstructRoute:
    def test_stay_and_payment_at_one_place_make_one_visit_named_by_the_payment(self) -> None:
        fixes = _fixes(
            (CAFE, T0, T0 + timedelta(minutes=40)),
            (GYM, T0 + timedelta(hours=2), T0 + timedelta(hours=3)),
        )
        card = _obs(
            [
                {
                    "kind": "card",
                    "started_at": T0 + timedelta(minutes=35),
                    "latitude": CAFE[0] + 0.0003,
                    "longitude": CAFE[1],
                    "place_id": "M-1",
                    "place_name": "Cafe Onion",
                    "place_kind": "cafe",
                }
            ]
        )
        visits = reconstruct_route(fixes=fixes, observations=card)
        assert len(visits) == 2
        cafe, gym = visits
        assert cafe.evidence_kinds == ("card", "gps")
        assert cafe.venue_name == "Cafe Onion" and cafe.venue_id == "M-1"
        # The venue's position wins over the GPS centroid.
        assert cafe.latitude == pytest.approx(CAFE[0] + 0.0003)
        # Measured GPS times decide the interval: the assumed dwell does not widen it.
        assert cafe.started_at == T0
        assert gym.evidence_kinds == ("gps",)
        assert cafe.confidence > gym.confidence

    def test_payment_alone_gets_its_kinds_dwell_time(self) -> None:
        card = _obs(
            [
                {
                    "kind": "card",
                    "started_at": T0,
                    "latitude": CAFE[0],
                    "longitude": CAFE[1],
                    "place_kind": "restaurant",
                }
            ]
        )
        (visit,) = reconstruct_route(fixes=None, observations=card)
        # A restaurant payment falls late in an hour-long visit.
        assert visit.started_at == T0 - timedelta(minutes=45)
        assert visit.finished_at == T0 + timedelta(minutes=15)

    def test_checkin_opens_the_visit(self) -> None:
        obs = _obs(
            [
                {
                    "kind": "checkin",
                    "started_at": T0,
                    "latitude": GYM[0],
                    "longitude": GYM[1],
                    "place_kind": "gym",
                    "place_name": "Iron Gym",
                }
            ]
        )
        (visit,) = reconstruct_route(fixes=None, observations=obs)
        assert visit.started_at == T0 and visit.finished_at == T0 + timedelta(minutes=75)

    def test_far_apart_records_at_the_same_time_stay_separate(self) -> None:
        obs = _obs(
            [
                {"kind": "checkin", "started_at": T0, "latitude": CAFE[0], "longitude": CAFE[1]},
                {
                    "kind": "checkin",
                    "started_at": T0 + timedelta(minutes=5),
                    "latitude": GYM[0],
                    "longitude": GYM[1],
                },
            ]
        )
        assert len(reconstruct_route(fixes=None, observations=obs)) == 2

    def test_cell_record_corroborates_a_visit_it_covers(self) -> None:
        fixes = _fixes((CAFE, T0, T0 + timedelta(minutes=30)))
        cell = _obs(
            [
                {
                    "kind": "cell",
                    "started_at": T0 + timedelta(minutes=5),
                    "finished_at": T0 + timedelta(minutes=25),
                    "latitude": CAFE[0] + 0.003,  # ~330 m away, inside its radius
                    "longitude": CAFE[1],
                    "radius_m": 500.0,
                }
            ]
        )
        (visit,) = reconstruct_route(fixes=fixes, observations=cell)
        assert visit.evidence_kinds == ("cell", "gps")
        alone = reconstruct_route(fixes=fixes, observations=None)[0]
        assert visit.confidence > alone.confidence
        # The cell site's coarse position does not move the visit.
        assert visit.latitude == pytest.approx(alone.latitude)

    def test_long_cell_record_alone_is_a_low_confidence_visit_short_one_is_dropped(self) -> None:
        obs = _obs(
            [
                {
                    "kind": "cell",
                    "started_at": T0,
                    "finished_at": T0 + timedelta(minutes=90),
                    "latitude": GYM[0],
                    "longitude": GYM[1],
                    "radius_m": 800.0,
                },
                {
                    "kind": "cell",
                    "started_at": T0 + timedelta(hours=3),
                    "finished_at": T0 + timedelta(hours=3, minutes=10),
                    "latitude": CAFE[0],
                    "longitude": CAFE[1],
                    "radius_m": 800.0,
                },
            ]
        )
        (visit,) = reconstruct_route(fixes=None, observations=obs)
        assert visit.evidence_kinds == ("cell",) and visit.radius_m == 800.0
        assert visit.confidence < 0.5

    def test_visits_are_cut_to_the_window_and_located(self) -> None:
        fixes = _fixes(
            (CAFE, T0, T0 + timedelta(minutes=40)),
            (GYM, T0 + timedelta(days=3), T0 + timedelta(days=3, minutes=40)),
        )
        window = DisclosureWindow(start=T0 + timedelta(minutes=20), end=T0 + timedelta(days=1))
        calls: list[int] = []

        def locate(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            calls.append(len(lat))
            return np.array(["11140"] * len(lat), dtype=object), np.array(
                ["11140550"] * len(lat), dtype=object
            )

        visits = reconstruct_route(fixes=fixes, observations=None, window=window, locate=locate)
        assert len(visits) == 1
        assert visits[0].started_at == window.start
        assert (visits[0].district_code, visits[0].neighbourhood_code) == ("11140", "11140550")
        assert calls == [1]

    def test_stay_points_follow_the_thresholds(self) -> None:
        fixes = _fixes((CAFE, T0, T0 + timedelta(minutes=4)))
        assert reconstruct_route(fixes=fixes, observations=None) == []
        loose = RouteParams(time_threshold_min=2, min_uncorroborated_min=0)
        assert len(reconstruct_route(fixes=fixes, observations=None, params=loose)) == 1

    def test_short_stop_with_nothing_but_gps_is_dropped_unless_a_record_backs_it(self) -> None:
        fixes = _fixes((CAFE, T0, T0 + timedelta(minutes=7)))
        assert reconstruct_route(fixes=fixes, observations=None) == []
        card = _obs(
            [
                {
                    "kind": "card",
                    "started_at": T0 + timedelta(minutes=3),
                    "latitude": CAFE[0],
                    "longitude": CAFE[1],
                    "place_kind": "cafe",
                }
            ]
        )
        (visit,) = reconstruct_route(fixes=fixes, observations=card)
        assert visit.evidence_kinds == ("card", "gps")

    def test_silence_at_one_place_joins_the_stays_around_it(self) -> None:
        # At home from 0:00 to 0:30, the phone silent for two hours, at home again until 3:00.
        fixes = _fixes(
            (CAFE, T0, T0 + timedelta(minutes=30)),
            (CAFE, T0 + timedelta(hours=2, minutes=30), T0 + timedelta(hours=3)),
        )
        (visit,) = reconstruct_route(fixes=fixes, observations=None)
        assert visit.started_at == T0
        assert visit.finished_at == T0 + timedelta(hours=3)
        # One kind of evidence seen in pieces is not more certain than seen once.
        assert visit.confidence == pytest.approx(0.7)
        # Silence longer than the bridge keeps them apart.
        short = RouteParams(bridge_gap_max_min=60)
        assert len(reconstruct_route(fixes=fixes, observations=None, params=short)) == 2

    def test_a_stay_cut_by_the_phone_switching_off_is_kept(self) -> None:
        fixes = _fixes(
            (CAFE, T0, T0 + timedelta(minutes=20)),
            (GYM, T0 + timedelta(hours=6), T0 + timedelta(hours=7)),
        )
        cafe, gym = reconstruct_route(fixes=fixes, observations=None)
        assert cafe.finished_at == T0 + timedelta(minutes=20)
        assert gym.started_at == T0 + timedelta(hours=6)


class TestDisclosureWindow:
    def test_isolation_before_window_is_refused(self) -> None:
        from citytrace.errors import InputError

        with pytest.raises(InputError, match="isolated_date"):
            DisclosureWindow.for_case(
                symptom_onset_date=date(2020, 3, 10),
                specimen_collected_date=None,
                confirmed_date=date(2020, 3, 12),
                isolated_date=date(2020, 3, 1),
                timezone="Asia/Seoul",
            )
