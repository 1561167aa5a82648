"""The clinic simulation: checked against queueing theory and the published figures.

Published figures (../shared/DESIGN.md section 5): a drive-through lane takes about 10 minutes a
person, 6 samples an hour against 2 at a conventional clinic (about 30 minutes a visitor); a
walk-through centre (4 booths, 5 min ventilation + 1 min disinfectant contact between people)
tests 9-10 times as many as a conventional clinic.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from citytrace.errors import InputError
from citytrace.screening.simulation import (
    ServiceTime,
    Turnover,
    default_scenario,
    parse_hours,
    scenario_from_mapping,
    simulate,
)

# Under saturating demand the queue never empties during opening hours.
SATURATING_PER_UNIT_HOUR = 15.0


def saturated(kind: str, units: int, **changes: object) -> float:
    """Throughput per unit and hour within opening hours, over 20 saturated days."""
    scenario = default_scenario(
        kind,  # type: ignore[arg-type]
        units,
        arrivals_per_hour=(SATURATING_PER_UNIT_HOUR * units,),
        serve_after_close=False,
        **changes,
    )
    result = simulate(scenario, seed=11, days=20)
    busy = max(result.utilisation + result.turnover_share, result.staff_utilisation)
    assert busy > 0.95, "demand did not saturate"
    return result.throughput_per_unit_hour


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Probability of waiting in an M/M/c queue (Erlang's C formula)."""
    load = arrival_rate / service_rate
    rho = load / servers
    top = load**servers / math.factorial(servers) / (1 - rho)
    return top / (sum(load**k / math.factorial(k) for k in range(servers)) + top)


class TestPublishedFigures:
    def test_drive_through_lane_serves_about_6_an_hour(self) -> None:
        assert saturated("drive_through", 4) == pytest.approx(6.0, rel=0.08)

    def test_drive_through_takes_about_10_minutes_a_person(self) -> None:
        result = simulate(default_scenario("drive_through", 2, arrivals_per_hour=(8,)), days=3)
        assert result.service_mean_min == pytest.approx(10.0, rel=0.1)

    def test_conventional_room_serves_about_2_an_hour(self) -> None:
        assert saturated("conventional", 1) == pytest.approx(2.0, rel=0.08)

    def test_drive_through_lane_is_about_3_times_a_conventional_room(self) -> None:
        ratio = saturated("drive_through", 1) / saturated("conventional", 1)
        assert 3.0 * 0.92 <= ratio <= 3.0 * 1.08

    def test_walk_through_centre_tests_9_to_10_times_a_conventional_clinic(self) -> None:
        centre = saturated("walk_through", 4) * 4  # Yangji Hospital's 4 booths
        clinic = saturated("conventional", 1) * 1  # one examination room
        assert 9.0 * 0.95 <= centre / clinic <= 10.0 * 1.05

    def test_walk_through_booth_spends_its_turnover_idle(self) -> None:
        scenario = default_scenario("walk_through", 4, arrivals_per_hour=(60,))
        result = simulate(scenario, seed=3, days=3)
        cycle = result.service_mean_min + 6.0
        assert result.turnover_share == pytest.approx(6.0 / cycle, rel=0.08)
        assert result.utilisation == pytest.approx(result.service_mean_min / cycle, rel=0.08)


class TestQueueingBehaviour:
    def test_mmc_waits_match_erlang_c(self) -> None:
        # M/M/4: Poisson arrivals at 15 an hour, exponential 10-minute services; 60 days of 24 h.
        lam, mu, c = 15 / 60, 1 / 10, 4
        scenario = default_scenario(
            "drive_through",
            c,
            open_min=0,
            close_min=24 * 60,
            arrivals_per_hour=(15,),
            service=ServiceTime("exponential", 10.0),
        )
        result = simulate(scenario, seed=5, days=60)
        waits = np.array([v.wait_min for v in result.visits])
        p_wait = erlang_c(lam, mu, c)
        assert (waits > 1e-9).mean() == pytest.approx(p_wait, rel=0.08)
        assert result.waits.mean_min == pytest.approx(p_wait / (c * mu - lam), rel=0.15)
        assert result.utilisation == pytest.approx(lam / mu / c, rel=0.03)

    def test_littles_law(self) -> None:
        scenario = default_scenario("walk_through", 3, arrivals_per_hour=(10, 20, 30, 25, 20, 15))
        result = simulate(replace(scenario, close_min=15 * 60), seed=2, days=4)
        arrival_rate = result.arrived / result.observed_min
        assert result.waits.mean_min > 1
        assert result.queue_mean == pytest.approx(arrival_rate * result.waits.mean_min, rel=0.02)
        # The queue sampled each minute agrees with the exact time average.
        sampled = np.mean(result.queue_by_minute[: int(result.observed_min)])
        assert sampled == pytest.approx(result.queue_mean, rel=0.05)

    def test_more_units_shorter_waits(self) -> None:
        waits = []
        for units in (3, 4, 5, 6):
            scenario = default_scenario("drive_through", units, arrivals_per_hour=(22,))
            waits.append(simulate(scenario, seed=8, days=3).waits)
        means = [w.mean_min for w in waits]
        p90s = [w.p90_min for w in waits]
        assert means == sorted(means, reverse=True) and len(set(means)) == 4
        assert p90s == sorted(p90s, reverse=True)
        assert means[0] > 30 > 2 > means[-1]  # 3 lanes are overloaded, 6 are not

    def test_turnover_lowers_throughput_by_its_share_of_the_cycle(self) -> None:
        without = saturated("walk_through", 2, turnover=Turnover())
        with_turnover = saturated("walk_through", 2)
        assert without == pytest.approx(60 / 6.5, rel=0.08)
        assert with_turnover / without == pytest.approx(6.5 / (6.5 + 6.0), rel=0.05)
        longer = saturated("walk_through", 2, turnover=Turnover(10.0, 2.0))
        assert longer / without == pytest.approx(6.5 / (6.5 + 12.0), rel=0.05)

    def test_fewer_staff_than_lanes_caps_throughput(self) -> None:
        full = saturated("drive_through", 4)
        half = saturated("drive_through", 4, staff=(2,))
        assert half / full == pytest.approx(0.5, rel=0.05)

    def test_staff_by_hour(self) -> None:
        staff = (4, 4, 4, 1, 1, 4, 4, 4, 4)  # three go to lunch for two hours
        scenario = default_scenario(
            "drive_through",
            4,
            arrivals_per_hour=(60,),
            staff=staff,
            service=ServiceTime("fixed", 10.0),
        )
        result = simulate(scenario, seed=1)
        served = [hour.served for hour in result.hours[:9]]
        assert served[1:3] == [24, 24]
        # A staff member leaves after the person in hand: the lunch hours serve 6 a lane-hour.
        assert 6 <= served[3] <= 9 and served[4] == 6
        assert result.staff_utilisation == pytest.approx(1.0, abs=0.02)

    def test_deterministic_bookings(self) -> None:
        # One lane, fixed 10-minute services: bookings every 10 minutes never wait, every 8
        # minutes each person waits 2 minutes longer than the one before.
        fixed = ServiceTime("fixed", 10.0)
        every_10 = tuple(float(9 * 60 + 10 * k) for k in range(12))
        every_8 = tuple(float(9 * 60 + 8 * k) for k in range(12))
        on_time = simulate(
            default_scenario("drive_through", 1, bookings_min=every_10, service=fixed)
        )
        assert on_time.waits.max_min == 0 and on_time.queue_max == 0
        late = simulate(default_scenario("drive_through", 1, bookings_min=every_8, service=fixed))
        waits = [v.wait_min for v in late.visits]
        assert waits == pytest.approx([2.0 * k for k in range(12)])
        assert all(v.booked for v in late.visits)

    def test_punctuality_spreads_booked_arrivals_within_opening_hours(self) -> None:
        bookings = tuple(float(9 * 60 + 5 * k) for k in range(100))
        scenario = default_scenario(
            "drive_through", 2, bookings_min=bookings, punctuality_sd_min=10.0
        )
        arrivals = [v.arrived_min for v in simulate(scenario, seed=4).visits]
        shifts = np.array(sorted(arrivals)) - np.array(bookings)
        assert min(arrivals) >= 9 * 60 and max(arrivals) < 18 * 60
        assert np.abs(shifts).max() > 0

    def test_no_arrival_outside_opening_hours(self) -> None:
        scenario = default_scenario(
            "conventional", 1, open_min=13 * 60, close_min=17 * 60 + 30, arrivals_per_hour=(6,)
        )
        result = simulate(scenario, seed=6, days=3)
        assert all(13 * 60 <= v.arrived_min < 17 * 60 + 30 for v in result.visits)
        assert [h.after_close for h in result.hours][:5] == [False] * 5
        assert result.hours[4].start_min == 17 * 60  # a half hour is an opening hour too
        assert result.overtime_min > 0 and result.unserved == 0

    def test_sending_the_queue_away_at_closing(self) -> None:
        scenario = default_scenario("conventional", 1, arrivals_per_hour=(6,))
        served_late = simulate(scenario, seed=6)
        sent_away = simulate(replace(scenario, serve_after_close=False), seed=6)
        assert sent_away.arrived == served_late.arrived
        assert sent_away.unserved > 0 and served_late.unserved == 0
        # Nobody starts after closing; only the person in the room finishes late.
        starts = [v.started_min for v in sent_away.visits if v.started_min is not None]
        assert max(starts) < 18 * 60 and sent_away.overtime_min <= 120
        assert sent_away.served + sent_away.unserved == sent_away.arrived

    def test_arrival_curve_is_followed(self) -> None:
        rates = (5, 5, 40, 40, 5, 5, 40, 40, 5)
        scenario = default_scenario("drive_through", 8, arrivals_per_hour=rates)
        result = simulate(scenario, seed=9, days=20)
        arrived = [h.arrived for h in result.hours[:9]]
        assert arrived == pytest.approx(rates, rel=0.25)


class TestReproducibility:
    def test_same_seed_same_day(self) -> None:
        scenario = default_scenario("walk_through", 2, arrivals_per_hour=(12,))
        one, two = simulate(scenario, seed=42), simulate(scenario, seed=42)
        assert one.visits == two.visits and one.to_dict() == two.to_dict()
        other = simulate(scenario, seed=43)
        assert other.visits != one.visits

    def test_common_random_numbers_across_unit_counts(self) -> None:
        three = simulate(default_scenario("drive_through", 3, arrivals_per_hour=(15,)), seed=7)
        four = simulate(default_scenario("drive_through", 4, arrivals_per_hour=(15,)), seed=7)
        assert [v.arrived_min for v in three.visits] == [v.arrived_min for v in four.visits]

    def test_service_distributions_have_their_mean(self) -> None:
        rng = np.random.default_rng(0)
        for service in (
            ServiceTime("fixed", 7.0),
            ServiceTime("exponential", 7.0),
            ServiceTime("lognormal", 7.0, cv=0.5),
            ServiceTime("gamma", 7.0, cv=0.5),
            ServiceTime("triangular", 7.0, low_min=4.0, high_min=12.0),
        ):
            service.validate()
            draws = service.sample(rng, 20_000)
            assert draws.mean() == pytest.approx(7.0, rel=0.03), service.distribution
            assert draws.min() >= 0
        spread = ServiceTime("lognormal", 7.0, cv=0.5).sample(rng, 20_000)
        assert spread.std() / spread.mean() == pytest.approx(0.5, rel=0.1)


class TestBadInput:
    @pytest.mark.parametrize(
        ("changes", "location"),
        [
            ({"units": 0}, "units"),
            ({"open_min": 18 * 60, "close_min": 9 * 60}, "hours"),
            ({"arrivals_per_hour": (10.0, 20.0)}, "arrivals_per_hour"),
            ({"arrivals_per_hour": (-1.0,)}, "arrivals_per_hour"),
            ({"arrivals_per_hour": ()}, "arrivals"),
            ({"staff": (0,)}, "staff"),
            ({"bookings_min": (8 * 60.0,)}, "bookings"),
            ({"service": ServiceTime("lognormal", 0.0)}, "service.mean_min"),
            (
                {"service": ServiceTime("triangular", 10.0, low_min=1, high_min=12)},
                "service.mean_min",
            ),
            ({"service": ServiceTime("triangular", 10.0)}, "service"),
            ({"turnover": Turnover(-5.0)}, "turnover.ventilation_min"),
        ],
    )
    def test_scenario_errors_name_the_field(
        self, changes: dict[str, object], location: str
    ) -> None:
        scenario = replace(default_scenario("drive_through", 2, arrivals_per_hour=(10,)), **changes)
        with pytest.raises(InputError) as error:
            simulate(scenario)
        assert error.value.location == location

    @pytest.mark.parametrize(
        ("data", "location"),
        [
            ({"kind": "tent", "units": 1}, "kind"),
            ({"kind": "walk_through", "units": "four"}, "units"),
            ({"kind": "walk_through", "units": 2, "colour": 1}, "colour"),
            ({"kind": "walk_through", "units": 2, "hours": "9-18"}, "hours"),
            (
                {"kind": "walk_through", "units": 2, "arrivals_per_hour": [1, "x"]},
                "arrivals_per_hour[1]",
            ),
            ({"kind": "walk_through", "units": 2, "bookings": ["09:00", "25:00"]}, "bookings[1]"),
            ({"kind": "walk_through", "units": 2, "bookings": 3}, "bookings"),
            ({"kind": "walk_through", "units": 2, "service": {"mean": 3}}, "service.mean"),
            (
                {"kind": "walk_through", "units": 2, "service": {"mean_min": "3"}},
                "service.mean_min",
            ),
            (
                {"kind": "walk_through", "units": 2, "turnover": {"ventilation_min": True}},
                "turnover.ventilation_min",
            ),
            ({"kind": "walk_through", "units": 2, "arrivals_per_hour": 5, "days": 0}, "days"),
            ({"kind": "walk_through", "units": 2, "arrivals_per_hour": 5, "seed": -1}, "seed"),
        ],
    )
    def test_mapping_errors_name_the_key(self, data: dict[str, object], location: str) -> None:
        with pytest.raises(InputError) as error:
            scenario_from_mapping(data)
        assert error.value.location == location

    def test_mapping_takes_the_kinds_defaults(self) -> None:
        scenario, seed, days = scenario_from_mapping(
            {
                "kind": "walk_through",
                "units": 4,
                "hours": "08:30-12:00",
                "arrivals_per_hour": [10, 20, 30, 40],
                "turnover": {"disinfection_min": 2},
                "seed": 3,
                "days": 2,
            }
        )
        assert (scenario.open_min, scenario.close_min) == (510, 720)
        assert scenario.turnover == Turnover(ventilation_min=5.0, disinfection_min=2.0)
        assert scenario.service.mean_min == 6.5 and (seed, days) == (3, 2)

    def test_opening_hours(self) -> None:
        assert parse_hours("00:00-24:00") == (0, 1440)
        for bad in ("09:00", "18:00-09:00", "09:60-10:00", "24:00-24:00", "nine-ten"):
            with pytest.raises(InputError):
                parse_hours(bad)
