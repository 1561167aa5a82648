"""Route reconstruction: a case's evidence of every kind merged into one timeline of visits.

A pure library: Arrow tables in, a list of :class:`RouteVisit` out; nothing here knows the
database or the web.

The method, in order:

1. Raw position fixes become stay points by the sliding-window rule of Li et al. (2008) as
   trackintel implements it (:func:`citytrace.trajectory.staypoints.generate_staypoints`), the last
   open stay included.
2. Every piece of evidence becomes a *sighting*: a position, an interval, an uncertainty radius and,
   where it names one, a venue. Point-in-time records (a card payment, a check-in without check-out,
   a single cell sighting) get an interval from their venue kind's typical dwell time
   (:data:`DWELL_MIN`), placed around the moment as that kind of record usually is (a check-in
   or a fare opens a visit; a restaurant bill falls near its end).
3. Precise sightings (stays, place visits, check-ins, card payments) are clustered in time order: a
   sighting joins the current visit when their intervals overlap or nearly touch
   (``join_gap_min``) and it lies within ``merge_distance_m`` of the visit's position. Consecutive
   visits at one place with only silence between them (a sleeping phone) are joined.
4. Coarse telecom cell sightings corroborate the visits they overlap and contain; a long cell
   sighting that corroborates nothing becomes a low-confidence visit of its own, so that the
   investigator sees it. Visits that only a position supports and that are shorter than
   ``min_uncorroborated_min`` are dropped.
5. Each visit gets the position of its best evidence (a named venue over a GPS stay over a cell
   site), the venue named by the evidence, a confidence that grows with independent kinds of
   evidence, and is cut to the disclosure window.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from citytrace.errors import InputError
from citytrace.trajectory.staypoints import generate_staypoints

# Typical minutes spent per venue kind, used to give a point-in-time record an interval.
DWELL_MIN: dict[str, float] = {
    "restaurant": 60,
    "cafe": 40,
    "bar": 90,
    "church": 90,
    "gym": 75,
    "pc_bang": 120,
    "karaoke": 90,
    "hospital": 60,
    "pharmacy": 10,
    "mart": 25,
    "store": 20,
    "school": 360,
    "office": 480,
    "subway": 20,
    "bus": 20,
}
DEFAULT_DWELL_MIN = 30.0
# Where a payment is made on arrival (a fare, an order at the counter) rather than on leaving.
PAID_ON_ARRIVAL = frozenset({"subway", "bus", "cafe", "pc_bang", "karaoke", "gym"})

# How much one piece of evidence of each kind supports a visit on its own (0..1).
EVIDENCE_WEIGHT: dict[str, float] = {
    "checkin": 0.85,
    "card": 0.75,
    "gps": 0.7,
    "place_visit": 0.7,
    "cell": 0.3,
}
# Which evidence decides a visit's position, best first.
POSITION_RANK: dict[str, int] = {"checkin": 0, "card": 1, "place_visit": 2, "gps": 3, "cell": 4}

LocateFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class RouteParams:
    """Parameters of reconstruction; units are in the names."""

    dist_threshold_m: float = 100.0
    time_threshold_min: float = 5.0
    gap_threshold_min: float = 15.0
    merge_distance_m: float = 150.0
    join_gap_min: float = 10.0
    cell_only_min_duration_min: float = 30.0
    cell_margin_m: float = 100.0
    gps_stay_radius_m: float = 50.0
    bridge_gap_max_min: float = 240.0
    min_uncorroborated_min: float = 10.0
    dwell_min: dict[str, float] = field(default_factory=lambda: dict(DWELL_MIN))


@dataclass(frozen=True)
class Sighting:
    """One piece of evidence of presence: where, when, how precisely, and what it names."""

    kind: str
    started_at: datetime
    finished_at: datetime
    latitude: float
    longitude: float
    radius_m: float
    measured: bool  # the interval was observed, not assumed from a dwell time
    moment: datetime | None = None  # when a point-in-time record happened
    venue_id: str | None = None
    venue_name: str | None = None
    venue_kind: str | None = None
    address: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class RouteVisit:
    """A visit of the reconstructed route, with the evidence behind it."""

    started_at: datetime
    finished_at: datetime
    latitude: float
    longitude: float
    radius_m: float
    evidence_kinds: tuple[str, ...]
    evidence_count: int
    confidence: float
    venue_id: str | None = None
    venue_name: str | None = None
    venue_kind: str | None = None
    address: str | None = None
    district_code: str | None = None
    neighbourhood_code: str | None = None

    @property
    def duration_min(self) -> float:
        return (self.finished_at - self.started_at).total_seconds() / 60.0


@dataclass(frozen=True)
class DisclosureWindow:
    """From ``start`` (inclusive) until ``end`` (exclusive), both aware datetimes."""

    start: datetime
    end: datetime

    @classmethod
    def for_case(
        cls,
        *,
        symptom_onset_date: date | None,
        specimen_collected_date: date | None,
        confirmed_date: date,
        isolated_date: date | None,
        timezone: str,
        days_before: int = 2,
    ) -> DisclosureWindow:
        """The guideline's window: from ``days_before`` days before symptom onset (asymptomatic:
        before specimen collection) until isolation (or the end of the day of confirmation)."""
        anchor = symptom_onset_date or specimen_collected_date or confirmed_date
        tz = ZoneInfo(timezone)
        start = datetime.combine(anchor - timedelta(days=days_before), time(), tz)
        last_day = isolated_date or confirmed_date
        if last_day < anchor - timedelta(days=days_before):
            raise InputError(
                f"isolation date {last_day} is before the window opens "
                f"({anchor - timedelta(days=days_before)})",
                location="isolated_date",
            )
        # Isolation begins during its day; the day is kept whole because its hour is not recorded.
        end = datetime.combine(last_day + timedelta(days=1), time(), tz)
        return cls(start=start.astimezone(UTC), end=end.astimezone(UTC))


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(min(1.0, math.sqrt(a)))


def _column(table: pa.Table, name: str) -> list[object]:
    return table.column(name).to_pylist() if name in table.column_names else [None] * len(table)


def sightings_from_fixes(fixes: pa.Table, params: RouteParams) -> list[Sighting]:
    """GPS stays found in raw fixes (columns ``tracked_at, latitude, longitude``)."""
    if fixes.num_rows == 0:
        return []
    # The sliding rule drops a stay that ends in a gap (the phone switched off on arrival). For
    # a route, that stay matters: so each stretch between gaps is a track of its own, and its
    # last stay is kept, ending at the last fix before the gap.
    times = np.asarray(fixes.column("tracked_at").cast(pa.int64()), dtype=np.int64)
    gap_us = params.gap_threshold_min * 60e6
    segment = np.concatenate([[0], np.cumsum(np.diff(times) > gap_us)]).astype(np.int64)
    track = pa.table(
        {
            "user_id": pa.array(segment),
            "tracked_at": fixes.column("tracked_at"),
            "latitude": fixes.column("latitude"),
            "longitude": fixes.column("longitude"),
        }
    )
    stays = generate_staypoints(
        track,
        dist_threshold_m=params.dist_threshold_m,
        time_threshold_min=params.time_threshold_min,
        gap_threshold_min=params.gap_threshold_min,
        include_last=True,
    )
    return [
        Sighting(
            kind="gps",
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            latitude=row["latitude"],
            longitude=row["longitude"],
            radius_m=params.gps_stay_radius_m,
            measured=True,
        )
        for row in stays.to_pylist()
    ]


def _assumed_interval(
    kind: str, at: datetime, venue_kind: str | None, params: RouteParams
) -> tuple[datetime, datetime]:
    dwell = timedelta(minutes=params.dwell_min.get(venue_kind or "", DEFAULT_DWELL_MIN))
    if kind == "checkin" or (kind == "card" and venue_kind in PAID_ON_ARRIVAL):
        return at, at + dwell
    if kind == "cell":
        # A single sighting says little about how long the phone stayed.
        return at - timedelta(minutes=5), at + timedelta(minutes=5)
    # Elsewhere a payment falls late in a visit (paying on the way out).
    return at - dwell * 0.75, at + dwell * 0.25


def sightings_from_observations(observations: pa.Table, params: RouteParams) -> list[Sighting]:
    """Sightings from place visits, card payments, cell records and check-ins."""
    result: list[Sighting] = []
    rows = observations.to_pylist()
    for row in rows:
        kind = row["kind"]
        started: datetime = row["started_at"]
        finished: datetime | None = row.get("finished_at")
        venue_kind = row.get("place_kind")
        measured = finished is not None and finished > started
        moment = None if measured else started
        if finished is None or not measured:
            started, finished = _assumed_interval(kind, started, venue_kind, params)
        radius = row.get("radius_m")
        if radius is None or not math.isfinite(radius):
            radius = {"cell": 1000.0, "place_visit": 50.0}.get(kind, 30.0)
        result.append(
            Sighting(
                kind=kind,
                started_at=started,
                finished_at=finished,
                latitude=row["latitude"],
                longitude=row["longitude"],
                radius_m=float(radius),
                measured=measured,
                moment=moment,
                venue_id=row.get("place_id"),
                venue_name=row.get("place_name"),
                venue_kind=venue_kind,
                address=row.get("address"),
                confidence=row.get("confidence"),
            )
        )
    return result


@dataclass
class _Cluster:
    members: list[Sighting]
    latitude: float
    longitude: float
    started_at: datetime
    finished_at: datetime

    @classmethod
    def of(cls, s: Sighting) -> _Cluster:
        return cls([s], s.latitude, s.longitude, s.started_at, s.finished_at)

    def add(self, s: Sighting) -> None:
        self.members.append(s)
        self.started_at = min(self.started_at, s.started_at)
        self.finished_at = max(self.finished_at, s.finished_at)
        best = min(self.members, key=lambda m: POSITION_RANK.get(m.kind, 9))
        self.latitude, self.longitude = best.latitude, best.longitude


def _close_in_time(a0: datetime, a1: datetime, b0: datetime, b1: datetime, gap: timedelta) -> bool:
    return a0 <= b1 + gap and b0 <= a1 + gap


def _cluster(precise: Sequence[Sighting], params: RouteParams) -> list[_Cluster]:
    clusters: list[_Cluster] = []
    gap = timedelta(minutes=params.join_gap_min)
    for s in sorted(precise, key=lambda s: (s.started_at, s.finished_at)):
        # Compare with the last few open visits, not just the last: a payment's assumed
        # interval can start before a stay that it belongs to.
        target = None
        for c in reversed(clusters[-3:]):
            near = _haversine_m(c.latitude, c.longitude, s.latitude, s.longitude)
            if near <= params.merge_distance_m and _close_in_time(
                c.started_at, c.finished_at, s.started_at, s.finished_at, gap
            ):
                target = c
                break
        if target is None:
            clusters.append(_Cluster.of(s))
        else:
            target.add(s)
    return clusters


def _bridge(clusters: list[_Cluster], params: RouteParams) -> list[_Cluster]:
    """Join consecutive visits at one place separated only by a stretch without evidence.

    A phone that sleeps at home or at the office reports rarely; when the evidence before and
    after a silence puts the person at the same place and nothing puts them elsewhere, they
    stayed (up to ``bridge_gap_max_min``).
    """
    result: list[_Cluster] = []
    limit = timedelta(minutes=params.bridge_gap_max_min)
    for c in clusters:
        last = result[-1] if result else None
        if (
            last is not None
            and c.started_at - last.finished_at <= limit
            and _haversine_m(last.latitude, last.longitude, c.latitude, c.longitude)
            <= params.merge_distance_m
        ):
            for m in c.members:
                last.add(m)
        else:
            result.append(c)
    return result


def _visit_of(cluster: _Cluster) -> RouteVisit:
    members = cluster.members
    measured = [m for m in members if m.measured]
    if measured:
        # Assumed dwell intervals do not widen a measured visit, but the moment of a payment
        # or a check-in still proves presence then.
        started = min(m.started_at for m in measured)
        finished = max(m.finished_at for m in measured)
        for m in members:
            if m.moment is not None:
                started, finished = min(started, m.moment), max(finished, m.moment)
    else:
        started = min(m.started_at for m in members)
        finished = max(m.finished_at for m in members)
    best = min(members, key=lambda m: POSITION_RANK.get(m.kind, 9))
    named = [m for m in members if m.venue_id or m.venue_name]
    venue = Counter((m.venue_id, m.venue_name, m.venue_kind, m.address) for m in named)
    venue_id = venue_name = venue_kind = address = None
    if venue:
        venue_id, venue_name, venue_kind, address = venue.most_common(1)[0][0]
    kinds = tuple(sorted({m.kind for m in members}))
    # Independent kinds of evidence corroborate each other; more records of one kind (a stay
    # seen in pieces) do not.
    support: dict[str, float] = {}
    for m in members:
        weight = EVIDENCE_WEIGHT.get(m.kind, 0.3)
        if m.confidence is not None and m.kind == "place_visit":
            weight = min(weight, max(0.05, float(m.confidence)))
        support[m.kind] = max(support.get(m.kind, 0.0), weight)
    doubt = math.prod(1.0 - w for w in support.values())
    return RouteVisit(
        started_at=started,
        finished_at=finished,
        latitude=best.latitude,
        longitude=best.longitude,
        radius_m=best.radius_m,
        evidence_kinds=kinds,
        evidence_count=len(members),
        confidence=round(1.0 - doubt, 3),
        venue_id=venue_id,
        venue_name=venue_name,
        venue_kind=venue_kind,
        address=address,
    )


def _corroborate(
    visits: list[RouteVisit], cells: Sequence[Sighting], params: RouteParams
) -> list[RouteVisit]:
    """Add cell sightings to the visits they cover; long uncovered ones become visits."""
    result = list(visits)
    starts = np.array([v.started_at.timestamp() for v in visits])
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    for cell in cells:
        used = False
        # Only visits that start before the cell sighting ends can overlap it.
        hi = int(np.searchsorted(sorted_starts, cell.finished_at.timestamp(), side="right"))
        for idx in order[:hi]:
            v = result[idx]
            if v.finished_at < cell.started_at:
                continue
            reach = cell.radius_m + params.cell_margin_m
            if _haversine_m(v.latitude, v.longitude, cell.latitude, cell.longitude) <= reach:
                kinds = tuple(sorted(set(v.evidence_kinds) | {"cell"}))
                conf = v.confidence
                if "cell" not in v.evidence_kinds:
                    conf = 1.0 - (1.0 - conf) * (1.0 - EVIDENCE_WEIGHT["cell"] / 2)
                result[idx] = replace(
                    v,
                    evidence_kinds=kinds,
                    evidence_count=v.evidence_count + 1,
                    confidence=round(conf, 3),
                )
                used = True
        minutes = (cell.finished_at - cell.started_at).total_seconds() / 60
        if not used and minutes >= params.cell_only_min_duration_min:
            result.append(_visit_of(_Cluster.of(cell)))
    return result


def reconstruct_route(
    *,
    fixes: pa.Table | None,
    observations: pa.Table | None,
    window: DisclosureWindow | None = None,
    params: RouteParams | None = None,
    locate: LocateFn | None = None,
) -> list[RouteVisit]:
    """Merge a case's evidence into visits, in time order, cut to ``window``.

    Parameters
    ----------
    fixes
        Raw fixes with ``tracked_at`` (UTC), ``latitude``, ``longitude``, or ``None``.
    observations
        Evidence of presence with ``kind``, ``started_at``, ``finished_at`` (null for a point in
        time), ``latitude``, ``longitude``, ``radius_m``, ``place_id``, ``place_name``,
        ``place_kind``, ``address``, ``confidence``.
    window
        The disclosure window; visits are clipped to it and those outside are dropped.
    locate
        Maps arrays of latitudes and longitudes to district and neighbourhood codes.
    """
    params = params or RouteParams()
    sightings: list[Sighting] = []
    if fixes is not None and fixes.num_rows:
        sightings += sightings_from_fixes(fixes.sort_by("tracked_at"), params)
    if observations is not None and observations.num_rows:
        sightings += sightings_from_observations(observations, params)
    precise = [s for s in sightings if s.kind != "cell"]
    cells = [s for s in sightings if s.kind == "cell"]
    visits = [_visit_of(c) for c in _bridge(_cluster(precise, params), params)]
    visits = _corroborate(visits, cells, params)
    # A short stop that nothing but a position supports is most often a traffic light.
    weak = {"gps", "cell"}
    visits = [
        v
        for v in visits
        if not set(v.evidence_kinds) <= weak or v.duration_min >= params.min_uncorroborated_min
    ]
    if window is not None:
        visits = [
            replace(
                v,
                started_at=max(v.started_at, window.start),
                finished_at=min(v.finished_at, window.end),
            )
            for v in visits
            if v.finished_at > window.start and v.started_at < window.end
        ]
    visits.sort(key=lambda v: (v.started_at, v.finished_at))
    if locate is not None and visits:
        districts, hoods = locate(
            np.array([v.latitude for v in visits]), np.array([v.longitude for v in visits])
        )
        visits = [
            replace(v, district_code=d, neighbourhood_code=n)
            for v, d, n in zip(visits, districts, hoods, strict=True)
        ]
    return visits


def visits_table(visits: Sequence[RouteVisit]) -> pa.Table:
    """The visits as an Arrow table (for export and scoring)."""
    ts = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "started_at": pa.array([v.started_at for v in visits], ts),
            "finished_at": pa.array([v.finished_at for v in visits], ts),
            "latitude": pa.array([v.latitude for v in visits], pa.float64()),
            "longitude": pa.array([v.longitude for v in visits], pa.float64()),
            "confidence": pa.array([v.confidence for v in visits], pa.float64()),
            "venue_id": pa.array([v.venue_id for v in visits], pa.string()),
            "evidence_kinds": pa.array([",".join(v.evidence_kinds) for v in visits], pa.string()),
        }
    )


__all__ = [
    "DWELL_MIN",
    "DisclosureWindow",
    "RouteParams",
    "RouteVisit",
    "Sighting",
    "reconstruct_route",
    "visits_table",
]
