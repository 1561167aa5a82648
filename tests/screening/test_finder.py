"""The clinic finder: nearest clinics to a point, with kind, whether open, the current wait and
the next free slot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from citytrace.geo import haversine_m
from citytrace.screening import clinics, finder, queue
from citytrace.screening.models import ClinicKind, LocationPrecision
from tests.screening.factories import CITY_HALL, NOW, book, make_clinic, seoul


def _near(km_north: float) -> tuple[float, float]:
    return CITY_HALL[0] + km_north / 111.2, CITY_HALL[1]


@pytest.fixture
def three(session: Session) -> dict[str, int]:
    near = make_clinic(session, reference="near", latitude=_near(1)[0], longitude=CITY_HALL[1])
    mid = make_clinic(
        session,
        reference="mid",
        kind=ClinicKind.WALK_THROUGH,
        latitude=_near(3)[0],
        longitude=CITY_HALL[1],
        weekday_hours="13:00-18:00",
    )
    far = make_clinic(
        session,
        reference="far",
        kind=ClinicKind.CONVENTIONAL,
        latitude=_near(10)[0],
        longitude=CITY_HALL[1],
        weekday_hours="00:00-24:00",
    )
    make_clinic(session, reference="nowhere")  # no position: never found by distance
    return {"near": near.id, "mid": mid.id, "far": far.id}


class TestNearest:
    def test_nearest_first_with_wait_and_next_slot(
        self, session: Session, three: dict[str, int]
    ) -> None:
        found = finder.nearest(
            session=session, latitude=CITY_HALL[0], longitude=CITY_HALL[1], limit=5, now=NOW
        )
        assert [n.clinic.reference for n in found] == ["near", "mid", "far"]
        near, mid, far = found
        assert near.distance_m == pytest.approx(
            haversine_m(CITY_HALL[0], CITY_HALL[1], _near(1)[0], CITY_HALL[1]), abs=0.1
        )
        assert near.open_now and near.current_wait_min == 0 and not near.approximate
        assert near.next_free_slot == seoul(5, 9, 40)
        # Opens at 13:00: closed now, no wait, its first slot this afternoon.
        assert not mid.open_now and mid.current_wait_min is None
        assert mid.next_free_slot == seoul(5, 13)
        assert far.open_now and far.next_free_slot == seoul(5, 10)

    def test_open_now_kind_distance_and_limit(
        self, session: Session, three: dict[str, int]
    ) -> None:
        def refs(**kw: object) -> list[str]:
            return [
                n.clinic.reference
                for n in finder.nearest(
                    session=session,
                    latitude=CITY_HALL[0],
                    longitude=CITY_HALL[1],
                    now=NOW,
                    **kw,  # type: ignore[arg-type]
                )
            ]

        assert refs(open_now=True) == ["near", "far"]
        assert refs(kind=ClinicKind.WALK_THROUGH) == ["mid"]
        assert refs(max_distance_m=5000) == ["near", "mid"]
        assert refs(limit=1) == ["near"]

    def test_the_wait_and_slot_follow_the_queue(
        self, session: Session, three: dict[str, int]
    ) -> None:
        near = clinics.get_or_raise(session=session, clinic_id=three["near"])
        for i in range(3):
            made = book(session, near, seoul(5, 9, 40) + timedelta(minutes=10 * i), n=i).booking
            queue.check_in(session=session, actor="s", clinic=near, code=made.reference, now=NOW)
        (first,) = finder.nearest(
            session=session, latitude=CITY_HALL[0], longitude=CITY_HALL[1], limit=1, now=NOW
        )
        assert first.current_wait_min == 30.0
        assert first.next_free_slot == seoul(5, 10, 10)

    def test_clinics_placed_by_district_are_approximate(self, session: Session) -> None:
        clinics.import_packaged(session=session, actor="admin")
        found = finder.nearest(
            session=session, latitude=CITY_HALL[0], longitude=CITY_HALL[1], limit=5, now=NOW
        )
        assert len(found) == 5
        assert all(n.approximate for n in found)
        assert all(n.clinic.location_precision == LocationPrecision.DISTRICT for n in found)
        assert [n.distance_m for n in found] == sorted(n.distance_m for n in found)
        # City Hall is in Jung-gu: its clinics come first.
        assert found[0].clinic.district_code == "11140"
