"""The demo: an empty database filled with confirmed cases of the synthetic city.

Each demo case is a synthetic resident whose evidence is exported as the files a real case hands
over (Google ``Records.json``, card, cell and check-in CSV) and imported through the same
service as an investigator's upload, so the demo shows the real path, not a shortcut. The city's
days end yesterday (so that nothing is past its retention or its disclosure yet); the routes of
the first cases are reviewed and their places drafted for disclosure, and the entries that pass
the risk check are published, so that the public list and the open-data feed have something to
show; the others wait, blocked, for the disclosure officer.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pyarrow as pa
from sqlalchemy import Engine, func, select

from citytrace.auth.models import Role
from citytrace.cases import service as cases
from citytrace.cases.models import Case
from citytrace.cases.schemas import CaseCreate
from citytrace.db import unit_of_work
from citytrace.evidence import service as evidence
from citytrace.investigation import service as investigation

if TYPE_CHECKING:
    from citytrace.synth import SynthCity

DEMO_ACTOR = "demo"


def load_demo(
    engine: Engine,
    *,
    n_people: int = 2000,
    n_cases: int = 5,
    n_days: int = 14,
    seed: int = 2020,
    start_date: date | None = None,
    n_disclosed: int = 2,
) -> str:
    """Fill an empty database with ``n_cases`` cases and their routes; returns what was done.

    ``start_date`` defaults to ``n_days`` before today in the city's zone. The routes of the
    first ``n_disclosed`` cases are reviewed (every proposed visit confirmed) and drafted for
    disclosure; the drafts that pass the risk check are approved and published.
    """
    from citytrace.config import get_settings
    from citytrace.synth import SynthConfig, export_person_evidence, generate

    with unit_of_work(engine) as session:
        if session.scalar(select(func.count()).select_from(Case)):
            return "demo not loaded: the database already has cases"
    if start_date is None:
        today = datetime.now(ZoneInfo(get_settings().timezone)).date()
        start_date = today - timedelta(days=n_days)
    config = SynthConfig(
        n_people=n_people, n_days=n_days, seed=seed, start_date=start_date, fixes_for=n_cases
    )
    city = generate(config)
    homes = dict(
        zip(
            city.people.column("person_id").to_pylist(),
            city.people.column("home_district_code").to_pylist(),
            strict=True,
        )
    )
    _load_city_records(city)
    visits = 0
    picked = city.cases(n_cases).to_pylist()
    for number, row in enumerate(picked, start=1):
        with tempfile.TemporaryDirectory(prefix="citytrace-demo-") as tmp:
            files = export_person_evidence(config, row["person_id"], Path(tmp))
            with unit_of_work(engine) as session:
                case = cases.create(
                    session=session,
                    actor=DEMO_ACTOR,
                    data=CaseCreate(
                        reference=f"DEMO-{number:03d}",
                        district_code=homes[row["person_id"]],
                        symptom_onset_date=row["symptom_onset_date"],
                        specimen_collected_date=row["specimen_date"],
                        confirmed_date=row["isolation_date"],
                        isolated_date=row["isolation_date"],
                        notes="synthetic demo case",
                    ),
                )
                case.person_ref = str(row["person_id"])
                for path in files:
                    evidence.attach(session=session, actor=DEMO_ACTOR, case_id=case.id, path=path)
                visits += investigation.rebuild_route(
                    session=session, actor=DEMO_ACTOR, case_id=case.id
                ).proposed
    published = _disclose(engine, n_disclosed)
    with unit_of_work(engine) as session:
        from citytrace.screening.clinics import load_demo_clinics

        screening = load_demo_clinics(session=session, actor=DEMO_ACTOR)
    return (
        f"demo loaded: {len(picked)} cases, {visits} visits proposed, "
        f"{published} places published, {screening}"
    )


def _disclose(engine: Engine, n_cases: int) -> int:
    """Review the routes of the first ``n_cases`` cases, draft their places and publish those
    that pass the risk check; how many were published."""
    from citytrace.disclosure import rules
    from citytrace.disclosure import service as disclosure
    from citytrace.disclosure.models import DisclosureEntry, EntryStatus, RiskLevel
    from citytrace.investigation.models import Visit, VisitStatus
    from citytrace.investigation.schemas import ReviewAction

    with unit_of_work(engine) as session:
        case_ids = list(session.scalars(select(Case.id).order_by(Case.id).limit(n_cases)))
        for case_id in case_ids:
            proposed = session.scalars(
                select(Visit.id).where(
                    Visit.case_id == case_id, Visit.status == VisitStatus.PROPOSED
                )
            ).all()
            for visit_id in proposed:
                investigation.review_visit(
                    session=session,
                    actor=DEMO_ACTOR,
                    visit_id=visit_id,
                    action=ReviewAction.CONFIRM,
                )
            disclosure.draft_from_case(session=session, actor=DEMO_ACTOR, case_id=case_id)
        drafts = session.scalars(
            select(DisclosureEntry).where(DisclosureEntry.status == EntryStatus.DRAFT)
        ).all()
        disclosure.check_risk(session=session, actor=DEMO_ACTOR)
        passing = [
            e.id
            for e in drafts
            if e.risk_level != RiskLevel.BLOCKED
            and (e.place_kind not in rules.WORKPLACE_KINDS or e.mass_exposure)
        ]
    if not passing:
        return 0
    with unit_of_work(engine) as session:
        disclosure.approve(session=session, actor=DEMO_ACTOR, entry_ids=passing)
    with unit_of_work(engine) as session:
        result = disclosure.publish(session=session, actor=DEMO_ACTOR, entry_ids=passing)
    return len(result.published)


def _load_city_records(city: SynthCity) -> None:
    """The city's venue check-ins and card payments, the records the exposure search runs over."""
    from citytrace.contacts.service import record_store
    from citytrace.exposure import records_from_card, records_from_checkins
    from citytrace.exposure.daily import append_by_day

    store = record_store()
    assert store is not None
    records = pa.concat_tables([records_from_checkins(city.checkins), records_from_card(city.card)])
    append_by_day(store, records, replace=True)


DEMO_USERS: tuple[tuple[str, Role], ...] = (
    ("demo-admin", Role.ADMINISTRATOR),
    ("demo-investigator", Role.INVESTIGATOR),
    ("demo-disclosure", Role.DISCLOSURE_OFFICER),
    ("demo-clinic", Role.CLINIC_STAFF),
    ("demo-analyst", Role.ANALYST),
)


def create_demo_users(engine: Engine) -> list[tuple[str, str, str]]:
    """One account per role, each with a new random password: ``(username, role, password)``
    of the accounts made now (none when they exist already: passwords are shown only once).

    The investigator belongs to the district of the first demo case, so that their cases are
    there to see.
    """
    import secrets

    from pydantic import SecretStr

    from citytrace.auth import service as accounts
    from citytrace.auth.schemas import UserCreate
    from citytrace.config import get_settings
    from citytrace.geo import load_city

    made: list[tuple[str, str, str]] = []
    with unit_of_work(engine) as session:
        district = session.scalar(
            select(Case.district_code).where(Case.district_code.is_not(None)).order_by(Case.id)
        )
        district = district or load_city(get_settings().city).districts[0].code
        for username, role in DEMO_USERS:
            if accounts.get_by_username(session=session, username=username) is not None:
                continue
            password = secrets.token_urlsafe(12)
            accounts.create(
                session=session,
                actor=DEMO_ACTOR,
                data=UserCreate(
                    username=username,
                    display_name=f"Demo {role.value.replace('_', ' ')}",
                    role=role,
                    district_code=district if role == Role.INVESTIGATOR else None,
                    clinic_ref="demo-clinic" if role == Role.CLINIC_STAFF else None,
                    password=SecretStr(password),
                ),
            )
            made.append((username, role.value, password))
    return made
