"""The search grid: which records a visit can possibly touch, without comparing all pairs.

Every record gets a key when it is stored: a *level* (its class of uncertainty radius and its
class of duration), a grid *cell* of that level, and a time *bucket* of that level. A query turns
each case visit into the few keys it can touch and looks only at the records under those keys; the
exact test (:mod:`citytrace.exposure.definition`) then decides. The keys depend on nothing that a
query chooses (the distance ``D``, the overlap ``T``), so the store is built once and serves every
rule.

Why the candidate set is exact, not approximate
-----------------------------------------------
Let a visit at ``p = (φp, λp)`` with radius ``rp`` and a record at ``q`` with radius
``rq <= r_max(level)`` be a contact: their haversine distance ``d <= S``, with
``S = D + rp + r_max + tolerance``, and their intervals overlap by ``T`` or more.

1. *Latitude.* The haversine term is ``a = sin²(Δφ/2) + cos φp cos φq sin²(Δλ/2) >= sin²(Δφ/2)``,
   so ``d = 2R asin(√a) >= R |Δφ|``: ``q`` lies within ``S / R`` radians of latitude of ``p``, and
   in a grid row that meets ``[φp - S/R, φp + S/R]``.
2. *Longitude.* Both points lie within that band, so ``cos φp cos φq >= cos² φm`` where ``φm`` is
   the band's largest absolute latitude; then ``√a >= cos φm |sin(Δλ/2)|`` and ``d <= S`` gives
   ``|sin(Δλ/2)| <= sin(S / 2R) / cos φm``. With ``Δλ`` the wrapped difference in ``[-π, π]``,
   ``|Δλ| <= 2 asin(sin(S / 2R) / cos φm)``: ``q`` lies in a grid column that meets that interval
   around ``λp`` (taken modulo 360°, so the antimeridian is handled). When the band reaches a pole
   or the bound reaches 180°, every column of the band's rows is taken.
3. *Time.* An overlap of at least ``T`` needs ``start_q <= end_p - T`` and ``end_q >= start_p + T``;
   since ``end_q - start_q <= dur_max(level)``, ``start_q >= start_p + T - dur_max``. The bucket
   ``floor(start_q / bucket(level))`` therefore lies between the buckets of those two bounds
   (integer microseconds: no rounding at all).
4. *Rounding.* Rows and columns are computed as ``floor((x + offset) / size)``: additions and
   divisions by a positive constant are monotone in IEEE arithmetic, so an inequality between
   coordinates carries over to their cells. The bounds of step 1 and 2 are widened by a relative
   ``1e-9`` to cover their own rounding and that of the haversine (about ``1e-15`` relative).

So every contact of a visit is among the records under its keys: the rows and columns of its
bounding box in each level's grid, and the buckets of step 3. Cells are sized from the radius class
(about ``D + r_max`` for the usual ``D``), so that a box spans two to five cells a side; a larger
``D`` only widens the box, it never makes the search approximate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from citytrace.geo import EARTH_RADIUS_M

__all__ = [
    "BUCKET_US",
    "CELL_SIZES_M",
    "DURATION_CLASSES_MIN",
    "LAYOUT",
    "MAX_DURATION_MIN",
    "MAX_RADIUS_M",
    "N_LEVELS",
    "RADIUS_CLASSES_M",
    "Grid",
    "record_keys",
]

RADIUS_CLASSES_M: tuple[float, ...] = (10.0, 100.0, 1_000.0, 10_000.0)
"""Upper bounds of the uncertainty radius of each radius class: precise positions (venues, GPS
stays), rough positions (place visits, poor GPS), city cells, rural cells."""

CELL_SIZES_M: tuple[float, ...] = (32.0, 128.0, 1_024.0, 8_192.0)
"""Grid cell size of each radius class, in metres of latitude (columns are as many degrees of
longitude, so narrower away from the equator)."""

DURATION_CLASSES_MIN: tuple[int, ...] = (60, 240, 960, 3_840, 44_640)
"""Upper bounds of the duration of each duration class, in minutes (1 h, 4 h, 16 h, 64 h, 31
days); also the size of its time buckets."""

MAX_RADIUS_M = RADIUS_CLASSES_M[-1]
"""Largest uncertainty radius a record may have (10 km): anything vaguer is no evidence of a
contact at metres."""

MAX_DURATION_MIN = DURATION_CLASSES_MIN[-1]
"""Longest record (31 days)."""

N_DURATIONS = len(DURATION_CLASSES_MIN)
N_LEVELS = len(RADIUS_CLASSES_M) * N_DURATIONS
"""Levels are numbered ``radius_class * N_DURATIONS + duration_class``."""

BUCKET_US: NDArray[np.int64] = np.array(DURATION_CLASSES_MIN, dtype=np.int64) * 60_000_000
"""Time bucket size of each duration class, in microseconds."""

_DEG2RAD = math.pi / 180.0


@dataclass(frozen=True)
class Grid:
    """The grid of one radius class: latitude rows and longitude columns of fixed degrees.

    ``row = min(floor((lat + 90) / row_deg), n_rows - 1)``, ``col = min(floor((lon + 180) /
    col_deg), n_cols - 1)`` and ``cell = row * n_cols + col``; ``col_deg`` divides 360° so that the
    columns wrap exactly at the antimeridian.
    """

    cell_m: float
    row_deg: float
    col_deg: float
    n_rows: int
    n_cols: int

    @classmethod
    def of(cls, cell_m: float) -> Grid:
        deg = cell_m / (EARTH_RADIUS_M * _DEG2RAD)
        n_cols = int(360.0 // deg)
        return cls(
            cell_m=cell_m,
            row_deg=deg,
            col_deg=360.0 / n_cols,
            n_rows=math.ceil(180.0 / deg),
            n_cols=n_cols,
        )

    def cells(self, lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.int64]:
        """Cell of each position (same arithmetic as the query kernels)."""
        row = np.minimum(np.floor((lat + 90.0) / self.row_deg), self.n_rows - 1)
        col = np.minimum(np.floor((lon + 180.0) / self.col_deg), self.n_cols - 1)
        return row.astype(np.int64) * self.n_cols + col.astype(np.int64)


GRIDS: tuple[Grid, ...] = tuple(Grid.of(size) for size in CELL_SIZES_M)

LAYOUT: dict[str, object] = {
    "version": 1,
    "radius_classes_m": list(RADIUS_CLASSES_M),
    "cell_sizes_m": list(CELL_SIZES_M),
    "duration_classes_min": list(DURATION_CLASSES_MIN),
}
"""What the stored keys mean; a store written under another layout must be rebuilt."""


def grid_arrays() -> tuple[NDArray[np.float64], ...]:
    """Per radius class: max radius, row and column size in degrees, rows and columns (float)."""
    return (
        np.array(RADIUS_CLASSES_M, dtype=np.float64),
        np.array([g.row_deg for g in GRIDS], dtype=np.float64),
        np.array([g.col_deg for g in GRIDS], dtype=np.float64),
        np.array([g.n_rows for g in GRIDS], dtype=np.float64),
        np.array([g.n_cols for g in GRIDS], dtype=np.float64),
    )


def record_keys(
    latitude: NDArray[np.float64],
    longitude: NDArray[np.float64],
    radius_m: NDArray[np.float64],
    started_us: NDArray[np.int64],
    finished_us: NDArray[np.int64],
) -> tuple[NDArray[np.int16], NDArray[np.int64], NDArray[np.int64]]:
    """The ``(level, cell, bucket)`` key of each record (validated values only).

    Returns
    -------
    tuple of numpy.ndarray
        ``level`` (int16), ``cell`` (int64) and ``bucket`` (int64) per record.
    """
    radius_class = np.searchsorted(np.array(RADIUS_CLASSES_M), radius_m, side="left")
    duration_us = finished_us - started_us
    duration_class = np.searchsorted(BUCKET_US, duration_us, side="left")
    level = (radius_class * N_DURATIONS + duration_class).astype(np.int16)
    cell = np.empty(latitude.size, dtype=np.int64)
    for c, grid in enumerate(GRIDS):
        mask = radius_class == c
        if mask.any():
            cell[mask] = grid.cells(latitude[mask], longitude[mask])
    bucket = np.floor_divide(started_us, BUCKET_US[duration_class])
    return level, cell, bucket


def level_radius_class(level: int) -> int:
    """Radius class of a level."""
    return level // N_DURATIONS


def level_max_duration_us(level: int) -> int:
    """Longest duration a record of a level can have, in microseconds."""
    return int(BUCKET_US[level % N_DURATIONS])
