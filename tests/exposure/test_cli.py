"""`citytrace exposures`, run as a user runs it, and its files."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from citytrace.cli.exposures import exposures
from citytrace.errors import InputError
from citytrace.exposure import RecordStore
from citytrace.exposure.io import RECORD_FILE_COLUMNS, read_table

VISITS_CSV = """case_id,latitude,longitude,started_at,finished_at
C2,37.5700,126.9800,2020-03-01T23:30:00+09:00,2020-03-02T01:00:00+09:00
C1,37.5665,126.9780,2020-03-01T12:00:00+09:00,2020-03-01T13:00:00+09:00
"""
RECORDS_CSV = """Person_ID , latitude,longitude,started_at,finished_at,kind,place_kind,note
1,37.5665,126.9780,2020-03-01T12:30:00+09:00,2020-03-01T14:00:00+09:00,checkin,,x

2,37.56655,126.9780,2020-03-01T12:50:00+09:00,,card,cafe,
3,37.5700,126.9801,2020-03-02T00:00:00+09:00,2020-03-02T00:20:00+09:00,visit,,
4,37.6,127.0,2020-03-01T12:00:00+09:00,2020-03-01T13:00:00+09:00,visit,,
"""
EXPECTED = [
    {
        "case_id": "C1",
        "person_id": "1",
        "first_contact_at": "2020-03-01T03:30:00+00:00",
        "last_contact_at": "2020-03-01T04:00:00+00:00",
        "max_overlap_min": "30",
        "min_distance_m": "0",
        "evidence_kinds": "checkin",
        "n_contacts": "1",
        "risk_class": "close",
    },
    {
        "case_id": "C2",
        "person_id": "3",
        "first_contact_at": "2020-03-01T15:00:00+00:00",
        "last_contact_at": "2020-03-01T15:20:00+00:00",
        "max_overlap_min": "20",
        "min_distance_m": "8.813410026993877",
        "evidence_kinds": "visit",
        "n_contacts": "1",
        "risk_class": "casual",
    },
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citytrace", "exposures", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    visits = tmp_path / "visits.csv"
    visits.write_text(VISITS_CSV)
    records = tmp_path / "records.csv"
    records.write_text(RECORDS_CSV)
    return visits, records


def call(visits: Path, records: Path, output: Path, **options: str) -> None:
    exposures(case_visits=visits, records=records, output=output, **options)


class TestExposuresCommand:
    def test_csv_in_csv_out(self, files: tuple[Path, Path], tmp_path: Path) -> None:
        visits, records = files
        out = tmp_path / "contacts.csv"
        options = ["--distance-m", "20", "--min-overlap-min", "15", "--output", str(out)]
        done = run("--case-visits", str(visits), "--records", str(records), *options)
        assert done.returncode == 0, done.stderr
        assert "2 contacts (1 close) of 2 cases" in done.stdout
        with out.open() as f:
            assert list(csv.DictReader(f)) == EXPECTED

    def test_errors_are_one_line_and_write_nothing(
        self, files: tuple[Path, Path], tmp_path: Path
    ) -> None:
        visits, records = files
        out = tmp_path / "contacts.csv"
        out.write_text("earlier results\n")
        unknown = run("--case-visits", str(visits), "--records", str(records),
                      "--output", str(out), "--engine", "hadoop")  # fmt: skip
        assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
        assert "option --engine: unknown engine 'hadoop'" in unknown.stderr
        backwards = RECORDS_CSV.replace("2020-03-01T14:00:00+09:00", "2020-03-01T11:00+09:00")
        records.write_text(backwards)
        with pytest.raises(InputError, match=r"records\.csv, line 2: finished_at is before"):
            call(visits, records, out)
        assert out.read_text() == "earlier results\n"

    def test_parquet_and_a_record_store(self, files: tuple[Path, Path], tmp_path: Path) -> None:
        visits, records = files
        table, _ = read_table(records, RECORD_FILE_COLUMNS)
        store = RecordStore(tmp_path / "store")
        for day in ("2020-03-01", "2020-03-02"):
            seoul = table.column("started_at").cast(pa.timestamp("us", tz="Asia/Seoul"))
            local = pa.compute.strftime(seoul, format="%Y-%m-%d")
            store.append_day(table.filter(pa.compute.equal(local, day)))
        out = tmp_path / "contacts.parquet"
        for engine in ("duckdb", "index", "brute"):
            call(visits, tmp_path / "store", out, engine=engine)
            got = pq.read_table(out)
            assert got.column("person_id").to_pylist() == [1, 3], engine
            assert got.column("first_contact_at").type == pa.timestamp("us", tz="UTC")

    def test_postgres_engine(
        self, files: tuple[Path, Path], tmp_path: Path, database_url: str
    ) -> None:
        visits, records = files
        out = tmp_path / "contacts.csv"
        call(visits, records, out, engine="postgres", database_url=database_url)
        with out.open() as f:
            assert list(csv.DictReader(f)) == EXPECTED

    @pytest.mark.parametrize(
        ("records_text", "message"),
        [
            ("user_id,tracked_at,latitude,longitude\n1,2020-03-01T00:00:00Z,37,127\n",
             "records.csv, column 'person_id': is missing"),
            ("person_id,latitude,longitude,started_at\n1,37.5,127,2020-03-01T12:00:00\n",
             "records.csv, line 2: started_at is not an ISO 8601 time with a UTC offset"),
            ("person_id,latitude,longitude,started_at\n1,37.5,east,2020-03-01T12:00:00Z\n",
             "records.csv, line 2: longitude is not a number"),
            ("person_id,latitude,longitude,started_at\n1,37.5,127,2020-13-45T12:00:00Z\n",
             "records.csv, line 2: started_at is not an ISO 8601 time"),
            ("person_id,latitude,longitude,started_at\n1,137.5,127,2020-03-01T12:00:00Z\n",
             "records.csv, line 2: latitude is outside -90..90"),
            ("person_id,latitude,longitude,started_at\n1,,127,2020-03-01T12:00:00Z\n",
             "records.csv, line 2: latitude is empty"),
            ("person_id,latitude,longitude,started_at\n1,37.5,127,2020-03-01T12:00:00Z\n\n"
             "1,37.5,127,2020-03-01T12:00:00Z\n",
             "records.csv, line 4: repeats an earlier row"),
            ("person_id,latitude,longitude,started_at\n1,37.5,127,2020-03-01T12:00:00Z,9\n",
             "records.csv, line 2: has 5 fields, the header has 4"),
            ("", "records.csv: file is empty"),
        ],
    )  # fmt: skip
    def test_bad_records_name_the_line(
        self, files: tuple[Path, Path], tmp_path: Path, records_text: str, message: str
    ) -> None:
        visits, records = files
        records.write_text(records_text)
        with pytest.raises(InputError) as caught:
            call(visits, records, tmp_path / "out.csv")
        assert message in str(caught.value)
        assert not (tmp_path / "out.csv").exists()

    def test_bad_options_are_named(self, files: tuple[Path, Path], tmp_path: Path) -> None:
        visits, records = files
        cases = [
            ({"distance_m": "-1"}, "option --distance-m: must be a finite number"),
            ({"min_overlap_min": "soon"}, "option --min-overlap-min: is not a number"),
            ({"engine": "postgres"}, "option --database-url"),
        ]
        for options, message in cases:
            with pytest.raises(InputError, match=message):
                call(visits, records, tmp_path / "out.csv", **options)
        with pytest.raises(InputError, match="unknown file type"):
            call(visits, records, tmp_path / "out.json")
        with pytest.raises(InputError, match="folder does not exist"):
            call(visits, records, tmp_path / "missing" / "out.csv")
        with pytest.raises(InputError, match="is not a record store"):
            call(visits, tmp_path, tmp_path / "out.csv")
        with pytest.raises(InputError, match="option --case-visits: is required"):
            exposures(records=records, output=tmp_path / "out.csv")
