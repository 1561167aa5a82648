"""The record store: appending days, refusing bad ones whole, reading back."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from citytrace.errors import ConflictError, InputError
from citytrace.exposure import KEYED_SCHEMA, RecordStore

UTC_US = pa.timestamp("us", tz="UTC")
# Midnight of 2020-03-02 in Seoul.
SEOUL_MIDNIGHT = datetime(2020, 3, 1, 15, 0, tzinfo=UTC)


def day_records(start: datetime, n: int = 4, person: int = 1) -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array([person + i for i in range(n)], pa.int64()),
            "latitude": [37.5 + i * 1e-3 for i in range(n)],
            "longitude": [127.0] * n,
            "started_at": pa.array([start + timedelta(minutes=10 * i) for i in range(n)], UTC_US),
            "finished_at": pa.array(
                [start + timedelta(minutes=10 * i + 30) for i in range(n)], UTC_US
            ),
        }
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


class TestRecordStore:
    def test_days_follow_the_store_time_zone(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "s")
        # 23:59 and 00:00 in Seoul fall on two days, though both are 2020-03-01 in UTC.
        before = day_records(SEOUL_MIDNIGHT - timedelta(minutes=1), n=1)
        after = day_records(SEOUL_MIDNIGHT, n=1, person=7)
        assert store.append_day(before).day == date(2020, 3, 1)
        assert store.append_day(after).day == date(2020, 3, 2)
        assert store.days() == [date(2020, 3, 1), date(2020, 3, 2)]
        with pytest.raises(InputError, match=r"row 1 .*does not start on 2020-03-02"):
            store.append_day(pa.concat_tables([after, before]), day=date(2020, 3, 2), replace=True)

    def test_append_reopen_read(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "s", timezone="UTC")
        stats = store.append_day(day_records(datetime(2020, 3, 1, 9, tzinfo=UTC)))
        assert stats.rows == 4 and stats.level_duration_us == {0: 30 * 60_000_000}
        again = RecordStore(tmp_path / "s")
        assert again.timezone == "UTC" and again.num_rows == 4
        table = again.read()
        assert table.schema.remove_metadata() == KEYED_SCHEMA
        with pytest.raises(InputError, match="days are in UTC, not Asia/Seoul"):
            RecordStore(tmp_path / "s", timezone="Asia/Seoul")

    def test_a_stored_day_is_refused_or_replaced(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "s", timezone="UTC")
        first = day_records(datetime(2020, 3, 1, 9, tzinfo=UTC))
        store.append_day(first)
        with pytest.raises(ConflictError, match="already stored"):
            store.append_day(first)
        store.append_day(first.slice(0, 2), replace=True)
        assert store.num_rows == 2
        assert store.delete_day(date(2020, 3, 1)) and store.days() == []

    def test_a_bad_day_leaves_the_store_as_it_was(self, tmp_path: Path) -> None:
        store = RecordStore(tmp_path / "s", timezone="UTC")
        store.append_day(day_records(datetime(2020, 3, 1, 9, tzinfo=UTC)))
        before = snapshot(tmp_path / "s")
        bad = day_records(datetime(2020, 3, 1, 9, tzinfo=UTC), n=6)
        bad = pa.concat_tables([bad, bad.slice(2, 1)])  # a duplicate row
        with pytest.raises(InputError, match=r"row 6 \(counting from 0\): repeats"):
            store.append_day(bad, replace=True)
        wrong = day_records(datetime(2020, 3, 2, 9, tzinfo=UTC)).drop_columns(["latitude"])
        with pytest.raises(InputError, match="column 'latitude'"):
            store.append_day(wrong)
        text_ids = day_records(datetime(2020, 3, 2, 9, tzinfo=UTC)).set_column(
            0, "person_id", pa.array(["a", "b", "c", "d"])
        )
        with pytest.raises(InputError, match="must hold integers in a record store"):
            store.append_day(text_ids)
        assert snapshot(tmp_path / "s") == before

    def test_a_failed_write_leaves_no_trace(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store = RecordStore(tmp_path / "s", timezone="UTC")
        store.append_day(day_records(datetime(2020, 3, 1, 9, tzinfo=UTC)))
        before = snapshot(tmp_path / "s")

        def fail(*args: object, **kwargs: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(os, "replace", fail)
        with pytest.raises(OSError, match="disk full"):
            store.append_day(day_records(datetime(2020, 3, 1, 9, tzinfo=UTC), n=2), replace=True)
        assert snapshot(tmp_path / "s") == before

    def test_a_folder_of_other_things_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "notes.txt").write_text("x")
        with pytest.raises(InputError, match="is not a record store"):
            RecordStore(tmp_path)
        with pytest.raises(InputError, match="is not a record store"):
            RecordStore.open(tmp_path / "missing")
