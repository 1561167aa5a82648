"""Validation on Korea's real disclosures of early 2020 (DS4C: PatientInfo and PatientRoute).

DS4C (Kim et al., "Data Science for COVID-19", CC BY-NC-SA 4.0) compiled the patients and routes
that KCDC and the local governments published in January-April 2020: per patient the sex, age,
birth year, nationality, province and district, and a route of dated places. This module sets
that publication beside what citytrace's rules (:mod:`citytrace.disclosure.rules`) would have
published from the same routes, and writes the comparison as a report::

    python -m citytrace.disclosure.ds4c --data-dir ../shared/data --output docs/disclosure-ds4c.md

The data stay where they are (``--data-dir`` or ``CITYTRACE_DATA_DIR``, holding ``ds4c/``);
the report holds aggregate figures only.

Measures of the original publication:

* uniqueness on the quasi-identifiers, over the whole PatientInfo table: the share of patients
  alone in their equivalence class (k = 1), and with k < 5;
* the same with 1 to 4 points of their route added (a point is a published place and day):
  following de Montjoye et al. (2013), for each patient with at least p points, p of them drawn
  at random (seed 7), and the patients whose published record matches on the quasi-identifiers
  and whose route holds those p points are counted.

citytrace's run: each route row is a visit of that day (DS4C has dates, no times: a visit is the
whole local day). Per patient, at the moment the route would have been drafted (the day after
confirmation), :func:`~citytrace.disclosure.rules.classify` drops visits outside the disclosure
window (from 2 days before symptom onset, or before confirmation when no onset is known, until
the end of the confirmation day, taken as isolation) and residences, and visits whose last
contact is older than the published-place retention (14 days) are not drafted;
:func:`~citytrace.disclosure.rules.group_visits` merges visits of several patients at one place
(the same kind within the merge distance, windows touching once generalised); each entry expires
14 days after its last contact. The entries are rendered by the open-data feed
(:func:`citytrace.disclosure.feed.render_records`), so the checks run on what would be served.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from citytrace.disclosure import feed, risk, rules
from citytrace.disclosure.models import EntryStatus
from citytrace.disclosure.risk import RiskPolicy
from citytrace.errors import InputError
from citytrace.geo import load_city

__all__ = [
    "Ds4cData",
    "Patient",
    "RoutePoint",
    "Run",
    "load",
    "main",
    "report",
    "run_rules",
]

TIMEZONE = "Asia/Seoul"
ZONE = ZoneInfo(TIMEZONE)
SEED = 7
SNAPSHOT = datetime(2020, 5, 1, 0, 0, tzinfo=ZONE)
"""The data's last change (2020-05-01): what each publication showed on that day."""
RETENTION_DAYS = 14
STEP_MIN = 30
MERGE_M = 30.0
WINDOW_DAYS_BEFORE_ONSET = 2
MAX_POINTS = 4
PATIENT_COLUMNS = ("patient_id", "sex", "birth_year", "age", "country", "province", "city")
ROUTE_COLUMNS = ("patient_id", "date", "province", "city", "type", "latitude", "longitude")
# DS4C's kinds of place, as citytrace names them.
KINDS = {"etc": "other", "pc_cafe": "pc_bang"}


@dataclass(frozen=True)
class Patient:
    """One row of PatientInfo: what was published of a patient."""

    patient_id: str
    sex: str
    age: str
    birth_year: str
    country: str
    province: str
    city: str
    onset: date | None
    confirmed: date | None


@dataclass(frozen=True)
class RoutePoint:
    """One row of PatientRoute: a place a patient visited on a day."""

    line: int
    patient_id: str
    day: date
    province: str
    city: str
    kind: str
    latitude: float
    longitude: float

    @property
    def point(self) -> tuple[date, float, float]:
        """The place and day as published (what an observer can match)."""
        return (self.day, self.latitude, self.longitude)


@dataclass(frozen=True)
class Ds4cData:
    patients: tuple[Patient, ...]
    routes: tuple[RoutePoint, ...]


def _date(value: str, *, path: Path, line: int, column: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"{column} {value!r} is not a date", path=str(path), location=f"line {line}"
        ) from None


def _rows(path: Path, columns: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    try:
        handle = open(path, newline="", encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        raise InputError("file not found", path=str(path)) from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise InputError(
                f"missing columns {', '.join(missing)}", path=str(path), location="line 1"
            )
        for row in reader:
            yield reader.line_num, row


def load(data_dir: Path) -> Ds4cData:
    """PatientInfo and PatientRoute from ``data_dir`` (the folder holding ``ds4c/``, or
    ``ds4c/`` itself). Raises :class:`InputError` naming the file and line of a bad row."""
    folder = data_dir / "ds4c" if (data_dir / "ds4c").is_dir() else data_dir
    info, route = folder / "PatientInfo.csv", folder / "PatientRoute.csv"
    patients = []
    for line, row in _rows(info, PATIENT_COLUMNS):
        if not row["patient_id"].strip():
            raise InputError("patient_id is empty", path=str(info), location=f"line {line}")
        patients.append(
            Patient(
                patient_id=row["patient_id"].strip(),
                sex=row["sex"].strip(),
                age=row["age"].strip(),
                birth_year=row["birth_year"].strip(),
                country=row["country"].strip(),
                province=row["province"].strip(),
                city=row["city"].strip(),
                onset=_date(
                    row["symptom_onset_date"], path=info, line=line, column="symptom_onset_date"
                ),
                confirmed=_date(
                    row["confirmed_date"], path=info, line=line, column="confirmed_date"
                ),
            )
        )
    known = {p.patient_id for p in patients}
    points = []
    for line, row in _rows(route, ROUTE_COLUMNS):
        day = _date(row["date"], path=route, line=line, column="date")
        try:
            lat, lon = float(row["latitude"]), float(row["longitude"])
        except ValueError:
            raise InputError(
                "latitude/longitude are not numbers", path=str(route), location=f"line {line}"
            ) from None
        if day is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(
                "no date, or a position out of range", path=str(route), location=f"line {line}"
            )
        if row["patient_id"].strip() not in known:
            raise InputError(
                f"patient {row['patient_id']!r} is not in PatientInfo",
                path=str(route),
                location=f"line {line}",
            )
        points.append(
            RoutePoint(
                line=line,
                patient_id=row["patient_id"].strip(),
                day=day,
                province=row["province"].strip(),
                city=row["city"].strip(),
                kind=row["type"].strip().lower() or "etc",
                latitude=lat,
                longitude=lon,
            )
        )
    return Ds4cData(patients=tuple(patients), routes=tuple(points))


# --- the original publication ----------------------------------------------------------------


@dataclass(frozen=True)
class ClassStats:
    """Equivalence classes of a set of records on some attributes."""

    records: int
    unique: int  # alone in their class (k = 1)
    below_5: int  # in a class of fewer than 5

    @property
    def unique_share(self) -> float:
        return self.unique / self.records if self.records else 0.0

    @property
    def below_5_share(self) -> float:
        return self.below_5 / self.records if self.records else 0.0


QUASI_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "sex, age (decade), district": ("sex", "age", "province", "city"),
    "sex, birth year, nationality, district": ("sex", "birth_year", "country", "province", "city"),
}


def classes(patients: Sequence[Patient], attributes: Sequence[str]) -> ClassStats:
    """k-anonymity over ``attributes`` (an empty value is a value: it was published as such)."""
    keys = [tuple(getattr(p, a) for a in attributes) for p in patients]
    sizes = Counter(keys)
    return ClassStats(
        records=len(keys),
        unique=sum(1 for k in keys if sizes[k] == 1),
        below_5=sum(1 for k in keys if sizes[k] < 5),
    )


def route_uniqueness(
    patients: Sequence[Patient],
    routes: Sequence[RoutePoint],
    *,
    points: int,
    attributes: Sequence[str],
    seed: int = SEED,
) -> ClassStats:
    """Patients singled out by ``points`` random published points of their route together with
    ``attributes`` (de Montjoye et al. 2013); over the patients with at least that many."""
    by_patient: dict[str, set[tuple[date, float, float]]] = defaultdict(set)
    for r in routes:
        by_patient[r.patient_id].add(r.point)
    holders: dict[tuple[date, float, float], set[str]] = defaultdict(set)
    for pid, pts in by_patient.items():
        for pt in pts:
            holders[pt].add(pid)
    info = {p.patient_id: tuple(getattr(p, a) for a in attributes) for p in patients}
    rng = random.Random(seed)  # noqa: S311 (a reproducible sample, not a secret)
    records = unique = below_5 = 0
    for pid in sorted(by_patient):
        route = sorted(by_patient[pid])
        if len(route) < points:
            continue
        chosen = rng.sample(route, points)
        matching = set.intersection(*(holders[pt] for pt in chosen))
        k = sum(1 for other in matching if info[other] == info[pid])
        records += 1
        unique += k == 1
        below_5 += k < 5
    return ClassStats(records=records, unique=unique, below_5=below_5)


# --- citytrace's run -------------------------------------------------------------------------


@dataclass
class Entry:
    """One entry citytrace would publish (the feed's :class:`~feed.EntryLike`), with the cases it
    came from kept aside for the report's counts (never rendered)."""

    public_id: str
    district_code: str
    place_kind: str
    latitude: float
    longitude: float
    exposure_start: datetime
    exposure_end: datetime
    last_contact_at: datetime
    expires_at: datetime
    published_at: datetime
    updated_at: datetime
    version: int = 1
    status: EntryStatus = EntryStatus.PUBLISHED
    business_name: str | None = None
    road_address: str | None = None
    disinfected: bool | None = None
    notes: str = ""
    transport_line: str | None = None
    transport_car: str | None = None
    boarding_stop: str | None = None
    boarding_at: datetime | None = None
    alighting_stop: str | None = None
    alighting_at: datetime | None = None
    corrected_at: datetime | None = None
    correction_note: str | None = None
    withdrawal_reason: str | None = None
    case_keys: frozenset[int] = field(default=frozenset(), repr=False)


@dataclass
class Run:
    """What citytrace's rules make of the routes."""

    visits: int
    patients_with_routes: int
    skipped: Counter[str]
    drafted: int
    entries: list[Entry]

    def visible_at(self, moment: datetime) -> list[Entry]:
        """The entries the public list shows at ``moment``."""
        return [e for e in self.entries if e.published_at <= moment < e.expires_at]


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZONE).astimezone(UTC)


def _district_codes() -> dict[str, str]:
    city = load_city("seoul")
    return {a.name_en.lower(): a.code for a in city.districts}


def run_rules(
    data: Ds4cData,
    *,
    step_min: int = STEP_MIN,
    merge_m: float = MERGE_M,
    retention_days: int = RETENTION_DAYS,
    seed: int = SEED,
) -> Run:
    """Draft, merge and date every route as citytrace's rules do (see the module's text)."""
    patients = {p.patient_id: p for p in data.patients}
    seoul = _district_codes()
    retention = timedelta(days=retention_days)
    skipped: Counter[str] = Counter()
    kept: list[rules.VisitFacts] = []
    published_at: dict[int, datetime] = {}
    case_ids = {pid: i for i, pid in enumerate(sorted({r.patient_id for r in data.routes}))}
    for r in data.routes:
        patient = patients[r.patient_id]
        if patient.confirmed is None:
            skipped["no confirmation date: no window"] += 1
            continue
        opens = (patient.onset or patient.confirmed) - timedelta(days=WINDOW_DAYS_BEFORE_ONSET)
        window_start = _local_midnight(opens)
        window_end = _local_midnight(patient.confirmed + timedelta(days=1))
        drafted_at = window_end  # the route is drafted the day after confirmation
        district = seoul.get(r.city.lower()) if r.province == "Seoul" else None
        visit = rules.VisitFacts(
            visit_id=r.line,
            case_id=case_ids[r.patient_id],
            started_at=_local_midnight(r.day),
            finished_at=_local_midnight(r.day + timedelta(days=1)),
            latitude=r.latitude,
            longitude=r.longitude,
            district_code=district or f"{r.province} {r.city}".strip(),
            venue_kind=KINDS.get(r.kind, r.kind),
        )
        reason = rules.classify(visit, window_start=window_start, window_end=window_end)
        if reason is None and visit.finished_at + retention <= drafted_at:
            reason = rules.Skip.EXPIRED
        if reason is not None:
            skipped[rules.SKIP_TEXT[reason]] += 1
            continue
        kept.append(visit)
        published_at[visit.visit_id] = drafted_at
    groups = _group(kept, merge_m=merge_m, step_min=step_min)
    rng = random.Random(seed)  # noqa: S311 (reproducible ids for a report, not secrets)
    entries = []
    for group in groups:
        start, end = rules.generalise_window(
            group.start, group.end, step_min=step_min, timezone=TIMEZONE
        )
        lat, lon = rules.centre(group.visits)
        first = min(published_at[v.visit_id] for v in group.visits)
        last = max(published_at[v.visit_id] for v in group.visits)
        kinds = Counter(v.kind for v in group.visits)
        entries.append(
            Entry(
                public_id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                district_code=str(group.visits[0].district_code),
                place_kind=kinds.most_common(1)[0][0],
                latitude=lat,
                longitude=lon,
                exposure_start=start,
                exposure_end=end,
                last_contact_at=group.end,
                expires_at=group.end + retention,
                published_at=first,
                updated_at=last,
                case_keys=group.case_ids,
            )
        )
    entries.sort(key=lambda e: (e.district_code, e.exposure_start, e.place_kind, e.public_id))
    return Run(
        visits=len(data.routes),
        patients_with_routes=len(case_ids),
        skipped=skipped,
        drafted=len(kept),
        entries=entries,
    )


def _group(
    visits: Sequence[rules.VisitFacts], *, merge_m: float, step_min: int
) -> list[rules.DraftGroup]:
    """:func:`rules.group_visits`, run on each cluster of visits that could be one place (same
    kind, chained within ``merge_m``), so that it never compares places kilometres apart."""
    cell_deg = merge_m / 111_000.0 * 2  # a cell wider than the merge distance, in latitude
    parent = list(range(len(visits)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cells: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for i, v in enumerate(visits):
        cells[(v.kind, int(v.latitude // cell_deg), int(v.longitude // cell_deg))].append(i)
    for (kind, y, x), members in cells.items():
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                for j in cells.get((kind, y + dy, x + dx), ()):
                    for i in members:
                        if i < j and rules.same_place(visits[i], visits[j], distance_m=merge_m):
                            parent[find(j)] = find(i)
    clusters: dict[int, list[rules.VisitFacts]] = defaultdict(list)
    for i, v in enumerate(visits):
        clusters[find(i)].append(v)
    groups: list[rules.DraftGroup] = []
    for cluster in clusters.values():
        groups += rules.group_visits(
            cluster, distance_m=merge_m, step_min=step_min, timezone=TIMEZONE
        )
    return groups


def feed_records(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The entries as the open-data feed publishes them."""
    context = feed._Context()
    return [feed.public_record(e, context) for e in entries]


# --- the report ------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def list_risk(entries: Sequence[Entry]) -> risk.ListRisk:
    """The service's risk check on ``entries`` (no population records: k unknown)."""
    facts = [
        risk.EntryFacts(
            key=i,
            case_keys=e.case_keys,
            k=None,
            business_named=e.business_name is not None,
            window_min=(e.exposure_end - e.exposure_start).total_seconds() / 60,
        )
        for i, e in enumerate(entries)
    ]
    return risk.summarise(risk.assess(facts), facts)


def report(data: Ds4cData, *, source: str = "ds4c") -> str:
    """The comparison as Markdown."""
    lines: list[str] = []
    add = lines.append
    patients = data.patients
    with_routes = sorted({r.patient_id for r in data.routes})
    routed = set(with_routes)
    route_patients = [p for p in patients if p.patient_id in routed]
    run = run_rules(data)
    visible = run.visible_at(SNAPSHOT)
    qi_a = QUASI_IDENTIFIERS["sex, age (decade), district"]
    qi_b = QUASI_IDENTIFIERS["sex, birth year, nationality, district"]
    add("# Disclosure rules on Korea's real disclosures of early 2020 (DS4C)")
    add("")
    add(
        "Generated by `python -m citytrace.disclosure.ds4c --data-dir ../shared/data "
        "--output docs/disclosure-ds4c.md` from DS4C's `PatientInfo.csv` and "
        "`PatientRoute.csv` (Kim et al., *Data Science for COVID-19*, data of 2020-05-01, "
        "CC BY-NC-SA 4.0; compiled from KCDC's and local governments' press releases). The data "
        "are not copied here; the figures are aggregates. The method is in "
        "`src/citytrace/disclosure/ds4c.py`; `tests/disclosure/test_ds4c.py` checks the "
        "invariants of citytrace's output on the same data."
    )
    add("")
    add("## What was published, and who it singles out")
    add("")
    add(
        f"PatientInfo lists {len(patients):,} patients, {len(with_routes):,} of them with a "
        f"route ({len(data.routes):,} dated places). Each record carries sex, age or birth "
        "year, nationality, province and district, and the route is published per patient, "
        "in order."
    )
    add("")
    add("**Uniqueness on the quasi-identifiers** (equivalence classes over the whole table):")
    add("")
    add(_row("quasi-identifiers", "patients", "unique (k = 1)", "k < 5"))
    add(_row("---", "---:", "---:", "---:"))
    for name, attributes in QUASI_IDENTIFIERS.items():
        stats = classes(patients, attributes)
        add(_row(name, f"{stats.records:,}", _pct(stats.unique_share), _pct(stats.below_5_share)))
    add("")
    add(
        "**With points of the route** (a point is a published place and day; p points drawn "
        f"at random from each patient's route, seed {SEED}; among the {len(with_routes):,} "
        "patients with a route, those with at least p distinct points). *Route only* counts "
        "the patients whose routes hold those p points; the other columns also require the "
        "same published quasi-identifiers:"
    )
    add("")
    add(
        _row(
            "points p",
            "patients",
            "unique, route only",
            "unique, + sex, age, district",
            "unique, + sex, birth year, nationality, district",
        )
    )
    add(_row("---:", "---:", "---:", "---:", "---:"))
    for p in range(1, MAX_POINTS + 1):
        only = route_uniqueness(patients, data.routes, points=p, attributes=())
        a = route_uniqueness(patients, data.routes, points=p, attributes=qi_a)
        b = route_uniqueness(patients, data.routes, points=p, attributes=qi_b)
        add(
            _row(
                p,
                f"{only.records:,}",
                _pct(only.unique_share),
                _pct(a.unique_share),
                _pct(b.unique_share),
            )
        )
    base_a = classes(route_patients, qi_a)
    add("")
    add(
        f"For reference, the {len(route_patients):,} patients with a route are "
        f"{_pct(base_a.unique_share)} unique on sex, age and district alone (among themselves)."
    )
    add("")
    add("## What citytrace would have published from the same routes")
    add("")
    add(
        "Each route row becomes a visit of that day. **DS4C's routes have dates only, no "
        f"times**, so a visit is the whole local day and the {STEP_MIN}-minute generalisation "
        "of citytrace changes nothing here: every exposure window is whole days. The rules "
        "(`citytrace.disclosure.rules`) then run as in the service:"
    )
    add("")
    add(_row("step", "route rows"))
    add(_row("---", "---:"))
    add(_row("places in the routes", f"{run.visits:,}"))
    for reason, count in run.skipped.most_common():
        add(_row(f"not published: {reason}", f"{count:,}"))
    add(_row("drafted", f"{run.drafted:,}"))
    add(_row("entries after merging places of several patients", f"{len(run.entries):,}"))
    merged = [e for e in run.entries if len(e.case_keys) > 1]
    add("")
    add(
        f"- **Merged**: {len(merged):,} entries hold visits of more than one patient (up to "
        f"{max((len(e.case_keys) for e in merged), default=0)}); visits of one place on "
        "touching days merge too. An entry names a place and a time window, never how many "
        "or which patients were there, and no order of visits."
    )
    add(
        "- **Suppressed, residences**: none can be told apart: DS4C has no kind for a home "
        "(its `etc` covers many kinds of place) and no addresses, so none is dropped as a "
        "residence here; citytrace drops every visit of kind home/residence before drafting."
    )
    add(
        "- **Suppressed, outside the window**: visits before 2 days ahead of symptom onset (or "
        "of confirmation, when no onset is known: "
        f"{sum(1 for p in route_patients if p.onset is None):,} of the "
        f"{len(route_patients):,} patients with a route) and after the confirmation day (taken "
        "as isolation; DS4C has no isolation date): the hospital visits after confirmation "
        "fall here."
    )
    add(
        f"- **Suppressed, past the retention**: a place whose last contact was {RETENTION_DAYS} "
        "days or more before the route was drafted (the day after confirmation) is not "
        f"published, and every entry leaves the list {RETENTION_DAYS} days after its last "
        "contact."
    )
    add(
        "- **Not tested here**: suppression once all contacts at a place are identified (DS4C "
        "has a contact count per patient, not per place), k among the people the city's "
        "records place there (no such records for 2020), business names and the Itaewon rule "
        "(DS4C has no names), disinfection (not recorded)."
    )
    add("")
    add("**Side by side**:")
    add("")
    stats_a = classes(patients, qi_a)
    four_a = route_uniqueness(patients, data.routes, points=MAX_POINTS, attributes=qi_a)
    kept_from = (SNAPSHOT - timedelta(days=RETENTION_DAYS)).date()
    add(_row("", "original publication (DS4C)", "citytrace"))
    add(_row("---", "---", "---"))
    add(
        _row(
            "unit",
            f"a patient and their route ({len(with_routes):,} routes)",
            f"a place and a time window ({len(run.entries):,} entries ever listed)",
        )
    )
    add(_row("sex, age, birth year, nationality", "published", "never"))
    add(_row("patient number, order of visits", "published", "never"))
    add(_row("district", "the patient's residence district", "the place's district"))
    add(
        _row(
            f"listed on {SNAPSHOT.date().isoformat()}",
            f"all {len(data.routes):,} places, from {min(r.day for r in data.routes)} on",
            f"{len(visible):,} entries (visits on or after {kept_from})",
        )
    )
    add(
        _row(
            "patients unique on what was published",
            f"{_pct(stats_a.unique_share)} on sex, age and district; "
            f"{_pct(four_a.unique_share)} of those with {MAX_POINTS} points once the route is "
            "added",
            "none: no attribute of a person is published, and no entry carries anything that "
            "ties it to another (each has its own random id), so no route can be rebuilt",
        )
    )
    add("")
    single = sum(1 for e in run.entries if len(e.case_keys) == 1)
    everything, shown = list_risk(run.entries), list_risk(visible)
    add(
        f"Of citytrace's {len(run.entries):,} entries, {single:,} come from a single patient. "
        "The list does not say so, and without a route or personal attributes it cannot "
        "single that patient out; what it tells anyone is that *a* case was at that place on "
        "that day, which is the purpose of the disclosure. The service's risk check "
        "(`citytrace.disclosure.risk`) guards such entries further: on these entries it blocks "
        f"all {everything.blocked:,} for want of population records (k unknown: the officer "
        "would have to generalise them or record a justification), and finds "
        f"{everything.linkable_cases:,} patients with {RiskPolicy().link_points} or more "
        "entries of their own over the whole period, a warning on each of those entries "
        f"({shown.linkable_cases:,} such patients among the {len(visible):,} entries listed on "
        f"{SNAPSHOT.date().isoformat()})."
    )
    add("")
    add(f"Source files: `{source}/PatientInfo.csv`, `{source}/PatientRoute.csv`.")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m citytrace.disclosure.ds4c",
        description="Compare DS4C's published routes with citytrace's disclosure rules.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ["CITYTRACE_DATA_DIR"])
        if os.environ.get("CITYTRACE_DATA_DIR")
        else None,
        help="the folder holding ds4c/ (default: $CITYTRACE_DATA_DIR)",
    )
    parser.add_argument(
        "--output", type=Path, help="the Markdown report (default: standard output)"
    )
    parser.add_argument(
        "--json", type=Path, help="also write citytrace's entries as the feed's JSON"
    )
    args = parser.parse_args(argv)
    if args.data_dir is None:
        parser.error("give --data-dir or set CITYTRACE_DATA_DIR")
    try:
        data = load(args.data_dir)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = report(data)
    if args.output:
        tmp = args.output.with_suffix(args.output.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, args.output)
    else:
        sys.stdout.write(text)
    if args.json:
        records = feed_records(run_rules(data).entries)
        args.json.write_bytes(feed.render_records(records, "json", modified_at=None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
