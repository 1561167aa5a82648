"""Transmission between cases, as the exposure search found it.

Case B is *linked from* case A when B's person was a contact of A and B was confirmed on or after
the local day of their first contact (a contact confirmed before cannot have been infected by
it). Linked cases form clusters; within a cluster, a case's *generation* is its place in the
longest chain of links that leads to it (1 for a case no link leads to). The outbreak picture
counts these (:mod:`citytrace.stats.service`); a case's page shows investigators the chain it
belongs to (:func:`citytrace.contacts.service.transmission_chain`).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from citytrace.cases.models import Case
from citytrace.config import get_settings
from citytrace.contacts.models import Contact

Links = set[tuple[int, int]]  # (from case, to case)


def links_case(contact_at: datetime, confirmed: date, zone: ZoneInfo) -> bool:
    """Whether a contact at ``contact_at`` links to a case of that person confirmed on
    ``confirmed``: confirmed on or after the contact's local day."""
    return confirmed >= contact_at.astimezone(zone).date()


def all_links(*, session: Session) -> Links:
    """Every link between cases: a contact of one case whose person is another case, confirmed
    on or after the contact's local day (the city's time zone)."""
    return _links(session, _LINKED)


def links_around(*, session: Session, case_id: int) -> Links:
    """The links of the cluster of ``case_id`` (none for a case without links), followed from the
    case outwards, two queries a step for each 500 cases reached, rather than every link of the
    city."""
    found: Links = set()
    reached = {case_id}
    frontier = [case_id]
    while frontier:
        step: Links = set()
        for at in range(0, len(frontier), _IN_LIST):
            part = frontier[at : at + _IN_LIST]
            step |= _links(session, _LINKED.where(Contact.case_id.in_(part)))  # from them
            step |= _links(session, _LINKED.where(Case.id.in_(part)))  # to them
        found |= step
        frontier = sorted({c for link in step for c in link} - reached)
        reached.update(frontier)
    return found


# A contact of one case (from) whose person is another case (to), with the day the rule needs.
_LINKED = (
    select(Contact.case_id, Case.id, Contact.first_contact_at, Case.confirmed_date)
    .join(Case, Case.person_ref == Contact.person_ref)
    .where(Case.id != Contact.case_id)
)


def _links(session: Session, query: Select[int, int, datetime, date]) -> Links:
    zone = ZoneInfo(get_settings().timezone)
    return {
        (a, b)
        for a, b, contact_at, confirmed in session.execute(query)
        if links_case(contact_at, confirmed, zone)
    }


_IN_LIST = 500  # cases in one IN list


def clusters_of(links: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The cases joined by links, directly or not, one list a cluster (every linked case is in
    one; a case without links is in none)."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for case_id in parent:
        groups.setdefault(root(case_id), []).append(case_id)
    return list(groups.values())


def generations(
    cases: Collection[int], links: Iterable[tuple[int, int]], day: Mapping[int, date]
) -> dict[int, int]:
    """Each case's place in the longest chain of links that leads to it. Links are followed in
    the order of confirmation (``day``): a link to a case confirmed earlier is passed over, and
    a loop among cases confirmed on one day (each a contact of another) is cut before its
    earliest case (by day, then case id), so that odd data end a chain rather than a search.
    Links to or from cases outside ``cases`` are ignored."""
    incoming: dict[int, list[int]] = {c: [] for c in cases}
    following: dict[int, list[int]] = {c: [] for c in cases}
    for a, b in links:
        if a != b and a in incoming and b in incoming and day[a] <= day[b]:
            incoming[b].append(a)
            following[a].append(b)
    waiting = {c: len(incoming[c]) for c in incoming}
    ready = [(day[c], c) for c, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    place: dict[int, int] = {}
    earliest = sorted((day[c], c) for c in waiting)  # (only ever read forwards)
    at = 0
    while len(place) < len(waiting):
        if not ready:  # a loop: start it at its earliest case not placed yet
            while earliest[at][1] in place:
                at += 1
            ready.append(earliest[at])
        _, c = heapq.heappop(ready)
        if c in place:
            continue
        place[c] = 1 + max((place[a] for a in incoming[c] if a in place), default=0)
        for b in following[c]:
            waiting[b] -= 1
            if waiting[b] == 0:
                heapq.heappush(ready, (day[b], b))
    return place
