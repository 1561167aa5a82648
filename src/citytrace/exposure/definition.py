"""What makes a contact: the exposure rule and the exact test of one (visit, record) pair.

Person P is a *contact* of case C when some visit ``v`` of C and some record ``r`` of P are

- close in space: the haversine distance between their positions, less both uncertainty radii
  (the gap between their circles), is at most ``distance_m``;
- together in time: ``min(v.end, r.end) - max(v.start, r.start)`` is at least
  ``min_overlap_min``.

A contact is *close* (the rest are *casual*) when some single pair is within
``close.max_distance_m`` for at least ``close.min_overlap_min``, and both positions are precise
(radius at most ``close.max_radius_m``: a venue or a GPS stay, never a telecom cell). The defaults
are the close-contact threshold that the KDCA and the US CDC used in 2020: within 2 metres (CDC: 6
feet) for 15 minutes or more. The CDC counts the 15 minutes cumulatively over 24 hours (from
October 2020); here a single pair of visit and record must last them, which is what location
records can show.

Distances are compared with a tolerance of :data:`TOLERANCE_M` (a micrometre): every engine
computes the same formula, but ``sin`` and ``cos`` may differ in their last bit between libraries;
a micrometre is far above that (about 1e-12 m at city distances) and far below anything a
position can resolve, so all engines take the same decisions. Times are integer microseconds,
compared exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from citytrace.errors import InputError
from citytrace.geo import haversine_m

__all__ = [
    "MAX_DISTANCE_M",
    "TOLERANCE_M",
    "CloseContactRule",
    "ExposureRule",
    "gap_m",
    "overlap_us",
]

TOLERANCE_M = 1e-6
"""Slack of every distance comparison, in metres (see the module docstring)."""

MAX_DISTANCE_M = 1_000.0
"""Largest ``distance_m`` a rule may have: a kilometre is no longer a contact."""


def _check(value: float, name: str, *, upper: float = math.inf) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InputError(f"must be a number, not {type(value).__name__}", location=name)
    if not (math.isfinite(value) and 0.0 <= value <= upper):
        limit = f" and at most {upper:g}" if math.isfinite(upper) else ""
        raise InputError(f"must be a finite number of at least 0{limit}", location=name)


@dataclass(frozen=True)
class CloseContactRule:
    """When a contact counts as close rather than casual (defaults: 2 m for 15 min, precise).

    Attributes
    ----------
    max_distance_m
        Largest gap between the two positions' circles, in metres.
    min_overlap_min
        Shortest time together in one pair of visit and record, in minutes.
    max_radius_m
        Largest uncertainty radius of either position, in metres, for the distance to mean
        anything at this scale.
    """

    max_distance_m: float = 2.0
    min_overlap_min: float = 15.0
    max_radius_m: float = 10.0

    def __post_init__(self) -> None:
        _check(self.max_distance_m, "close.max_distance_m", upper=MAX_DISTANCE_M)
        _check(self.min_overlap_min, "close.min_overlap_min")
        _check(self.max_radius_m, "close.max_radius_m")

    @property
    def min_overlap_us(self) -> int:
        """``min_overlap_min`` in whole microseconds."""
        return round(self.min_overlap_min * 60_000_000)


@dataclass(frozen=True)
class ExposureRule:
    """Who is a contact: within ``distance_m`` for at least ``min_overlap_min`` in one stay.

    Attributes
    ----------
    distance_m
        Largest gap between the circles of a visit and a record, in metres (0..1000).
    min_overlap_min
        Shortest overlap of their intervals, in minutes.
    close
        When a contact is close rather than casual.

    Notes
    -----
    Point-in-time records (a card payment, a check-in without check-out) get their interval when
    they are stored, from the dwell time of their kind of place
    (:func:`citytrace.exposure.records.normalise_records`): the store keeps intervals, and its
    keys depend on them, so the dwell table belongs to the store rather than to each query.
    """

    distance_m: float = 20.0
    min_overlap_min: float = 15.0
    close: CloseContactRule = field(default_factory=CloseContactRule)

    def __post_init__(self) -> None:
        _check(self.distance_m, "distance_m", upper=MAX_DISTANCE_M)
        _check(self.min_overlap_min, "min_overlap_min", upper=1e7)
        if not isinstance(self.close, CloseContactRule):
            raise InputError("must be a CloseContactRule", location="close")

    @property
    def min_overlap_us(self) -> int:
        """``min_overlap_min`` in whole microseconds."""
        return round(self.min_overlap_min * 60_000_000)

    @property
    def limit_m(self) -> float:
        """``distance_m`` with the tolerance: the largest gap that counts."""
        return self.distance_m + TOLERANCE_M


def gap_m(
    lat1: NDArray[np.float64],
    lon1: NDArray[np.float64],
    radius1_m: NDArray[np.float64],
    lat2: NDArray[np.float64],
    lon2: NDArray[np.float64],
    radius2_m: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Haversine distance between the centres less both radii (negative when circles overlap)."""
    return np.asarray(haversine_m(lat1, lon1, lat2, lon2) - radius1_m - radius2_m)


def overlap_us(
    start1_us: NDArray[np.int64],
    end1_us: NDArray[np.int64],
    start2_us: NDArray[np.int64],
    end2_us: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Length of the intersection of the intervals in microseconds (negative when apart)."""
    return np.minimum(end1_us, end2_us) - np.maximum(start1_us, start2_us)
