"""Scoring a reconstructed route against the ground truth of the synthetic city."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from citytrace.investigation.route import RouteVisit

EARTH_RADIUS_M = 6_371_000.0
RIDE_SAMPLES = 64


@dataclass(frozen=True)
class RouteScore:
    n_predicted: int
    n_truth: int
    true_positives: int  # predicted visits that match a true visit
    found: int  # true visits (long enough to count) matched by a prediction

    @property
    def precision(self) -> float:
        return self.true_positives / self.n_predicted if self.n_predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.n_truth if self.n_truth else 1.0


def _distance_m(lat: np.ndarray, lon: np.ndarray, plat: float, plon: float) -> np.ndarray:
    """Haversine distance from arrays of points (radians) to one point (radians)."""
    a = np.sin((lat - plat) / 2) ** 2 + np.cos(plat) * np.cos(lat) * np.sin((lon - plon) / 2) ** 2
    distance: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return distance


def _times(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(values.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()), dtype=np.int64)


def score_route(
    predicted: Sequence[RouteVisit],
    truth: pa.Table,
    *,
    max_distance_m: float = 150.0,
    min_truth_duration_min: float = 10.0,
) -> RouteScore:
    """Precision and recall of ``predicted`` against true visits.

    A predicted visit matches a true visit when their intervals overlap and their positions lie
    within ``max_distance_m``. Precision counts the predicted visits that match some true visit;
    recall counts the true visits of at least ``min_truth_duration_min`` that some prediction
    matches (shorter ones are below what any detector is asked to find, but a prediction that
    matches one is not a false alarm). A true visit that is a ride (optional columns
    ``end_latitude``, ``end_longitude`` not null) is the line from its start to its end, sampled
    every few hundred metres, and a prediction anywhere along it matches.
    """
    t0, t1 = _times(truth.column("started_at")), _times(truth.column("finished_at"))
    tlat = np.radians(truth.column("latitude").to_numpy())
    tlon = np.radians(truth.column("longitude").to_numpy())
    # Points along each true visit: a stay is one point, a ride a line of RIDE_SAMPLES points.
    if "end_latitude" in truth.column_names:
        elat = np.radians(truth.column("end_latitude").to_numpy(zero_copy_only=False))
        elon = np.radians(truth.column("end_longitude").to_numpy(zero_copy_only=False))
        elat = np.where(np.isnan(elat), tlat, elat)
        elon = np.where(np.isnan(elon), tlon, elon)
    else:
        elat, elon = tlat, tlon
    f = np.linspace(0.0, 1.0, RIDE_SAMPLES)[:, None]
    path_lat = tlat[None, :] + f * (elat - tlat)[None, :]
    path_lon = tlon[None, :] + f * (elon - tlon)[None, :]
    long_enough = (t1 - t0) >= min_truth_duration_min * 60e6
    found = np.zeros(len(t0), dtype=bool)
    true_positives = 0
    for v in predicted:
        p0 = int(v.started_at.timestamp() * 1e6)
        p1 = int(v.finished_at.timestamp() * 1e6)
        overlap = (t0 < p1) & (p0 < t1)
        if not overlap.any():
            continue
        dist = _distance_m(
            path_lat[:, overlap],
            path_lon[:, overlap],
            np.radians(v.latitude),
            np.radians(v.longitude),
        ).min(axis=0)
        match = np.zeros_like(overlap)
        match[overlap] = dist <= max_distance_m
        if match.any():
            true_positives += 1
            found |= match
    return RouteScore(
        n_predicted=len(predicted),
        n_truth=int(long_enough.sum()),
        true_positives=true_positives,
        found=int((found & long_enough).sum()),
    )
