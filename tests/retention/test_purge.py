"""Retention: each policy purges at its due time and not a second before, in audited batches,
deleting files after the commit and keeping the statistics."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.cases.models import Case, CaseStatus
from citytrace.cases.schemas import CaseCreate, IdentityIn
from citytrace.config import get_settings
from citytrace.contacts.models import Contact, ContactState, RiskClass
from citytrace.evidence import service as evidence
from citytrace.evidence.models import EvidenceFile
from citytrace.investigation.models import Visit
from citytrace.retention.policies import Counts, PurgeContext, registered_purger
from citytrace.retention.service import PurgeError, daily_statistics, purge
from citytrace.security.keys import get_keyring
from tests.factories import CARD_CSV

CLOSED_AT = datetime(2020, 4, 1, 3, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
CHECKIN_CSV = (
    "checked_in_at,venue_id,venue_name,latitude,longitude\n"
    "2020-03-03T10:00:00+09:00,V-1,Cafe,37.5547,126.9707\n"
    "2020-03-05T10:00:00+09:00,V-2,Gym,37.5663,126.9779\n"
)
FIRST_CHECKIN = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)
SECOND_CHECKIN = datetime(2020, 3, 5, 1, 0, tzinfo=UTC)


def new_case(session: Session, district: str = "11140") -> int:
    data = CaseCreate(
        confirmed_date=date(2020, 3, 5),
        district_code=district,
        identity=IdentityIn(full_name="Kim", phone="010-2222-3333"),
    )
    return cases.create(session=session, actor="t", data=data).id


def attach(session: Session, case_id: int, folder: Path, text: str, name: str) -> EvidenceFile:
    path = folder / name
    path.write_text(text)
    return evidence.attach(session=session, actor="t", case_id=case_id, path=path).evidence


def add_visits(session: Session, case_id: int) -> None:
    for hour in (1, 14):  # 10:00 and 23:00 on 3 March in Seoul
        started = datetime(2020, 3, 3, hour, 0, tzinfo=UTC)
        session.add(
            Visit(
                case_id=case_id,
                started_at=started,
                finished_at=started + timedelta(minutes=40),
                latitude=37.5663,
                longitude=126.9779,
                radius_m=30.0,
                district_code="11140",
                evidence_count=1,
                confidence=0.9,
            )
        )
    session.flush()


def close(session: Session, case_id: int, at: datetime = CLOSED_AT) -> None:
    case = cases.get_or_raise(session=session, case_id=case_id)
    case.status, case.closed_at = CaseStatus.CLOSED, at
    session.flush()


def closed_case_with_traces(session: Session, folder: Path) -> tuple[int, list[Path]]:
    case_id = new_case(session)
    stored = attach(session, case_id, folder, CARD_CSV, f"card-{case_id}.csv")
    add_visits(session, case_id)
    close(session, case_id)
    root = get_settings().evidence_dir
    files = [root / p for p in (stored.observations_path, stored.raw_path) if p]
    assert len(files) == 2 and all(f.exists() for f in files)
    return case_id, files


class TestEvidenceAndTraces:
    def test_purged_30_days_after_closing_not_a_second_before(
        self, session: Session, tmp_path: Path
    ) -> None:
        case_id, files = closed_case_with_traces(session, tmp_path)
        due = CLOSED_AT + timedelta(days=30)
        before = purge(session=session, now=due - SECOND)
        assert before["evidence_and_traces"] == {"cases": 0, "evidence_files": 0, "visits": 0}
        assert all(f.exists() for f in files)

        after = purge(session=session, now=due + SECOND)
        assert after["evidence_and_traces"] == {"cases": 1, "evidence_files": 1, "visits": 2}
        assert not any(f.exists() for f in files)
        assert not (get_settings().evidence_dir / f"case-{case_id}").exists()
        assert evidence.list_(session=session, case_id=case_id) == []
        assert session.scalar(select(func.count()).where(Visit.case_id == case_id)) == 0
        case = cases.get_or_raise(session=session, case_id=case_id)
        assert case.traces_purged_at == due + SECOND
        identity = cases.read_identity(session=session, actor="t", case_id=case_id)
        assert identity is not None and identity.full_name == "Kim"  # not a trace

        again = purge(session=session, now=due + timedelta(days=100))
        assert again["evidence_and_traces"] == {"cases": 0, "evidence_files": 0, "visits": 0}

    def test_open_cases_are_never_purged(self, session: Session, tmp_path: Path) -> None:
        case_id = new_case(session)
        attach(session, case_id, tmp_path, CARD_CSV, "card.csv")
        result = purge(session=session, now=CLOSED_AT + timedelta(days=3650))
        assert result["evidence_and_traces"] == {"cases": 0, "evidence_files": 0, "visits": 0}
        assert len(evidence.list_(session=session, case_id=case_id)) == 1

    def test_closing_sets_closed_at_and_reopening_clears_it(self, session: Session) -> None:
        from citytrace.cases.schemas import CaseUpdate

        case_id = new_case(session)
        closed = cases.update(
            session=session, actor="t", case_id=case_id, data=CaseUpdate(status=CaseStatus.CLOSED)
        )
        assert closed.closed_at is not None
        reopened = cases.update(
            session=session, actor="t", case_id=case_id, data=CaseUpdate(status=CaseStatus.OPEN)
        )
        assert reopened.closed_at is None

    def test_days_come_from_the_settings(
        self, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CITYTRACE_RETENTION_EVIDENCE_DAYS", "7")
        get_settings.cache_clear()
        closed_case_with_traces(session, tmp_path)
        due = CLOSED_AT + timedelta(days=7)
        assert purge(session=session, now=due - SECOND)["evidence_and_traces"] == {
            "cases": 0,
            "evidence_files": 0,
            "visits": 0,
        }
        assert purge(session=session, now=due)["evidence_and_traces"] == {
            "cases": 1,
            "evidence_files": 1,
            "visits": 2,
        }


def observations(stored: EvidenceFile) -> pa.Table:
    table = evidence.read_part(stored, "observations", get_settings().evidence_dir, get_keyring())
    assert table is not None
    return table


class TestCheckIns:
    def test_each_check_in_goes_28_days_after_it_was_made(
        self, session: Session, tmp_path: Path
    ) -> None:
        case_id = new_case(session)
        stored = attach(session, case_id, tmp_path, CHECKIN_CSV, "checkins.csv")
        root = get_settings().evidence_dir
        assert stored.observations_path and stored.raw_path
        parquet, raw = root / stored.observations_path, root / stored.raw_path
        first_due = FIRST_CHECKIN + timedelta(days=28)

        assert purge(session=session, now=first_due - SECOND)["check_ins"] == {
            "check_ins": 0,
            "files": 0,
        }
        assert observations(stored).num_rows == 2 and raw.exists()

        assert purge(session=session, now=first_due + SECOND)["check_ins"] == {
            "check_ins": 1,
            "files": 1,
        }
        left = observations(stored)
        assert left.column("place_id").to_pylist() == ["V-2"]
        assert b"V-2" not in parquet.read_bytes()  # still sealed
        assert not raw.exists()  # the upload held the purged check-in too
        session.refresh(stored)
        assert (stored.n_observations, stored.raw_path) == (1, None)

        second_due = SECOND_CHECKIN + timedelta(days=28)
        assert purge(session=session, now=second_due - SECOND)["check_ins"] == {
            "check_ins": 0,
            "files": 0,
        }
        assert purge(session=session, now=second_due + SECOND)["check_ins"] == {
            "check_ins": 1,
            "files": 1,
        }
        assert observations(stored).num_rows == 0
        # The row stays, so the same file imported again does not bring the check-ins back.
        again = evidence.attach(
            session=session, actor="t", case_id=case_id, path=tmp_path / "checkins.csv"
        )
        assert not again.created

    def test_other_evidence_is_not_touched(self, session: Session, tmp_path: Path) -> None:
        case_id = new_case(session)
        attach(session, case_id, tmp_path, CARD_CSV, "card.csv")
        result = purge(session=session, now=datetime(2030, 1, 1, tzinfo=UTC))
        assert result["check_ins"] == {"check_ins": 0, "files": 0}


def contact(session: Session, case_id: int, ref: str, released_at: datetime | None) -> Contact:
    last = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)
    row = Contact(
        case_id=case_id,
        person_ref=ref,
        first_contact_at=last - timedelta(minutes=30),
        last_contact_at=last,
        max_overlap_min=30.0,
        min_distance_m=5.0,
        n_contacts=1,
        evidence_kinds=["gps"],
        risk_class=RiskClass.CLOSE,
        state=ContactState.RELEASED if released_at else ContactState.IN_QUARANTINE,
        quarantine_until_date=date(2020, 3, 17),
        identified_at=datetime(2020, 3, 5, 3, 0, tzinfo=UTC),
        released_at=released_at,
    )
    session.add(row)
    session.flush()
    return row


class TestContacts:
    def test_purged_14_days_after_release(self, session: Session) -> None:
        case_id = new_case(session)
        released_at = datetime(2020, 3, 18, 0, 0, tzinfo=UTC)
        contact(session, case_id, "p-1", released_at)
        followed = contact(session, case_id, "p-2", None)
        due = released_at + timedelta(days=14)
        assert purge(session=session, now=due - SECOND)["contacts"] == {"contacts": 0}
        assert purge(session=session, now=due + SECOND)["contacts"] == {"contacts": 1}
        left = session.scalars(select(Contact.person_ref).where(Contact.case_id == case_id))
        assert list(left) == ["p-2"]
        assert purge(session=session, now=due + timedelta(days=999))["contacts"] == {"contacts": 0}
        assert followed.state == ContactState.IN_QUARANTINE


@dataclass
class Place:
    name: str
    last_contact_at: datetime


class TestPublishedPlaces:
    def test_extension_point_gets_the_cutoff_14_days_after_the_last_contact(
        self, session: Session
    ) -> None:
        last = datetime(2020, 3, 3, 12, 0, tzinfo=UTC)
        places = [Place("Cafe", last), Place("Gym", last + timedelta(days=3))]

        def purge_places(ctx: PurgeContext) -> Counts:
            due = [p for p in places if p.last_contact_at <= ctx.cutoff]
            if not ctx.dry_run:
                for p in due:
                    places.remove(p)
                ctx.commit_batch({"places": len(due)})
            return {"places": len(due)}

        # The disclosure module's purger, with nothing of its own due.
        assert purge(session=session, now=last)["published_places"] == {"places": 0}
        with registered_purger("published_places", purge_places):
            due = last + timedelta(days=14)
            assert purge(session=session, now=due - SECOND)["published_places"] == {"places": 0}
            assert purge(session=session, now=due + SECOND, dry_run=True)["published_places"] == {
                "places": 1
            }
            assert [p.name for p in places] == ["Cafe", "Gym"]
            assert purge(session=session, now=due + SECOND)["published_places"] == {"places": 1}
            assert [p.name for p in places] == ["Gym"]
        assert purge(session=session, now=last)["published_places"] == {"places": 0}


class TestPurgeAsAWhole:
    def test_dry_run_counts_the_same_and_changes_nothing(
        self, session: Session, tmp_path: Path
    ) -> None:
        case_id, files = closed_case_with_traces(session, tmp_path)
        contact(session, case_id, "p-1", datetime(2020, 3, 18, tzinfo=UTC))
        now = datetime(2020, 6, 1, tzinfo=UTC)
        events = session.scalar(select(func.count()).select_from(audit.AuditEvent))
        dry = purge(session=session, now=now, dry_run=True)
        assert session.scalar(select(func.count()).select_from(audit.AuditEvent)) == events
        assert (
            all(f.exists() for f in files)
            and len(evidence.list_(session=session, case_id=case_id)) == 1
        )
        real = purge(session=session, now=now)
        assert dry == real
        assert real["evidence_and_traces"] == {"cases": 1, "evidence_files": 1, "visits": 2}
        assert real["contacts"] == {"contacts": 1}

    def test_batches_are_audited_with_counts_only(
        self, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CITYTRACE_RETENTION_BATCH_SIZE", "1")
        get_settings.cache_clear()
        closed_case_with_traces(session, tmp_path)
        closed_case_with_traces(session, tmp_path)
        now = CLOSED_AT + timedelta(days=31)
        result = purge(session=session, now=now, actor="cli:ops")
        assert result["evidence_and_traces"] == {"cases": 2, "evidence_files": 2, "visits": 4}
        page = audit.search(
            session=session, actor="t", where=audit.AuditFilter(action="retention.purge")
        )
        assert [(e.actor, e.entity_id, e.detail) for e in reversed(page.events)] == [
            ("cli:ops", "evidence_and_traces", {"cutoff": "2020-04-02T03:00:00+00:00"} | c)
            for c in [{"cases": 1, "evidence_files": 1, "visits": 2}] * 2
        ]
        assert audit.verify(session=session).ok

    def test_statistics_are_the_same_before_and_after(
        self, session: Session, tmp_path: Path
    ) -> None:
        case_id, _ = closed_case_with_traces(session, tmp_path)
        contact(session, case_id, "p-1", datetime(2020, 3, 18, tzinfo=UTC))
        before = daily_statistics(session=session, since_date=date(2020, 3, 1))
        mine = {
            (s.stat_date, s.visits, s.cases_confirmed, s.contacts_identified)
            for s in before
            if s.district_code == "11140"
        }
        # Visits at 10:00 and 23:00 on 3 March in Seoul; the case confirmed and the contact
        # identified (12:00 in Seoul) on 5 March.
        assert mine == {(date(2020, 3, 3), 2, 0, 0), (date(2020, 3, 5), 0, 1, 1)}
        purge(session=session, now=datetime(2020, 6, 1, tzinfo=UTC))
        assert session.scalar(select(func.count()).where(Visit.case_id == case_id)) == 0
        assert daily_statistics(session=session, since_date=date(2020, 3, 1)) == before
        # A later purge counts nothing twice.
        purge(session=session, now=datetime(2021, 6, 1, tzinfo=UTC))
        assert daily_statistics(session=session, since_date=date(2020, 3, 1)) == before
        assert session.get(Case, case_id) is not None

    def test_orphan_files_are_swept_once_settled(self, session: Session) -> None:
        folder = get_settings().evidence_dir / "case-424242"
        folder.mkdir(parents=True)
        settled, fresh = folder / "a.fixes.parquet", folder / "b.raw.sealed"
        settled.write_bytes(b"x")
        fresh.write_bytes(b"y")
        two_hours_ago = time.time() - 7200
        os.utime(settled, (two_hours_ago, two_hours_ago))
        now = datetime(2020, 6, 1, tzinfo=UTC)
        assert purge(session=session, now=now, dry_run=True)["orphan_files"] == {"files": 1}
        assert settled.exists()
        assert purge(session=session, now=now)["orphan_files"] == {"files": 1}
        assert not settled.exists() and fresh.exists()

    def test_a_failing_policy_does_not_stop_the_others(self, session: Session) -> None:
        case_id = new_case(session)
        contact(session, case_id, "p-1", datetime(2020, 3, 18, tzinfo=UTC))
        session.commit()  # as a service's data is: the failed policy's rollback keeps it

        def broken(ctx: PurgeContext) -> Counts:
            raise OSError("disk gone")

        with (
            registered_purger("evidence_and_traces", broken),
            pytest.raises(PurgeError, match=r"evidence_and_traces \(OSError\)"),
        ):
            purge(session=session, now=datetime(2020, 6, 1, tzinfo=UTC))
        assert session.get(Case, case_id) is not None
        assert session.scalar(select(func.count()).where(Contact.case_id == case_id)) == 0

    def test_now_must_be_timezone_aware(self, session: Session) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            purge(session=session, now=datetime(2020, 6, 1))
