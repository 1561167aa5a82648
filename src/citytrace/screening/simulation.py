"""Capacity planning: a discrete-event simulation (SimPy) of one screening clinic's day.

A pure library: plain dataclasses in, plain dataclasses out; nothing of the web or the ORM.

The model. People arrive during opening hours (a non-homogeneous Poisson process from hourly
rates, and/or booked times with a punctuality spread) and join one first-come-first-served queue.
A person is served when a *unit* (a drive-through lane, a walk-through booth, a conventional
examination room) and a member of the sampling *staff* are both free. The service time is drawn
from a configurable distribution. After each person the unit is out of use for its *turnover*
(ventilation, then disinfectant contact) while the staff member is free to serve another unit.
Staff on duty may change by the hour (an off-duty slot is taken when its holder finishes the
person in hand). At closing the queue is either served to the end (overtime) or sent away.

Defaults per kind of clinic come from the published figures (../shared/DESIGN.md section 5):

* drive-through (Kwon et al., J Korean Med Sci 2020;35(11):e123): about 10 min per person, so
  6 samples an hour per lane (Goyang), no turnover (the person stays in the car, outdoors);
* conventional clinic: about 30 min per visitor, so 2 an hour per examination room; the room's
  cleaning and ventilation are part of those 30 minutes;
* walk-through (Yangji Hospital, J Korean Med Sci 2020;35(15):e154): between two people the booth
  is ventilated while staff wait 5 min, then disinfectant needs 1 min of contact. The paper gives
  a 9-10-fold gain of the centre (4 booths) over a conventional clinic (one room, 2 an hour), not
  the time in the booth; 6.5 min in the booth (consultation by intercom and swab) is the value
  that, with the 6 min turnover, gives 4 booths x 60 / 12.5 = 19.2 an hour: 9.6-fold.

Randomness is a NumPy generator seeded per replication, with one stream for arrivals and one for
service times, so that two scenarios run with the same seed see the same people (common random
numbers): a comparison of 3 and 4 lanes is not blurred by different arrivals.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, cast, get_args

import numpy as np
import simpy

from citytrace.errors import InputError

Kind = Literal["drive_through", "walk_through", "conventional"]
Distribution = Literal["fixed", "exponential", "lognormal", "gamma", "triangular"]

KINDS: tuple[str, ...] = get_args(Kind)
DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)

#: Walk-through booth turnover (Yangji Hospital): staff wait 5 min while the booth is
#: ventilated, then 1 min of disinfectant contact.
WALK_THROUGH_VENTILATION_MIN = 5.0
WALK_THROUGH_DISINFECTION_MIN = 1.0
#: Published minutes per person: drive-through about 10, conventional clinic about 30.
DRIVE_THROUGH_SERVICE_MIN = 10.0
CONVENTIONAL_SERVICE_MIN = 30.0
#: Calibrated (see the module's docstring): time in a walk-through booth.
WALK_THROUGH_SERVICE_MIN = 6.5

UNIT_NAMES: dict[str, tuple[str, str]] = {
    "drive_through": ("lane", "lanes"),
    "walk_through": ("booth", "booths"),
    "conventional": ("room", "rooms"),
}

_DAY_MIN = 24 * 60


@dataclass(frozen=True)
class ServiceTime:
    """Minutes a unit and a staff member spend on one person.

    ``cv`` (standard deviation / mean) shapes ``lognormal`` and ``gamma``; ``triangular`` runs
    from ``low_min`` to ``high_min`` with its mode placed so that the mean is ``mean_min``.
    """

    distribution: Distribution = "lognormal"
    mean_min: float = DRIVE_THROUGH_SERVICE_MIN
    cv: float = 0.3
    low_min: float | None = None
    high_min: float | None = None

    def validate(self, where: str = "service") -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise InputError(
                f"unknown distribution {self.distribution!r} (one of {', '.join(DISTRIBUTIONS)})",
                location=f"{where}.distribution",
            )
        _check_positive(self.mean_min, f"{where}.mean_min")
        if self.distribution in ("lognormal", "gamma"):
            _check_positive(self.cv, f"{where}.cv")
        if self.distribution == "triangular":
            if self.low_min is None or self.high_min is None:
                raise InputError(
                    "a triangular distribution needs low_min and high_min", location=where
                )
            if not 0 <= self.low_min <= self.mean_min <= self.high_min or (
                self.low_min == self.high_min
            ):
                raise InputError(
                    "needs 0 <= low_min <= mean_min <= high_min and low_min < high_min",
                    location=where,
                )
            mode = 3 * self.mean_min - self.low_min - self.high_min
            if not self.low_min <= mode <= self.high_min:
                raise InputError(
                    f"no triangle from {self.low_min:g} to {self.high_min:g} min has a mean of "
                    f"{self.mean_min:g} min (its mode would be {mode:g})",
                    location=f"{where}.mean_min",
                )

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` service times in minutes."""
        mean = self.mean_min
        if self.distribution == "fixed":
            return np.full(size, mean)
        if self.distribution == "exponential":
            return rng.exponential(mean, size)
        if self.distribution == "lognormal":
            sigma2 = math.log1p(self.cv**2)
            return rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), size)
        if self.distribution == "gamma":
            shape = 1 / self.cv**2
            return rng.gamma(shape, mean / shape, size)
        low, high = cast(float, self.low_min), cast(float, self.high_min)
        return rng.triangular(low, 3 * mean - low - high, high, size)


@dataclass(frozen=True)
class Turnover:
    """Minutes a unit is out of use after each person (no staff needed meanwhile)."""

    ventilation_min: float = 0.0
    disinfection_min: float = 0.0

    @property
    def total_min(self) -> float:
        return self.ventilation_min + self.disinfection_min

    def validate(self, where: str = "turnover") -> None:
        _check_non_negative(self.ventilation_min, f"{where}.ventilation_min")
        _check_non_negative(self.disinfection_min, f"{where}.disinfection_min")


@dataclass(frozen=True)
class Scenario:
    """One clinic's day: what is simulated.

    Times are minutes after midnight (local time); ``arrivals_per_hour`` and ``staff`` hold one
    value per started hour of opening (a single value holds for the whole day); ``bookings_min``
    are booked arrival times, each shifted by a normal punctuality error of
    ``punctuality_sd_min`` and kept within opening hours.
    """

    kind: Kind
    units: int
    open_min: int = 9 * 60
    close_min: int = 18 * 60
    arrivals_per_hour: tuple[float, ...] = ()
    bookings_min: tuple[float, ...] = ()
    punctuality_sd_min: float = 0.0
    staff: tuple[int, ...] = ()
    service: ServiceTime = field(default_factory=ServiceTime)
    turnover: Turnover = field(default_factory=Turnover)
    serve_after_close: bool = True

    @property
    def opening_hours(self) -> int:
        """Started hours between opening and closing."""
        return math.ceil((self.close_min - self.open_min) / 60)

    @property
    def open_duration_min(self) -> int:
        return self.close_min - self.open_min

    def rate_in_hour(self, hour: int) -> float:
        rates = self.arrivals_per_hour
        if not rates:
            return 0.0
        return rates[0] if len(rates) == 1 else rates[hour]

    def staff_in_hour(self, hour: int) -> int:
        staff = self.staff or (self.units,)
        if len(staff) == 1:
            return staff[0]
        return staff[min(hour, len(staff) - 1)]

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first field that is wrong."""
        if self.kind not in KINDS:
            raise InputError(
                f"unknown kind {self.kind!r} (one of {', '.join(KINDS)})", location="kind"
            )
        if not isinstance(self.units, int) or self.units < 1:
            raise InputError("needs at least 1 unit", location="units")
        if not 0 <= self.open_min < self.close_min <= _DAY_MIN:
            raise InputError("opening must come before closing, within one day", location="hours")
        hours = self.opening_hours
        for name, values in (("arrivals_per_hour", self.arrivals_per_hour), ("staff", self.staff)):
            if len(values) not in (0, 1, hours):
                raise InputError(
                    f"give one value or one per opening hour ({hours}), not {len(values)}",
                    location=name,
                )
        for rate in self.arrivals_per_hour:
            _check_non_negative(rate, "arrivals_per_hour")
        for count in self.staff:
            if not isinstance(count, int) or count < 0:
                raise InputError(f"{count!r} is not a number of staff", location="staff")
        if self.staff and max(self.staff) == 0:
            raise InputError("no staff on duty at any hour", location="staff")
        for booked in self.bookings_min:
            if not self.open_min <= booked < self.close_min:
                raise InputError(
                    f"booking at {format_clock(booked)} is outside opening hours "
                    f"{format_clock(self.open_min)}-{format_clock(self.close_min)}",
                    location="bookings",
                )
        _check_non_negative(self.punctuality_sd_min, "punctuality_sd_min")
        if not self.arrivals_per_hour and not self.bookings_min:
            raise InputError("no arrivals: give arrivals_per_hour or bookings", location="arrivals")
        self.service.validate()
        self.turnover.validate()


def default_scenario(kind: Kind, units: int, **changes: Any) -> Scenario:
    """A scenario with the published defaults of ``kind`` (see the module's docstring)."""
    if kind == "drive_through":
        service = ServiceTime(mean_min=DRIVE_THROUGH_SERVICE_MIN)
        turnover = Turnover()
    elif kind == "walk_through":
        service = ServiceTime(mean_min=WALK_THROUGH_SERVICE_MIN)
        turnover = Turnover(WALK_THROUGH_VENTILATION_MIN, WALK_THROUGH_DISINFECTION_MIN)
    elif kind == "conventional":
        service = ServiceTime(mean_min=CONVENTIONAL_SERVICE_MIN)
        turnover = Turnover()
    else:
        raise InputError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})", location="kind")
    return replace(Scenario(kind=kind, units=units, service=service, turnover=turnover), **changes)


@dataclass(frozen=True)
class WaitStats:
    """Minutes from arrival to the start of service."""

    count: int
    mean_min: float
    p50_min: float
    p90_min: float
    max_min: float

    @classmethod
    def of(cls, waits: np.ndarray) -> WaitStats:
        if waits.size == 0:
            return cls(0, 0.0, 0.0, 0.0, 0.0)
        return cls(
            count=int(waits.size),
            mean_min=float(waits.mean()),
            p50_min=float(np.percentile(waits, 50)),
            p90_min=float(np.percentile(waits, 90)),
            max_min=float(waits.max()),
        )


@dataclass(frozen=True)
class HourStats:
    """One hour of the day (from opening; hours past closing are overtime), averaged over days."""

    start_min: int
    arrived: float
    served: float
    served_per_unit: float
    wait_mean_min: float
    wait_p90_min: float
    queue_mean: float
    queue_max: int
    utilisation: float
    after_close: bool


@dataclass(frozen=True)
class Visit:
    """One person's passage through the clinic on simulated day ``day``."""

    day: int
    arrived_min: float
    started_min: float | None
    finished_min: float | None
    unit: int | None
    booked: bool

    @property
    def wait_min(self) -> float | None:
        return None if self.started_min is None else self.started_min - self.arrived_min


@dataclass(frozen=True)
class SimulationResult:
    """What a planner reads: throughput, waits, queue and utilisation, averaged over the days.

    ``throughput_per_unit_hour`` counts people whose service ended within opening hours;
    ``utilisation`` is the share of the units' opening time spent serving, ``turnover_share``
    the share spent in turnover; ``observed_min`` the minutes from opening until the queue last
    emptied (at the latest the last start of a service), averaged over the days, over which
    ``queue_mean`` is taken; ``queue_by_minute`` is the mean queue (people waiting, not in
    service) at each minute from opening to the last departure of any day.
    """

    scenario: Scenario
    seed: int
    days: int
    arrived: float
    served: float
    unserved: float
    throughput_per_unit_hour: float
    service_mean_min: float
    waits: WaitStats
    queue_mean: float
    queue_max: int
    utilisation: float
    turnover_share: float
    staff_utilisation: float
    overtime_min: float
    observed_min: float
    hours: tuple[HourStats, ...]
    queue_by_minute: tuple[float, ...]
    visits: tuple[Visit, ...] = field(repr=False)

    def to_dict(self, *, with_visits: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_visits:
            data.pop("visits")
        return data


# --- the model --------------------------------------------------------------------------------


@dataclass
class _Day:
    arrived: np.ndarray
    booked: np.ndarray
    started: np.ndarray
    finished: np.ndarray
    unit: np.ndarray
    busy: list[tuple[float, float]]  # service intervals
    turnover: list[tuple[float, float]]
    queue_changes: list[tuple[float, int]]
    staff_minutes: float


def _arrivals(scenario: Scenario, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Arrival times (sorted) and whether each was booked."""
    times: list[np.ndarray] = []
    for hour in range(scenario.opening_hours):
        start = scenario.open_min + 60 * hour
        end = min(start + 60, scenario.close_min)
        rate = scenario.rate_in_hour(hour)
        count = rng.poisson(rate * (end - start) / 60)
        times.append(rng.uniform(start, end, count))
    walk_ins = np.concatenate(times) if times else np.empty(0)
    booked = np.asarray(scenario.bookings_min, dtype=float)
    if booked.size and scenario.punctuality_sd_min > 0:
        booked = booked + rng.normal(0, scenario.punctuality_sd_min, booked.size)
        # Nobody is let in before opening or after closing.
        booked = np.clip(booked, scenario.open_min, np.nextafter(scenario.close_min, 0))
    all_times = np.concatenate([walk_ins, booked])
    is_booked = np.concatenate([np.zeros(walk_ins.size, bool), np.ones(booked.size, bool)])
    order = np.argsort(all_times, kind="stable")
    return all_times[order], is_booked[order]


def _simulate_day(
    scenario: Scenario, arrivals_rng: np.random.Generator, service_rng: np.random.Generator
) -> _Day:
    arrived, booked = _arrivals(scenario, arrivals_rng)
    n = arrived.size
    service = scenario.service.sample(service_rng, n)
    started = np.full(n, np.nan)
    finished = np.full(n, np.nan)
    unit_of = np.full(n, -1)
    busy: list[tuple[float, float]] = []
    turnover: list[tuple[float, float]] = []
    queue_changes: list[tuple[float, int]] = []

    env = simpy.Environment(initial_time=scenario.open_min)
    units = simpy.Store(env)
    units.items.extend(range(scenario.units))
    hours = scenario.opening_hours
    max_staff = max(scenario.staff_in_hour(h) for h in range(hours))
    staff = simpy.PriorityResource(env, capacity=max_staff)
    closing = env.timeout(scenario.close_min - scenario.open_min)
    turnover_min = scenario.turnover.total_min

    def person(i: int) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(arrived[i] - env.now)
        queue_changes.append((env.now, 1))
        get = units.get()
        if scenario.serve_after_close:
            yield get
        else:
            yield get | closing
            if not get.triggered:
                get.cancel()
                queue_changes.append((env.now, -1))
                return
        unit = cast(int, get.value)
        request = staff.request(priority=1)
        if scenario.serve_after_close:
            yield request
        else:
            yield request | closing
            if not request.triggered:
                request.cancel()
                units.put(unit)
                queue_changes.append((env.now, -1))
                return
        queue_changes.append((env.now, -1))
        started[i] = env.now
        unit_of[i] = unit
        yield env.timeout(service[i])
        finished[i] = env.now
        busy.append((started[i], env.now))
        staff.release(request)
        env.process(clean(unit))

    def clean(unit: int) -> Generator[simpy.Event, Any, None]:
        if turnover_min > 0:
            begun = env.now
            yield env.timeout(turnover_min)
            turnover.append((begun, env.now))
        units.put(unit)

    # Staff off duty: a high-priority holder takes each missing slot once its staff member
    # finishes the person in hand, and gives it back when the hour's staff is back up.
    off_duty: list[simpy.Event] = []

    def off(stop: simpy.Event) -> Generator[simpy.Event, Any, None]:
        with staff.request(priority=0) as request:
            yield request | stop
            if not stop.triggered:
                yield stop

    def roster() -> Generator[simpy.Event, Any, None]:
        for hour in range(hours):
            wanted = max_staff - scenario.staff_in_hour(hour)
            while len(off_duty) > wanted:
                off_duty.pop().succeed()
            while len(off_duty) < wanted:
                stop = env.event()
                off_duty.append(stop)
                env.process(off(stop))
            if hour + 1 < hours:
                yield env.timeout(60)

    env.process(roster())
    for i in range(n):
        env.process(person(i))
    env.run()
    staff_minutes = sum(
        scenario.staff_in_hour(h)
        * (min(scenario.open_min + 60 * (h + 1), scenario.close_min) - scenario.open_min - 60 * h)
        for h in range(hours)
    )
    return _Day(
        arrived, booked, started, finished, unit_of, busy, turnover, queue_changes, staff_minutes
    )


def simulate(scenario: Scenario, *, seed: int = 0, days: int = 1) -> SimulationResult:
    """Run ``days`` independent days of ``scenario`` and summarise them.

    Reproducible: the same scenario, seed and number of days give the same result.
    """
    scenario.validate()
    if days < 1:
        raise InputError("needs at least 1 day", location="days")
    if seed < 0:
        raise InputError("a seed is a non-negative integer", location="seed")
    results = []
    for child in np.random.SeedSequence(seed).spawn(days):
        arrivals_seq, service_seq = child.spawn(2)
        results.append(
            _simulate_day(
                scenario,
                np.random.default_rng(arrivals_seq),
                np.random.default_rng(service_seq),
            )
        )
    return _summarise(scenario, seed, results)


# --- summaries --------------------------------------------------------------------------------


def _overlap(intervals: Sequence[tuple[float, float]], start: float, end: float) -> float:
    return float(sum(max(0.0, min(b, end) - max(a, start)) for a, b in intervals))


def _queue_steps(changes: list[tuple[float, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Times and the queue length from each time on (departures before arrivals at ties)."""
    if not changes:
        return np.array([0.0]), np.array([0])
    ordered = sorted(changes, key=lambda c: (c[0], c[1]))
    times = np.array([c[0] for c in ordered])
    lengths = np.cumsum([c[1] for c in ordered])
    return times, lengths


def _queue_area(times: np.ndarray, lengths: np.ndarray, start: float, end: float) -> float:
    """Integral of the queue length over [start, end) (person-minutes)."""
    if end <= start or times.size == 0:
        return 0.0
    edges = np.append(times, np.inf)
    lo = np.clip(edges[:-1], start, end)
    hi = np.clip(edges[1:], start, end)
    return float(np.sum(lengths * (hi - lo)))


def _queue_max(times: np.ndarray, lengths: np.ndarray, start: float, end: float) -> int:
    before = np.searchsorted(times, start, side="right") - 1
    inside = (times >= start) & (times < end)
    values = list(lengths[inside])
    if before >= 0:
        values.append(lengths[before])
    return int(max(values, default=0))


def _summarise(scenario: Scenario, seed: int, days: list[_Day]) -> SimulationResult:
    n_days = len(days)
    units = scenario.units
    open_min, close_min = scenario.open_min, scenario.close_min
    ends = [
        float(np.nanmax(d.finished)) if np.isfinite(d.finished).any() else close_min for d in days
    ]
    last_start = [
        float(np.nanmax(d.started)) if np.isfinite(d.started).any() else open_min for d in days
    ]
    horizon = max([close_min, *ends])
    n_buckets = math.ceil((horizon - open_min) / 60)
    steps = [_queue_steps(d.queue_changes) for d in days]

    hours: list[HourStats] = []
    for b in range(n_buckets):
        start = open_min + 60 * b
        end = min(start + 60, close_min) if start < close_min else start + 60
        arrived = sum(int(((d.arrived >= start) & (d.arrived < end)).sum()) for d in days)
        served = sum(int(((d.finished >= start) & (d.finished < end)).sum()) for d in days)
        waits = np.concatenate(
            [
                (d.started - d.arrived)[(d.arrived >= start) & (d.arrived < end)]
                for d in days
                if d.arrived.size
            ]
            or [np.empty(0)]
        )
        waits = waits[np.isfinite(waits)]
        stats = WaitStats.of(waits)
        minutes = end - start
        busy = sum(_overlap(d.busy, start, end) for d in days)
        hours.append(
            HourStats(
                start_min=start,
                arrived=arrived / n_days,
                served=served / n_days,
                served_per_unit=served / n_days / units / (minutes / 60),
                wait_mean_min=stats.mean_min,
                wait_p90_min=stats.p90_min,
                queue_mean=sum(_queue_area(t, q, start, end) for t, q in steps) / n_days / minutes,
                queue_max=max(_queue_max(t, q, start, end) for t, q in steps),
                utilisation=busy / n_days / units / minutes,
                after_close=start >= close_min,
            )
        )

    all_waits = np.concatenate([d.started - d.arrived for d in days])
    served_waits = all_waits[np.isfinite(all_waits)]
    services = np.concatenate([d.finished - d.started for d in days])
    services = services[np.isfinite(services)]
    open_minutes = scenario.open_duration_min
    in_hours = sum(int(((d.finished >= open_min) & (d.finished < close_min)).sum()) for d in days)
    busy_open = sum(_overlap(d.busy, open_min, close_min) for d in days)
    turnover_open = sum(_overlap(d.turnover, open_min, close_min) for d in days)
    staff_busy = sum(_overlap(d.busy, open_min, close_min) for d in days)
    observed = [
        max(close_min, last) - open_min for last in last_start
    ]  # the queue is empty after the last start (or at closing when people are sent away)
    queue_area = sum(
        _queue_area(t, q, open_min, open_min + obs)
        for (t, q), obs in zip(steps, observed, strict=True)
    )

    minutes_axis = np.arange(open_min, math.ceil(horizon) + 1)
    by_minute = np.zeros(minutes_axis.size)
    for times, lengths in steps:
        index = np.searchsorted(times, minutes_axis, side="right") - 1
        by_minute += np.where(index >= 0, lengths[np.maximum(index, 0)], 0)
    by_minute /= n_days

    visits = tuple(
        Visit(
            day=k,
            arrived_min=float(d.arrived[i]),
            started_min=None if math.isnan(d.started[i]) else float(d.started[i]),
            finished_min=None if math.isnan(d.finished[i]) else float(d.finished[i]),
            unit=None if d.unit[i] < 0 else int(d.unit[i]),
            booked=bool(d.booked[i]),
        )
        for k, d in enumerate(days)
        for i in range(d.arrived.size)
    )
    arrived_total = sum(d.arrived.size for d in days)
    return SimulationResult(
        scenario=scenario,
        seed=seed,
        days=n_days,
        arrived=arrived_total / n_days,
        served=served_waits.size / n_days,
        unserved=(arrived_total - served_waits.size) / n_days,
        throughput_per_unit_hour=in_hours / n_days / units / (open_minutes / 60),
        service_mean_min=float(services.mean()) if services.size else 0.0,
        waits=WaitStats.of(served_waits),
        queue_mean=queue_area / sum(observed),
        queue_max=max(int(q.max()) for _, q in steps),
        utilisation=busy_open / n_days / units / open_minutes,
        turnover_share=turnover_open / n_days / units / open_minutes,
        staff_utilisation=staff_busy / sum(d.staff_minutes for d in days),
        overtime_min=sum(max(0.0, end - close_min) for end in ends) / n_days,
        hours=tuple(hours),
        queue_by_minute=tuple(float(v) for v in by_minute),
        observed_min=sum(observed) / n_days,
        visits=visits,
    )


# --- configuration from plain data (a JSON or TOML file, the command's options) --------------

_TOP_KEYS = {
    "kind",
    "units",
    "hours",
    "arrivals_per_hour",
    "bookings",
    "punctuality_sd_min",
    "staff",
    "service",
    "turnover",
    "serve_after_close",
    "seed",
    "days",
}
_SERVICE_KEYS = {"distribution", "mean_min", "cv", "low_min", "high_min"}
_TURNOVER_KEYS = {"ventilation_min", "disinfection_min"}


def parse_clock(value: str, location: str, *, allow_midnight_end: bool = False) -> int:
    """Minutes after midnight of ``HH:MM``."""
    try:
        hh, mm = value.strip().split(":")
        hour, minute = int(hh), int(mm)
    except ValueError:
        raise InputError(f"{value!r} is not a time (HH:MM)", location=location) from None
    if (hour, minute) == (24, 0) and allow_midnight_end:
        return _DAY_MIN
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise InputError(f"{value!r} is not a time (HH:MM)", location=location)
    return 60 * hour + minute


def parse_hours(value: str, location: str = "hours") -> tuple[int, int]:
    """Opening and closing minutes of ``HH:MM-HH:MM``."""
    parts = value.split("-")
    if len(parts) != 2:
        raise InputError(f"{value!r} is not opening hours (HH:MM-HH:MM)", location=location)
    opening = parse_clock(parts[0], location)
    closing = parse_clock(parts[1], location, allow_midnight_end=True)
    if closing <= opening:
        raise InputError(f"{value!r}: closing must come after opening", location=location)
    return opening, closing


def format_clock(minutes: float) -> str:
    total = math.floor(minutes)
    return f"{total // 60:02d}:{total % 60:02d}"


def _number(value: Any, location: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{value!r} is not a number", location=location)
    return float(value)


def _integer(value: Any, location: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{value!r} is not a whole number", location=location)
    return value


def _numbers(value: Any, location: str) -> tuple[float, ...]:
    if isinstance(value, list | tuple):
        return tuple(_number(v, f"{location}[{i}]") for i, v in enumerate(value))
    return (_number(value, location),)


def _check_positive(value: float, location: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(f"{value!r} must be a number above 0", location=location)


def _check_non_negative(value: float, location: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise InputError(f"{value!r} must be a number, 0 or more", location=location)


def _unknown(data: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for key in data:
        if key not in known:
            raise InputError(
                f"unknown setting (known: {', '.join(sorted(known))})", location=f"{prefix}{key}"
            )


def scenario_from_mapping(data: Mapping[str, Any]) -> tuple[Scenario, int, int]:
    """A validated scenario, the seed and the number of days from plain data.

    Keys (all optional but ``kind``, ``units`` and some arrivals): ``kind``, ``units``,
    ``hours`` ("09:00-18:00"), ``arrivals_per_hour`` (a number or one per opening hour),
    ``bookings`` (["09:00", ...]), ``punctuality_sd_min``, ``staff`` (a number or one per hour),
    ``service`` {distribution, mean_min, cv, low_min, high_min}, ``turnover``
    {ventilation_min, disinfection_min}, ``serve_after_close``, ``seed``, ``days``. Settings left
    out take the kind's published defaults. Errors name the key.
    """
    _unknown(data, _TOP_KEYS, "")
    kind = data.get("kind")
    if kind not in KINDS:
        raise InputError(f"{kind!r} is not a kind (one of {', '.join(KINDS)})", location="kind")
    units = _integer(data.get("units"), "units")
    scenario = default_scenario(cast(Kind, kind), units)
    changes: dict[str, Any] = {}
    if "hours" in data:
        if not isinstance(data["hours"], str):
            raise InputError(f"{data['hours']!r} is not HH:MM-HH:MM", location="hours")
        changes["open_min"], changes["close_min"] = parse_hours(data["hours"])
    if "arrivals_per_hour" in data:
        changes["arrivals_per_hour"] = _numbers(data["arrivals_per_hour"], "arrivals_per_hour")
    if "bookings" in data:
        bookings = data["bookings"]
        if not isinstance(bookings, list):
            raise InputError("a list of times (HH:MM)", location="bookings")
        changes["bookings_min"] = tuple(
            float(parse_clock(str(b), f"bookings[{i}]")) for i, b in enumerate(bookings)
        )
    if "punctuality_sd_min" in data:
        changes["punctuality_sd_min"] = _number(data["punctuality_sd_min"], "punctuality_sd_min")
    if "staff" in data:
        raw = data["staff"]
        values = raw if isinstance(raw, list) else [raw]
        changes["staff"] = tuple(_integer(v, "staff") for v in values)
    if "serve_after_close" in data:
        if not isinstance(data["serve_after_close"], bool):
            raise InputError("true or false", location="serve_after_close")
        changes["serve_after_close"] = data["serve_after_close"]
    if "service" in data:
        service = data["service"]
        if not isinstance(service, Mapping):
            raise InputError("a table of settings", location="service")
        _unknown(service, _SERVICE_KEYS, "service.")
        fields: dict[str, Any] = {
            k: (v if k == "distribution" else _number(v, f"service.{k}"))
            for k, v in service.items()
        }
        changes["service"] = replace(scenario.service, **fields)
    if "turnover" in data:
        turnover = data["turnover"]
        if not isinstance(turnover, Mapping):
            raise InputError("a table of settings", location="turnover")
        _unknown(turnover, _TURNOVER_KEYS, "turnover.")
        fields = {k: _number(v, f"turnover.{k}") for k, v in turnover.items()}
        changes["turnover"] = replace(scenario.turnover, **fields)
    scenario = replace(scenario, **changes)
    scenario.validate()
    seed = _integer(data.get("seed", 0), "seed")
    days = _integer(data.get("days", 1), "days")
    if seed < 0:
        raise InputError("a seed is a non-negative integer", location="seed")
    if days < 1:
        raise InputError("needs at least 1 day", location="days")
    return scenario, seed, days
