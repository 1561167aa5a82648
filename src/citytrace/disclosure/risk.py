"""Re-identification risk of the public place list, checked before anything is published.

A pure library: plain data in, plain data out; no ORM, no web; inputs are not mutated.

Three measures per entry, and a summary of the list:

* **k-anonymity** (Sweeney 2002): ``k`` is the number of distinct people that the city's records
  place around the entry's place during its published (generalised) window: within a few metres
  of a named business, within a block of a bare road address, anywhere in the district of an
  entry coarsened to its district. A patient is hidden among ``k`` people; below ``min_k`` the
  entry is **blocked** until generalised (a wider time step, no business name, district only) or
  overridden with a recorded justification. Without population data ``k`` is unknown and the
  entry is blocked in the same way.
* **Linkability**: the entries whose sources are one single case could be put together into that
  person's route. Four place-time points single out 95% of people among 1.5 million (de Montjoye
  et al. 2013, "Unique in the Crowd", Sci. Rep. 3:1376); 93% even among 60 million (Farzanehfar
  et al. 2021). ``link_points`` or more such entries of one case are a **warning** on each.
* **Uniqueness of what is shown**: a business name with a narrow window at a place few people
  visit reads as "the one customer at that hour": a **warning** (k under twice ``min_k``, window
  at most ``narrow_window_min``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Assessment",
    "EntryFacts",
    "ListRisk",
    "Reason",
    "RiskPolicy",
    "assess",
    "summarise",
]


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BLOCKED = "blocked"


class Code(StrEnum):
    LOW_K = "low_k"
    NO_POPULATION = "no_population"
    LINKABLE = "linkable"
    UNIQUE_FIELDS = "unique_fields"
    OVERRIDDEN = "overridden"


@dataclass(frozen=True)
class RiskPolicy:
    """Thresholds of the check (the defaults are the service's settings' defaults)."""

    min_k: int = 5
    link_points: int = 4
    narrow_window_min: float = 60.0

    def __post_init__(self) -> None:
        if self.min_k < 1:
            raise ValueError("min_k must be at least 1")
        if self.link_points < 2:
            raise ValueError("link_points must be at least 2")


@dataclass(frozen=True)
class EntryFacts:
    """What the check needs of one entry.

    Attributes
    ----------
    key
        The entry's id.
    case_keys
        Opaque ids of the cases the entry was drawn from (never shown).
    k
        People the records place around it in its window; None when there are no records.
    business_named
        Whether the entry shows a business name.
    window_min
        Length of the published window, in minutes.
    overridden
        Whether an officer recorded a justification to publish despite a block.
    """

    key: int
    case_keys: frozenset[int]
    k: int | None
    business_named: bool
    window_min: float
    overridden: bool = False


@dataclass(frozen=True)
class Reason:
    """One finding, with what it was computed from."""

    code: Code
    blocking: bool
    params: Mapping[str, int | float] = field(default_factory=dict)

    def text(self) -> str:
        """The finding in English (pages translate ``code`` with ``params``)."""
        p = self.params
        if self.code is Code.LOW_K:
            return (
                f"only {p['k']} people in the city's records were around this place in this "
                f"window (at least {p['min_k']} needed): widen the window, drop the business "
                "name or show the district only, or override with a justification"
            )
        if self.code is Code.NO_POPULATION:
            return (
                "no population data: the city's records are not loaded, so how many people "
                "were there is unknown; publishing needs a recorded justification"
            )
        if self.code is Code.LINKABLE:
            return (
                f"{p['points']} entries come from one case alone: together they form one "
                f"person's route, and {p['limit']} place-time points single out 95% of people "
                "(de Montjoye et al. 2013)"
            )
        if self.code is Code.UNIQUE_FIELDS:
            return (
                f"a business name with a window of {p['window_min']:g} minutes at a place "
                f"where the records show {p['k']} people can single out a visitor"
            )
        return "published despite the risk, with a recorded justification"

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code.value, "blocking": self.blocking, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Reason:
        params = data.get("params") or {}
        assert isinstance(params, Mapping)
        return cls(
            code=Code(str(data["code"])),
            blocking=bool(data.get("blocking")),
            params={str(k): v for k, v in params.items() if isinstance(v, int | float)},
        )


@dataclass(frozen=True)
class Assessment:
    """The risk of one entry: its level, ``k``, and every reason found."""

    key: int
    level: Level
    k: int | None
    reasons: tuple[Reason, ...]

    @property
    def blocked(self) -> bool:
        return self.level is Level.BLOCKED


@dataclass(frozen=True)
class ListRisk:
    """The list as a whole."""

    entries: int
    blocked: int
    warnings: int
    min_k: int | None
    unknown_k: int
    linkable_cases: int  # cases with ``link_points`` or more entries of their own


def _minutes(value: float) -> int | float:
    rounded = round(float(value), 1)
    return int(rounded) if rounded.is_integer() else rounded


def assess(entries: Sequence[EntryFacts], policy: RiskPolicy | None = None) -> list[Assessment]:
    """The risk of each entry, in the order given; linkability is judged over all of them."""
    policy = policy or RiskPolicy()
    alone: dict[int, int] = defaultdict(int)
    for entry in entries:
        if len(entry.case_keys) == 1:
            alone[next(iter(entry.case_keys))] += 1
    results = []
    for entry in entries:
        reasons: list[Reason] = []
        if entry.k is None:
            reasons.append(Reason(Code.NO_POPULATION, blocking=True))
        elif entry.k < policy.min_k:
            reasons.append(
                Reason(Code.LOW_K, blocking=True, params={"k": entry.k, "min_k": policy.min_k})
            )
        if len(entry.case_keys) == 1:
            points = alone[next(iter(entry.case_keys))]
            if points >= policy.link_points:
                reasons.append(
                    Reason(
                        Code.LINKABLE,
                        blocking=False,
                        params={"points": points, "limit": policy.link_points},
                    )
                )
        if (
            entry.business_named
            and entry.k is not None
            and entry.k < 2 * policy.min_k
            and entry.window_min <= policy.narrow_window_min
        ):
            reasons.append(
                Reason(
                    Code.UNIQUE_FIELDS,
                    blocking=False,
                    params={"k": entry.k, "window_min": _minutes(entry.window_min)},
                )
            )
        blocking = any(r.blocking for r in reasons)
        if blocking and entry.overridden:
            reasons.append(Reason(Code.OVERRIDDEN, blocking=False))
            level = Level.WARNING
        elif blocking:
            level = Level.BLOCKED
        elif reasons:
            level = Level.WARNING
        else:
            level = Level.OK
        results.append(Assessment(key=entry.key, level=level, k=entry.k, reasons=tuple(reasons)))
    return results


def summarise(
    assessments: Sequence[Assessment],
    entries: Sequence[EntryFacts],
    policy: RiskPolicy | None = None,
) -> ListRisk:
    """The list's risk: how many entries are blocked or warned, the smallest ``k``, and how many
    cases could be followed through ``link_points`` or more entries of their own."""
    policy = policy or RiskPolicy()
    known = [a.k for a in assessments if a.k is not None]
    alone: dict[int, int] = defaultdict(int)
    for entry in entries:
        if len(entry.case_keys) == 1:
            alone[next(iter(entry.case_keys))] += 1
    return ListRisk(
        entries=len(assessments),
        blocked=sum(1 for a in assessments if a.level is Level.BLOCKED),
        warnings=sum(1 for a in assessments if a.level is Level.WARNING),
        min_k=min(known) if known else None,
        unknown_k=sum(1 for a in assessments if a.k is None),
        linkable_cases=sum(1 for n in alone.values() if n >= policy.link_points),
    )
