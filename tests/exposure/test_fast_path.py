"""The index's fast path for plain queries: the answers and the errors of the full path."""

from __future__ import annotations

import math
import multiprocessing
import threading
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citytrace.errors import InputError
from citytrace.exposure import (
    ExposureRule,
    RecordIndex,
    _kernels,
    find_contacts,
    records_from_visits,
)
from citytrace.exposure import index as index_module
from citytrace.exposure._common import _RISK, Texts
from citytrace.exposure.index import _HELPERS
from citytrace.exposure.visits import CaseVisits, check_visits
from citytrace.synth import SynthConfig, generate
from tests.exposure.scenes import UTC_US, Scene, cases_of, scenes
from tests.exposure.test_contacts import assert_same

HOUR_US = 3_600_000_000
NOON_US = int(datetime(2020, 3, 1, 12, tzinfo=UTC).timestamp()) * 1_000_000
MAX_US = 4_102_444_800_000_000  # 2100-01-01: the first time refused
# Valid values, on the limits too; and the faults that the checks know, by column.
LATITUDES = [37.5665, 37.5666, -0.0, 90.0, -90.0]
LONGITUDES = [126.978, 126.9781, 180.0, -180.0]
RADII = [0.0, 5.0, -0.0, 10_000.0]
STARTS = [NOON_US, NOON_US + HOUR_US, 0, MAX_US - HOUR_US - 1]
FAULTS: dict[str, list[object]] = {
    "latitude": [90.000001, -90.5, math.nan, math.inf],
    "longitude": [180.5, -180.000001, math.nan, -math.inf],
    "radius_m": [-1.0, 10_000.5, 10_000.000001, math.nan],
    "started_at": [-1, MAX_US],
    "finished_at": [MAX_US, NOON_US - 1],
}
KINDS = {
    "case_id": pa.int64(),
    "latitude": pa.float64(),
    "longitude": pa.float64(),
    "radius_m": pa.float64(),
    "started_at": UTC_US,
    "finished_at": UTC_US,
    "person_id": pa.int64(),
}


@st.composite
def visit_tables(draw: st.DrawFn) -> pa.Table:
    """Tables of visits, valid (values on the limits too) or with a fault: a value out of range
    or not finite, a visit finishing before it starts, a repeated row, an empty cell."""
    n = draw(st.integers(1, 8))
    starts = [draw(st.sampled_from(STARTS)) for _ in range(n)]
    columns: dict[str, list[object]] = {
        "case_id": [draw(st.sampled_from([7, 3, 5, -2])) for _ in range(n)],
        "latitude": [draw(st.sampled_from(LATITUDES)) for _ in range(n)],
        "longitude": [draw(st.sampled_from(LONGITUDES)) for _ in range(n)],
        "radius_m": [draw(st.sampled_from(RADII)) for _ in range(n)],
        "started_at": list(starts),
        "finished_at": [s + draw(st.sampled_from([0, 1, HOUR_US])) for s in starts],
        "person_id": [draw(st.sampled_from([None, 1, 2])) for _ in range(n)],
    }
    row = draw(st.integers(0, n - 1))
    fault = draw(st.sampled_from(["none", "value", "value", "order", "repeat", "empty"]))
    if fault == "order":  # a microsecond before its start
        columns["finished_at"][row] = starts[row] - 1
    elif fault == "value":
        name = draw(st.sampled_from(sorted(FAULTS)))
        columns[name][row] = draw(st.sampled_from(FAULTS[name]))
    elif fault == "repeat" and n > 1:
        earlier = draw(st.integers(0, n - 2))
        for values in columns.values():
            values[n - 1] = values[earlier]
    elif fault == "empty":
        columns[draw(st.sampled_from(sorted(columns)))][row] = None
    left_out = {name for name in ("radius_m", "person_id") if draw(st.booleans())}
    return pa.table(
        {name: pa.array(v, KINDS[name]) for name, v in columns.items() if name not in left_out}
    )


def outcome(visits: pa.Table) -> tuple[object, ...]:
    """What checking gives: the error's text, or every field of the checked visits."""
    try:
        checked = check_visits(visits)
    except InputError as error:
        return ("error", str(error))
    return ("ok", *(_field(getattr(checked, name)) for name in CaseVisits.__dataclass_fields__))


def _field(value: object) -> object:
    if isinstance(value, np.ndarray):
        return str(value.dtype), value.tolist()
    assert isinstance(value, pa.Array)
    return str(value.type), value.to_pylist()


def chunked(table: pa.Table) -> pa.Table:
    """The same rows in two chunks a column: a table that the fast path leaves to the full one."""
    split = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    assert split.column(0).num_chunks == 2
    return split


class TestPlainVisits:
    @settings(max_examples=300, deadline=None)
    @given(visits=visit_tables())
    def test_same_result_or_error_as_the_full_check(self, visits: pa.Table) -> None:
        assert outcome(visits) == outcome(chunked(visits))

    @settings(max_examples=300, deadline=None)
    @given(visits=visit_tables())
    def test_sorted_tables_too(self, visits: pa.Table) -> None:
        """Rows in the order of (case, start, end, position, radius), as visits usually come: a
        repeated row is next to its twin, where the check of the order finds it without hashing
        (and -0.0 next to 0.0 is no repeat, as for the hash)."""
        order = [
            (name, "ascending")
            for name in ("case_id", "started_at", "finished_at", "latitude", "longitude",
                         "radius_m")
            if name in visits.column_names
        ]  # fmt: skip
        ordered = visits.sort_by(order)
        assert outcome(ordered) == outcome(chunked(ordered))

    def test_a_repeated_row_in_sorted_visits(self) -> None:
        visits = pa.table(
            {
                "case_id": pa.array([1, 1, 1, 2], pa.int64()),
                "latitude": [37.5, 37.5, 37.5, 37.5],
                "longitude": [127.0, 127.0, 127.0, 127.0],
                "started_at": pa.array([NOON_US, NOON_US + 1, NOON_US + 1, NOON_US], UTC_US),
                "finished_at": pa.array([NOON_US + HOUR_US] * 4, UTC_US),
            }
        )
        with pytest.raises(InputError, match=r"row 2 \(counting from 0\): repeats an earlier row"):
            check_visits(visits)

    def test_unsorted_cases_get_the_codes_of_sorted_ids(self) -> None:
        visits = pa.table(
            {
                "case_id": pa.array([9, 4, 9, 1], pa.int64()),
                "latitude": [37.5] * 4,
                "longitude": [127.0] * 4,
                "started_at": pa.array([NOON_US, NOON_US, NOON_US + 1, NOON_US], UTC_US),
                "finished_at": pa.array([NOON_US + HOUR_US] * 4, UTC_US),
            }
        )
        checked = check_visits(visits)
        assert checked.case_ids.to_pylist() == [1, 4, 9]
        assert checked.case_code.tolist() == [2, 1, 2, 0]
        assert outcome(visits) == outcome(chunked(visits))


def _index_agrees(scene: Scene) -> None:
    expected = find_contacts(scene.visits, scene.records, scene.rule, engine="brute")
    index = RecordIndex.build(scene.records)
    assert_same(expected, index.query(scene.visits, scene.rule), "index.query")
    assert_same(expected, find_contacts(scene.visits, index, scene.rule), "find_contacts")


class TestQuery:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(scene=scenes())
    def test_query_agrees_with_brute_force(self, scene: Scene) -> None:
        _index_agrees(scene)

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        # Starts (in minutes) spread out or crowded at a few times, so that a guess by
        # interpolation can land far from the first record of a window.
        starts=st.lists(
            st.one_of(st.integers(0, 72 * 60), st.sampled_from([0, 5, 15, 20, 1440, 1445])),
            min_size=17,
            max_size=120,
        ),
        # Mostly one duration: then a record that starts first in a window is a contact.
        minutes=st.lists(st.sampled_from([0, 14, 15, 16, 45, 240, 900]), min_size=1, max_size=2),
        visits=st.lists(st.tuples(st.integers(-600, 73 * 60), st.integers(0, 600)), min_size=1),
    )
    def test_crowded_place_agrees_with_brute_force(
        self, starts: list[int], minutes: list[int], visits: list[tuple[int, int]]
    ) -> None:
        """Many records under one key (a busy venue): the start window is searched, not
        scanned."""
        n = len(starts)
        minute = 60_000_000
        records = pa.table(
            {
                "person_id": pa.array(range(n), pa.int64()),
                "latitude": [37.5665] * n,
                "longitude": [126.978] * n,
                "started_at": pa.array([NOON_US + s * minute for s in starts], UTC_US),
                "finished_at": pa.array(
                    [
                        NOON_US + (s + minutes[i % len(minutes)]) * minute
                        for i, s in enumerate(starts)
                    ],
                    UTC_US,
                ),
            }
        )
        cases = pa.table(
            {
                "case_id": pa.array(range(len(visits)), pa.int64()),
                "latitude": [37.5665] * len(visits),
                "longitude": [126.978] * len(visits),
                "started_at": pa.array([NOON_US + a * minute for a, _ in visits], UTC_US),
                "finished_at": pa.array([NOON_US + (a + d) * minute for a, d in visits], UTC_US),
            }
        )
        _index_agrees(Scene(rule=ExposureRule(), visits=cases, records=records))

    def test_busy_venue_over_days(self) -> None:
        """A venue with thousands of records over three days, visited every few hours: every
        window's first and last records are found wherever the interpolation lands."""
        rng = np.random.default_rng(5)
        n, minute = 3000, 60_000_000
        starts = rng.integers(0, 72 * 60, n)
        stay = rng.choice([45, 45, 45, 200, 900], n)
        records = pa.table(
            {
                "person_id": pa.array(range(n), pa.int64()),
                "latitude": [37.5665] * n,
                "longitude": [126.978] * n,
                "started_at": pa.array(NOON_US + starts * minute, UTC_US),
                "finished_at": pa.array(NOON_US + (starts + stay) * minute, UTC_US),
            }
        )
        begin = np.arange(-300, 73 * 60, 97)
        visits = pa.table(
            {
                "case_id": pa.array(np.arange(begin.size) % 7, pa.int64()),
                "latitude": [37.5665] * begin.size,
                "longitude": [126.978] * begin.size,
                "started_at": pa.array(NOON_US + begin * minute, UTC_US),
                "finished_at": pa.array(
                    NOON_US + (begin + rng.integers(0, 240, begin.size)) * minute, UTC_US
                ),
            }
        )
        _index_agrees(Scene(rule=ExposureRule(), visits=visits, records=records))

    def test_threads_share_many_cases(self) -> None:
        """Hundreds of visits of many cases, split among threads: the answers of one thread."""
        city = generate(SynthConfig(n_people=300, n_days=3, seed=11, fixes_for=0))
        records = records_from_visits(city.visits)
        chosen = pc.less(city.visits.column("person_id"), 60)
        own = city.visits.filter(chosen)
        visits = cases_of(own).combine_chunks()
        assert visits.num_rows >= 300  # enough for threads
        rule = ExposureRule(distance_m=50, min_overlap_min=15)
        expected = find_contacts(visits, records, rule, engine="brute")
        assert expected.num_rows > 100
        index = RecordIndex.build(records)
        for threads in (1, 2, 3):
            index.threads = threads
            assert_same(expected, index.query(visits, rule), f"{threads} threads")
        # Shuffled rows: the cases are sorted for the search.
        shuffled = visits.take(np.random.default_rng(3).permutation(visits.num_rows))
        assert_same(expected, index.query(shuffled, rule), "shuffled")

    def test_many_kinds_and_contacts(self) -> None:
        """More kinds than have their names made up front, and more contacts than a few."""
        kinds = [f"kind{k:02d}" for k in range(12)]
        n = 300
        records = pa.table(
            {
                "person_id": pa.array(range(1, n + 1), pa.int64()),
                "latitude": [37.5665] * n,
                "longitude": [126.978] * n,
                "started_at": pa.array([NOON_US] * n, UTC_US),
                "finished_at": pa.array([NOON_US + HOUR_US] * n, UTC_US),
                "kind": [kinds[p % len(kinds)] for p in range(n)],
            }
        )
        visits = pa.table(
            {
                "case_id": ["C1"],
                "latitude": [37.5665],
                "longitude": [126.978],
                "started_at": pa.array([NOON_US], UTC_US),
                "finished_at": pa.array([NOON_US + HOUR_US], UTC_US),
            }
        )
        scene = Scene(rule=ExposureRule(), visits=visits, records=records)
        _index_agrees(scene)
        got = RecordIndex.build(records).query(visits)
        assert got.num_rows == n
        assert set(got.column("evidence_kinds").to_pylist()) == set(kinds)


class TestHelpers:
    @staticmethod
    def two_thread_search() -> None:
        """Hundreds of visits on two threads give the answers of one."""
        city = generate(SynthConfig(n_people=120, n_days=2, seed=5, fixes_for=0))
        records = records_from_visits(city.visits)
        own = city.visits.filter(pc.less(city.visits.column("person_id"), 40))
        visits = cases_of(own).combine_chunks()
        assert visits.num_rows >= 256  # enough for threads
        index = RecordIndex.build(records)
        index.threads = 1
        expected = index.query(visits)
        index.threads = 2
        assert index.query(visits).equals(expected)

    def test_texts_are_taken_by_code(self) -> None:
        texts = Texts.of(["", "close", "casual", "점포,카드"])
        codes = np.array([3, 1, 0, 2, 3, 1], np.int64)
        got = texts.take(codes)
        assert got.type == pa.string()
        assert got.to_pylist() == ["점포,카드", "close", "", "casual", "점포,카드", "close"]
        got.validate(full=True)
        assert texts.take(np.empty(0, np.int64)).to_pylist() == []
        flags = np.array([True, False, True])
        assert _RISK.take(flags.view(np.uint8)).to_pylist() == ["close", "casual", "close"]

    def test_case_offsets_of_sorted_codes_only(self) -> None:
        assert _kernels.case_offsets(np.array([0, 0, 2, 2, 2], np.int64), 3).tolist() == [
            0, 2, 2, 5
        ]  # fmt: skip
        assert _kernels.case_offsets(np.array([1, 0], np.int64), 2).size == 0
        assert _kernels.case_offsets(np.empty(0, np.int64), 0).tolist() == [0]

    def test_own_person_left_out_with_sparse_and_compact_ids(self) -> None:
        """A case's own person is found among the records' ids by lookup (ids of a compact
        range) or by search (sparse ids): either way left out, and the others kept."""
        for step in (1, 10**9):  # compact, then sparse
            ids = [7 + step * k for k in range(4)]
            n = len(ids)
            records = pa.table(
                {
                    "person_id": pa.array(ids, pa.int64()),
                    "latitude": [37.5665] * n,
                    "longitude": [126.978] * n,
                    "started_at": pa.array([NOON_US] * n, UTC_US),
                    "finished_at": pa.array([NOON_US + HOUR_US] * n, UTC_US),
                }
            )
            visits = pa.table(
                {
                    "case_id": pa.array([1, 2], pa.int64()),
                    "person_id": pa.array([ids[2], ids[0] - 1], pa.int64()),  # 2nd: no record's
                    "latitude": [37.5665] * 2,
                    "longitude": [126.978] * 2,
                    "started_at": pa.array([NOON_US] * 2, UTC_US),
                    "finished_at": pa.array([NOON_US + HOUR_US] * 2, UTC_US),
                }
            )
            index = RecordIndex.build(records)
            assert (index._code_of.size > 0) == (step == 1)
            got = index.query(visits)
            assert got.column("case_id").to_pylist() == [1, 1, 1, 2, 2, 2, 2]
            assert got.column("person_id").to_pylist() == [*ids[:2], ids[3], *ids]
            _index_agrees(Scene(rule=ExposureRule(), visits=visits, records=records))


def _threaded_query_in_child() -> None:
    """A search on two threads, in a process forked from one whose helper threads ran."""
    TestHelpers.two_thread_search()


class TestHelperThreads:
    def test_a_failed_part_is_raised_by_the_search(self) -> None:
        def fail() -> None:
            raise InputError("a part failed")

        wait = _HELPERS.start(fail, 1)
        with pytest.raises(InputError, match="a part failed"):
            wait()
        wait = _HELPERS.start(lambda: None, 1)  # the helper is still there
        wait()

    def test_a_forked_child_starts_its_own_threads(self) -> None:
        TestHelpers.two_thread_search()  # this process's helpers run
        child = multiprocessing.get_context("fork").Process(target=_threaded_query_in_child)
        child.start()
        child.join(60)
        assert child.exitcode == 0

    def test_cores_wanted_now(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The runnable count of the moment (this thread is one), or the load average where it
        cannot be read."""
        assert index_module._wanting_cores() >= 1

        def unreadable(*args: object) -> bytes:
            raise OSError("no /proc")

        monkeypatch.setattr(index_module.os, "pread", unreadable)
        monkeypatch.setattr(index_module.os, "getloadavg", lambda: (7.5, 0.0, 0.0))
        assert index_module._wanting_cores() == 7.5

    def test_concurrent_searches_share_the_helpers(self) -> None:
        """Searches of many visits from several threads at once, each on two threads: each gets
        the answers of a search alone."""
        city = generate(SynthConfig(n_people=120, n_days=2, seed=5, fixes_for=0))
        index = RecordIndex.build(records_from_visits(city.visits))
        tables = [
            cases_of(city.visits.filter(pc.is_in(city.visits.column("person_id"), pa.array(ids))))
            for ids in (list(range(0, 40)), list(range(40, 80)), list(range(80, 120)))
        ]
        index.threads = 1
        expected = [index.query(t) for t in tables]
        index.threads = 2
        got: dict[int, pa.Table] = {}

        def search(n: int) -> None:
            for _ in range(5):
                got[n] = index.query(tables[n])

        runners = [threading.Thread(target=search, args=(n,)) for n in range(len(tables))]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join(60)
        assert all(got[n].equals(expected[n]) for n in range(len(tables)))
