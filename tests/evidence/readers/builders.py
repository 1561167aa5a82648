"""Evidence files written by code from plain records, for the reader tests.

Each writer produces the bytes of one format from :class:`Fix` / :class:`Visit` records, so that
a test states the records it expects and the file is derived from them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from citytrace.evidence.readers import EvidenceKind

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_ZERO = datetime(1899, 12, 30, tzinfo=UTC)  # GeoLife/OziExplorer day count origin


@dataclass(frozen=True)
class Fix:
    tracked_at: datetime
    latitude: float
    longitude: float
    accuracy_m: float | None = None


@dataclass(frozen=True)
class Visit:
    started_at: datetime
    finished_at: datetime | None
    latitude: float
    longitude: float
    place_id: str | None = None
    place_name: str | None = None
    place_kind: str | None = None
    address: str | None = None
    radius_m: float | None = None
    confidence: float | None = None


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def iso(moment: datetime, timespec: str = "milliseconds") -> str:
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def e7(degrees: float) -> int:
    return round(degrees * 1e7)


def wrapped(value_e7: int) -> int:
    """The int32-overflow form some Records.json exports have for negative E7 values."""
    return value_e7 + 2**32 if value_e7 < 0 else value_e7


# --- Google -----------------------------------------------------------------------------------


def records_json(
    fixes: Iterable[Fix], *, legacy_ms: bool = False, wrap_negative: bool = False
) -> bytes:
    locations = []
    for fix in fixes:
        lat, lon = e7(fix.latitude), e7(fix.longitude)
        record: dict[str, object] = {
            "latitudeE7": wrapped(lat) if wrap_negative else lat,
            "longitudeE7": wrapped(lon) if wrap_negative else lon,
            "source": "GPS",
            "deviceTag": 12345,
        }
        if fix.accuracy_m is not None:
            record["accuracy"] = fix.accuracy_m
        if legacy_ms:
            record["timestampMs"] = str(epoch_ms(fix.tracked_at))
        else:
            record["timestamp"] = iso(fix.tracked_at)
        locations.append(record)
    return json.dumps({"locations": locations}, indent=2).encode()


def semantic_visit(visit: Visit) -> dict[str, object]:
    location: dict[str, object] = {
        "latitudeE7": e7(visit.latitude),
        "longitudeE7": e7(visit.longitude),
    }
    for key, value in (
        ("placeId", visit.place_id),
        ("name", visit.place_name),
        ("address", visit.address),
        ("semanticType", visit.place_kind),
        ("accuracyMetres", visit.radius_m),
    ):
        if value is not None:
            location[key] = value
    duration = {"startTimestamp": iso(visit.started_at)}
    if visit.finished_at is not None:
        duration["endTimestamp"] = iso(visit.finished_at)
    body: dict[str, object] = {"location": location, "duration": duration}
    if visit.confidence is not None:
        body["visitConfidence"] = round(visit.confidence * 100)
    return {"placeVisit": body}


def semantic_path(fixes: Sequence[Fix]) -> dict[str, object]:
    """An activity segment whose fixes are its timed ``simplifiedRawPath`` points."""
    points = []
    for fix in fixes:
        point: dict[str, object] = {
            "latE7": e7(fix.latitude),
            "lngE7": e7(fix.longitude),
            "timestamp": iso(fix.tracked_at),
        }
        if fix.accuracy_m is not None:
            point["accuracyMeters"] = fix.accuracy_m
        points.append(point)
    return {"activitySegment": {"simplifiedRawPath": {"points": points}}}


def semantic_json(visits: Iterable[Visit] = (), path: Sequence[Fix] = ()) -> bytes:
    objects = [semantic_visit(visit) for visit in visits]
    if path:
        objects.append(semantic_path(path))
    return json.dumps({"timelineObjects": objects}, indent=1).encode()


def degrees_text(latitude: float, longitude: float) -> str:
    return f"{latitude!r}°, {longitude!r}°"


def timeline_android(
    visits: Iterable[Visit] = (), path: Sequence[Fix] = (), raw: Iterable[Fix] = ()
) -> bytes:
    segments: list[dict[str, object]] = []
    for visit in visits:
        candidate: dict[str, object] = {
            "placeLocation": {"latLng": degrees_text(visit.latitude, visit.longitude)}
        }
        if visit.place_id is not None:
            candidate["placeId"] = visit.place_id
        if visit.place_kind is not None:
            candidate["semanticType"] = visit.place_kind
        segment: dict[str, object] = {
            "startTime": visit.started_at.isoformat(timespec="milliseconds"),
            "visit": {"hierarchyLevel": 0, "topCandidate": candidate},
        }
        if visit.finished_at is not None:
            segment["endTime"] = visit.finished_at.isoformat(timespec="milliseconds")
        if visit.confidence is not None:
            segment["visit"]["probability"] = visit.confidence  # type: ignore[index]
        segments.append(segment)
    if path:
        segments.append(
            {
                "startTime": iso(min(f.tracked_at for f in path)),
                "endTime": iso(max(f.tracked_at for f in path)),
                "timelinePath": [
                    {"point": degrees_text(f.latitude, f.longitude), "time": iso(f.tracked_at)}
                    for f in path
                ],
            }
        )
    signals = [
        {
            "position": {
                "LatLng": degrees_text(f.latitude, f.longitude),
                "accuracyMeters": f.accuracy_m,
                "source": "GPS",
                "timestamp": f.tracked_at.isoformat(timespec="milliseconds"),
            }
        }
        for f in raw
    ]
    return json.dumps(
        {"semanticSegments": segments, "rawSignals": signals, "userLocationProfile": {}},
        ensure_ascii=False,
        indent=2,
    ).encode()


def timeline_ios(visits: Iterable[Visit] = (), path: Sequence[Fix] = ()) -> bytes:
    """iOS layout; path fixes must lie whole minutes after the first of them."""
    items: list[dict[str, object]] = []
    for visit in visits:
        item: dict[str, object] = {
            "startTime": visit.started_at.isoformat(timespec="milliseconds"),
            "visit": {
                "hierarchyLevel": "0",
                "topCandidate": {
                    "placeID": visit.place_id or "",
                    "semanticType": visit.place_kind or "Unknown",
                    "placeLocation": f"geo:{visit.latitude!r},{visit.longitude!r}",
                },
            },
        }
        if visit.finished_at is not None:
            item["endTime"] = visit.finished_at.isoformat(timespec="milliseconds")
        if visit.confidence is not None:
            item["visit"]["probability"] = f"{visit.confidence:.6f}"  # type: ignore[index]
        items.append(item)
    if path:
        start = min(f.tracked_at for f in path)
        items.append(
            {
                "startTime": iso(start),
                "endTime": iso(max(f.tracked_at for f in path)),
                "timelinePath": [
                    {
                        "point": f"geo:{f.latitude!r},{f.longitude!r}",
                        "durationMinutesOffsetFromStartTime": str(
                            (f.tracked_at - start) // timedelta(minutes=1)
                        ),
                    }
                    for f in path
                ],
            }
        )
    return json.dumps(items, indent=2).encode()


# --- GPX and GeoLife ---------------------------------------------------------------------------


def gpx(
    track: Iterable[Fix] = (),
    *,
    waypoints: Iterable[Fix] = (),
    route: Iterable[Fix] = (),
    namespace: str | None = "http://www.topografix.com/GPX/1/1",
    prefix: str = "",
    segment_size: int | None = None,
) -> bytes:
    tag = f"{prefix}:" if prefix else ""
    xmlns = f' xmlns{":" + prefix if prefix else ""}="{namespace}"' if namespace else ""

    def point(name: str, fix: Fix) -> str:
        return (
            f'<{tag}{name} lat="{fix.latitude!r}" lon="{fix.longitude!r}">'
            f"<{tag}ele>12.5</{tag}ele>"
            f"<{tag}time>{iso(fix.tracked_at, 'microseconds')}</{tag}time>"
            f"</{tag}{name}>"
        )

    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag}gpx version="1.1"{xmlns}>']
    parts.extend(point("wpt", fix) for fix in waypoints)
    route = list(route)
    if route:
        parts.append(f"<{tag}rte>" + "".join(point("rtept", f) for f in route) + f"</{tag}rte>")
    track = list(track)
    size = segment_size or max(len(track), 1)
    parts.append(f"<{tag}trk><{tag}name>walk</{tag}name>")
    for start in range(0, max(len(track), 1), size):
        parts.append(f"<{tag}trkseg>")
        parts.extend(point("trkpt", fix) for fix in track[start : start + size])
        parts.append(f"</{tag}trkseg>")
    parts.append(f"</{tag}trk></{tag}gpx>\n")
    return "\n".join(parts).encode()


PLT_HEADER = (
    "Geolife trajectory\nWGS 84\nAltitude is in Feet\nReserved 3\n"
    "0,2,255,My Track,0,0,2,8421376\n0\n"
)


def plt(fixes: Iterable[Fix], *, line_end: str = "\n") -> bytes:
    lines = PLT_HEADER.splitlines()
    for fix in fixes:
        days = (fix.tracked_at - DAY_ZERO) / timedelta(days=1)
        moment = fix.tracked_at.astimezone(UTC)
        lines.append(
            f"{fix.latitude!r},{fix.longitude!r},0,492,{days:.10f},"
            f"{moment:%Y-%m-%d},{moment:%H:%M:%S}"
        )
    return (line_end.join(lines) + line_end).encode()


# --- CSV ----------------------------------------------------------------------------------------


def csv_bytes(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = False
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def time_text(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


def card_csv(visits: Iterable[Visit], *, bom: bool = False) -> bytes:
    header = (
        "transacted_at",
        "merchant_id",
        "merchant_name",
        "merchant_category",
        "latitude",
        "longitude",
        "address",
        "amount_krw",
    )
    rows = (
        (
            time_text(v.started_at),
            v.place_id,
            v.place_name,
            v.place_kind,
            repr(v.latitude),
            repr(v.longitude),
            v.address,
            12000,
        )
        for v in visits
    )
    return csv_bytes(header, rows, bom=bom)


def cell_csv(visits: Iterable[Visit]) -> bytes:
    header = ("cell_id", "started_at", "finished_at", "latitude", "longitude", "radius_m")
    rows = (
        (
            v.place_id,
            time_text(v.started_at),
            time_text(v.finished_at),
            repr(v.latitude),
            repr(v.longitude),
            repr(v.radius_m),
        )
        for v in visits
    )
    return csv_bytes(header, rows)


def checkin_csv(visits: Iterable[Visit]) -> bytes:
    header = (
        "venue_id",
        "venue_name",
        "venue_kind",
        "checked_in_at",
        "checked_out_at",
        "latitude",
        "longitude",
        "address",
    )
    rows = (
        (
            v.place_id,
            v.place_name,
            v.place_kind,
            time_text(v.started_at),
            time_text(v.finished_at),
            repr(v.latitude),
            repr(v.longitude),
            v.address,
        )
        for v in visits
    )
    return csv_bytes(header, rows)


# --- Reading results back -------------------------------------------------------------------------


def fixes_of(table: pa.Table) -> list[Fix]:
    return [
        Fix(row["tracked_at"], row["latitude"], row["longitude"], row["accuracy_m"])
        for row in table.to_pylist()
    ]


def visits_of(table: pa.Table) -> list[Visit]:
    return [
        Visit(
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            latitude=row["latitude"],
            longitude=row["longitude"],
            place_id=row["place_id"],
            place_name=row["place_name"],
            place_kind=row["place_kind"],
            address=row["address"],
            radius_m=row["radius_m"],
            confidence=row["confidence"],
        )
        for row in table.to_pylist()
    ]


# --- One small valid file of each kind -----------------------------------------------------------

_T0 = datetime(2020, 3, 2, 3, 0, tzinfo=UTC)
SAMPLE_FIXES = [Fix(_T0 + timedelta(seconds=i), 37.5 + i / 1000, 127.0, 5.0) for i in range(3)]
SAMPLE_VISITS = [
    Visit(_T0, _T0 + timedelta(hours=1), 37.5, 127.0, "p1", "Cafe", "cafe", "addr", 30.0, 0.5),
    Visit(_T0 + timedelta(hours=2), None, -33.9, 151.2, "p2", None, None, None, 10.0, None),
]


def sample(kind: EvidenceKind) -> bytes:
    """A valid file of ``kind`` with every record readable."""
    fixes, visits = SAMPLE_FIXES, SAMPLE_VISITS
    writers = {
        EvidenceKind.GOOGLE_RECORDS: lambda: records_json(fixes, wrap_negative=True),
        EvidenceKind.GOOGLE_SEMANTIC: lambda: semantic_json(visits, fixes),
        EvidenceKind.GOOGLE_TIMELINE: lambda: timeline_android(visits, fixes, fixes),
        EvidenceKind.GPX: lambda: gpx(fixes, waypoints=fixes[:1]),
        EvidenceKind.GEOLIFE_PLT: lambda: plt(fixes),
        EvidenceKind.CARD: lambda: card_csv(visits),
        EvidenceKind.CELL: lambda: cell_csv(visits),
        EvidenceKind.CHECKIN: lambda: checkin_csv(visits),
    }
    return writers[kind]()
