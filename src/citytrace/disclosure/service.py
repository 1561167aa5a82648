"""The disclosure officer's work: drafts from reviewed routes, risk, approval, publication,
corrections, withdrawals, expiry and suppression; every step audited in the same transaction.

The workflow of an entry::

    draft --approve--> approved --publish--> published --withdraw--> withdrawn
      ^                   |                      |--(expires_at)--> expired   (scheduler)
      +------(edit)-------+                      |--(all contacts identified)--> suppressed
                                                 +--correct--> published (version + 1)

Nothing is published by accident: only an approved entry can be published, approval and
publication both re-check the risk (a blocked entry needs a recorded justification), and a
publication, withdrawal or expiry rebuilds the public feed in the same transaction (so that a
publish that fails half-way leaves the previous feed). Functions take ``now`` so that tests can
run the clock.

For the public side: :func:`published_entries` and :func:`changes_since`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeAlias

import pyarrow as pa
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.config import get_settings
from citytrace.contacts.models import Contact, ContactState
from citytrace.db import utcnow
from citytrace.disclosure import rules
from citytrace.disclosure.models import (
    DisclosureEntry,
    DisclosureSource,
    EntryStatus,
    Precision,
    RiskLevel,
)
from citytrace.disclosure.risk import (
    Assessment,
    EntryFacts,
    ListRisk,
    Reason,
    RiskPolicy,
    assess,
    summarise,
)
from citytrace.disclosure.schemas import EntryEdit, parse_reasons
from citytrace.errors import ConflictError, InputError, NotFoundError
from citytrace.exposure import ExposureRule, LiveIndex, RecordIndex, RecordStore, find_contacts
from citytrace.investigation.models import Visit, VisitStatus

Records: TypeAlias = RecordStore | RecordIndex | LiveIndex | pa.Table

ENTITY = "disclosure_entry"
LIVE = (EntryStatus.DRAFT, EntryStatus.APPROVED, EntryStatus.PUBLISHED)
"""Entries that are, or may become, public."""
ENDED = (EntryStatus.WITHDRAWN, EntryStatus.EXPIRED, EntryStatus.SUPPRESSED)
NOTIFIED = frozenset(
    {
        ContactState.NOTIFIED,
        ContactState.TESTED,
        ContactState.IN_QUARANTINE,
        ContactState.RELEASED,
    }
)
DISCARDED = "discarded before publication"
ALL_CONTACTS_IDENTIFIED = "all contacts at this place and time are identified and notified"
# Presence shorter than this does not count someone as "there" for k.
K_MIN_OVERLAP_MIN = 1.0


# --- reading -------------------------------------------------------------------------------


def get(*, session: Session, entry_id: int) -> DisclosureEntry | None:
    return session.get(DisclosureEntry, entry_id)


def get_or_raise(*, session: Session, entry_id: int) -> DisclosureEntry:
    entry = get(session=session, entry_id=entry_id)
    if entry is None:
        raise NotFoundError(f"disclosure entry {entry_id} does not exist")
    return entry


def list_(
    *,
    session: Session,
    status: EntryStatus | Sequence[EntryStatus] | None = None,
    district_code: str | None = None,
) -> Sequence[DisclosureEntry]:
    """Entries by district and time (never in the order of any case)."""
    query = select(DisclosureEntry).options(selectinload(DisclosureEntry.sources))
    if isinstance(status, EntryStatus):
        query = query.where(DisclosureEntry.status == status)
    elif status is not None:
        query = query.where(DisclosureEntry.status.in_(list(status)))
    if district_code is not None:
        query = query.where(DisclosureEntry.district_code == district_code)
    return session.scalars(
        query.order_by(
            DisclosureEntry.district_code,
            DisclosureEntry.exposure_start,
            DisclosureEntry.place_kind,
            DisclosureEntry.public_id,
        )
    ).all()


def published_entries(session: Session, now: datetime) -> list[DisclosureEntry]:
    """What the public sees at ``now``: published entries not yet expired, by district and time.

    The expiry job turns entries ``expired`` at their ``expires_at``; this also leaves out one
    whose moment has come a second before the job ran.
    """
    return list(
        session.scalars(
            select(DisclosureEntry)
            .where(DisclosureEntry.status == EntryStatus.PUBLISHED)
            .where(DisclosureEntry.expires_at > now)
            .order_by(
                DisclosureEntry.district_code,
                DisclosureEntry.exposure_start,
                DisclosureEntry.place_kind,
                DisclosureEntry.public_id,
            )
        ).all()
    )


def changes_since(session: Session, since: datetime) -> list[DisclosureEntry]:
    """Every entry that has ever been public and changed after ``since`` (published, corrected,
    withdrawn, expired, suppressed), oldest change first, so that a consumer can update or
    remove its copy. Drafts never published are not in it."""
    return list(
        session.scalars(
            select(DisclosureEntry)
            .where(DisclosureEntry.updated_at > since)
            .where(DisclosureEntry.published_at.is_not(None))
            .order_by(DisclosureEntry.updated_at, DisclosureEntry.public_id)
        ).all()
    )


# --- the feed --------------------------------------------------------------------------------


def rebuild_feed(session: Session, now: datetime) -> bool:
    """Rebuild the public feed's snapshot in the caller's transaction, when the feed module
    offers it; True if it did.

    Called last, outside any savepoint of the step: the feed acts when the transaction commits.
    """
    if importlib.util.find_spec("citytrace.disclosure.feed") is None:
        return False
    feed = importlib.import_module("citytrace.disclosure.feed")
    rebuild = getattr(feed, "rebuild", None)
    if rebuild is None:
        return False
    session.flush()
    rebuild(session, now)
    return True


# --- drafting --------------------------------------------------------------------------------


@dataclass
class DraftResult:
    created: list[int] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    skipped: list[tuple[int, rules.Skip]] = field(default_factory=list)


def _facts(visit: Visit) -> rules.VisitFacts:
    return rules.VisitFacts(
        visit_id=visit.id,
        case_id=visit.case_id,
        started_at=visit.started_at,
        finished_at=visit.finished_at,
        latitude=visit.latitude,
        longitude=visit.longitude,
        district_code=visit.district_code,
        venue_id=visit.venue_id,
        venue_name=visit.venue_name,
        venue_kind=visit.venue_kind,
        address=visit.address,
    )


def _source_facts(source: DisclosureSource) -> rules.VisitFacts:
    return rules.VisitFacts(
        visit_id=source.visit_id or -source.id,
        case_id=source.case_id,
        started_at=source.started_at,
        finished_at=source.finished_at,
        latitude=source.latitude,
        longitude=source.longitude,
        district_code=source.district_code,
        venue_id=source.venue_id,
        venue_name=source.venue_name,
        venue_kind=source.venue_kind,
        address=source.address,
    )


def _source(visit: rules.VisitFacts) -> DisclosureSource:
    return DisclosureSource(
        case_id=visit.case_id,
        visit_id=visit.visit_id,
        started_at=visit.started_at,
        finished_at=visit.finished_at,
        latitude=visit.latitude,
        longitude=visit.longitude,
        district_code=visit.district_code,
        venue_id=visit.venue_id,
        venue_name=visit.venue_name,
        venue_kind=visit.venue_kind,
        address=visit.address,
    )


def draft_from_case(
    *,
    session: Session,
    actor: str,
    case_id: int,
    visit_ids: Sequence[int] | None = None,
    now: datetime | None = None,
    records: Records | None = None,
) -> DraftResult:
    """Draft entries from the case's reviewed visits inside its disclosure window.

    Visits at a place and time already drafted (from any case) join that draft; the rest form
    new drafts, merged among themselves by place and overlapping or adjacent windows. Without
    ``visit_ids`` every confirmed visit is considered and those that may not be drafted are
    reported in ``skipped``; visits named in ``visit_ids`` must each be draftable.

    Raises
    ------
    InputError
        The case has no reviewed route, or a named visit is not the case's, not confirmed,
        outside the window, a residence, or names no place.
    """
    now = now or utcnow()
    settings = get_settings()
    case = cases.get_or_raise(session=session, case_id=case_id)
    visits = session.scalars(
        select(Visit).where(Visit.case_id == case.id).order_by(Visit.started_at, Visit.id)
    ).all()
    confirmed = [v for v in visits if v.status == VisitStatus.CONFIRMED]
    if not confirmed:
        what = "no route" if not visits else "no reviewed route"
        raise InputError(
            f"case {case.id} has {what}: an investigator must confirm its visits before they "
            "can be disclosed",
            location="case_id",
        )
    window = cases.window(case)
    if visit_ids is not None:
        by_id = {v.id: v for v in visits}
        chosen = []
        for visit_id in dict.fromkeys(visit_ids):
            visit = by_id.get(visit_id)
            if visit is None:
                raise InputError(
                    f"visit {visit_id} is not a visit of case {case.id}", location="visit_ids"
                )
            chosen.append(visit)
    else:
        chosen = list(visits)
    drafted = set(
        session.scalars(
            select(DisclosureSource.visit_id)
            .join(DisclosureEntry)
            .where(DisclosureSource.case_id == case.id)
            .where(DisclosureEntry.status.in_((*LIVE, EntryStatus.SUPPRESSED)))
        ).all()
    )
    retention = timedelta(days=settings.retention_published_place_days)
    result = DraftResult()
    candidates: list[rules.VisitFacts] = []
    for visit in chosen:
        facts = _facts(visit)
        skip = rules.classify(
            facts,
            window_start=window.start,
            window_end=window.end,
            confirmed=visit.status == VisitStatus.CONFIRMED,
        )
        if skip is None and visit.id in drafted:
            skip = rules.Skip.ALREADY_DRAFTED
        if skip is None and facts.finished_at + retention <= now:
            skip = rules.Skip.EXPIRED
        if skip is not None:
            if visit_ids is not None and skip is not rules.Skip.ALREADY_DRAFTED:
                raise InputError(
                    f"visit {visit.id} cannot be disclosed: {rules.SKIP_TEXT[skip]}",
                    location="visit_ids",
                )
            result.skipped.append((visit.id, skip))
            continue
        candidates.append(facts)

    step = settings.disclosure_time_step_min
    tz = settings.timezone
    distance = settings.disclosure_merge_distance_m
    # Drafts (not yet approved or published) at the same place and time take the visit in.
    open_drafts = list_(session=session, status=(EntryStatus.DRAFT, EntryStatus.APPROVED))
    touched: dict[int, DisclosureEntry] = {}
    remaining: list[rules.VisitFacts] = []
    for facts in candidates:
        target = None
        for entry in open_drafts:
            if any(
                rules.same_place(_source_facts(s), facts, distance_m=distance)
                for s in entry.sources
            ) and rules.windows_touch(
                (_raw_start(entry), _raw_end(entry)),
                (facts.started_at, facts.finished_at),
                step_min=entry.time_step_min,
                timezone=tz,
            ):
                target = entry
                break
        if target is None:
            remaining.append(facts)
        else:
            target.sources.append(_source(facts))
            touched[target.id] = target
    for entry in touched.values():
        if entry.status == EntryStatus.APPROVED:
            entry.status = EntryStatus.DRAFT
            entry.approved_at = None
        _derive(session, entry, now=now)
        result.merged.append(entry.id)

    for group in rules.group_visits(remaining, distance_m=distance, step_min=step, timezone=tz):
        entry = DisclosureEntry(
            public_id=uuid.uuid4().hex,
            status=EntryStatus.DRAFT,
            time_step_min=step,
            precision=Precision.PLACE,
            mass_exposure=False,
            notes="",
            created_at=now,
            updated_at=now,
        )
        entry.sources = [_source(v) for v in group.visits]
        first = group.visits[0]
        entry.place_kind = first.kind
        _derive(session, entry, now=now, show_business_name=True)
        session.add(entry)
        session.flush()
        result.created.append(entry.id)

    changed = [*touched.values()]
    changed += list(session.scalars(_by_ids(result.created)).all())
    for entry in changed:
        if _all_contacts_identified(session, entry):
            _suppress(entry, now)
            result.suppressed.append(entry.id)
    session.flush()
    _refresh_risk(session, [e for e in changed if e.status in LIVE], now=now, records=records)
    audit.record(
        session=session,
        actor=actor,
        action="disclosure.draft",
        entity="case",
        entity_id=case.id,
        detail={
            "created": result.created,
            "merged": result.merged,
            "suppressed": result.suppressed,
            "skipped": _count_skips(result.skipped),
        },
    )
    return result


def _count_skips(skipped: Iterable[tuple[int, rules.Skip]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, skip in skipped:
        counts[skip.value] = counts.get(skip.value, 0) + 1
    return counts


def _by_ids(ids: Sequence[int]) -> Select[DisclosureEntry]:
    return (
        select(DisclosureEntry)
        .options(selectinload(DisclosureEntry.sources))
        .where(DisclosureEntry.id.in_(list(ids)))
        .order_by(DisclosureEntry.id)
    )


def _raw_start(entry: DisclosureEntry) -> datetime:
    return min(s.started_at for s in entry.sources)


def _raw_end(entry: DisclosureEntry) -> datetime:
    return max(s.finished_at for s in entry.sources)


def _named_before(session: Session, entry: DisclosureEntry, name: str) -> bool:
    """Whether another live entry at the same place, earlier, already names the business."""
    distance = get_settings().disclosure_merge_distance_m
    mine = [_source_facts(s) for s in entry.sources]
    others = session.scalars(
        select(DisclosureEntry)
        .options(selectinload(DisclosureEntry.sources))
        .where(DisclosureEntry.status.in_(LIVE))
        .where(DisclosureEntry.business_name.is_not(None))
        .where(DisclosureEntry.exposure_start < entry.exposure_start)
    ).all()
    for other in others:
        if other is entry or other.id == entry.id:
            continue
        if any(
            rules.same_place(_source_facts(s), m, distance_m=distance)
            for s in other.sources
            for m in mine
        ):
            return True
    return False


def _derive(
    session: Session,
    entry: DisclosureEntry,
    *,
    now: datetime,
    show_business_name: bool | None = None,
) -> None:
    """Fill the entry's shown fields from its sources and its generalisation settings."""
    settings = get_settings()
    visits = [_source_facts(s) for s in entry.sources]
    raw_start = min(v.started_at for v in visits)
    raw_end = max(v.finished_at for v in visits)
    entry.exposure_start, entry.exposure_end = rules.generalise_window(
        raw_start, raw_end, step_min=entry.time_step_min, timezone=settings.timezone
    )
    district = rules.most_common([v.district_code for v in visits])
    entry.district_code = district or entry.district_code or "unknown"
    if entry.precision == Precision.DISTRICT:
        entry.latitude = entry.longitude = None
        entry.road_address = None
        entry.business_name = None
    else:
        lat, lon = rules.centre(visits)
        entry.latitude, entry.longitude = round(lat, 6), round(lon, 6)
        if entry.road_address is None:
            entry.road_address = rules.most_common([v.address for v in visits])
        if show_business_name:
            entry.business_name = rules.most_common([v.venue_name for v in visits])
    if entry.business_name and _named_before(session, entry, entry.business_name):
        # Named once, for the first linked case (the rule after the 2020 Itaewon cluster).
        entry.business_name = None
    entry.last_contact_at = raw_end
    entry.expires_at = raw_end + timedelta(days=settings.retention_published_place_days)
    if entry.place_kind in rules.TRANSPORT_KINDS:
        entry.boarding_stop = entry.boarding_stop or entry.business_name or entry.road_address
        entry.boarding_at = entry.exposure_start
        entry.transport_line = entry.transport_line or rules.most_common(
            [v.venue_name for v in visits]
        )
    if not rules.disinfection_applies(
        entry.exposure_end, now, days=settings.disclosure_disinfection_days
    ):
        entry.disinfected = None
    elif entry.disinfected is None:
        entry.disinfected = False


# --- contacts and suppression ------------------------------------------------------------------


def _all_contacts_identified(session: Session, entry: DisclosureEntry) -> bool:
    """Whether every contact at each of the entry's visits is identified and notified.

    A place of possible mass exposure, and public transport, never qualify (their people can
    never all be known); nor does a visit for which the exposure search found nobody (whoever
    was there is unknown).
    """
    if entry.mass_exposure or entry.place_kind in rules.TRANSPORT_KINDS or not entry.sources:
        return False
    for source in entry.sources:
        contacts = session.scalars(
            select(Contact.state)
            .where(Contact.case_id == source.case_id)
            .where(Contact.first_contact_at < source.finished_at)
            .where(Contact.last_contact_at > source.started_at)
        ).all()
        if not contacts or any(state not in NOTIFIED for state in contacts):
            return False
    return True


def _suppress(entry: DisclosureEntry, now: datetime) -> None:
    entry.status = EntryStatus.SUPPRESSED
    entry.suppressed_at = now
    entry.suppression_reason = ALL_CONTACTS_IDENTIFIED
    entry.updated_at = now


# --- risk ----------------------------------------------------------------------------------


def policy() -> RiskPolicy:
    settings = get_settings()
    return RiskPolicy(min_k=settings.disclosure_min_k, link_points=settings.disclosure_link_points)


def _configured_records() -> RecordStore | None:
    from citytrace.contacts.service import record_store

    return record_store(create=False)


def _radius_m(entry: DisclosureEntry) -> float:
    settings = get_settings()
    if entry.precision == Precision.DISTRICT:
        from citytrace.geo import load_city

        city = load_city(settings.city)
        try:
            area = float(city.district_areas_km2()[city.district_index(entry.district_code)])
        except (KeyError, IndexError, ValueError):
            area = 0.0
        return min(max(rules.equivalent_radius_m(area), settings.disclosure_k_address_m), 10_000.0)
    if entry.business_name:
        return settings.disclosure_k_place_m
    return settings.disclosure_k_address_m


def population_counts(
    entries: Sequence[DisclosureEntry], records: Records | None
) -> dict[int, int | None]:
    """``k`` of each entry: distinct people the records place within the entry's anonymity
    radius during its generalised window; None where there are no records for that time."""
    if not entries:
        return {}
    store = records if records is not None else _configured_records()
    if store is None:
        return {e.id: None for e in entries}
    rows = []
    unknown: set[int] = set()
    for entry in entries:
        if entry.latitude is not None and entry.longitude is not None:
            lat, lon = entry.latitude, entry.longitude
        else:
            lat, lon = rules.centre([_source_facts(s) for s in entry.sources])
        start, end = entry.exposure_start, entry.exposure_end
        if isinstance(store, RecordStore):
            touching = store.days_touching(
                int(start.timestamp() * 1_000_000), int(end.timestamp() * 1_000_000), 0
            )
            if not touching:
                unknown.add(entry.id)
                continue
        rows.append((entry.id, lat, lon, _radius_m(entry), start, end))
    counts: dict[int, int | None] = {e.id: (None if e.id in unknown else 0) for e in entries}
    if rows:
        ts = pa.timestamp("us", tz="UTC")
        table = pa.table(
            {
                "case_id": pa.array([r[0] for r in rows], pa.int64()),
                "latitude": pa.array([r[1] for r in rows], pa.float64()),
                "longitude": pa.array([r[2] for r in rows], pa.float64()),
                "radius_m": pa.array([r[3] for r in rows], pa.float64()),
                "started_at": pa.array([r[4] for r in rows], ts),
                "finished_at": pa.array([r[5] for r in rows], ts),
            }
        )
        rule = ExposureRule(distance_m=0.0, min_overlap_min=K_MIN_OVERLAP_MIN)
        from citytrace.contacts.service import searchable

        source = searchable(store) if isinstance(store, RecordStore) else store
        found = find_contacts(table, source, rule)
        for entry_id in found.column("case_id").to_pylist():
            counts[int(entry_id)] = (counts.get(int(entry_id)) or 0) + 1
    return counts


def _facts_for_risk(entry: DisclosureEntry) -> EntryFacts:
    window_min = (entry.exposure_end - entry.exposure_start).total_seconds() / 60.0
    return EntryFacts(
        key=entry.id,
        case_keys=frozenset(s.case_id for s in entry.sources),
        k=entry.risk_k,
        business_named=bool(entry.business_name),
        window_min=window_min,
        overridden=bool(entry.override_justification),
    )


def _refresh_risk(
    session: Session,
    changed: Sequence[DisclosureEntry],
    *,
    now: datetime,
    records: Records | None,
) -> list[Assessment]:
    """Count ``k`` again for the ``changed`` entries, then assess every live entry (linkability
    is a property of the whole list)."""
    for entry_id, k in population_counts(list(changed), records).items():
        entry = next(e for e in changed if e.id == entry_id)
        entry.risk_k = k
    live = list_(session=session, status=LIVE)
    assessments = assess([_facts_for_risk(e) for e in live], policy())
    by_id = {e.id: e for e in live}
    for assessment in assessments:
        entry = by_id[assessment.key]
        entry.risk_level = RiskLevel(assessment.level.value)
        entry.risk_reason = json.dumps([r.as_dict() for r in assessment.reasons])
        entry.risk_checked_at = now
    session.flush()
    return assessments


def check_risk(
    *,
    session: Session,
    actor: str,
    now: datetime | None = None,
    records: Records | None = None,
) -> ListRisk:
    """Count ``k`` again for every live entry and assess the list; audited (counts only)."""
    now = now or utcnow()
    live = list_(session=session, status=LIVE)
    assessments = _refresh_risk(session, live, now=now, records=records)
    summary = summarise(assessments, [_facts_for_risk(e) for e in live], policy())
    audit.record(
        session=session,
        actor=actor,
        action="disclosure.risk_check",
        entity=ENTITY,
        detail={"entries": summary.entries, "blocked": summary.blocked},
    )
    return summary


def list_risk(*, session: Session) -> ListRisk:
    """The list's risk as last checked (no counting)."""
    live = list_(session=session, status=LIVE)
    facts = [_facts_for_risk(e) for e in live]
    return summarise(assess(facts, policy()), facts, policy())


# --- the officer's steps ---------------------------------------------------------------------


def _audit(
    session: Session, actor: str, action: str, entry: DisclosureEntry, **detail: object
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=f"disclosure.{action}",
        entity=ENTITY,
        entity_id=entry.id,
        detail={"status": entry.status.value, "version": entry.version, **detail},
    )


def _apply(session: Session, entry: DisclosureEntry, data: EntryEdit, now: datetime) -> list[str]:
    """Apply an edit to the entry's fields; the names of the fields given."""
    values = data.model_dump(exclude_unset=True, exclude={"correction_note"})
    if not values:
        raise InputError("an edit needs at least one field to change")
    show_name: bool | None = values.pop("show_business_name", None)
    if "time_step_min" in values:
        entry.time_step_min = int(values.pop("time_step_min"))
    if "precision" in values:
        precision = Precision(values.pop("precision"))
        if precision == Precision.PLACE and entry.precision == Precision.DISTRICT:
            entry.road_address = None  # taken again from the sources
            show_name = True if show_name is None else show_name
        entry.precision = precision
    if "place_kind" in values:
        kind = str(values.pop("place_kind")).lower()
        if kind in rules.RESIDENCE_KINDS:
            raise InputError("a residence is never published", location="place_kind")
        entry.place_kind = kind
    for name in ("business_name", "road_address"):
        if name in values:
            value = values.pop(name)
            if entry.precision == Precision.DISTRICT and value:
                raise InputError(
                    f"an entry shown by district only has no {name.replace('_', ' ')}",
                    location=name,
                )
            setattr(entry, name, value or None)
            if name == "business_name" and value:
                show_name = None
    if show_name is False:
        entry.business_name = None
    for name, value in values.items():
        if isinstance(value, str):
            value = value or (None if name != "notes" else "")
        setattr(entry, name, value)
    _derive(session, entry, now=now, show_business_name=bool(show_name))
    return sorted(data.model_dump(exclude_unset=True, exclude={"correction_note"}))


def update(
    *,
    session: Session,
    actor: str,
    entry_id: int,
    data: EntryEdit,
    now: datetime | None = None,
    records: Records | None = None,
) -> DisclosureEntry:
    """Edit or generalise a draft (an approved entry goes back to draft); the risk is checked
    again. A published entry is changed by :func:`correct`."""
    now = now or utcnow()
    entry = get_or_raise(session=session, entry_id=entry_id)
    if entry.status not in (EntryStatus.DRAFT, EntryStatus.APPROVED):
        raise ConflictError(
            f"entry {entry.id} is {entry.status}: only a draft can be edited"
            + (
                " (correct a published entry instead)"
                if entry.status == EntryStatus.PUBLISHED
                else ""
            )
        )
    with session.begin_nested():
        fields = _apply(session, entry, data, now)
        reset = entry.status == EntryStatus.APPROVED
        if reset:
            entry.status = EntryStatus.DRAFT
            entry.approved_at = None
        _refresh_risk(session, [entry], now=now, records=records)
        _audit(session, actor, "edit", entry, fields=fields, approval_reset=reset)
    return entry


def override(
    *,
    session: Session,
    actor: str,
    entry_id: int,
    justification: str,
    now: datetime | None = None,
) -> DisclosureEntry:
    """Record why a blocked entry may be published all the same (audited with the text)."""
    now = now or utcnow()
    entry = get_or_raise(session=session, entry_id=entry_id)
    if entry.status not in LIVE:
        raise ConflictError(f"entry {entry.id} is {entry.status}: nothing to override")
    text = justification.strip()
    if len(text) < 10:
        raise InputError("a justification needs at least 10 characters", location="justification")
    entry.override_justification = text
    _refresh_risk(session, [], now=now, records=None)
    _audit(session, actor, "override", entry, justification=text)
    return entry


def _check_publishable(entry: DisclosureEntry) -> None:
    if entry.place_kind in rules.WORKPLACE_KINDS and not entry.mass_exposure:
        raise ConflictError(
            f"entry {entry.id} is a workplace: it is published only when a possible mass "
            "exposure is marked (mass_exposure)"
        )
    if entry.risk_level == RiskLevel.BLOCKED:
        reasons = (
            "; ".join(r.text() for r in _stored_reasons(entry) if r.blocking)
            or "re-identification risk"
        )
        raise ConflictError(f"entry {entry.id} is blocked: {reasons}")


def _stored_reasons(entry: DisclosureEntry) -> list[Reason]:
    return parse_reasons(entry.risk_reason)


def approve(
    *,
    session: Session,
    actor: str,
    entry_ids: Sequence[int],
    now: datetime | None = None,
    records: Records | None = None,
) -> list[DisclosureEntry]:
    """Approve drafts for publication: all or none; the risk is counted again first."""
    now = now or utcnow()
    entries = _load(session, entry_ids)
    for entry in entries:
        if entry.status != EntryStatus.DRAFT:
            raise ConflictError(f"entry {entry.id} is {entry.status}: only a draft can be approved")
    with session.begin_nested():
        _refresh_risk(session, entries, now=now, records=records)
        for entry in entries:
            _check_publishable(entry)
            entry.status = EntryStatus.APPROVED
            entry.approved_at = now
            _audit(session, actor, "approve", entry, k=entry.risk_k, risk=entry.risk_level.value)
    return entries


@dataclass
class PublishResult:
    published: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)


def publish(
    *,
    session: Session,
    actor: str,
    entry_ids: Sequence[int],
    now: datetime | None = None,
    records: Records | None = None,
) -> PublishResult:
    """Publish approved entries, all or none, and rebuild the feed in the same transaction.

    Each is checked again: still within its expiry, its risk counted again (blocked without a
    justification: refused), and one whose contacts are by now all identified is suppressed
    instead.
    """
    now = now or utcnow()
    entries = _load(session, entry_ids)
    for entry in entries:
        if entry.status != EntryStatus.APPROVED:
            hint = " (approve it first)" if entry.status == EntryStatus.DRAFT else ""
            raise ConflictError(
                f"entry {entry.id} is {entry.status}: only an approved entry can be published{hint}"
            )
        if entry.expires_at <= now:
            raise ConflictError(f"entry {entry.id} expired at {entry.expires_at.isoformat()}")
    result = PublishResult()
    with session.begin_nested():
        _refresh_risk(session, entries, now=now, records=records)
        for entry in entries:
            _check_publishable(entry)
            if _all_contacts_identified(session, entry):
                _suppress(entry, now)
                _audit(session, actor, "suppress", entry, reason="all_contacts_identified")
                result.suppressed.append(entry.id)
                continue
            entry.status = EntryStatus.PUBLISHED
            entry.published_at = now
            entry.updated_at = now
            _audit(session, actor, "publish", entry, k=entry.risk_k, risk=entry.risk_level.value)
            result.published.append(entry.id)
    rebuild_feed(session, now)
    return result


def correct(
    *,
    session: Session,
    actor: str,
    entry_id: int,
    data: EntryEdit,
    note: str,
    now: datetime | None = None,
    records: Records | None = None,
) -> DisclosureEntry:
    """Correct a published entry: published again at once as version + 1 with the note; the
    risk is checked first (a correction that would block it is refused)."""
    now = now or utcnow()
    entry = get_or_raise(session=session, entry_id=entry_id)
    if entry.status != EntryStatus.PUBLISHED:
        raise ConflictError(
            f"entry {entry.id} is {entry.status}: only a published entry is corrected"
        )
    if len(note.strip()) < 3:
        raise InputError(
            "a correction needs a note saying what changed", location="correction_note"
        )
    with session.begin_nested():
        fields = _apply(session, entry, data, now)
        _refresh_risk(session, [entry], now=now, records=records)
        _check_publishable(entry)
        if entry.expires_at <= now:
            raise ConflictError(
                f"entry {entry.id} would have expired at {entry.expires_at.isoformat()}"
            )
        entry.version += 1
        entry.corrected_at = now
        entry.correction_note = note.strip()
        entry.updated_at = now
        _audit(session, actor, "correct", entry, fields=fields)
    rebuild_feed(session, now)
    return entry


def withdraw(
    *,
    session: Session,
    actor: str,
    entry_id: int,
    reason: str,
    now: datetime | None = None,
) -> DisclosureEntry:
    """Withdraw a published entry; it stays in the change feed as withdrawn, with the reason."""
    now = now or utcnow()
    entry = get_or_raise(session=session, entry_id=entry_id)
    if entry.status != EntryStatus.PUBLISHED:
        raise ConflictError(
            f"entry {entry.id} is {entry.status}: only a published entry can be withdrawn"
            + (
                " (discard a draft instead)"
                if entry.status in (EntryStatus.DRAFT, EntryStatus.APPROVED)
                else ""
            )
        )
    text = reason.strip()
    if len(text) < 3:
        raise InputError("a withdrawal needs a reason", location="reason")
    with session.begin_nested():
        entry.status = EntryStatus.WITHDRAWN
        entry.withdrawn_at = now
        entry.withdrawal_reason = text
        entry.updated_at = now
        _audit(session, actor, "withdraw", entry)
    rebuild_feed(session, now)
    return entry


def discard(
    *, session: Session, actor: str, entry_id: int, now: datetime | None = None
) -> DisclosureEntry:
    """Set aside a draft (or an approved entry) that will not be published: it ends as
    withdrawn without ever having been public (so no feed ever names it), and its visits may be
    drafted again."""
    now = now or utcnow()
    entry = get_or_raise(session=session, entry_id=entry_id)
    if entry.status not in (EntryStatus.DRAFT, EntryStatus.APPROVED):
        raise ConflictError(
            f"entry {entry.id} is {entry.status}: only a draft can be discarded"
            + (
                " (withdraw a published entry instead)"
                if entry.status == EntryStatus.PUBLISHED
                else ""
            )
        )
    entry.status = EntryStatus.WITHDRAWN
    entry.withdrawn_at = now
    entry.withdrawal_reason = DISCARDED
    entry.updated_at = now
    _audit(session, actor, "discard", entry)
    return entry


def _load(session: Session, entry_ids: Sequence[int]) -> list[DisclosureEntry]:
    ids = list(dict.fromkeys(entry_ids))
    if not ids:
        raise InputError("name at least one entry", location="entry_ids")
    found = {e.id: e for e in session.scalars(_by_ids(ids)).all()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"disclosure entries {missing} do not exist")
    return [found[i] for i in ids]


# --- the scheduler's jobs ----------------------------------------------------------------------


def next_expiry(*, session: Session) -> datetime | None:
    """When the next live entry expires."""
    return session.scalar(
        select(DisclosureEntry.expires_at)
        .where(DisclosureEntry.status.in_(LIVE))
        .order_by(DisclosureEntry.expires_at)
        .limit(1)
    )


def expire_due(*, session: Session, actor: str, now: datetime) -> int:
    """Entries whose ``expires_at`` has come (published, approved or draft) become expired;
    the feed is rebuilt when a published one did. Audited as counts."""
    due = session.scalars(
        select(DisclosureEntry)
        .where(DisclosureEntry.status.in_(LIVE))
        .where(DisclosureEntry.expires_at <= now)
        .order_by(DisclosureEntry.id)
    ).all()
    return _end(session, actor, list(due), EntryStatus.EXPIRED, now)


def _end(
    session: Session, actor: str, entries: list[DisclosureEntry], status: EntryStatus, now: datetime
) -> int:
    if not entries:
        return 0
    was_public = any(e.status == EntryStatus.PUBLISHED for e in entries)
    for entry in entries:
        if status == EntryStatus.SUPPRESSED:
            _suppress(entry, now)
        else:
            entry.status = status
            entry.updated_at = now
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action=f"disclosure.{'expire' if status == EntryStatus.EXPIRED else 'suppress'}",
        entity=ENTITY,
        detail={"entries": [e.id for e in entries], "published": was_public},
    )
    if was_public:
        rebuild_feed(session, now)
    return len(entries)


def suppress_identified(*, session: Session, actor: str, now: datetime) -> int:
    """Live entries whose contacts are by now all identified and notified become suppressed."""
    live = list_(session=session, status=LIVE)
    due = [e for e in live if _all_contacts_identified(session, e)]
    return _end(session, actor, due, EntryStatus.SUPPRESSED, now)


def expire_before(*, session: Session, actor: str, cutoff: datetime, now: datetime) -> int:
    """Live entries whose last contact is at or before ``cutoff`` become expired (the
    retention purge's ``published_places`` policy)."""
    due = session.scalars(
        select(DisclosureEntry)
        .where(DisclosureEntry.status.in_(LIVE))
        .where(DisclosureEntry.last_contact_at <= cutoff)
        .order_by(DisclosureEntry.id)
    ).all()
    return _end(session, actor, list(due), EntryStatus.EXPIRED, now)
