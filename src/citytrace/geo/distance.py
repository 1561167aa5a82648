"""Great-circle distance on a spherical Earth."""

from __future__ import annotations

from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M = 6_371_000.0
"""Mean Earth radius (IUGG), the radius trackintel and scikit-mobility use."""


@overload
def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float: ...  # type: ignore[overload-overlap]


@overload
def haversine_m(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]: ...


def haversine_m(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> float | NDArray[np.float64]:
    """Great-circle distance in metres between points given in degrees.

    Haversine formula (Sinnott 1984) on a sphere of radius 6,371,000 m; numpy broadcasting
    applies, so any argument may be an array.

    Parameters
    ----------
    lat1, lon1, lat2, lon2
        WGS84 latitude and longitude in decimal degrees.

    Returns
    -------
    float or numpy.ndarray
        A float when all four arguments are scalars, else an array of the broadcast shape.
    """
    phi1 = np.radians(np.asarray(lat1, dtype=np.float64))
    phi2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = phi2 - phi1
    dlam = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlam / 2.0) ** 2
    d = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    if d.ndim == 0:
        return float(d)
    return np.asarray(d, dtype=np.float64)
