"""Google location history: Takeout ``Records.json``, Semantic Location History, device Timeline.

Layouts as documented by locationhistoryformat.com (Takeout files) and as seen in exports of the
on-device Timeline (Android ``Timeline.json``, iOS ``location-history.json``); see
``docs/evidence-formats.md`` for what becomes a fix and what an observation.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from ._collect import Collector
from ._json import first_byte, iter_items
from ._values import (
    RecordError,
    as_mapping,
    as_text,
    check_interval,
    e7_position,
    epoch_ms_to_us,
    google_time_to_us,
    iso_to_us,
    latlng_text_position,
    lower_text,
    minutes_offset,
    optional_float,
    optional_metres,
    optional_unit,
)

__all__ = ["PLACE_VISIT", "read_records", "read_semantic", "read_timeline"]

PLACE_VISIT = "place_visit"


# --- Takeout Records.json -------------------------------------------------------------------


def read_records(path: Path, collector: Collector) -> None:
    """Read ``locations[]`` of a Takeout ``Records.json`` as fixes."""
    naive_tz = collector.naive_tz
    for index, item in enumerate(iter_items(path, "locations.item")):
        try:
            record = as_mapping(item)
            if record.get("timestamp") is not None:
                tracked_at = iso_to_us(record["timestamp"], naive_tz, "timestamp")
            elif record.get("timestampMs") is not None:
                tracked_at = epoch_ms_to_us(record["timestampMs"], "timestampMs")
            else:
                raise RecordError("no timestamp or timestampMs", "timestamp")
            lat, lon = e7_position(record.get("latitudeE7"), record.get("longitudeE7"))
            accuracy = optional_metres(record.get("accuracy"), "accuracy")
            collector.add_fix(tracked_at, lat, lon, accuracy, index)
        except RecordError as exc:
            collector.reject(*exc.at_path(f"locations[{index}]"))


# --- Takeout Semantic Location History -----------------------------------------------------


def read_semantic(path: Path, collector: Collector) -> None:
    """Read ``timelineObjects[]``: place visits as observations, timed path points as fixes."""
    for index, item in enumerate(iter_items(path, "timelineObjects.item")):
        base = f"timelineObjects[{index}]"
        if not isinstance(item, dict):
            collector.reject(base, "not a JSON object")
        elif "placeVisit" in item:
            _place_visit(collector, item["placeVisit"], f"{base}.placeVisit", index, nested=False)
        elif "activitySegment" in item:
            _activity_segment(collector, item["activitySegment"], f"{base}.activitySegment", index)
        else:
            collector.warn(base, "neither placeVisit nor activitySegment; ignored")


def _semantic_time(
    parent: dict[str, object], key: str, naive_tz: tzinfo | None, prefix: str = ""
) -> int | None:
    """``key`` (ISO or epoch digits) or its legacy ``keyMs`` variant; None if neither is there."""
    if parent.get(key) is not None:
        return google_time_to_us(parent[key], naive_tz, prefix + key)
    if parent.get(key + "Ms") is not None:
        return epoch_ms_to_us(parent[key + "Ms"], f"{prefix}{key}Ms")
    return None


def _duration(value: object, naive_tz: tzinfo | None) -> tuple[int, int | None]:
    duration = as_mapping(value, "duration")
    started = _semantic_time(duration, "startTimestamp", naive_tz, "duration.")
    if started is None:
        raise RecordError("no startTimestamp", "duration")
    finished = _semantic_time(duration, "endTimestamp", naive_tz, "duration.")
    check_interval(started, finished, "duration")
    return started, finished


def _has_e7(point: object, lat_key: str) -> bool:
    return isinstance(point, dict) and point.get(lat_key) is not None


def _visit_confidence(visit: dict[str, object]) -> float | None:
    """``visitConfidence`` (0–100) as 0..1; else ``placeConfidence`` if numeric or confirmed.

    Google gives no number for ``LOW/MEDIUM/HIGH_CONFIDENCE``, so those stay unknown.
    """
    value = visit.get("visitConfidence")
    if value is None:
        value = visit.get("placeConfidence")
        if value == "USER_CONFIRMED":
            return 1.0
        if isinstance(value, str) and not value.strip().replace(".", "", 1).isdigit():
            return None
        field = "placeConfidence"
    else:
        field = "visitConfidence"
    number = optional_float(value, field)
    return None if number is None else optional_unit(number / 100.0, field)


def _place_visit(
    collector: Collector, value: object, base: str, index: int, *, nested: bool
) -> None:
    try:
        visit = as_mapping(value)
    except RecordError as exc:
        collector.reject(*exc.at_path(base))
        return
    try:
        started, finished = _duration(visit.get("duration"), collector.naive_tz)
        location = visit.get("location")
        place = location if isinstance(location, dict) else {}
        if _has_e7(place, "latitudeE7"):
            lat, lon = e7_position(
                place.get("latitudeE7"),
                place.get("longitudeE7"),
                lat_field="location.latitudeE7",
                lon_field="location.longitudeE7",
            )
        elif _has_e7(visit, "centerLatE7"):
            lat, lon = e7_position(
                visit.get("centerLatE7"),
                visit.get("centerLngE7"),
                lat_field="centerLatE7",
                lon_field="centerLngE7",
            )
        else:
            raise RecordError("no position (location.latitudeE7 or centerLatE7)", "location")
        collector.add_observation(
            kind=PLACE_VISIT,
            started_at_us=started,
            finished_at_us=finished,
            latitude=lat,
            longitude=lon,
            source_index=index,
            radius_m=optional_metres(place.get("accuracyMetres"), "location.accuracyMetres"),
            place_id=as_text(place.get("placeId")),
            place_name=as_text(place.get("name")),
            place_kind=lower_text(place.get("semanticType")),
            address=as_text(place.get("address")),
            confidence=_visit_confidence(visit),
        )
    except RecordError as exc:
        collector.reject(*exc.at_path(base))
    _timed_points(collector, visit.get("simplifiedRawPath"), f"{base}.simplifiedRawPath", index)
    children = visit.get("childVisits")
    if not nested and isinstance(children, list):
        for number, child in enumerate(children):
            _place_visit(collector, child, f"{base}.childVisits[{number}]", index, nested=True)


# A segment end: (its path in the segment, the point, latitude key, longitude key).
_End = tuple[str, dict[str, object], str, str]


def _segment_end(segment: dict[str, object], key: str, waypoints: list[object]) -> _End | None:
    point = segment.get(key)
    if isinstance(point, dict) and point.get("latitudeE7") is not None:
        return key, point, "latitudeE7", "longitudeE7"
    if key == "startLocation" and waypoints:
        number = 0
    elif key == "endLocation" and len(waypoints) > 1:
        number = len(waypoints) - 1
    else:
        return None
    waypoint = waypoints[number]
    if not isinstance(waypoint, dict):
        return None
    return f"waypointPath.waypoints[{number}]", waypoint, "latE7", "lngE7"


def _activity_segment(collector: Collector, value: object, base: str, index: int) -> None:
    """The start and end positions at the segment's start and end times, and timed path points.

    ``waypointPath`` begins at the start and ends at the end of the segment, so its first and
    last waypoints stand in for a missing ``startLocation``/``endLocation``; waypoints in between
    carry no time and are not read.
    """
    try:
        segment = as_mapping(value)
    except RecordError as exc:
        collector.reject(*exc.at_path(base))
        return
    waypoint_path = segment.get("waypointPath")
    waypoints = waypoint_path.get("waypoints") if isinstance(waypoint_path, dict) else None
    if not isinstance(waypoints, list):
        waypoints = []
    start = _segment_end(segment, "startLocation", waypoints)
    end = _segment_end(segment, "endLocation", waypoints)
    started: int | None = None
    finished: int | None = None
    if start is not None or end is not None:
        try:
            started, finished = _duration(segment.get("duration"), collector.naive_tz)
        except RecordError as exc:
            collector.reject(*exc.at_path(base))
    _e7_fix(collector, start, started, base, index)
    has_path = _timed_points(
        collector, segment.get("simplifiedRawPath"), f"{base}.simplifiedRawPath", index
    )
    _e7_fix(collector, end, finished, base, index)
    if start is None and end is None and not has_path:
        collector.warn(base, "no position with a known time; ignored")


def _e7_fix(
    collector: Collector, end: _End | None, tracked_at: int | None, base: str, index: int
) -> None:
    if end is None or tracked_at is None:
        return
    where, point, lat_key, lon_key = end
    try:
        _add_e7_fix(collector, point, tracked_at, index, lat_key, lon_key, "accuracyMetres")
    except RecordError as exc:
        collector.reject(*exc.at_path(f"{base}.{where}"))


def _add_e7_fix(
    collector: Collector,
    point: dict[str, object],
    tracked_at: int,
    index: int,
    lat_key: str,
    lon_key: str,
    accuracy_key: str,
) -> None:
    lat, lon = e7_position(
        point.get(lat_key), point.get(lon_key), lat_field=lat_key, lon_field=lon_key
    )
    accuracy = optional_metres(point.get(accuracy_key), accuracy_key)
    collector.add_fix(tracked_at, lat, lon, accuracy, index)


def _timed_points(collector: Collector, value: object, base: str, index: int) -> bool:
    """Read ``simplifiedRawPath.points[]`` (E7 with a timestamp); whether there were any."""
    points = value.get("points") if isinstance(value, dict) else None
    if not isinstance(points, list) or not points:
        return False
    for number, item in enumerate(points):
        try:
            point = as_mapping(item)
            tracked_at = _semantic_time(point, "timestamp", collector.naive_tz)
            if tracked_at is None:
                raise RecordError("no timestamp", "timestamp")
            _add_e7_fix(collector, point, tracked_at, index, "latE7", "lngE7", "accuracyMeters")
        except RecordError as exc:
            collector.reject(*exc.at_path(f"{base}.points[{number}]"))
    return True


# --- On-device Timeline (Android Timeline.json, iOS location-history.json) ------------------


def read_timeline(path: Path, collector: Collector) -> None:
    """Read an on-device Timeline export: visits as observations, path and raw positions as fixes.

    Android files are an object read in two passes (``semanticSegments[]``, then
    ``rawSignals[]``, numbered on after the segments); iOS files are a top-level array.
    """
    if first_byte(path) == b"[":
        for index, item in enumerate(iter_items(path, "item")):
            _segment(collector, item, f"[{index}]", index)
        return
    count = 0
    for count, item in enumerate(iter_items(path, "semanticSegments.item"), start=1):
        _segment(collector, item, f"semanticSegments[{count - 1}]", count - 1)
    collector.fixes.start_stream()
    for number, item in enumerate(iter_items(path, "rawSignals.item")):
        _raw_signal(collector, item, f"rawSignals[{number}]", count + number)


def _text_position(value: object, field: str) -> tuple[float, float]:
    """A Timeline position: ``"lat°, lng°"``, ``"geo:lat,lng"`` or ``{"latLng": ...}``."""
    if isinstance(value, dict):
        return latlng_text_position(value.get("latLng"), f"{field}.latLng")
    return latlng_text_position(value, field)


def _segment(collector: Collector, value: object, base: str, index: int) -> None:
    """A ``semanticSegments[]`` entry: a visit, an activity's two ends, timed path points.

    Other entries (``timelineMemory`` trip summaries) carry no presence and are not read.
    """
    if not isinstance(value, dict):
        collector.reject(base, "not a JSON object")
        return
    visit, activity, path_points = (value.get(key) for key in ("visit", "activity", "timelinePath"))
    if visit is None and activity is None and path_points is None:
        return
    try:
        started = iso_to_us(value.get("startTime"), collector.naive_tz, "startTime")
        end = value.get("endTime")
        finished = None if end is None else iso_to_us(end, collector.naive_tz, "endTime")
        check_interval(started, finished, "endTime")
    except RecordError as exc:
        collector.reject(*exc.at_path(base))
        return
    if visit is not None:
        try:
            _visit(collector, visit, started, finished, index)
        except RecordError as exc:
            collector.reject(*exc.at_path(base))
    if isinstance(activity, dict):
        for key, tracked_at in (("start", started), ("end", finished)):
            if activity.get(key) is None or tracked_at is None:
                continue
            try:
                lat, lon = _text_position(activity[key], key)
                collector.add_fix(tracked_at, lat, lon, None, index)
            except RecordError as exc:
                collector.reject(*exc.at_path(f"{base}.activity"))
    if isinstance(path_points, list):
        for number, item in enumerate(path_points):
            try:
                point = as_mapping(item)
                if point.get("time") is not None:
                    tracked_at = iso_to_us(point["time"], collector.naive_tz, "time")
                else:
                    offset = point.get("durationMinutesOffsetFromStartTime")
                    tracked_at = minutes_offset(
                        started, offset, "durationMinutesOffsetFromStartTime"
                    )
                lat, lon = _text_position(point.get("point"), "point")
                collector.add_fix(tracked_at, lat, lon, None, index)
            except RecordError as exc:
                collector.reject(*exc.at_path(f"{base}.timelinePath[{number}]"))


def _visit(
    collector: Collector, value: object, started: int, finished: int | None, index: int
) -> None:
    visit = as_mapping(value, "visit")
    top = visit.get("topCandidate")
    candidate = as_mapping(top, "visit.topCandidate")
    lat, lon = _text_position(candidate.get("placeLocation"), "visit.topCandidate.placeLocation")
    confidence = optional_unit(
        optional_float(visit.get("probability"), "visit.probability"), "visit.probability"
    )
    if confidence is None:
        field = "visit.topCandidate.probability"
        confidence = optional_unit(optional_float(candidate.get("probability"), field), field)
    place_id = candidate.get("placeId", candidate.get("placeID"))
    collector.add_observation(
        kind=PLACE_VISIT,
        started_at_us=started,
        finished_at_us=finished,
        latitude=lat,
        longitude=lon,
        source_index=index,
        place_id=as_text(place_id),
        place_kind=lower_text(candidate.get("semanticType")),
        confidence=confidence,
    )


def _raw_signal(collector: Collector, value: object, base: str, index: int) -> None:
    """A ``rawSignals[]`` entry: only ``position`` is a fix; Wi-Fi scans and activities are not."""
    if not isinstance(value, dict) or value.get("position") is None:
        return
    try:
        position = as_mapping(value["position"], "position")
        tracked_at = iso_to_us(position.get("timestamp"), collector.naive_tz, "position.timestamp")
        text = position.get("LatLng", position.get("latLng"))
        lat, lon = latlng_text_position(text, "position.LatLng")
        accuracy = optional_metres(position.get("accuracyMeters"), "position.accuracyMeters")
        collector.add_fix(tracked_at, lat, lon, accuracy, index)
    except RecordError as exc:
        collector.reject(*exc.at_path(base))
