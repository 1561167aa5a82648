"""The outbox of result notifications: written in the transaction that stores the result, sent
afterwards through gateways, retried, never sent twice.

A message is unique per (result, channel), so storing a result again cannot queue a second
one. Sending is three steps, each its own transaction around the gateway call:

1. *claim*: a compare-and-set from ``pending`` (due) to ``sending`` counts the attempt; a second
   sender running at the same time finds nothing to claim;
2. *send*: the gateway gets the text, the address and the message id, which is the delivery's
   idempotency key: a gateway delivers a message id at most once (the file channel keeps one
   file per id; an SMS or e-mail gateway passes the id to its provider);
3. *mark*: ``sent``, or back to ``pending`` with a later ``next_attempt_at`` (exponential
   back-off), or ``failed`` after the last attempt or a permanent refusal.

A sender that dies between 2 and 3 leaves the message ``sending``; after :data:`LEASE` it is
claimed again and sent with the same id, which the gateway does not deliver twice.

The outbox keeps no text and no address: both are made when sending, from the template and the
booking's sealed fields (an audited read).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TextIO

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.config import get_settings
from citytrace.db import utcnow
from citytrace.errors import InputError
from citytrace.screening import notices
from citytrace.screening.models import (
    Booking,
    Clinic,
    OutboxMessage,
    OutboxStatus,
    Result,
    Sample,
)

__all__ = [
    "LEASE",
    "ConsoleGateway",
    "EmailGateway",
    "FileGateway",
    "Gateway",
    "GatewayError",
    "OutgoingMessage",
    "PermanentGatewayError",
    "SendReport",
    "SmsGateway",
    "configured_channels",
    "default_gateways",
    "enqueue_for_result",
    "list_",
    "register_gateway",
    "send_pending",
]

LEASE = timedelta(minutes=10)
"""How long a claimed message may stay ``sending`` before another sender takes it over."""
BACKOFF_MIN = (1, 5, 15, 60, 240)
"""Minutes to wait before attempt 2, 3, ... (the last repeats)."""


# --- gateways ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingMessage:
    """One notification as a gateway sees it. ``message_id`` is its idempotency key."""

    message_id: int
    channel: str
    phone: str | None
    email: str | None
    subject: str
    text: str

    def __repr__(self) -> str:  # never the address or the text in logs
        return f"OutgoingMessage(message_id={self.message_id}, channel={self.channel!r})"


class GatewayError(Exception):
    """A delivery failed for now: the message is tried again later."""


class PermanentGatewayError(GatewayError):
    """A delivery that can never succeed (no address for the channel): not tried again."""


class Gateway(Protocol):
    """Delivers messages of one channel; delivers a ``message_id`` at most once."""

    def send(self, message: OutgoingMessage) -> None: ...


class FileGateway:
    """The default channel: each message a JSON file ``<id>.json`` in a folder (a spool that
    another program, or a person, picks up). A file that exists is a delivery already made."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: OutgoingMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{message.message_id}.json"
        if target.exists():
            return
        body = {
            "message_id": message.message_id,
            "channel": message.channel,
            "phone": message.phone,
            "email": message.email,
            "subject": message.subject,
            "text": message.text,
        }
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".sending-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(body, out, ensure_ascii=False, indent=1)
                out.flush()
                os.fsync(out.fileno())
            # A hard link fails if the file exists: of two senders, one delivers.
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        except OSError as exc:
            raise GatewayError(f"cannot write to the outbox folder ({exc.strerror})") from None


class ConsoleGateway:
    """Prints each message once (per process) to a stream: for development and demos."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._seen: set[int] = set()
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> None:
        with self._lock:
            if message.message_id in self._seen:
                return
            self._seen.add(message.message_id)
        to = message.phone or message.email or "?"
        print(
            f"[outbox {message.message_id} to {to}] {message.text}", file=self.stream or sys.stdout
        )


class SmsGateway(ABC):
    """An SMS provider: implement :meth:`send_sms`, passing ``idempotency_key`` to the provider
    so that a retried message is not delivered twice."""

    def send(self, message: OutgoingMessage) -> None:
        if not message.phone:
            raise PermanentGatewayError("the booking has no phone number")
        self.send_sms(
            phone=message.phone,
            text=message.text,
            idempotency_key=f"citytrace-outbox-{message.message_id}",
        )

    @abstractmethod
    def send_sms(self, *, phone: str, text: str, idempotency_key: str) -> None:
        """Deliver; raise :class:`GatewayError` to retry later."""


class EmailGateway(ABC):
    """An e-mail provider: implement :meth:`send_email` (with the idempotency key as the
    message's ``Message-ID`` or the provider's key)."""

    def send(self, message: OutgoingMessage) -> None:
        if not message.email:
            raise PermanentGatewayError("the booking has no e-mail address")
        self.send_email(
            address=message.email,
            subject=message.subject,
            text=message.text,
            idempotency_key=f"citytrace-outbox-{message.message_id}",
        )

    @abstractmethod
    def send_email(self, *, address: str, subject: str, text: str, idempotency_key: str) -> None:
        """Deliver; raise :class:`GatewayError` to retry later."""


_REGISTERED: dict[str, Gateway] = {}


def register_gateway(channel: str, gateway: Gateway) -> None:
    """Make ``gateway`` deliver the messages of ``channel`` (e.g. ``"sms"``)."""
    _REGISTERED[channel] = gateway


def default_gateways() -> dict[str, Gateway]:
    """The file and console channels, and the registered gateways."""
    settings = get_settings()
    folder = settings.screening_outbox_dir or settings.home / "outbox"
    gateways: dict[str, Gateway] = {"file": FileGateway(folder), "console": ConsoleGateway()}
    gateways.update(_REGISTERED)
    return gateways


def configured_channels() -> list[str]:
    """The channels each result is notified on (``CITYTRACE_SCREENING_NOTIFY_CHANNELS``)."""
    channels = [c.strip() for c in get_settings().screening_notify_channels.split(",") if c.strip()]
    return channels or ["file"]


# --- queueing ------------------------------------------------------------------------------


def enqueue_for_result(
    *,
    session: Session,
    result: Result,
    channels: Sequence[str] | None = None,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Queue the notification of ``result`` on each channel, in the caller's transaction.

    A channel that already has a message for the result gets no second one.
    """
    now = now or utcnow()
    sample = session.get(Sample, result.sample_id)
    assert sample is not None
    booking = session.get(Booking, sample.booking_id)
    assert booking is not None
    made = []
    for channel in channels or configured_channels():
        if len(channel) > 20:
            raise InputError(f"channel name {channel[:20]!r}... is too long")
        exists = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.result_id == result.id, OutboxMessage.channel == channel
            )
        )
        if exists is not None:
            continue
        try:
            with session.begin_nested():
                message = OutboxMessage(
                    result_id=result.id,
                    channel=channel,
                    template=f"result.{result.outcome}",
                    language=booking.language,
                    status=OutboxStatus.PENDING,
                    next_attempt_at=now,
                    created_at=now,
                )
                session.add(message)
                session.flush()
        except IntegrityError:
            continue
        made.append(message)
    return made


def list_(
    *,
    session: Session,
    status: OutboxStatus | None = None,
    clinic_id: int | None = None,
    limit: int = 200,
) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if clinic_id is not None:
        query = (
            query.join(Result, Result.id == OutboxMessage.result_id)
            .join(Sample, Sample.id == Result.sample_id)
            .where(Sample.clinic_id == clinic_id)
        )
    return session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)).all()


# --- sending -------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    """Claimed by another sender meanwhile, or a channel without a gateway."""
    errors: list[str] = field(default_factory=list)


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MIN[min(attempts, len(BACKOFF_MIN)) - 1])


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.claimed_at <= now - LEASE),
    )


def _compose(session: Session, message: OutgoingMessageSource) -> OutgoingMessage:
    from citytrace.screening.booking import open_person

    person = open_person(message.booking)
    subject, text = notices.render(
        message.row.template,
        message.row.language,
        clinic=message.clinic.name,
        reference=message.booking.reference,
    )
    return OutgoingMessage(
        message_id=message.row.id,
        channel=message.row.channel,
        phone=person.phone,
        email=person.email,
        subject=subject,
        text=text,
    )


@dataclass(frozen=True)
class OutgoingMessageSource:
    row: OutboxMessage
    booking: Booking
    clinic: Clinic


def send_pending(
    *,
    session: Session,
    actor: str = "outbox",
    gateways: Mapping[str, Gateway] | None = None,
    now: datetime | None = None,
    limit: int = 200,
    max_attempts: int | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> SendReport:
    """Send the messages that are due, each claimed, sent and marked in turn (see the module).

    ``session`` must not be inside a ``begin()`` block: each step commits.
    """
    gateways = dict(default_gateways() if gateways is None else gateways)
    max_attempts = max_attempts or get_settings().screening_outbox_max_attempts
    now = now or clock()
    report = SendReport()
    ids = session.scalars(
        select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
    ).all()
    session.commit()
    for message_id in ids:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            continue
        gateway = gateways.get(row.channel)
        if gateway is None:
            report.skipped += 1
            report.errors.append(f"message {message_id}: no gateway for channel {row.channel!r}")
            session.commit()
            continue
        claimed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, _due(now))
            .values(
                status=OutboxStatus.SENDING,
                claimed_at=now,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            session.rollback()
            report.skipped += 1
            continue
        session.refresh(row)
        result = session.get(Result, row.result_id)
        assert result is not None
        sample = session.get(Sample, result.sample_id)
        assert sample is not None
        booking = session.get(Booking, sample.booking_id)
        clinic = session.get(Clinic, sample.clinic_id)
        assert booking is not None and clinic is not None
        outgoing = _compose(session, OutgoingMessageSource(row=row, booking=booking, clinic=clinic))
        audit.record(
            session=session,
            actor=actor,
            action="screening.outbox.send",
            entity="booking",
            entity_id=booking.id,
            detail={"message_id": row.id, "channel": row.channel, "attempt": row.attempts},
        )
        session.commit()
        error: GatewayError | None = None
        try:
            gateway.send(outgoing)
        except GatewayError as exc:
            error = exc
        row = session.get(OutboxMessage, message_id, populate_existing=True)
        assert row is not None
        done_at = clock()
        if error is None:
            row.status = OutboxStatus.SENT
            row.sent_at = done_at
            row.last_error = None
            report.sent += 1
        else:
            row.last_error = str(error)[:300]
            if isinstance(error, PermanentGatewayError) or row.attempts >= max_attempts:
                row.status = OutboxStatus.FAILED
                report.failed += 1
            else:
                row.status = OutboxStatus.PENDING
                row.next_attempt_at = done_at + _backoff(row.attempts)
                report.retried += 1
            report.errors.append(f"message {message_id}: {row.last_error}")
        session.commit()
    return report


def retry(
    *, session: Session, actor: str, message_id: int, now: datetime | None = None
) -> OutboxMessage:
    """Put a failed message back in the queue (after its address was corrected, say)."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        from citytrace.errors import NotFoundError

        raise NotFoundError(f"outbox message {message_id} does not exist")
    if row.status != OutboxStatus.FAILED:
        from citytrace.errors import ConflictError

        raise ConflictError(f"message {message_id} is {row.status}, not failed")
    row.status = OutboxStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = now or utcnow()
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="screening.outbox.retry",
        entity="outbox",
        entity_id=row.id,
    )
    return row
