"""Google location history read from files generated in the test: Records, Semantic, Timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from citytrace.evidence.readers import (
    FIX_SCHEMA,
    OBSERVATION_SCHEMA,
    EvidenceFormatError,
    EvidenceKind,
    EvidenceRead,
    read_evidence,
)

from .builders import (
    Fix,
    Visit,
    e7,
    epoch_ms,
    fixes_of,
    iso,
    records_json,
    semantic_json,
    timeline_android,
    timeline_ios,
    visits_of,
    write,
)

T0 = datetime(2020, 3, 2, 3, 0, tzinfo=UTC)
SEOUL = timezone(timedelta(hours=9))
CAFE = (37.5665, 126.978)
GYM = (37.57, 126.99)
SYDNEY = (-33.8688, 151.2093)
LIMA = (-12.0464, -77.0428)


def _errors(read: EvidenceRead) -> list[tuple[str, str]]:
    return [(i.location, i.reason) for i in read.issues if i.severity == "error"]


def _warnings(read: EvidenceRead) -> list[tuple[str, str]]:
    return [(i.location, i.reason) for i in read.issues if i.severity == "warning"]


class TestReadEvidenceRecords:
    def test_reads_each_location_as_a_fix_with_accuracy(self, tmp_path: Path) -> None:
        fixes = [Fix(T0, *CAFE, 15.0), Fix(T0 + timedelta(minutes=1), *GYM, None)]
        path = write(tmp_path, "Records.json", records_json(fixes))

        read = read_evidence(path, EvidenceKind.GOOGLE_RECORDS)

        assert read.kind is EvidenceKind.GOOGLE_RECORDS
        assert read.fixes.schema == FIX_SCHEMA
        assert read.observations.schema == OBSERVATION_SCHEMA
        assert read.observations.num_rows == 0
        assert fixes_of(read.fixes) == fixes
        assert read.fixes.column("source_index").to_pylist() == [0, 1]
        assert (read.records_read, read.records_rejected, read.issues) == (2, 0, ())

    def test_legacy_timestamp_ms_is_epoch_milliseconds(self, tmp_path: Path) -> None:
        fixes = [Fix(T0 + timedelta(milliseconds=123), *CAFE)]
        path = write(tmp_path, "Records.json", records_json(fixes, legacy_ms=True))

        assert fixes_of(read_evidence(path).fixes) == fixes

    def test_negative_e7_values_in_int32_overflow_form_are_unwrapped(self, tmp_path: Path) -> None:
        fixes = [Fix(T0, *SYDNEY), Fix(T0 + timedelta(seconds=1), *LIMA)]
        path = write(tmp_path, "Records.json", records_json(fixes, wrap_negative=True))

        read = read_evidence(path)

        assert read.fixes.column("latitude").to_pylist() == [SYDNEY[0], LIMA[0]]
        assert read.fixes.column("longitude").to_pylist() == [SYDNEY[1], LIMA[1]]

    def test_out_of_order_records_are_sorted_with_one_warning(self, tmp_path: Path) -> None:
        late, early = Fix(T0 + timedelta(hours=1), *GYM), Fix(T0, *CAFE)
        path = write(tmp_path, "Records.json", records_json([late, early, late]))

        read = read_evidence(path)

        assert fixes_of(read.fixes) == [early, late]
        assert read.fixes.column("source_index").to_pylist() == [1, 0]
        assert _warnings(read) == [
            (
                "fixes",
                "1 fixes were earlier than the fix before them; all fixes are sorted by time",
            ),
            ("fixes", "1 exact duplicate fixes (same time and position) dropped"),
        ]

    def test_exact_duplicates_are_dropped_but_not_same_time_elsewhere(self, tmp_path: Path) -> None:
        here, there = Fix(T0, *CAFE, 5.0), Fix(T0, *GYM, 5.0)
        path = write(tmp_path, "Records.json", records_json([here, here, there, here]))

        read = read_evidence(path)

        assert sorted(fixes_of(read.fixes), key=lambda f: f.latitude) == [here, there]
        assert read.records_read == 4
        assert _warnings(read) == [
            ("fixes", "2 exact duplicate fixes (same time and position) dropped")
        ]

    def test_bad_records_are_skipped_and_named_by_index_and_field(self, tmp_path: Path) -> None:
        good = {"latitudeE7": e7(CAFE[0]), "longitudeE7": e7(CAFE[1]), "timestamp": iso(T0)}
        locations = [
            good,
            {**good, "timestamp": "yesterday"},
            {k: v for k, v in good.items() if k != "timestamp"},
            {**good, "latitudeE7": 910_000_000 - 2**32},
            {**good, "longitudeE7": "1269780000"},
            {**good, "accuracy": -3},
            {**good, "timestamp": "2020-03-02T12:00:00"},
            [1, 2],
        ]
        path = write(tmp_path, "Records.json", json.dumps({"locations": locations}))

        read = read_evidence(path)

        assert read.fixes.num_rows == 1
        assert (read.records_read, read.records_rejected) == (8, 7)
        assert _errors(read) == [
            ("locations[1].timestamp", "not an ISO 8601 date and time"),
            ("locations[2].timestamp", "no timestamp or timestampMs"),
            ("locations[3].latitudeE7", "latitude outside [-90, 90]"),
            ("locations[4].longitudeE7", "missing or not an integer"),
            ("locations[5].accuracy", "not a finite number of metres >= 0"),
            ("locations[6].timestamp", "time has no UTC offset (give assume_tz to read it)"),
            ("locations[7]", "not a JSON object"),
        ]
        assert all(i.path == str(path) for i in read.issues)

    def test_a_time_without_offset_is_read_in_assume_tz(self, tmp_path: Path) -> None:
        record = {"latitudeE7": 1, "longitudeE7": 2, "timestamp": "2020-03-02T12:00:00"}
        path = write(tmp_path, "Records.json", json.dumps({"locations": [record]}))

        read = read_evidence(path, assume_tz="Asia/Seoul")

        assert read.fixes.column("tracked_at").to_pylist() == [T0]

    def test_a_byte_order_mark_is_accepted(self, tmp_path: Path) -> None:
        path = write(tmp_path, "Records.json", b"\xef\xbb\xbf" + records_json([Fix(T0, *CAFE)]))

        assert read_evidence(path).fixes.num_rows == 1


class TestReadEvidenceSemantic:
    def test_place_visits_become_observations(self, tmp_path: Path) -> None:
        visit = Visit(
            T0,
            T0 + timedelta(minutes=50),
            *CAFE,
            place_id="ChIJcafe",
            place_name="Cafe",
            place_kind="TYPE_SEARCHED_ADDRESS",
            address="1 Sejong-daero",
            radius_m=19.0,
            confidence=0.95,
        )
        path = write(tmp_path, "2020_MARCH.json", semantic_json([visit]))

        read = read_evidence(path)

        assert read.kind is EvidenceKind.GOOGLE_SEMANTIC
        (got,) = visits_of(read.observations)
        assert got == Visit(**{**visit.__dict__, "place_kind": "type_searched_address"})
        assert read.observations.column("kind").to_pylist() == ["place_visit"]

    def test_timestamp_variants_of_durations(self, tmp_path: Path) -> None:
        ms = epoch_ms(T0)
        durations = [
            {"startTimestampMs": str(ms), "endTimestampMs": str(ms + 60_000)},
            {"startTimestamp": str(ms // 1000)},  # epoch seconds as digits
            {"startTimestamp": str(ms)},  # epoch milliseconds as digits
            {"startTimestamp": "2020-03-02 12:00:00 +0900"},
        ]
        objects = [
            {"placeVisit": {"location": {"latitudeE7": 1, "longitudeE7": 1}, "duration": d}}
            for d in durations
        ]
        path = write(tmp_path, "2020_MARCH.json", json.dumps({"timelineObjects": objects}))

        read = read_evidence(path)

        assert read.observations.column("started_at").to_pylist() == [T0] * 4
        assert read.observations.column("finished_at").to_pylist() == [
            T0 + timedelta(minutes=1),
            None,
            None,
            None,
        ]

    def test_confidence_comes_from_visit_or_place_confidence(self, tmp_path: Path) -> None:
        base = {
            "location": {"latitudeE7": 1, "longitudeE7": 1},
            "duration": {"startTimestamp": iso(T0)},
        }
        visits = [
            {**base, "visitConfidence": 72, "placeConfidence": "HIGH_CONFIDENCE"},
            {**base, "placeConfidence": "USER_CONFIRMED"},
            {**base, "placeConfidence": "MEDIUM_CONFIDENCE"},
            {**base, "placeConfidence": 64},
            {**base, "centerLatE7": 2, "centerLngE7": 2},
        ]
        objects = [{"placeVisit": v} for v in visits]
        path = write(tmp_path, "2020_MARCH.json", json.dumps({"timelineObjects": objects}))

        read = read_evidence(path)

        assert read.observations.column("confidence").to_pylist() == [0.72, 1.0, None, 0.64, None]

    def test_center_is_the_position_when_location_has_none(self, tmp_path: Path) -> None:
        visit = {
            "location": {"placeId": "x"},
            "centerLatE7": e7(CAFE[0]),
            "centerLngE7": e7(CAFE[1]),
            "duration": {"startTimestamp": iso(T0)},
        }
        path = write(
            tmp_path, "2020_MARCH.json", json.dumps({"timelineObjects": [{"placeVisit": visit}]})
        )

        (got,) = visits_of(read_evidence(path).observations)

        assert (got.latitude, got.longitude, got.place_id) == (*CAFE, "x")

    def test_activity_segment_ends_and_raw_path_become_fixes(self, tmp_path: Path) -> None:
        t1, t2 = T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)
        segment = {
            "startLocation": {"latitudeE7": e7(CAFE[0]), "longitudeE7": e7(CAFE[1])},
            "duration": {"startTimestamp": iso(T0), "endTimestamp": iso(t2)},
            "waypointPath": {
                "waypoints": [
                    {"latE7": 1, "lngE7": 1},
                    {"latE7": 2, "lngE7": 2},
                    {"latE7": e7(GYM[0]), "lngE7": e7(GYM[1])},
                ]
            },
            "simplifiedRawPath": {
                "points": [
                    {"latE7": 3, "lngE7": 3, "accuracyMeters": 8, "timestamp": iso(t1)},
                    {"latE7": 4, "lngE7": 4},
                ]
            },
        }
        objects = [{"activitySegment": segment}]
        path = write(tmp_path, "2020_MARCH.json", json.dumps({"timelineObjects": objects}))

        read = read_evidence(path)

        # startLocation wins over the first waypoint; the last waypoint is the end position;
        # the middle waypoint has no time and is not a fix.
        assert fixes_of(read.fixes) == [
            Fix(T0, *CAFE),
            Fix(t1, 3e-7, 3e-7, 8.0),
            Fix(t2, *GYM),
        ]
        assert _errors(read) == [
            (
                "timelineObjects[0].activitySegment.simplifiedRawPath.points[1].timestamp",
                "no timestamp",
            )
        ]
        assert _warnings(read) == []

    def test_bad_visits_are_named_by_their_path(self, tmp_path: Path) -> None:
        where = {"latitudeE7": 1, "longitudeE7": 1}
        objects = [
            {"placeVisit": {"location": where, "duration": {"startTimestamp": iso(T0)}}},
            {
                "placeVisit": {
                    "location": where,
                    "duration": {"startTimestamp": iso(T0), "endTimestamp": iso(T0 - timedelta(1))},
                }
            },
            {"placeVisit": {"location": where, "duration": {}}},
            {"placeVisit": {"location": {}, "duration": {"startTimestamp": iso(T0)}}},
            {"somethingElse": {}},
            {
                "placeVisit": {
                    "location": {**where, "accuracyMetres": -1},
                    "duration": {"startTimestamp": iso(T0)},
                }
            },
            {
                "placeVisit": {
                    "location": where,
                    "duration": {"startTimestamp": iso(T0)},
                    "visitConfidence": 140,
                }
            },
        ]
        path = write(tmp_path, "2020_MARCH.json", json.dumps({"timelineObjects": objects}))

        read = read_evidence(path)

        assert read.observations.num_rows == 1
        assert _errors(read) == [
            ("timelineObjects[1].placeVisit.duration", "finished before it started"),
            ("timelineObjects[2].placeVisit.duration", "no startTimestamp"),
            (
                "timelineObjects[3].placeVisit.location",
                "no position (location.latitudeE7 or centerLatE7)",
            ),
            (
                "timelineObjects[5].placeVisit.location.accuracyMetres",
                "not a finite number of metres >= 0",
            ),
            ("timelineObjects[6].placeVisit.visitConfidence", "outside [0, 1]"),
        ]
        assert _warnings(read) == [
            ("timelineObjects[4]", "neither placeVisit nor activitySegment; ignored")
        ]

    def test_child_visits_are_observations_too(self, tmp_path: Path) -> None:
        duration = {"startTimestamp": iso(T0), "endTimestamp": iso(T0 + timedelta(hours=1))}
        child = {"location": {"latitudeE7": 2, "longitudeE7": 2}, "duration": duration}
        visit = {
            "location": {"latitudeE7": 1, "longitudeE7": 1},
            "duration": duration,
            "childVisits": [child],
        }
        path = write(
            tmp_path, "2020_MARCH.json", json.dumps({"timelineObjects": [{"placeVisit": visit}]})
        )

        read = read_evidence(path)

        assert read.observations.column("latitude").to_pylist() == [1e-7, 2e-7]
        assert read.observations.column("source_index").to_pylist() == [0, 0]


class TestReadEvidenceTimeline:
    def test_android_visits_path_and_raw_positions(self, tmp_path: Path) -> None:
        visit = Visit(
            T0.astimezone(SEOUL),
            T0 + timedelta(hours=1),
            *CAFE,
            place_id="ChIJcafe",
            place_kind="HOME",
            confidence=0.5,
        )
        path_fixes = [Fix(T0 + timedelta(hours=2), *GYM), Fix(T0 + timedelta(hours=3), *CAFE)]
        raw = [Fix(T0 + timedelta(minutes=1), *CAFE, 13.0)]
        path = write(tmp_path, "Timeline.json", timeline_android([visit], path_fixes, raw))

        read = read_evidence(path)

        assert read.kind is EvidenceKind.GOOGLE_TIMELINE
        assert visits_of(read.observations) == [
            Visit(**{**visit.__dict__, "started_at": T0, "place_kind": "home"})
        ]
        assert fixes_of(read.fixes) == [raw[0], *path_fixes]
        # Raw signals are numbered after the two segments; no order warning across the parts.
        assert read.fixes.column("source_index").to_pylist() == [2, 1, 1]
        assert read.issues == ()

    def test_android_activity_ends_are_fixes(self, tmp_path: Path) -> None:
        segment = {
            "startTime": iso(T0),
            "endTime": iso(T0 + timedelta(minutes=30)),
            "activity": {
                "start": {"latLng": "37.5665°, 126.978°"},
                "end": {"latLng": "37.57°, 126.99°"},
            },
        }
        path = write(tmp_path, "Timeline.json", json.dumps({"semanticSegments": [segment]}))

        assert fixes_of(read_evidence(path).fixes) == [
            Fix(T0, *CAFE),
            Fix(T0 + timedelta(minutes=30), *GYM),
        ]

    def test_ios_top_level_array_with_minute_offsets(self, tmp_path: Path) -> None:
        visit = Visit(T0, T0 + timedelta(hours=1), *CAFE, place_id="ChIJcafe", confidence=0.71)
        path_fixes = [
            Fix(T0 + timedelta(hours=2), *GYM),
            Fix(T0 + timedelta(hours=2, minutes=49), *CAFE),
        ]
        path = write(tmp_path, "location-history.json", timeline_ios([visit], path_fixes))

        read = read_evidence(path)

        assert visits_of(read.observations) == [
            Visit(**{**visit.__dict__, "place_kind": "unknown"})
        ]
        assert fixes_of(read.fixes) == path_fixes

    def test_bad_segments_are_named_by_their_path(self, tmp_path: Path) -> None:
        segments = [
            {"startTime": "soon", "visit": {}},
            {"startTime": iso(T0), "visit": {"topCandidate": {"placeLocation": "nowhere"}}},
            {"startTime": iso(T0), "timelinePath": [{"point": "geo:95.0,10.0", "time": iso(T0)}]},
            {"startTime": iso(T0), "timelinePath": [{"point": "geo:1.0,2.0"}]},
            {"startTime": iso(T0), "timelineMemory": {"destinations": []}},
            {
                "startTime": iso(T0),
                "visit": {"probability": 2, "topCandidate": {"placeLocation": "geo:1,2"}},
            },
        ]
        path = write(tmp_path, "location-history.json", json.dumps([*segments, segments[2]]))

        with pytest.raises(EvidenceFormatError) as caught:
            read_evidence(path, EvidenceKind.GOOGLE_TIMELINE)

        assert str(caught.value) == (
            f"{path}: no valid record (6 rejected); "
            "[0].startTime: not an ISO 8601 date and time; "
            "[1].visit.topCandidate.placeLocation: not a 'latitude, longitude' position; "
            "[2].timelinePath[0].point: latitude outside [-90, 90]"
        )
