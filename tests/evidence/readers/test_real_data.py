"""The third-party fixtures in ``CITYTRACE_DATA_DIR`` (never copied here), read with the counts and
values checked by hand against each file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from citytrace.evidence.readers import (
    EvidenceFormatError,
    EvidenceKind,
    EvidenceRead,
    detect_kind,
    read_evidence,
)

from .builders import Fix, Visit, fixes_of, visits_of

pytestmark = pytest.mark.realdata

GOOGLE = Path("formats/google_location_history/dawarich")
SCHEMAS = Path("formats/google_location_history/locationhistoryformat_schemas")
TRACKINTEL = Path("trajectories/trackintel")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _warnings(read: EvidenceRead) -> list[str]:
    return [i.reason for i in read.issues if i.severity == "warning"]


class TestReadEvidence:
    def test_records_json(self, data_dir: Path) -> None:
        read = read_evidence(data_dir / GOOGLE / "records.json")

        assert read.kind is EvidenceKind.GOOGLE_RECORDS
        assert fixes_of(read.fixes) == [
            Fix(_at("2012-12-15T14:21:29.460Z"), 53.369055, 83.695001, 150.0),
            Fix(_at("2013-01-04T10:22:43.225Z"), 53.356338, 83.76165, 18000.0),
            Fix(_at("2013-03-01T05:17:39.849Z"), 53.3690589, 83.6951347, 22.0),
        ]
        assert (read.records_read, read.records_rejected, read.issues) == (3, 0, ())

    def test_semantic_history_waypoint_ends_meet_between_segments(self, data_dir: Path) -> None:
        # Three activity segments, each with two waypoints and no startLocation: the first and
        # last waypoints are the positions at the start and end times, and each segment starts
        # where and when the previous one ended, so two of the six fixes are exact duplicates.
        read = read_evidence(data_dir / GOOGLE / "semantic_history.json")

        assert read.kind is EvidenceKind.GOOGLE_SEMANTIC
        assert fixes_of(read.fixes) == [
            Fix(_at("2013-12-01T07:05:14.222Z"), 53.340744, 83.7026901),
            Fix(_at("2013-12-01T07:11:13.214Z"), 53.3410301, 83.705101),
            Fix(_at("2013-12-01T08:25:17.226Z"), 53.3519706, 83.7596359),
            Fix(_at("2013-12-01T09:11:45.637Z"), 53.3481369, 83.7608337),
        ]
        assert read.observations.num_rows == 0
        assert read.records_read == 6
        assert _warnings(read) == ["2 exact duplicate fixes (same time and position) dropped"]

    def test_semantic_history_with_a_byte_order_mark(self, data_dir: Path) -> None:
        path = data_dir / GOOGLE / "edge_cases" / "semantic_history_with_bom.json"

        read = read_evidence(path)

        assert read.kind is EvidenceKind.GOOGLE_SEMANTIC
        assert fixes_of(read.fixes) == [
            Fix(_at("2024-01-01T10:00:00Z"), 60.4518, 22.2666),
            Fix(_at("2024-01-01T10:30:00Z"), 60.4519, 22.2667),
        ]

    def test_android_timeline_phone_takeout(self, data_dir: Path) -> None:
        # dawarich counts "3 duplicates" among its own points, which include the visit and the
        # two undated frequentPlaces at the same spot. As fixes (time + position) the file has
        # none: the two path points share a position but not a time.
        read = read_evidence(data_dir / GOOGLE / "phone-takeout_w_3_duplicates.json")

        assert read.kind is EvidenceKind.GOOGLE_TIMELINE
        assert fixes_of(read.fixes) == [
            Fix(_at("2019-04-03T08:14:00+02:00"), 50.0506312, 14.3439906),
            Fix(_at("2019-04-03T08:46:00+02:00"), 50.0506312, 14.3439906),
            Fix(_at("2024-06-06T11:44:37+01:00"), 48.833657, 2.256223, 13.0),
        ]
        assert visits_of(read.observations) == [
            Visit(
                _at("2019-04-03T08:13:57+02:00"),
                _at("2019-04-03T20:10:18+02:00"),
                50.0506312,
                14.3439906,
                place_id="some random id",
                place_kind="unknown",
                confidence=0.8500000238418579,
            )
        ]
        assert read.issues == ()

    def test_android_timeline_new_format(self, data_dir: Path) -> None:
        read = read_evidence(data_dir / GOOGLE / "timeline_new_format.json")

        assert [(f.tracked_at, f.latitude, f.longitude) for f in fixes_of(read.fixes)] == [
            (_at("2024-06-15T10:00:00+02:00"), 48.8566, 2.3522),  # activity start
            (_at("2024-06-15T10:30:00+02:00"), 48.8606, 2.3376),  # activity end
            (_at("2024-06-15T10:35:00+02:00"), 48.8606, 2.3376),
            (_at("2024-06-15T10:40:00+02:00"), 48.862, 2.335),
            (_at("2024-06-15T09:05:00Z"), 48.8566, 2.3522),  # raw signal
        ]
        (visit,) = visits_of(read.observations)
        assert (visit.place_id, visit.confidence, visit.place_kind) == ("ChIJtest123", 0.95, None)

    def test_ios_location_history_drops_its_three_duplicate_path_points(
        self, data_dir: Path
    ) -> None:
        read = read_evidence(data_dir / GOOGLE / "location-history.json")

        assert read.kind is EvidenceKind.GOOGLE_TIMELINE
        # Second segment: 20:00Z + 49 min; fourth: 22:00Z + 4, 4, 7, 10, 10, 108, 109, 112, 112.
        assert [(f.tracked_at.strftime("%H:%M"), f.latitude) for f in fixes_of(read.fixes)] == [
            ("20:49", 27.720007),
            ("22:04", 27.701123),
            ("22:07", 27.687173),
            ("22:10", 27.686129),
            ("23:48", 27.686129),
            ("23:49", 27.696576),
            ("23:52", 27.709617),
        ]
        assert read.records_read == 11
        assert _warnings(read) == ["3 exact duplicate fixes (same time and position) dropped"]
        assert visits_of(read.observations) == [
            Visit(
                _at("2023-08-27T15:48:56.000-05:00"),
                _at("2023-08-27T17:04:26.999-05:00"),
                27.720022,
                -97.347951,
                place_id="ChIJxxP_Qwb2aIYRTwDNDLkUmD0",
                place_kind="unknown",
                confidence=0.71,
            )
        ]

    def test_ios_timeline_path_offsets(self, data_dir: Path) -> None:
        path = data_dir / GOOGLE / "edge_cases" / "phone_takeout_array_timeline_path.json"

        read = read_evidence(path)

        assert fixes_of(read.fixes) == [
            Fix(_at("2025-07-29T13:01:00Z"), 29.725358, -95.482259),
            Fix(_at("2025-07-29T13:05:00Z"), 29.725688, -95.477992),
            Fix(_at("2025-07-29T16:10:00Z"), 29.732, -95.485),
        ]

    @pytest.mark.parametrize(
        ("name", "table", "time", "degrees"),
        [
            (
                "with_activitySegment_with_startLocation",
                "fixes",
                "2025-03-24T19:07:24Z",
                12.3422222,
            ),
            (
                "with_activitySegment_with_startLocation_timestampMs",
                "fixes",
                "2025-03-24T19:25:02.585Z",
                12.3466666,
            ),
            (
                "with_activitySegment_with_startLocation_timestamp_in_milliseconds_format",
                "fixes",
                "2025-03-24T19:23:52Z",  # ten digits: seconds, whatever the file name says
                12.3455555,
            ),
            (
                "with_activitySegment_with_startLocation_timestamp_in_seconds_format",
                "fixes",
                "2025-03-24T19:25:02.585Z",  # thirteen digits: milliseconds
                12.3444444,
            ),
            (
                "with_activitySegment_with_startLocation_with_iso_timestamp",
                "fixes",
                "2025-03-24T19:20:23Z",
                12.3433333,
            ),
            (
                "with_activitySegment_without_startLocation",
                "fixes",
                "2025-03-24T19:07:24Z",
                12.3411111,
            ),
            (
                "with_placeVisit_with_location_with_coordinates",
                "observations",
                "2025-03-24T19:23:52Z",
                12.3477777,
            ),
            (
                "with_placeVisit_with_location_with_coordinates_with_iso_timestamp",
                "observations",
                "2025-03-24T19:25:02Z",
                12.3488888,
            ),
            (
                "with_placeVisit_with_location_with_coordinates_with_milliseconds_timestamp",
                "observations",
                "2025-03-24T19:25:02.585Z",
                12.3511111,
            ),
            (
                "with_placeVisit_with_location_with_coordinates_with_seconds_timestamp",
                "observations",
                "2025-03-24T19:25:02Z",
                12.3499999,
            ),
            (
                "with_placeVisit_with_location_with_coordinates_with_timestampMs",
                "observations",
                "2025-03-24T19:25:02.585Z",
                12.3522222,
            ),
        ],
    )
    def test_semantic_single_object_variants(
        self, data_dir: Path, name: str, table: str, time: str, degrees: float
    ) -> None:
        read = read_evidence(data_dir / GOOGLE / "location-history" / f"{name}.json")

        rows = getattr(read, table).to_pylist()
        assert len(rows) == 1
        assert read.fixes.num_rows + read.observations.num_rows == 1
        row = rows[0]
        assert row["tracked_at" if table == "fixes" else "started_at"] == _at(time)
        assert (row["latitude"], row["longitude"]) == (degrees, degrees)

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            (
                "with_activitySegment_without_startLocation_without_waypointPath",
                "no records found (expected timelineObjects[] with placeVisit or activitySegment);"
                " timelineObjects[0].activitySegment: no position with a known time; ignored",
            ),
            (
                "with_placeVisit_without_location_with_coordinates",
                "no valid record (1 rejected); timelineObjects[0].placeVisit.location: "
                "no position (location.latitudeE7 or centerLatE7)",
            ),
            (
                # Candidate places are alternatives to an unknown place, not where the visit was.
                "with_placeVisit_without_location_with_coordinates_with_otherCandidateLocations",
                "no valid record (1 rejected); timelineObjects[0].placeVisit.location: "
                "no position (location.latitudeE7 or centerLatE7)",
            ),
        ],
    )
    def test_semantic_variants_without_a_usable_position_are_refused(
        self, data_dir: Path, name: str, reason: str
    ) -> None:
        path = data_dir / GOOGLE / "location-history" / f"{name}.json"

        with pytest.raises(EvidenceFormatError) as caught:
            read_evidence(path)

        assert str(caught.value) == f"{path}: {reason}"

    def test_geolife_plt_from_trackintel(self, data_dir: Path) -> None:
        path = data_dir / TRACKINTEL / "geolife" / "000" / "Trajectory" / "20081024020959.plt"

        read = read_evidence(path)

        assert read.kind is EvidenceKind.GEOLIFE_PLT
        fixes = fixes_of(read.fixes)
        assert len(fixes) == 244
        assert fixes[0] == Fix(_at("2008-10-24T02:09:59Z"), 40.008304, 116.319876)
        assert fixes[-1] == Fix(_at("2008-10-24T02:47:06Z"), 40.009209, 116.321162)
        assert read.fixes.column("source_index")[0].as_py() == 7
        assert read.issues == ()

    def test_geolife_long_from_trackintel_has_every_point(self, data_dir: Path) -> None:
        files = sorted((data_dir / TRACKINTEL / "geolife_long").rglob("*.plt"))

        reads = [read_evidence(path) for path in files]

        assert len(files) == 4
        assert sum(r.fixes.num_rows for r in reads) == 4241
        assert all(r.issues == () for r in reads)


class TestDetectKind:
    @pytest.mark.parametrize(
        "path",
        [
            GOOGLE / "edge_cases" / "device_settings.json",
            GOOGLE / "edge_cases" / "timeline_edits.json",
            SCHEMAS / "Records.schema.json",
            SCHEMAS / "Semantic.schema.json",
        ],
    )
    def test_other_google_files_are_not_evidence(self, data_dir: Path, path: Path) -> None:
        with pytest.raises(EvidenceFormatError, match="JSON of an unknown layout"):
            detect_kind(data_dir / path)
