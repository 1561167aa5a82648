"""An in-memory index of the city's records, built once and searched many times.

The records are held as plain arrays sorted by ``(radius class, cell, duration class,
started_at)``: the distinct keys of the first three with the offset of each one's records (a
compressed sparse row layout), with a directory of where each grid row's keys begin. For each
case visit and each radius class the search takes the rows and column ranges of the visit's box
(:mod:`citytrace.exposure.grid`), finds the non-empty cells of each row range (all their duration
classes at once) by a branch-free binary search among that row's keys, and within each cell the
records whose start the overlap allows for that duration class (a short cell is read from its
start, a long one searched by interpolation and galloping); only those records get the exact
test. The work is proportional to the candidates, not to the city: a case's 30 visits take a few
thousand searches and exact tests, whether the city has a million records or a hundred million.

A query of a plain table (integer case ids, no empty cells) is checked in one compiled pass, and
the contacts table is made straight from the kernel's arrays: the fixed cost of a query is a
fraction of a millisecond (see ``benchmarks/exposure.md``).

Contacts are folded per (case, person) as they are found, one case at a time, with a slot per
person (persons get dense codes when the index is built), so no sort of all the pairs is needed
and the output comes out in order. Cases are split among threads (the kernels release the GIL)
when cores are idle.

Memory is about 41 bytes a record: positions and times as float64/int64, person codes as int32,
radii as float32 when that is exact, kinds as one byte.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from citytrace.errors import InputError
from citytrace.exposure import _kernels, grid
from citytrace.exposure._checks import UTC_US
from citytrace.exposure._common import (
    PreparedRecords,
    Texts,
    contacts_from_arrays,
    own_persons,
    prepare_table,
    raw_from_arrays,
)
from citytrace.exposure.definition import TOLERANCE_M, ExposureRule
from citytrace.exposure.store import RecordStore
from citytrace.exposure.visits import CaseVisits, check_visits

__all__ = ["RecordIndex"]

_CLASS_RADIUS, _ROW_DEG, _COL_DEG, _N_ROWS, _N_COLS = grid.grid_arrays()
_MAX_KINDS = 63  # kinds are folded as bits of an int64
_VISITS_PER_THREAD = 256
_PARTS = 8  # parts of a long search among threads, per thread
_PART_S = 0.0005  # the least a part takes (one thread's seconds), as a search expects
_LONG_SEARCH_S = 0.004  # a search this long (for one thread) takes the threads of a busy machine
_CORES = os.cpu_count() or 1  # (asked once: the call takes microseconds)
_ALL_NAMES_UP_TO = 10  # kinds: up to 1,024 names of bit masks made when the index is built


@dataclass(frozen=True)
class _Arrays:
    keys: NDArray[np.int64]
    offsets: NDArray[np.int64]
    key_first_start: NDArray[np.int64]  # first and last start under each key, to skip a key's
    key_last_start: NDArray[np.int64]  # records without a search when the window misses them
    latitude: NDArray[np.float64]
    longitude: NDArray[np.float64]
    radius_m: NDArray[np.floating]
    started_us: NDArray[np.int64]
    finished_us: NDArray[np.int64]
    person: NDArray[np.int32]  # dense codes, in the order of the ids
    kind: NDArray[np.uint8]


class Searchable:
    """What an index of records answers: :meth:`query` from a table of visits, :meth:`search`
    from checked ones; both from the contacts that :meth:`_contacts` finds as arrays (see
    :meth:`RecordIndex._find`) with their kinds of evidence named."""

    @property
    def person_ids(self) -> pa.Array | None:
        """Text person ids by code, when the records have text ids (else None)."""
        raise NotImplementedError

    def _contacts(self, visits: CaseVisits, rule: ExposureRule) -> tuple[_Found, pa.Array]:
        raise NotImplementedError

    def query(
        self,
        visits: pa.Table,
        rule: ExposureRule | None = None,
        *,
        exclude_person_ids: Mapping[object, object] | None = None,
    ) -> pa.Table:
        """The contacts of the cases' visits; see :func:`citytrace.exposure.find_contacts`."""
        checked = check_visits(visits, exclude_person_ids=exclude_person_ids)
        found, evidence = self._contacts(checked, rule or ExposureRule())
        return contacts_from_arrays(
            *found[:6], evidence, *found[7:], checked.case_ids, self.person_ids
        )

    def search(self, visits: CaseVisits, rule: ExposureRule) -> pa.Table:
        """Contacts per (case, person) in the engines' raw schema, sorted (checked visits in)."""
        found, evidence = self._contacts(visits, rule)
        return raw_from_arrays(*found[:6], evidence, *found[7:])


class RecordIndex(Searchable):
    """The records in memory, sorted for the search; immutable once built.

    Build with :meth:`build`; search with :meth:`query` (or
    :func:`citytrace.exposure.find_contacts` with the index as ``records``). Searches may run
    concurrently.

    Attributes
    ----------
    kinds
        The kinds of record, sorted.
    level_duration_us
        The levels present and the longest record of each, in microseconds.
    build_s
        Seconds taken to build the index.
    threads
        Threads a search of many visits uses; None (the default): the machine's cores, fewer
        when others are busy (by the load average) and the search is short, since a thread that
        waits for a core slows a short search down rather than up.
    """

    def __init__(
        self,
        arrays: _Arrays,
        ids: NDArray[np.int64] | pa.Array,
        kinds: list[str],
        level_duration_us: dict[int, int],
        build_s: float,
    ) -> None:
        self._a = arrays
        self._ids = ids
        self.kinds = kinds
        self.level_duration_us = level_duration_us
        self.build_s = build_s
        self.threads: int | None = None
        self._visit_s = 0.0  # a search's seconds a visit and thread, as last measured
        # Per level (-1: absent) and per radius class present, the longest record.
        self._level_us = np.full(grid.N_LEVELS, -1, dtype=np.int64)
        for level, duration in level_duration_us.items():
            self._level_us[level] = duration
        self._classes = np.unique(np.array(sorted(level_duration_us), np.int64) // grid.N_DURATIONS)
        self._class_us = np.array(
            [self._level_us[c * grid.N_DURATIONS : (c + 1) * grid.N_DURATIONS].max()
             for c in self._classes],
            dtype=np.int64,
        )  # fmt: skip
        self._code_of = _code_lookup(ids)
        self._keys_u = arrays.keys.view(np.uint64)  # keys are below 2**46
        self._rows = _row_directory(arrays.keys)
        self._cells = _cell_directory(arrays.keys, self._rows, _cell_budget(arrays))
        self._scratch: list[_kernels.Scratch] = []  # free working arrays of searches
        self._names: dict[int, str] = {}  # kinds' names by bit mask
        # With a few kinds, the names of every bit mask, to be taken by mask.
        self._all_names = (
            Texts.of(_kind_names(np.arange(1 << len(kinds), dtype=np.int64), kinds, {}).to_pylist())
            if len(kinds) <= _ALL_NAMES_UP_TO
            else None
        )

    def __repr__(self) -> str:
        return f"RecordIndex({self.num_records:,} records, {self.nbytes / 2**20:,.0f} MiB)"

    @property
    def person_ids(self) -> pa.Array | None:
        """Text person ids by code, when the records had text ids (else None)."""
        return self._ids if isinstance(self._ids, pa.Array) else None

    @property
    def num_records(self) -> int:
        return int(self._a.started_us.size)

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays."""
        arrays = sum(int(getattr(self._a, f.name).nbytes) for f in fields(self._a))
        lookup = int(self._code_of.nbytes)
        directories = sum(int(r.nbytes) for r in (*self._rows, *self._cells))
        return arrays + directories + lookup + int(self._ids.nbytes)

    @classmethod
    def build(
        cls, records: RecordStore | pa.Table, *, days: Sequence[date] | None = None
    ) -> RecordIndex:
        """Load records and sort them for the search.

        Parameters
        ----------
        records
            A record store (all its days, or ``days``), or a table of records as
            :func:`~citytrace.exposure.records.normalise_records` takes them.
        days
            Only these days of a store.

        Raises
        ------
        InputError
            Bad records in a table (see :func:`~citytrace.exposure.records.normalise_records`),
            or more than 63 kinds of record.
        """
        started = time.perf_counter()
        if isinstance(records, pa.Table):
            return cls.from_prepared(prepare_table(records), started=started)
        if not isinstance(records, RecordStore):
            raise InputError(
                f"records must be a RecordStore or a pyarrow.Table, not {type(records).__name__}"
            )
        arrays, ids, kinds, durations = _from_store(records, days)
        index = cls(arrays, ids, kinds, durations, time.perf_counter() - started)
        index.warm_up()
        return index

    @classmethod
    def from_prepared(
        cls, prepared: PreparedRecords, *, started: float | None = None
    ) -> RecordIndex:
        """The index of records already checked and keyed."""
        started = time.perf_counter() if started is None else started
        arrays, ids, kinds, durations = _from_keyed(prepared)
        index = cls(arrays, ids, kinds, durations, time.perf_counter() - started)
        index.warm_up()
        return index

    def without(self, spans_us: Sequence[tuple[int, int]]) -> RecordIndex:
        """The index of the records that start outside every span ``[lo, hi)`` (in UTC
        microseconds; a store's days, say): made from the sorted arrays, which stay sorted when
        records are left out, so nothing is read or sorted again. The persons, kinds and longest
        record of each level are kept as they were (a longest record that may be gone only
        widens a search's window, never its answers)."""
        started = time.perf_counter()
        a = self._a
        gone = np.zeros(a.started_us.size, bool)
        for lo, hi in spans_us:
            gone |= (a.started_us >= lo) & (a.started_us < hi)
        keep = np.flatnonzero(~gone)
        keys, offsets = _kernels.key_offsets(np.repeat(a.keys, np.diff(a.offsets))[keep])
        started_us = a.started_us[keep]
        arrays = _Arrays(
            keys=keys,
            offsets=offsets,
            key_first_start=started_us[offsets[:-1]],
            key_last_start=started_us[offsets[1:] - 1],
            latitude=a.latitude[keep],
            longitude=a.longitude[keep],
            radius_m=a.radius_m[keep],
            started_us=started_us,
            finished_us=a.finished_us[keep],
            person=a.person[keep],
            kind=a.kind[keep],
        )
        index = type(self)(
            arrays,
            self._ids,
            self.kinds,
            self.level_duration_us,
            time.perf_counter() - started,
        )
        index.warm_up()
        return index

    @classmethod
    def merge(cls, indexes: Sequence[RecordIndex]) -> RecordIndex:
        """One index of the records of several (of a store's days, integer person ids), made
        from their sorted arrays without reading or sorting the records again: the indexes'
        records, in the order of their first start, are merged by key (a stable sort of runs
        already sorted) and the few keys whose starts then fall out of order (records of
        different indexes overlapping in time) sorted again.

        Raises
        ------
        InputError
            An index with text person ids, or more than 63 kinds in all.
        """
        started = time.perf_counter()
        if any(isinstance(i._ids, pa.Array) for i in indexes):
            raise InputError("indexes with text person ids cannot be merged")
        parts = sorted(
            (i for i in indexes if i.num_records),
            key=lambda i: int(i._a.started_us.min()),
        )
        kinds = sorted({k for i in parts for k in i.kinds})
        if len(kinds) > _MAX_KINDS:
            raise InputError(f"has {len(kinds)} kinds of record; the index takes at most 63")
        ids = np.unique(np.concatenate([i._ids for i in parts])) if parts else np.empty(0, np.int64)

        def merged(values: list[NDArray[np.generic]], order: NDArray[np.int64]) -> NDArray[Any]:
            return np.concatenate(values)[order] if values else np.empty(0)

        composite = np.concatenate(
            [np.repeat(i._a.keys, np.diff(i._a.offsets)) for i in parts] or [np.empty(0, np.int64)]
        )
        order = np.argsort(composite, kind="stable")
        keys, offsets = _kernels.key_offsets(composite[order])
        del composite
        started_us = merged([i._a.started_us for i in parts], order).astype(np.int64)
        _kernels.sort_runs(offsets, started_us, order)
        person = merged(
            [np.searchsorted(ids, i._ids).astype(np.int32)[i._a.person] for i in parts], order
        ).astype(np.int32)
        kind = merged(
            [np.array([kinds.index(k) for k in i.kinds], np.uint8)[i._a.kind] for i in parts],
            order,
        ).astype(np.uint8)
        radius = merged([i._a.radius_m.astype(np.float64) for i in parts], order)
        arrays = _Arrays(
            keys=keys,
            offsets=offsets,
            key_first_start=started_us[offsets[:-1]],
            key_last_start=started_us[offsets[1:] - 1],
            latitude=merged([i._a.latitude for i in parts], order).astype(np.float64),
            longitude=merged([i._a.longitude for i in parts], order).astype(np.float64),
            radius_m=_radius(radius.astype(np.float64)),
            started_us=started_us,
            finished_us=merged([i._a.finished_us for i in parts], order).astype(np.int64),
            person=person,
            kind=kind,
        )
        durations: dict[int, int] = {}
        for i in parts:
            for level, duration in i.level_duration_us.items():
                durations[level] = max(durations.get(level, 0), duration)
        index = cls(arrays, ids.astype(np.int64), kinds, durations, time.perf_counter() - started)
        index.warm_up()
        return index

    def _contacts(self, visits: CaseVisits, rule: ExposureRule) -> tuple[_Found, pa.Array]:
        found = self._find(visits, rule)
        return found, self._evidence(found[6])

    def warm_up(self) -> None:
        """Compile the search now (or load it from numba's cache) rather than at the first query."""
        sample = pa.table(
            {
                "case_id": pa.array([0], pa.int64()),
                "latitude": [37.5665],
                "longitude": [126.978],
                "started_at": pa.array([0], UTC_US),
                "finished_at": pa.array([3_600_000_000], UTC_US),
            }
        )
        self.query(sample)

    def _own_persons(self, visits: CaseVisits) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Each visit's own person as the search takes it: an id of the records' integer ids,
        or a code of their text ids; and whether it is known."""
        if isinstance(self._ids, pa.Array):
            codes, known = own_persons(visits, self._ids)
            return codes, known
        return own_persons(visits, None)

    def _evidence(self, masks: NDArray[np.int64]) -> pa.Array:
        """Bit masks of kind codes as sorted, comma-joined names."""
        if self._all_names is not None:
            return self._all_names.take(masks)
        return _kind_names(masks, self.kinds, self._names)

    def _find(self, visits: CaseVisits, rule: ExposureRule) -> _Found:
        """The contacts per (case, person), sorted, as arrays: case code, person id (or code, for
        text ids), first contact, end of the last, longest overlap, smallest gap, kinds as a bit
        mask, pairs, close."""
        a = self._a
        if visits.size == 0 or self.num_records == 0:
            return _NOTHING
        codes = visits.case_code
        n_cases = len(visits.case_ids)
        visit_offsets = _kernels.case_offsets(codes, n_cases)
        if visit_offsets.size == 0:  # not by case: sorted (stable) first
            order = np.argsort(codes, kind="stable")
            lat, lon = visits.latitude[order], visits.longitude[order]
            radius = visits.radius_m[order]
            start, end = visits.started_us[order], visits.finished_us[order]
            own, own_known = (a[order] for a in self._own_persons(visits))
            visit_offsets = _kernels.case_offsets(codes[order], n_cases)
        else:  # already by case, as visits usually come: no copies
            lat, lon, radius = visits.latitude, visits.longitude, visits.radius_m
            start, end = visits.started_us, visits.finished_us
            own, own_known = self._own_persons(visits)
        close = rule.close
        person_ids = _NO_IDS if isinstance(self._ids, pa.Array) else self._ids
        rows = self._rows
        cells = self._cells

        def run(
            parts: list[tuple[int, int]], indices: Iterator[int], found: list[_Part | None]
        ) -> None:
            """Search the parts of ``indices`` (shared among threads)."""
            scratch = None
            try:
                for i in indices:
                    if i >= len(parts):
                        return
                    if scratch is None:
                        scratch = self._take_scratch()
                    lo, hi = parts[i]
                    found[i] = _kernels.search_cases(
                        lo,
                        hi,
                        visit_offsets,
                        lat,
                        lon,
                        radius,
                        start,
                        end,
                        own,
                        own_known,
                        person_ids,
                        self._code_of,
                        self._classes,
                        self._class_us,
                        self._level_us,
                        grid.N_DURATIONS,
                        _CLASS_RADIUS,
                        _ROW_DEG,
                        _COL_DEG,
                        _N_ROWS,
                        _N_COLS,
                        a.keys,
                        a.offsets,
                        a.key_first_start,
                        a.key_last_start,
                        self._keys_u,
                        rows.first_key,
                        rows.class_row0,
                        rows.class_row_at,
                        rows.class_n_rows,
                        cells.first_key,
                        cells.class_at,
                        cells.class_col0,
                        cells.class_width,
                        a.latitude,
                        a.longitude,
                        a.radius_m,
                        a.started_us,
                        a.finished_us,
                        a.person,
                        a.kind,
                        *scratch,
                        rule.limit_m,
                        rule.min_overlap_us,
                        close.max_distance_m + TOLERANCE_M,
                        close.min_overlap_us,
                        close.max_radius_m,
                    )
            finally:
                if scratch is not None:
                    self._scratch.append(scratch)

        # Threads pay off for many visits (a case or two is done before a thread would wake):
        # when cores are idle, or for a long search. On a busy machine a thread waits for its
        # turn, which a search of a millisecond or two does not make up for; a long one does.
        many = visits.size >= _VISITS_PER_THREAD
        if not many:
            threads = 1
        elif self.threads is not None:
            threads = min(self.threads, n_cases)
        else:
            idle = _CORES - _wanting_cores() + 1  # this thread's core too
            long = visits.size * self._visit_s > _LONG_SEARCH_S
            threads = min(_CORES if long else max(1, min(_CORES, round(idle))), n_cases)
        started = time.perf_counter()
        if threads == 1:
            parts = [(0, n_cases)]
        else:  # as many parts for each thread, of at least _PART_S (a part costs some 15 us)
            per_thread = visits.size * self._visit_s / threads
            parts = _split(visit_offsets, threads * min(_PARTS, max(1, int(per_thread / _PART_S))))
        results: list[_Part | None] = [None] * len(parts)
        # More parts than threads (of a long search), taken in turn by the calling thread and the
        # helpers: a thread that starts late (a busy machine) takes fewer parts, or none, and the
        # others wait for it at most as long as it takes for the part it is on.
        taken = itertools.count()
        wait = _HELPERS.start(lambda: run(parts, taken, results), threads - 1)
        run(parts, taken, results)
        wait()
        done = [r for r in results if r is not None]
        assert len(done) == len(parts)
        if many:  # seconds a visit, for one thread: what the next search expects
            self._visit_s = (time.perf_counter() - started) * threads / visits.size
        joined = done[0] if len(done) == 1 else np.concatenate(done, axis=1)
        return (*joined[:5], joined[5].view(np.float64), *joined[6:8], joined[8] != 0)  # type: ignore[return-value]

    def _take_scratch(self) -> _kernels.Scratch:
        """Working arrays for one search: a free one, or new ones (as many as searches at once)."""
        try:
            return self._scratch.pop()
        except IndexError:
            return _kernels.new_scratch(len(self._ids))


_Found = tuple[
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.bool_],
]
_NOTHING: _Found = (
    np.empty(0, np.int64),
    np.empty(0, np.int64),
    np.empty(0, np.int64),
    np.empty(0, np.int64),
    np.empty(0, np.int64),
    np.empty(0, np.float64),
    np.empty(0, np.int64),
    np.empty(0, np.int64),
    np.empty(0, np.bool_),
)
_Part = NDArray[np.int64]  # a part's contacts: a row a field (see _kernels.search_cases)
_NO_IDS = np.empty(0, np.int64)  # text ids: the search gives codes


class _Helpers:
    """Threads kept for searches (started once: a search does not pay for them), taking jobs
    from one queue. Lighter than an executor's futures, whose hand-off took some 40 us: a job is
    put on a queue and its end told on another, both queues in C."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forget()

    def _forget(self) -> None:
        """No threads (also in a forked child, which has none of its parent's)."""
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def start(self, job: Callable[[], None], n: int) -> Callable[[], None]:
        """Run ``job`` on ``n`` of the threads; returns what waits for them to finish (and
        raises what a job raised)."""
        if n <= 0:
            return lambda: None
        with self._lock:  # as many as cores: concurrent searches each find one free
            while len(self._threads) < max(n, _CORES):
                thread = threading.Thread(
                    target=self._serve,
                    args=(self._jobs,),
                    name=f"citytrace-index-{len(self._threads)}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()

        def task() -> None:
            try:
                job()
            except BaseException as exc:  # told to the waiting search, which raises it
                done.put(exc)
            else:
                done.put(None)

        for _ in range(n):
            self._jobs.put(task)

        def wait() -> None:
            errors = [e for e in (done.get() for _ in range(n)) if e is not None]
            if errors:
                raise errors[0]

        return wait

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[Callable[[], None]]) -> None:
        while True:
            jobs.get()()


_HELPERS = _Helpers()
os.register_at_fork(after_in_child=_HELPERS._forget)


def _wanting_cores() -> float:
    """How many threads want a core now, this one included: the runnable count of
    ``/proc/loadavg`` (an instant's, where the 1-minute load average still counts work that
    has ended, such as the build of the index a moment ago); that average where there is no
    ``/proc``."""
    try:
        if not _LOADAVG:
            _LOADAVG.append(os.open("/proc/loadavg", os.O_RDONLY | os.O_CLOEXEC))
        return float(os.pread(_LOADAVG[0], 128, 0).split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0]


_LOADAVG: list[int] = []  # the file, kept open: one read a search


def _split(visit_offsets: NDArray[np.int64], parts: int) -> list[tuple[int, int]]:
    """Cases cut into ``parts`` runs of about as many visits."""
    n_cases = visit_offsets.size - 1
    per_part = int(visit_offsets[-1]) / parts
    cuts = np.searchsorted(visit_offsets, [per_part * i for i in range(1, parts)]).tolist()
    edges = sorted({0, n_cases, *(c for c in cuts if 0 < c < n_cases)})
    return list(itertools.pairwise(edges))


def _kind_names(masks: NDArray[np.int64], kinds: list[str], names: dict[int, str]) -> pa.Array:
    """Bit masks of kind codes as sorted, comma-joined names (``names``: those already made)."""
    if masks.size <= 256:  # a few contacts: straight from the names
        listed = masks.tolist()
        for m in set(listed) - names.keys():
            names[m] = ",".join(k for i, k in enumerate(kinds) if m >> i & 1)
        return pa.array([names[m] for m in listed], pa.string())
    if len(kinds) <= 16:  # masks below 2**16: mark the ones present instead of sorting
        present = np.zeros(1 << len(kinds), bool)
        present[masks] = True
        distinct = np.flatnonzero(present)
        at = (np.cumsum(present) - 1)[masks]
    else:
        distinct, at = np.unique(masks, return_inverse=True)
    for m in set(distinct.tolist()) - names.keys():
        names[m] = ",".join(k for i, k in enumerate(kinds) if m >> i & 1)
    return Texts.of([names[m] for m in distinct.tolist()]).take(at)


def _code_lookup(ids: NDArray[np.int64] | pa.Array) -> NDArray[np.int32]:
    """For integer ids of a compact range (the usual pseudonymous numbering), the code of each
    id from the first (-1: none); else empty."""
    if isinstance(ids, pa.Array) or ids.size == 0:
        return np.empty(0, np.int32)
    span = int(ids[-1] - ids[0]) + 1
    if span > 4 * ids.size + 1_000_000:
        return np.empty(0, np.int32)
    code_of = np.full(span, -1, np.int32)
    code_of[ids - ids[0]] = np.arange(ids.size, dtype=np.int32)
    return code_of


class _Rows(NamedTuple):
    """Where the keys of each grid row begin (see ``_kernels.search_cases``)."""

    first_key: NDArray[np.int64]
    class_row0: NDArray[np.int64]
    class_row_at: NDArray[np.int64]
    class_n_rows: NDArray[np.int64]


def _class_ranges(keys: NDArray[np.int64]) -> Iterator[tuple[int, int, int]]:
    """Each radius class with keys, and where its keys begin and end."""
    for c in range(_CLASS_RADIUS.size):
        lo = int(np.searchsorted(keys, c << 43))
        hi = int(np.searchsorted(keys, (c + 1) << 43))
        if hi > lo:
            yield c, lo, hi


def _row_directory(keys: NDArray[np.int64]) -> _Rows:
    """Where each grid row's keys begin, for the search (see ``_kernels.search_cases``): the
    first key of each row from the first to the last row with keys of each radius class (and the
    end), and per class the first row, where its rows begin in that array, and how many."""
    n_classes = _CLASS_RADIUS.size
    row0 = np.zeros(n_classes, np.int64)
    row_at = np.zeros(n_classes, np.int64)
    n_rows = np.zeros(n_classes, np.int64)
    parts = []
    at = 0
    for c, lo, hi in _class_ranges(keys):
        rows = ((keys[lo:hi] >> 3) & ((1 << 40) - 1)) // np.int64(_N_COLS[c])
        first, last = int(rows[0]), int(rows[-1])
        parts.append(lo + np.searchsorted(rows, np.arange(first, last + 2)))
        row0[c], row_at[c], n_rows[c] = first, at, last - first + 1
        at += last - first + 2
    first_key = np.concatenate(parts) if parts else np.zeros(1, np.int64)
    return _Rows(first_key.astype(np.int64), row0, row_at, n_rows)


class _Cells(NamedTuple):
    """The first key of each grid cell of the classes that have a cell directory (see
    ``_kernels.search_cases``)."""

    first_key: NDArray[np.signedinteger]  # int32 while the keys are fewer than 2**31
    class_at: NDArray[np.int64]
    class_col0: NDArray[np.int64]
    class_width: NDArray[np.int64]  # 0: no directory for the class (its rows are searched)


def _cell_budget(arrays: _Arrays) -> int:
    """Entries the cell directories may take: as many as the index has bytes over 32 (at most an
    eighth of its memory), and at least 4 million, so a city's directory is kept and a nation's
    sparse grid is not."""
    held = sum(int(getattr(arrays, f.name).nbytes) for f in fields(arrays))
    return max(4_000_000, held // 32)


def _cell_directory(keys: NDArray[np.int64], rows: _Rows, budget: int) -> _Cells:
    """For each radius class whose box of rows and columns with keys fits the budget (classes
    in order), the first key of every cell of that box, and of the cell after its last column."""
    n_classes = _CLASS_RADIUS.size
    at = np.zeros(n_classes, np.int64)
    col0 = np.zeros(n_classes, np.int64)
    width = np.zeros(n_classes, np.int64)
    parts = []
    size = 0
    kind = np.int32 if keys.size < 2**31 else np.int64  # key numbers: half the memory when fit
    for c, lo, hi in _class_ranges(keys):
        n_cols = np.int64(_N_COLS[c])
        cols = ((keys[lo:hi] >> 3) & ((1 << 40) - 1)) % n_cols
        first, last = int(cols.min()), int(cols.max())
        n_rows = int(rows.class_n_rows[c])
        cells = n_rows * (last - first + 2)
        if size + cells > budget:
            continue
        row = rows.class_row0[c] + np.arange(n_rows, dtype=np.int64)
        col = np.arange(first, last + 2, dtype=np.int64)
        wanted = (np.int64(c) << 43) | ((row[:, None] * n_cols + col[None, :]).ravel() << 3)
        parts.append(np.searchsorted(keys, wanted).astype(kind))
        at[c], col0[c], width[c] = size, first, last - first + 2
        size += cells
    first_key: NDArray[np.signedinteger] = np.concatenate(parts) if parts else np.zeros(1, kind)
    return _Cells(first_key, at, col0, width)


def _composite(level: NDArray[np.int64], cell: NDArray[np.int64]) -> NDArray[np.int64]:
    """Index keys: ``(radius class << 43) | (cell << 3) | duration class``, so that a cell's
    records of every duration class lie together (see ``_kernels.search_cases``)."""
    radius_class, duration_class = np.divmod(level, grid.N_DURATIONS)
    return (radius_class << 43) | (cell << 3) | duration_class


def _ints(column: pa.ChunkedArray) -> NDArray[np.int64]:
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.int64())
    return np.ascontiguousarray(column.to_numpy(), dtype=np.int64)


def _floats(column: pa.ChunkedArray) -> NDArray[np.float64]:
    return np.ascontiguousarray(column.to_numpy(), dtype=np.float64)


def _radius(values: NDArray[np.float64]) -> NDArray[np.floating]:
    narrow = values.astype(np.float32)
    return narrow if np.array_equal(narrow, values) else values


def _dense(person: NDArray[np.int64]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Dense codes of person ids (in the order of the ids) and the ids by code."""
    if person.size == 0:
        return np.empty(0, np.int32), np.empty(0, np.int64)
    lo, hi = int(person.min()), int(person.max())
    if hi - lo < 4 * person.size + 1_000_000:
        # Ids of a compact range (the usual pseudonymous numbering): no sort needed.
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[person - lo] = True
        ids = np.flatnonzero(present).astype(np.int64) + lo
        code_of = np.cumsum(present, dtype=np.int64) - 1
        codes = code_of[person - lo]
    else:
        ids, codes = np.unique(person, return_inverse=True)
    if ids.size > np.iinfo(np.int32).max:
        raise InputError("has more than 2**31 persons")
    return codes.astype(np.int32), ids.astype(np.int64)


def _kind_codes(
    columns: list[pa.ChunkedArray],
) -> tuple[list[NDArray[np.uint8]], list[str]]:
    """Kinds of several columns (text or dictionary) as one-byte codes of one sorted vocabulary."""
    decoded = [c if pa.types.is_dictionary(c.type) else pc.dictionary_encode(c) for c in columns]
    vocabulary = sorted(
        {v for c in decoded for chunk in c.chunks for v in chunk.dictionary.to_pylist()}
    )
    if len(vocabulary) > _MAX_KINDS:
        raise InputError(
            f"has {len(vocabulary)} kinds of record; the index takes at most {_MAX_KINDS}"
        )
    lookup = pa.array(vocabulary, pa.string())
    codes = []
    for column in decoded:
        parts = []
        for chunk in column.chunks:
            lut = np.asarray(
                pc.index_in(chunk.dictionary, lookup).to_numpy(zero_copy_only=False), np.uint8
            )
            indices = np.asarray(chunk.indices.to_numpy(zero_copy_only=False), np.int64)
            parts.append(lut[indices])
        codes.append(np.concatenate(parts) if parts else np.empty(0, np.uint8))
    return codes, vocabulary


def _from_keyed(
    prepared: PreparedRecords,
) -> tuple[_Arrays, NDArray[np.int64] | pa.Array, list[str], dict[int, int]]:
    table = prepared.keyed  # sorted by level, cell, started_at: re-sorted by the index keys
    level = _ints(table.column("level"))
    order = np.argsort(_composite(level, _ints(table.column("cell"))), kind="stable")
    table = table.take(order)
    level = level[order]
    keys, offsets = _kernels.key_offsets(_composite(level, _ints(table.column("cell"))))
    started = _ints(table.column("started_at"))
    finished = _ints(table.column("finished_at"))
    codes, kinds = _kind_codes([table.column("kind")])
    durations: dict[int, int] = {}
    for value in np.unique(level):
        mask = level == value
        durations[int(value)] = int((finished[mask] - started[mask]).max())
    person, ids = _dense(_ints(table.column("person_id")))
    arrays = _Arrays(
        keys=keys,
        offsets=offsets,
        key_first_start=started[offsets[:-1]],
        key_last_start=started[offsets[1:] - 1],
        latitude=_floats(table.column("latitude")),
        longitude=_floats(table.column("longitude")),
        radius_m=_radius(_floats(table.column("radius_m"))),
        started_us=started,
        finished_us=finished,
        person=person,
        kind=codes[0],
    )
    # Text ids were replaced by their codes when the table was prepared: map codes back to them.
    text_ids = prepared.person_ids
    return (
        arrays,
        (pc.take(text_ids, pa.array(ids)) if text_ids is not None else ids),
        kinds,
        (durations),
    )


def _from_store(
    store: RecordStore, days: Sequence[date] | None
) -> tuple[_Arrays, NDArray[np.int64], list[str], dict[int, int]]:
    """Read a store column by column and merge its day files into one sorted order.

    Each day file is sorted by (level, cell, started_at) and records of a day start, but for the
    dwell intervals of point-in-time records, before those of the next: a stable sort of the day
    files in order on (level, cell) alone leaves start times sorted within each cell except where
    such an interval crosses midnight, and those few cells are sorted again. Columns are read and
    permuted one at a time to bound memory.
    """
    import pyarrow.parquet as pq

    paths = store.files(days)
    chosen = store.days() if days is None else [d for d in store.days() if d in set(days)]

    def column(name: str) -> list[pa.ChunkedArray]:
        dictionary = [name] if name == "kind" else None
        return [pq.read_table(p, columns=[name], read_dictionary=dictionary).column(name)
                for p in paths]  # fmt: skip

    def merged_ints(name: str) -> NDArray[np.int64]:
        parts = [_ints(c) for c in column(name)]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    def merged_floats(name: str) -> NDArray[np.float64]:
        parts = [_floats(c) for c in column(name)]
        return np.concatenate(parts) if parts else np.empty(0, np.float64)

    composite = _composite(merged_ints("level"), merged_ints("cell"))
    order = np.argsort(composite, kind="stable")
    composite = composite[order]
    keys, offsets = _kernels.key_offsets(composite)
    del composite
    started = merged_ints("started_at")[order]
    _kernels.sort_runs(offsets, started, order)
    kind_parts, kinds = _kind_codes(column("kind"))
    kind = np.concatenate(kind_parts)[order] if kind_parts else np.empty(0, np.uint8)
    person, ids = _dense(merged_ints("person_id"))
    arrays = _Arrays(
        keys=keys,
        offsets=offsets,
        key_first_start=started[offsets[:-1]],
        key_last_start=started[offsets[1:] - 1],
        latitude=merged_floats("latitude")[order],
        longitude=merged_floats("longitude")[order],
        radius_m=_radius(merged_floats("radius_m")[order]),
        started_us=started,
        finished_us=merged_ints("finished_at")[order],
        person=person[order],
        kind=kind,
    )
    return arrays, ids, kinds, store.level_durations(chosen)
