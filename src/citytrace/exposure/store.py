"""The city's records on disk: a Parquet dataset with one file per local day, appendable.

Layout of a store folder::

    store.json                 what the store holds: format, time zone, dwell times, grid layout
    days/2020-03-01.parquet    the records that start on that day (in the store's time zone)

A record belongs to the day on which it starts as given (before a point-in-time record is given
its dwell interval). Each day file holds :data:`citytrace.exposure.records.KEYED_SCHEMA`, sorted
by ``level, cell, started_at, person_id`` (records of one place and time lie together, so a search
reads few row groups), and carries its own statistics (rows, levels, longest record per level,
first and last start) in its Parquet metadata. A day is written whole or not at all: it is
checked first, written under a temporary name, flushed to disk and renamed into place; appends
are serialised by a lock file. Days never touch each other, so appending a day rebuilds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from citytrace.errors import ConflictError, InputError
from citytrace.exposure import grid
from citytrace.exposure._checks import Rows, times_us
from citytrace.exposure.records import KEYED_SCHEMA, keyed_records, normalise_records
from citytrace.investigation.route import DEFAULT_DWELL_MIN, DWELL_MIN

__all__ = ["DayStats", "RecordStore"]

_FORMAT = "citytrace-exposure-records"
_STATS_KEY = b"citytrace.exposure.day"
_ROW_GROUP = 128 * 1024


@dataclass(frozen=True)
class DayStats:
    """What one day file holds: rows, and per level the longest record (microseconds)."""

    day: date
    rows: int
    level_duration_us: dict[int, int]
    first_start_us: int
    last_start_us: int
    last_end_us: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "day": self.day.isoformat(),
                "rows": self.rows,
                "level_duration_us": {str(k): v for k, v in self.level_duration_us.items()},
                "first_start_us": self.first_start_us,
                "last_start_us": self.last_start_us,
                "last_end_us": self.last_end_us,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> DayStats:
        data = json.loads(text)
        return cls(
            day=date.fromisoformat(data["day"]),
            rows=int(data["rows"]),
            level_duration_us={int(k): int(v) for k, v in data["level_duration_us"].items()},
            first_start_us=int(data["first_start_us"]),
            last_start_us=int(data["last_start_us"]),
            last_end_us=int(data["last_end_us"]),
        )


class RecordStore:
    """The city's records as a Parquet dataset partitioned by day.

    Parameters
    ----------
    root
        The store's folder: opened if it holds a store, created if it is missing or empty.
    timezone
        IANA zone whose days partition the store (default ``Asia/Seoul`` for a new store); an
        existing store keeps its own, and a different one is refused.
    dwell_min, default_dwell_min
        Dwell times given to point-in-time records when they are appended (default
        :data:`citytrace.investigation.route.DWELL_MIN`); fixed when the store is created.

    Raises
    ------
    InputError
        The folder holds something else, or the options contradict the store's.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        timezone: str | None = None,
        dwell_min: Mapping[str, float] | None = None,
        default_dwell_min: float | None = None,
    ) -> None:
        self.root = Path(root)
        meta_path = self.root / "store.json"
        if meta_path.is_file():
            meta = self._read_meta(meta_path)
            if timezone is not None and timezone != meta["timezone"]:
                raise InputError(
                    f"the store's days are in {meta['timezone']}, not {timezone}",
                    path=str(self.root),
                )
            if dwell_min is not None and dict(dwell_min) != meta["dwell_min"]:
                raise InputError("the store was created with other dwell times", path=str(root))
        else:
            if self.root.exists() and (not self.root.is_dir() or any(self.root.iterdir())):
                raise InputError("is not a record store (no store.json)", path=str(self.root))
            meta = {
                "format": _FORMAT,
                "timezone": timezone or "Asia/Seoul",
                "dwell_min": dict(DWELL_MIN if dwell_min is None else dwell_min),
                "default_dwell_min": (
                    DEFAULT_DWELL_MIN if default_dwell_min is None else default_dwell_min
                ),
                "layout": grid.LAYOUT,
            }
            _zone(str(meta["timezone"]))
            (self.root / "days").mkdir(parents=True, exist_ok=True)
            _write_atomically(meta_path, (json.dumps(meta, indent=2) + "\n").encode())
        dwell = meta["dwell_min"]
        default_dwell = meta["default_dwell_min"]
        if not isinstance(dwell, dict) or not isinstance(default_dwell, int | float):
            raise InputError("store.json has no valid dwell times", path=str(self.root))
        self.timezone: str = str(meta["timezone"])
        self.dwell_min: dict[str, float] = {str(k): float(v) for k, v in dwell.items()}
        self.default_dwell_min: float = float(default_dwell)
        self._zone = _zone(self.timezone)
        self._stats: dict[Path, tuple[float, DayStats]] = {}

    def __repr__(self) -> str:
        return f"RecordStore({str(self.root)!r})"

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> RecordStore:
        """An existing store; a folder without one is refused (never created)."""
        if not (Path(root) / "store.json").is_file():
            raise InputError("is not a record store (no store.json)", path=str(root))
        return cls(root)

    def _read_meta(self, path: Path) -> dict[str, object]:
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InputError("store.json cannot be read", path=str(self.root)) from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise InputError("is not a record store", path=str(self.root))
        if meta.get("layout") != grid.LAYOUT:
            raise InputError(
                "was written with another grid layout: build it again from the sources",
                path=str(self.root),
            )
        return meta

    # ------------------------------------------------------------------------------------------
    # Days

    def day_path(self, day: date) -> Path:
        return self.root / "days" / f"{day.isoformat()}.parquet"

    def days(self) -> list[date]:
        """The days stored, ascending."""
        found = []
        for path in (self.root / "days").glob("*.parquet"):
            with contextlib.suppress(ValueError):
                found.append(date.fromisoformat(path.stem))
        return sorted(found)

    def files(self, days: Sequence[date] | None = None) -> list[Path]:
        """The day files, in day order (all days, or those given that are stored)."""
        chosen = self.days() if days is None else sorted(set(days) & set(self.days()))
        return [self.day_path(d) for d in chosen]

    def stats(self, day: date) -> DayStats:
        """The statistics of a stored day (read from its file's metadata, cached)."""
        path = self.day_path(day)
        mtime = path.stat().st_mtime
        cached = self._stats.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        metadata = pq.read_schema(path).metadata or {}
        stats = DayStats.from_json(metadata[_STATS_KEY])
        self._stats[path] = (mtime, stats)
        return stats

    @property
    def num_rows(self) -> int:
        return sum(self.stats(d).rows for d in self.days())

    def level_durations(self, days: Sequence[date] | None = None) -> dict[int, int]:
        """Per level present, the longest record, in microseconds."""
        result: dict[int, int] = {}
        for d in self.days() if days is None else days:
            for level, duration in self.stats(d).level_duration_us.items():
                result[level] = max(result.get(level, 0), duration)
        return result

    def days_touching(self, start_us: int, end_us: int, overlap_us: int) -> list[date]:
        """Days that may hold a record overlapping ``[start_us, end_us]`` by ``overlap_us``."""
        chosen = []
        for d in self.days():
            s = self.stats(d)
            longest = max(s.level_duration_us.values(), default=0)
            if s.last_start_us >= start_us + overlap_us - longest and (
                s.first_start_us <= end_us - overlap_us
            ):
                chosen.append(d)
        return chosen

    def read(
        self, *, days: Sequence[date] | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """The stored records (all days or some), in day order, as :data:`KEYED_SCHEMA`."""
        paths = self.files(days)
        names = list(columns) if columns is not None else KEYED_SCHEMA.names
        if not paths:
            return pa.schema([KEYED_SCHEMA.field(n) for n in names]).empty_table()
        tables = [pq.read_table(p, columns=names).replace_schema_metadata(None) for p in paths]
        return pa.concat_tables(tables)

    def day_bounds_us(self, day: date) -> tuple[int, int]:
        """Local midnight at the start of the day and of the next, as UTC microseconds."""
        start = datetime.combine(day, time(), self._zone)
        end = datetime.combine(day + timedelta(days=1), time(), self._zone)
        return _us(start), _us(end)

    # ------------------------------------------------------------------------------------------
    # Changes

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append_day(
        self,
        table: pa.Table,
        *,
        day: date | None = None,
        replace: bool = False,
        rows: Rows | None = None,
    ) -> DayStats:
        """Check and store the records of one day, all or nothing.

        Parameters
        ----------
        table
            Records as :func:`citytrace.exposure.records.normalise_records` takes them, with
            integer ``person_id``, all starting on ``day`` in the store's time zone.
        day
            The day; by default the day on which the first record starts.
        replace
            Replace the day if it is stored; otherwise a stored day is refused.
        rows
            How errors name rows.

        Returns
        -------
        DayStats
            What was stored.

        Raises
        ------
        InputError
            Bad records (see :func:`~citytrace.exposure.records.normalise_records`), ids that
            are not integers, or records that start on another day, naming the rows.
        ConflictError
            The day is stored and ``replace`` is false.

        Notes
        -----
        Nothing is written until every check has passed, and the day's file appears by an atomic
        rename: a failure at any point leaves the store as it was.
        """
        rows = rows or Rows()
        records = normalise_records(
            table, dwell_min=self.dwell_min, default_dwell_min=self.default_dwell_min, rows=rows
        )
        if records.column("person_id").type != pa.int64():
            raise rows.column_error("person_id", "must hold integers in a record store")
        if records.num_rows == 0:
            raise InputError("has no records: a day needs at least one", path=rows.path)
        # A record belongs to the day of its own start, before a dwell time moved it (a payment
        # just after midnight opens an interval the evening before).
        started, _ = times_us(table, "started_at", rows)
        if day is None:
            first = datetime.fromtimestamp(int(started[0]) / 1e6, UTC).astimezone(self._zone)
            day = first.date()
        lo, hi = self.day_bounds_us(day)
        outside = np.flatnonzero((started < lo) | (started >= hi))
        if outside.size:
            raise rows.error(
                outside, f"does not start on {day.isoformat()} ({self.timezone}): one day at a time"
            )
        keyed = keyed_records(records)
        stats = _day_stats(day, keyed)
        path = self.day_path(day)
        with self._locked():
            if path.exists() and not replace:
                raise ConflictError(
                    f"day {day.isoformat()} is already stored: pass replace=True to replace it"
                )
            schema = keyed.schema.with_metadata({_STATS_KEY: stats.to_json().encode()})
            _write_parquet_atomically(path, keyed.cast(schema))
        return stats

    def delete_day(self, day: date) -> bool:
        """Remove a stored day (retention); whether it was there."""
        with self._locked():
            path = self.day_path(day)
            if not path.exists():
                return False
            path.unlink()
            _fsync_dir(path.parent)
            return True


def _day_stats(day: date, keyed: pa.Table) -> DayStats:
    level = np.asarray(keyed.column("level").to_numpy(), np.int64)
    started = np.asarray(keyed.column("started_at").cast(pa.int64()).to_numpy(), np.int64)
    finished = np.asarray(keyed.column("finished_at").cast(pa.int64()).to_numpy(), np.int64)
    duration = finished - started
    durations: dict[int, int] = {}
    for value in np.unique(level):
        durations[int(value)] = int(duration[level == value].max())
    return DayStats(
        day=day,
        rows=keyed.num_rows,
        level_duration_us=durations,
        first_start_us=int(started.min()),
        last_start_us=int(started.max()),
        last_end_us=int(finished.max()),
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {name!r}", location="timezone") from None


def _us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _write_parquet_atomically(path: Path, table: pa.Table) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as sink:
            pq.write_table(table, sink, compression="zstd", row_group_size=_ROW_GROUP)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
