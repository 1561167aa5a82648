"""Contacts: found by the exposure search from a case's route, followed until release."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.cases.schemas import CaseCreate
from citytrace.contacts import service
from citytrace.contacts.models import Contact, ContactState, RiskClass
from citytrace.errors import ConflictError, InputError
from citytrace.investigation.models import Visit, VisitStatus
from tests.factories import contact_row

T0 = datetime(2020, 3, 2, 12, 0, tzinfo=UTC)  # 21:00 in Seoul
CAFE = (37.5665, 126.9780)


def records(rows: list[tuple[int, float, float, datetime, datetime]]) -> pa.Table:
    ts = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "person_id": pa.array([r[0] for r in rows], pa.int64()),
            "latitude": [r[1] for r in rows],
            "longitude": [r[2] for r in rows],
            "started_at": pa.array([r[3] for r in rows], ts),
            "finished_at": pa.array([r[4] for r in rows], ts),
        }
    )


CITY = records(
    [
        (1, *CAFE, T0 + timedelta(minutes=30), T0 + timedelta(hours=2)),  # 30 min together
        (2, *CAFE, T0 + timedelta(minutes=50), T0 + timedelta(minutes=90)),  # only 10 min
        (3, CAFE[0] + 0.005, CAFE[1], T0, T0 + timedelta(hours=1)),  # 550 m away
        (4, *CAFE, T0, T0 + timedelta(hours=1)),  # the case's own records
    ]
)


@pytest.fixture
def case_id(session: Session) -> int:
    case = cases.create(
        session=session,
        actor="t",
        data=CaseCreate(confirmed_date=date(2020, 3, 3), symptom_onset_date=date(2020, 3, 2)),
    )
    case.person_ref = "4"
    session.add(
        Visit(
            case_id=case.id,
            started_at=T0,
            finished_at=T0 + timedelta(hours=1),
            latitude=CAFE[0],
            longitude=CAFE[1],
            radius_m=0.0,
            evidence_kinds=["card"],
            evidence_count=1,
            confidence=0.75,
        )
    )
    session.flush()
    return case.id


class TestSearch:
    def test_finds_who_was_there_long_enough_and_not_the_case_itself(
        self, session: Session, case_id: int
    ) -> None:
        result = service.search(session=session, actor="inv", case_id=case_id, records=CITY)
        assert (result.found, result.new, result.updated) == (1, 1, 0)
        (contact,) = service.list_(session=session, case_id=case_id)
        assert contact.person_ref == "1"
        assert contact.first_contact_at == T0 + timedelta(minutes=30)
        assert contact.last_contact_at == T0 + timedelta(hours=1)
        assert contact.max_overlap_min == pytest.approx(30)
        assert contact.risk_class == RiskClass.CLOSE
        # Last contact 22:00 in Seoul on 2 March: quarantine to the end of 16 March.
        assert contact.quarantine_until_date == date(2020, 3, 16)
        event = audit.list_(session=session, entity="case", entity_id=case_id)[-1]
        assert event.action == "exposure.search" and event.detail["new"] == 1

    def test_a_shorter_overlap_rule_finds_more(self, session: Session, case_id: int) -> None:
        result = service.search(
            session=session, actor="inv", case_id=case_id, records=CITY, min_overlap_min=5
        )
        assert result.new == 2

    def test_searching_again_keeps_the_follow_up(self, session: Session, case_id: int) -> None:
        service.search(session=session, actor="inv", case_id=case_id, records=CITY)
        (contact,) = service.list_(session=session, case_id=case_id)
        service.transition(
            session=session, actor="inv", contact_id=contact.id, state=ContactState.NOTIFIED
        )
        again = service.search(session=session, actor="inv", case_id=case_id, records=CITY)
        assert (again.new, again.updated) == (0, 1)
        assert service.list_(session=session, case_id=case_id)[0].state == ContactState.NOTIFIED

    def test_rejected_visits_are_not_searched(self, session: Session, case_id: int) -> None:
        for visit in session.query(Visit).filter_by(case_id=case_id):
            visit.status = VisitStatus.REJECTED
        session.flush()
        with pytest.raises(InputError, match="no route to search from"):
            service.search(session=session, actor="inv", case_id=case_id, records=CITY)

    def test_no_city_records_finds_nobody(self, session: Session, case_id: int) -> None:
        result = service.search(session=session, actor="inv", case_id=case_id)
        assert result.found == 0

    def test_the_service_searches_its_index_once_it_holds_every_day(
        self, session: Session, case_id: int
    ) -> None:
        """The first search reads the store while the index is built in the background; later
        ones search the index; a day appended is read from the store until it is indexed too."""
        store = service.record_store()
        assert store is not None
        store.append_day(CITY)

        def search() -> tuple[list[str], str]:
            service.search(session=session, actor="inv", case_id=case_id, min_overlap_min=5)
            event = audit.list_(session=session, entity="case", entity_id=case_id)[-1]
            found = [c.person_ref for c in service.list_(session=session, case_id=case_id)]
            return found, event.detail["engine"]

        assert search() == (["1", "2"], "duckdb")
        live = service.record_index(store)
        assert live is not None
        live.wait(60)
        assert live.is_current() and search() == (["1", "2"], "index")
        late = records([(9, *CAFE, T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1))])
        store.append_day(late)
        assert search() == (["1", "2"], "duckdb")  # meanwhile the day is indexed
        live.wait(60)
        assert live.days == store.days() and search() == (["1", "2"], "index")

    def test_the_index_can_be_turned_off(
        self, session: Session, case_id: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CITYTRACE_RECORDS_INDEX", "false")
        store = service.record_store()
        assert store is not None
        store.append_day(CITY)
        assert service.record_index(store) is None
        for _ in range(2):
            service.search(session=session, actor="inv", case_id=case_id)
            event = audit.list_(session=session, entity="case", entity_id=case_id)[-1]
            assert event.detail["engine"] == "duckdb"


class TestTransition:
    @pytest.fixture
    def contact_id(self, session: Session, case_id: int) -> int:
        service.search(session=session, actor="inv", case_id=case_id, records=CITY)
        return service.list_(session=session, case_id=case_id)[0].id

    def test_follow_up_in_order(self, session: Session, contact_id: int) -> None:
        with pytest.raises(ConflictError, match="can move to in_quarantine, notified"):
            service.transition(
                session=session, actor="i", contact_id=contact_id, state=ContactState.TESTED
            )
        service.transition(
            session=session, actor="i", contact_id=contact_id, state=ContactState.NOTIFIED
        )
        with pytest.raises(InputError, match="needs its result"):
            service.transition(
                session=session, actor="i", contact_id=contact_id, state=ContactState.TESTED
            )
        tested = service.transition(
            session=session,
            actor="i",
            contact_id=contact_id,
            state=ContactState.TESTED,
            test_result="negative",
        )
        assert tested.tested_at is not None and tested.test_result == "negative"

    def test_release_waits_for_the_end_of_quarantine(
        self, session: Session, contact_id: int
    ) -> None:
        service.transition(
            session=session, actor="i", contact_id=contact_id, state=ContactState.IN_QUARANTINE
        )
        with pytest.raises(ConflictError, match="in quarantine until 2020-03-16"):
            service.transition(
                session=session,
                actor="i",
                contact_id=contact_id,
                state=ContactState.RELEASED,
                today=date(2020, 3, 16),
            )
        released = service.transition(
            session=session,
            actor="i",
            contact_id=contact_id,
            state=ContactState.RELEASED,
            today=date(2020, 3, 17),
        )
        assert released.state == ContactState.RELEASED and released.released_at is not None
        with pytest.raises(ConflictError, match="can move to none"):
            service.transition(
                session=session, actor="i", contact_id=contact_id, state=ContactState.NOTIFIED
            )

    def test_early_release_needs_a_reason_and_is_audited(
        self, session: Session, contact_id: int
    ) -> None:
        service.transition(
            session=session, actor="i", contact_id=contact_id, state=ContactState.IN_QUARANTINE
        )
        service.transition(
            session=session,
            actor="i",
            contact_id=contact_id,
            state=ContactState.RELEASED,
            override_reason="exposure ruled out: CCTV shows another table",
            today=date(2020, 3, 5),
        )
        event = audit.list_(session=session, entity="case")[-1]
        assert event.detail == {
            "contact_id": contact_id,
            "from": "in_quarantine",
            "to": "released",
            "override": True,
        }


SEOUL_NOON = datetime(2020, 3, 10, 3, 0, tzinfo=UTC)  # noon in Seoul on 10 March


def _contact(
    session: Session,
    case_id: int,
    person: str,
    state: ContactState,
    *,
    until: date = date(2020, 3, 16),
    test_result: str | None = None,
    quarantined: bool = False,
    at: datetime = SEOUL_NOON,
) -> Contact:
    """A contact in ``state``, each of its steps taken at ``at`` (those its state implies)."""
    contact = contact_row(
        case_id,
        person,
        start=T0,
        state=state,
        quarantine_until=until,
        identified_at=at,
        notified_at=None if state == ContactState.IDENTIFIED else at,
        tested_at=at if test_result else None,
        test_result=test_result,
        quarantined_at=at if quarantined or state == ContactState.IN_QUARANTINE else None,
    )
    session.add(contact)
    session.flush()
    return contact


def _action(got: tuple[service.FollowUp, date] | None) -> str | None:
    return None if got is None else str(got[0])


class TestDue:
    def test_each_state_gets_its_next_action(self, session: Session, case_id: int) -> None:
        tz = "Asia/Seoul"
        late = SEOUL_NOON - timedelta(hours=13)  # 23:00 in Seoul on 9 March
        cases_ = {
            "identified": (_contact(session, case_id, "a", ContactState.IDENTIFIED, at=late),
                           ("notify", date(2020, 3, 9))),
            "notified": (_contact(session, case_id, "b", ContactState.NOTIFIED),
                         ("quarantine", date(2020, 3, 10))),
            "in quarantine": (_contact(session, case_id, "c", ContactState.IN_QUARANTINE), None),
            "tested negative, at home": (
                _contact(session, case_id, "d", ContactState.TESTED, test_result="negative"),
                ("quarantine", date(2020, 3, 10)),
            ),
            "tested negative in quarantine": (
                _contact(session, case_id, "e", ContactState.TESTED, test_result="negative",
                         quarantined=True),
                None,
            ),
            "positive": (
                _contact(session, case_id, "f", ContactState.TESTED, test_result="positive"),
                ("register_case", date(2020, 3, 10)),
            ),
            "released": (_contact(session, case_id, "g", ContactState.RELEASED), None),
        }  # fmt: skip
        for name, (contact, expected) in cases_.items():
            got = service.next_action(contact, date(2020, 3, 16), tz)
            assert (None if got is None else (str(got[0]), got[1])) == expected, name
        # The day after the last of quarantine, all but the new ones are to be released.
        day_after = {
            name: _action(service.next_action(contact, date(2020, 3, 17), tz))
            for name, (contact, _) in cases_.items()
        }
        assert day_after == {
            "identified": "notify",
            "notified": "release",
            "in quarantine": "release",
            "tested negative, at home": "release",
            "tested negative in quarantine": "release",
            "positive": "register_case",
            "released": None,
        }
        assert service.next_action(cases_["in quarantine"][0], date(2020, 3, 17), tz) == (
            service.FollowUp.RELEASE,
            date(2020, 3, 17),
        )
        assert (
            service.next_action(cases_["positive"][0], date(2020, 3, 17), tz, has_case=True) is None
        )

    def test_worklist_across_cases_most_urgent_first(self, session: Session, case_id: int) -> None:
        other = cases.create(
            session=session,
            actor="t",
            data=CaseCreate(confirmed_date=date(2020, 3, 4), district_code="11140"),
        )
        cases.get_or_raise(session=session, case_id=case_id).district_code = "11110"
        early = SEOUL_NOON - timedelta(days=2)
        quarantined = _contact(
            session, case_id, "q", ContactState.IN_QUARANTINE, until=date(2020, 3, 12)
        )
        newer = _contact(session, case_id, "n2", ContactState.IDENTIFIED)
        older = _contact(session, other.id, "n1", ContactState.IDENTIFIED, at=early)
        positive = _contact(session, other.id, "p", ContactState.TESTED, test_result="positive")
        _contact(session, other.id, "r", ContactState.RELEASED)
        _contact(session, case_id, "w", ContactState.IN_QUARANTINE, until=date(2020, 3, 20))
        rows = service.due(session=session, actor="inv", today=date(2020, 3, 14))
        assert [(d.contact.id, str(d.action)) for d in rows] == [
            (positive.id, "register_case"),
            (older.id, "notify"),
            (newer.id, "notify"),
            (quarantined.id, "release"),
        ]
        assert [d.waiting_days for d in rows] == [4, 6, 4, 1]  # due on 10, 8, 10 and 13 March
        assert {d.case_reference for d in rows} == {
            cases.get_or_raise(session=session, case_id=i).reference for i in (case_id, other.id)
        }
        only = service.due(session=session, actor="inv", today=date(2020, 3, 14),
                           district_code="11110")  # fmt: skip
        assert [d.contact.id for d in only] == [newer.id, quarantined.id]
        assert all(d.district_code == "11110" for d in only)
        # Once the positive contact's person is registered as a case, it leaves the list.
        registered = cases.create(
            session=session, actor="t", data=CaseCreate(confirmed_date=date(2020, 3, 12))
        )
        registered.person_ref = "p"
        session.flush()
        rows = service.due(session=session, actor="inv", today=date(2020, 3, 14))
        assert positive.id not in {d.contact.id for d in rows}
        event = audit.list_(session=session, entity="district", entity_id="all")[-1]
        assert event.action == "contact.due" and event.detail == {"on": "2020-03-14", "contacts": 3}

    def test_a_contact_found_late_is_released_after_notice(
        self, session: Session, case_id: int
    ) -> None:
        contact = _contact(session, case_id, "l", ContactState.NOTIFIED, until=date(2020, 3, 5))
        moved = service.transition(
            session=session,
            actor="i",
            contact_id=contact.id,
            state=ContactState.RELEASED,
            today=date(2020, 3, 10),
        )
        assert moved.state == ContactState.RELEASED
