"""Evidence people leave behind: card payments, cell sightings, check-ins and phone fixes.

Column names follow ``docs/evidence-formats.md``, plus ``person_id``. Every record derives from
the ground-truth visits and the person's own random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from citytrace.synth.config import EvidenceRates
from citytrace.synth.kinds import (
    AMOUNT_KRW,
    CARD_RATE,
    IS_CHECKIN,
    IS_FIXED_FARE,
    IS_INDOORS,
    KIND_ARRAY,
    PAY_AT,
    SUBWAY,
)
from citytrace.synth.rng import FIXES_STREAM, person_generator
from citytrace.synth.schedule import (
    F_AMOUNT,
    F_CARD,
    F_CARD_AT,
    F_CELL,
    F_CELL_N,
    F_CELL_SINGLE,
    F_CELL_SITE,
    F_CELL_SPLIT,
    F_CHECKIN,
    F_CHECKIN_AT,
    F_CHECKOUT,
    F_CHECKOUT_AT,
    F_T_CARD,
    F_T_CELL_ALIGHT,
    F_T_CELL_BOARD,
    F_T_SITE,
    VisitRows,
)
from citytrace.synth.world import M_PER_DEG, World

TIMESTAMP = pa.timestamp("us", tz="UTC")


def timestamps(seconds: NDArray[np.int64], mask: NDArray[np.bool_] | None = None) -> pa.Array:
    """UTC timestamps (microseconds) from whole seconds since the epoch."""
    return pa.array(seconds.astype(np.int64) * 1_000_000, type=TIMESTAMP, mask=mask)


VISITS_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("place_kind", pa.string()),
        ("venue_id", pa.int64()),
        ("to_venue_id", pa.int64()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("started_at", TIMESTAMP),
        ("finished_at", TIMESTAMP),
    ]
)
CARD_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("transacted_at", TIMESTAMP),
        ("merchant_id", pa.string()),
        ("merchant_name", pa.string()),
        ("merchant_category", pa.string()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("address", pa.string()),
        ("amount_krw", pa.int64()),
    ]
)
CELL_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("started_at", TIMESTAMP),
        ("finished_at", TIMESTAMP),
        ("cell_id", pa.string()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("radius_m", pa.int32()),
    ]
)
CHECKINS_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("checked_in_at", TIMESTAMP),
        ("checked_out_at", TIMESTAMP),
        ("venue_id", pa.int64()),
        ("venue_name", pa.string()),
        ("venue_kind", pa.string()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("address", pa.string()),
    ]
)
FIXES_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("tracked_at", TIMESTAMP),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("accuracy_m", pa.float64()),
    ]
)


def visits_table(v: VisitRows) -> pa.Table:
    """The ground-truth ``visits`` table."""
    return pa.table(
        {
            "person_id": pa.array(v.person_id, pa.int64()),
            "place_kind": KIND_ARRAY.take(pa.array(v.kind)),
            "venue_id": pa.array(v.venue, pa.int64(), mask=v.venue < 0),
            "to_venue_id": pa.array(v.to_venue, pa.int64(), mask=v.to_venue < 0),
            "latitude": pa.array(v.lat, pa.float64()),
            "longitude": pa.array(v.lon, pa.float64()),
            "started_at": timestamps(v.started_s),
            "finished_at": timestamps(v.finished_s),
        },
        schema=VISITS_SCHEMA,
    )


def card_table(
    world: World, v: VisitRows, u: NDArray[np.float64], rates: EvidenceRates
) -> pa.Table:
    """Card payments: at paying venues (fares for transit legs), per-kind probability."""
    transit = v.is_transit
    field = np.where(transit, F_T_CARD, F_CARD)
    paid = (v.venue >= 0) & (u[np.arange(v.kind.size), field] < CARD_RATE[v.kind] * rates.card)
    i = np.flatnonzero(paid)
    kind = v.kind[i]
    frac = np.clip(PAY_AT[kind] + (u[i, F_CARD_AT] - 0.5) * 0.1, 0.0, 1.0)
    frac = np.where(transit[i], 0.0, frac)
    at = v.started_s[i] + np.rint(frac * (v.finished_s[i] - v.started_s[i])).astype(np.int64)
    amount = np.rint(AMOUNT_KRW[kind] * (0.4 + 1.6 * u[i, F_AMOUNT]) / 100.0) * 100.0
    amount = np.where(IS_FIXED_FARE[kind], AMOUNT_KRW[kind], amount).astype(np.int64)
    venue = pa.array(v.venue[i])
    return pa.table(
        {
            "person_id": pa.array(v.person_id[i], pa.int64()),
            "transacted_at": timestamps(at),
            "merchant_id": world.venues.column("merchant_id").take(venue),
            "merchant_name": world.venues.column("name_ko").take(venue),
            "merchant_category": KIND_ARRAY.take(pa.array(kind)),
            "latitude": pa.array(world.lat[v.venue[i]], pa.float64()),
            "longitude": pa.array(world.lon[v.venue[i]], pa.float64()),
            "address": world.venues.column("address").take(venue),
            "amount_krw": pa.array(amount, pa.int64()),
        },
        schema=CARD_SCHEMA,
    )


def checkins_table(
    world: World, v: VisitRows, u: NDArray[np.float64], rates: EvidenceRates, from_s: int | None
) -> pa.Table:
    """KI-Pass check-ins at the kinds that required them; a check-out sometimes."""
    ok = ~v.is_transit & (v.venue >= 0) & IS_CHECKIN[v.kind] & (u[:, F_CHECKIN] < rates.checkin)
    if from_s is not None:
        ok &= v.started_s >= from_s
    i = np.flatnonzero(ok)
    dur = (v.finished_s[i] - v.started_s[i]).astype(np.float64)
    checked_in = v.started_s[i] + np.rint(u[i, F_CHECKIN_AT] * np.minimum(120.0, dur / 4)).astype(
        np.int64
    )
    checked_out = v.finished_s[i] - np.rint(
        u[i, F_CHECKOUT_AT] * np.minimum(180.0, dur / 4)
    ).astype(np.int64)
    no_out = u[i, F_CHECKOUT] >= rates.checkout
    venue = pa.array(v.venue[i])
    return pa.table(
        {
            "person_id": pa.array(v.person_id[i], pa.int64()),
            "checked_in_at": timestamps(checked_in),
            "checked_out_at": timestamps(np.maximum(checked_out, checked_in), mask=no_out),
            "venue_id": pa.array(v.venue[i], pa.int64()),
            "venue_name": world.venues.column("name_ko").take(venue),
            "venue_kind": KIND_ARRAY.take(pa.array(v.kind[i])),
            "latitude": pa.array(world.lat[v.venue[i]], pa.float64()),
            "longitude": pa.array(world.lon[v.venue[i]], pa.float64()),
            "address": world.venues.column("address").take(venue),
        },
        schema=CHECKINS_SCHEMA,
    )


def cell_table(
    world: World, v: VisitRows, u: NDArray[np.float64], rates: EvidenceRates
) -> pa.Table:
    """Telecom sightings: one to three per stay (on the serving cell), and one at each end of a
    transit leg. A short stay is sometimes a single sighting without a finish time."""
    n = v.kind.size
    dur = (v.finished_s - v.started_s).astype(np.float64)
    # Stays.
    stay = ~v.is_transit & (u[:, F_CELL] < rates.cell)
    max_n = 1 + (dur >= 20 * 60) + (dur >= 60 * 60)
    count = np.where(stay, np.minimum(1 + (u[:, F_CELL_N] * 3).astype(np.int64), max_n), 0)
    row = np.repeat(np.arange(n), count)
    k = np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)
    c = count[row]
    # Boundaries of the sightings as fractions of the stay: [0, 1], [0, a, 1] or [0, x, y, 1].
    pair = np.sort(u[row][:, F_CELL_SPLIT : F_CELL_SPLIT + 2], axis=1)
    bounds = np.ones((row.size, 4))
    bounds[:, 0] = 0.0
    bounds[:, 1] = np.select([c == 2, c == 3], [0.2 + 0.6 * pair[:, 0], pair[:, 0]], 1.0)
    bounds[:, 2] = np.where(c == 3, pair[:, 1], 1.0)
    lo = bounds[np.arange(row.size), k]
    hi = bounds[np.arange(row.size), k + 1]
    s_start = v.started_s[row] + np.rint(lo * dur[row]).astype(np.int64)
    s_end = v.started_s[row] + np.rint(hi * dur[row]).astype(np.int64)
    site_u = u[row, F_CELL_SITE + np.minimum(k, 2)]
    s_site = world.cell_near(v.lat[row], v.lon[row], site_u)
    single = (c == 1) & (dur[row] < 15 * 60) & (u[row, F_CELL_SINGLE] < 0.5)
    s_key = row * 4 + k
    # Transit legs: where the phone was seen boarding and alighting.
    board = v.is_transit & (u[:, F_T_CELL_BOARD] < rates.cell_transit)
    alight = v.is_transit & (u[:, F_T_CELL_ALIGHT] < rates.cell_transit)
    edge = np.minimum(300.0, dur / 3)
    bi, ai = np.flatnonzero(board), np.flatnonzero(alight)
    to = np.maximum(v.to_venue[ai], 0)
    t_start = np.concatenate(
        [v.started_s[bi], v.finished_s[ai] - np.rint(edge[ai]).astype(np.int64)]
    )
    t_end = np.concatenate([v.started_s[bi] + np.rint(edge[bi]).astype(np.int64), v.finished_s[ai]])
    t_site = np.concatenate(
        [
            world.cell_near(v.lat[bi], v.lon[bi], u[bi, F_T_SITE]),
            world.cell_near(world.lat[to], world.lon[to], u[ai, F_T_SITE + 1]),
        ]
    )
    t_key = np.concatenate([bi * 4, ai * 4 + 1])
    key = np.concatenate([s_key, t_key])
    order = np.argsort(key, kind="stable")
    rows_all = np.concatenate([row, bi, ai])[order]
    started = np.concatenate([s_start, t_start])[order]
    finished = np.concatenate([s_end, t_end])[order]
    no_finish = np.concatenate([single, np.zeros(t_key.size, dtype=bool)])[order]
    site = np.concatenate([s_site, t_site])[order]
    return pa.table(
        {
            "person_id": pa.array(v.person_id[rows_all], pa.int64()),
            "started_at": timestamps(started),
            "finished_at": timestamps(finished, mask=no_finish),
            "cell_id": world.cell_ids.take(pa.array(site)),
            "latitude": pa.array(world.cell_lat[site], pa.float64()),
            "longitude": pa.array(world.cell_lon[site], pa.float64()),
            "radius_m": pa.array(world.cell_radius_m[site].astype(np.int32), pa.int32()),
        },
        schema=CELL_SCHEMA,
    )


@dataclass(frozen=True)
class _Segments:
    """Pieces of a day's path: a stay (fixed point) or a move (straight line) between times."""

    person: NDArray[np.int64]  # index into the list of people with fixes
    t0: NDArray[np.int64]
    t1: NDArray[np.int64]
    lat0: NDArray[np.float64]
    lon0: NDArray[np.float64]
    lat1: NDArray[np.float64]
    lon1: NDArray[np.float64]
    moving: NDArray[np.bool_]
    loss: NDArray[np.float64]  # share of fixes lost (indoors, underground)


def _segments(
    world: World, v: VisitRows, who: NDArray[np.int64], rates: EvidenceRates
) -> _Segments:
    end_lat = np.where(v.is_transit, world.lat[np.maximum(v.to_venue, 0)], v.lat)
    end_lon = np.where(v.is_transit, world.lon[np.maximum(v.to_venue, 0)], v.lon)
    loss = np.where(
        v.is_transit,
        np.where(v.kind == SUBWAY, rates.subway_loss, 0.0),
        np.where(IS_INDOORS[v.kind], rates.indoor_loss, 0.0),
    )
    n = v.kind.size
    nxt = np.r_[np.arange(1, n), n - 1]
    gap = (who[nxt] == who) & (v.started_s[nxt] > v.finished_s) & (np.arange(n) < n - 1)
    g = np.flatnonzero(gap)
    key = np.concatenate([np.arange(n) * 2, g * 2 + 1])
    order = np.argsort(key, kind="stable")

    def cat(a: NDArray[np.generic], b: NDArray[np.generic]) -> NDArray[np.generic]:
        return np.concatenate([a, b])[order]

    return _Segments(
        person=cat(who, who[g]).astype(np.int64),
        t0=cat(v.started_s, v.finished_s[g]).astype(np.int64),
        t1=cat(v.finished_s, v.started_s[nxt[g]]).astype(np.int64),
        lat0=cat(v.lat, end_lat[g]).astype(np.float64),
        lon0=cat(v.lon, end_lon[g]).astype(np.float64),
        lat1=cat(end_lat, v.lat[nxt[g]]).astype(np.float64),
        lon1=cat(end_lon, v.lon[nxt[g]]).astype(np.float64),
        moving=cat(v.is_transit, np.ones(g.size, dtype=bool)).astype(bool),
        loss=cat(loss, np.zeros(g.size)).astype(np.float64),
    )


def fixes_table(
    world: World,
    v: VisitRows,
    seed: int,
    rates: EvidenceRates,
    midnights_s: NDArray[np.int64],
) -> pa.Table:
    """Phone fixes along the true path of every person in ``v``.

    Fixes come every 1-5 min while moving and every 10-30 min during stays (per segment
    interval), with GPS noise (Rayleigh, sigma half the stated 5-30 m accuracy), occasional jumps
    of hundreds of metres, nights and spells with the phone off, and losses indoors and
    underground. Randomness comes from each person's fixes stream.
    """
    if v.kind.size == 0:
        return FIXES_SCHEMA.empty_table()
    ids, who = np.unique(v.person_id, return_inverse=True)
    who = who.astype(np.int64)
    seg = _segments(world, v, who, rates)
    n_people, n_days = ids.size, midnights_s.size - 1
    seg_count = np.bincount(seg.person, minlength=n_people)
    generators = [person_generator(seed, int(p), FIXES_STREAM) for p in ids.tolist()]
    day_u = np.empty((n_people, n_days, 5))
    seg_u = np.empty((seg.person.size, 2))
    seg_at = np.cumsum(seg_count) - seg_count
    for i, gen in enumerate(generators):  # per person: draw numbers only
        gen.random(out=day_u[i])
        gen.random(out=seg_u[seg_at[i] : seg_at[i] + seg_count[i]])
    dur = (seg.t1 - seg.t0).astype(np.float64)
    lo, hi = (
        np.where(seg.moving, rates.fix_moving_interval_s[0], rates.fix_stay_interval_s[0]),
        np.where(seg.moving, rates.fix_moving_interval_s[1], rates.fix_stay_interval_s[1]),
    )
    interval = lo + (hi - lo) * seg_u[:, 0]
    count = np.floor(dur / interval + seg_u[:, 1]).astype(np.int64)
    sample_seg = np.repeat(np.arange(count.size), count)
    j = np.arange(sample_seg.size) - np.repeat(np.cumsum(count) - count, count)
    per_person = np.bincount(seg.person[sample_seg], minlength=n_people)
    fix_u = np.empty((sample_seg.size, 7))
    fix_at = np.cumsum(per_person) - per_person
    for i, gen in enumerate(generators):
        gen.random(out=fix_u[fix_at[i] : fix_at[i] + per_person[i]])
    s = sample_seg
    frac = (j + fix_u[:, 0]) / count[s]
    t = seg.t0[s] + frac * dur[s]
    lat = seg.lat0[s] + frac * (seg.lat1[s] - seg.lat0[s])
    lon = seg.lon0[s] + frac * (seg.lon1[s] - seg.lon0[s])
    person = seg.person[s]
    # Losses: phone off at night or for a spell by day, no signal indoors or underground.
    day = np.clip(np.searchsorted(midnights_s, t, side="right") - 1, 0, n_days - 1)
    du = day_u[person, day]
    minute = (t - midnights_s[day]) / 60.0
    night = (
        (du[:, 0] < rates.phone_off_night_rate)
        & (minute >= 30 + 60 * du[:, 1])
        & (minute < 360 + 60 * du[:, 1])
    )
    spell_start = 480 + 780 * du[:, 3]
    spell = (
        (du[:, 2] < rates.phone_off_rate)
        & (minute >= spell_start)
        & (minute < spell_start + 60 + 180 * du[:, 4])
    )
    lost = fix_u[:, 6] < seg.loss[s]
    keep = ~(night | spell | lost)
    # GPS noise, and now and then a jump.
    a_lo, a_hi = rates.fix_accuracy_m
    accuracy = a_lo + (a_hi - a_lo) * fix_u[:, 1]
    r = accuracy / 2.0 * np.sqrt(-2.0 * np.log1p(-fix_u[:, 2]))
    jump = fix_u[:, 4] < rates.fix_jump_rate
    j_lo, j_hi = rates.fix_jump_m
    r = np.where(jump, j_lo + (j_hi - j_lo) * fix_u[:, 5], r)
    theta = 2.0 * np.pi * fix_u[:, 3]
    lat = lat + r * np.sin(theta) / M_PER_DEG
    lon = lon + r * np.cos(theta) / (M_PER_DEG * np.cos(np.radians(lat)))
    k = np.flatnonzero(keep)
    return pa.table(
        {
            "person_id": pa.array(ids[person[k]], pa.int64()),
            "tracked_at": timestamps(np.rint(t[k]).astype(np.int64)),
            "latitude": pa.array(lat[k], pa.float64()),
            "longitude": pa.array(lon[k], pa.float64()),
            "accuracy_m": pa.array(np.round(accuracy[k], 1), pa.float64()),
        },
        schema=FIXES_SCHEMA,
    )


__all__ = [
    "CARD_SCHEMA",
    "CELL_SCHEMA",
    "CHECKINS_SCHEMA",
    "FIXES_SCHEMA",
    "VISITS_SCHEMA",
    "card_table",
    "cell_table",
    "checkins_table",
    "fixes_table",
    "visits_table",
]
