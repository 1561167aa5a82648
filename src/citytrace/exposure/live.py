"""An index of a record store that follows the store day by day.

The index is made of segments, each a :class:`~citytrace.exposure.index.RecordIndex` of some of
the store's days. :meth:`LiveIndex.refresh` looks at the day files: the days appended or replaced
since the last refresh are indexed together as a new segment (a day of five million records in
about half a second, where indexing 70 million again takes twenty), so they are searchable at
once; a segment holding a day that was replaced or deleted (retention) is dropped at once, so a
purged record is never found, and its other days kept by leaving that day's records out of its
sorted arrays (nothing read again). Then the segments are merged into one
(from their sorted arrays, nothing read again; searches go on over the segments meanwhile). A
search asks each segment its visits can touch (a record belongs to the day it starts on, and lasts
at most the longest record of its days) and folds their contacts per (case, person), which costs
a little per segment. Folding takes the earliest first contact, the latest last, the longest
overlap, the smallest distance, the kinds of all, the pairs summed, and close if any pair was: the
answers are those of one index of all the days.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from citytrace.errors import InputError
from citytrace.exposure import _kernels
from citytrace.exposure.definition import ExposureRule
from citytrace.exposure.index import _NOTHING, RecordIndex, Searchable, _Found, _kind_names
from citytrace.exposure.store import DayStats, RecordStore
from citytrace.exposure.visits import CaseVisits

__all__ = ["LiveIndex", "Refresh"]

log = logging.getLogger(__name__)

Signature = tuple[int, int, int]  # a day file's inode, size and modification time (ns)
_ATTEMPTS = 3  # indexings of days that change while they are read, before giving up


@dataclass(frozen=True)
class _Segment:
    days: dict[date, Signature]  # the day files indexed, as they were
    index: RecordIndex
    first_start_us: int
    last_start_us: int
    longest_us: int  # the longest record of its days


@dataclass(frozen=True)
class _State:
    """What searches read, swapped whole by a refresh: the segments, and the kinds of all of them
    with the names of their bit masks as they are made."""

    segments: tuple[_Segment, ...]
    kinds: list[str]
    names: dict[int, str]

    @property
    def days(self) -> dict[date, Signature]:
        return {d: sig for segment in self.segments for d, sig in segment.days.items()}


_EMPTY = _State((), [], {})


@dataclass(frozen=True)
class Refresh:
    """What a refresh changed: days indexed for the first time, indexed again (replaced), and
    dropped; and the seconds until they were searchable, and in all (with the compaction). The
    other days of a segment that held a day replaced or dropped are kept as they were indexed,
    with that day's records left out."""

    added: tuple[date, ...]
    reindexed: tuple[date, ...]
    dropped: tuple[date, ...]
    searchable_s: float
    seconds: float
    segments: int  # after the refresh

    @property
    def changed(self) -> bool:
        return bool(self.added or self.reindexed or self.dropped)


class LiveIndex(Searchable):
    """The records of a store in memory, kept up to date by :meth:`refresh`.

    Searches (:meth:`query`, or :func:`~citytrace.exposure.find_contacts` with this as
    ``records``) may run while a refresh indexes days: they see the segments before or after
    each of its steps. The index is empty until the first refresh.

    Parameters
    ----------
    store
        The record store to follow.
    """

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._state = _EMPTY
        self._refreshing = threading.Lock()
        self._background: threading.Thread | None = None

    def __repr__(self) -> str:
        state = self._state
        return (
            f"LiveIndex({len(state.days)} days in {len(state.segments)} segments, "
            f"{self.num_records:,} records)"
        )

    @classmethod
    def open(cls, store: RecordStore) -> LiveIndex:
        """The index of every day of ``store``, built now."""
        live = cls(store)
        live.refresh()
        return live

    @property
    def days(self) -> list[date]:
        """The days indexed, ascending."""
        return sorted(self._state.days)

    @property
    def segments(self) -> int:
        """Segments searched (one once compacted)."""
        return len(self._state.segments)

    @property
    def kinds(self) -> list[str]:
        """The kinds of record of every day indexed, sorted."""
        return list(self._state.kinds)

    @property
    def num_records(self) -> int:
        return sum(s.index.num_records for s in self._state.segments)

    @property
    def nbytes(self) -> int:
        """Memory held by the segments' indexes."""
        return sum(s.index.nbytes for s in self._state.segments)

    @property
    def person_ids(self) -> None:
        """A store's person ids are integers: the contacts carry them as they are."""
        return None

    # ------------------------------------------------------------------------------------------
    # Following the store

    def is_current(self) -> bool:
        """Whether every day file of the store is indexed as it is now (a listing and a stat of
        each day file: cheap enough to ask before every search)."""
        return _signatures(self.store) == self._state.days

    def refresh(self, *, compact: bool = True) -> Refresh:
        """Index the days appended or replaced since the last refresh, drop those deleted, and
        (``compact``) merge the segments into one.

        One refresh runs at a time; searches go on meanwhile and see the segments of before
        until the changed days are indexed, then the new ones.

        Raises
        ------
        InputError
            A day file that cannot be read as a day of the store (naming the file); the index
            stays as it was.
        """
        with self._refreshing:
            started = time.perf_counter()
            before = self._state
            current = _signatures(self.store)
            indexed = before.days
            kept = tuple(
                s
                for s in before.segments
                if all(current.get(d) == sig for d, sig in s.days.items())
            )
            dropped = tuple(sorted(d for d in indexed if d not in current))
            segments = kept
            if len(kept) < len(before.segments):  # a day replaced or purged: never found again
                self._swap(kept)
                # The days unchanged of those segments are kept by leaving the others' records
                # out of their arrays (nothing read again); the days replaced are indexed anew.
                for changed in before.segments:
                    same = {d: sig for d, sig in changed.days.items() if current.get(d) == sig}
                    if same and all(changed is not k for k in kept):
                        try:
                            segments = (*segments, self._trim(changed, same))
                        except FileNotFoundError:  # a day deleted meanwhile: indexed below
                            continue
                if len(segments) > len(kept):
                    self._swap(segments)
            kept_days = {d for s in segments for d in s.days}
            missing = sorted(d for d in current if d not in kept_days)
            added = tuple(d for d in missing if d not in indexed)
            reindexed = tuple(d for d in missing if d in indexed)
            segment = self._index(missing) if missing else None
            if segment is not None:
                segments = (*segments, segment)
                self._swap(segments)
            searchable_s = time.perf_counter() - started
            if compact and len(segments) > 1:
                self._swap((_merge(segments),))
            return Refresh(
                added,
                reindexed,
                dropped,
                searchable_s,
                time.perf_counter() - started,
                len(self._state.segments),
            )

    def _swap(self, segments: tuple[_Segment, ...]) -> None:
        """Searches see these segments from now on."""
        before = self._state
        kinds = sorted({k for s in segments for k in s.index.kinds})
        names = before.names if kinds == before.kinds else {}
        self._state = _State(segments, kinds, names)  # one assignment: before or after

    def refresh_in_background(self) -> bool:
        """Start a refresh in a thread of its own unless one is running; whether one started."""
        if self._background is not None and self._background.is_alive():
            return False

        def run() -> None:
            try:
                done = self.refresh()
            except Exception:  # a thread has no caller to tell: the log does
                log.exception("indexing the record store %s failed", self.store.root)
            else:
                if done.changed:
                    log.info(
                        "record index of %s: %d days added, %d indexed again, %d dropped; "
                        "searchable in %.1f s, one segment in %.1f s",
                        self.store.root,
                        len(done.added),
                        len(done.reindexed),
                        len(done.dropped),
                        done.searchable_s,
                        done.seconds,
                    )

        self._background = threading.Thread(target=run, name="citytrace-live-index", daemon=True)
        self._background.start()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a refresh started by :meth:`refresh_in_background` to end."""
        if self._background is not None:
            self._background.join(timeout)

    def _index(self, days: list[date]) -> _Segment | None:
        """One segment of these days as their files are now (days deleted meanwhile left out),
        or None when none is left."""
        for _ in range(_ATTEMPTS):
            signatures = {d: sig for d in days if (sig := _signature(self.store.day_path(d)))}
            if not signatures:
                return None
            chosen = sorted(signatures)
            try:
                stats = [self._stats(d) for d in chosen]
                index = RecordIndex.build(self.store, days=chosen)
            except FileNotFoundError:
                continue  # deleted while it was read: look again
            except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
                names = ", ".join(d.isoformat() for d in chosen)
                raise InputError(
                    f"the days {names} cannot be indexed: {exc}", path=str(self.store.root)
                ) from exc
            if all(_signature(self.store.day_path(d)) == signatures[d] for d in chosen):
                return _Segment(
                    days=signatures,
                    index=index,
                    first_start_us=min(s.first_start_us for s in stats),
                    last_start_us=max(s.last_start_us for s in stats),
                    longest_us=max(max(s.level_duration_us.values(), default=0) for s in stats),
                )
        raise InputError(
            f"days kept changing while they were indexed ({_ATTEMPTS} attempts)",
            path=str(self.store.root),
        )

    def _trim(self, segment: _Segment, days: dict[date, Signature]) -> _Segment:
        """``segment`` without the records of its days not in ``days``."""
        gone = [self.store.day_bounds_us(d) for d in segment.days if d not in days]
        stats = [self._stats(d) for d in sorted(days)]
        return _Segment(
            days=days,
            index=segment.index.without(gone),
            first_start_us=min(s.first_start_us for s in stats),
            last_start_us=max(s.last_start_us for s in stats),
            longest_us=max(max(s.level_duration_us.values(), default=0) for s in stats),
        )

    def _stats(self, day: date) -> DayStats:
        """A day's statistics (a bad file named; a file gone raises FileNotFoundError)."""
        path = self.store.day_path(day)
        try:
            return self.store.stats(day)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            raise InputError(f"cannot be indexed: {exc}", path=str(path)) from exc

    # ------------------------------------------------------------------------------------------
    # Searching

    def _contacts(self, visits: CaseVisits, rule: ExposureRule) -> tuple[_Found, pa.Array]:
        found, kinds, names = self._find(visits, rule)
        return found, _kind_names(found[6], kinds, names)

    def _find(
        self, visits: CaseVisits, rule: ExposureRule
    ) -> tuple[_Found, list[str], dict[int, str]]:
        """The contacts as :meth:`RecordIndex._find` gives them, kinds as bit masks of the
        returned vocabulary (with the cache of their names)."""
        state = self._state  # one snapshot: a refresh swaps it whole
        kinds, names = state.kinds, state.names
        parts: list[_Found] = []
        overlap = rule.min_overlap_us
        for segment in state.segments:
            # Visits that may meet a record of the segment by the overlap (see days_touching).
            touching = (
                segment.last_start_us >= visits.started_us + overlap - segment.longest_us
            ) & (segment.first_start_us <= visits.finished_us - overlap)
            if not touching.any():
                continue
            subset = visits if touching.all() else _visits_at(visits, np.flatnonzero(touching))
            found = segment.index._find(subset, rule)
            if found[0].size:
                masks = _remap_kinds(found[6], segment.index.kinds, kinds)
                parts.append((*found[:6], masks, *found[7:]))  # type: ignore[arg-type]
        if not parts:
            return _NOTHING, kinds, names
        if len(parts) == 1:
            return parts[0], kinds, names
        return _fold(parts), kinds, names


def _merge(segments: tuple[_Segment, ...]) -> _Segment:
    """One segment of the segments' days, merged from their indexes (nothing read again)."""
    return _Segment(
        days={d: sig for s in segments for d, sig in s.days.items()},
        index=RecordIndex.merge([s.index for s in segments]),
        first_start_us=min(s.first_start_us for s in segments),
        last_start_us=max(s.last_start_us for s in segments),
        longest_us=max(s.longest_us for s in segments),
    )


def _signature(path: os.PathLike[str] | str) -> Signature | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _signatures(store: RecordStore) -> dict[date, Signature]:
    """The store's day files as they are now."""
    found = {}
    for day in store.days():
        signature = _signature(store.day_path(day))
        if signature is not None:
            found[day] = signature
    return found


def _visits_at(visits: CaseVisits, at: NDArray[np.int64]) -> CaseVisits:
    """Some of the visits, their cases numbered as before."""
    return CaseVisits(
        case_ids=visits.case_ids,
        case_code=visits.case_code[at],
        latitude=visits.latitude[at],
        longitude=visits.longitude[at],
        radius_m=visits.radius_m[at],
        started_us=visits.started_us[at],
        finished_us=visits.finished_us[at],
        own_person=visits.own_person.take(pa.array(at, pa.int64())),
    )


def _remap_kinds(masks: NDArray[np.int64], own: list[str], kinds: list[str]) -> NDArray[np.int64]:
    """Bit masks of a day's kinds as bit masks of the kinds of every day."""
    if own == kinds:
        return masks
    result = np.zeros_like(masks)
    for bit, name in enumerate(own):
        result |= ((masks >> bit) & 1) << kinds.index(name)
    return result


def _fold(parts: list[_Found]) -> _Found:
    """Contacts of several segments, each sorted by (case, person), folded per (case, person)
    and sorted: merged two at a time (no sort)."""
    folded = parts[0]
    for part in parts[1:]:
        folded = _fold_two(folded, part)
    return folded


# How each column of two contacts of the same (case, person) combine.
_COMBINE = (None, None, np.minimum, np.maximum, np.maximum, np.minimum, np.bitwise_or, np.add,
            np.logical_or)  # fmt: skip


def _fold_two(a: _Found, b: _Found) -> _Found:
    at_a, at_b, shared, size = _kernels.merge_pairs(a[0], a[1], b[0], b[1])
    alone = ~shared
    columns = []
    for x, y, combine in zip(a, b, _COMBINE, strict=True):
        column = np.empty(size, x.dtype)
        column[at_a] = x
        column[at_b[alone]] = y[alone]
        if combine is not None:
            to = at_b[shared]
            column[to] = combine(column[to], y[shared])
        columns.append(column)
    return tuple(columns)  # type: ignore[return-value]
