"""Numba kernels behind :mod:`citytrace.trajectory.staypoints`.

Everything here works on plain numpy arrays that the caller has validated and sorted. The sliding
window is trackintel's ``_generate_staypoints_sliding_user`` (trackintel 1.4.2,
``trackintel/preprocessing/positionfixes.py``), itself adapted from Li et al. (2008): the rules,
the comparisons and the distance formula are kept as they are there, so that every boundary
decision comes out the same.

The distance from the anchor is first bounded without any trigonometry per fix (a second-order
expansion of the haversine with a rigorous error bound, see :func:`_is_far`); only fixes whose
distance lies within a hair of the threshold are measured with trackintel's own formula.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EARTH_RADIUS_M = 6_371_000.0
# Same constants as CPython's math.radians and numpy's rad2deg, so results match bit for bit.
_DEG2RAD = math.pi / 180.0
_RAD2DEG = 180.0 / math.pi

# Absolute slack (in haversine units, hav = (1 - cos)/2) covering the rounding of trackintel's
# law-of-cosines value (a few ulps of 1.0) and of our own expansion; ~20 times the worst case.
_HAV_ABS_SLACK = 4e-15
_HAV_REL_SLACK = 1e-12
# Relative rounding allowance of the expansion's terms, including the anchor's cos/sin.
_TERM_REL_SLACK = 1e-14
# Beyond this haversine the points may be nearly antipodal, where trackintel's acos can see a
# value below -1 (NaN distance, never "far"): such pairs always take the exact path.
_HAV_FAST_MAX = 0.9
# The anchor's cos/sin latitude come from a Taylor rotation of a reference latitude while the
# anchor stays within this many radians (about 127 km) of it.
_REF_SPAN_RAD = 0.02
# Multiplicative hashing of a point's coordinate bits (open addressing, linear probing).
_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xBF58476D1CE4E5B9)


def haversine_thresholds(dist_threshold_m: float) -> tuple[float, float]:
    """Bracket ``[lo, hi]`` of the haversine at ``dist_threshold_m`` outside which :func:`_is_far`
    decides without the exact formula."""
    theta = dist_threshold_m / EARTH_RADIUS_M
    if theta >= math.pi * (1.0 + 1e-9):
        # Farther than any two points on the sphere: never "far" (trackintel: acos <= pi).
        return math.inf, math.inf
    hav = math.sin(0.5 * theta) ** 2
    return hav * (1.0 - _HAV_REL_SLACK) - _HAV_ABS_SLACK, hav * (
        1.0 + _HAV_REL_SLACK
    ) + _HAV_ABS_SLACK


@njit(cache=True, nogil=True)
def trackintel_distance_m(lon_1: float, lat_1: float, lon_2: float, lat_2: float) -> float:
    """trackintel's ``point_haversine_dist(..., float_flag=True)``, operation for operation.

    Despite its name it is the spherical law of cosines (R = 6,371,000 m); NaN when rounding takes
    the cosine below -1.
    """
    lon_1 = lon_1 * _DEG2RAD
    lat_1 = lat_1 * _DEG2RAD
    lon_2 = lon_2 * _DEG2RAD
    lat_2 = lat_2 * _DEG2RAD
    cos_lat2 = math.cos(lat_2)
    cos_lat1 = math.cos(lat_1)
    cos_lat_d = math.cos(lat_1 - lat_2)
    cos_lon_d = math.cos(lon_1 - lon_2)
    return EARTH_RADIUS_M * math.acos(cos_lat_d - cos_lat1 * cos_lat2 * (1 - cos_lon_d))


@njit(cache=True, nogil=True, inline="always")
def _rotate(phi: float, ref_phi: float, ref_cos: float, ref_sin: float) -> tuple[float, float]:
    """cos and sin of ``phi`` from those of a nearby ``ref_phi`` (Taylor, error below 1e-18)."""
    d = phi - ref_phi
    d2 = d * d
    cd = 1.0 - d2 * (0.5 - d2 * (1.0 / 24.0 - d2 * (1.0 / 720.0)))
    sd = d * (1.0 - d2 * (1.0 / 6.0 - d2 * (1.0 / 120.0 - d2 * (1.0 / 5040.0))))
    return ref_cos * cd - ref_sin * sd, ref_sin * cd + ref_cos * sd


@njit(cache=True, nogil=True, inline="always")
def _is_far(
    lat_a: float,
    lon_a: float,
    cos_a: float,
    sin_a: float,
    lat_p: float,
    lon_p: float,
    dist_threshold_m: float,
    hav_lo: float,
    hav_hi: float,
) -> bool:
    """trackintel's ``point_haversine_dist(anchor, p) >= dist_threshold`` without its trig.

    With dphi, dlam the latitude and longitude differences (radians),
    ``hav(theta) = hav(dphi) + cos(phi_a) cos(phi_p) hav(dlam)`` exactly. We use
    ``hav(x) ~ x^2/4`` (error <= x^4/48) and ``cos(phi_p) ~ cos(phi_a) - sin(phi_a) dphi``
    (error <= dphi^2/2 + |dphi|^3/6), add the rounding allowances, and decide only when the whole
    interval lies on one side of the bracket around the threshold.
    """
    dlon_deg = lon_p - lon_a
    if -180.0 <= dlon_deg <= 180.0:
        dphi = (lat_p - lat_a) * _DEG2RAD
        dlam = dlon_deg * _DEG2RAD
        dphi2 = dphi * dphi
        dlam2 = dlam * dlam
        adphi = abs(dphi)
        term_lat = 0.25 * dphi2
        term_lon = 0.25 * cos_a * (cos_a - sin_a * dphi) * dlam2
        hav = term_lat + term_lon
        err = (
            (dphi2 * dphi2 + dlam2 * dlam2) * (1.0 / 48.0)
            + (0.5 * dphi2 + adphi * dphi2 * (1.0 / 6.0)) * 0.25 * dlam2
            + _TERM_REL_SLACK * (term_lat + 0.25 * dlam2 * (1.0 + adphi))
        )
        if hav + err < hav_lo:
            return False
        if hav - err > hav_hi and hav + err < _HAV_FAST_MAX:
            return True
    return trackintel_distance_m(lon_a, lat_a, lon_p, lat_p) >= dist_threshold_m


@njit(cache=True, nogil=True)
def sliding_stays(
    tracked_at_us: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    keep: np.ndarray,
    offsets: np.ndarray,
    dist_threshold_m: float,
    hav_lo: float,
    hav_hi: float,
    time_threshold_us: int,
    gap_threshold_us: int,
    include_last: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stay points of every track ``offsets[g]:offsets[g + 1]`` (each sorted by time), skipping
    the fixes that ``keep`` drops.

    Returns ``(group, start, end)``: the stay of group ``g`` covers the kept fixes of
    ``start:end``; it finished at ``tracked_at_us[end]`` (the fix that left), or at the track's
    last fix when ``end`` is the end of the track (``include_last``). A dropped fix is a repeat
    of a kept one with the same time just before it, so comparing times with the fix before,
    dropped or not, gives trackintel's gaps, and the track's last fix has its last kept time.
    """
    group = np.empty(64, np.int64)
    start_idx = np.empty(64, np.int64)
    end_idx = np.empty(64, np.int64)
    count = 0
    for g in range(offsets.size - 1):
        lo = offsets[g]
        hi = offsets[g + 1]
        if hi <= lo:
            continue
        # Room for every stay this track can have (they are disjoint, each lasts the time
        # threshold), reserved here: growing the buffers inside the loop below slows it 3-fold.
        most = hi - lo + 1
        if time_threshold_us > 0:
            most = min(most, (tracked_at_us[hi - 1] - tracked_at_us[lo]) // time_threshold_us + 2)
        if count + most > group.size:
            size = max(2 * group.size, count + most)
            group, start_idx, end_idx = (
                _grow(group, size),
                _grow(start_idx, size),
                _grow(end_idx, size),
            )
        start = lo
        lat_a = lat[lo]
        lon_a = lon[lo]
        ref_phi = lat_a * _DEG2RAD
        ref_cos = math.cos(ref_phi)
        ref_sin = math.sin(ref_phi)
        cos_a = ref_cos
        sin_a = ref_sin
        for curr in range(lo + 1, hi):
            if not keep[curr]:
                continue
            if tracked_at_us[curr] - tracked_at_us[curr - 1] <= gap_threshold_us:
                if not _is_far(
                    lat_a,
                    lon_a,
                    cos_a,
                    sin_a,
                    lat[curr],
                    lon[curr],
                    dist_threshold_m,
                    hav_lo,
                    hav_hi,
                ):
                    continue
                if tracked_at_us[curr] - tracked_at_us[start] >= time_threshold_us:
                    group[count] = g
                    start_idx[count] = start
                    end_idx[count] = curr
                    count += 1
            # A gap, or the fix left the anchor's circle: it becomes the new anchor.
            start = curr
            lat_a = lat[curr]
            lon_a = lon[curr]
            phi = lat_a * _DEG2RAD
            if abs(phi - ref_phi) > _REF_SPAN_RAD:
                ref_phi = phi
                ref_cos = math.cos(phi)
                ref_sin = math.sin(phi)
            cos_a, sin_a = _rotate(phi, ref_phi, ref_cos, ref_sin)
        # trackintel keeps the open stay only on request, and only if it lasted long enough.
        if include_last and tracked_at_us[hi - 1] - tracked_at_us[start] >= time_threshold_us:
            group[count] = g
            start_idx[count] = start
            end_idx[count] = hi
            count += 1
    return group[:count].copy(), start_idx[:count].copy(), end_idx[:count].copy()


@njit(cache=True, nogil=True)
def _grow(values: np.ndarray, size: int) -> np.ndarray:
    bigger = np.empty(size, values.dtype)
    bigger[: values.size] = values
    return bigger


@njit(cache=True, nogil=True)
def stay_centroids(
    lat: np.ndarray,
    lon: np.ndarray,
    keep: np.ndarray,
    start_idx: np.ndarray,
    end_idx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """trackintel's stay position, ``angle_centroid_multipoints`` of the distinct points, and the
    number of fixes of each stay (those ``keep`` keeps): ``(lat, lon, n_fixes)``.

    trackintel unions the fixes' points (``union_all``, which keeps one of each equal coordinate
    pair, ``0.0 == -0.0``), then takes the arithmetic mean of latitude and the circular mean of
    longitude, ``atan2(mean sin, mean cos)``. The longitudes are summed as offsets from the first
    one (a rotation, so the mean is unchanged) which needs no trig for a stay a few km wide.
    """
    m = start_idx.size
    out_lat = np.empty(m, np.float64)
    out_lon = np.empty(m, np.float64)
    out_n = np.empty(m, np.int64)
    longest = 1
    for j in range(m):
        longest = max(longest, end_idx[j] - start_idx[j])
    bits = 4
    while (1 << bits) < 2 * longest:
        bits += 1
    stamp = np.full(1 << bits, -1, np.int64)
    slot_row = np.empty(1 << bits, np.int64)
    lat_bits = lat.view(np.uint64)
    lon_bits = lon.view(np.uint64)
    for j in range(m):
        s = start_idx[j]
        e = end_idx[j]
        lat0 = lat[s]
        lon0 = lon[s]
        if e - s == 1:
            out_lat[j] = lat0
            out_lon[j] = lon0
            out_n[j] = 1
            continue
        # A table just big enough for this stay keeps small stays in cache.
        tbits = 4
        while (1 << tbits) < 2 * (e - s):
            tbits += 1
        mask = (1 << tbits) - 1
        shift = np.uint64(64 - tbits)
        n_fixes = 0
        n_distinct = 0
        sum_dlat = 0.0
        sum_sin = 0.0
        sum_cos = 0.0
        prev_la = math.nan
        prev_lo = math.nan
        for i in range(s, e):
            if not keep[i]:
                continue
            n_fixes += 1
            la = lat[i]
            lo = lon[i]
            if la == prev_la and lo == prev_lo:  # the common repeat, found without hashing
                continue
            prev_la = la
            prev_lo = lo
            # union_all compares values, not bits: -0.0 is 0.0.
            key_a = np.uint64(0) if la == 0.0 else lat_bits[i]
            key_b = np.uint64(0) if lo == 0.0 else lon_bits[i]
            h = np.int64(((key_a ^ (key_b * _MIX_A)) * _MIX_B) >> shift)
            seen = False
            while stamp[h] == j:
                r = slot_row[h]
                if lat[r] == la and lon[r] == lo:
                    seen = True
                    break
                h = (h + 1) & mask
            if seen:
                continue
            stamp[h] = j
            slot_row[h] = i
            n_distinct += 1
            sum_dlat += la - lat0
            d_deg = lo - lon0
            if d_deg > 180.0:
                d_deg -= 360.0
            elif d_deg < -180.0:
                d_deg += 360.0
            d = d_deg * _DEG2RAD
            if -1e-3 < d < 1e-3:  # a few km: two Taylor terms are exact to 1e-17
                d2 = d * d
                sum_sin += d - d * d2 * (1.0 / 6.0)
                sum_cos += 1.0 - 0.5 * d2
            else:
                sum_sin += math.sin(d)
                sum_cos += math.cos(d)
        out_n[j] = n_fixes
        out_lat[j] = lat0 + sum_dlat / n_distinct
        mean_lon = lon0 + math.atan2(sum_sin, sum_cos) * _RAD2DEG
        if mean_lon > 180.0:
            mean_lon -= 360.0
        elif mean_lon < -180.0:
            mean_lon += 360.0
        out_lon[j] = mean_lon
    return out_lat, out_lon, out_n


@njit(cache=True, nogil=True)
def scan_order(keys: np.ndarray, tracked_at_us: np.ndarray) -> tuple[bool, int]:
    """Whether rows are in (key, time) order already, and if so how many keys there are."""
    groups = 1 if keys.size else 0
    for i in range(1, keys.size):
        if keys[i] != keys[i - 1]:
            if keys[i] < keys[i - 1]:
                return False, 0
            groups += 1
        elif tracked_at_us[i] < tracked_at_us[i - 1]:
            return False, 0
    return True, groups


@njit(cache=True, nogil=True)
def track_offsets(
    keys: np.ndarray,
    tracked_at_us: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    drop_duplicates: bool,
    starts: np.ndarray,
    keep: np.ndarray,
) -> int:
    """Fill ``starts`` (one more than the keys) with where each key's track starts and
    ``keep`` (all true on entry) with the fixes to keep; return how many are dropped. ``keys``
    and ``tracked_at_us`` are sorted.

    A repeat is a fix equal to an earlier one in key, time and the bits of latitude and longitude
    (``DataFrame.drop_duplicates`` keeps the first; it compares points by their WKB, so 0.0 and
    -0.0 differ). In sorted input repeats sit in the same run of equal key and time.
    """
    n = keys.size
    dropped = 0
    lat_bits = lat.view(np.int64)
    lon_bits = lon.view(np.int64)
    starts[0] = 0
    groups = 1
    i = 1
    while i < n:
        if keys[i] != keys[i - 1]:
            starts[groups] = i
            groups += 1
        elif drop_duplicates and tracked_at_us[i] == tracked_at_us[i - 1]:
            run_end = i + 1
            while (
                run_end < n
                and keys[run_end] == keys[i]
                and tracked_at_us[run_end] == tracked_at_us[i]
            ):
                run_end += 1
            dropped += _mark_repeats(lat_bits, lon_bits, i - 1, run_end, keep)
            i = run_end
            continue
        i += 1
    starts[starts.size - 1] = n
    return dropped


@njit(cache=True, nogil=True)
def _mark_repeats(
    lat_bits: np.ndarray, lon_bits: np.ndarray, lo: int, hi: int, keep: np.ndarray
) -> int:
    """Clear ``keep`` of the repeats among fixes ``lo:hi`` (one key, one time); their number."""
    dropped = 0
    if hi - lo <= 32:
        for i in range(lo + 1, hi):
            for k in range(lo, i):
                if keep[k] and lat_bits[k] == lat_bits[i] and lon_bits[k] == lon_bits[i]:
                    keep[i] = False
                    dropped += 1
                    break
        return dropped
    # Many fixes at one instant (a broken logger): hashing keeps this linear.
    tbits = 4
    while (1 << tbits) < 2 * (hi - lo):
        tbits += 1
    mask = (1 << tbits) - 1
    shift = np.uint64(64 - tbits)
    used = np.zeros(1 << tbits, np.bool_)
    slot_row = np.empty(1 << tbits, np.int64)
    for i in range(lo, hi):
        h = np.int64(
            ((np.uint64(lat_bits[i]) ^ (np.uint64(lon_bits[i]) * _MIX_A)) * _MIX_B) >> shift
        )
        while used[h]:
            r = slot_row[h]
            if lat_bits[r] == lat_bits[i] and lon_bits[r] == lon_bits[i]:
                keep[i] = False
                dropped += 1
                break
            h = (h + 1) & mask
        if keep[i]:
            used[h] = True
            slot_row[h] = i
    return dropped


@njit(cache=True, nogil=True)
def sort_tracks(
    codes: np.ndarray,
    n_codes: int,
    tracked_at_us: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    rows: np.ndarray,
    keys_out: np.ndarray,
    times_out: np.ndarray,
    lat_out: np.ndarray,
    lon_out: np.ndarray,
) -> None:
    """Fixes in (code, time) order, equal ones in input order, into the ``*_out`` arrays;
    ``codes`` are ``0 .. n_codes - 1``.

    A counting sort by code moves each fix once, as one 24-byte row of ``rows`` (an ``(n, 3)``
    scratch array: random access costs a cache miss per row, not per column); then each code's
    rows, now contiguous, are stably sorted by time where they are not in order already.
    """
    n = codes.size
    offsets = np.zeros(n_codes + 1, np.int64)
    for i in range(n):
        offsets[codes[i] + 1] += 1
    for c in range(n_codes):
        offsets[c + 1] += offsets[c]
    fill = offsets[:-1].copy()
    lat_bits = lat.view(np.int64)
    lon_bits = lon.view(np.int64)
    for i in range(n):
        c = codes[i]
        j = fill[c]
        fill[c] += 1
        rows[j, 0] = tracked_at_us[i]
        rows[j, 1] = lat_bits[i]
        rows[j, 2] = lon_bits[i]
    lat_out_bits = lat_out.view(np.int64)
    lon_out_bits = lon_out.view(np.int64)
    for c in range(n_codes):
        lo = offsets[c]
        hi = offsets[c + 1]
        in_order = True
        for j in range(lo + 1, hi):
            if rows[j, 0] < rows[j - 1, 0]:
                in_order = False
                break
        if in_order:
            for j in range(lo, hi):
                keys_out[j] = c
                times_out[j] = rows[j, 0]
                lat_out_bits[j] = rows[j, 1]
                lon_out_bits[j] = rows[j, 2]
        else:
            by_time = np.argsort(rows[lo:hi, 0].copy(), kind="mergesort") + lo
            for k in range(hi - lo):
                j = by_time[k]
                keys_out[lo + k] = c
                times_out[lo + k] = rows[j, 0]
                lat_out_bits[lo + k] = rows[j, 1]
                lon_out_bits[lo + k] = rows[j, 2]


@njit(cache=True, nogil=True)
def first_bad_coordinate(lat: np.ndarray, lon: np.ndarray) -> tuple[int, int]:
    """``(row, 0 for latitude / 1 for longitude)`` of the first coordinate that is not a finite
    WGS84 value, or ``(-1, -1)``."""
    for i in range(lat.size):
        if not -90.0 <= lat[i] <= 90.0:
            return i, 0
        if not -180.0 <= lon[i] <= 180.0:
            return i, 1
    return -1, -1


@njit(cache=True, nogil=True)
def first_decrease(values: np.ndarray) -> int:
    """Index of the first value smaller than the one before it, or -1."""
    for i in range(1, values.size):
        if values[i] < values[i - 1]:
            return i
    return -1
