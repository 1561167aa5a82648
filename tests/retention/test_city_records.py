"""The city's record store (everyone's check-ins, payments, cell records and stays, kept for the
exposure search) is purged a day file at a time, 28 days after the end of each day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.config import get_settings
from citytrace.exposure import RecordStore
from citytrace.retention.service import purge
from tests.exposure.test_store import day_records

SECOND = timedelta(seconds=1)


def seoul_store() -> RecordStore:
    store = RecordStore(get_settings().records_dir, timezone="Asia/Seoul")
    for day in (1, 2):
        store.append_day(day_records(datetime(2020, 3, day, 1, tzinfo=UTC), n=3 + day))
    return store


class TestCityRecords:
    def test_a_day_goes_28_days_after_it_ended_not_a_second_before(self, session: Session) -> None:
        store = seoul_store()
        # 2020-03-01 in Seoul ends at 2020-03-01T15:00Z.
        first_due = datetime(2020, 3, 1, 15, tzinfo=UTC) + timedelta(days=28)
        assert purge(session=session, now=first_due - SECOND)["city_records"] == {
            "days": 0,
            "records": 0,
        }
        assert store.days() == [date(2020, 3, 1), date(2020, 3, 2)]
        assert purge(session=session, now=first_due)["city_records"] == {"days": 1, "records": 4}
        assert RecordStore.open(get_settings().records_dir).days() == [date(2020, 3, 2)]
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "retention.purge", AuditEvent.entity_id == "city_records"
            )
        ).all()
        assert [e.detail["records"] for e in events] == [4]
        # Counts only: no person, place or time of a record in the audit log.
        assert set(events[0].detail) == {"cutoff", "days", "records"}

    def test_dry_run_counts_and_keeps_every_day(self, session: Session) -> None:
        store = seoul_store()
        later = datetime(2020, 6, 1, tzinfo=UTC)
        assert purge(session=session, now=later, dry_run=True)["city_records"] == {
            "days": 2,
            "records": 9,
        }
        assert store.num_rows == 9
        assert purge(session=session, now=later)["city_records"] == {"days": 2, "records": 9}
        assert RecordStore.open(get_settings().records_dir).days() == []

    def test_no_store_is_nothing_to_purge(self, session: Session) -> None:
        assert not (get_settings().records_dir / "store.json").exists()
        assert purge(session=session, now=datetime(2020, 6, 1, tzinfo=UTC))["city_records"] == {
            "days": 0,
            "records": 0,
        }
