"""Cases: registration, identity kept apart, updates, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service
from citytrace.cases.models import CaseIdentity
from citytrace.cases.schemas import CaseCreate, CaseUpdate, IdentityIn
from citytrace.errors import ConflictError, InputError, NotFoundError


def _create(session: Session, **overrides: object) -> int:
    data = {"confirmed_date": date(2020, 3, 5), "symptom_onset_date": date(2020, 3, 2)} | overrides
    return service.create(session=session, actor="tester", data=CaseCreate(**data)).id  # type: ignore[arg-type]


class TestCreate:
    def test_identity_is_stored_apart_and_audit_has_no_personal_data(
        self, session: Session
    ) -> None:
        identity = IdentityIn(full_name="김민수", phone="010-1234-5678")
        case = service.create(
            session=session,
            actor="tester",
            data=CaseCreate(
                confirmed_date=date(2020, 3, 5), district_code="11140", identity=identity
            ),
        )
        stored = session.scalar(select(CaseIdentity).where(CaseIdentity.case_id == case.id))
        assert stored is not None and "김민수".encode() not in stored.full_name_enc
        opened = service.read_identity(session=session, actor="tester", case_id=case.id)
        assert opened is not None and opened.full_name == "김민수"
        events = audit.list_(session=session, entity="case", entity_id=case.id)
        assert [e.action for e in events] == ["case.create", "case.identity.read"]
        assert "김민수" not in repr(events[0].detail) and "010" not in repr(events[0].detail)
        assert "김민수" not in repr(stored)

    def test_references_are_made_up_per_day_and_unique(self, session: Session) -> None:
        first = service.get_or_raise(session=session, case_id=_create(session))
        second = service.get_or_raise(session=session, case_id=_create(session))
        assert first.reference == "C20200305-0001"
        assert second.reference == "C20200305-0002"
        with pytest.raises(ConflictError, match="C20200305-0001"):
            _create(session, reference="C20200305-0001")

    def test_unknown_district_is_refused(self, session: Session) -> None:
        with pytest.raises(InputError, match="district_code"):
            _create(session, district_code="99999")

    def test_onset_after_confirmation_is_refused(self) -> None:
        with pytest.raises(ValueError, match="after confirmation"):
            CaseCreate(confirmed_date=date(2020, 3, 1), symptom_onset_date=date(2020, 3, 4))


class TestUpdate:
    def test_update_changes_fields_and_audits_their_names(self, session: Session) -> None:
        case_id = _create(session)
        service.update(
            session=session,
            actor="tester",
            case_id=case_id,
            data=CaseUpdate(isolated_date=date(2020, 3, 6)),
        )
        case = service.get_or_raise(session=session, case_id=case_id)
        assert case.isolated_date == date(2020, 3, 6)
        last = audit.list_(session=session, entity="case", entity_id=case_id)[-1]
        assert last.action == "case.update" and last.detail == {"fields": ["isolated_date"]}

    def test_update_that_breaks_date_order_is_refused_and_changes_nothing(
        self, session: Session
    ) -> None:
        case_id = _create(session)
        with pytest.raises(InputError, match="isolation date is before"):
            service.update(
                session=session,
                actor="t",
                case_id=case_id,
                data=CaseUpdate(isolated_date=date(2020, 2, 1)),
            )
        assert service.get_or_raise(session=session, case_id=case_id).isolated_date is None

    def test_missing_case(self, session: Session) -> None:
        with pytest.raises(NotFoundError, match="case 12345"):
            service.update(session=session, actor="t", case_id=12345, data=CaseUpdate(notes="x"))


class TestReadIdentity:
    def test_read_is_audited(self, session: Session) -> None:
        case_id = _create(session, identity=IdentityIn(full_name="Lee"))
        identity = service.read_identity(session=session, actor="investigator-1", case_id=case_id)
        assert identity is not None and identity.full_name == "Lee"
        last = audit.list_(session=session, entity="case", entity_id=case_id)[-1]
        assert (last.action, last.actor) == ("case.identity.read", "investigator-1")


class TestWindow:
    def test_window_starts_two_days_before_onset_in_seoul_time(self, session: Session) -> None:
        case = service.get_or_raise(
            session=session, case_id=_create(session, isolated_date=date(2020, 3, 5))
        )
        window = service.window(case)
        # 2020-02-29 00:00 KST is 2020-02-28 15:00 UTC; the isolation day is kept whole.
        assert window.start == datetime(2020, 2, 28, 15, tzinfo=UTC)
        assert window.end == datetime(2020, 3, 5, 15, tzinfo=UTC)

    def test_asymptomatic_window_starts_before_specimen(self, session: Session) -> None:
        case = service.get_or_raise(
            session=session,
            case_id=_create(
                session, symptom_onset_date=None, specimen_collected_date=date(2020, 3, 4)
            ),
        )
        assert service.window(case).start == datetime(2020, 3, 1, 15, tzinfo=UTC)
