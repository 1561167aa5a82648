"""Contacts: found by the exposure search over the city's records, followed until release.

The follow-up is a small state machine: identified -> notified -> (tested | in quarantine) ->
released, or notified -> released for a contact found once its quarantine would have ended.
Quarantine runs until 14 days after the last contact (Korea's rule in 2020, and the WHO's);
release before that day needs a recorded reason. Every change is audited. :func:`due` lists what
the follow-up of every case needs next.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import pyarrow as pa
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.cases.models import Case
from citytrace.config import get_settings
from citytrace.contacts.models import Contact, ContactState, RiskClass
from citytrace.contacts.transmission import generations, links_around, links_case
from citytrace.db import utcnow
from citytrace.errors import ConflictError, InputError, NotFoundError
from citytrace.exposure import ExposureRule, LiveIndex, RecordIndex, RecordStore, find_contacts
from citytrace.investigation import service as investigation
from citytrace.investigation.models import VisitStatus

QUARANTINE_DAYS = 14

ALLOWED: dict[ContactState, frozenset[ContactState]] = {
    ContactState.IDENTIFIED: frozenset({ContactState.NOTIFIED, ContactState.IN_QUARANTINE}),
    # Released straight after notice: found once the 14 days had passed (or with a reason).
    ContactState.NOTIFIED: frozenset(
        {ContactState.TESTED, ContactState.IN_QUARANTINE, ContactState.RELEASED}
    ),
    ContactState.TESTED: frozenset({ContactState.IN_QUARANTINE, ContactState.RELEASED}),
    ContactState.IN_QUARANTINE: frozenset({ContactState.TESTED, ContactState.RELEASED}),
    ContactState.RELEASED: frozenset(),
}


@dataclass(frozen=True)
class SearchResult:
    found: int
    new: int
    updated: int
    engine: str | None = None  # what searched: "index" (in memory) or "duckdb" (the store)
    search_ms: float = 0.0  # the search itself, without storing what it found


def quarantine_until(last_contact_at: datetime, timezone: str) -> date:
    """The last day of quarantine: 14 days after the day of the last contact (local time)."""
    return last_contact_at.astimezone(ZoneInfo(timezone)).date() + timedelta(days=QUARANTINE_DAYS)


def list_(
    *, session: Session, case_id: int, state: ContactState | None = None
) -> Sequence[Contact]:
    query = select(Contact).where(Contact.case_id == case_id)
    if state is not None:
        query = query.where(Contact.state == state)
    return session.scalars(query.order_by(Contact.first_contact_at, Contact.person_ref)).all()


def read_list(
    *, session: Session, actor: str, case_id: int, state: ContactState | None = None
) -> Sequence[Contact]:
    """The case's contacts for a person to see; the read is audited."""
    contacts = list_(session=session, case_id=case_id, state=state)
    audit.record(
        session=session,
        actor=actor,
        action="contact.list",
        entity="case",
        entity_id=case_id,
        detail={"contacts": len(contacts)},
    )
    return contacts


class FollowUp(StrEnum):
    """What a contact's follow-up needs next, most urgent first."""

    REGISTER_CASE = "register_case"  # tested positive, and no case of that person yet
    NOTIFY = "notify"  # identified, not told yet
    QUARANTINE = "quarantine"  # told (or tested negative) but not in quarantine, while it runs
    RELEASE = "release"  # its quarantine has ended


_URGENCY = {action: n for n, action in enumerate(FollowUp)}


@dataclass(frozen=True)
class Due:
    """A contact whose follow-up needs an action, the local day it fell due, and how many days
    it has waited since (0: due today)."""

    contact: Contact
    case_reference: str
    district_code: str | None
    action: FollowUp
    since: date
    waiting_days: int


def next_action(
    contact: Contact, today: date, timezone: str, *, has_case: bool = False
) -> tuple[FollowUp, date] | None:
    """What ``contact`` needs on the local day ``today``, and since which day; None when nothing
    is due (released, or in quarantine until a later day). ``has_case``: a case of the contact's
    person is registered already."""

    def day(moment: datetime | None) -> date:
        return (moment or contact.identified_at).astimezone(ZoneInfo(timezone)).date()

    ended = today > contact.quarantine_until_date
    release = (FollowUp.RELEASE, contact.quarantine_until_date + timedelta(days=1))
    state = contact.state
    if state == ContactState.RELEASED:
        return None
    if contact.test_result == "positive":
        return None if has_case else (FollowUp.REGISTER_CASE, day(contact.tested_at))
    if state == ContactState.IDENTIFIED:
        return FollowUp.NOTIFY, day(contact.identified_at)
    if ended:
        return release
    if state == ContactState.NOTIFIED:
        return FollowUp.QUARANTINE, day(contact.notified_at)
    if state == ContactState.TESTED and contact.quarantined_at is None:
        return FollowUp.QUARANTINE, day(contact.tested_at)
    return None  # in quarantine until a later day


def due(
    *,
    session: Session,
    actor: str,
    today: date | None = None,
    district_code: str | None = None,
) -> list[Due]:
    """The contacts of every case (of ``district_code``, if given) whose follow-up needs an
    action on the local day ``today`` (default: today), most urgent first, the longest waiting
    first within an action; the read is audited."""
    timezone = get_settings().timezone
    today = today or utcnow().astimezone(ZoneInfo(timezone)).date()
    # Those that may need an action (next_action decides): not the many in quarantine (or
    # tested negative there) until a later day.
    waiting = (Contact.state == ContactState.IN_QUARANTINE) | (
        (Contact.state == ContactState.TESTED) & Contact.quarantined_at.is_not(None)
    )
    query = (
        select(Contact, Case.reference, Case.district_code)
        .join(Case, Case.id == Contact.case_id)
        .where(Contact.state != ContactState.RELEASED)
        .where(
            ~waiting
            | (Contact.quarantine_until_date < today)
            | (func.coalesce(Contact.test_result, "") == "positive")
        )
    )
    if district_code is not None:
        query = query.where(Case.district_code == district_code)
    rows = session.execute(query).all()
    positives = {c.person_ref for c, _, _ in rows if c.test_result == "positive"}
    registered = (
        set(session.scalars(select(Case.person_ref).where(Case.person_ref.in_(positives))))
        if positives
        else set()
    )
    found = []
    for contact, reference, district in rows:
        action = next_action(contact, today, timezone, has_case=contact.person_ref in registered)
        if action is not None:
            kind, since = action
            waited = max((today - since).days, 0)
            found.append(Due(contact, reference, district, kind, since, waited))
    found.sort(key=lambda d: (_URGENCY[d.action], d.since, d.contact.id))
    audit.record(
        session=session,
        actor=actor,
        action="contact.due",
        entity="district",
        entity_id=district_code or "all",
        detail={"on": today.isoformat(), "contacts": len(found)},
    )
    return found


@dataclass(frozen=True)
class Link:
    """A case linked to another by transmission, and when their first contact was."""

    case_id: int
    reference: str
    district_code: str | None
    first_contact_at: datetime


def transmission_links(
    *, session: Session, actor: str, case_id: int
) -> tuple[list[Link], list[Link]]:
    """The cases ``case_id`` may have been infected by (its person was a contact of theirs
    before it was confirmed) and those it may have infected (their persons were its contacts,
    confirmed afterwards), each earliest contact first; the read is audited."""
    case = cases.get_or_raise(session=session, case_id=case_id)
    zone = ZoneInfo(get_settings().timezone)

    def linked(query: Select[Case, datetime], infected: bool) -> list[Link]:
        found = [
            Link(other.id, other.reference, other.district_code, at)
            for other, at in session.execute(query)
            if links_case(at, (other if infected else case).confirmed_date, zone)
        ]
        return sorted(found, key=lambda link: (link.first_contact_at, link.case_id))

    by_case = select(Case, Contact.first_contact_at).where(Case.id != case.id)
    sources = (
        linked(
            by_case.join(Contact, Contact.case_id == Case.id).where(
                Contact.person_ref == case.person_ref
            ),
            infected=False,
        )
        if case.person_ref is not None
        else []
    )
    infected = linked(
        by_case.join(Contact, Contact.person_ref == Case.person_ref).where(
            Contact.case_id == case.id
        ),
        infected=True,
    )
    audit.record(
        session=session,
        actor=actor,
        action="case.links",
        entity="case",
        entity_id=case.id,
        detail={"from": len(sources), "to": len(infected)},
    )
    return sources, infected


@dataclass(frozen=True)
class ChainCase:
    """A case of a transmission chain: its generation and the cases of the chain it may have
    been infected by."""

    case_id: int
    reference: str
    district_code: str | None
    confirmed_date: date
    generation: int
    infected_by: tuple[int, ...]


@dataclass(frozen=True)
class Chain:
    """The cluster a case belongs to (:mod:`citytrace.contacts.transmission`), case by case:
    by generation, then confirmation, then case id."""

    cases: list[ChainCase]
    links: int

    @property
    def generations(self) -> int:
        return max((c.generation for c in self.cases), default=0)

    def references(self) -> dict[int, str]:
        """The cases' references by id."""
        return {c.case_id: c.reference for c in self.cases}


def transmission_chain(*, session: Session, actor: str, case_id: int) -> Chain:
    """Every case linked to ``case_id`` by transmission, directly or through others, with the
    case itself (alone, when it has no link); the read is audited."""
    case = cases.get_or_raise(session=session, case_id=case_id)
    own = links_around(session=session, case_id=case.id)
    group = sorted({c for link in own for c in link}) or [case.id]
    found = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(group)))}
    place = generations(group, own, {c: found[c].confirmed_date for c in group})
    by: dict[int, list[int]] = {}
    for a, b in own:
        by.setdefault(b, []).append(a)
    members = [
        ChainCase(
            case_id=c,
            reference=found[c].reference,
            district_code=found[c].district_code,
            confirmed_date=found[c].confirmed_date,
            generation=place[c],
            infected_by=tuple(sorted(by.get(c, []), key=lambda a: (place[a], a))),
        )
        for c in group
    ]
    members.sort(key=lambda m: (m.generation, m.confirmed_date, m.case_id))
    audit.record(
        session=session,
        actor=actor,
        action="case.chain",
        entity="case",
        entity_id=case.id,
        detail={"cases": len(members), "links": len(own)},
    )
    return Chain(cases=members, links=len(own))


def get_or_raise(*, session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFoundError(f"contact {contact_id} does not exist")
    return contact


def record_store(*, create: bool = True) -> RecordStore | None:
    """The city's records (visits, check-ins, payments, cell records) the search runs over."""
    settings = get_settings()
    root = settings.records_dir
    if not (root / "store.json").is_file() and not create:
        return None
    return RecordStore(root, timezone=settings.timezone)


_LIVE: dict[str, LiveIndex] = {}
_LIVE_LOCK = threading.Lock()


def record_index(store: RecordStore) -> LiveIndex | None:
    """The service's index of ``store`` (one per store and process), or None when
    ``CITYTRACE_RECORDS_INDEX`` is off. It is built, and kept up to date, in the background."""
    if not get_settings().records_index:
        return None
    key = str(store.root.resolve())
    with _LIVE_LOCK:
        live = _LIVE.get(key)
        if live is None:
            live = _LIVE[key] = LiveIndex(store)
    return live


def searchable(store: RecordStore) -> RecordStore | LiveIndex:
    """What a search of the store reads: the service's index when it holds every day of the
    store as it is now; else the store itself (DuckDB over its files, the same answers), while
    the index catches up in the background."""
    live = record_index(store)
    if live is None:
        return store
    if live.is_current():
        return live
    live.refresh_in_background()
    return store


def search(
    *,
    session: Session,
    actor: str,
    case_id: int,
    distance_m: float = 20.0,
    min_overlap_min: float = 15.0,
    records: RecordStore | RecordIndex | LiveIndex | pa.Table | None = None,
) -> SearchResult:
    """Search the city's records for the case's contacts and store what is found.

    The case's route (its visits, less those an investigator rejected) is joined in space and
    time with the records; see :mod:`citytrace.exposure.definition` for what makes a contact.
    """
    case = cases.get_or_raise(session=session, case_id=case_id)
    visits = [
        v
        for v in investigation.list_visits(session=session, case_id=case.id)
        if v.status != VisitStatus.REJECTED
    ]
    if not visits:
        raise InputError(f"case {case.id} has no route to search from: attach evidence first")
    rule = ExposureRule(distance_m=distance_m, min_overlap_min=min_overlap_min)
    store = records if records is not None else record_store(create=False)
    engine = None
    search_ms = 0.0
    if store is None or (isinstance(store, RecordStore) and not store.days()):
        found: list[dict[str, object]] = []
    else:
        ts = pa.timestamp("us", tz="UTC")
        table = pa.table(
            {
                "case_id": pa.array([case.id] * len(visits), pa.int64()),
                "latitude": [v.latitude for v in visits],
                "longitude": [v.longitude for v in visits],
                "radius_m": [v.radius_m for v in visits],
                "started_at": pa.array([v.started_at for v in visits], ts),
                "finished_at": pa.array([v.finished_at for v in visits], ts),
            }
        )
        own = case.person_ref or ""
        exclude: dict[object, object] | None = {case.id: int(own)} if own.isdigit() else None
        source = searchable(store) if isinstance(store, RecordStore) else store
        engine = "index" if isinstance(source, LiveIndex | RecordIndex) else "duckdb"
        started = time.perf_counter()
        found = find_contacts(table, source, rule, exclude_person_ids=exclude).to_pylist()
        search_ms = (time.perf_counter() - started) * 1000
    result = store_found(session=session, actor=actor, case_id=case.id, found=found, engine=engine)
    return replace(result, search_ms=search_ms)


def store_found(
    *,
    session: Session,
    actor: str,
    case_id: int,
    found: list[dict[str, object]],
    engine: str | None = None,
) -> SearchResult:
    """Record the contacts a search found: new people are identified; known ones are updated
    (their times and measures) without losing where their follow-up stands. The audit record
    names the ``engine`` that searched, when given."""
    case = cases.get_or_raise(session=session, case_id=case_id)
    tz = get_settings().timezone
    known = {c.person_ref: c for c in list_(session=session, case_id=case.id)}
    new = updated = 0
    for row in found:
        ref = str(row["person_id"])
        if ref == case.person_ref:
            continue
        last: datetime = row["last_contact_at"]  # type: ignore[assignment]
        values = {
            "first_contact_at": row["first_contact_at"],
            "last_contact_at": last,
            "max_overlap_min": float(row["max_overlap_min"]),  # type: ignore[arg-type]
            "min_distance_m": float(row["min_distance_m"]),  # type: ignore[arg-type]
            "n_contacts": int(row["n_contacts"]),  # type: ignore[call-overload]
            "evidence_kinds": sorted(str(row["evidence_kinds"]).split(","))
            if row["evidence_kinds"]
            else [],
            "risk_class": RiskClass(str(row["risk_class"])),
            "quarantine_until_date": quarantine_until(last, tz),
        }
        contact = known.get(ref)
        if contact is None:
            session.add(Contact(case_id=case.id, person_ref=ref, **values))
            new += 1
        else:
            for key, value in values.items():
                setattr(contact, key, value)
            updated += 1
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="exposure.search",
        entity="case",
        entity_id=case.id,
        detail={"found": new + updated, "new": new, "updated": updated}
        | ({} if engine is None else {"engine": engine}),
    )
    return SearchResult(found=new + updated, new=new, updated=updated, engine=engine)


def transition(
    *,
    session: Session,
    actor: str,
    contact_id: int,
    state: ContactState,
    test_result: str | None = None,
    note: str | None = None,
    override_reason: str | None = None,
    today: date | None = None,
) -> Contact:
    """Move a contact to its next state, checking the rules; the change is audited."""
    contact = get_or_raise(session=session, contact_id=contact_id)
    if state not in ALLOWED[contact.state]:
        allowed = ", ".join(sorted(ALLOWED[contact.state])) or "none"
        raise ConflictError(
            f"contact {contact.id} is {contact.state}: it can move to {allowed}, not {state}"
        )
    now = utcnow()
    if state == ContactState.TESTED:
        if test_result is None:
            raise InputError("a test needs its result", location="test_result")
        contact.test_result = test_result
        contact.tested_at = now
    elif state == ContactState.NOTIFIED:
        contact.notified_at = now
    elif state == ContactState.IN_QUARANTINE:
        contact.quarantined_at = now
        contact.notified_at = contact.notified_at or now
    elif state == ContactState.RELEASED:
        local_today = today or now.astimezone(ZoneInfo(get_settings().timezone)).date()
        if local_today <= contact.quarantine_until_date and not override_reason:
            raise ConflictError(
                f"contact {contact.id} is in quarantine until {contact.quarantine_until_date}; "
                "release earlier only with a reason (override_reason)"
            )
        if contact.test_result == "positive":
            raise ConflictError(f"contact {contact.id} tested positive: register a case instead")
        contact.released_at = now
    previous = contact.state
    contact.state = state
    if note is not None:
        contact.note = note
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="contact.transition",
        entity="case",
        entity_id=contact.case_id,
        detail={
            "contact_id": contact.id,
            "from": str(previous),
            "to": str(state),
            "override": override_reason is not None,
        },
    )
    return contact
