"""The disclosure officer's workflow on the real database: drafting, merging, risk, approval,
publication, correction, withdrawal, expiry and suppression, each step audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.contacts.models import ContactState
from citytrace.disclosure import service
from citytrace.disclosure.models import DisclosureEntry, DisclosureSource, EntryStatus, RiskLevel
from citytrace.disclosure.schemas import EntryEdit
from citytrace.errors import ConflictError, InputError, NotFoundError
from citytrace.investigation.models import VisitStatus
from tests.disclosure.officer import (
    CAFE,
    MART,
    NOW,
    START,
    crowd,
    make_case,
    make_contact,
    make_visit,
)

PUBLIC_COLUMNS = set(DisclosureEntry.__table__.columns.keys())


def actions(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("disclosure.%"))
            .order_by(AuditEvent.id)
        )
    )


def only(session: Session) -> DisclosureEntry:
    entries = service.list_(session=session)
    assert len(entries) == 1
    return entries[0]


class TestPublicStore:
    def test_the_public_table_holds_nothing_of_a_person(self) -> None:
        forbidden = {"case_id", "visit_id", "person_ref", "person_id", "sex", "age", "order"}
        assert not PUBLIC_COLUMNS & forbidden
        assert "case_id" in DisclosureSource.__table__.columns


class TestDraft:
    def test_a_reviewed_visit_becomes_a_generalised_draft(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case, at=START + timedelta(minutes=7), minutes=41)
        result = service.draft_from_case(
            session=session, actor="officer", case_id=case.id, now=NOW, records=crowd(12)
        )
        entry = only(session)
        assert result.created == [entry.id] and result.skipped == []
        assert entry.status == EntryStatus.DRAFT
        # 10:07-10:48 in Seoul is published as 10:00-11:00 (30-minute steps).
        assert entry.exposure_start == START
        assert entry.exposure_end == START + timedelta(minutes=60)
        assert entry.business_name == "Blue Cup" and entry.road_address == "Sejong-daero 110"
        assert entry.place_kind == "cafe" and entry.district_code == "11140"
        assert entry.expires_at == START + timedelta(minutes=48, days=14)
        assert entry.disinfected is False  # within 7 days: a note is needed
        assert entry.risk_k == 12 and entry.risk_level == RiskLevel.OK
        assert len(entry.public_id) == 32 and entry.version == 1
        assert actions(session) == ["disclosure.draft"]

    def test_the_time_step_is_a_setting(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from citytrace.config import get_settings

        monkeypatch.setenv("CITYTRACE_DISCLOSURE_TIME_STEP_MIN", "60")
        get_settings.cache_clear()
        case = make_case(session)
        make_visit(session, case, at=START + timedelta(minutes=35), minutes=10)
        service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        entry = only(session)
        assert (entry.exposure_start, entry.exposure_end) == (START, START + timedelta(hours=1))

    def test_without_a_reviewed_route_nothing_is_drafted(self, session: Session) -> None:
        case = make_case(session)
        with pytest.raises(InputError, match="has no route"):
            service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        make_visit(session, case, status=VisitStatus.PROPOSED)
        with pytest.raises(InputError, match="no reviewed route"):
            service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        assert service.list_(session=session) == []

    def test_residences_and_visits_outside_the_window_are_skipped(self, session: Session) -> None:
        case = make_case(session)
        home = make_visit(session, case, kind="home", name=None, venue_id=None)
        early = make_visit(session, case, at=datetime(2020, 2, 28, 3, 0, tzinfo=UTC))
        nowhere = make_visit(
            session,
            case,
            at=START + timedelta(hours=5),
            district=None,
            address=None,
            venue_id=None,
            name=None,
            kind=None,
        )
        kept = make_visit(
            session,
            case,
            at=START + timedelta(hours=2),
            place=MART,
            kind="mart",
            name="Mart",
            venue_id="V-2",
            address="Toegye-ro 1",
        )
        result = service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        assert sorted(result.skipped) == sorted(
            [(home.id, "residence"), (early.id, "outside_window"), (nowhere.id, "no_place")]
        )
        entry = only(session)
        assert [s.visit_id for s in entry.sources] == [kept.id]

    def test_a_named_visit_that_cannot_be_drafted_is_an_error(self, session: Session) -> None:
        case = make_case(session)
        other = make_case(session)
        early = make_visit(session, case, at=datetime(2020, 2, 28, 3, 0, tzinfo=UTC))
        foreign = make_visit(session, other)
        with pytest.raises(InputError, match=f"visit {early.id} .*outside the case's disclosure"):
            service.draft_from_case(
                session=session, actor="o", case_id=case.id, visit_ids=[early.id], now=NOW
            )
        with pytest.raises(InputError, match=f"visit {foreign.id} is not a visit of case"):
            service.draft_from_case(
                session=session, actor="o", case_id=case.id, visit_ids=[foreign.id], now=NOW
            )

    def test_drafting_again_adds_nothing(self, session: Session) -> None:
        case = make_case(session)
        visit = make_visit(session, case)
        make_contact(session, case, ref="P1", state=ContactState.NOTIFIED)
        other = make_visit(
            session,
            case,
            at=START + timedelta(hours=3),
            place=MART,
            venue_id="V-2",
            address="Toegye-ro 1",
            name="Mart",
            kind="mart",
        )
        service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        statuses = sorted(e.status.value for e in service.list_(session=session))
        assert statuses == ["draft", "suppressed"]
        again = service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        assert again.created == [] and again.merged == []
        assert sorted(again.skipped) == sorted(
            [(visit.id, "already_drafted"), (other.id, "already_drafted")]
        )
        assert len(service.list_(session=session)) == 2

    def test_visits_of_several_cases_at_one_place_merge(self, session: Session) -> None:
        first, second = make_case(session), make_case(session)
        make_visit(session, first, at=START, minutes=40)
        # 20 minutes after the first left: adjacent once generalised to 30 minutes.
        make_visit(session, second, at=START + timedelta(minutes=60), minutes=30)
        service.draft_from_case(session=session, actor="o", case_id=first.id, now=NOW)
        result = service.draft_from_case(session=session, actor="o", case_id=second.id, now=NOW)
        entry = only(session)
        assert result.merged == [entry.id] and result.created == []
        assert {s.case_id for s in entry.sources} == {first.id, second.id}
        assert entry.exposure_end == START + timedelta(minutes=90)

    def test_far_apart_times_stay_apart_and_the_business_is_named_once(
        self, session: Session
    ) -> None:
        first, second = make_case(session), make_case(session)
        make_visit(session, first, at=START)
        make_visit(session, second, at=START + timedelta(hours=6))
        service.draft_from_case(session=session, actor="o", case_id=first.id, now=NOW)
        service.draft_from_case(session=session, actor="o", case_id=second.id, now=NOW)
        entries = sorted(service.list_(session=session), key=lambda e: e.exposure_start)
        assert len(entries) == 2
        assert [e.business_name for e in entries] == ["Blue Cup", None]
        assert all(e.road_address == "Sejong-daero 110" for e in entries)

    def test_an_old_exposure_needs_no_disinfection_note(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case)
        service.draft_from_case(
            session=session, actor="o", case_id=case.id, now=START + timedelta(days=9)
        )
        assert only(session).disinfected is None

    def test_a_visit_past_its_expiry_is_not_drafted(self, session: Session) -> None:
        case = make_case(session)
        visit = make_visit(session, case)
        result = service.draft_from_case(
            session=session, actor="o", case_id=case.id, now=START + timedelta(days=15)
        )
        assert result.skipped == [(visit.id, "expired")]

    def test_places_whose_contacts_are_all_notified_are_suppressed(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case)
        make_contact(session, case, ref="P1", state=ContactState.NOTIFIED)
        make_contact(session, case, ref="P2", state=ContactState.IN_QUARANTINE)
        result = service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        entry = only(session)
        assert result.suppressed == [entry.id] and entry.status == EntryStatus.SUPPRESSED

    def test_public_transport_is_kept_with_its_boarding(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case, kind="subway", name="City Hall station", venue_id="S-1")
        make_contact(session, case, ref="P1", state=ContactState.NOTIFIED)
        service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        entry = only(session)
        # Passengers can never all be known: not suppressed although every contact is notified.
        assert entry.status == EntryStatus.DRAFT
        assert entry.boarding_stop == "City Hall station"
        assert entry.boarding_at == entry.exposure_start

    def test_one_contact_not_yet_notified_keeps_the_place(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case)
        make_contact(session, case, ref="P1", state=ContactState.NOTIFIED)
        make_contact(session, case, ref="P2", state=ContactState.IDENTIFIED)
        service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        assert only(session).status == EntryStatus.DRAFT


class TestRisk:
    def test_few_people_block_until_generalised(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case)
        # Three people at the cafe itself, five more within a block.
        records = pa.concat_tables(
            [crowd(3), crowd(5, place=(CAFE[0] + 0.0005, CAFE[1]), first_person=2000)]
        )
        service.draft_from_case(
            session=session, actor="o", case_id=case.id, now=NOW, records=records
        )
        entry = only(session)
        assert entry.risk_k == 3 and entry.risk_level == RiskLevel.BLOCKED
        with pytest.raises(ConflictError, match="only 3 people"):
            service.approve(
                session=session, actor="o", entry_ids=[entry.id], now=NOW, records=records
            )
        service.update(
            session=session,
            actor="o",
            entry_id=entry.id,
            data=EntryEdit(show_business_name=False),
            now=NOW,
            records=records,
        )
        assert entry.business_name is None
        assert entry.risk_k == 8 and entry.risk_level != RiskLevel.BLOCKED
        service.approve(session=session, actor="o", entry_ids=[entry.id], now=NOW, records=records)
        assert entry.status == EntryStatus.APPROVED

    def test_without_population_data_an_override_is_needed(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case)
        service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        entry = only(session)
        assert entry.risk_k is None and entry.risk_level == RiskLevel.BLOCKED
        assert "no_population" in entry.risk_reason
        with pytest.raises(ConflictError, match="no population data"):
            service.approve(session=session, actor="o", entry_ids=[entry.id], now=NOW)
        with pytest.raises(InputError):
            service.override(session=session, actor="o", entry_id=entry.id, justification="ok")
        service.override(
            session=session,
            actor="o",
            entry_id=entry.id,
            justification="records not loaded; crowded station, many unknown visitors",
            now=NOW,
        )
        assert entry.risk_level == RiskLevel.WARNING
        service.approve(session=session, actor="o", entry_ids=[entry.id], now=NOW)
        assert actions(session)[-2:] == ["disclosure.override", "disclosure.approve"]
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "disclosure.override")
        ).one()
        assert "crowded station" in event.detail["justification"]

    def test_four_entries_of_one_case_alone_are_linkable(self, session: Session) -> None:
        case = make_case(session)
        for i in range(4):
            make_visit(
                session,
                case,
                at=START + timedelta(hours=2 * i),
                place=(CAFE[0] + 0.01 * i, CAFE[1]),
                venue_id=f"V-{i}",
                name=f"Shop {i}",
                address=f"Road {i}",
            )
        records = pa.concat_tables(
            [
                crowd(
                    20,
                    place=(CAFE[0] + 0.01 * i, CAFE[1]),
                    at=START + timedelta(hours=2 * i),
                    first_person=100 * i,
                )
                for i in range(4)
            ]
        )
        service.draft_from_case(
            session=session, actor="o", case_id=case.id, now=NOW, records=records
        )
        entries = service.list_(session=session)
        assert len(entries) == 4
        assert all(
            e.risk_level == RiskLevel.WARNING and "linkable" in e.risk_reason for e in entries
        )
        summary = service.list_risk(session=session)
        assert summary.linkable_cases == 1 and summary.blocked == 0


class TestPublishing:
    def _approved(self, session: Session) -> DisclosureEntry:
        case = make_case(session)
        make_visit(session, case)
        service.draft_from_case(
            session=session, actor="o", case_id=case.id, now=NOW, records=crowd(9)
        )
        entry = only(session)
        service.approve(session=session, actor="o", entry_ids=[entry.id], now=NOW, records=crowd(9))
        return entry

    def test_a_draft_is_never_published_without_approval(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case)
        service.draft_from_case(
            session=session, actor="o", case_id=case.id, now=NOW, records=crowd(9)
        )
        entry = only(session)
        with pytest.raises(ConflictError, match="approve it first"):
            service.publish(session=session, actor="o", entry_ids=[entry.id], now=NOW)
        assert entry.status == EntryStatus.DRAFT
        assert service.published_entries(session, NOW) == []

    def test_publish_correct_withdraw(self, session: Session) -> None:
        entry = self._approved(session)
        result = service.publish(
            session=session, actor="o", entry_ids=[entry.id], now=NOW, records=crowd(9)
        )
        assert result.published == [entry.id]
        assert service.published_entries(session, NOW) == [entry]
        assert service.changes_since(session, NOW - timedelta(seconds=1)) == [entry]
        later = NOW + timedelta(hours=1)
        service.correct(
            session=session,
            actor="o",
            entry_id=entry.id,
            data=EntryEdit(notes="closed for cleaning"),
            note="notes added",
            now=later,
            records=crowd(9),
        )
        assert entry.version == 2 and entry.correction_note == "notes added"
        assert entry.updated_at == later and entry.status == EntryStatus.PUBLISHED
        service.withdraw(
            session=session,
            actor="o",
            entry_id=entry.id,
            reason="wrong place",
            now=later + timedelta(minutes=5),
        )
        assert entry.status == EntryStatus.WITHDRAWN
        assert service.published_entries(session, later + timedelta(minutes=6)) == []
        assert service.changes_since(session, later) == [entry]
        with pytest.raises(ConflictError, match="is withdrawn: only a published entry"):
            service.withdraw(session=session, actor="o", entry_id=entry.id, reason="again")
        assert actions(session) == [
            "disclosure.draft",
            "disclosure.approve",
            "disclosure.publish",
            "disclosure.correct",
            "disclosure.withdraw",
        ]

    def test_withdrawing_a_draft_is_refused(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case)
        service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        entry = only(session)
        with pytest.raises(
            ConflictError, match="is draft: only a published entry can be withdrawn"
        ):
            service.withdraw(session=session, actor="o", entry_id=entry.id, reason="nope")
        with pytest.raises(NotFoundError):
            service.withdraw(session=session, actor="o", entry_id=entry.id + 1000, reason="nope")

    def test_a_workplace_needs_a_mass_exposure_mark(self, session: Session) -> None:
        case = make_case(session)
        make_visit(session, case, kind="office", name="Acme", venue_id="W-1")
        service.draft_from_case(
            session=session, actor="o", case_id=case.id, now=NOW, records=crowd(30)
        )
        entry = only(session)
        with pytest.raises(ConflictError, match="workplace"):
            service.approve(
                session=session, actor="o", entry_ids=[entry.id], now=NOW, records=crowd(30)
            )
        service.update(
            session=session,
            actor="o",
            entry_id=entry.id,
            data=EntryEdit(mass_exposure=True),
            now=NOW,
            records=crowd(30),
        )
        service.approve(
            session=session, actor="o", entry_ids=[entry.id], now=NOW, records=crowd(30)
        )
        assert entry.status == EntryStatus.APPROVED

    def test_a_failed_publish_changes_nothing(self, session: Session) -> None:
        entry = self._approved(session)
        case = make_case(session)
        make_visit(session, case, place=MART, venue_id="V-9", name="Other", address="Other 1")
        service.draft_from_case(session=session, actor="o", case_id=case.id, now=NOW)
        draft = next(e for e in service.list_(session=session) if e.status == EntryStatus.DRAFT)
        with pytest.raises(ConflictError):
            service.publish(session=session, actor="o", entry_ids=[entry.id, draft.id], now=NOW)
        assert entry.status == EntryStatus.APPROVED and entry.published_at is None

    def test_editing_an_approved_entry_needs_approval_again(self, session: Session) -> None:
        entry = self._approved(session)
        service.update(
            session=session,
            actor="o",
            entry_id=entry.id,
            data=EntryEdit(time_step_min=120),
            now=NOW,
            records=crowd(9),
        )
        assert entry.status == EntryStatus.DRAFT
        assert entry.exposure_end - entry.exposure_start == timedelta(hours=2)


class TestExpiry:
    def test_published_entries_expire_at_their_moment(self, session: Session) -> None:
        entry = TestPublishing()._approved(session)
        service.publish(session=session, actor="o", entry_ids=[entry.id], now=NOW, records=crowd(9))
        due = entry.expires_at
        assert service.expire_due(session=session, actor="s", now=due - timedelta(seconds=1)) == 0
        assert entry.status == EntryStatus.PUBLISHED
        assert service.next_expiry(session=session) == due
        assert service.expire_due(session=session, actor="s", now=due) == 1
        assert entry.status == EntryStatus.EXPIRED and entry.updated_at == due
        assert service.published_entries(session, due) == []
        assert service.changes_since(session, due - timedelta(seconds=1)) == [entry]

    def test_suppressed_once_all_contacts_are_notified(self, session: Session) -> None:
        entry = TestPublishing()._approved(session)
        service.publish(session=session, actor="o", entry_ids=[entry.id], now=NOW, records=crowd(9))
        case_id = entry.sources[0].case_id
        from citytrace.cases.models import Case

        case = session.get(Case, case_id)
        assert case is not None
        contact = make_contact(session, case, ref="P1", state=ContactState.IDENTIFIED)
        assert service.suppress_identified(session=session, actor="s", now=NOW) == 0
        contact.state = ContactState.NOTIFIED
        session.flush()
        later = NOW + timedelta(hours=2)
        assert service.suppress_identified(session=session, actor="s", now=later) == 1
        assert entry.status == EntryStatus.SUPPRESSED and entry.updated_at == later
        assert service.changes_since(session, NOW) == [entry]
