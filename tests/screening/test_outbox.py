"""The outbox of result notifications: templates, the file channel, retries with back-off,
permanent failures, a sender that died mid-way, and several senders at once: each message is
delivered once."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.screening import notices, outbox, samples
from citytrace.screening.models import OutboxMessage, OutboxStatus, Outcome
from citytrace.screening.outbox import (
    FileGateway,
    GatewayError,
    OutgoingMessage,
    PermanentGatewayError,
    SmsGateway,
)
from tests.scratch_db import scratch_engine
from tests.screening.factories import make_clinic, sampled, seoul

LATER = seoul(5, 20)


class Recording:
    """A gateway that records what it is asked to deliver (and never deduplicates)."""

    def __init__(self, fail: list[Exception] | None = None) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail = list(fail or [])
        self.lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> None:
        with self.lock:
            if self.fail:
                raise self.fail.pop(0)
            self.sent.append(message)


def _results(session: Session, outcomes: list[Outcome]) -> list[OutboxMessage]:
    clinic = make_clinic(session, name="Jung-gu Health Office")
    for i, outcome in enumerate(outcomes):
        sample = sampled(session, clinic, i)
        samples.record_result(
            session=session, actor="lab", sample_id=sample.id, outcome=outcome, now=LATER
        )
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


class TestTemplates:
    def test_every_template_in_both_languages(self) -> None:
        for name, by_language in notices.TEMPLATES.items():
            assert set(by_language) == set(notices.LANGUAGES), name
            subject, text = notices.render(name, "en", clinic="C", reference="B123")
            assert "B123" in text and "[C]" in text and subject

    def test_the_message_names_no_person(self, session: Session) -> None:
        _results(session, [Outcome.POSITIVE])
        gateway = Recording()
        outbox.send_pending(session=session, gateways={"file": gateway}, now=LATER)
        (sent,) = gateway.sent
        assert "양성" in sent.text and "Jung-gu Health Office" in sent.text
        assert "Hong" not in sent.text and sent.phone == "010-5555-0000"
        assert "010" not in repr(sent)


class TestSending:
    def test_sent_once_through_the_file_channel(self, session: Session, tmp_path: Path) -> None:
        messages = _results(session, [Outcome.NEGATIVE, Outcome.POSITIVE])
        folder = tmp_path / "outbox"
        report = outbox.send_pending(
            session=session, gateways={"file": FileGateway(folder)}, now=LATER
        )
        assert (report.sent, report.retried, report.failed) == (2, 0, 0)
        assert {f.name for f in folder.glob("*.json")} == {f"{m.id}.json" for m in messages}
        body = json.loads((folder / f"{messages[0].id}.json").read_text(encoding="utf-8"))
        assert "음성" in body["text"] and body["phone"] == "010-5555-0000"
        assert all(m.status == OutboxStatus.SENT and m.attempts == 1 for m in messages)
        # Nothing is due any more.
        again = outbox.send_pending(
            session=session, gateways={"file": FileGateway(folder)}, now=LATER + timedelta(days=1)
        )
        assert (again.sent, again.skipped) == (0, 0)
        sends = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "screening.outbox.send")
        ).all()
        assert len(sends) == 2 and all("010" not in str(e.detail) for e in sends)

    def test_retried_with_back_off_then_given_up(self, session: Session) -> None:
        (message,) = _results(session, [Outcome.NEGATIVE])
        gateway = Recording(fail=[GatewayError("gateway down")] * 5)
        t = LATER
        first = outbox.send_pending(
            session=session, gateways={"file": gateway}, now=t, clock=lambda: t, max_attempts=3
        )
        assert first.retried == 1 and message.status == OutboxStatus.PENDING
        assert message.next_attempt_at == t + timedelta(minutes=1)
        assert message.last_error == "gateway down"
        # Not due before its time.
        early = outbox.send_pending(
            session=session, gateways={"file": gateway}, now=t + timedelta(seconds=30)
        )
        assert early.retried == 0 and message.attempts == 1
        t2 = t + timedelta(minutes=1)
        outbox.send_pending(
            session=session, gateways={"file": gateway}, now=t2, clock=lambda: t2, max_attempts=3
        )
        assert message.attempts == 2 and message.next_attempt_at == t2 + timedelta(minutes=5)
        t3 = t2 + timedelta(minutes=5)
        last = outbox.send_pending(
            session=session, gateways={"file": gateway}, now=t3, clock=lambda: t3, max_attempts=3
        )
        assert last.failed == 1 and message.status == OutboxStatus.FAILED
        assert gateway.sent == []
        outbox.retry(session=session, actor="admin", message_id=message.id, now=t3)
        done = outbox.send_pending(
            session=session, gateways={"file": Recording()}, now=t3 + timedelta(minutes=1)
        )
        assert done.sent == 1 and message.status == OutboxStatus.SENT

    def test_an_sms_gateway_and_a_booking_without_a_phone(self, session: Session) -> None:
        class Sms(SmsGateway):
            def __init__(self) -> None:
                self.sent: list[tuple[str, str]] = []

            def send_sms(self, *, phone: str, text: str, idempotency_key: str) -> None:
                self.sent.append((phone, idempotency_key))

        (message,) = _results(session, [Outcome.NEGATIVE])
        sms = Sms()
        outbox.send_pending(session=session, gateways={"file": sms}, now=LATER)
        assert sms.sent == [("010-5555-0000", f"citytrace-outbox-{message.id}")]
        with pytest.raises(PermanentGatewayError):
            sms.send(
                OutgoingMessage(
                    message_id=1, channel="sms", phone=None, email="a@b.kr", subject="", text=""
                )
            )

    def test_a_sender_that_died_after_delivering(self, session: Session, tmp_path: Path) -> None:
        """The message stays 'sending'; after the lease another sender takes it, and the file
        channel, which sees the delivery made, does not deliver it again."""
        (message,) = _results(session, [Outcome.NEGATIVE])
        folder = tmp_path / "outbox"

        class DiesAfterDelivering(FileGateway):
            def send(self, outgoing: OutgoingMessage) -> None:
                super().send(outgoing)
                raise SystemExit("killed")

        with pytest.raises(SystemExit):
            outbox.send_pending(
                session=session, gateways={"file": DiesAfterDelivering(folder)}, now=LATER
            )
        session.rollback()
        session.expire_all()
        assert message.status == OutboxStatus.SENDING
        delivered = folder / f"{message.id}.json"
        first_bytes = delivered.read_bytes()
        within = outbox.send_pending(
            session=session,
            gateways={"file": FileGateway(folder)},
            now=LATER + timedelta(minutes=5),
        )
        assert within.sent == 0  # still leased to the sender that died
        after = outbox.send_pending(
            session=session,
            gateways={"file": FileGateway(folder)},
            now=LATER + outbox.LEASE + timedelta(seconds=1),
        )
        assert after.sent == 1 and message.status == OutboxStatus.SENT and message.attempts == 2
        assert delivered.read_bytes() == first_bytes
        assert len(list(folder.iterdir())) == 1


def test_several_senders_at_once_deliver_each_message_once(engine: Engine, tmp_path: Path) -> None:
    with scratch_engine(engine, tmp_path) as db:
        with Session(db) as session, session.begin():
            ids = [m.id for m in _results(session, [Outcome.NEGATIVE] * 30)]
        gateway = Recording()
        barrier = threading.Barrier(4)
        errors: list[str] = []

        def sender() -> None:
            barrier.wait()
            try:
                with Session(db) as session:
                    outbox.send_pending(session=session, gateways={"file": gateway}, now=LATER)
            except Exception as exc:  # reported below
                errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=sender) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert errors == []
        delivered = Counter(m.message_id for m in gateway.sent)
        assert sorted(delivered) == sorted(ids)
        assert set(delivered.values()) == {1}
        with Session(db) as session:
            statuses = set(session.scalars(select(OutboxMessage.status)))
        assert statuses == {OutboxStatus.SENT}


class TestInTheService:
    def test_the_service_sends_what_is_due(
        self, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the service up, a result's notification goes out without anyone running the
        command: through the file channel, once."""
        from fastapi.testclient import TestClient

        from citytrace.api.app import create_app

        folder = tmp_path / "outbox"
        monkeypatch.setenv("CITYTRACE_SCREENING_OUTBOX_DIR", str(folder))
        monkeypatch.setenv("CITYTRACE_SCREENING_OUTBOX_INTERVAL_MIN", "0.002")  # 0.12 s
        with scratch_engine(engine, tmp_path) as db:
            with Session(db) as session, session.begin():
                (message_id,) = [m.id for m in _results(session, [Outcome.NEGATIVE])]
            with TestClient(create_app(db)):
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not list(folder.glob("*")):
                    time.sleep(0.05)
                time.sleep(0.5)  # more runs: nothing is sent twice
            with Session(db) as session:
                row = session.get(OutboxMessage, message_id)
                assert row is not None and row.status == OutboxStatus.SENT
                assert row.attempts == 1
        assert len(list(folder.glob("*"))) == 1

    def test_none_with_the_interval_at_zero(
        self, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from fastapi.testclient import TestClient

        from citytrace.api.app import create_app

        folder = tmp_path / "outbox"
        monkeypatch.setenv("CITYTRACE_SCREENING_OUTBOX_DIR", str(folder))
        monkeypatch.setenv("CITYTRACE_SCREENING_OUTBOX_INTERVAL_MIN", "0")
        with scratch_engine(engine, tmp_path) as db:
            with Session(db) as session, session.begin():
                (message_id,) = [m.id for m in _results(session, [Outcome.NEGATIVE])]
            with TestClient(create_app(db)):
                time.sleep(0.5)
            with Session(db) as session:
                row = session.get(OutboxMessage, message_id)
                assert row is not None and row.status == OutboxStatus.PENDING
        assert not folder.exists() or not list(folder.glob("*"))
