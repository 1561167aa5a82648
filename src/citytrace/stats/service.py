"""Aggregates over cases: counts, the epidemic curve, clusters linked by transmission and the
time from registration to disclosure; nothing here returns a row about one person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.cases.models import Case, CaseStatus
from citytrace.contacts import transmission
from citytrace.disclosure.models import DisclosureEntry, DisclosureSource
from citytrace.errors import InputError


@dataclass(frozen=True)
class CaseCount:
    district_code: str | None
    status: CaseStatus
    cases: int


def case_counts(*, session: Session) -> list[CaseCount]:
    """The number of cases per district and status, ordered by district."""
    query = (
        select(Case.district_code, Case.status, func.count())
        .group_by(Case.district_code, Case.status)
        .order_by(Case.district_code, Case.status)
    )
    return [CaseCount(district_code=d, status=s, cases=n) for d, s, n in session.execute(query)]


# --- the outbreak picture --------------------------------------------------------------------


@dataclass(frozen=True)
class CurveDay:
    day: date
    cases: int
    mean_7d: float  # of this day and the six before


MAX_CURVE_DAYS = 3660  # ten years a curve at most: a mistyped year must not make millions of days


def epidemic_curve(
    *,
    session: Session,
    by: str = "confirmed",
    district_code: str | None = None,
    start: date | None = None,
    end: date | None = None,
    last_days: int | None = None,
) -> list[CurveDay]:
    """Cases a day by confirmation (``by="confirmed"``) or by symptom onset (``"onset"``: cases
    without one are left out), every day from ``start`` to ``end`` (default: the first and last
    with a case; ``last_days``: at most that many days up to ``end``), with the mean of the seven
    days ending on each.

    Raises
    ------
    InputError
        When the days would be more than :data:`MAX_CURVE_DAYS` (a date far off, such as a
        mistyped year, among the cases): the error names the span, for ``start`` and ``end``.
    """
    column = Case.confirmed_date if by == "confirmed" else Case.symptom_onset_date
    query = select(column, func.count()).where(column.is_not(None)).group_by(column)
    if district_code is not None:
        query = query.where(Case.district_code == district_code)
    counts: dict[date, int] = {d: n for d, n in session.execute(query).all() if d is not None}
    if not counts and (end is None or (start is None and last_days is None)):
        return []
    last = end or max(counts)
    if start is not None:
        first = start
    elif last_days is not None:
        first = last - timedelta(days=last_days - 1)
        first = max(first, min(counts)) if counts else first
    else:
        first = min(counts)
    n_days = (last - first).days + 1
    if n_days > MAX_CURVE_DAYS:
        raise InputError(
            f"the curve would have {n_days:,} days, from {first} to {last}: ask for at most "
            f"{MAX_CURVE_DAYS:,} days with a first and a last day",
            location="from",
        )
    days = [first + timedelta(days=i) for i in range(max(n_days, 0))]
    return [
        CurveDay(
            day=d,
            cases=counts.get(d, 0),
            mean_7d=sum(counts.get(d - timedelta(days=k), 0) for k in range(7)) / 7,
        )
        for d in days
    ]


@dataclass(frozen=True)
class Cluster:
    cases: int
    links: int  # a contact of one case confirmed as another
    generations: int  # cases in the longest chain of links
    first_confirmed: date
    last_confirmed: date
    districts: dict[str, int]  # cases by district ("" where none)


def clusters(*, session: Session, min_cases: int = 2) -> list[Cluster]:
    """Cases linked by transmission (:mod:`citytrace.contacts.transmission`: case B is linked
    from case A when B's person is a contact of A, confirmed on or after the day of their first
    contact). Linked cases form a cluster; each is described by counts only. Largest first."""
    links = transmission.all_links(session=session)
    members = [g for g in transmission.clusters_of(links) if len(g) >= min_cases]
    ids = [c for g in members for c in g]
    rows = {
        c.id: (c.confirmed_date, c.district_code or "")
        for c in session.scalars(select(Case).where(Case.id.in_(ids)))
    } if ids else {}  # fmt: skip
    found = []
    for group in members:
        inside = set(group)
        own = {(a, b) for a, b in links if a in inside}
        days = [rows[c][0] for c in group]
        districts: dict[str, int] = {}
        for c in group:
            districts[rows[c][1]] = districts.get(rows[c][1], 0) + 1
        found.append(
            Cluster(
                cases=len(group),
                links=len(own),
                generations=max(
                    transmission.generations(group, own, {c: rows[c][0] for c in group}).values()
                ),
                first_confirmed=min(days),
                last_confirmed=max(days),
                districts=dict(sorted(districts.items())),
            )
        )
    found.sort(key=lambda c: (-c.cases, c.first_confirmed))
    return found


@dataclass(frozen=True)
class Timeliness:
    district_code: str | None
    cases: int  # with a place published from their route
    median_hours: float
    p90_hours: float


def timeliness(*, session: Session) -> list[Timeliness]:
    """Hours from a case's registration to the first publication of a place drawn from its
    route, per district of the case (and for all, ``district_code`` None, first)."""
    first = (
        select(DisclosureSource.case_id, func.min(DisclosureEntry.published_at).label("at"))
        .join(DisclosureEntry, DisclosureEntry.id == DisclosureSource.entry_id)
        .where(DisclosureEntry.published_at.is_not(None))
        .group_by(DisclosureSource.case_id)
        .subquery()
    )
    rows = session.execute(
        select(Case.district_code, Case.created_at, first.c.at).join(
            first, first.c.case_id == Case.id
        )
    ).all()
    by_district: dict[str | None, list[float]] = {}
    for district, registered, published in rows:
        hours = max((published - registered).total_seconds() / 3600, 0.0)
        by_district.setdefault(district, []).append(hours)
        if district is not None:
            by_district.setdefault(None, []).append(hours)
    return [
        Timeliness(
            district_code=d,
            cases=len(h),
            median_hours=round(float(np.median(h)), 2),
            p90_hours=round(float(np.percentile(h, 90)), 2),
        )
        for d, h in sorted(by_district.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
    ]
