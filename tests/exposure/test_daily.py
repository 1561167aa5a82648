"""Loading records of several days into a store: all checked before anything is written."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from citytrace.errors import ConflictError, InputError
from citytrace.exposure import RecordStore
from citytrace.exposure.daily import append_by_day

TS = pa.timestamp("us", tz="UTC")
# 23:30 on 1 March and 00:30 on 2 March in Seoul: two local days, one UTC day.
LATE = datetime(2020, 3, 1, 14, 30, tzinfo=UTC)


def _records(starts: list[datetime], lat: float = 37.5) -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array(range(len(starts)), pa.int64()),
            "latitude": [lat] * len(starts),
            "longitude": [127.0] * len(starts),
            "started_at": pa.array(starts, TS),
            "finished_at": pa.array([s + timedelta(minutes=30) for s in starts], TS),
        }
    )


class TestAppendByDay:
    def test_splits_by_local_day(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "store")
        stats = append_by_day(store, _records([LATE, LATE + timedelta(hours=1)]))
        assert [s.day for s in stats] == [date(2020, 3, 1), date(2020, 3, 2)]
        assert store.num_rows == 2

    def test_a_bad_row_or_a_stored_day_writes_nothing(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "store")
        append_by_day(store, _records([LATE]))
        with pytest.raises(ConflictError, match="2020-03-01"):
            append_by_day(store, _records([LATE + timedelta(hours=1), LATE]))
        assert store.days() == [date(2020, 3, 1)]
        with pytest.raises(InputError, match="latitude"):
            append_by_day(store, _records([LATE + timedelta(days=3)], lat=123.0))
        assert store.days() == [date(2020, 3, 1)]
        append_by_day(store, _records([LATE, LATE + timedelta(hours=1)]), replace=True)
        assert store.days() == [date(2020, 3, 1), date(2020, 3, 2)]


class TestRecordsCommand:
    def test_append_and_list_days(self, tmp_path: Path) -> None:
        path = tmp_path / "records.csv"
        path.write_text(
            "person_id,latitude,longitude,started_at,finished_at\n"
            "7,37.5,127.0,2020-03-01T23:30:00+09:00,2020-03-02T00:10:00+09:00\n"
            "8,37.5,127.0,2020-03-02T09:00:00+09:00,2020-03-02T10:00:00+09:00\n"
        )
        run = [sys.executable, "-m", "citytrace", "records"]
        done = subprocess.run(
            [*run, "append", str(path)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "2 records on 2 day(s)" in done.stdout
        again = subprocess.run(
            [*run, "append", str(path)], capture_output=True, text=True, check=False
        )
        assert again.returncode == 2 and "already stored" in again.stderr
        listed = subprocess.run([*run, "days"], capture_output=True, text=True, check=True)
        assert "2020-03-01" in listed.stdout and "2020-03-02" in listed.stdout
