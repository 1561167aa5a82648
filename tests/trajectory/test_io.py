"""Reading fixes and writing stay points (citytrace.trajectory.io)."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citytrace.errors import InputError
from citytrace.trajectory import generate_staypoints, read_fixes, write_staypoints

UTC = pa.timestamp("us", tz="UTC")
HEADER = "user_id,tracked_at,latitude,longitude\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


class TestReadFixes:
    def test_trackintel_layout_with_space_or_t_and_any_offset(self, tmp_path: Path) -> None:
        path = write(
            tmp_path / "fixes.csv",
            "id,user_id,tracked_at,latitude,longitude,elevation\n"
            "0,0,2008-10-23 02:53:04+00:00,39.984702,116.318417,149.9\n"
            "1,0,2008-10-23T11:53:10+09:00,39.984683,116.31845,149.9\n"
            "2,1,2008-10-23T02:53:15Z,39.984686,116.318417,149.9\n",
        )
        table = read_fixes(path)
        assert table.schema == pa.schema(
            [
                ("user_id", pa.int64()),
                ("tracked_at", UTC),
                ("latitude", pa.float64()),
                ("longitude", pa.float64()),
            ]
        )
        assert table.column("tracked_at").cast(pa.int64()).to_pylist() == [
            1224730384000000,
            1224730390000000,
            1224730395000000,
        ]
        assert table.column("latitude").to_pylist()[1] == 39.984683

    def test_ids_that_are_not_plain_integers_stay_strings(self, tmp_path: Path) -> None:
        text = HEADER + "007,2008-10-23 02:53:04+00:00,1,2\n7,2008-10-23 02:53:05+00:00,1,2\n"
        table = read_fixes(write(tmp_path / "fixes.csv", text))
        assert table.column("user_id").to_pylist() == ["007", "7"]

    def test_byte_order_mark_and_blank_lines(self, tmp_path: Path) -> None:
        text = (
            "\ufeff"
            + HEADER
            + "1,2008-10-23 02:53:04+00:00,1,2\n\n1,2008-10-23 02:53:05+00:00,1,2\n"
        )
        assert read_fixes(write(tmp_path / "fixes.csv", text)).num_rows == 2

    def test_header_only_is_no_fixes(self, tmp_path: Path) -> None:
        assert read_fixes(write(tmp_path / "fixes.csv", HEADER)).num_rows == 0

    @pytest.mark.parametrize("text", ["", "\n", "  \n"])
    def test_an_empty_file_is_refused(self, tmp_path: Path, text: str) -> None:
        with pytest.raises(InputError, match=r"fixes\.csv: file is empty"):
            read_fixes(write(tmp_path / "fixes.csv", text))

    def test_a_missing_column_is_named(self, tmp_path: Path) -> None:
        path = write(
            tmp_path / "fixes.csv", "user_id,tracked_at,latitude\n1,2008-10-23 02:53:04+00:00,1\n"
        )
        with pytest.raises(InputError, match="column 'longitude': is missing"):
            read_fixes(path)

    def test_a_time_without_zone_names_the_line(self, tmp_path: Path) -> None:
        text = HEADER + "1,2008-10-23 02:53:04+00:00,1,2\n" + "\n" + "1,2008-10-23 02:53:05,1,2\n"
        with pytest.raises(InputError, match=r"fixes.csv, line 4: tracked_at has no UTC offset"):
            read_fixes(write(tmp_path / "fixes.csv", text))

    @pytest.mark.parametrize(
        ("bad_line", "message"),
        [
            ("1,yesterday+00:00,1,2", "line 3: tracked_at is not an ISO 8601 time"),
            ("1,2008-10-23 02:53:05+00:00,north,2", "line 3: latitude is not a number"),
            ("1,2008-10-23 02:53:05+00:00,1,", "line 3: longitude is empty"),
            ("1,2008-10-23 02:53:05+00:00,1,200", "line 3: longitude is not a number in -180..180"),
            (",2008-10-23 02:53:05+00:00,1,2", "line 3: user_id is empty"),
            ("1,2008-10-23 02:53:05+00:00,1", "line 3: has 3 fields, the header has 4"),
        ],
    )
    def test_a_bad_line_is_named_without_its_value(
        self, tmp_path: Path, bad_line: str, message: str
    ) -> None:
        text = HEADER + "1,2008-10-23 02:53:04+00:00,1,2\n" + bad_line + "\n"
        with pytest.raises(InputError, match=message) as caught:
            read_fixes(write(tmp_path / "fixes.csv", text))
        assert "north" not in str(caught.value) and "yesterday" not in str(caught.value)

    def test_parquet(self, tmp_path: Path) -> None:
        table = pa.table(
            {
                "user_id": pa.array(["a", "b"]),
                "tracked_at": pa.array([0, 10**9], pa.timestamp("ns", tz="Asia/Seoul")),
                "latitude": [1.0, 2.0],
                "longitude": [3.0, 4.0],
                "extra": [1, 2],
            }
        )
        pq.write_table(table, tmp_path / "fixes.parquet")
        got = read_fixes(tmp_path / "fixes.parquet")
        assert got.column_names == ["user_id", "tracked_at", "latitude", "longitude"]
        assert got.column("tracked_at").type == UTC
        assert got.column("tracked_at").cast(pa.int64()).to_pylist() == [0, 10**6]

    def test_parquet_types_are_normalised(self, tmp_path: Path) -> None:
        table = pa.table(
            {
                "user_id": pa.array([3, 4], pa.int32()),
                "tracked_at": pa.array([0, 1], pa.timestamp("ms", tz="UTC")),
                "latitude": pa.array([1.5, 2.5], pa.float32()),
                "longitude": pa.array([3, 4], pa.int16()),
            }
        )
        pq.write_table(table, tmp_path / "fixes.parquet")
        got = read_fixes(tmp_path / "fixes.parquet")
        assert got.schema == pa.schema(
            [
                ("user_id", pa.int64()),
                ("tracked_at", UTC),
                ("latitude", pa.float64()),
                ("longitude", pa.float64()),
            ]
        )
        assert got.column("tracked_at").cast(pa.int64()).to_pylist() == [0, 1000]

    def test_not_utf8(self, tmp_path: Path) -> None:
        (tmp_path / "fixes.csv").write_bytes(b"\xff\xfeu\x00s\x00")
        with pytest.raises(InputError, match="line 1: is not UTF-8 text"):
            read_fixes(tmp_path / "fixes.csv")

    def test_parquet_problems_name_the_column_or_row(self, tmp_path: Path) -> None:
        naive = pa.table(
            {
                "user_id": [1],
                "tracked_at": pa.array([0], pa.timestamp("us")),
                "latitude": [1.0],
                "longitude": [1.0],
            }
        )
        pq.write_table(naive, tmp_path / "naive.parquet")
        with pytest.raises(InputError, match="column 'tracked_at': has no time zone"):
            read_fixes(tmp_path / "naive.parquet")
        pq.write_table(naive.drop_columns(["latitude"]), tmp_path / "missing.parquet")
        with pytest.raises(InputError, match="column 'latitude': is missing"):
            read_fixes(tmp_path / "missing.parquet")
        bad = naive.set_column(2, "latitude", pa.array([math.nan]))
        bad = bad.set_column(1, "tracked_at", pa.array([0], UTC))
        pq.write_table(bad, tmp_path / "bad.parquet")
        with pytest.raises(InputError, match=r"row 0 .*latitude"):
            read_fixes(tmp_path / "bad.parquet")
        write(tmp_path / "text.parquet", "not parquet")
        with pytest.raises(InputError, match="is not a Parquet file"):
            read_fixes(tmp_path / "text.parquet")

    def test_unknown_extension_and_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="unknown file type"):
            read_fixes(write(tmp_path / "fixes.json", "{}"))
        with pytest.raises(InputError, match="no such file"):
            read_fixes(tmp_path / "absent.csv")

    @settings(max_examples=50, deadline=None)
    @given(
        rows=st.lists(
            st.tuples(
                st.integers(0, 2**40),
                st.integers(-(2**40), 2**40),
                st.floats(-90, 90),
                st.floats(-180, 180),
                st.sampled_from(["+00:00", "+09:00", "-03:30", "Z"]),
                st.sampled_from([" ", "T"]),
            ),
            max_size=20,
        )
    )
    def test_round_trip_of_written_values(
        self, tmp_path_factory: pytest.TempPathFactory, rows: list
    ) -> None:
        import datetime as dt

        lines = [HEADER]
        expected_us = []
        for user, seconds, lat, lon, zone, sep in rows:
            offset = {"+00:00": 0, "Z": 0, "+09:00": 9 * 60, "-03:30": -210}[zone]
            local = dt.datetime(2000, 1, 1) + dt.timedelta(seconds=seconds / 1000)
            text = local.isoformat(sep=sep, timespec="microseconds") + zone
            lines.append(f"{user},{text},{lat!r},{lon!r}\n")
            utc = local - dt.timedelta(minutes=offset)
            expected_us.append((utc - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1))
        path = tmp_path_factory.mktemp("csv") / "fixes.csv"
        table = read_fixes(write(path, "".join(lines)))
        assert table.column("tracked_at").cast(pa.int64()).to_pylist() == expected_us
        assert table.column("latitude").to_pylist() == [r[2] for r in rows]
        assert table.column("longitude").to_pylist() == [r[3] for r in rows]


class TestWriteStaypoints:
    @staticmethod
    def stays() -> pa.Table:
        return pa.table(
            {
                "user_id": pa.array([0, 1], pa.int64()),
                "started_at": pa.array([1224730384000000, 1224730384000001], UTC),
                "finished_at": pa.array([1224731384000000, 1224731384500000], UTC),
                "latitude": [39.98470212345678, 1 / 3],
                "longitude": [116.318417, -0.1],
                "n_fixes": pa.array([3, 4], pa.int64()),
            }
        )

    def test_csv_times_in_iso_8601_with_offset(self, tmp_path: Path) -> None:
        table = self.stays().slice(0, 1)
        write_staypoints(table, tmp_path / "stays.csv")
        lines = (tmp_path / "stays.csv").read_text().splitlines()
        assert lines[0] == "user_id,started_at,finished_at,latitude,longitude,n_fixes"
        assert lines[1] == (
            "0,2008-10-23T02:53:04+00:00,2008-10-23T03:09:44+00:00,39.98470212345678,116.318417,3"
        )

    def test_csv_keeps_microseconds_and_reads_back(self, tmp_path: Path) -> None:
        write_staypoints(self.stays(), tmp_path / "stays.csv")
        text = (tmp_path / "stays.csv").read_text()
        assert "2008-10-23T02:53:04.000001+00:00" in text
        assert "0.3333333333333333" in text

    def test_csv_quotes_only_what_needs_quotes(self, tmp_path: Path) -> None:
        stays = self.stays().set_column(0, "user_id", pa.array(["plain", 'with, comma "q"']))
        write_staypoints(stays, tmp_path / "stays.csv")
        lines = (tmp_path / "stays.csv").read_text().splitlines()
        assert lines[2].startswith('"with, comma ""q""",')
        write_staypoints(stays.slice(0, 1), tmp_path / "stays.csv")
        assert (tmp_path / "stays.csv").read_text().splitlines()[1].startswith("plain,2008")

    def test_parquet_round_trip(self, tmp_path: Path) -> None:
        write_staypoints(self.stays(), tmp_path / "stays.parquet")
        assert pq.read_table(tmp_path / "stays.parquet").equals(self.stays())

    def test_nothing_half_written_on_failure(self, tmp_path: Path) -> None:
        target = tmp_path / "stays.csv"
        target.write_text("old")
        broken = pa.table({"user_id": pa.array([1]), "geometry": pa.array([[1.0]])})
        with pytest.raises(pa.ArrowException):
            write_staypoints(broken, target)
        assert target.read_text() == "old"
        assert [p.name for p in tmp_path.iterdir()] == ["stays.csv"]

    def test_refuses_unknown_extension_or_folder(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="unknown file type"):
            write_staypoints(self.stays(), tmp_path / "stays.txt")
        with pytest.raises(InputError, match="folder does not exist"):
            write_staypoints(self.stays(), tmp_path / "absent" / "stays.csv")

    def test_read_detect_write(self, tmp_path: Path) -> None:
        lines = [HEADER]
        for minute in range(30):
            lat = 40.0 if minute < 20 else 40.0 + 0.01 * minute
            lines.append(
                f"5,2020-03-01T{9 + minute // 60:02d}:{minute % 60:02d}:00+09:00,{lat},127.0\n"
            )
        stays = generate_staypoints(read_fixes(write(tmp_path / "fixes.csv", "".join(lines))))
        write_staypoints(stays, tmp_path / "stays.csv")
        assert (tmp_path / "stays.csv").read_text().splitlines()[1] == (
            "5,2020-03-01T00:00:00+00:00,2020-03-01T00:20:00+00:00,40,127,20"
        )
