"""The disclosure rules as a pure library: generalisation, which visits may be drafted, what is
one place, and how visits of several cases merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citytrace.disclosure import rules
from citytrace.disclosure.rules import Skip, VisitFacts
from citytrace.errors import InputError

SEOUL = "Asia/Seoul"
T0 = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
WINDOW = (datetime(2020, 2, 29, 15, 0, tzinfo=UTC), datetime(2020, 3, 5, 15, 0, tzinfo=UTC))


def visit(
    i: int = 1, *, case: int = 1, at: datetime = T0, minutes: int = 30, **kw: object
) -> VisitFacts:
    values: dict[str, object] = {
        "latitude": 37.5663,
        "longitude": 126.9779,
        "district_code": "11140",
        "venue_id": "V-1",
        "venue_name": "Blue Cup",
        "venue_kind": "cafe",
        "address": "Sejong-daero 110",
    }
    values.update(kw)
    return VisitFacts(
        visit_id=i,
        case_id=case,
        started_at=at,
        finished_at=at + timedelta(minutes=minutes),
        **values,  # type: ignore[arg-type]
    )


class TestGeneraliseWindow:
    def test_floor_and_ceil_to_the_step(self) -> None:
        start, end = rules.generalise_window(
            T0 + timedelta(minutes=7), T0 + timedelta(minutes=48), step_min=30, timezone=SEOUL
        )
        assert (start, end) == (T0, T0 + timedelta(hours=1))

    def test_a_day_step_gives_local_days(self) -> None:
        start, end = rules.generalise_window(
            T0, T0 + timedelta(minutes=5), step_min=1440, timezone=SEOUL
        )
        # 2020-03-03 00:00 .. 2020-03-04 00:00 in Seoul.
        assert start == datetime(2020, 3, 2, 15, 0, tzinfo=UTC)
        assert end == datetime(2020, 3, 3, 15, 0, tzinfo=UTC)

    def test_an_instant_gets_one_step(self) -> None:
        start, end = rules.generalise_window(T0, T0, step_min=30, timezone=SEOUL)
        assert end - start == timedelta(minutes=30)

    @pytest.mark.parametrize("step", [0, 1441, -5])
    def test_bad_steps_are_refused(self, step: int) -> None:
        with pytest.raises(InputError, match="time_step_min"):
            rules.generalise_window(T0, T0, step_min=step, timezone=SEOUL)

    def test_naive_or_reversed_times_are_refused(self) -> None:
        with pytest.raises(InputError):
            rules.generalise_window(T0.replace(tzinfo=None), T0, step_min=30, timezone=SEOUL)
        with pytest.raises(InputError):
            rules.generalise_window(T0, T0 - timedelta(minutes=1), step_min=30, timezone=SEOUL)

    @given(
        offset_s=st.integers(0, 10 * 86400),
        length_s=st.integers(0, 86400),
        step=st.sampled_from([1, 5, 15, 30, 60, 90, 120, 1440]),
    )
    def test_always_covers_and_aligns(self, offset_s: int, length_s: int, step: int) -> None:
        start = T0 + timedelta(seconds=offset_s)
        end = start + timedelta(seconds=length_s)
        lo, hi = rules.generalise_window(start, end, step_min=step, timezone=SEOUL)
        assert lo <= start and end <= hi
        assert hi - lo < timedelta(seconds=length_s) + 2 * timedelta(minutes=step)
        for moment in (lo, hi):
            local = moment + timedelta(hours=9)
            assert (local.hour * 60 + local.minute) % step == 0 and local.second == 0


class TestClassify:
    def test_what_may_be_drafted(self) -> None:
        start, end = WINDOW
        assert rules.classify(visit(), window_start=start, window_end=end) is None
        assert (
            rules.classify(visit(), window_start=start, window_end=end, confirmed=False)
            == Skip.NOT_REVIEWED
        )
        early = visit(at=start - timedelta(hours=2))
        assert rules.classify(early, window_start=start, window_end=end) == Skip.OUTSIDE_WINDOW
        home = visit(venue_kind="Home")
        assert rules.classify(home, window_start=start, window_end=end) == Skip.RESIDENCE
        nowhere = visit(district_code=None, address=" ")
        assert rules.classify(nowhere, window_start=start, window_end=end) == Skip.NO_PLACE
        # A workplace may be drafted: publishing it needs the mark of a mass exposure.
        office = visit(venue_kind="office")
        assert rules.classify(office, window_start=start, window_end=end) is None


class TestSamePlace:
    def test_by_venue_address_or_distance(self) -> None:
        a = visit(1)
        assert rules.same_place(a, visit(2, venue_id="V-1", latitude=37.6), distance_m=30)
        assert not rules.same_place(a, visit(2, venue_id="V-2"), distance_m=30)
        b = visit(2, venue_id=None, address="sejong-daero  110")
        assert rules.same_place(a, b, distance_m=30)
        near = visit(3, venue_id=None, venue_name=None, address=None, latitude=37.56640)
        far = visit(4, venue_id=None, venue_name=None, address=None, latitude=37.5700)
        anon = visit(5, venue_id=None, venue_name=None, address=None)
        assert rules.same_place(anon, near, distance_m=30)
        assert not rules.same_place(anon, far, distance_m=30)


class TestGroupVisits:
    def test_overlapping_or_adjacent_visits_at_one_place_merge(self) -> None:
        groups = rules.group_visits(
            [
                visit(1, case=1, at=T0),
                visit(2, case=2, at=T0 + timedelta(minutes=55)),  # adjacent at 30-minute steps
                visit(3, case=3, at=T0 + timedelta(hours=5)),  # later: its own entry
                visit(4, case=4, at=T0, venue_id="V-9", address="Other 1", venue_name="Other"),
            ],
            distance_m=30,
            step_min=30,
            timezone=SEOUL,
        )
        assert [sorted(v.visit_id for v in g.visits) for g in groups] == [[1, 2], [4], [3]]
        assert groups[0].case_ids == frozenset({1, 2})

    def test_input_is_not_changed(self) -> None:
        given_visits = [visit(2, at=T0 + timedelta(hours=1)), visit(1)]
        before = list(given_visits)
        rules.group_visits(given_visits, distance_m=30, step_min=30, timezone=SEOUL)
        assert given_visits == before


class TestSmallRules:
    def test_disinfection_note_only_within_seven_days(self) -> None:
        assert rules.disinfection_applies(T0, T0 + timedelta(days=7))
        assert not rules.disinfection_applies(T0, T0 + timedelta(days=7, seconds=1))

    def test_equivalent_radius(self) -> None:
        assert rules.equivalent_radius_m(3.141592653589793) == pytest.approx(1000.0)
