"""export_person_evidence: the files a case or an agency hands over."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

from citytrace.synth import SynthCity, export_person_evidence
from tests.synth.conftest import SMALL

DOCUMENTED = {
    "card.csv": [
        "transacted_at",
        "merchant_id",
        "merchant_name",
        "merchant_category",
        "latitude",
        "longitude",
        "address",
        "amount_krw",
    ],
    "cell.csv": ["started_at", "finished_at", "cell_id", "latitude", "longitude", "radius_m"],
    "checkins.csv": [
        "checked_in_at",
        "checked_out_at",
        "venue_id",
        "venue_name",
        "venue_kind",
        "latitude",
        "longitude",
        "address",
    ],
}
LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00$")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


class TestExportPersonEvidence:
    def test_files_in_the_documented_layouts(self, small_city: SynthCity, tmp_path: Path) -> None:
        person = 150  # not among the people with fixes in the city: fixes are made on demand
        paths = export_person_evidence(small_city, person, tmp_path)
        assert [p.name for p in paths] == ["Records.json", "card.csv", "cell.csv", "checkins.csv"]
        for name, columns in DOCUMENTED.items():
            with (tmp_path / name).open(encoding="utf-8") as f:
                assert next(csv.reader(f)) == columns
        cell = _rows(tmp_path / "cell.csv")
        assert cell and all(LOCAL_TIME.match(r["started_at"]) for r in cell)
        card = _rows(tmp_path / "card.csv")
        expected = small_city.card.filter(small_city.card["person_id"].to_numpy() == person)
        assert len(card) == expected.num_rows
        records = json.loads((tmp_path / "Records.json").read_text(encoding="utf-8"))
        locations = records["locations"]
        assert len(locations) > 100
        first = locations[0]
        assert set(first) == {"latitudeE7", "longitudeE7", "accuracy", "timestamp", "source"}
        assert 374_000_000 < first["latitudeE7"] < 377_500_000
        assert first["timestamp"].endswith("Z") and first["source"] == "GPS"
        stamps = [loc["timestamp"] for loc in locations]
        assert stamps == sorted(stamps)

    def test_the_evidence_readers_accept_the_files(
        self, small_city: SynthCity, tmp_path: Path
    ) -> None:
        from citytrace.evidence.readers import read_evidence

        paths = export_person_evidence(small_city, 5, tmp_path)
        kinds = []
        for path in paths:
            read = read_evidence(path)
            assert not read.issues, (path.name, read.issues)
            assert read.records_rejected == 0
            kinds.append(str(read.kind))
        assert kinds == ["google_records", "card", "cell", "checkin"]

    def test_no_file_for_a_kind_without_records(
        self, small_city: SynthCity, tmp_path: Path
    ) -> None:
        # One local day (Seoul): 2020-03-01 00:00 to 24:00 is 2020-02-29 15:00 to 03-01 15:00 UTC.
        lo, hi = datetime(2020, 2, 29, 15, tzinfo=UTC), datetime(2020, 3, 1, 15, tzinfo=UTC)
        checked_in = {
            r["person_id"] for r in small_city.checkins.to_pylist() if lo <= r["checked_in_at"] < hi
        }
        person = next(
            p for p in small_city.people.column("person_id").to_pylist() if p not in checked_in
        )
        day = date(2020, 3, 1)
        names = [
            p.name for p in export_person_evidence(small_city, person, tmp_path, start=day, end=day)
        ]
        assert "checkins.csv" not in names and "cell.csv" in names
        assert not (tmp_path / "checkins.csv").exists()

    def test_window(self, small_city: SynthCity, tmp_path: Path) -> None:
        export_person_evidence(
            small_city.config, 3, tmp_path, start=date(2020, 3, 3), end=date(2020, 3, 4)
        )
        for name, column in (("cell.csv", "started_at"), ("card.csv", "transacted_at")):
            days = {r[column][:10] for r in _rows(tmp_path / name)}
            assert days <= {"2020-03-03", "2020-03-04"}
        locations = json.loads((tmp_path / "Records.json").read_text())["locations"]
        lo = datetime(2020, 3, 2, 15, tzinfo=UTC)
        hi = datetime(2020, 3, 4, 15, tzinfo=UTC)
        for loc in locations:
            at = datetime.fromisoformat(loc["timestamp"].replace("Z", "+00:00"))
            assert lo <= at < hi
        assert SMALL.n_days == 7
