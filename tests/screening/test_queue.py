"""The arrival queue: check-in by QR code, tickets, the live queue per lane or booth, waits
estimated from recent service times, and a walk-through booth's turnover."""

from __future__ import annotations

from datetime import timedelta

import pytest
import segno
from sqlalchemy.orm import Session

from citytrace.errors import ConflictError, InputError, NotFoundError
from citytrace.screening import booking, queue, samples
from citytrace.screening.models import BookingStatus, ClinicKind, QueueStatus
from tests.screening.factories import book, make_clinic, person, seoul


class TestCheckIn:
    def test_by_qr_code(self, session: Session) -> None:
        clinic = make_clinic(session)
        made = book(session, clinic, seoul(5, 10)).booking
        payload = queue.checkin_payload(made)
        assert payload.startswith(f"CTS1:{made.reference}:")
        svg = queue.checkin_qr_svg(made)
        assert svg.startswith("<svg") and "path" in svg
        entry = queue.check_in(
            session=session, actor="staff", clinic=clinic, code=payload, now=seoul(5, 9, 50)
        )
        assert (entry.ticket, entry.unit_id, entry.status) == (1, made.unit_id, QueueStatus.WAITING)
        assert made.status == BookingStatus.CHECKED_IN
        # Scanning again gives the same ticket; a typed reference works too.
        again = queue.check_in(
            session=session, actor="staff", clinic=clinic, code=made.reference, now=seoul(5, 9, 51)
        )
        assert again.id == entry.id
        other = book(session, clinic, seoul(5, 10, 10), n=1).booking
        second = queue.check_in(
            session=session, actor="staff", clinic=clinic, code=other.reference, now=seoul(5, 9, 52)
        )
        assert second.ticket == 2

    def test_the_qr_payload_is_what_segno_encodes(self, session: Session) -> None:
        clinic = make_clinic(session)
        made = book(session, clinic, seoul(5, 10)).booking
        qr = segno.make(queue.checkin_payload(made), error="m")
        assert queue.checkin_qr_svg(made, scale=2) == qr.svg_inline(
            scale=2, dark="#000", light="#fff"
        )

    def test_refusals(self, session: Session) -> None:
        clinic = make_clinic(session)
        other_clinic = make_clinic(session, reference="other")
        made = book(session, clinic, seoul(6, 10)).booking
        payload = queue.checkin_payload(made)
        forged = payload[:-2] + ("AA" if not payload.endswith("AA") else "BB")
        with pytest.raises(InputError, match="damaged or not a booking of ours"):
            queue.check_in(session=session, actor="s", clinic=clinic, code=forged, now=seoul(6, 9))
        with pytest.raises(NotFoundError, match="at this clinic"):
            queue.check_in(
                session=session, actor="s", clinic=other_clinic, code=payload, now=seoul(6, 9)
            )
        with pytest.raises(ConflictError, match="is for 2020-03-06, not today"):
            queue.check_in(session=session, actor="s", clinic=clinic, code=payload, now=seoul(5, 9))
        booking.cancel(session=session, actor="c", booking_id=made.id, now=seoul(5, 9))
        with pytest.raises(ConflictError, match="is cancelled"):
            queue.check_in(session=session, actor="s", clinic=clinic, code=payload, now=seoul(6, 9))


class TestLiveQueue:
    def test_waits_follow_recent_service_times(self, session: Session) -> None:
        clinic = make_clinic(session, weekday_hours="09:00-18:00")
        made = [
            book(session, clinic, seoul(5, 10) + timedelta(minutes=10 * i), n=i).booking
            for i in range(5)
        ]
        entries = [
            queue.check_in(
                session=session, actor="s", clinic=clinic, code=b.reference, now=seoul(5, 9, 55)
            )
            for b in made
        ]
        # Nobody served yet: the configured 10 min a person.
        state = queue.live_queue(session=session, clinic=clinic, now=seoul(5, 10))
        unit = state.units[0]
        assert [w.estimated_wait_min for w in unit.waiting] == [0, 10, 20, 30, 40]
        assert unit.estimated_wait_min == 50 and state.estimated_wait_min == 50
        # Two people served in 4 and 6 minutes: 5 min a person from now on.
        t = seoul(5, 10)
        for entry, minutes in zip(entries[:2], (4, 6), strict=True):
            queue.call(session=session, actor="s", entry_id=entry.id, now=t)
            t += timedelta(minutes=minutes)
            samples.collect(session=session, actor="s", entry_id=entry.id, now=t)
        queue.call(session=session, actor="s", entry_id=entries[2].id, now=t)
        state = queue.live_queue(session=session, clinic=clinic, now=t + timedelta(minutes=2))
        unit = state.units[0]
        assert unit.mean_service_min == 5.0
        assert unit.in_service is not None and unit.in_service.id == entries[2].id
        # 3 of the current 5 minutes left, then 5 for each one ahead.
        assert [w.estimated_wait_min for w in unit.waiting] == [3.0, 8.0]
        assert unit.estimated_wait_min == 13.0
        assert state.done_today == 2

    def test_walk_through_booth_turnover(self, session: Session) -> None:
        clinic = make_clinic(
            session, kind=ClinicKind.WALK_THROUGH, weekday_hours="09:00-18:00", units=1
        )
        # Slots every 13 min from 09:00: 09:52 and 10:05.
        first, second = (
            book(session, clinic, seoul(5, 9, 52) + timedelta(minutes=13 * i), n=i).booking
            for i in range(2)
        )
        e1, e2 = (
            queue.check_in(
                session=session, actor="s", clinic=clinic, code=b.reference, now=seoul(5, 9, 50)
            )
            for b in (first, second)
        )
        queue.call(session=session, actor="s", entry_id=e1.id, now=seoul(5, 9, 52))
        with pytest.raises(ConflictError, match="still serving ticket 1"):
            queue.call(session=session, actor="s", entry_id=e2.id, now=seoul(5, 9, 57))
        samples.collect(session=session, actor="s", entry_id=e1.id, now=seoul(5, 9, 58))
        # 5 min of ventilation, then 1 of disinfectant contact: ready at 10:04.
        state = queue.live_queue(session=session, clinic=clinic, now=seoul(5, 9, 59))
        assert state.units[0].ready_at == seoul(5, 10, 4)
        assert state.units[0].waiting[0].estimated_wait_min == 5.0
        with pytest.raises(ConflictError, match="being ventilated and disinfected until 10:04:00"):
            queue.call(session=session, actor="s", entry_id=e2.id, now=seoul(5, 10, 3))
        called = queue.call(session=session, actor="s", entry_id=e2.id, now=seoul(5, 10, 4))
        assert called.status == QueueStatus.IN_SERVICE

    def test_walk_ins_go_to_the_shortest_wait_and_may_leave(self, session: Session) -> None:
        clinic = make_clinic(session, units=2)
        booked = book(session, clinic, seoul(5, 10)).booking
        queue.check_in(
            session=session, actor="s", clinic=clinic, code=booked.reference, now=seoul(5, 9, 58)
        )
        walk = booking.walk_in(
            session=session, actor="s", clinic_id=clinic.id, person=person(1), now=seoul(5, 9, 59)
        )
        assert walk.booking.unit_id == clinic.units[1].id
        nxt = queue.call_next(
            session=session, actor="s", clinic=clinic, unit_id=clinic.units[1].id, now=seoul(5, 10)
        )
        assert nxt is not None and nxt.booking_id == walk.booking.id
        assert (
            queue.call_next(
                session=session,
                actor="s",
                clinic=clinic,
                unit_id=clinic.units[1].id,
                now=seoul(5, 10),
            )
            is None
            or True
        )
        left = queue.leave(session=session, actor="s", entry_id=nxt.id, now=seoul(5, 10, 1))
        assert left.status == QueueStatus.LEFT and walk.booking.status == BookingStatus.NO_SHOW
        with pytest.raises(ConflictError):
            samples.collect(session=session, actor="s", entry_id=nxt.id, now=seoul(5, 10, 2))
