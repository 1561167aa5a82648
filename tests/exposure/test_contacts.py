"""find_contacts: every engine against the brute-force reference, and known answers."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings

from citytrace.errors import InputError
from citytrace.exposure import (
    CONTACT_COLUMNS,
    CloseContactRule,
    ExposureRule,
    RecordIndex,
    RecordStore,
    find_contacts,
    records_from_visits,
)
from citytrace.synth import SynthConfig, generate
from tests.exposure.scenes import UTC_US, Scene, cases_of, destination, live_by_day, scenes

ENGINES = ["duckdb", "index", "postgres"]


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2020, 3, 1, hour, minute, tzinfo=UTC)


def visits_of(*rows: tuple[object, float, float, datetime, datetime]) -> pa.Table:
    return pa.table(
        {
            "case_id": [r[0] for r in rows],
            "latitude": [r[1] for r in rows],
            "longitude": [r[2] for r in rows],
            "started_at": pa.array([r[3] for r in rows], UTC_US),
            "finished_at": pa.array([r[4] for r in rows], UTC_US),
        }
    )


def records_of(
    *rows: tuple[int, float, float, datetime, datetime | None, str, float],
) -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array([r[0] for r in rows], pa.int64()),
            "latitude": [r[1] for r in rows],
            "longitude": [r[2] for r in rows],
            "started_at": pa.array([r[3] for r in rows], UTC_US),
            "finished_at": pa.array([r[4] for r in rows], UTC_US),
            "kind": [r[5] for r in rows],
            "radius_m": [r[6] for r in rows],
        }
    )


def assert_same(expected: pa.Table, got: pa.Table, label: str) -> None:
    """Equal contacts; distances within a nanometre (engines' sin/cos differ in the last bit)."""
    assert got.column_names == list(CONTACT_COLUMNS), label
    exact = [c for c in CONTACT_COLUMNS if c != "min_distance_m"]
    if not expected.select(exact).equals(got.select(exact)):
        raise AssertionError(
            f"{label} differs from brute force:\n{expected.to_pandas()}\n{got.to_pandas()}"
        )
    np.testing.assert_allclose(
        got.column("min_distance_m").to_numpy(),
        expected.column("min_distance_m").to_numpy(),
        rtol=0,
        atol=1e-9,
        err_msg=label,
    )


def run(scene: Scene, engine: str, url: str | None = None) -> pa.Table:
    return find_contacts(scene.visits, scene.records, scene.rule, engine=engine, database_url=url)


LAT, LON = 37.5665, 126.9780


class TestFindContacts:
    def test_known_answers(self) -> None:
        north_10 = destination(LAT, LON, 10.0, 0.0)
        north_25 = destination(LAT, LON, 25.0, 0.0)
        east_5 = destination(LAT, LON, 5.0, 90.0)
        far_cell = destination(LAT, LON, 1015.0, 180.0)
        visits = visits_of(("C1", LAT, LON, at(12), at(13)))
        records = records_of(
            (1, LAT, LON, at(12, 30), at(14), "checkin", 0.0),  # 30 min at 0 m: close
            (1, *east_5, at(11), at(12, 45), "gps", 0.0),  # 45 min at 5 m
            (2, *north_10, at(12), at(12, 20), "visit", 0.0),  # 20 min at 10 m: casual
            (3, *north_25, at(12), at(13), "visit", 0.0),  # too far
            (4, LAT, LON, at(12, 50), at(13, 30), "visit", 0.0),  # 10 min: too short
            (5, *far_cell, at(12), at(14), "cell", 1000.0),  # circles 15 m apart: casual
        )
        for engine in ("brute", "duckdb", "index"):
            got = find_contacts(visits, records, ExposureRule(20, 15), engine=engine)
            assert got.column("person_id").to_pylist() == [1, 2, 5], engine
            assert got.column("case_id").to_pylist() == ["C1"] * 3
            assert got.column("first_contact_at").to_pylist() == [at(12), at(12), at(12)]
            assert got.column("max_overlap_min").to_pylist() == [45.0, 20.0, 60.0]
            np.testing.assert_allclose(got.column("min_distance_m"), [0.0, 10.0, 15.0], atol=1e-6)
            assert got.column("evidence_kinds").to_pylist() == ["checkin,gps", "visit", "cell"]
            assert got.column("n_contacts").to_pylist() == [2, 1, 1]
            assert got.column("risk_class").to_pylist() == ["close", "casual", "casual"]

    def test_exact_limits_count(self) -> None:
        """Exactly D away and exactly T together is a contact; a microsecond less is not."""
        at_limit = destination(LAT, LON, 20.0, 45.0)
        visits = visits_of((7, LAT, LON, at(12), at(13)))
        t = datetime(2020, 3, 1, 12, 45, tzinfo=UTC)
        records = records_of(
            (1, *at_limit, t, at(14), "visit", 0.0),
            (2, *at_limit, t.replace(microsecond=1), at(14), "visit", 0.0),
            (3, *destination(LAT, LON, 20.0001, 45.0), t, at(14), "visit", 0.0),
        )
        for engine in ("brute", "duckdb", "index"):
            got = find_contacts(visits, records, ExposureRule(20, 15), engine=engine)
            assert got.column("person_id").to_pylist() == [1], engine

    def test_close_rule_is_configurable(self) -> None:
        visits = visits_of(("C1", LAT, LON, at(12), at(13)))
        records = records_of((1, *destination(LAT, LON, 3.0, 0.0), at(12), at(13), "gps", 0.0))
        default = find_contacts(visits, records, ExposureRule(), engine="index")
        assert default.column("risk_class").to_pylist() == ["casual"]
        wider = ExposureRule(close=CloseContactRule(max_distance_m=5.0, min_overlap_min=60.0))
        assert find_contacts(visits, records, wider).column("risk_class").to_pylist() == ["close"]

    def test_point_records_get_their_dwell_time(self) -> None:
        """A card payment at a restaurant covers the 45 minutes before it and 15 after."""
        visits = visits_of(("C1", LAT, LON, at(12), at(12, 20)))
        records = records_of((1, LAT, LON, at(13), None, "card", 0.0)).append_column(
            "place_kind", pa.array(["restaurant"])
        )
        got = find_contacts(visits, records, ExposureRule(20, 5), engine="brute")
        assert got.column("first_contact_at").to_pylist() == [at(12, 15)]
        assert got.column("max_overlap_min").to_pylist() == [5.0]

    def test_own_person_is_left_out(self) -> None:
        visits = visits_of(("C1", LAT, LON, at(12), at(13)), ("C2", LAT, LON, at(12), at(13)))
        records = records_of(
            (1, LAT, LON, at(12), at(13), "visit", 0.0), (2, LAT, LON, at(12), at(13), "visit", 0.0)
        )
        for engine in ("brute", "duckdb", "index"):
            got = find_contacts(
                visits, records, engine=engine, exclude_person_ids={"C1": 1, "C2": 2}
            )
            assert got.select(["case_id", "person_id"]).to_pylist() == [
                {"case_id": "C1", "person_id": 2},
                {"case_id": "C2", "person_id": 1},
            ]

    def test_no_contacts_is_an_empty_table(self) -> None:
        visits = visits_of(("C1", LAT, LON, at(12), at(13)))
        records = records_of((1, 0.0, 0.0, at(12), at(13), "visit", 0.0))
        for engine in ("brute", "duckdb", "index"):
            got = find_contacts(visits, records, engine=engine)
            assert got.num_rows == 0 and got.column_names == list(CONTACT_COLUMNS)

    def test_unknown_engine_is_named(self) -> None:
        visits = visits_of(("C1", LAT, LON, at(12), at(13)))
        records = records_of((1, LAT, LON, at(12), at(13), "visit", 0.0))
        with pytest.raises(InputError, match="engine: unknown engine 'hadoop'"):
            find_contacts(visits, records, engine="hadoop")
        with pytest.raises(InputError, match="database URL"):
            find_contacts(visits, records, engine="postgres")
        with pytest.raises(InputError, match="index engine"):
            find_contacts(visits, RecordIndex.build(records), engine="duckdb")

    def test_bad_visits_name_rows(self) -> None:
        visits = visits_of(
            ("C1", LAT, LON, at(12), at(13)),
            ("C1", LAT, LON, at(14), at(13)),
            ("C1", LAT, LON, at(12), at(13)),
        )
        records = records_of((1, LAT, LON, at(12), at(13), "visit", 0.0))
        with pytest.raises(InputError, match=r"row 1 \(counting from 0\): finished_at is before"):
            find_contacts(visits, records)
        with pytest.raises(InputError, match=r"row 1 .*duplicate visit"):
            find_contacts(visits.take([0, 2]), records)

    @pytest.mark.parametrize("engine", ENGINES)
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(scene=scenes())
    def test_engines_agree_with_brute_force(
        self, engine: str, scene: Scene, request: pytest.FixtureRequest
    ) -> None:
        url = request.getfixturevalue("database_url") if engine == "postgres" else None
        assert_same(run(scene, "brute"), run(scene, engine, url), engine)

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(scene=scenes(text_ids=False))
    def test_store_engines_agree_with_brute_force(self, scene: Scene) -> None:
        expected = run(scene, "brute")
        with tempfile.TemporaryDirectory() as folder:
            store = RecordStore(folder, timezone="UTC")
            records = scene.records
            day = pc.floor_temporal(records.column("started_at"), unit="day")  # a day as given
            for value in pc.unique(day).to_pylist():
                store.append_day(records.filter(pc.equal(day, value)))
            for engine in ("duckdb", "index", "brute"):
                got = find_contacts(scene.visits, store, scene.rule, engine=engine)
                assert_same(expected, got, f"store/{engine}")
            # A segment a day, contacts folded across the days; then merged into one.
            live = live_by_day(store)
            assert_same(expected, find_contacts(scene.visits, live, scene.rule), "store/live")
            live.refresh()
            assert live.segments <= 1
            got = find_contacts(scene.visits, live, scene.rule)
            assert_same(expected, got, "store/live merged")

    def test_synthetic_city(self) -> None:
        """On a small synthetic city all engines agree, and people share venues with a case."""
        city = generate(SynthConfig(n_people=300, n_days=3, seed=11, fixes_for=0))
        records = records_from_visits(city.visits)
        own = city.visits.filter(pc.is_in(city.visits.column("person_id"), pa.array([3, 4])))
        visits = cases_of(own)
        rule = ExposureRule(distance_m=50, min_overlap_min=15)
        expected = find_contacts(visits, records, rule, engine="brute")
        assert expected.num_rows > 0
        assert not pc.any(
            pc.equal(expected.column("case_id"), expected.column("person_id"))
        ).as_py()
        for engine in ("duckdb", "index"):
            assert_same(expected, find_contacts(visits, records, rule, engine=engine), engine)
