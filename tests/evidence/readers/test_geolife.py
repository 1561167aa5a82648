"""GeoLife .plt files generated in the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citytrace.evidence.readers import EvidenceFormatError, EvidenceKind, read_evidence

from .builders import PLT_HEADER, Fix, fixes_of, plt, write

T0 = datetime(2008, 10, 24, 2, 9, 59, tzinfo=UTC)


class TestReadEvidence:
    @pytest.mark.parametrize("line_end", ["\n", "\r\n"])
    def test_data_lines_are_fixes_in_gmt_numbered_by_line(
        self, tmp_path: Path, line_end: str
    ) -> None:
        fixes = [Fix(T0, 40.008304, 116.319876), Fix(T0 + timedelta(seconds=5), 40.008413, 116.3)]
        path = write(tmp_path, "20081024020959.plt", plt(fixes, line_end=line_end))

        read = read_evidence(path)

        assert read.kind is EvidenceKind.GEOLIFE_PLT
        assert fixes_of(read.fixes) == fixes
        assert read.fixes.column("source_index").to_pylist() == [7, 8]
        assert read.issues == ()

    def test_bad_lines_are_skipped_and_named_by_line(self, tmp_path: Path) -> None:
        lines = [
            "40.0,116.3,0,492,39745.09,2008-10-24,02:09:59",
            "40.0,116.3,0,492",
            "",
            "95.0,116.3,0,492,39745.09,2008-10-24,02:10:04",
            "40.0,116.3,0,492,39745.09,2008-10-24,25:00:00",
            "40.0,nan,0,492,39745.09,2008-10-24,02:10:14",
        ]
        path = write(tmp_path, "a.plt", PLT_HEADER + "\n".join(lines))

        read = read_evidence(path, EvidenceKind.GEOLIFE_PLT)

        assert read.fixes.num_rows == 1
        assert [(i.location, i.reason) for i in read.issues] == [
            ("line 8", "4 fields, expected 7"),
            ("line 10", "latitude: latitude outside [-90, 90]"),
            ("line 11", "date and time: not an ISO 8601 date and time"),
            ("line 12", "longitude: longitude is not a number"),
        ]

    def test_a_datum_other_than_wgs84_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path, "a.plt", PLT_HEADER.replace("WGS 84", "Tokyo"))

        with pytest.raises(EvidenceFormatError) as caught:
            read_evidence(path, EvidenceKind.GEOLIFE_PLT)

        assert str(caught.value) == (
            f"{path}, line 2: the header's datum line is not 'WGS 84': not a GeoLife .plt file"
        )

    def test_a_file_that_ends_in_the_header_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path, "a.plt", "\n".join(PLT_HEADER.splitlines()[:4]))

        with pytest.raises(EvidenceFormatError, match="line 4: the file ends inside the 6-line"):
            read_evidence(path, EvidenceKind.GEOLIFE_PLT)
