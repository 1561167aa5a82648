"""GPX files generated in the test: tracks, routes, waypoints, namespaces, bad points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citytrace.evidence.readers import EvidenceFormatError, EvidenceKind, read_evidence

from .builders import Fix, fixes_of, gpx, write

T0 = datetime(2020, 3, 2, 3, 0, 0, 123456, tzinfo=UTC)


def _track(n: int) -> list[Fix]:
    return [Fix(T0 + timedelta(seconds=i), 37.5 + i * 1e-5, 127.0 - i * 1e-5) for i in range(n)]


class TestReadEvidence:
    @pytest.mark.parametrize(
        ("namespace", "prefix"),
        [
            ("http://www.topografix.com/GPX/1/1", ""),
            ("http://www.topografix.com/GPX/1/0", ""),
            ("http://www.topografix.com/GPX/1/1", "g"),
            (None, ""),
        ],
    )
    def test_track_points_are_fixes_in_any_namespace(
        self, tmp_path: Path, namespace: str | None, prefix: str
    ) -> None:
        track = _track(3)
        path = write(tmp_path, "walk.gpx", gpx(track, namespace=namespace, prefix=prefix))

        read = read_evidence(path)

        assert read.kind is EvidenceKind.GPX
        assert fixes_of(read.fixes) == track
        assert read.fixes.column("source_index").to_pylist() == [0, 1, 2]
        assert read.issues == ()

    def test_timed_waypoints_and_route_points_are_fixes_too(self, tmp_path: Path) -> None:
        track = _track(4)
        path = write(tmp_path, "a.gpx", gpx(track[2:], waypoints=track[:1], route=track[1:2]))

        assert fixes_of(read_evidence(path).fixes) == track

    def test_untimed_route_points_and_waypoints_are_counted_in_one_warning(
        self, tmp_path: Path
    ) -> None:
        data = gpx(_track(1)).replace(
            b"<trk>",
            b'<wpt lat="1" lon="2"><name>home</name></wpt>'
            b'<rte><rtept lat="1" lon="2"/><rtept lat="3" lon="4"/></rte><trk>',
        )
        path = write(tmp_path, "a.gpx", data)

        read = read_evidence(path)

        assert read.fixes.num_rows == 1
        assert [(i.location, i.reason, i.severity) for i in read.issues] == [
            ("gpx", "3 route points or waypoints without <time> skipped", "warning")
        ]

    def test_bad_track_points_are_skipped_and_named_by_their_path(self, tmp_path: Path) -> None:
        good = _track(1)[0]
        data = gpx([good]).replace(
            b"</trkseg>",
            b'<trkpt lat="1" lon="2"/>'
            b'<trkpt lat="91" lon="2"><time>2020-03-02T03:00:00Z</time></trkpt>'
            b'<trkpt lat="1" lon="east"><time>2020-03-02T03:00:00Z</time></trkpt>'
            b'<trkpt lat="1" lon="2"><time>noon</time></trkpt>'
            b"</trkseg><trkseg>"
            b'<trkpt lat="NaN" lon="2"><time>2020-03-02T03:00:00Z</time></trkpt>'
            b"</trkseg>",
        )
        path = write(tmp_path, "a.gpx", data)

        read = read_evidence(path)

        assert fixes_of(read.fixes) == [good]
        assert [(i.location, i.reason) for i in read.issues] == [
            ("trk[0].trkseg[0].trkpt[1].time", "missing or not a text time"),
            ("trk[0].trkseg[0].trkpt[2].lat", "latitude outside [-90, 90]"),
            ("trk[0].trkseg[0].trkpt[3].lon", "missing or not a number"),
            ("trk[0].trkseg[0].trkpt[4].time", "not an ISO 8601 date and time"),
            ("trk[0].trkseg[1].trkpt[0].lat", "latitude is not a number"),
        ]
        assert (read.records_read, read.records_rejected) == (6, 5)

    def test_a_time_without_zone_is_utc_as_gpx_defines(self, tmp_path: Path) -> None:
        data = gpx(_track(1)).replace(b"123456Z</time>", b"123456</time>")
        path = write(tmp_path, "a.gpx", data)

        assert fixes_of(read_evidence(path, assume_tz="Asia/Seoul").fixes) == _track(1)

    def test_a_long_track_is_read_in_full(self, tmp_path: Path) -> None:
        # More points than the pruning batch, over two segments.
        track = _track(1500)
        path = write(tmp_path, "long.gpx", gpx(track, segment_size=700))

        read = read_evidence(path)

        assert read.fixes.num_rows == 1500
        assert read.fixes.column("source_index").to_pylist() == list(range(1500))

    def test_a_root_other_than_gpx_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path, "a.gpx", b'<?xml version="1.0"?>\n<kml><trkpt/></kml>')

        with pytest.raises(EvidenceFormatError, match="the root element is not <gpx>"):
            read_evidence(path, EvidenceKind.GPX)

    def test_entity_declarations_are_refused(self, tmp_path: Path) -> None:
        bomb = (
            b'<?xml version="1.0"?>\n<!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<gpx>&b;</gpx>'
        )
        path = write(tmp_path, "bomb.gpx", bomb)

        with pytest.raises(EvidenceFormatError) as caught:
            read_evidence(path, EvidenceKind.GPX)

        assert str(caught.value) == (
            f"{path}: XML with a DTD, entities or external references is not accepted"
        )

    def test_an_unknown_declared_encoding_is_refused(self, tmp_path: Path) -> None:
        data = gpx(_track(1)).replace(b'encoding="UTF-8"', b'encoding="UTF-9"')
        path = write(tmp_path, "a.gpx", data)

        with pytest.raises(EvidenceFormatError, match="line 1: the XML declares an unknown enc"):
            read_evidence(path, EvidenceKind.GPX)

    def test_invalid_xml_names_line_and_column(self, tmp_path: Path) -> None:
        data = gpx(_track(2)).replace(b"</trkpt>\n<trkpt", b"</trkpt>\n<trkpt <", 1)
        path = write(tmp_path, "a.gpx", data)
        line = data.split(b"<trkpt <")[0].count(b"\n") + 1

        with pytest.raises(EvidenceFormatError) as caught:
            read_evidence(path)

        assert caught.value.location == f"line {line}"
        assert str(caught.value) == (
            f"{path}, line {line}: invalid XML (not well-formed (invalid token)) "
            f"at line {line}, column 8"
        )
