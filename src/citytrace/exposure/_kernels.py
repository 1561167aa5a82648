"""Numba kernels of the exposure search: the candidate window of a visit, and the index scan.

The arithmetic of the grid (rows, columns) is that of :class:`citytrace.exposure.grid.Grid`, and the
distance is :func:`citytrace.geo.haversine_m` operation for operation, so that every engine sees
the same cells and (up to the last bits of ``sin``/``cos``) the same distances.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

EARTH_RADIUS_M = 6_371_000.0
_DEG2RAD = math.pi / 180.0  # numpy's radians multiplies by this very constant
_GROW = 1.0 + 1e-9  # widening of the window bounds (grid module, step 4)
# Index keys are (radius class << 43) | (cell << 3) | duration class: the records of a cell, of
# every duration class, lie together. Cells of the finest grid are below 2**40.
_CLASS_SHIFT = 43
_CELL_SHIFT = 3
_DURATION_MASK = 7


@njit(cache=True, nogil=True, inline="always")
def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """:func:`citytrace.geo.haversine_m` for one pair, in the same order of operations."""
    phi1 = lat1 * _DEG2RAD
    phi2 = lat2 * _DEG2RAD
    dphi = phi2 - phi1
    dlam = (lon2 - lon1) * _DEG2RAD
    s1 = math.sin(dphi / 2.0)
    s2 = math.sin(dlam / 2.0)
    a = s1 * s1 + math.cos(phi1) * math.cos(phi2) * (s2 * s2)
    a = min(max(a, 0.0), 1.0)
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


@njit(cache=True, nogil=True, inline="always")
def _index(x: float, offset: float, size: float, n: float) -> int:
    i = math.floor((x + offset) / size)
    return int(min(max(i, 0.0), n - 1.0))


@njit(cache=True, nogil=True)
def window(
    lat: float,
    lon: float,
    reach_m: float,
    row_deg: float,
    col_deg: float,
    n_rows: float,
    n_cols: float,
) -> tuple[int, int, int, int, int, int]:
    """Rows ``row0..row1`` and column ranges ``a0..a1`` and ``b0..b1`` (empty when ``b0 > b1``)
    that hold every position within ``reach_m`` of ``(lat, lon)`` (grid module, steps 1, 2, 4)."""
    reach = reach_m * _GROW
    dphi = reach / EARTH_RADIUS_M / _DEG2RAD * _GROW + 1e-12
    lo_lat = lat - dphi
    hi_lat = lat + dphi
    row0 = _index(max(lo_lat, -90.0), 90.0, row_deg, n_rows)
    row1 = _index(min(hi_lat, 90.0), 90.0, row_deg, n_rows)
    last = int(n_cols) - 1
    phim = max(abs(lo_lat), abs(hi_lat))
    if phim >= 90.0 or reach / (2.0 * EARTH_RADIUS_M) >= math.pi / 2.0:
        return row0, row1, 0, last, 1, 0
    x = math.sin(reach / (2.0 * EARTH_RADIUS_M)) / math.cos(phim * _DEG2RAD)
    if x >= 1.0:
        return row0, row1, 0, last, 1, 0
    dlam = 2.0 * math.asin(x) / _DEG2RAD * _GROW + 1e-12
    if dlam >= 180.0:
        return row0, row1, 0, last, 1, 0
    lo = lon - dlam
    hi = lon + dlam
    if lo < -180.0:
        a0 = _index(lo + 360.0, 180.0, col_deg, n_cols)
        b1 = _index(hi, 180.0, col_deg, n_cols)
        if b1 >= a0:
            return row0, row1, 0, last, 1, 0
        return row0, row1, a0, last, 0, b1
    if hi > 180.0:
        a0 = _index(lo, 180.0, col_deg, n_cols)
        b1 = _index(hi - 360.0, 180.0, col_deg, n_cols)
        if b1 >= a0:
            return row0, row1, 0, last, 1, 0
        return row0, row1, a0, last, 0, b1
    return (
        row0,
        row1,
        _index(lo, 180.0, col_deg, n_cols),
        _index(hi, 180.0, col_deg, n_cols),
        1,
        0,
    )


@njit(cache=True, nogil=True)
def _box(
    lat: float,
    lon: float,
    radius: float,
    start: int,
    end: int,
    c: int,
    duration_us: int,
    bucket_us: int,
    class_radius: np.ndarray,
    row_deg: np.ndarray,
    col_deg: np.ndarray,
    n_rows: np.ndarray,
    n_cols: np.ndarray,
    limit_m: float,
    overlap_us: int,
) -> tuple[int, int, int, int, int, int, int, int]:
    """Rows, column ranges and buckets of one visit at one level; ``bucket1 < bucket0`` when the
    visit is too short for the overlap."""
    lo_t = start + overlap_us - duration_us
    hi_t = end - overlap_us
    if hi_t < lo_t:
        return 0, -1, 0, -1, 0, -1, 0, -1
    row0, row1, a0, a1, b0, b1 = window(
        lat, lon, limit_m + radius + class_radius[c], row_deg[c], col_deg[c], n_rows[c], n_cols[c]
    )
    return row0, row1, a0, a1, b0, b1, lo_t // bucket_us, hi_t // bucket_us


@njit(cache=True, nogil=True)
def query_keys(
    v_lat: np.ndarray,
    v_lon: np.ndarray,
    v_radius: np.ndarray,
    v_start: np.ndarray,
    v_end: np.ndarray,
    levels: np.ndarray,
    level_class: np.ndarray,
    level_duration_us: np.ndarray,
    level_bucket_us: np.ndarray,
    class_radius: np.ndarray,
    row_deg: np.ndarray,
    col_deg: np.ndarray,
    n_rows: np.ndarray,
    n_cols: np.ndarray,
    limit_m: float,
    overlap_us: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``(visit, level, cell, bucket)`` keys of the visits, for the SQL engines.

    ``limit_m`` is ``D`` plus the tolerance; ``overlap_us`` is ``T``. Counted first, then filled.
    """
    total = 0
    for i in range(v_lat.size):
        for j in range(levels.size):
            row0, row1, a0, a1, b0, b1, t0, t1 = _box(
                v_lat[i], v_lon[i], v_radius[i], v_start[i], v_end[i], level_class[j],
                level_duration_us[j], level_bucket_us[j], class_radius, row_deg, col_deg,
                n_rows, n_cols, limit_m, overlap_us,
            )  # fmt: skip
            if t1 < t0:
                continue
            width = (a1 - a0 + 1) + max(b1 - b0 + 1, 0)
            total += (row1 - row0 + 1) * width * (t1 - t0 + 1)
    out_visit = np.empty(total, np.int64)
    out_level = np.empty(total, np.int16)
    out_cell = np.empty(total, np.int64)
    out_bucket = np.empty(total, np.int64)
    k = 0
    for i in range(v_lat.size):
        for j in range(levels.size):
            c = level_class[j]
            row0, row1, a0, a1, b0, b1, t0, t1 = _box(
                v_lat[i], v_lon[i], v_radius[i], v_start[i], v_end[i], c,
                level_duration_us[j], level_bucket_us[j], class_radius, row_deg, col_deg,
                n_rows, n_cols, limit_m, overlap_us,
            )  # fmt: skip
            if t1 < t0:
                continue
            ncol = np.int64(n_cols[c])
            for row in range(row0, row1 + 1):
                for part in range(2):
                    c0 = a0 if part == 0 else b0
                    c1 = a1 if part == 0 else b1
                    for col in range(c0, c1 + 1):
                        for b in range(t0, t1 + 1):
                            out_visit[k] = i
                            out_level[k] = levels[j]
                            out_cell[k] = row * ncol + col
                            out_bucket[k] = b
                            k += 1
    return out_visit, out_level, out_cell, out_bucket


@njit(cache=True, nogil=True, inline="always")
def _lower(values: np.ndarray, lo: int, hi: int, x: int | np.int64) -> int:
    """First position in ``values[lo:hi]`` (sorted) whose value is >= x."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def _gallop(values: np.ndarray, lo: int, hi: int, x: int | np.int64) -> int:
    """:func:`_lower` by exponential search from ``lo``: cheap when the answer is near."""
    step = 1
    while lo + step < hi and values[lo + step - 1] < x:
        step *= 2
    return _lower(values, lo + step // 2, min(lo + step, hi), x)


@njit(cache=True, nogil=True, inline="always")
def _gallop_back(values: np.ndarray, lo: int, hi: int, x: int | np.int64) -> int:
    """:func:`_lower` in ``values[lo:hi]``, given ``values[hi] >= x``, by exponential search
    backwards from ``hi``."""
    step = 1
    while hi - step >= lo and values[hi - step] >= x:
        step *= 2
    return _lower(values, max(lo, hi - step + 1), hi - step // 2, x)


@njit(cache=True, nogil=True, inline="always")
def _first_start(r_start: np.ndarray, p0: int, p1: int, first: int, last: int, lo_t: int) -> int:
    """The first record of ``p0:p1`` (sorted by start, from ``first`` to ``last``) that starts at
    ``lo_t`` or later: guessed by interpolation (starts spread over the days about evenly) and
    found by galloping from the guess. (The scan that follows stops at the first record that
    starts too late, so the end needs no search.)"""
    if lo_t <= first:
        return p0
    guess = p0 + int((lo_t - first) / (last - first) * (p1 - 1 - p0))
    guess = min(max(guess, p0), p1 - 1)
    if r_start[guess] < lo_t:
        return _gallop(r_start, guess + 1, p1, lo_t)
    return _gallop_back(r_start, p0, guess, lo_t)


@njit(cache=True, nogil=True, inline="always")
def _lower_branchless(values: np.ndarray, lo: int, hi: int, x: np.uint64) -> int:
    """:func:`_lower` for values (and ``x``) below 2**63 seen as uint64: a step's comparison is
    the sign bit of a difference, so no branch depends on the values and none is mispredicted
    (a branch-free search; :func:`_lower`'s branches, taken at random, cost more than its
    loads when the values are in the cache)."""
    n = hi - lo
    if n <= 0:
        return lo
    while n > 1:
        half = n >> 1
        below = int((values[lo + half - 1] - x) >> np.uint64(63))  # values[...] < x
        lo += half & -below
        n -= half
    return lo + int((values[lo] - x) >> np.uint64(63))


# Keys with at most this many records are read from their first record rather than searched: a
# short sequential read beats a few unpredictable branches.
_SCAN_AT_MOST = 16


class Scratch(NamedTuple):
    """Working arrays of one thread's searches, reused from search to search.

    ``slot[person]`` is the person's group of the current case or -1 (all -1 between cases);
    the ``g_*`` arrays hold a case's groups, at most one a person.
    """

    slot: np.ndarray
    g_person: np.ndarray
    g_first: np.ndarray
    g_last: np.ndarray
    g_overlap: np.ndarray
    g_dist: np.ndarray
    g_kinds: np.ndarray
    g_count: np.ndarray
    g_close: np.ndarray


def new_scratch(n_persons: int) -> Scratch:
    """Scratch arrays for an index of ``n_persons`` persons (pages are touched as used)."""
    n = max(n_persons, 1)
    return Scratch(
        np.full(n, -1, np.int32),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.empty(n, np.float64),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.empty(n, np.bool_),
    )


@njit(cache=True, nogil=True, inline="always")
def _own_code(value: int, known: bool, person_ids: np.ndarray, code_of: np.ndarray) -> int:
    """A visit's own person as a person code, or -1 (see :func:`search_cases`)."""
    if not known:
        return -1
    if person_ids.size == 0:
        return value
    if code_of.size:
        at = value - person_ids[0]
        return code_of[at] if 0 <= at < code_of.size else -1
    j = np.searchsorted(person_ids, value)
    return int(j) if j < person_ids.size and person_ids[j] == value else -1


_OUT_ROWS = 9  # of search_cases's result


@njit(cache=True, nogil=True)
def search_cases(
    case_lo: int,
    case_hi: int,
    visit_offsets: np.ndarray,
    v_lat: np.ndarray,
    v_lon: np.ndarray,
    v_radius: np.ndarray,
    v_start: np.ndarray,
    v_end: np.ndarray,
    v_own: np.ndarray,
    v_own_known: np.ndarray,
    person_ids: np.ndarray,
    code_of: np.ndarray,
    classes: np.ndarray,
    class_duration_us: np.ndarray,
    level_duration_us: np.ndarray,
    n_durations: int,
    class_radius: np.ndarray,
    row_deg: np.ndarray,
    col_deg: np.ndarray,
    n_rows: np.ndarray,
    n_cols: np.ndarray,
    keys: np.ndarray,
    offsets: np.ndarray,
    key_first_start: np.ndarray,
    key_last_start: np.ndarray,
    keys_u: np.ndarray,
    row_first_key: np.ndarray,
    class_row0: np.ndarray,
    class_row_at: np.ndarray,
    class_n_rows: np.ndarray,
    cell_first_key: np.ndarray,
    class_cell_at: np.ndarray,
    class_col0: np.ndarray,
    class_width: np.ndarray,
    r_lat: np.ndarray,
    r_lon: np.ndarray,
    r_radius: np.ndarray,
    r_start: np.ndarray,
    r_end: np.ndarray,
    r_person: np.ndarray,
    r_kind: np.ndarray,
    slot: np.ndarray,
    g_person: np.ndarray,
    g_first: np.ndarray,
    g_last: np.ndarray,
    g_overlap: np.ndarray,
    g_dist: np.ndarray,
    g_kinds: np.ndarray,
    g_count: np.ndarray,
    g_close: np.ndarray,
    limit_m: float,
    overlap_us: int,
    close_limit_m: float,
    close_overlap_us: int,
    close_max_radius_m: float,
) -> np.ndarray:
    """The contacts of cases ``case_lo..case_hi-1``, aggregated per (case, person) and sorted.

    Visits are sorted by case (``visit_offsets[c]:visit_offsets[c+1]`` are case c's), with their
    own person, where ``v_own_known``, in ``v_own``: an id of ``person_ids`` (the records' ids,
    sorted, a code each; looked up in ``code_of`` when it is given, see :func:`_own_code`) or,
    when ``person_ids`` is empty, a code. Records are sorted by (key, start): ``keys`` are the
    distinct ``(radius class << 43) | (cell << 3) | duration class`` values and ``offsets`` where
    each key's records begin (plus the end), and the first and last start under each key;
    ``keys_u`` are the keys seen as uint64. A row directory finds a grid row's keys: for radius
    class ``c``, the rows ``class_row0[c] .. + class_n_rows[c] - 1`` have their first key at
    ``row_first_key[class_row_at[c] + row - class_row0[c]]`` (and their end at the next).
    Where a class has a cell directory (``class_width[c] > 0``), the first key of the cell at
    ``row, col`` is ``cell_first_key[class_cell_at[c] + (row - class_row0[c]) * class_width[c] +
    col - class_col0[c]]``, for the columns ``class_col0[c] .. + class_width[c] - 1`` (the last
    one past the class's last column with keys): a row's range of cells is two loads rather than
    a search among the row's keys.
    ``classes`` are the radius classes present, with the longest record of each in
    ``class_duration_us``; ``level_duration_us`` is the longest record of each level
    (``class * n_durations + duration class``). ``r_person`` are dense person codes below the
    size of the scratch arrays (:class:`Scratch`: ``slot`` all -1, left so); ``r_kind`` kind codes
    below 64. A visit's box is computed once per radius class, and each row of it is one range of
    keys, across all duration classes.

    For each case, the contact pairs are folded per person as they are found (a slot per person,
    reset after the case), then emitted in person order: no sort of all the pairs. Returns, per
    (case, person), a row each of one array (one array for the threads' parts to be joined in one
    step): case, person (its id of ``person_ids``, or its code when that is empty), first contact
    (us), end of the last (us), longest overlap (us), smallest gap (m, at least 0; the bits of a
    float64), kinds as a bit mask, pairs, and whether a pair met the close-contact rule (1 or 0).
    """
    ocap = 256
    out = np.empty((_OUT_ROWS, ocap), np.int64)
    out_dist = out[5].view(np.float64)
    n_out = 0
    # Below this, R * |dlat| (a lower bound of the distance) proves a candidate too far.
    lat_slack = 1.0 - 1e-9
    m_per_deg = EARTH_RADIUS_M * _DEG2RAD
    for case in range(case_lo, case_hi):
        ng = 0
        for i in range(visit_offsets[case], visit_offsets[case + 1]):
            vs = v_start[i]
            ve = v_end[i]
            lat = v_lat[i]
            lon = v_lon[i]
            rv = v_radius[i]
            own = _own_code(v_own[i], v_own_known[i], person_ids, code_of)
            last_lat = np.nan
            last_lon = np.nan
            last_h = 0.0
            hi_t = ve - overlap_us
            for ci in range(classes.size):
                c = classes[ci]
                if hi_t < vs + overlap_us - class_duration_us[ci]:
                    continue  # too short a visit for any record of the class
                row0, row1, a0, a1, b0, b1 = window(
                    lat,
                    lon,
                    limit_m + rv + class_radius[c],
                    row_deg[c],
                    col_deg[c],
                    n_rows[c],
                    n_cols[c],
                )
                ncol = np.int64(n_cols[c])
                base = np.int64(c) << _CLASS_SHIFT
                level0 = c * n_durations
                # The rows of the box that have keys, each a range of keys.
                first_row = class_row0[c]
                at = class_row_at[c] - first_row
                width = class_width[c]
                col0 = class_col0[c]
                for row in range(
                    max(row0, first_row), min(row1, first_row + class_n_rows[c] - 1) + 1
                ):
                    row_lo = row_first_key[at + row]
                    row_hi = row_first_key[at + row + 1]
                    if row_lo == row_hi:
                        continue
                    for part in range(2):
                        c0 = a0 if part == 0 else b0
                        c1 = a1 if part == 0 else b1
                        if width > 0:  # the cell directory: the range in two loads
                            c0 = max(c0, col0)
                            c1 = min(c1, col0 + width - 2)
                            if c1 < c0:
                                continue
                            cell_at = class_cell_at[c] + (row - first_row) * width - col0
                            k0 = cell_first_key[cell_at + c0]
                            k1 = cell_first_key[cell_at + c1 + 1]
                        else:
                            if c1 < c0:
                                continue
                            lo_key = base | ((row * ncol + c0) << _CELL_SHIFT)
                            hi_key = base | ((row * ncol + c1) << _CELL_SHIFT) | _DURATION_MASK
                            k0 = _lower_branchless(keys_u, row_lo, row_hi, np.uint64(lo_key))
                            k1 = _gallop(keys, k0, row_hi, hi_key + 1)
                        for k in range(k0, k1):
                            level = level0 + (keys[k] & _DURATION_MASK)
                            lo_t = vs + overlap_us - level_duration_us[level]
                            if hi_t < lo_t:
                                continue  # too short a visit for records this long
                            if key_last_start[k] < lo_t or key_first_start[k] > hi_t:
                                continue  # no start of this key's records in the window
                            p0 = offsets[k]
                            p1 = offsets[k + 1]
                            if p1 - p0 > _SCAN_AT_MOST:
                                p0 = _first_start(
                                    r_start, p0, p1, key_first_start[k], key_last_start[k], lo_t
                                )
                            for p in range(p0, p1):
                                rs = r_start[p]
                                if rs < lo_t:
                                    continue  # (a short key is scanned from its start)
                                if rs > hi_t:
                                    break
                                re = r_end[p]
                                overlap = min(ve, re) - max(vs, rs)
                                if overlap < overlap_us:
                                    continue
                                person = r_person[p]
                                if person == own:
                                    continue
                                rr = r_radius[p]
                                plat = r_lat[p]
                                if abs(plat - lat) * m_per_deg * lat_slack - rv - rr > limit_m:
                                    continue
                                plon = r_lon[p]
                                if plat != last_lat or plon != last_lon:
                                    last_h = haversine(lat, lon, plat, plon)
                                    last_lat = plat
                                    last_lon = plon
                                gap = last_h - rv - rr
                                if gap > limit_m:
                                    continue
                                first = max(vs, rs)
                                until = min(ve, re)
                                dist = max(gap, 0.0)
                                close = (
                                    gap <= close_limit_m
                                    and overlap >= close_overlap_us
                                    and rv <= close_max_radius_m
                                    and rr <= close_max_radius_m
                                )
                                bit = np.int64(1) << np.int64(r_kind[p])
                                g = slot[person]
                                if g < 0:
                                    g = ng
                                    ng += 1
                                    slot[person] = np.int32(g)
                                    g_person[g] = person
                                    g_first[g] = first
                                    g_last[g] = until
                                    g_overlap[g] = overlap
                                    g_dist[g] = dist
                                    g_kinds[g] = bit
                                    g_count[g] = 1
                                    g_close[g] = close
                                else:
                                    g_first[g] = min(g_first[g], first)
                                    g_last[g] = max(g_last[g], until)
                                    g_overlap[g] = max(g_overlap[g], overlap)
                                    g_dist[g] = min(g_dist[g], dist)
                                    g_kinds[g] |= bit
                                    g_count[g] += 1
                                    g_close[g] = g_close[g] or close
        if ng == 0:
            continue
        if n_out + ng > ocap:
            while n_out + ng > ocap:
                ocap *= 2
            grown = np.empty((_OUT_ROWS, ocap), np.int64)
            grown[:, :n_out] = out[:, :n_out]
            out = grown
            out_dist = out[5].view(np.float64)
        # In person order: sort the persons in place, and find each one's group by its slot.
        persons = out[1, n_out : n_out + ng]
        persons[:] = g_person[:ng]
        persons.sort()
        for j in range(n_out, n_out + ng):
            person = out[1, j]
            g = slot[person]
            slot[person] = -1
            if person_ids.size:
                out[1, j] = person_ids[person]
            out[0, j] = case
            out[2, j] = g_first[g]
            out[3, j] = g_last[g]
            out[4, j] = g_overlap[g]
            out_dist[j] = g_dist[g]
            out[6, j] = g_kinds[g]
            out[7, j] = g_count[g]
            out[8, j] = g_close[g]
        n_out += ng
    return out[:, :n_out]


@njit(cache=True, nogil=True)
def key_offsets(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted key array and where each run begins (plus the end)."""
    n = sorted_keys.size
    count = 0
    for i in range(n):
        if i == 0 or sorted_keys[i] != sorted_keys[i - 1]:
            count += 1
    keys = np.empty(count, np.int64)
    offsets = np.empty(count + 1, np.int64)
    k = 0
    for i in range(n):
        if i == 0 or sorted_keys[i] != sorted_keys[i - 1]:
            keys[k] = sorted_keys[i]
            offsets[k] = i
            k += 1
    offsets[count] = n
    return keys, offsets


@njit(cache=True, nogil=True)
def sort_runs(offsets: np.ndarray, started: np.ndarray, order: np.ndarray) -> int:
    """Sort ``started`` (and ``order`` alike) within each run ``offsets[k]:offsets[k+1]`` whose
    values are out of order; in place. Returns the number of runs sorted."""
    fixed = 0
    for k in range(offsets.size - 1):
        a = offsets[k]
        b = offsets[k + 1]
        ordered = True
        for i in range(a + 1, b):
            if started[i] < started[i - 1]:
                ordered = False
                break
        if ordered:
            continue
        perm = np.argsort(started[a:b], kind="mergesort")
        started[a:b] = started[a:b][perm]
        order[a:b] = order[a:b][perm]
        fixed += 1
    return fixed


@njit(cache=True, nogil=True)
def merge_pairs(
    case_a: np.ndarray, person_a: np.ndarray, case_b: np.ndarray, person_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Two lists of (case, person) pairs, each sorted with a row a pair, merged: where each row
    of ``a`` and of ``b`` goes in the sorted union, whether a row of ``b`` is a pair of ``a``
    too (then both go to the same place), and the size of the union; in one pass."""
    na = case_a.size
    nb = case_b.size
    at_a = np.empty(na, np.int64)
    at_b = np.empty(nb, np.int64)
    shared = np.zeros(nb, np.bool_)
    i = 0
    j = 0
    k = 0
    while i < na or j < nb:
        if j >= nb:
            order = -1
        elif i >= na:
            order = 1
        elif case_a[i] != case_b[j]:
            order = -1 if case_a[i] < case_b[j] else 1
        elif person_a[i] != person_b[j]:
            order = -1 if person_a[i] < person_b[j] else 1
        else:
            order = 0
        if order <= 0:
            at_a[i] = k
            i += 1
        if order >= 0:
            at_b[j] = k
            shared[j] = order == 0
            j += 1
        k += 1
    return at_a, at_b, shared, k


@njit(cache=True, nogil=True, inline="always")
def _mix(h: np.uint64, bits: np.uint64) -> np.uint64:
    """One column's step of :func:`citytrace.exposure._checks.hash_rows`."""
    x = bits ^ (h >> np.uint64(29))
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (h * np.uint64(31)) ^ (x ^ (x >> np.uint64(31)))


@njit(cache=True, nogil=True, inline="always")
def _compare(a: float, b: float) -> int:
    """-1, 0 or 1 as ``a`` is below, equal to (``==``) or above ``b``."""
    return (a > b) - (a < b)


@njit(cache=True, nogil=True)
def _strictly_increasing(
    case: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    radius: np.ndarray,
) -> bool:
    """Whether each row comes strictly after the one before in the order of (case, start, end,
    latitude, longitude, radius): then no row repeats another (visits usually come so)."""
    for i in range(1, case.size):
        j = i - 1
        order = (
            _compare(case[i], case[j])
            or _compare(start[i], start[j])
            or _compare(end[i], end[j])
            or _compare(lat[i], lat[j])
            or _compare(lon[i], lon[j])
            or _compare(radius[i], radius[j])
        )
        if order <= 0:
            return False
    return True


@njit(cache=True, nogil=True)
def plain_visits(
    case: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    radius: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    max_radius_m: float,
    min_time_us: int,
    max_time_us: int,
) -> tuple[bool, np.ndarray, np.ndarray]:
    """Whether visits with integer case ids pass every check of
    :func:`citytrace.exposure.visits.check_visits`, and if so the distinct case ids (sorted) and
    each visit's case code; in one pass (a failed check is told by the slower path, row by row).

    Repeated rows are found as :func:`citytrace.exposure._checks.duplicate_rows` finds them:
    rows of equal hash (the same hash of the same columns: code, latitude, longitude, radius,
    start, end) that are equal in every column.
    """
    n = case.size
    none = np.empty(0, np.int64)
    for i in range(n):
        if not (abs(lat[i]) <= 90.0 and abs(lon[i]) <= 180.0):
            return False, none, none  # also NaN and infinities
        if not (0.0 <= radius[i] <= max_radius_m):
            return False, none, none
        if not (min_time_us <= start[i] < max_time_us and min_time_us <= end[i] < max_time_us):
            return False, none, none
        if end[i] < start[i]:
            return False, none, none
    # Case codes: ranks of the distinct ids (visits usually come grouped by case, in order).
    ordered = True
    for i in range(1, n):
        if case[i] < case[i - 1]:
            ordered = False
            break
    order = np.arange(n) if ordered else np.argsort(case, kind="mergesort")
    codes = np.empty(n, np.int64)
    distinct = np.empty(n, np.int64)
    n_distinct = 0
    for j in range(n):
        i = order[j]
        if n_distinct == 0 or case[i] != distinct[n_distinct - 1]:
            distinct[n_distinct] = case[i]
            n_distinct += 1
        codes[i] = n_distinct - 1
    if ordered and _strictly_increasing(case, start, end, lat, lon, radius):
        return True, distinct[:n_distinct].copy(), codes  # rows in strict order: none repeated
    # Duplicates: hash each row (splitmix64 mixing, as _checks.hash_rows) into an open-addressing
    # table; a row that meets an earlier row of the same hash is compared with it.
    size = 1
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.full(size, -1, np.int64)
    hashes = np.empty(n, np.uint64)
    lat_bits = lat.view(np.uint64)
    lon_bits = lon.view(np.uint64)
    radius_bits = radius.view(np.uint64)
    for i in range(n):
        h = _mix(np.uint64(0x9E3779B97F4A7C15), np.uint64(codes[i]))
        h = _mix(h, lat_bits[i])
        h = _mix(h, lon_bits[i])
        h = _mix(h, radius_bits[i])
        h = _mix(h, np.uint64(start[i]))
        h = _mix(h, np.uint64(end[i]))
        hashes[i] = h
        at = h & mask
        while table[at] >= 0:
            e = table[at]
            if (
                hashes[e] == h
                and codes[e] == codes[i]
                and lat[e] == lat[i]
                and lon[e] == lon[i]
                and radius[e] == radius[i]
                and start[e] == start[i]
                and end[e] == end[i]
            ):
                return False, none, none
            at = (at + np.uint64(1)) & mask
        table[at] = i
    return True, distinct[:n_distinct].copy(), codes


@njit(cache=True, nogil=True)
def take_texts(
    codes: np.ndarray, offsets: np.ndarray, data: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The texts ``codes`` pick from a list of texts given as Arrow's string buffers (``offsets``,
    ``data``): the offsets and data of an Arrow string array, in one pass."""
    n = codes.size
    out_offsets = np.empty(n + 1, np.int32)
    out_offsets[0] = 0
    total = 0
    for i in range(n):
        c = codes[i]
        total += offsets[c + 1] - offsets[c]
        out_offsets[i + 1] = total
    out = np.empty(total, np.uint8)
    for i in range(n):
        c = codes[i]
        at = out_offsets[i]
        for j in range(offsets[c], offsets[c + 1]):
            out[at] = data[j]
            at += 1
    return out_offsets, out


@njit(cache=True, nogil=True)
def case_offsets(codes: np.ndarray, n_cases: int) -> np.ndarray:
    """Where each case's visits begin (and the end), for visits sorted by case code; empty when
    they are not sorted."""
    out = np.zeros(n_cases + 1, np.int64)
    for i in range(codes.size):
        if i and codes[i] < codes[i - 1]:
            return np.empty(0, np.int64)
        out[codes[i] + 1] += 1
    for c in range(n_cases):
        out[c + 1] += out[c]
    return out
