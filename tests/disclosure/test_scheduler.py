"""Expiry by a scheduled job, not lazily: the job inside the service wakes at the next
``expires_at``; the retention purge's ``published_places`` policy does the same from the CLI."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from citytrace.config import get_settings
from citytrace.db import session_factory, unit_of_work, utcnow
from citytrace.disclosure import scheduler, service
from citytrace.disclosure.models import DisclosureEntry, EntryStatus
from citytrace.retention.service import purge
from tests.disclosure.officer import NOW, START, crowd, make_case, make_visit
from tests.scratch_db import scratch_engine

JUSTIFICATION = "test city: no records loaded, many unknown visitors"


def published(engine: Engine, *, now: datetime = NOW, at: datetime = START) -> int:
    """One published entry (committed), its visit at ``at``."""
    with unit_of_work(engine) as session:
        case = make_case(session, onset=at.date())
        make_visit(session, case, at=at)
        result = service.draft_from_case(
            session=session, actor="o", case_id=case.id, now=now, records=crowd(9, at=at)
        )
        (entry_id,) = result.created
        service.approve(
            session=session, actor="o", entry_ids=[entry_id], now=now, records=crowd(9, at=at)
        )
        service.publish(
            session=session, actor="o", entry_ids=[entry_id], now=now, records=crowd(9, at=at)
        )
    return entry_id


def status(engine: Engine, entry_id: int) -> EntryStatus:
    with session_factory(engine)() as session:
        entry = session.get(DisclosureEntry, entry_id)
        assert entry is not None
        return entry.status


class TestRunOnce:
    def test_expires_at_the_moment_and_not_before(self, engine: Engine, tmp_path: Path) -> None:
        with scratch_engine(engine, tmp_path) as db:
            entry_id = published(db)
            with session_factory(db)() as session:
                due = service.get_or_raise(session=session, entry_id=entry_id).expires_at
            before = scheduler.run_once(db, now=due - timedelta(seconds=1))
            assert before.expired == 0 and before.next_expiry == due
            assert status(db, entry_id) == EntryStatus.PUBLISHED
            at = scheduler.run_once(db, now=due)
            assert at.expired == 1 and at.next_expiry is None
            assert status(db, entry_id) == EntryStatus.EXPIRED

    def test_the_retention_purge_expires_places_too(self, engine: Engine, tmp_path: Path) -> None:
        with scratch_engine(engine, tmp_path) as db:
            entry_id = published(db)
            with session_factory(db)() as session:
                due = service.get_or_raise(session=session, entry_id=entry_id).expires_at
                early = purge(session=session, now=due - timedelta(seconds=1))
                dry = purge(session=session, now=due, dry_run=True)
                done = purge(session=session, now=due)
            assert early["published_places"] == {"places": 0}
            assert dry["published_places"] == {"places": 1}
            assert done["published_places"] == {"places": 1}
            assert status(db, entry_id) == EntryStatus.EXPIRED


class TestDelay:
    def test_sleeps_until_the_next_expiry_within_the_interval(self) -> None:
        now = datetime(2020, 3, 20, tzinfo=UTC)
        soon = scheduler.RunResult(0, 0, now + timedelta(seconds=10))
        late = scheduler.RunResult(0, 0, now + timedelta(hours=10))
        past = scheduler.RunResult(0, 0, now - timedelta(seconds=10))
        none = scheduler.RunResult(0, 0, None)
        assert scheduler.delay_s(soon, 300, now) == pytest.approx(10 + scheduler.SLACK_S)
        assert scheduler.delay_s(late, 300, now) == 300
        assert scheduler.delay_s(past, 300, now) == 0
        assert scheduler.delay_s(none, 300, now) == 300


def app_with(engine: Engine, interval_min: str, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", interval_min)
    get_settings.cache_clear()
    app = FastAPI()
    app.state.engine = engine
    scheduler.install_disclosure(app)
    return app


class TestInTheService:
    def test_an_entry_leaves_at_its_moment_not_at_the_interval(
        self, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(scheduler, "FIRST_RUN_DELAY_S", 0.0)
        with scratch_engine(engine, tmp_path) as db:
            # A visit that ended 14 days ago less two seconds: it expires two seconds from now.
            real_now = utcnow()
            visit_at = real_now - timedelta(days=14, minutes=40) + timedelta(seconds=2)
            entry_id = published(db, now=real_now, at=visit_at)
            with session_factory(db)() as session:
                due = service.get_or_raise(session=session, entry_id=entry_id).expires_at
            # An interval of an hour: only the wake-up at ``expires_at`` can expire it in time.
            with TestClient(app_with(db, "60", monkeypatch)):
                deadline = time.monotonic() + 30
                while status(db, entry_id) != EntryStatus.EXPIRED:
                    assert time.monotonic() < deadline, "not expired by the scheduled job"
                    time.sleep(0.05)
            assert utcnow() >= due

    def test_zero_disables_it(self, monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
        monkeypatch.setattr(scheduler, "FIRST_RUN_DELAY_S", 0.0)
        ran = threading.Event()
        monkeypatch.setattr(scheduler, "run_once", lambda engine: ran.set())
        with TestClient(app_with(engine, "0", monkeypatch)):
            assert not ran.wait(timeout=0.2)

    def test_the_app_factory_installs_it(
        self, monkeypatch: pytest.MonkeyPatch, engine: Engine
    ) -> None:
        from citytrace.api.app import create_app

        monkeypatch.setattr(scheduler, "FIRST_RUN_DELAY_S", 0.0)
        ran = threading.Event()

        def fake(engine: Engine) -> scheduler.RunResult:
            ran.set()
            return scheduler.RunResult(0, 0, None)

        monkeypatch.setattr(scheduler, "run_once", fake)
        monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "5")
        monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
        get_settings.cache_clear()
        with TestClient(create_app(engine)):
            assert ran.wait(timeout=10)
