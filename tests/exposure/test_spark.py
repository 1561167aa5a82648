"""The spark engine (Spark in local mode): the same contacts as the brute-force reference, from
records in memory and from a record store's Parquet files, and through the command line."""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path

import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings

from citytrace.exposure import ExposureRule, RecordStore, find_contacts
from tests.conftest import _missing
from tests.exposure.scenes import Scene, scenes
from tests.exposure.test_cli import EXPECTED, RECORDS_CSV, VISITS_CSV
from tests.exposure.test_contacts import assert_same, run


@pytest.fixture(scope="module", autouse=True)
def spark() -> object:
    """One local Spark session for the module (a JVM takes seconds to start)."""
    pytest.importorskip("pyspark", reason="the spark engine needs PySpark (the test extra)")
    if shutil.which("java") is None:
        _missing("the spark engine needs a Java runtime (17 or newer) on PATH")
    from citytrace.exposure.spark import spark_session

    return spark_session()


class TestSparkEngine:
    @settings(
        max_examples=10,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(scene=scenes())
    def test_agrees_with_brute_force(self, scene: Scene) -> None:
        assert_same(run(scene, "brute"), run(scene, "spark"), "spark")

    @settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(scene=scenes(text_ids=False))
    def test_reads_a_record_store_as_it_lies(self, scene: Scene) -> None:
        expected = run(scene, "brute")
        with tempfile.TemporaryDirectory() as folder:
            store = RecordStore(folder, timezone="UTC")
            records = scene.records
            day = pc.floor_temporal(records.column("started_at"), unit="day")
            for value in pc.unique(day).to_pylist():
                store.append_day(records.filter(pc.equal(day, value)))
            got = find_contacts(scene.visits, store, scene.rule, engine="spark")
        assert_same(expected, got, "store/spark")

    def test_command_line(self, tmp_path: Path) -> None:
        from citytrace.cli.exposures import exposures

        visits, records = tmp_path / "visits.csv", tmp_path / "records.csv"
        visits.write_text(VISITS_CSV)
        records.write_text(RECORDS_CSV)
        out = tmp_path / "contacts.csv"
        exposures(
            case_visits=visits,
            records=records,
            output=out,
            distance_m="20",
            min_overlap_min="15",
            engine="spark",
            database_url=None,
            close_distance_m="2",
            close_min_overlap_min="15",
        )
        with out.open() as handle:
            rows = list(csv.DictReader(handle))
        assert rows == EXPECTED

    def test_a_search_leaves_no_views_behind(self, spark: object) -> None:
        scene_rule = ExposureRule()
        from tests.exposure.test_contacts import at, records_of, visits_of

        visits = visits_of(("C", 37.5665, 126.9780, at(12), at(13)))
        records = records_of((1, 37.5665, 126.9780, at(12), at(13), "visit", 0.0))
        found = find_contacts(visits, records, scene_rule, engine="spark")
        assert found.column("person_id").to_pylist() == [1]
        assert spark.catalog.listTables() == []  # type: ignore[attr-defined]
