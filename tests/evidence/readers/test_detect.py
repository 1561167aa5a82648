"""Format detection from content, with the file name as a hint only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citytrace.evidence.readers import EvidenceFormatError, EvidenceKind, detect_kind

from .builders import Fix, Visit, records_json, sample, timeline_ios, write

T0 = datetime(2020, 3, 2, 3, 0, tzinfo=UTC)
FIX = Fix(T0, 37.5, 127.0)
VISIT = Visit(T0, None, 37.5, 127.0, place_id="p", radius_m=10.0)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


class TestDetectKind:
    @pytest.mark.parametrize("kind", list(EvidenceKind))
    def test_each_format_is_told_by_content_whatever_the_name(
        self, tmp_path: Path, kind: EvidenceKind
    ) -> None:
        path = write(tmp_path, "upload.bin", sample(kind))

        assert detect_kind(path) is kind

    @pytest.mark.parametrize("kind", list(EvidenceKind))
    def test_a_byte_order_mark_and_leading_space_do_not_matter(
        self, tmp_path: Path, kind: EvidenceKind
    ) -> None:
        path = write(tmp_path, "upload", b"\xef\xbb\xbf \r\n" + sample(kind))

        assert detect_kind(path) is kind

    def test_ios_timeline_is_told_by_its_first_segment(self, tmp_path: Path) -> None:
        path = write(tmp_path, "export.json", timeline_ios([VISIT]))

        assert detect_kind(path) is EvidenceKind.GOOGLE_TIMELINE

    def test_a_misleading_extension_loses_to_content(self, tmp_path: Path) -> None:
        path = write(tmp_path, "track.gpx", records_json([FIX]))

        assert detect_kind(path) is EvidenceKind.GOOGLE_RECORDS

    def test_the_name_decides_when_the_content_is_not_conclusive(self, tmp_path: Path) -> None:
        # Records.json whose first key is not 'locations' and whose head ends inside it.
        body = b'{"other": "' + b"x" * 70_000 + b'", "locations": []}'
        path = write(tmp_path, "Records.json", body)

        assert detect_kind(path) is EvidenceKind.GOOGLE_RECORDS
        with pytest.raises(EvidenceFormatError, match="JSON of an unknown layout"):
            detect_kind(write(tmp_path, "other.json", body))

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (b"", "file is empty"),
            (b"\xef\xbb\xbf  \n", "file is empty"),
            (PNG, "not a known evidence format (binary content)"),
            (json.dumps({"deviceSettings": []}).encode(), "JSON of an unknown layout"),
            (b"[]", "JSON of an unknown layout"),
            (b'<?xml version="1.0"?><kml/>', "XML without a <gpx> root"),
            (b"name,latitude,longitude\n", "neither a GeoLife .plt file nor a card, cell"),
        ],
    )
    def test_unknown_content_is_refused_naming_the_file(
        self, tmp_path: Path, data: bytes, reason: str
    ) -> None:
        path = write(tmp_path, "upload.json", data)

        with pytest.raises(EvidenceFormatError) as caught:
            detect_kind(path)

        assert str(caught.value).startswith(f"{path}: ")
        assert reason in str(caught.value)

    def test_a_missing_file_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "gone.json"

        with pytest.raises(EvidenceFormatError, match="cannot open the file"):
            detect_kind(path)
