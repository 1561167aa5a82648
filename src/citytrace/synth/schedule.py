"""Daily routines: which places people visit, when, and how they travel between them.

Each day has the same eleven slots (home, morning errand, work, lunch, ..., home). Rules per
occupation and weekday decide which slots are used and where; a timeline pass then places them
in time with travel between them (walking, or a subway or bus leg that is itself a visit).
All of it is vectorised over (people, days); loops run over slots and rules only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from citytrace.geo import haversine_m
from citytrace.synth.kinds import BUS, CODE, HOME, SUBWAY
from citytrace.synth.people import AT_HOME, FAV_SLICE, OFFICE_WORKER, STUDENT, Population
from citytrace.synth.rng import normal_from_uniform
from citytrace.synth.world import World

N_SLOTS = 11
HOME_AM, AM_ERRAND, MAIN_AM, LUNCH, AFTER_LUNCH, MAIN_PM = 0, 1, 2, 3, 4, 5
EVE_WORK_1, EVE_WORK_2, EVE_HOME_1, EVE_HOME_2, HOME_PM = 6, 7, 8, 9, 10

# Fields of each slot's block of uniforms: schedule, then evidence of the place visit, then
# evidence of the transit leg that leads to it.
F_ACTIVE, F_VENUE, F_EXPLORE, F_DUR, F_ANCHOR, F_WAIT, F_MODE = 0, 1, 2, 3, 5, 7, 8
F_CARD, F_CARD_AT, F_AMOUNT = 9, 10, 11
F_CHECKIN, F_CHECKIN_AT, F_CHECKOUT, F_CHECKOUT_AT = 12, 13, 14, 15
F_CELL, F_CELL_N, F_CELL_SPLIT, F_CELL_SITE, F_CELL_SINGLE = 16, 17, 18, 20, 23
F_T_CARD, F_T_CELL_BOARD, F_T_CELL_ALIGHT, F_T_SITE = 24, 25, 26, 27
SLOT_FIELDS = 32

WALK_M_PER_MIN = 75.0  # 4.5 km/h
DETOUR = 1.3  # street distance over straight-line distance
WALK_MAX_M = 1000.0  # farther trips take transit when it is faster
RIDE_M_PER_MIN = np.array([500.0, 300.0])  # subway 30 km/h, bus 18 km/h, stops included
MAX_WAIT_MIN = np.array([6.0, 10.0])
MIN_ANCHORED_MIN = 30.0  # shortest stay at work when arriving after the planned end
END_MARGIN_MIN = 5.0  # everyone is home this long before midnight


@dataclass
class Plan:
    """Planned slots, arrays of shape (people, days, slots)."""

    active: NDArray[np.bool_]
    kind: NDArray[np.int64]
    venue: NDArray[np.int64]  # -1 for home
    anchor: NDArray[np.float64]  # planned end, minutes after local midnight; NaN: use dur
    dur: NDArray[np.float64]  # minutes


@dataclass(frozen=True)
class Travel:
    """A trip between two points: walking, or walk + transit leg + walk (minutes)."""

    transit: NDArray[np.bool_]
    board: NDArray[np.int64]
    alight: NDArray[np.int64]
    walk1: NDArray[np.float64]
    ride: NDArray[np.float64]  # waiting included
    total: NDArray[np.float64]


@dataclass(frozen=True)
class VisitRows:
    """Ground-truth visits of a batch, ordered by person and time."""

    batch_index: NDArray[np.int64]  # row of the person in the batch
    person_id: NDArray[np.int64]
    kind: NDArray[np.int64]
    venue: NDArray[np.int64]  # -1 for home
    to_venue: NDArray[np.int64]  # alighting stop of a transit leg, else -1
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    started_s: NDArray[np.int64]  # seconds since the Unix epoch (UTC)
    finished_s: NDArray[np.int64]
    slot_ref: NDArray[np.int64]  # flat (person, day, slot) index into the slot uniforms
    is_transit: NDArray[np.bool_]


def travel(
    world: World,
    lat0: NDArray[np.float64],
    lon0: NDArray[np.float64],
    lat1: NDArray[np.float64],
    lon1: NDArray[np.float64],
    mode: NDArray[np.int64],
    u_wait: NDArray[np.float64],
) -> Travel:
    """Trips from (lat0, lon0) to (lat1, lon1); transit (``mode`` 0 subway, 1 bus) when the
    trip is longer than :data:`WALK_MAX_M` and riding is faster than walking."""
    walk = haversine_m(lat0, lon0, lat1, lon1) * DETOUR / WALK_M_PER_MIN
    board = world.stop_near(mode, lat0, lon0)
    alight = world.stop_near(mode, lat1, lon1)
    walk1 = haversine_m(lat0, lon0, world.lat[board], world.lon[board]) * DETOUR / WALK_M_PER_MIN
    walk2 = haversine_m(world.lat[alight], world.lon[alight], lat1, lon1) * DETOUR / WALK_M_PER_MIN
    ride_m = haversine_m(world.lat[board], world.lon[board], world.lat[alight], world.lon[alight])
    ride = 1.0 + u_wait * MAX_WAIT_MIN[mode] + ride_m * DETOUR / RIDE_M_PER_MIN[mode]
    by_transit = walk1 + ride + walk2
    transit = (
        (walk * WALK_M_PER_MIN / DETOUR > WALK_MAX_M) & (board != alight) & (by_transit < walk)
    )
    return Travel(
        transit=transit,
        board=board,
        alight=alight,
        walk1=walk1,
        ride=ride,
        total=np.where(transit, by_transit, walk),
    )


def day_types(start_date: date, n_days: int) -> NDArray[np.int64]:
    """ISO weekday minus one (Monday 0 .. Sunday 6) of each day."""
    return np.array([(start_date + timedelta(days=d)).weekday() for d in range(n_days)])


@dataclass(frozen=True)
class Outing:
    """A kind of visit in a routine.

    Attributes
    ----------
    kind
        Kind of venue.
    near
        Whose favourites: those near ``"home"`` or near ``"work"`` (school for students).
    explore
        Probability of going somewhere new instead of a favourite.
    scope
        Where new places are sought: near ``"home"``, near ``"work"``, or the whole ``"city"``.
    dur_factor, dur_sigma, dur_min, dur_max
        Stay length: the venue's typical dwell times ``dur_factor``, log-normally spread by
        ``dur_sigma``, clipped to [``dur_min``, ``dur_max``] minutes.
    """

    kind: str
    near: str
    explore: float
    scope: str
    dur_factor: float
    dur_sigma: float
    dur_min: float
    dur_max: float


MORNING_COFFEE = Outing("cafe", "work", 0.3, "work", 0.25, 0.4, 3, 20)
CLINIC = Outing("hospital", "home", 0.2, "home", 1.0, 0.4, 15, 120)
PHARMACY = Outing("pharmacy", "home", 0.1, "home", 1.0, 0.3, 3, 15)
SUNDAY_SERVICE = Outing("church", "home", 0.05, "home", 1.0, 0.2, 60, 200)
WEDNESDAY_SERVICE = Outing("church", "home", 0.05, "home", 0.8, 0.2, 50, 120)
WORK_LUNCH = Outing("restaurant", "work", 0.3, "work", 0.9, 0.25, 20, 80)
WORK_LUNCH_CAFE = Outing("cafe", "work", 0.3, "work", 0.8, 0.3, 15, 60)
AFTER_LUNCH_COFFEE = Outing("cafe", "work", 0.3, "work", 0.5, 0.3, 8, 45)
TEAM_DINNER = Outing("restaurant", "work", 0.6, "work", 1.8, 0.25, 50, 150)
SECOND_ROUND = Outing("karaoke", "work", 0.5, "work", 1.0, 0.3, 40, 150)
AFTER_SCHOOL_PC = Outing("pc_bang", "work", 0.2, "work", 1.0, 0.4, 30, 240)
AFTER_SCHOOL_KARAOKE = Outing("karaoke", "work", 0.3, "work", 0.9, 0.3, 30, 120)
AFTER_SCHOOL_CAFE = Outing("cafe", "work", 0.4, "work", 1.0, 0.3, 20, 90)
AFTER_SCHOOL_SNACK = Outing("restaurant", "work", 0.4, "work", 0.6, 0.3, 15, 60)
LOCAL_LUNCH = Outing("restaurant", "home", 0.3, "home", 1.0, 0.3, 25, 100)
LOCAL_CAFE = Outing("cafe", "home", 0.3, "home", 1.1, 0.35, 20, 120)
LOCAL_DINNER = Outing("restaurant", "home", 0.4, "home", 1.3, 0.3, 30, 150)
LOCAL_KARAOKE = Outing("karaoke", "home", 0.4, "home", 1.0, 0.3, 40, 150)
OUTING_LUNCH = Outing("restaurant", "home", 0.35, "city", 1.2, 0.3, 30, 120)
OUTING_CAFE = Outing("cafe", "home", 0.5, "city", 1.2, 0.3, 20, 120)
OUTING_KARAOKE = Outing("karaoke", "home", 0.4, "city", 1.0, 0.3, 40, 180)
GROCERIES = Outing("mart", "home", 0.2, "home", 1.2, 0.4, 10, 80)
QUICK_SHOP = Outing("mart", "home", 0.2, "home", 1.0, 0.4, 8, 60)
PC_BANG = Outing("pc_bang", "home", 0.2, "home", 1.0, 0.4, 30, 300)
WORKOUT = Outing("gym", "home", 0.05, "home", 1.0, 0.2, 40, 120)


def plan_days(
    world: World, pop: Population, weekday: NDArray[np.int64], u: NDArray[np.float64]
) -> Plan:
    """Plan every slot of every day from the slot uniforms ``u`` (people, days, slots, fields).

    Within a slot the rules below are alternatives whose probabilities add up; each returns
    whether it was taken.
    """
    n, n_days = pop.person_id.size, weekday.size
    shape = (n, n_days, N_SLOTS)
    plan = Plan(
        active=np.zeros(shape, dtype=bool),
        kind=np.full(shape, HOME, dtype=np.int64),
        venue=np.full(shape, -1, dtype=np.int64),
        anchor=np.full(shape, np.nan),
        dur=np.zeros(shape),
    )
    wd = np.broadcast_to(weekday[None, :] < 5, (n, n_days))
    sat = np.broadcast_to(weekday[None, :] == 5, (n, n_days))
    sun = np.broadcast_to(weekday[None, :] == 6, (n, n_days))
    weekend = sat | sun
    wed = weekday[None, :] == 2
    fri = weekday[None, :] == 4
    occ = pop.occupation[:, None]
    vacation = (occ != AT_HOME) & wd & (u[:, :, HOME_AM, F_ACTIVE] < 0.03)
    occ_day = np.where(vacation, AT_HOME, occ)
    work_day = wd & (occ_day == OFFICE_WORKER)
    school_day = wd & (occ_day == STUDENT)
    home_day = wd & (occ_day == AT_HOME)
    age = pop.age[:, None]
    gym = pop.gym_member[:, None]
    church = pop.churchgoer[:, None]
    gamer = pop.gamer[:, None]
    karaoke = pop.karaoke_lover[:, None]
    chronic = pop.chronic_patient[:, None]
    work = np.broadcast_to(pop.work[:, None], (n, n_days))
    work_kind = world.kind[np.maximum(work, 0)]
    has_work = work >= 0

    def rules(slot: int) -> tuple[_Rules, NDArray[np.float64]]:
        z = normal_from_uniform(u[:, :, slot, F_ANCHOR], u[:, :, slot, F_ANCHOR + 1])
        return _Rules(world, pop, plan, slot, u[:, :, slot]), z

    # Home in the morning, until leaving (minutes after midnight).
    _, z = rules(HOME_AM)
    zp = pop.leave_z[:, None]
    leave = np.select(
        [work_day, school_day & (age < 19), school_day, home_day, sat, sun & church],
        [
            np.clip(460 + 25 * zp + 15 * z, 360, 570),
            np.clip(470 + 10 * z, 430, 500),
            np.clip(540 + 45 * z, 450, 720),
            np.clip(570 + 60 * z, 420, 840),
            np.clip(630 + 60 * z, 480, 840),
            np.clip(590 + 20 * z, 540, 640),
        ],
        np.clip(660 + 60 * z, 480, 840),
    )
    plan.active[:, :, HOME_AM] = True
    plan.anchor[:, :, HOME_AM] = leave

    r, _ = rules(AM_ERRAND)
    r.go(work_day, 0.12, MORNING_COFFEE)
    doctor = r.go(home_day, np.where(chronic, 0.15, 0.03), CLINIC)
    doctor |= r.go(sat, np.where(chronic, 0.1, 0.03), CLINIC)
    service = r.go(sun, np.where(church, 0.85, 0.0), SUNDAY_SERVICE)

    r, z = rules(MAIN_AM)
    school_end = np.select([age < 13, age < 16, age < 19], [820.0, 940.0, 1000.0], 960 + 60 * z)
    r.work(work_day & has_work, work, work_kind, np.clip(715 + 10 * z, 690, 740))
    r.work(school_day & has_work, work, work_kind, np.clip(school_end + 20 * z, 780, 1140))
    r.go(home_day | sat, np.where(doctor, 0.7, 0.03), PHARMACY)
    r.go(sun, np.where(service, 0.5, 0.35), OUTING_LUNCH)

    r, _ = rules(LUNCH)
    lunch = r.go(work_day, 0.72, WORK_LUNCH)
    r.go(work_day, 0.13, WORK_LUNCH_CAFE)
    r.go(home_day, 0.25, LOCAL_LUNCH)
    r.go(sat, 0.5, OUTING_LUNCH)
    r.go(sun, 0.3, LOCAL_CAFE)

    r, _ = rules(AFTER_LUNCH)
    r.go(work_day & lunch, 0.25, AFTER_LUNCH_COFFEE)
    r.go(home_day, 0.2, LOCAL_CAFE)
    r.go(sat, 0.35, OUTING_CAFE)
    r.go(sun, 0.3, GROCERIES)

    r, z = rules(MAIN_PM)
    overtime = np.where(u[:, :, MAIN_PM, F_EXPLORE] < 0.1, 60 + 120 * u[:, :, MAIN_PM, F_VENUE], 0)
    end = np.clip(1110 + 35 * pop.end_z[:, None] + 25 * z + overtime, 960, 1320)
    r.work(work_day & has_work, work, work_kind, end)
    r.go(home_day, 0.35, GROCERIES)
    sunday_less = np.where(sun, 0.6, 1.0)
    r.go(weekend, np.where(karaoke, 0.4, 0.04) * sunday_less, OUTING_KARAOKE)
    r.go(weekend, np.where(gamer, 0.5, 0.02) * sunday_less, PC_BANG)
    r.go(weekend, np.where(gym, 0.35, 0.0) * sunday_less, WORKOUT)

    r, _ = rules(EVE_WORK_1)
    dinner = r.go(work_day, np.where(fri, 0.3, 0.1), TEAM_DINNER)
    r.go(school_day, np.where(gamer, 0.35, 0.03), AFTER_SCHOOL_PC)
    r.go(school_day, np.where(age >= 13, 0.08, 0.01), AFTER_SCHOOL_KARAOKE)
    r.go(school_day, np.where(age >= 16, 0.1, 0.0), AFTER_SCHOOL_CAFE)
    r.go(school_day, 0.1, AFTER_SCHOOL_SNACK)
    r.go(sat, 0.4, GROCERIES)

    r, _ = rules(EVE_WORK_2)
    r.go(dinner, 0.35, SECOND_ROUND)

    r, _ = rules(EVE_HOME_1)
    r.go(wd, np.where(gym, np.where(school_day, 0.3, 0.5), 0.0), WORKOUT)
    r.go(wd, np.where(gamer, np.select([school_day, home_day], [0.15, 0.2], 0.3), 0.0), PC_BANG)
    r.go(wd & wed, np.where(church, 0.3, 0.0), WEDNESDAY_SERVICE)
    supper = r.go(weekend, np.where(sat, 0.2, 0.15), LOCAL_DINNER)

    r, _ = rules(EVE_HOME_2)
    r.go(wd, np.where(home_day, 0.1, 0.15), QUICK_SHOP)
    r.go(wd, 0.03, PHARMACY)
    r.go(wd & ~school_day, np.where(home_day, 0.05, 0.06), LOCAL_DINNER)
    r.go(sat & supper, np.where(karaoke, 0.3, 0.03), LOCAL_KARAOKE)
    r.go(sat & ~supper, np.where(gamer, 0.2, 0.0), PC_BANG)
    r.go(sun, 0.1, QUICK_SHOP)

    plan.active[:, :, HOME_PM] = True
    return plan


class _Rules:
    """Rules of one slot: each takes its share of the slot's ``F_ACTIVE`` uniform, so the rules
    of a slot exclude each other and their probabilities add up."""

    def __init__(
        self, world: World, pop: Population, plan: Plan, slot: int, u: NDArray[np.float64]
    ) -> None:
        self.world = world
        self.pop = pop
        self.plan = plan
        self.slot = slot
        self.u = u
        self.acc = np.zeros(u.shape[:2])
        self.z_dur = normal_from_uniform(u[:, :, F_DUR], u[:, :, F_DUR + 1])

    def _take(self, who: NDArray[np.bool_], prob: float | NDArray[np.float64]) -> NDArray[np.bool_]:
        p = np.where(who, prob, 0.0)
        ua = self.u[:, :, F_ACTIVE]
        hit = (ua >= self.acc) & (ua < self.acc + p)
        self.acc = self.acc + p
        return np.asarray(hit, dtype=bool)

    def _set(
        self, hit: NDArray[np.bool_], kind: NDArray[np.int64] | int, venue: NDArray[np.int64]
    ) -> None:
        s = self.slot
        self.plan.active[:, :, s] |= hit
        self.plan.kind[:, :, s] = np.where(hit, kind, self.plan.kind[:, :, s])
        self.plan.venue[:, :, s] = np.where(hit, venue, self.plan.venue[:, :, s])

    def work(
        self,
        who: NDArray[np.bool_],
        venue: NDArray[np.int64],
        kind: NDArray[np.int64],
        planned_end: NDArray[np.float64],
    ) -> NDArray[np.bool_]:
        """At the workplace or school until ``planned_end`` (minutes after midnight)."""
        hit = self._take(who, 1.0)
        self._set(hit, kind, venue)
        self.plan.anchor[:, :, self.slot] = np.where(
            hit, planned_end, self.plan.anchor[:, :, self.slot]
        )
        return hit

    def go(
        self, who: NDArray[np.bool_], prob: float | NDArray[np.float64], outing: Outing
    ) -> NDArray[np.bool_]:
        """With probability ``prob`` where ``who``: the outing, to a favourite or a new place."""
        hit = self._take(who, prob)
        if not hit.any():
            return hit
        world, pop = self.world, self.pop
        kind = CODE[outing.kind]
        start, count = FAV_SLICE[(outing.kind, outing.near)]
        uv = self.u[:, :, F_VENUE]
        j = start + np.minimum((uv * count).astype(np.int64), count - 1)
        favourite = pop.favourites[np.arange(uv.shape[0])[:, None], j]
        nb: NDArray[np.int64] | None = None
        if outing.scope == "city":
            district = np.full(uv.shape, -1, dtype=np.int64)
        else:
            near_work = outing.scope == "work"
            d_arr = pop.anchor_district if near_work else pop.home_district
            n_arr = pop.anchor_neighbourhood if near_work else pop.home_neighbourhood
            district = np.broadcast_to(d_arr[:, None], uv.shape)
            nb = np.broadcast_to(n_arr[:, None], uv.shape)
        explored = world.choose(kind, district, nb, uv)
        venue = np.where(self.u[:, :, F_EXPLORE] < outing.explore, explored, favourite)
        dur = world.dwell_min[venue] * outing.dur_factor * np.exp(outing.dur_sigma * self.z_dur)
        self._set(hit, kind, venue)
        self.plan.dur[:, :, self.slot] = np.where(
            hit, np.clip(dur, outing.dur_min, outing.dur_max), self.plan.dur[:, :, self.slot]
        )
        return hit


def place_in_time(
    world: World,
    pop: Population,
    plan: Plan,
    u: NDArray[np.float64],
    midnights_s: NDArray[np.int64],
) -> VisitRows:
    """Put the planned slots in time, with travel, and return the ground-truth visits.

    Slots that would keep a person out past midnight (counting the trip home) are dropped.
    Consecutive stays at the same place (home overnight, work around a skipped lunch) merge.
    """
    n, n_days, n_slots = plan.active.shape
    day_len = np.broadcast_to(((midnights_s[1:] - midnights_s[:-1]) / 60.0)[None, :], (n, n_days))
    home_lat = np.broadcast_to(pop.home_lat[:, None], (n, n_days))
    home_lon = np.broadcast_to(pop.home_lon[:, None], (n, n_days))
    v = np.maximum(plan.venue, 0)
    at_home = plan.venue < 0
    p_lat = np.where(at_home, home_lat[:, :, None], world.lat[v])
    p_lon = np.where(at_home, home_lon[:, :, None], world.lon[v])
    mode_pref = np.broadcast_to(pop.mode[:, None], (n, n_days))
    shape = (n, n_days, n_slots)
    start = np.zeros(shape)
    end = np.zeros(shape)
    tr_on = np.zeros(shape, dtype=bool)
    tr_start = np.zeros(shape)
    tr_end = np.zeros(shape)
    tr_board = np.zeros(shape, dtype=np.int64)
    tr_alight = np.zeros(shape, dtype=np.int64)
    tr_mode = np.zeros(shape, dtype=np.int64)
    t = np.zeros((n, n_days))
    prev_lat, prev_lon = home_lat.copy(), home_lon.copy()
    for s in range(n_slots):
        a = plan.active[:, :, s].copy()
        lat1, lon1 = p_lat[:, :, s], p_lon[:, :, s]
        if s == HOME_AM:
            start[:, :, s] = 0.0
            end[:, :, s] = plan.anchor[:, :, s]
        else:
            last = s == n_slots - 1
            # The last trip home keeps the preferred mode, so the feasibility test below holds.
            switch = (u[:, :, s, F_MODE] < 0.15) & (not last)
            mode = np.where(switch, 1 - mode_pref, mode_pref)
            trip = travel(world, prev_lat, prev_lon, lat1, lon1, mode, u[:, :, s, F_WAIT])
            arrive = t + trip.total
            anchor = plan.anchor[:, :, s]
            fin = np.where(
                np.isnan(anchor),
                arrive + plan.dur[:, :, s],
                np.maximum(anchor, arrive + MIN_ANCHORED_MIN),
            )
            if last:
                fin = day_len
            else:
                back = travel(
                    world, lat1, lon1, home_lat, home_lon, mode_pref, np.ones((n, n_days))
                )
                a &= fin + back.total <= day_len - END_MARGIN_MIN
            tr_on[:, :, s] = a & trip.transit
            tr_start[:, :, s] = t + trip.walk1
            tr_end[:, :, s] = t + trip.walk1 + trip.ride
            tr_board[:, :, s] = trip.board
            tr_alight[:, :, s] = trip.alight
            tr_mode[:, :, s] = mode
            start[:, :, s] = arrive
            end[:, :, s] = fin
        plan.active[:, :, s] = a
        t = np.where(a, end[:, :, s], t)
        prev_lat = np.where(a, lat1, prev_lat)
        prev_lon = np.where(a, lon1, prev_lon)

    # Rows of (person, day, slot, [transit leg, place]) in time order; then keep the real ones.
    valid = np.stack([tr_on, plan.active], axis=-1)
    kind = np.stack([np.where(tr_mode == 0, SUBWAY, BUS), plan.kind], axis=-1)
    venue = np.stack([tr_board, plan.venue], axis=-1)
    to_venue = np.stack([tr_alight, np.full(shape, -1)], axis=-1)
    lat = np.stack([world.lat[tr_board], p_lat], axis=-1)
    lon = np.stack([world.lon[tr_board], p_lon], axis=-1)
    midnight = midnights_s[:-1][None, :, None, None]
    started = midnight + np.rint(np.stack([tr_start, start], axis=-1) * 60.0).astype(np.int64)
    finished = midnight + np.rint(np.stack([tr_end, end], axis=-1) * 60.0).astype(np.int64)
    flat = np.arange(n * n_days * n_slots, dtype=np.int64).reshape(shape)
    slot_ref = np.stack([flat, flat], axis=-1)
    batch_index = np.broadcast_to(np.arange(n)[:, None, None, None], valid.shape)
    is_transit = np.broadcast_to(np.array([True, False]), valid.shape)
    keep = valid.ravel()

    def pick(x: NDArray[np.generic]) -> NDArray[np.generic]:
        return np.ascontiguousarray(np.broadcast_to(x, valid.shape).ravel()[keep])

    b = pick(batch_index).astype(np.int64)
    rows = {
        "kind": pick(kind),
        "venue": pick(venue),
        "to_venue": pick(to_venue),
        "lat": pick(lat),
        "lon": pick(lon),
        "started": pick(started),
        "finished": pick(finished),
        "slot_ref": pick(slot_ref),
        "is_transit": pick(is_transit),
    }
    # Merge a stay into the previous row when it continues the same stay without a break.
    same = np.zeros(b.size, dtype=bool)
    same[1:] = (
        (b[1:] == b[:-1])
        & (rows["kind"][1:] == rows["kind"][:-1])
        & (rows["venue"][1:] == rows["venue"][:-1])
        & np.logical_not(rows["is_transit"][1:])
        & (rows["started"][1:] == rows["finished"][:-1])
    )
    first = np.flatnonzero(~same)
    last = np.r_[first[1:] - 1, b.size - 1]
    finished_s = rows["finished"][last]
    return VisitRows(
        batch_index=b[first],
        person_id=pop.person_id[b[first]],
        kind=rows["kind"][first].astype(np.int64),
        venue=rows["venue"][first].astype(np.int64),
        to_venue=rows["to_venue"][first].astype(np.int64),
        lat=rows["lat"][first].astype(np.float64),
        lon=rows["lon"][first].astype(np.float64),
        started_s=rows["started"][first].astype(np.int64),
        finished_s=finished_s.astype(np.int64),
        slot_ref=rows["slot_ref"][first].astype(np.int64),
        is_transit=rows["is_transit"][first].astype(bool),
    )
