"""No double booking and no overbooking under real concurrency: 1,000 booking requests at once,
each in its own thread, transaction and connection, at a clinic with 100 free slots, on the
embedded SQLite and on the real PostgreSQL; and retries with one idempotency key book once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from citytrace.errors import ConflictError
from citytrace.screening import booking
from citytrace.screening.models import Booking, Clinic, SlotClaim
from tests.live_server import serve
from tests.scratch_db import scratch_engine
from tests.screening.factories import NOW, make_clinic, person

DAY = date(2020, 3, 6)  # a Friday; NOW is the day before
UNITS = 10
# 09:00 to 10:40 with 10 min a person: 10 slots a lane, 100 in all.
HOURS = "09:00-10:40"
REQUESTS = 1000
RETRIES = 100  # of the requests, this many repeat an earlier request's idempotency key


@pytest.fixture
def scratch(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own whose transactions really commit, seen by many connections."""
    with scratch_engine(engine, tmp_path) as db:
        # The pool's 15 connections serve 1,000 threads: a thread may wait for one for longer
        # than the default 30 s on a busy machine; waiting is not what is tested.
        db.pool._timeout = 600  # type: ignore[attr-defined]
        yield db


def _clinic(db: Engine, reference: str = "busy") -> int:
    with Session(db) as session, session.begin():
        clinic = make_clinic(
            session,
            reference=reference,
            units=UNITS,
            weekday_hours=HOURS,
            service_time_min=10,
        )
        free = booking.free_slots(session=session, clinic=clinic, day=DAY, now=NOW)
        assert sum(s.free_units for s in free) == 100
        return clinic.id


@dataclass
class Outcomes:
    booked: dict[int, int] = field(default_factory=dict)  # request -> booking id
    replayed: set[int] = field(default_factory=set)
    refused: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _fire(n: int, request: Callable[[int, Session], booking.BookingResult], db: Engine) -> Outcomes:
    """Run ``request(i, session)`` for i in 0..n-1, each in a thread of its own, all released at
    once, each in one committed transaction."""
    outcomes = Outcomes()
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            with Session(db, expire_on_commit=False) as session, session.begin():
                result = request(i, session)
            with outcomes.lock:
                outcomes.booked[i] = result.booking.id
                if result.replayed:
                    outcomes.replayed.add(i)
        except ConflictError as exc:
            with outcomes.lock:
                outcomes.refused[str(exc).split(":")[0]] += 1
        except Exception as exc:  # every other failure is a defect, reported with its type
            with outcomes.lock:
                outcomes.failed.append(f"request {i}: {type(exc).__name__}: {exc}"[:300])

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not any(t.is_alive() for t in threads), "requests still running after 15 min"
    return outcomes


def test_a_thousand_requests_at_a_hundred_slots(scratch: Engine) -> None:
    clinic_id = _clinic(scratch)

    def key(i: int) -> int:
        # The last RETRIES requests repeat requests 0..RETRIES-1 (same key, same request).
        return i - (REQUESTS - RETRIES) if i >= REQUESTS - RETRIES else i

    def request(i: int, session: Session) -> booking.BookingResult:
        return booking.book(
            session=session,
            actor="citizen",
            clinic_id=clinic_id,
            person=person(key(i)),
            day=DAY,
            idempotency_key=f"request-{key(i):04d}",
            now=NOW,
        )

    outcomes = _fire(REQUESTS, request, scratch)
    assert outcomes.failed == []
    with Session(scratch) as session:
        bookings = session.scalars(select(Booking).where(Booking.clinic_id == clinic_id)).all()
        claims = session.execute(select(SlotClaim.unit_id, SlotClaim.starts_at)).all()
        clinic = session.get(Clinic, clinic_id)
        assert clinic is not None
        left = booking.free_slots(session=session, clinic=clinic, day=DAY, now=NOW)
    # Exactly 100 bookings, each holding its own slot, and no slot left.
    assert len(bookings) == 100
    assert len(claims) == 100 == len(set(claims))
    assert {(b.unit_id, b.slot_starts_at) for b in bookings} == set(claims)
    assert left == []
    # Every answer that booked names one of them; a key's answers all name the same booking.
    assert set(outcomes.booked.values()) == {b.id for b in bookings}
    by_key: dict[int, set[int]] = {}
    for i, booking_id in outcomes.booked.items():
        by_key.setdefault(key(i), set()).add(booking_id)
    assert all(len(ids) == 1 for ids in by_key.values())
    assert len(by_key) == 100
    # The others were told that no slot is left; a retry either found its booking or was
    # refused like its first attempt.
    assert sum(outcomes.refused.values()) == REQUESTS - len(outcomes.booked)
    assert set(outcomes.refused) <= {
        f"clinic busy has no free slot on {DAY}",
        "clinic busy has no free slot left",
    }
    assert len(outcomes.booked) == 100 + len(outcomes.replayed)
    for i in outcomes.replayed:
        first = key(i) if i >= REQUESTS - RETRIES else i + REQUESTS - RETRIES
        assert outcomes.booked.get(first) == outcomes.booked[i]


def test_retries_of_one_request_book_once(scratch: Engine) -> None:
    clinic_id = _clinic(scratch, reference="retried")

    def request(i: int, session: Session) -> booking.BookingResult:
        return booking.book(
            session=session,
            actor="citizen",
            clinic_id=clinic_id,
            person=person(7),
            day=DAY,
            idempotency_key="the-one-request-7",
            now=NOW,
        )

    outcomes = _fire(50, request, scratch)
    assert outcomes.failed == [] and not outcomes.refused
    assert len(set(outcomes.booked.values())) == 1
    assert len(outcomes.replayed) == 49
    with Session(scratch) as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 1
        assert session.scalar(select(func.count()).select_from(SlotClaim)) == 1


@pytest.fixture
def served(scratch: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app on the scratch database, served by uvicorn on a loopback port."""
    from citytrace.api.app import create_app
    from citytrace.auth.ratelimit import RateLimits
    from citytrace.config import get_settings

    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    get_settings.cache_clear()
    app = create_app(scratch)
    # Rate limits have their own tests; all requests come from one client here.
    app.state.rate_limits = RateLimits(
        login_per_client_per_min=100_000,
        login_per_username_per_min=100_000,
        public_per_client_per_min=100_000,
    )
    with serve(app) as base_url:
        yield base_url


def test_a_thousand_requests_through_the_http_api(scratch: Engine, served: str) -> None:
    """The same through a real server: 1,000 concurrent POST /api/screening/bookings from a
    client process of their own (asyncio and httpx, one connection a request)."""
    import json
    import subprocess
    import sys

    from citytrace.db import utcnow
    from citytrace.screening import clinics

    tomorrow = clinics.local_date(utcnow()) + timedelta(days=1)
    with Session(scratch) as session, session.begin():
        clinic = make_clinic(
            session,
            reference="served",
            units=UNITS,
            weekday_hours=HOURS,
            saturday_hours=HOURS,
            holiday_hours=HOURS,
            service_time_min=10,
        )
        clinic_id = clinic.id
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, served, str(clinic_id), tomorrow.isoformat()],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    answers = [(status, json.loads(body)) for status, body in json.loads(done.stdout)]
    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {201, 409}, [a for a in answers if a[0] not in (201, 409)][:3]
    booked = [body for status, body in answers if status == 201]
    assert len({b["id"] for b in booked}) == 100
    assert statuses[201] == 100 + sum(b["replayed"] for b in booked)
    assert all("no free slot" in body["error"] for status, body in answers if status == 409)
    with Session(scratch) as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 100
        claims = session.execute(select(SlotClaim.unit_id, SlotClaim.starts_at)).all()
        assert len(claims) == 100 == len(set(claims))


# The client: REQUESTS bookings at once, the last RETRIES repeating earlier keys; prints
# [[status, body], ...].
_CLIENT = f"""
import asyncio, json, sys
import httpx

base, clinic_id, day = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def body(i):
    k = i - {REQUESTS - RETRIES} if i >= {REQUESTS - RETRIES} else i
    return {{
        "clinic_id": clinic_id,
        "day": day,
        "person": {{"full_name": f"Person {{k}}", "phone": f"010-4444-{{k:04d}}"}},
        "idempotency_key": f"http-request-{{k:04d}}",
    }}


async def main():
    limits = httpx.Limits(max_connections={REQUESTS}, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=600) as client:
        answers = await asyncio.gather(
            *(client.post("/api/screening/bookings", json=body(i)) for i in range({REQUESTS}))
        )
    print(json.dumps([[a.status_code, a.text] for a in answers]))


asyncio.run(main())
"""
