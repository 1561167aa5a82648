"""The demo fills an empty database once, through the real import path."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.cases.models import Case
from citytrace.db import make_engine
from citytrace.demo import load_demo
from citytrace.evidence.models import EvidenceFile
from citytrace.investigation.models import Visit
from citytrace.migrations import upgrade


class TestLoadDemo:
    def test_loads_cases_with_routes_once(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
        upgrade(engine)
        message = load_demo(engine, n_people=300, n_cases=2, n_days=7)
        assert message.startswith("demo loaded: 2 cases")
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Case)) == 2
            kinds = set(session.scalars(select(EvidenceFile.kind)))
            assert "google_records" in kinds and "cell" in kinds
            assert session.scalar(select(func.count()).select_from(Visit)) > 5
            districts = set(session.scalars(select(Visit.district_code)))
            assert districts - {None}
        assert load_demo(engine, n_people=300, n_cases=2, n_days=7).startswith("demo not loaded")

    def test_the_city_records_give_the_cases_contacts(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        from citytrace.contacts import service as contacts
        from citytrace.contacts.service import record_store

        engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
        upgrade(engine)
        load_demo(engine, n_people=600, n_cases=3, n_days=7)
        store = record_store(create=False)
        assert store is not None and len(store.days()) == 7
        with Session(engine) as session:
            found = 0
            for case in session.scalars(select(Case)):
                assert case.person_ref is not None
                result = contacts.search(session=session, actor="t", case_id=case.id)
                found += result.found
                refs = {c.person_ref for c in contacts.list_(session=session, case_id=case.id)}
                assert case.person_ref not in refs
            assert found > 0

    def test_recent_days_and_a_published_place_list(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        from datetime import UTC, datetime

        from citytrace.contacts.service import record_store
        from citytrace.disclosure import service as disclosure
        from citytrace.disclosure.models import DisclosureEntry, EntryStatus

        engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
        upgrade(engine)
        message = load_demo(engine)
        now = datetime.now(UTC)
        store = record_store(create=False)
        assert store is not None
        # The city's days end yesterday: nothing is due for retention or past its disclosure.
        assert 0 < (now.date() - store.days()[-1]).days <= 2
        with Session(engine) as session:
            published = disclosure.published_entries(session, now)
            assert published and f"{len(published)} places published" in message
            assert all(e.expires_at > now for e in published)
            # The rest wait for the disclosure officer, none published by accident.
            waiting = session.scalars(
                select(DisclosureEntry).where(DisclosureEntry.status == EntryStatus.DRAFT)
            ).all()
            assert waiting
            assert {e.id for e in waiting}.isdisjoint({e.id for e in published})
