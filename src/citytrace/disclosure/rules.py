"""The disclosure rules as a pure library: which visits may become public places, how visits of
several cases at one place merge into one entry, and how times are generalised.

Korea's statutory guideline of 2020-10-07 (following KCDC guidance of 2020-03): within the
window from 2 days before symptom onset (asymptomatic: specimen collection) until isolation,
publish a list of places (never per-person routes, never a case number), never a residence, a
workplace only when many unknown people may have been exposed there; no separate disinfection
note for visits older than 7 days; after the Itaewon cluster (2020-05) a business is named only
once, for the first linked case. Plain data in and out: no ORM, no web; inputs are not mutated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from citytrace.errors import InputError
from citytrace.geo import haversine_m

__all__ = [
    "RESIDENCE_KINDS",
    "TRANSPORT_KINDS",
    "WORKPLACE_KINDS",
    "DraftGroup",
    "Skip",
    "VisitFacts",
    "classify",
    "disinfection_applies",
    "generalise_window",
    "group_visits",
    "normalise_address",
    "same_place",
]

RESIDENCE_KINDS = frozenset({"home", "residence", "house", "apartment", "dormitory"})
"""Kinds of place that are someone's home: never published."""
WORKPLACE_KINDS = frozenset({"office", "workplace", "factory", "warehouse"})
"""Kinds of place that are someone's workplace: published only on a possible mass exposure."""
TRANSPORT_KINDS = frozenset({"subway", "bus", "train", "ferry", "airport_bus"})
"""Public transport: published with line, car, boarding and alighting where known; its
passengers can never all be identified."""
OTHER_KIND = "other"


class Skip(StrEnum):
    """Why a visit does not become (part of) an entry."""

    NOT_REVIEWED = "not_reviewed"
    OUTSIDE_WINDOW = "outside_window"
    RESIDENCE = "residence"
    NO_PLACE = "no_place"
    ALREADY_DRAFTED = "already_drafted"
    EXPIRED = "expired"


SKIP_TEXT: dict[Skip, str] = {
    Skip.NOT_REVIEWED: "not confirmed by an investigator",
    Skip.OUTSIDE_WINDOW: "outside the case's disclosure window",
    Skip.RESIDENCE: "a residence is never published",
    Skip.NO_PLACE: "no district and no address: the place cannot be named",
    Skip.ALREADY_DRAFTED: "already part of an entry",
    Skip.EXPIRED: "more than the published-place retention after it ended: nothing to publish",
}


@dataclass(frozen=True)
class VisitFacts:
    """One reviewed visit of a case, as the rules need it."""

    visit_id: int
    case_id: int
    started_at: datetime
    finished_at: datetime
    latitude: float
    longitude: float
    district_code: str | None = None
    venue_id: str | None = None
    venue_name: str | None = None
    venue_kind: str | None = None
    address: str | None = None

    @property
    def kind(self) -> str:
        return (self.venue_kind or OTHER_KIND).strip().lower() or OTHER_KIND


def classify(
    visit: VisitFacts, *, window_start: datetime, window_end: datetime, confirmed: bool = True
) -> Skip | None:
    """Why ``visit`` may not be drafted, or None when it may (a workplace may, pending the
    officer's mark of a possible mass exposure)."""
    if not confirmed:
        return Skip.NOT_REVIEWED
    if visit.finished_at <= window_start or visit.started_at >= window_end:
        return Skip.OUTSIDE_WINDOW
    if visit.kind in RESIDENCE_KINDS:
        return Skip.RESIDENCE
    if not visit.district_code and not (visit.address or "").strip():
        return Skip.NO_PLACE
    return None


def _check_step(step_min: int) -> None:
    if not isinstance(step_min, int) or isinstance(step_min, bool) or not 1 <= step_min <= 1440:
        raise InputError("must be a whole number of minutes in 1..1440", location="time_step_min")


def generalise_window(
    start: datetime, end: datetime, *, step_min: int, timezone: str
) -> tuple[datetime, datetime]:
    """``start`` floored and ``end`` ceiled to ``step_min`` minutes counted from local midnight
    (so that a step of a day gives whole local days); both returned in UTC."""
    _check_step(step_min)
    if start.tzinfo is None or end.tzinfo is None:
        raise InputError("times must be timezone-aware", location="exposure")
    if end < start:
        raise InputError("the window ends before it starts", location="exposure")
    zone = ZoneInfo(timezone)
    step = timedelta(minutes=step_min)

    def floor(moment: datetime) -> datetime:
        local = moment.astimezone(zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        steps = (local - midnight) // step
        return (midnight + steps * step).astimezone(UTC)

    lo = floor(start)
    hi = floor(end)
    if hi < end:
        hi = (hi.astimezone(zone) + step).astimezone(UTC)
    if hi == lo:
        hi = (lo.astimezone(zone) + step).astimezone(UTC)
    return lo, hi


def disinfection_applies(exposure_end: datetime, now: datetime, *, days: int = 7) -> bool:
    """Whether an entry needs a disinfection note: not for exposures older than ``days``."""
    return now - exposure_end <= timedelta(days=days)


def normalise_address(address: str | None) -> str:
    return " ".join((address or "").split()).casefold()


def _name(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def same_place(a: VisitFacts, b: VisitFacts, *, distance_m: float) -> bool:
    """Whether two visits are at one place: the same venue, the same road address, or (neither
    naming a different venue) within ``distance_m`` of each other."""
    if a.venue_id and b.venue_id:
        return a.venue_id == b.venue_id
    address_a, address_b = normalise_address(a.address), normalise_address(b.address)
    if address_a and address_b and address_a == address_b:
        return _name(a.venue_name) == _name(b.venue_name) or not (a.venue_name and b.venue_name)
    if a.venue_name and b.venue_name and _name(a.venue_name) != _name(b.venue_name):
        return False
    if a.kind != b.kind:
        return False
    gap = float(haversine_m(a.latitude, a.longitude, b.latitude, b.longitude))
    return gap <= distance_m


@dataclass
class DraftGroup:
    """Visits (of one or more cases) at one place in overlapping or adjacent windows."""

    visits: list[VisitFacts] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return min(v.started_at for v in self.visits)

    @property
    def end(self) -> datetime:
        return max(v.finished_at for v in self.visits)

    @property
    def case_ids(self) -> frozenset[int]:
        return frozenset(v.case_id for v in self.visits)


def windows_touch(
    a: tuple[datetime, datetime], b: tuple[datetime, datetime], *, step_min: int, timezone: str
) -> bool:
    """Whether two windows overlap or touch once generalised to ``step_min``."""
    ga = generalise_window(*a, step_min=step_min, timezone=timezone)
    gb = generalise_window(*b, step_min=step_min, timezone=timezone)
    return ga[0] <= gb[1] and gb[0] <= ga[1]


def group_visits(
    visits: Sequence[VisitFacts], *, distance_m: float, step_min: int, timezone: str
) -> list[DraftGroup]:
    """Group visits into entries: one group per place and run of overlapping or adjacent
    (generalised) windows, whichever case they come from. Groups come in order of start, then
    place; each group's visits in order of start."""
    ordered = sorted(visits, key=lambda v: (v.started_at, v.visit_id))
    parent = list(range(len(ordered)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(ordered):
        for j in range(i + 1, len(ordered)):
            b = ordered[j]
            if not same_place(a, b, distance_m=distance_m):
                continue
            if windows_touch(
                (a.started_at, a.finished_at),
                (b.started_at, b.finished_at),
                step_min=step_min,
                timezone=timezone,
            ):
                parent[find(j)] = find(i)
    groups: dict[int, DraftGroup] = {}
    for i, visit in enumerate(ordered):
        groups.setdefault(find(i), DraftGroup()).visits.append(visit)
    return sorted(groups.values(), key=lambda g: (g.start, g.visits[0].visit_id))


def centre(visits: Sequence[VisitFacts]) -> tuple[float, float]:
    """The mean position of visits (they are within metres of each other)."""
    lat = sum(v.latitude for v in visits) / len(visits)
    lon = sum(v.longitude for v in visits) / len(visits)
    return lat, lon


def most_common(values: Sequence[str | None]) -> str | None:
    """The most frequent non-empty value (the first seen on a tie), or None."""
    counts: dict[str, int] = {}
    for value in values:
        if value and value.strip():
            counts[value.strip()] = counts.get(value.strip(), 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda v: counts[v])


def equivalent_radius_m(area_km2: float) -> float:
    """The radius of a circle of ``area_km2`` (a district's area as a circle), in metres."""
    return math.sqrt(max(area_km2, 0.0) / math.pi) * 1000.0
