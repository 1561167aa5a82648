"""Booking: the slot grid, booking, idempotency, cancelling, rescheduling, walk-ins and
no-shows, bad requests refused with nothing half-stored, a citizen's access code, the sealed
identity, and retention."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.errors import ConflictError, InputError, NotFoundError
from citytrace.retention.service import purge
from citytrace.screening import booking, queue
from citytrace.screening.booking import AccessCodeError
from citytrace.screening.models import Booking, BookingStatus, ClinicKind, Outcome, SlotClaim
from tests.scratch_db import scratch_engine
from tests.screening.factories import NOW, book, make_clinic, person, sampled, seoul


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


class TestSlots:
    def test_grid_from_hours_service_time_and_turnover(self, session: Session) -> None:
        drive = make_clinic(session, units=2)
        slots = booking.slots(session=session, clinic=drive, day=date(2020, 3, 5))
        assert len(slots) == 54  # 09:00 to 17:50, every 10 min
        assert (slots[0].starts_at, slots[-1].starts_at) == (seoul(5, 9), seoul(5, 17, 50))
        assert {s.free_units for s in slots} == {2}
        walk = make_clinic(
            session, reference="walk", kind=ClinicKind.WALK_THROUGH, weekday_hours="09:00-10:00"
        )
        starts = [
            s.starts_at for s in booking.slots(session=session, clinic=walk, day=date(2020, 3, 5))
        ]
        # 7 min in the booth, then 5 min of ventilation and 1 of disinfection: every 13 min; the
        # last one ends by 10:00.
        assert starts[:3] == [seoul(5, 9), seoul(5, 9, 13), seoul(5, 9, 26)]
        assert starts[-1] == seoul(5, 9, 52)
        assert booking.slots(session=session, clinic=drive, day=date(2020, 3, 8)) == []  # Sunday

    def test_free_slots_and_the_next_one(self, session: Session) -> None:
        clinic = make_clinic(session)
        free = booking.free_slots(session=session, clinic=clinic, day=date(2020, 3, 5), now=NOW)
        assert free[0].starts_at == seoul(5, 9, 40)  # NOW is 09:30
        book(session, clinic, seoul(5, 9, 40))
        nxt = booking.next_free_slot(session=session, clinic=clinic, now=NOW)
        assert nxt is not None and nxt.starts_at == seoul(5, 9, 50)
        late = booking.next_free_slot(session=session, clinic=clinic, now=seoul(5, 18))
        assert late is not None and late.starts_at == seoul(6, 9)


class TestBook:
    def test_book_a_slot(self, session: Session) -> None:
        clinic = make_clinic(session, units=2)
        made = book(session, clinic, seoul(5, 10))
        b = made.booking
        assert b.status == BookingStatus.BOOKED and b.slot_starts_at == seoul(5, 10)
        assert b.unit_id == clinic.units[0].id and b.claim is not None
        assert len(made.access_code) == 9 and made.access_code[4] == "-"
        second = book(session, clinic, seoul(5, 10), n=1)
        assert second.booking.unit_id == clinic.units[1].id
        assert b.reference != second.booking.reference

    @pytest.mark.parametrize(
        ("starts_at", "message"),
        [
            (seoul(5, 9), "is in the past"),
            (seoul(5, 7), "is in the past"),
            (seoul(5, 19), "outside the clinic's opening hours (09:00-18:00 on Thursday)"),
            (seoul(8, 10), "outside the clinic's opening hours (closed on Sunday)"),
            (seoul(5, 10, 5), "not a slot start: slots start every 10 min from 09:00"),
            (seoul(5, 17, 55), "not a slot start"),
            (NOW + timedelta(days=40), "more than 28 days ahead"),
        ],
    )
    def test_bad_times_are_refused_and_nothing_stored(
        self, session: Session, starts_at: object, message: str
    ) -> None:
        clinic = make_clinic(session)
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            book(session, clinic, starts_at)  # type: ignore[arg-type]
        assert _count(session, Booking) == 0 and _count(session, SlotClaim) == 0

    def test_a_slot_that_just_filled(self, session: Session) -> None:
        clinic = make_clinic(session)
        book(session, clinic, seoul(5, 10))
        with pytest.raises(ConflictError, match="the slot at 2020-03-05 10:00 has just been taken"):
            book(session, clinic, seoul(5, 10), n=1)
        assert _count(session, Booking) == 1 and _count(session, SlotClaim) == 1

    def test_earliest_of_a_day_and_a_full_day(self, session: Session) -> None:
        clinic = make_clinic(session, weekday_hours="09:00-09:30")
        day = date(2020, 3, 6)
        starts = [book(session, clinic, day=day, n=i).booking.slot_starts_at for i in range(3)]
        assert starts == [seoul(6, 9), seoul(6, 9, 10), seoul(6, 9, 20)]
        with pytest.raises(ConflictError, match="no free slot on 2020-03-06"):
            book(session, clinic, day=day, n=9)
        with pytest.raises(InputError, match="in the past"):
            book(session, clinic, day=date(2020, 3, 4))
        assert _count(session, Booking) == 3

    def test_an_unknown_or_closed_clinic(self, session: Session) -> None:
        with pytest.raises(NotFoundError):
            booking.book(session=session, actor="c", clinic_id=999, person=person(), now=NOW)
        clinic = make_clinic(session)
        clinic.active = False
        with pytest.raises(ConflictError, match="closed for bookings"):
            book(session, clinic, seoul(5, 10))

    def test_idempotency_key(self, session: Session) -> None:
        clinic = make_clinic(session)
        first = book(session, clinic, seoul(5, 10), idempotency_key="key-00000001")
        again = book(session, clinic, seoul(5, 10), idempotency_key="key-00000001")
        assert again.replayed and again.booking.id == first.booking.id
        # The replay's code is the one that works now.
        assert again.access_code != first.access_code
        booking.verify_access(
            session=session, reference=first.booking.reference, code=again.access_code
        )
        with pytest.raises(ConflictError, match="used for a different booking request"):
            book(session, clinic, seoul(5, 10, 10), idempotency_key="key-00000001")
        assert _count(session, Booking) == 1

    def test_the_database_refuses_a_second_claim_of_a_slot(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """Whatever the service does, two committed claims of one slot are impossible."""
        with scratch_engine(engine, tmp_path) as db:
            with Session(db) as session, session.begin():
                clinic = make_clinic(session)
                one = book(session, clinic, seoul(5, 10))
                two = book(session, clinic, seoul(5, 10, 10), n=1)
                unit_id, one_id, two_id = clinic.units[0].id, one.booking.id, two.booking.id
            with Session(db) as session:
                claim = session.scalar(select(SlotClaim).where(SlotClaim.booking_id == two_id))
                assert claim is not None and one_id != two_id
                claim.starts_at = seoul(5, 10)
                claim.unit_id = unit_id
                with pytest.raises(IntegrityError):
                    session.commit()


class TestChanges:
    def test_cancel_frees_the_slot(self, session: Session) -> None:
        clinic = make_clinic(session)
        made = book(session, clinic, seoul(5, 10))
        booking.cancel(session=session, actor="citizen", booking_id=made.booking.id, now=NOW)
        assert made.booking.status == BookingStatus.CANCELLED and made.booking.closed_at == NOW
        assert _count(session, SlotClaim) == 0
        assert book(session, clinic, seoul(5, 10), n=1).booking.slot_starts_at == seoul(5, 10)
        with pytest.raises(ConflictError, match="is cancelled: cannot cancel it"):
            booking.cancel(session=session, actor="citizen", booking_id=made.booking.id, now=NOW)
        begun = book(session, clinic, seoul(5, 11), n=2).booking
        with pytest.raises(ConflictError, match="has begun"):
            booking.cancel(session=session, actor="c", booking_id=begun.id, now=seoul(5, 11))

    def test_reschedule_keeps_the_old_slot_when_the_new_one_is_taken(
        self, session: Session
    ) -> None:
        clinic = make_clinic(session)
        mine = book(session, clinic, seoul(5, 10)).booking
        book(session, clinic, seoul(5, 11), n=1)
        with pytest.raises(ConflictError, match="has just been taken"):
            booking.reschedule(
                session=session, actor="c", booking_id=mine.id, starts_at=seoul(5, 11), now=NOW
            )
        session.expire_all()
        assert mine.slot_starts_at == seoul(5, 10) and mine.claim is not None
        assert mine.claim.starts_at == seoul(5, 10)
        booking.reschedule(
            session=session, actor="c", booking_id=mine.id, starts_at=seoul(6, 9), now=NOW
        )
        assert mine.slot_starts_at == seoul(6, 9)
        assert _count(session, SlotClaim) == 2
        # The slot it left is free again.
        assert book(session, clinic, seoul(5, 10), n=2).booking.slot_starts_at == seoul(5, 10)

    def test_walk_in_joins_the_queue(self, session: Session) -> None:
        clinic = make_clinic(session, units=2)
        made = booking.walk_in(
            session=session, actor="staff", clinic_id=clinic.id, person=person(), now=NOW
        )
        assert made.booking.walk_in and made.booking.slot_starts_at is None
        assert made.booking.status == BookingStatus.CHECKED_IN
        state = queue.live_queue(session=session, clinic=clinic, now=NOW)
        assert state.waiting == 1
        with pytest.raises(ConflictError, match="not open now"):
            booking.walk_in(
                session=session, actor="s", clinic_id=clinic.id, person=person(1), now=seoul(5, 20)
            )

    def test_no_show(self, session: Session) -> None:
        clinic = make_clinic(session)
        b = book(session, clinic, seoul(5, 10)).booking
        with pytest.raises(ConflictError, match="not begun yet"):
            booking.mark_no_show(session=session, actor="s", booking_id=b.id, now=NOW)
        booking.mark_no_show(session=session, actor="s", booking_id=b.id, now=seoul(5, 10, 30))
        assert b.status == BookingStatus.NO_SHOW and b.closed_at == seoul(5, 10, 30)


class TestCitizensAccessAndIdentity:
    def test_access_code(self, session: Session) -> None:
        clinic = make_clinic(session)
        made = book(session, clinic, seoul(5, 10))
        ref, code = made.booking.reference, made.access_code
        assert booking.verify_access(session=session, reference=ref.lower(), code=code.lower())
        with pytest.raises(AccessCodeError, match="no booking with this reference and code"):
            booking.verify_access(session=session, reference="BNOSUCHREF", code=code)
        for _ in range(booking.MAX_CODE_FAILURES):
            with pytest.raises(AccessCodeError, match="no booking with this reference"):
                booking.verify_access(session=session, reference=ref, code="AAAA-AAAA")
        with pytest.raises(AccessCodeError, match="too many wrong codes"):
            booking.verify_access(session=session, reference=ref, code=code)
        fresh = booking.new_access_code(session=session, actor="staff", booking_id=made.booking.id)
        assert booking.verify_access(session=session, reference=ref, code=fresh)
        with pytest.raises(AccessCodeError):
            booking.verify_access(session=session, reference=ref, code=code)

    def test_identity_is_sealed_and_its_reads_audited(self, session: Session) -> None:
        clinic = make_clinic(session)
        made = booking.book(
            session=session,
            actor="citizen",
            clinic_id=clinic.id,
            person=person(full_name="Quillon Marbleworth", phone="+82 10-7391-2468"),
            starts_at=seoul(5, 10),
            now=NOW,
        )
        row = made.booking
        stored = b"".join(x or b"" for x in (row.full_name_enc, row.phone_enc, row.email_enc))
        assert b"Marbleworth" not in stored and b"7391" not in stored
        assert "Marbleworth" not in made.access_code + row.reference
        opened = booking.read_identity(session=session, actor="staff-1", booking_id=row.id)
        assert (opened.full_name, opened.phone) == ("Quillon Marbleworth", "+82 10-7391-2468")
        found = booking.find_by_phone(session=session, actor="staff-1", phone="010-7391-2468")
        assert [b.id for b in found] == [row.id]
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == "staff-1")
        ).all()
        assert actions == ["screening.booking.identity.read", "screening.booking.search"]
        details = session.scalars(select(AuditEvent.detail)).all()
        assert all("7391" not in str(d) and "Marble" not in str(d) for d in details)


class TestRetention:
    def test_closed_bookings_are_purged_after_their_days(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        from citytrace.screening import outbox

        with scratch_engine(engine, tmp_path) as db:
            with Session(db) as session, session.begin():
                clinic = make_clinic(session)
                cancelled = book(session, clinic, seoul(5, 10)).booking
                booking.cancel(session=session, actor="c", booking_id=cancelled.id, now=NOW)
                kept = book(session, clinic, seoul(5, 11), n=1).booking
                sample = sampled(session, clinic, n=3)
                from citytrace.screening import samples

                samples.record_result(
                    session=session,
                    actor="lab",
                    sample_id=sample.id,
                    outcome=Outcome.NEGATIVE,
                    now=seoul(5, 18),
                )
                kept_id = kept.id
            later = NOW + timedelta(days=31)
            with Session(db) as session:
                # The result's notification is not sent yet: its booking waits for it.
                assert purge(session=session, now=later, dry_run=True)["screening"] == {
                    "bookings": 1
                }
                outbox.send_pending(
                    session=session, gateways={"file": outbox.FileGateway(tmp_path / "out")}
                )
                assert purge(session=session, now=later)["screening"] == {"bookings": 2}
                assert [b.id for b in session.scalars(select(Booking))] == [kept_id]
                assert _count(session, SlotClaim) == 1


def test_key_rotation_reseals_bookings(session: Session) -> None:
    from citytrace.security import rotation
    from citytrace.security.keys import add_file_key, get_keyring

    clinic = make_clinic(session)
    made = [
        book(session, clinic, seoul(5, 10) + timedelta(minutes=10 * i), n=i).booking
        for i in range(3)
    ]
    old = made[0].key_id
    new = add_file_key()
    keyring = get_keyring()
    assert rotation.pending(session=session, keyring=keyring) == 3
    result = rotation.rotate(session=session, keyring=keyring, actor="t", batch_size=2)
    assert result.identities == 3 and result.still_old == {}
    session.expire_all()
    for i, b in enumerate(made):
        assert b.key_id == new != old
        opened = booking.read_identity(session=session, actor="t", booking_id=b.id)
        assert opened.full_name == f"Hong Gildong {i}"
