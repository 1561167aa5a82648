"""Card, cell and check-in CSV files generated in the test (layouts of evidence-formats.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from citytrace.evidence.readers import (
    OBSERVATION_SCHEMA,
    EvidenceFormatError,
    EvidenceKind,
    EvidenceRead,
    read_evidence,
)

from .builders import Visit, card_csv, cell_csv, checkin_csv, csv_bytes, visits_of, write

SEOUL = timezone(timedelta(hours=9))
T0 = datetime(2020, 3, 2, 12, 0, tzinfo=SEOUL)
CAFE = (37.5665, 126.978)


def _issues(read: EvidenceRead) -> list[tuple[str, str]]:
    return [(i.location, i.reason) for i in read.issues]


class TestReadEvidence:
    def test_card_rows_are_point_observations_at_the_merchant(self, tmp_path: Path) -> None:
        visit = Visit(
            T0,
            None,
            *CAFE,
            place_id="M-001",
            place_name='Cafe "Bom", 2F',
            place_kind="cafe",
            address="1 Sejong-daero",
        )
        path = write(tmp_path, "card.csv", card_csv([visit]))

        read = read_evidence(path)

        assert read.kind is EvidenceKind.CARD
        assert read.observations.schema == OBSERVATION_SCHEMA
        assert visits_of(read.observations) == [Visit(**{**visit.__dict__, "started_at": T0})]
        assert read.observations.column("kind").to_pylist() == ["card"]
        assert read.observations.column("source_index").to_pylist() == [2]
        assert read.fixes.num_rows == 0

    def test_cell_rows_have_a_radius_and_an_optional_end(self, tmp_path: Path) -> None:
        seen = [
            Visit(T0, T0 + timedelta(minutes=20), *CAFE, place_id="450-05-1", radius_m=350.0),
            Visit(T0 + timedelta(hours=1), None, *CAFE, place_id="450-05-2", radius_m=1200.0),
        ]
        path = write(tmp_path, "cell.csv", cell_csv(seen))

        read = read_evidence(path)

        assert read.kind is EvidenceKind.CELL
        assert visits_of(read.observations) == seen

    def test_checkin_rows_lowercase_the_venue_kind(self, tmp_path: Path) -> None:
        visit = Visit(
            T0,
            T0 + timedelta(hours=2),
            *CAFE,
            place_id="V-9",
            place_name="Star Karaoke",
            place_kind="Karaoke",
        )
        path = write(tmp_path, "checkin.csv", checkin_csv([visit]))

        (got,) = visits_of(read_evidence(path).observations)

        assert got == Visit(**{**visit.__dict__, "place_kind": "karaoke"})

    def test_bom_any_column_order_unknown_columns_and_odd_header_case(self, tmp_path: Path) -> None:
        data = csv_bytes(
            [" Longitude", "note", "MERCHANT_ID", "transacted_at", "latitude "],
            [["126.978", "ignored", "M-1", T0.isoformat(), "37.5665"]],
            bom=True,
        )
        path = write(tmp_path, "card.csv", data)

        (got,) = visits_of(read_evidence(path).observations)

        assert (got.started_at, got.latitude, got.longitude, got.place_id) == (T0, *CAFE, "M-1")

    def test_bad_rows_are_skipped_and_named_by_line_and_column(self, tmp_path: Path) -> None:
        header = ["cell_id", "started_at", "finished_at", "latitude", "longitude", "radius_m"]
        t, t_early = T0.isoformat(), (T0 - timedelta(1)).isoformat()
        rows = [
            ["c1", t, "", "37.5", "127.0", "300"],
            ["c2", "2020-03-02 12:00:00", "", "37.5", "127.0", "300"],
            ["c3", "2020-03-02", "", "37.5", "127.0", "300"],
            ["c4", t, t_early, "37.5", "127.0", "300"],
            ["", t, "", "37.5", "127.0", "300"],
            ["c6", t, "", "nan", "127.0", "300"],
            ["c7", t, "", "37.5", "181", "300"],
            ["c8", t, "", "37.5", "127.0", "-1"],
            ["c9", t, "", "37.5", "127.0", ""],
            ["c10", t, "", "37.5", "127.0", "300", "extra"],
            [],
            ["c12", t],
        ]
        path = write(tmp_path, "cell.csv", csv_bytes(header, rows))

        read = read_evidence(path, EvidenceKind.CELL)

        assert read.observations.column("place_id").to_pylist() == ["c1"]
        assert (read.records_read, read.records_rejected) == (11, 10)
        assert _issues(read) == [
            ("line 3", "started_at: time has no UTC offset (give assume_tz to read it)"),
            ("line 4", "started_at: not an ISO 8601 date and time"),
            ("line 5", "finished_at: finished before it started"),
            ("line 6", "cell_id: empty"),
            ("line 7", "latitude: latitude is not a number"),
            ("line 8", "longitude: longitude outside [-180, 180]"),
            ("line 9", "radius_m: not a finite number of metres >= 0"),
            ("line 10", "radius_m: empty"),
            ("line 11", "7 fields, the header has 6"),
            ("line 13", "latitude: missing or not a number"),
        ]

    def test_times_without_offset_are_read_in_assume_tz(self, tmp_path: Path) -> None:
        data = csv_bytes(
            ["transacted_at", "merchant_id", "latitude", "longitude"],
            [["2020-03-02 12:00:00", "M-1", "37.5", "127.0"]],
        )
        path = write(tmp_path, "card.csv", data)

        read = read_evidence(path, EvidenceKind.CARD, assume_tz="Asia/Seoul")

        assert read.observations.column("started_at").to_pylist() == [T0.astimezone(UTC)]

    def test_a_quoted_field_over_several_lines_keeps_line_numbers(self, tmp_path: Path) -> None:
        data = csv_bytes(
            ["transacted_at", "merchant_id", "merchant_name", "latitude", "longitude"],
            [
                [T0.isoformat(), "M-1", "two\nlines", "37.5", "127.0"],
                [T0.isoformat(), "M-2", "x", "95", "127.0"],
            ],
        )
        path = write(tmp_path, "card.csv", data)

        read = read_evidence(path, EvidenceKind.CARD)

        assert read.observations.column("place_name").to_pylist() == ["two\nlines"]
        assert _issues(read) == [("line 4", "latitude: latitude outside [-90, 90]")]

    @pytest.mark.parametrize(
        ("kind", "header", "missing"),
        [
            (EvidenceKind.CARD, "transacted_at,latitude,longitude", "'merchant_id'"),
            (EvidenceKind.CELL, "cell_id,started_at,latitude,longitude", "'radius_m'"),
            (EvidenceKind.CHECKIN, "venue_id,latitude", "'checked_in_at', 'longitude'"),
        ],
    )
    def test_a_missing_required_column_is_named(
        self, tmp_path: Path, kind: EvidenceKind, header: str, missing: str
    ) -> None:
        path = write(tmp_path, "x.csv", header + "\r\n")

        with pytest.raises(EvidenceFormatError) as caught:
            read_evidence(path, kind)

        assert str(caught.value) == (
            f"{path}, line 1: missing required column {missing} for a {kind.value} file"
        )

    def test_a_column_named_twice_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path, "x.csv", "venue_id,checked_in_at,latitude,Latitude,longitude\n")

        with pytest.raises(EvidenceFormatError, match="line 1: column 'latitude' appears twice"):
            read_evidence(path, EvidenceKind.CHECKIN)
