"""The audit log: a hash chain written in the caller's transaction, append-only, searchable,
and verified event by event."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.audit.chain import GENESIS, event_hash
from citytrace.audit.context import bind_client
from citytrace.audit.models import AuditEvent
from citytrace.db import session_factory
from tests.scratch_db import scratch_engine


def write(session: Session, n: int, actor: str = "tester") -> list[AuditEvent]:
    return [
        audit.record(
            session=session,
            actor=actor,
            action="case.identity.read",
            entity="case",
            entity_id=1000 + i,
            detail={"n": i, "kinds": ("card", "gps"), "ratio": 0.1},
        )
        for i in range(n)
    ]


def tamper(session: Session, sql: str, **params: object) -> None:
    """Change the log behind the service's back (on PostgreSQL past its trigger, within the
    test's transaction)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
    session.execute(text(sql), params)
    if postgres:
        session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change"))
    session.expire_all()


class TestRecord:
    def test_each_event_chains_from_the_one_before(self, session: Session) -> None:
        before = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        first, second = write(session, 2)
        assert first.prev_hash == (before or GENESIS)
        assert second.prev_hash == first.hash
        assert first.hash == event_hash(
            at=first.at,
            actor=first.actor,
            action=first.action,
            entity=first.entity,
            entity_id=first.entity_id,
            detail=first.detail,
            client=first.client,
            prev_hash=first.prev_hash,
        )
        assert first.detail["kinds"] == ["card", "gps"]  # as the database gives it back

    def test_client_given_or_bound_by_the_request(self, session: Session) -> None:
        given = audit.record(
            session=session, actor="a", action="x", entity="case", client="10.0.0.7"
        )
        with bind_client("192.0.2.1"):
            bound = audit.record(session=session, actor="a", action="x", entity="case")
        unbound = audit.record(session=session, actor="a", action="x", entity="case")
        assert (given.client, bound.client, unbound.client) == ("10.0.0.7", "192.0.2.1", None)

    def test_stored_and_read_back_the_chain_verifies(self, session: Session) -> None:
        write(session, 5)
        session.expire_all()
        check = audit.verify(session=session)
        assert check.ok and check.events >= 5 and check.broken_id is None


class TestTamperEvident:
    def test_a_changed_event_is_named(self, session: Session) -> None:
        events = write(session, 4)
        target = events[1].id
        tamper(
            session,
            "UPDATE audit_event SET actor = 'someone-else' WHERE id = :id",
            id=target,
        )
        check = audit.verify(session=session)
        assert not check.ok and check.broken_id == target
        assert check.reason is not None and "contents do not match its hash" in check.reason

    def test_a_changed_event_with_its_hash_recomputed_breaks_the_next_link(
        self, session: Session
    ) -> None:
        events = write(session, 3)
        middle = events[1]
        forged = event_hash(
            at=middle.at,
            actor="someone-else",
            action=middle.action,
            entity=middle.entity,
            entity_id=middle.entity_id,
            detail=middle.detail,
            client=middle.client,
            prev_hash=middle.prev_hash,
        )
        tamper(
            session,
            "UPDATE audit_event SET actor = 'someone-else', hash = :h WHERE id = :id",
            h=forged,
            id=middle.id,
        )
        check = audit.verify(session=session)
        assert check.broken_id == events[2].id
        assert check.reason is not None and f"does not chain from event {middle.id}" in check.reason

    def test_a_removed_event_is_named_by_the_one_after(self, session: Session) -> None:
        events = write(session, 3)
        tamper(session, "DELETE FROM audit_event WHERE id = :id", id=events[1].id)
        check = audit.verify(session=session)
        assert check.broken_id == events[2].id and check.reason is not None
        assert "removed, inserted or rewritten" in check.reason

    def test_two_events_cannot_chain_from_the_same_one(self, session: Session) -> None:
        (event,) = write(session, 1)
        fork = insert(AuditEvent).values(
            at=datetime.now(UTC),
            actor="fork",
            action="x",
            entity="case",
            detail={},
            prev_hash=event.prev_hash,
            hash="0" * 64,
        )
        with pytest.raises(DBAPIError), session.begin_nested():
            session.execute(fork)

    def test_postgres_refuses_update_and_delete(self, session: Session) -> None:
        if session.get_bind().dialect.name != "postgresql":
            return  # SQLite has no trigger: the service offers no update or delete
        (event,) = write(session, 1)
        for sql in (
            "UPDATE audit_event SET actor = 'x' WHERE id = :id",
            "DELETE FROM audit_event WHERE id = :id",
        ):
            with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
                session.execute(text(sql), {"id": event.id})


class TestConcurrentWriters:
    def test_writers_in_parallel_do_not_fork_the_chain(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        threads, per_thread = 4, 15
        with scratch_engine(engine, tmp_path) as scratch:
            factory = session_factory(scratch)
            errors: list[BaseException] = []

            def writer(n: int) -> None:
                for i in range(per_thread):
                    while True:  # SQLite may refuse a writer whose snapshot went stale: retry
                        try:
                            with factory() as session, session.begin():
                                audit.record(
                                    session=session,
                                    actor=f"writer-{n}",
                                    action="x",
                                    entity="test",
                                    entity_id=i,
                                )
                            break
                        except OperationalError:
                            continue
                        except BaseException as exc:
                            errors.append(exc)
                            return

            workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(timeout=120)
            assert errors == []
            with factory() as session:
                check = audit.verify(session=session)
            assert check.ok and check.events == threads * per_thread


class TestSearch:
    def test_filters_page_newest_first_and_the_search_is_audited(self, session: Session) -> None:
        write(session, 5, actor="inv-7")
        write(session, 2, actor="inv-8")
        where = audit.AuditFilter(actor="inv-7", since=datetime.now(UTC) - timedelta(minutes=5))
        page = audit.search(session=session, actor="admin", where=where, limit=3)
        assert [e.detail["n"] for e in page.events] == [4, 3, 2]
        assert page.next_before_id == page.events[-1].id
        rest = audit.search(
            session=session, actor="admin", where=where, limit=3, before_id=page.next_before_id
        )
        assert [e.detail["n"] for e in rest.events] == [1, 0] and rest.next_before_id is None
        by_id = audit.search(
            session=session, actor="admin", where=audit.AuditFilter(entity_id="1003"), limit=100
        )
        assert {e.entity_id for e in by_id.events} == {"1003"}
        last = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert last is not None and (last.action, last.actor) == ("audit.search", "admin")
        assert last.detail["filter"] == {"entity_id": "1003"}

    def test_until_is_exclusive(self, session: Session) -> None:
        (event,) = write(session, 1, actor="inv-9")
        where = audit.AuditFilter(actor="inv-9", until=event.at)
        assert audit.search(session=session, actor="admin", where=where).events == []
