"""LiveIndex: one index a day of a store, following appends, replacements and deletions."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from citytrace.errors import InputError
from citytrace.exposure import (
    ExposureRule,
    LiveIndex,
    RecordIndex,
    RecordStore,
    find_contacts,
    records_from_visits,
)
from citytrace.synth import SynthConfig, generate
from tests.exposure.scenes import cases_of, live_by_day
from tests.exposure.test_contacts import assert_same

UTC_US = pa.timestamp("us", tz="UTC")
LAT, LON = 37.5665, 126.9780
DAY1 = datetime(2020, 3, 2, 9, tzinfo=UTC)


def records(person: list[int], start: datetime, minutes: int = 60, kind: str = "visit") -> pa.Table:
    n = len(person)
    return pa.table(
        {
            "person_id": pa.array(person, pa.int64()),
            "latitude": [LAT] * n,
            "longitude": [LON] * n,
            "started_at": pa.array([start] * n, UTC_US),
            "finished_at": pa.array([start + timedelta(minutes=minutes)] * n, UTC_US),
            "kind": [kind] * n,
        }
    )


def case(*starts: datetime, minutes: int = 60) -> pa.Table:
    return pa.table(
        {
            "case_id": pa.array([7] * len(starts), pa.int64()),
            "latitude": [LAT] * len(starts),
            "longitude": [LON] * len(starts),
            "started_at": pa.array(list(starts), UTC_US),
            "finished_at": pa.array([s + timedelta(minutes=minutes) for s in starts], UTC_US),
        }
    )


def city_store(visits: pa.Table, root: Path) -> RecordStore:
    """A store of a synthetic city's visits, a day file per local day."""
    store = RecordStore(root)
    table = records_from_visits(visits)
    zone = ZoneInfo(store.timezone)
    day = pa.array(
        [t.astimezone(zone).date().isoformat() for t in table.column("started_at").to_pylist()]
    )
    for value in pc.unique(day).to_pylist():
        store.append_day(table.filter(pc.equal(day, value)), day=date.fromisoformat(value))
    return store


def people(table: pa.Table) -> list[int]:
    return [int(p) for p in table.column("person_id").to_pylist()]


class TestLiveIndex:
    def test_follows_appends_replacements_and_deletions(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "s", timezone="UTC")
        store.append_day(records([1, 2], DAY1))
        live = LiveIndex.open(store)
        assert live.days == [date(2020, 3, 2)] and live.num_records == 2 and live.is_current()
        visits = case(DAY1, DAY1 + timedelta(days=1))

        store.append_day(records([3], DAY1 + timedelta(days=1), kind="card"))
        assert not live.is_current()
        assert people(live.query(visits)) == [1, 2]  # the days of before, until a refresh
        done = live.refresh(compact=False)
        assert done.added == (date(2020, 3, 3),) and not done.reindexed and not done.dropped
        assert done.segments == 2 and live.segments == 2  # the new day searchable on its own
        assert live.is_current() and live.kinds == ["card", "visit"]
        assert people(live.query(visits)) == [1, 2, 3]
        done = live.refresh()  # nothing changed: the segments are compacted
        assert not done.changed and live.segments == 1 and people(live.query(visits)) == [1, 2, 3]

        store.append_day(records([4], DAY1), day=date(2020, 3, 2), replace=True)
        done = live.refresh(compact=False)
        # The day replaced shared a segment with the other, which is kept without it: only the
        # day replaced is indexed again.
        assert done.reindexed == (date(2020, 3, 2),) and not done.added
        assert done.segments == 2 and people(live.query(visits)) == [3, 4]
        assert live.refresh().segments == 1 and people(live.query(visits)) == [3, 4]

        store.delete_day(date(2020, 3, 3))  # retention: its records are never found again
        done = live.refresh()
        assert done.dropped == (date(2020, 3, 3),) and not done.reindexed
        assert live.days == [date(2020, 3, 2)] and people(live.query(visits)) == [4]
        assert live.num_records == 1
        assert not live.refresh().changed

    def test_contacts_over_several_days_fold_per_person(self, tmp_path: Path) -> None:
        """A person met on two days is one contact: earliest first, latest last, pairs summed,
        kinds of both days, close if either day was."""
        store = RecordStore(tmp_path / "s", timezone="UTC")
        store.append_day(records([1, 2], DAY1, minutes=10, kind="visit"))  # casual: 10 min
        store.append_day(records([1], DAY1 + timedelta(days=1), minutes=90, kind="card"))
        visits = case(DAY1, DAY1 + timedelta(days=1), minutes=120)
        rule = ExposureRule(min_overlap_min=5)
        live = live_by_day(store)
        assert live.segments == 2
        got = live.query(visits, rule)
        one, two = got.to_pylist()
        assert one["first_contact_at"] == DAY1
        assert one["last_contact_at"] == DAY1 + timedelta(days=1, minutes=90)
        assert one["n_contacts"] == 2 and one["max_overlap_min"] == 90.0
        assert one["evidence_kinds"] == "card,visit" and one["risk_class"] == "close"
        assert two["person_id"] == 2 and two["risk_class"] == "casual"
        assert_same(find_contacts(visits, store, rule, engine="brute"), got, "live")
        assert_same(find_contacts(visits, RecordIndex.build(store), rule), got, "live")

    def test_a_search_reads_only_the_segments_its_visits_touch(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "s", timezone="UTC")
        live = LiveIndex(store)
        for d in range(5):
            store.append_day(records([10 + d], DAY1 + timedelta(days=d)))
            live.refresh(compact=False)
        assert live.segments == 5
        touched: list[list[date]] = []
        for segment in live._state.segments:
            search = segment.index._find

            def spy(visits, rule, days=tuple(segment.days), search=search):  # type: ignore[no-untyped-def]
                touched.append(list(days))
                return search(visits, rule)

            object.__setattr__(segment.index, "_find", spy)
        assert people(live.query(case(DAY1 + timedelta(days=2)))) == [12]
        assert touched == [[date(2020, 3, 4)]]
        # Several segments, folded: the same as one.
        every = case(*(DAY1 + timedelta(days=d) for d in range(5)))
        assert people(live.query(every)) == [10, 11, 12, 13, 14]
        assert_same(find_contacts(every, RecordIndex.build(store)), live.query(every), "live")

    def test_synthetic_city_equals_one_index(self, tmp_path: Path) -> None:
        """Over a synthetic city of 4 days, the live index (a day a segment, then merged) gives
        one index's contacts."""
        city = generate(SynthConfig(n_people=400, n_days=4, seed=5, fixes_for=0))
        store = city_store(city.visits, tmp_path / "s")
        own = city.visits.filter(pc.is_in(city.visits.column("person_id"), pa.array([3, 4, 5])))
        visits = cases_of(own)
        live = live_by_day(store)
        assert live.segments == len(store.days()) >= 4 and live.num_records == store.num_rows
        rule = ExposureRule(distance_m=50, min_overlap_min=15)
        expected = find_contacts(visits, RecordIndex.build(store), rule)
        assert expected.num_rows > 0
        assert_same(expected, find_contacts(visits, live, rule), "live, a segment a day")
        assert_same(expected, find_contacts(visits, store, rule), "duckdb")
        done = live.refresh()  # nothing changed: the segments are merged
        assert not done.changed and live.segments == 1
        assert_same(expected, find_contacts(visits, live, rule), "live, merged")

    def test_days_left_out_of_a_merged_segment(self, tmp_path: Path) -> None:
        """A synthetic city of 4 days, merged into one segment; a day in the middle purged and
        another replaced: the days kept answer as an index built of them, and the index without
        the days holds the records of the others (in Seoul time, days of local midnights)."""
        city = generate(SynthConfig(n_people=400, n_days=4, seed=7, fixes_for=0))
        store = city_store(city.visits, tmp_path / "s")
        days = store.days()
        own = city.visits.filter(pc.is_in(city.visits.column("person_id"), pa.array([3, 4, 5])))
        visits = cases_of(own)
        rule = ExposureRule(distance_m=50, min_overlap_min=15)
        whole = RecordIndex.build(store)
        kept = [d for d in days if d != days[1]]
        trimmed = whole.without([store.day_bounds_us(days[1])])
        assert trimmed.num_records == sum(store.stats(d).rows for d in kept)
        assert_same(
            find_contacts(visits, RecordIndex.build(store, days=kept), rule),
            find_contacts(visits, trimmed, rule),
            "an index without a day",
        )
        assert whole.without([]).num_records == whole.num_records
        assert whole.without([store.day_bounds_us(d) for d in days]).num_records == 0

        live = LiveIndex.open(store)
        assert live.segments == 1
        store.delete_day(days[1])
        replaced = store.read(days=[days[2]])
        store.append_day(replaced.slice(0, replaced.num_rows // 2), day=days[2], replace=True)
        done = live.refresh(compact=False)
        assert done.dropped == (days[1],) and done.reindexed == (days[2],)
        assert done.segments == 2 and live.num_records == store.num_rows
        expected = find_contacts(visits, RecordIndex.build(store), rule)
        assert expected.num_rows > 0
        assert_same(expected, find_contacts(visits, live, rule), "live, trimmed and a new day")
        assert live.refresh().segments == 1
        assert_same(expected, find_contacts(visits, live, rule), "live, merged again")

    def test_merged_indexes_are_the_index_of_all_their_days(self, tmp_path: Path) -> None:
        city = generate(SynthConfig(n_people=300, n_days=3, seed=9, fixes_for=0))
        store = city_store(city.visits, tmp_path / "s")
        whole = RecordIndex.build(store)
        days = [RecordIndex.build(store, days=[d]) for d in reversed(store.days())]
        merged = RecordIndex.merge(days)
        assert merged.kinds == whole.kinds and merged.level_duration_us == whole.level_duration_us
        for name in ("keys", "offsets", "started_us", "finished_us", "latitude", "longitude"):
            np.testing.assert_array_equal(getattr(merged._a, name), getattr(whole._a, name))
        np.testing.assert_array_equal(
            merged._ids[merged._a.person], whole._ids[whole._a.person]
        )  # the same person for every record, whatever the codes
        np.testing.assert_array_equal(merged._a.kind, whole._a.kind)
        assert RecordIndex.merge([]).num_records == 0

    def test_a_bad_day_file_is_named_and_the_days_before_stay(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "s", timezone="UTC")
        store.append_day(records([1], DAY1))
        live = LiveIndex.open(store)
        bad = store.day_path(date(2020, 3, 5))
        bad.write_bytes(b"not parquet")
        with pytest.raises(InputError, match=r"2020-03-05\.parquet"):
            live.refresh()
        assert live.days == [date(2020, 3, 2)] and people(live.query(case(DAY1))) == [1]
        assert not live.is_current()
        bad.unlink()
        assert live.is_current()

    def test_refresh_in_background_while_searching(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "s", timezone="UTC")
        store.append_day(records([1], DAY1))
        live = LiveIndex(store)
        assert live.days == [] and people(live.query(case(DAY1))) == []
        assert live.refresh_in_background()
        live.wait(60)
        assert live.is_current() and people(live.query(case(DAY1))) == [1]
        # Searches go on while days are indexed: each sees the days before or after a refresh.
        stop = threading.Event()
        seen: set[tuple[int, ...]] = set()
        errors: list[BaseException] = []

        def search() -> None:
            try:
                while not stop.is_set():
                    seen.add(tuple(people(live.query(case(DAY1, DAY1 + timedelta(days=1))))))
            except BaseException as exc:  # the test reports it
                errors.append(exc)

        worker = threading.Thread(target=search)
        worker.start()
        try:
            store.append_day(records([2], DAY1 + timedelta(days=1)))
            live.refresh()
        finally:
            stop.set()
            worker.join(60)
        assert not errors
        assert seen <= {(1,), (1, 2)} and people(
            live.query(case(DAY1, DAY1 + timedelta(days=1)))
        ) == [1, 2]

    def test_an_index_engine_only(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "s", timezone="UTC")
        store.append_day(records([1], DAY1))
        with pytest.raises(InputError, match="LiveIndex is searched by the index engine"):
            find_contacts(case(DAY1), LiveIndex.open(store), engine="duckdb")
