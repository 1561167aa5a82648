"""RecordIndex: built once from a table or a store, searched many times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from citytrace.exposure import (
    ExposureRule,
    RecordIndex,
    RecordStore,
    find_contacts,
    records_from_visits,
)
from citytrace.exposure import index as index_module
from citytrace.synth import SynthConfig, generate
from tests.exposure.scenes import cases_of
from tests.exposure.test_contacts import assert_same

UTC_US = pa.timestamp("us", tz="UTC")
LAT, LON = 37.5665, 126.9780
# 00:10 on 2020-03-02 in Seoul.
AFTER_MIDNIGHT = datetime(2020, 3, 1, 15, 10, tzinfo=UTC)


def records(rows: list[tuple[int, datetime, datetime | None, str]]) -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array([r[0] for r in rows], pa.int64()),
            "latitude": [LAT] * len(rows),
            "longitude": [LON] * len(rows),
            "started_at": pa.array([r[1] for r in rows], UTC_US),
            "finished_at": pa.array([r[2] for r in rows], UTC_US),
            "kind": [r[3] for r in rows],
            "place_kind": ["restaurant"] * len(rows),
        }
    )


def visits(start: datetime, minutes: int) -> pa.Table:
    return pa.table(
        {
            "case_id": ["C1"],
            "latitude": [LAT],
            "longitude": [LON],
            "started_at": pa.array([start], UTC_US),
            "finished_at": pa.array([start + timedelta(minutes=minutes)], UTC_US),
        }
    )


class TestRecordIndex:
    def test_store_index_with_dwell_across_midnight(self, tmp_path: Path) -> None:
        """A payment just after midnight opens its interval the evening before, among the
        previous day's records: the index keeps start times sorted within each cell anyway."""
        day1 = records(
            [(p, AFTER_MIDNIGHT - timedelta(minutes=40 - p), None, "visit") for p in range(1, 6)]
        )
        starts = day1.column("started_at").to_pylist()
        day1 = day1.set_column(
            4, "finished_at", pa.array([s + timedelta(minutes=50) for s in starts], UTC_US)
        )
        day2 = records([(9, AFTER_MIDNIGHT, None, "card")])
        store = RecordStore(tmp_path / "s")
        store.append_day(day1)
        store.append_day(day2)
        index = RecordIndex.build(store)
        assert index.num_records == 6 and index.nbytes > 0
        case = visits(AFTER_MIDNIGHT - timedelta(minutes=70), 30)
        rule = ExposureRule(distance_m=5, min_overlap_min=5)
        expected = find_contacts(case, store, rule, engine="brute")
        assert 9 in expected.column("person_id").to_pylist()
        assert_same(expected, find_contacts(case, index, rule), "index")

    def test_one_build_many_queries(self) -> None:
        table = records(
            [
                (1, AFTER_MIDNIGHT, AFTER_MIDNIGHT + timedelta(hours=2), "visit"),
                (2, AFTER_MIDNIGHT, None, "card"),
            ]
        ).set_column(0, "person_id", pa.array(["p1", "p2"]))
        index = RecordIndex.build(table)
        for minutes, rule in ((30, ExposureRule()), (120, ExposureRule(50, 60))):
            case = visits(AFTER_MIDNIGHT, minutes)
            assert_same(
                find_contacts(case, table, rule, engine="brute"), index.query(case, rule), "index"
            )
        assert index.query(visits(AFTER_MIDNIGHT, 30)).column("person_id").type == pa.string()

    def test_cell_directory_and_row_search_agree(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A city's cells get a directory (two loads for a row's range of cells); without one
        (a nation's sparse grid) the row's keys are searched: the same contacts either way."""
        city = generate(SynthConfig(n_people=300, n_days=2, seed=3, fixes_for=0))
        table = records_from_visits(city.visits)
        own = city.visits.filter(pc.is_in(city.visits.column("person_id"), pa.array([5, 6, 7])))
        cases = cases_of(own)
        with_cells = RecordIndex.build(table)
        assert with_cells._cells.class_width.any()
        monkeypatch.setattr(index_module, "_cell_budget", lambda arrays: 0)
        searched = RecordIndex.build(table)
        assert not searched._cells.class_width.any()
        for distance in (3.0, 20.0, 50.0, 200.0):
            rule = ExposureRule(distance_m=distance, min_overlap_min=10)
            expected = searched.query(cases, rule)
            assert_same(expected, with_cells.query(cases, rule), f"D={distance:g}")
        assert expected.num_rows > 0
        assert_same(find_contacts(cases, table, rule, engine="brute"), expected, "brute")
