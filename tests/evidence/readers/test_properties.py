"""Properties of the readers: generated records survive a round trip through each format, and no
input, however broken, gets anything out but :class:`EvidenceFormatError` or valid tables."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow.compute as pc
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from citytrace.evidence.readers import (
    EvidenceFormatError,
    EvidenceKind,
    EvidenceRead,
    read_evidence,
)

from .builders import (
    Fix,
    Visit,
    card_csv,
    cell_csv,
    checkin_csv,
    fixes_of,
    gpx,
    plt,
    records_json,
    sample,
    semantic_json,
    timeline_android,
    timeline_ios,
    visits_of,
    write,
)

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TOLERANCE_DEG = 1e-7

# --- strategies ---------------------------------------------------------------------------------

zones = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def moments(
    unit: timedelta, zone: st.SearchStrategy[timezone] = st.just(UTC)
) -> st.SearchStrategy[datetime]:
    """Aware times from 2000 to 2035, whole multiples of ``unit``, in a zone drawn from ``zone``."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    steps = (datetime(2035, 1, 1, tzinfo=UTC) - start) // unit
    return st.builds(lambda n, tz: (start + n * unit).astimezone(tz), st.integers(0, steps), zone)


MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)
SECOND = timedelta(seconds=1)
latitudes = st.floats(-90, 90, allow_nan=False)
longitudes = st.floats(-180, 180, allow_nan=False)
e7_latitudes = st.integers(-900_000_000, 900_000_000).map(lambda v: v / 1e7)
e7_longitudes = st.integers(-1_800_000_000, 1_800_000_000).map(lambda v: v / 1e7)
metres = st.none() | st.floats(0, 100_000, allow_nan=False)
labels = st.text(min_size=1, max_size=12).map(str.strip).filter(bool)


def fix_lists(
    unit: timedelta,
    lat: st.SearchStrategy[float] = latitudes,
    lon: st.SearchStrategy[float] = longitudes,
    accuracy: st.SearchStrategy[float | None] = metres,
    zone: st.SearchStrategy[timezone] = st.just(UTC),
) -> st.SearchStrategy[list[Fix]]:
    """Fixes at distinct times (so none is a duplicate of another), in any order."""
    return st.lists(
        st.builds(Fix, moments(unit, zone), lat, lon, accuracy),
        max_size=12,
        unique_by=lambda f: f.tracked_at,
    )


@st.composite
def visits(
    draw: st.DrawFn,
    unit: timedelta,
    *,
    zone: st.SearchStrategy[timezone] = st.just(UTC),
    end: bool = True,
    lat: st.SearchStrategy[float] = latitudes,
    lon: st.SearchStrategy[float] = longitudes,
    place_id: st.SearchStrategy[str | None] = st.none() | labels,
    name: bool = False,
    kind: bool = False,
    address: bool = False,
    radius: st.SearchStrategy[float | None] = st.none(),
    confidence: st.SearchStrategy[float | None] = st.none(),
) -> Visit:
    started = draw(moments(unit, zone))
    length = draw(st.none() | st.integers(0, 10**6)) if end else None
    return Visit(
        started_at=started,
        finished_at=None if length is None else started + length * unit,
        latitude=draw(lat),
        longitude=draw(lon),
        place_id=draw(place_id),
        place_name=draw(st.none() | labels) if name else None,
        place_kind=draw(st.none() | labels) if kind else None,
        address=draw(st.none() | labels) if address else None,
        radius_m=draw(radius),
        confidence=draw(confidence),
    )


# --- checks -------------------------------------------------------------------------------------


def _same_fixes(got: Sequence[Fix], expected: Sequence[Fix]) -> None:
    expected = sorted(expected, key=lambda f: f.tracked_at)
    assert [f.tracked_at for f in got] == [f.tracked_at for f in expected]
    for g, e in zip(got, expected, strict=True):
        assert abs(g.latitude - e.latitude) <= TOLERANCE_DEG
        assert abs(g.longitude - e.longitude) <= TOLERANCE_DEG
        assert g.accuracy_m == e.accuracy_m


def _same_visits(got: Sequence[Visit], expected: Sequence[Visit]) -> None:
    expected = sorted(expected, key=lambda v: v.started_at)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert abs(g.latitude - e.latitude) <= TOLERANCE_DEG
        assert abs(g.longitude - e.longitude) <= TOLERANCE_DEG
        assert g == Visit(
            **{
                **e.__dict__,
                "latitude": g.latitude,
                "longitude": g.longitude,
                "place_kind": e.place_kind and e.place_kind.lower(),
            }
        )


def _check_valid(read: EvidenceRead) -> None:
    """What every successful read guarantees, whatever the input."""
    for table in (read.fixes, read.observations):
        lat, lon = table.column("latitude"), table.column("longitude")
        assert table.num_rows == 0 or (pc.min(lat).as_py() >= -90 and pc.max(lat).as_py() <= 90), (
            "latitude out of range"
        )
        assert table.num_rows == 0 or (
            pc.min(lon).as_py() >= -180 and pc.max(lon).as_py() <= 180
        ), "longitude out of range"
        assert not pc.any(pc.is_nan(lat)).as_py() and not pc.any(pc.is_nan(lon)).as_py()
    times = read.fixes.column("tracked_at").to_pylist()
    assert times == sorted(times)
    for row in read.observations.to_pylist():
        assert row["finished_at"] is None or row["finished_at"] >= row["started_at"]
        assert row["confidence"] is None or 0 <= row["confidence"] <= 1
        assert row["radius_m"] is None or (math.isfinite(row["radius_m"]) and row["radius_m"] >= 0)
    duplicates = 0
    for issue in read.issues:
        counted = re.match(r"(\d+) exact duplicate", issue.reason)
        duplicates += int(counted.group(1)) if counted else 0
    kept = read.fixes.num_rows + read.observations.num_rows
    assert read.records_read == kept + duplicates + read.records_rejected
    assert kept > 0


def _read_back(folder: Path, name: str, data: bytes, kind: EvidenceKind) -> EvidenceRead:
    read = read_evidence(write(folder, name, data), kind)
    assert read.kind is kind
    assert read.records_rejected == 0, read.issues
    _check_valid(read)
    return read


# --- (a) round trips ------------------------------------------------------------------------------


class TestReadEvidenceRoundTrip:
    @PROPERTY
    @given(
        fixes=fix_lists(MS, e7_latitudes, e7_longitudes).filter(bool),
        legacy=st.booleans(),
        wrap=st.booleans(),
    )
    def test_google_records(
        self, tmp_path: Path, fixes: list[Fix], legacy: bool, wrap: bool
    ) -> None:
        data = records_json(fixes, legacy_ms=legacy, wrap_negative=wrap)

        read = _read_back(tmp_path, "Records.json", data, EvidenceKind.GOOGLE_RECORDS)

        _same_fixes(fixes_of(read.fixes), fixes)

    @PROPERTY
    @given(
        places=st.lists(
            visits(
                MS,
                name=True,
                kind=True,
                address=True,
                radius=metres,
                confidence=st.none() | st.integers(0, 100).map(lambda n: n / 100),
            ),
            max_size=6,
        ),
        path=fix_lists(MS, accuracy=st.none() | st.integers(0, 5000).map(float)),
    )
    def test_google_semantic(self, tmp_path: Path, places: list[Visit], path: list[Fix]) -> None:
        assume(places or path)

        read = _read_back(
            tmp_path, "x.json", semantic_json(places, path), EvidenceKind.GOOGLE_SEMANTIC
        )

        _same_visits(visits_of(read.observations), places)
        _same_fixes(fixes_of(read.fixes), path)

    @PROPERTY
    @given(
        places=st.lists(
            visits(MS, zone=zones, kind=True, confidence=st.none() | st.floats(0, 1)),
            max_size=5,
        ),
        path=fix_lists(MS, accuracy=st.none()),
        raw=fix_lists(MS, zone=zones),
    )
    def test_google_timeline_android(
        self, tmp_path: Path, places: list[Visit], path: list[Fix], raw: list[Fix]
    ) -> None:
        assume(places or path or raw)
        data = timeline_android(places, path, raw)

        read = _read_back(tmp_path, "Timeline.json", data, EvidenceKind.GOOGLE_TIMELINE)

        _same_visits(visits_of(read.observations), places)
        _same_fixes(fixes_of(read.fixes), [*path, *raw])

    @PROPERTY
    @given(
        places=st.lists(
            visits(
                MS,
                zone=zones,
                place_id=labels,
                kind=True,
                confidence=st.none() | st.integers(0, 10**6).map(lambda n: n / 10**6),
            ),
            max_size=5,
        ),
        start=moments(MS),
        minutes=st.lists(st.integers(0, 10_000), unique=True, max_size=8),
        points=st.lists(st.tuples(latitudes, longitudes), min_size=8, max_size=8),
    )
    def test_google_timeline_ios(
        self,
        tmp_path: Path,
        places: list[Visit],
        start: datetime,
        minutes: list[int],
        points: list[tuple[float, float]],
    ) -> None:
        assume(places or minutes)
        path = [
            Fix(start + timedelta(minutes=m), *p)
            for m, p in zip(sorted(minutes), points, strict=False)
        ]
        places = [Visit(**{**v.__dict__, "place_kind": v.place_kind or "Unknown"}) for v in places]

        read = _read_back(
            tmp_path, "x.json", timeline_ios(places, path), EvidenceKind.GOOGLE_TIMELINE
        )

        _same_visits(visits_of(read.observations), places)
        _same_fixes(fixes_of(read.fixes), path)

    @PROPERTY
    @given(
        track=fix_lists(US, accuracy=st.none()),
        waypoints=fix_lists(US, accuracy=st.none(), zone=zones),
        prefix=st.sampled_from(["", "gpx"]),
    )
    def test_gpx(self, tmp_path: Path, track: list[Fix], waypoints: list[Fix], prefix: str) -> None:
        assume(track or waypoints)
        assume(not {f.tracked_at for f in track} & {f.tracked_at for f in waypoints})

        read = _read_back(
            tmp_path, "a.gpx", gpx(track, waypoints=waypoints, prefix=prefix), EvidenceKind.GPX
        )

        _same_fixes(fixes_of(read.fixes), [*track, *waypoints])

    @PROPERTY
    @given(fixes=fix_lists(SECOND, accuracy=st.none()).filter(bool))
    def test_geolife_plt(self, tmp_path: Path, fixes: list[Fix]) -> None:
        read = _read_back(tmp_path, "a.plt", plt(fixes), EvidenceKind.GEOLIFE_PLT)

        _same_fixes(fixes_of(read.fixes), fixes)

    @PROPERTY
    @given(
        rows=st.lists(
            visits(US, zone=zones, end=False, place_id=labels, name=True, kind=True, address=True),
            min_size=1,
            max_size=8,
        ),
        bom=st.booleans(),
    )
    def test_card_csv(self, tmp_path: Path, rows: list[Visit], bom: bool) -> None:
        read = _read_back(tmp_path, "card.csv", card_csv(rows, bom=bom), EvidenceKind.CARD)

        _same_visits(visits_of(read.observations), rows)

    @PROPERTY
    @given(
        rows=st.lists(
            visits(US, zone=zones, place_id=labels, radius=st.floats(0, 50_000)),
            min_size=1,
            max_size=8,
        )
    )
    def test_cell_csv(self, tmp_path: Path, rows: list[Visit]) -> None:
        read = _read_back(tmp_path, "cell.csv", cell_csv(rows), EvidenceKind.CELL)

        _same_visits(visits_of(read.observations), rows)

    @PROPERTY
    @given(
        rows=st.lists(
            visits(US, zone=zones, place_id=labels, name=True, kind=True, address=True),
            min_size=1,
            max_size=8,
        )
    )
    def test_checkin_csv(self, tmp_path: Path, rows: list[Visit]) -> None:
        read = _read_back(tmp_path, "checkin.csv", checkin_csv(rows), EvidenceKind.CHECKIN)

        _same_visits(visits_of(read.observations), rows)


# --- (b) broken input -----------------------------------------------------------------------------

kinds = st.sampled_from([None, *EvidenceKind])
mutations = st.lists(
    st.tuples(
        st.sampled_from(["replace", "insert", "delete", "truncate"]),
        st.floats(0, 1, exclude_max=True),
        st.sampled_from(list(b'0123456789-.,:"{}[]<>/eE+ \n\x00\xff\xc3TZ')),
    ),
    min_size=1,
    max_size=6,
)


def _mutate(data: bytes, edits: list[tuple[str, float, int]]) -> bytes:
    out = bytearray(data)
    for op, where, byte in edits:
        if not out:
            break
        at = int(where * len(out))
        if op == "replace":
            out[at] = byte
        elif op == "insert":
            out.insert(at, byte)
        elif op == "delete":
            del out[at]
        else:
            del out[at:]
    return bytes(out)


GOOGLE_KINDS = [
    EvidenceKind.GOOGLE_RECORDS,
    EvidenceKind.GOOGLE_SEMANTIC,
    EvidenceKind.GOOGLE_TIMELINE,
]
_KEYS = sorted(
    {
        *("latitudeE7", "longitudeE7", "latE7", "lngE7", "centerLatE7", "centerLngE7"),
        *("timestamp", "timestampMs", "startTimestamp", "endTimestamp", "duration"),
        *("startTime", "endTime", "time", "durationMinutesOffsetFromStartTime"),
        *("location", "point", "visit", "activity", "timelinePath", "topCandidate"),
        *("placeLocation", "latLng", "LatLng", "position", "points", "waypoints", "start"),
        *("probability", "visitConfidence", "placeConfidence", "accuracy", "accuracyMeters"),
    }
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["2020-03-02T03:00:00Z", "1583118000000", "geo:1,2", "1°, 2°", "nan"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(_KEYS), children, max_size=4)
    ),
    max_leaves=8,
)


def _json_paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        found.extend(_json_paths(child, (*prefix, key)))
    return found


def _json_replace(node: object, path: tuple[object, ...], value: object) -> object:
    if not path:
        return value
    node[path[0]] = _json_replace(node[path[0]], path[1:], value)  # type: ignore[index]
    return node


def _refused_or_valid(path: Path, kind: EvidenceKind | None) -> None:
    try:
        read = read_evidence(path, kind)
    except EvidenceFormatError as exc:
        refusal = str(exc)
    else:
        _check_valid(read)
        return
    assert refusal.startswith(str(path))


class TestReadEvidenceBrokenInput:
    @settings(PROPERTY, max_examples=150)
    @given(data=st.binary(max_size=600), kind=kinds)
    def test_arbitrary_bytes(self, tmp_path: Path, data: bytes, kind: EvidenceKind | None) -> None:
        _refused_or_valid(write(tmp_path, "upload", data), kind)

    @settings(PROPERTY, max_examples=300)
    @given(
        kind=st.sampled_from(list(EvidenceKind)),
        edits=mutations,
        read_as=st.sampled_from(["own", "detect", "other"]),
        other=st.sampled_from(list(EvidenceKind)),
    )
    def test_mutated_valid_files(
        self,
        tmp_path: Path,
        kind: EvidenceKind,
        edits: list[tuple[str, float, int]],
        read_as: str,
        other: EvidenceKind,
    ) -> None:
        path = write(tmp_path, "upload", _mutate(sample(kind), edits))

        _refused_or_valid(path, {"own": kind, "detect": None, "other": other}[read_as])

    @settings(PROPERTY, max_examples=150)
    @given(
        kind=st.sampled_from(GOOGLE_KINDS),
        replacements=st.lists(
            st.tuples(st.integers(0, 10**6), json_values), min_size=1, max_size=4
        ),
        ios=st.booleans(),
    )
    def test_google_json_with_values_of_any_type(
        self,
        tmp_path: Path,
        kind: EvidenceKind,
        replacements: list[tuple[int, object]],
        ios: bool,
    ) -> None:
        document = json.loads(sample(kind))
        if kind is EvidenceKind.GOOGLE_TIMELINE and ios:
            document = document["semanticSegments"]
        for number, value in replacements:
            paths = _json_paths(document)
            document = _json_replace(document, paths[number % len(paths)], value)
        path = write(tmp_path, "upload.json", json.dumps(document))

        _refused_or_valid(path, kind)
        _refused_or_valid(path, None)

    @PROPERTY
    @given(kind=st.sampled_from(list(EvidenceKind)))
    def test_unmutated_files_are_valid(self, tmp_path: Path, kind: EvidenceKind) -> None:
        read = read_evidence(write(tmp_path, "upload", sample(kind)))

        assert read.kind is kind
        assert read.records_rejected == 0
        _check_valid(read)
