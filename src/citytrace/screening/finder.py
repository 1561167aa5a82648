"""The clinic finder: the nearest clinics to a point, with their kind, whether they are open,
the current wait and the next free slot.

Distances are great-circle (haversine) distances to the clinic's position. A clinic placed by
its district only (``location_precision = district``) is marked ``approximate``: its distance
may be off by the size of a district (a few kilometres). Clinics without a position are not
found by distance (see the import report).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.db import utcnow
from citytrace.geo import haversine_m
from citytrace.screening import booking, clinics, queue
from citytrace.screening.models import Clinic, ClinicKind, LocationPrecision

__all__ = ["NearbyClinic", "nearest"]


@dataclass(frozen=True)
class NearbyClinic:
    clinic: Clinic
    distance_m: float
    approximate: bool
    open_now: bool
    current_wait_min: float | None
    """The wait of someone arriving now (``None`` when closed)."""
    next_free_slot: datetime | None


def nearest(
    *,
    session: Session,
    latitude: float,
    longitude: float,
    limit: int = 5,
    open_now: bool = False,
    kind: ClinicKind | None = None,
    max_distance_m: float | None = None,
    now: datetime | None = None,
) -> list[NearbyClinic]:
    """Up to ``limit`` active clinics nearest to (``latitude``, ``longitude``), nearest first;
    with ``open_now`` only those open at ``now``."""
    now = now or utcnow()
    query = select(Clinic).where(
        Clinic.active.is_(True),
        Clinic.latitude.is_not(None),
        Clinic.longitude.is_not(None),
        Clinic.location_precision != LocationPrecision.UNKNOWN,
    )
    if kind is not None:
        query = query.where(Clinic.kind == kind)
    candidates = session.scalars(query).all()
    if not candidates:
        return []
    lat = np.array([c.latitude for c in candidates], dtype=np.float64)
    lon = np.array([c.longitude for c in candidates], dtype=np.float64)
    distances = haversine_m(latitude, longitude, lat, lon)
    found: list[NearbyClinic] = []
    for i in np.argsort(distances, kind="stable"):
        distance = float(distances[i])
        if max_distance_m is not None and distance > max_distance_m:
            break
        clinic = candidates[int(i)]
        is_open = clinics.is_open(clinic, now)
        if open_now and not is_open:
            continue
        slot = booking.next_free_slot(session=session, clinic=clinic, now=now)
        found.append(
            NearbyClinic(
                clinic=clinic,
                distance_m=round(distance, 1),
                approximate=clinic.location_precision == LocationPrecision.DISTRICT,
                open_now=is_open,
                current_wait_min=(
                    queue.estimated_wait_min(session=session, clinic=clinic, now=now)
                    if is_open
                    else None
                ),
                next_free_slot=None if slot is None else slot.starts_at,
            )
        )
        if len(found) >= limit:
            break
    return found
