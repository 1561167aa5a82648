"""Stay points: where a person stayed, from their position fixes.

The rule is trackintel's ``generate_staypoints(method="sliding")`` (trackintel 1.4.2), adapted
there from Li et al. (2008). This module reproduces it exactly (same stays, same times, the same
position to well under a millimetre) at tens of millions of fixes per second.

References
----------
Li, Q., Zheng, Y., Xie, X., Chen, Y., Liu, W., & Ma, W. Y. (2008). Mining user similarity based
on location history. In Proceedings of the 16th ACM SIGSPATIAL international conference on
Advances in geographic information systems (p. 34). ACM.

Martin, H., Hong, Y., Wiedemann, N., Bucher, D., & Raubal, M. (2023). Trackintel: An open-source
Python library for human mobility analysis. Computers, Environment and Urban Systems, 101, 101938.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from citytrace.errors import InputError
from citytrace.trajectory import _kernels
from citytrace.trajectory._fixes import FixArrays, fix_arrays, readonly

__all__ = ["STAYPOINT_TIME", "check_thresholds", "generate_staypoints", "staypoints_of_track"]

STAYPOINT_TIME = pa.timestamp("us", tz="UTC")
_NS_PER_MINUTE = 60_000_000_000
_INT64_MAX = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class _Thresholds:
    """The options in the units the kernel compares, each comparison as trackintel makes it."""

    dist_threshold_m: float
    hav_lo: float
    hav_hi: float
    time_threshold_us: int  # a stay lasts at least this long: duration >= time_threshold_us
    gap_threshold_us: int  # a gap is longer than this: delta > gap_threshold_us

    @classmethod
    def from_options(
        cls, dist_threshold_m: float, time_threshold_min: float, gap_threshold_min: float
    ) -> _Thresholds:
        if not (math.isfinite(dist_threshold_m) and dist_threshold_m >= 0):
            raise InputError("must be a finite number >= 0", location="option dist_threshold_m")
        if not (math.isfinite(time_threshold_min) and time_threshold_min >= 0):
            raise InputError("must be a finite number >= 0", location="option time_threshold_min")
        if not gap_threshold_min > 0:  # also refuses NaN; inf means "never a gap"
            raise InputError("must be a number > 0", location="option gap_threshold_min")
        hav_lo, hav_hi = _kernels.haversine_thresholds(float(dist_threshold_m))
        # trackintel compares nanosecond Timedeltas: duration >= T and delta > G. In whole
        # microseconds that is duration >= ceil(T / 1000) and delta > floor(G / 1000).
        time_ns = _minutes_to_ns(float(time_threshold_min))
        gap_ns = _minutes_to_ns(float(gap_threshold_min))
        return cls(
            dist_threshold_m=float(dist_threshold_m),
            hav_lo=hav_lo,
            hav_hi=hav_hi,
            time_threshold_us=min(-(-time_ns // 1000), _INT64_MAX),
            gap_threshold_us=min(gap_ns // 1000, _INT64_MAX),
        )


def check_thresholds(
    *, dist_threshold_m: float, time_threshold_min: float, gap_threshold_min: float
) -> None:
    """Raise :class:`InputError` naming the first option that :func:`generate_staypoints` would
    refuse: a distance or time that is negative or not finite, a gap that is not positive."""
    _Thresholds.from_options(dist_threshold_m, time_threshold_min, gap_threshold_min)


def _minutes_to_ns(minutes: float) -> int:
    """Nanoseconds of ``pandas.Timedelta(minutes, unit="minutes")``, the way pandas rounds.

    pandas multiplies the whole minutes and the fraction (rounded to 10 decimals) separately, so
    e.g. 1/3 minute is 19,999,999,998 ns rather than 20 s. Values beyond the range of any
    timestamp difference saturate (pandas would refuse them).
    """
    if math.isinf(minutes) or minutes > 1e12:
        return _INT64_MAX * 1000
    base = int(minutes)
    frac = round(minutes - base, 10)
    return base * _NS_PER_MINUTE + int(frac * _NS_PER_MINUTE)


def generate_staypoints(
    fixes: pa.Table,
    *,
    dist_threshold_m: float = 100.0,
    time_threshold_min: float = 5.0,
    gap_threshold_min: float = 15.0,
    include_last: bool = False,
    exclude_duplicate_fixes: bool = True,
) -> pa.Table:
    """Detect stay points in position fixes with the sliding window of Li et al. (2008).

    The same rule, defaults and results as trackintel 1.4.2's
    ``generate_staypoints(method="sliding", distance_metric="haversine")``. Per user, on fixes
    sorted by time (equal times keep their row order), the first fix is the anchor; each next fix
    that comes more than ``gap_threshold_min`` after the previous one becomes the new anchor;
    otherwise, once a fix is ``dist_threshold_m`` or more from the anchor (trackintel's
    great-circle formula, R = 6,371,000 m), the fixes from the anchor up to it are a stay if it
    came ``time_threshold_min`` or more after the anchor, and it becomes the new anchor.

    Parameters
    ----------
    fixes : pyarrow.Table
        Columns ``user_id`` (integers or strings), ``tracked_at`` (timestamp with a time zone),
        ``latitude`` and ``longitude`` (WGS84 degrees); any row order; other columns are ignored.
        Not modified.
    dist_threshold_m : float, default 100
        How far from the anchor a fix must be to end the stay, in metres.
    time_threshold_min : float, default 5
        How long a stay must last, in minutes.
    gap_threshold_min : float, default 15
        Fixes further apart than this (minutes) are never in the same stay; ``inf`` for no limit.
    include_last : bool, default False
        Also return the stay still open at a user's last fix (Li et al. only count a stay once the
        user leaves it), if it lasted long enough.
    exclude_duplicate_fixes : bool, default True
        Ignore a fix equal to an earlier one in user, time and coordinates (bit for bit), as
        trackintel's ``exclude_duplicate_pfs``.

    Returns
    -------
    pyarrow.Table
        One row per stay, sorted by ``user_id`` then ``started_at``: ``user_id`` (int64 or the
        input's string type), ``started_at`` (the anchor's time), ``finished_at`` (the time of the
        fix that left, or of the last fix for an open stay), both ``timestamp[us, tz=UTC]``,
        ``latitude`` and ``longitude`` (float64: trackintel's centroid of the distinct points:
        mean latitude, circular mean longitude) and ``n_fixes`` (int64, fixes in the stay).

    Raises
    ------
    InputError
        A missing or mistyped column, an empty value, a coordinate that is not a finite WGS84
        value, a time finer than a microsecond (naming the row), or an invalid option.

    Notes
    -----
    As in trackintel, a stay lasts until the first fix outside it, so it can include a tracking
    gap of up to ``gap_threshold_min``.

    Where this differs from trackintel 1.4.2, on purpose:

    - duplicates are judged on the four fix columns; trackintel's ``drop_duplicates`` also
      compares any other column (two fixes differing only in, say, elevation are both kept there);
    - a distance that trackintel's law of cosines cannot compute (nearly antipodal anchor and fix:
      ``math.acos`` of a value below -1) counts as "not far" instead of raising ``ValueError``;
    - options are checked (trackintel accepts negative thresholds), ``gap_threshold_min=inf`` is
      allowed, and times finer than a microsecond are refused rather than compared in ns;
    - positions are summed in another order than GEOS's, so they differ in the last bits (about
      1e-8 m on GeoLife and the benchmark tracks).
    """
    thresholds = _Thresholds.from_options(dist_threshold_m, time_threshold_min, gap_threshold_min)
    tracks = _Tracks.from_fixes(fix_arrays(fixes), exclude_duplicate_fixes=exclude_duplicate_fixes)
    group, start, end = _kernels.sliding_stays(
        tracks.tracked_at_us,
        tracks.latitude,
        tracks.longitude,
        tracks.keep,
        tracks.offsets,
        thresholds.dist_threshold_m,
        thresholds.hav_lo,
        thresholds.hav_hi,
        thresholds.time_threshold_us,
        thresholds.gap_threshold_us,
        include_last,
    )
    latitude, longitude, n_fixes = _kernels.stay_centroids(
        tracks.latitude, tracks.longitude, tracks.keep, start, end
    )
    finished = np.minimum(end, tracks.offsets[group + 1] - 1)
    return pa.table(
        {
            "user_id": tracks.user_ids.take(pa.array(group)),
            "started_at": pa.array(tracks.tracked_at_us[start], STAYPOINT_TIME),
            "finished_at": pa.array(tracks.tracked_at_us[finished], STAYPOINT_TIME),
            "latitude": pa.array(latitude, pa.float64()),
            "longitude": pa.array(longitude, pa.float64()),
            "n_fixes": pa.array(n_fixes, pa.int64()),
        }
    )


@dataclass(frozen=True)
class _Tracks:
    """All users' fixes, sorted by (user, time); user ``g`` owns rows
    ``offsets[g]:offsets[g + 1]`` and is ``user_ids[g]``; ``keep`` is false for the duplicates
    to ignore (they are skipped in place: copying the rest costs more than the detection)."""

    user_ids: pa.Array
    tracked_at_us: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    keep: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_fixes(cls, fixes: FixArrays, *, exclude_duplicate_fixes: bool) -> _Tracks:
        # Large arrays are allocated by numpy (which asks for huge pages) and filled by the
        # kernels: first-touch page faults otherwise cost as much as the detection itself.
        times = fixes.tracked_at_us
        latitude, longitude = fixes.latitude, fixes.longitude
        user_column = fixes.user_id
        user_ids: pa.Array | None = None
        in_order = False
        if pa.types.is_integer(user_column.type):
            keys = _numpy_int64(user_column)
            in_order, n_users = _kernels.scan_order(keys, times)
        if not in_order:
            # Ranks of the users in sorted order: one hash pass, a sort of the distinct users.
            distinct = pc.unique(user_column)
            user_ids = distinct.take(pc.sort_indices(distinct))
            n_users = len(user_ids)
            codes = pc.index_in(user_column, value_set=user_ids).to_numpy()
            keys = readonly(codes.astype(np.int64))
            in_order, _ = _kernels.scan_order(keys, times)
            if not in_order:
                n = keys.size
                out = (np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n), np.empty(n))
                rows = np.empty((n, 3), np.int64)
                _kernels.sort_tracks(keys, n_users, times, latitude, longitude, rows, *out)
                del rows
                keys, times, latitude, longitude = (readonly(values) for values in out)
        offsets = np.empty(n_users + 1, np.int64)
        keep = np.ones(keys.size, np.bool_)
        _kernels.track_offsets(
            keys, times, latitude, longitude, exclude_duplicate_fixes, offsets, keep
        )
        if user_ids is None:
            user_ids = pa.array(keys[offsets[:-1]], pa.int64())
        return cls(user_ids, times, latitude, longitude, readonly(keep), offsets)


def _numpy_int64(column: pa.ChunkedArray) -> np.ndarray:
    if column.num_chunks == 1:
        return readonly(column.chunk(0).to_numpy())
    return readonly(np.ascontiguousarray(column.to_numpy(), dtype=np.int64))


def staypoints_of_track(
    tracked_at_us: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    dist_threshold_m: float = 100.0,
    time_threshold_min: float = 5.0,
    gap_threshold_min: float = 15.0,
    include_last: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stay points of one user's track: the kernel of :func:`generate_staypoints`.

    Parameters
    ----------
    tracked_at_us : numpy.ndarray of int64
        Fix times in microseconds since the epoch (UTC), non-decreasing; equal times are taken in
        the given order. Duplicates are not removed here.
    lat, lon : numpy.ndarray of float64
        WGS84 degrees, same length. The arrays are not modified.
    dist_threshold_m, time_threshold_min, gap_threshold_min, include_last
        As for :func:`generate_staypoints`.

    Returns
    -------
    start_idx, end_idx : numpy.ndarray of int64
        Stay ``k`` is made of fixes ``start_idx[k]:end_idx[k]``; it started at
        ``tracked_at_us[start_idx[k]]`` and finished at ``tracked_at_us[end_idx[k]]``, the fix that
        left, or at the last fix when ``end_idx[k] == len(tracked_at_us)`` (``include_last``).
    lat, lon : numpy.ndarray of float64
        Position of each stay (trackintel's centroid of the distinct points).

    Raises
    ------
    InputError
        Arrays of different lengths or kinds, times out of order or coordinates that are not
        finite WGS84 values (naming the index), or an invalid option.
    """
    thresholds = _Thresholds.from_options(dist_threshold_m, time_threshold_min, gap_threshold_min)
    times = np.asarray(tracked_at_us)
    if times.ndim != 1 or not np.issubdtype(times.dtype, np.integer):
        raise InputError("must be a 1-d array of int64 microseconds", location="tracked_at_us")
    times = readonly(np.ascontiguousarray(times, dtype=np.int64))
    latitude = readonly(np.ascontiguousarray(lat, dtype=np.float64))
    longitude = readonly(np.ascontiguousarray(lon, dtype=np.float64))
    if latitude.shape != times.shape or longitude.shape != times.shape:
        raise InputError("tracked_at_us, lat and lon must be 1-d arrays of the same length")
    back = _kernels.first_decrease(times)
    if back >= 0:
        raise InputError(
            "tracked_at_us is earlier than the time before it", location=f"index {back}"
        )
    row, which = _kernels.first_bad_coordinate(latitude, longitude)
    if row >= 0:
        what = (
            "lat is not a number in -90..90" if which == 0 else "lon is not a number in -180..180"
        )
        raise InputError(what, location=f"index {row}")
    offsets = np.array([0, times.size], np.int64)
    every_fix = readonly(np.ones(times.size, np.bool_))
    _, start, end = _kernels.sliding_stays(
        times,
        latitude,
        longitude,
        every_fix,
        offsets,
        thresholds.dist_threshold_m,
        thresholds.hav_lo,
        thresholds.hav_hi,
        thresholds.time_threshold_us,
        thresholds.gap_threshold_us,
        include_last,
    )
    stay_lat, stay_lon, _ = _kernels.stay_centroids(latitude, longitude, every_fix, start, end)
    return start, end, stay_lat, stay_lon
