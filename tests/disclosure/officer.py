"""Records for the disclosure officer's tests: cases with reviewed visits, contacts, and the
city's records of who was around (a table, as the exposure search takes it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
from sqlalchemy.orm import Session

from citytrace.cases import service as cases
from citytrace.cases.models import Case
from citytrace.cases.schemas import CaseCreate
from citytrace.contacts.models import Contact, ContactState, RiskClass
from citytrace.investigation.models import Visit, VisitStatus

DISTRICT = "11140"  # Jung-gu
# 2020-03-03 10:00 in Seoul; the case's window is 2020-03-01 00:00 .. 2020-03-06 00:00 (KST).
START = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)
NOW = datetime(2020, 3, 6, 3, 0, tzinfo=UTC)
CAFE = (37.5663, 126.9779)
MART = (37.5600, 126.9900)


def make_case(session: Session, *, district: str = DISTRICT, onset: date | None = None) -> Case:
    return cases.create(
        session=session,
        actor="test",
        data=CaseCreate(
            confirmed_date=onset + timedelta(days=2) if onset else date(2020, 3, 5),
            symptom_onset_date=onset or date(2020, 3, 3),
            isolated_date=onset + timedelta(days=2) if onset else date(2020, 3, 5),
            district_code=district,
        ),
    )


def make_visit(
    session: Session,
    case: Case,
    *,
    at: datetime = START,
    minutes: int = 40,
    place: tuple[float, float] = CAFE,
    kind: str | None = "cafe",
    name: str | None = "Blue Cup",
    venue_id: str | None = "V-1",
    address: str | None = "Sejong-daero 110",
    district: str | None = DISTRICT,
    status: VisitStatus = VisitStatus.CONFIRMED,
) -> Visit:
    visit = Visit(
        case_id=case.id,
        started_at=at,
        finished_at=at + timedelta(minutes=minutes),
        latitude=place[0],
        longitude=place[1],
        radius_m=20.0,
        district_code=district,
        venue_id=venue_id,
        venue_name=name,
        venue_kind=kind,
        address=address,
        evidence_count=1,
        confidence=0.9,
        status=status,
    )
    session.add(visit)
    session.flush()
    return visit


def make_contact(
    session: Session,
    case: Case,
    *,
    ref: str,
    at: datetime = START,
    minutes: int = 30,
    state: ContactState = ContactState.IDENTIFIED,
) -> Contact:
    contact = Contact(
        case_id=case.id,
        person_ref=ref,
        first_contact_at=at,
        last_contact_at=at + timedelta(minutes=minutes),
        max_overlap_min=float(minutes),
        min_distance_m=2.0,
        n_contacts=1,
        risk_class=RiskClass.CLOSE,
        quarantine_until_date=date(2020, 3, 17),
        state=state,
    )
    session.add(contact)
    session.flush()
    return contact


def crowd(
    n: int,
    *,
    place: tuple[float, float] = CAFE,
    at: datetime = START,
    minutes: int = 30,
    first_person: int = 1000,
) -> pa.Table:
    """``n`` people recorded at ``place`` from ``at`` for ``minutes``."""
    ts = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "person_id": pa.array(range(first_person, first_person + n), pa.int64()),
            "latitude": pa.array([place[0]] * n, pa.float64()),
            "longitude": pa.array([place[1]] * n, pa.float64()),
            "radius_m": pa.array([5.0] * n, pa.float64()),
            "started_at": pa.array([at] * n, ts),
            "finished_at": pa.array([at + timedelta(minutes=minutes)] * n, ts),
            "kind": pa.array(["checkin"] * n, pa.string()),
        }
    )
