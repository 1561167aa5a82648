"""Files that are not what they claim to be: each refusal names the file and the position."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citytrace.evidence.readers import EvidenceFormatError, EvidenceKind, read_evidence

from .builders import Fix, card_csv, gpx, iso, records_json, sample, semantic_json, write

T0 = datetime(2020, 3, 2, 3, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


def _refusal(path: Path, kind: EvidenceKind | None = None, **options: object) -> str:
    with pytest.raises(EvidenceFormatError) as caught:
        read_evidence(path, kind, **options)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(str(path))
    return message.removeprefix(str(path))


def _fixes(n: int) -> list[Fix]:
    return [Fix(T0 + timedelta(seconds=i), 37.5, 127.0 + i * 1e-5, 10.0) for i in range(n)]


class TestReadEvidence:
    @pytest.mark.parametrize("kind", [None, *EvidenceKind])
    def test_an_empty_file_is_refused(self, tmp_path: Path, kind: EvidenceKind | None) -> None:
        assert _refusal(write(tmp_path, "empty", b""), kind) == ": file is empty"

    @pytest.mark.parametrize(
        ("kind", "data", "reason"),
        [
            (
                EvidenceKind.GOOGLE_RECORDS,
                gpx(_fixes(1)),
                ", byte 0: invalid JSON (lexical error: invalid char in json text) at byte 0",
            ),
            (
                # "tr" could still begin "true": the JSON breaks at the third byte.
                EvidenceKind.GOOGLE_SEMANTIC,
                card_csv([]),
                ", byte 2: invalid JSON (lexical error: invalid string in json text) at byte 2",
            ),
            (
                EvidenceKind.GOOGLE_TIMELINE,
                PNG,
                ", byte 0: invalid JSON (lexical error: invalid char in json text) at byte 0",
            ),
            (
                EvidenceKind.GPX,
                PNG,
                ", line 1: invalid XML (not well-formed (invalid token)) at line 1, column 1",
            ),
            (EvidenceKind.CARD, PNG, ", line 1: not UTF-8 text (bad byte at column 1)"),
            (
                EvidenceKind.GEOLIFE_PLT,
                card_csv([]),
                ", line 1: the file ends inside the 6-line GeoLife header",
            ),
            (
                EvidenceKind.GOOGLE_RECORDS,
                semantic_json([], _fixes(1)),
                ": no records found (expected locations[])",
            ),
            (
                EvidenceKind.CELL,
                card_csv([]),
                ", line 1: missing required column 'started_at', 'cell_id', 'radius_m' "
                "for a cell file",
            ),
        ],
    )
    def test_a_file_of_another_format_is_refused(
        self, tmp_path: Path, kind: EvidenceKind, data: bytes, reason: str
    ) -> None:
        assert _refusal(write(tmp_path, "upload", data), kind) == reason

    @pytest.mark.parametrize("kind", list(EvidenceKind))
    def test_every_format_accepts_a_byte_order_mark(
        self, tmp_path: Path, kind: EvidenceKind
    ) -> None:
        plain = read_evidence(write(tmp_path, "plain", sample(kind)))
        marked = read_evidence(write(tmp_path, "marked", b"\xef\xbb\xbf" + sample(kind)))

        assert marked.kind is kind
        assert marked.fixes.equals(plain.fixes)
        assert marked.observations.equals(plain.observations)

    def test_truncated_json_names_the_byte_where_it_ends(self, tmp_path: Path) -> None:
        data = records_json(_fixes(3))[:-40]
        path = write(tmp_path, "Records.json", data)

        assert _refusal(path, EvidenceKind.GOOGLE_RECORDS) == (
            f", byte {len(data)}: JSON truncated at byte {len(data)}"
        )

    def test_invalid_json_names_the_exact_byte_even_far_into_the_file(self, tmp_path: Path) -> None:
        data = records_json(_fixes(2000))  # several read buffers long
        offset = data.index(b'"latitudeE7"', 150_000)
        path = write(tmp_path, "Records.json", data[:offset] + b"@" + data[offset:])

        assert _refusal(path, EvidenceKind.GOOGLE_RECORDS) == (
            f", byte {offset}: invalid JSON (lexical error: invalid char in json text) "
            f"at byte {offset}"
        )

    def test_json_error_messages_never_quote_the_file(self, tmp_path: Path) -> None:
        data = b'{"locations": [{"latitudeE7": 375000000, "secret": "Kim", x}]}'
        path = write(tmp_path, "Records.json", data)

        message = _refusal(path, EvidenceKind.GOOGLE_RECORDS)

        assert "Kim" not in message
        assert "375000000" not in message

    @pytest.mark.parametrize("kind", [None, *EvidenceKind])
    def test_a_file_of_only_a_bom_and_white_space_is_empty(
        self, tmp_path: Path, kind: EvidenceKind | None
    ) -> None:
        path = write(tmp_path, "upload", b"\xef\xbb\xbf \r\n")

        assert _refusal(path, kind) == ": file is empty"

    def test_more_bad_records_than_max_issues_refuses_the_file(self, tmp_path: Path) -> None:
        locations = [{"latitudeE7": 1, "longitudeE7": 1, "timestamp": "?"}] * 4
        path = write(tmp_path, "Records.json", json.dumps({"locations": locations}))

        assert _refusal(path, max_issues=2) == (
            ": more than 2 bad records; first: "
            "locations[0].timestamp: not an ISO 8601 date and time; "
            "locations[1].timestamp: not an ISO 8601 date and time; "
            "locations[2].timestamp: not an ISO 8601 date and time"
        )

    def test_max_issues_counts_errors_not_the_records_kept(self, tmp_path: Path) -> None:
        good = {"latitudeE7": 1, "longitudeE7": 1, "timestamp": iso(T0)}
        bad = {**good, "timestamp": "?"}
        path = write(tmp_path, "Records.json", json.dumps({"locations": [good, bad, bad]}))

        read = read_evidence(path, max_issues=2)

        assert (read.fixes.num_rows, read.records_rejected) == (1, 2)
        assert "more than 0 bad records" in _refusal(path, max_issues=0)

    def test_a_file_without_a_valid_record_is_refused(self, tmp_path: Path) -> None:
        locations = [{"latitudeE7": 1, "longitudeE7": 1}]
        path = write(tmp_path, "Records.json", json.dumps({"locations": locations}))

        assert _refusal(path) == (
            ": no valid record (1 rejected); locations[0].timestamp: no timestamp or timestampMs"
        )

    def test_an_unknown_assume_tz_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path, "card.csv", card_csv([]))

        assert _refusal(path, assume_tz="Asia/Seol") == (
            ", assume_tz: unknown time zone 'Asia/Seol'"
        )

    def test_a_folder_is_refused(self, tmp_path: Path) -> None:
        assert "cannot open the file" in _refusal(tmp_path, EvidenceKind.GPX)

    def test_a_negative_max_issues_is_a_programming_error(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="max_issues"):
            read_evidence(write(tmp_path, "a.gpx", gpx(_fixes(1))), max_issues=-1)
