"""The city people live in: venues, transit stops, telecom cell sites, and lookups over them.

Derived from ``(city, seed, n_people)`` only, so every batch of people, and every person
regenerated alone, sees the same world.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import shapely
from numpy.typing import NDArray

from citytrace.geo import CityGeography, load_city
from citytrace.geo.distance import EARTH_RADIUS_M
from citytrace.synth import rng as streams
from citytrace.synth.kinds import BUS, KINDS, STEMS, SUBWAY

TRANSIT_GRID_M = 250.0
"""Cell size of the nearest-stop lookup grid."""

CELL_SPACING_M = 400.0
"""Spacing of the telecom cell-site grid: every point lies within 283 m of a site."""

CELL_RADIUS_M = (300, 2000)
"""Range of a cell's stated radius (most cells are small)."""

M_PER_DEG = np.pi / 180.0 * EARTH_RADIUS_M


@dataclass(frozen=True)
class Grid:
    """A regular longitude-latitude grid over the city, ``nx`` by ``ny`` cells."""

    lon0: float
    lat0: float
    dlon: float
    dlat: float
    nx: int
    ny: int

    @classmethod
    def over(cls, geo: CityGeography, step_m: float, margin_m: float) -> Grid:
        """A grid of ``step_m`` cells covering the city's bounds plus a margin."""
        min_lon, min_lat, max_lon, max_lat = geo.bounds()
        dlat = step_m / M_PER_DEG
        dlon = step_m / (M_PER_DEG * np.cos(np.radians(geo.center[0])))
        lon0 = min_lon - margin_m / step_m * dlon
        lat0 = min_lat - margin_m / step_m * dlat
        nx = int(np.ceil((max_lon - lon0) / dlon + margin_m / step_m)) + 1
        ny = int(np.ceil((max_lat - lat0) / dlat + margin_m / step_m)) + 1
        return cls(lon0, lat0, dlon, dlat, nx, ny)

    def nearest_node(
        self, lat: NDArray[np.float64], lon: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Column and row of the grid node nearest to each point (clipped to the grid)."""
        ix = np.clip(np.rint((lon - self.lon0) / self.dlon), 0, self.nx - 1).astype(np.int64)
        iy = np.clip(np.rint((lat - self.lat0) / self.dlat), 0, self.ny - 1).astype(np.int64)
        return ix, iy

    def node_lat_lon(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Latitude and longitude of every node, row-major (``iy * nx + ix``)."""
        iy, ix = np.divmod(np.arange(self.nx * self.ny, dtype=np.int64), self.nx)
        return self.lat0 + iy * self.dlat, self.lon0 + ix * self.dlon


@dataclass(frozen=True)
class World:
    """Venues and lookups of one synthetic city (arrays indexed by venue id)."""

    geo: CityGeography
    venues: pa.Table
    kind: NDArray[np.int64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    district: NDArray[np.int64]
    neighbourhood: NDArray[np.int64]  # -1 when the venue lies in no neighbourhood
    dwell_min: NDArray[np.float64]
    district_share: NDArray[np.float64]  # share of residents per district (by area)
    # Venues are sorted by (kind, district): a (kind, district) bucket is a contiguous range.
    kd_start: NDArray[np.int64]
    kd_count: NDArray[np.int64]
    k_start: NDArray[np.int64]
    k_count: NDArray[np.int64]
    # (kind, neighbourhood) buckets index into kn_order.
    kn_order: NDArray[np.int64]
    kn_start: NDArray[np.int64]
    kn_count: NDArray[np.int64]
    stop_grid: Grid
    nearest_stop: NDArray[np.int64]  # (2, ny * nx): nearest subway station, bus stop
    cell_grid: Grid
    cell_lat: NDArray[np.float64]
    cell_lon: NDArray[np.float64]
    cell_radius_m: NDArray[np.int64]
    cell_ids: pa.Array

    def choose(
        self,
        kind: int,
        district: NDArray[np.int64],
        neighbourhood: NDArray[np.int64] | None,
        u: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        """A venue of ``kind`` per draw: in the neighbourhood when it has one, else the district.

        ``district = -1`` draws from the whole city.
        """
        start = np.where(district >= 0, self.kd_start[kind, district], self.k_start[kind])
        count = np.where(district >= 0, self.kd_count[kind, district], self.k_count[kind])
        pick = start + np.minimum((u * count).astype(np.int64), count - 1)
        if neighbourhood is not None:
            nb = np.maximum(neighbourhood, 0)
            n_count = np.where(neighbourhood >= 0, self.kn_count[kind, nb], 0)
            n_pick = self.kn_start[kind, nb] + np.minimum(
                (u * n_count).astype(np.int64), n_count - 1
            )
            pick = np.where(n_count > 0, self.kn_order[np.maximum(n_pick, 0)], pick)
        return np.asarray(pick, dtype=np.int64)

    def stop_near(
        self, mode: NDArray[np.int64], lat: NDArray[np.float64], lon: NDArray[np.float64]
    ) -> NDArray[np.int64]:
        """Venue id of the subway station (mode 0) or bus stop (mode 1) nearest each point."""
        ix, iy = self.stop_grid.nearest_node(lat, lon)
        return np.asarray(self.nearest_stop[mode, iy * self.stop_grid.nx + ix], dtype=np.int64)

    def cell_near(
        self, lat: NDArray[np.float64], lon: NDArray[np.float64], u: NDArray[np.float64]
    ) -> NDArray[np.int64]:
        """A serving cell site per point: the nearest, or with probability 0.2 a neighbour
        whose radius still covers the point."""
        ix, iy = self.cell_grid.nearest_node(lat, lon)
        nearest = iy * self.cell_grid.nx + ix
        step = np.minimum((u / 0.2 * 8).astype(np.int64), 7)
        dx = np.array([-1, 0, 1, -1, 1, -1, 0, 1])[step]
        dy = np.array([-1, -1, -1, 0, 0, 1, 1, 1])[step]
        jx = np.clip(ix + dx, 0, self.cell_grid.nx - 1)
        jy = np.clip(iy + dy, 0, self.cell_grid.ny - 1)
        other = jy * self.cell_grid.nx + jx
        dist = _plane_dist_m(lat, lon, self.cell_lat[other], self.cell_lon[other])
        use_other = (u < 0.2) & (dist <= self.cell_radius_m[other])
        return np.asarray(np.where(use_other, other, nearest), dtype=np.int64)


def _plane_dist_m(
    lat1: NDArray[np.float64],
    lon1: NDArray[np.float64],
    lat2: NDArray[np.float64],
    lon2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Equirectangular distance, accurate to well under 1 % at city scale."""
    kx = np.cos(np.radians((lat1 + lat2) / 2.0))
    return np.asarray(np.hypot((lon2 - lon1) * kx, lat2 - lat1) * M_PER_DEG, dtype=np.float64)


def _stem(name_ko: str, name_en: str) -> tuple[str, str]:
    """Place-name stem of a neighbourhood: 당산동3가 / Dangsan-dong 3(sam)-ga -> 당산 / Dangsan."""
    ko = re.sub(r"\d+가$", "", name_ko)
    if len(ko) > 2 and ko.endswith("동"):
        ko = ko[:-1]
    en = name_en.split(" ")[0]
    en = re.sub(r"-dong$", "", en)
    return ko, en


@cache
def build_world(city: str, seed: int, n_people: int) -> World:
    """The world of a synthetic city (cached: batches and single people share it)."""
    geo = load_city(city)
    rng = streams.city_generator(seed, streams.VENUES_STREAM)
    areas = geo.district_areas_km2()
    share = areas / areas.sum()
    n_districts = len(geo.districts)
    n_kinds = len(KINDS)
    counts = np.zeros((n_kinds, n_districts), dtype=np.int64)
    for k, spec in enumerate(KINDS):
        if spec.name == "home":
            continue
        expected = (
            spec.per_1000_people * n_people / 1000.0 * share
            + spec.per_district * share * n_districts
        )
        counts[k] = np.maximum(spec.min_per_district, np.rint(expected).astype(np.int64))
    kind = np.repeat(np.repeat(np.arange(n_kinds), n_districts), counts.ravel())
    district = np.repeat(np.tile(np.arange(n_districts), n_kinds), counts.ravel())
    n = kind.size
    d_codes = np.array([a.code for a in geo.districts], dtype=object)
    lat, lon = geo.points_from_uniform(d_codes[district], rng.random((n, 3)))
    _, nb_codes = geo.locate(lat, lon)
    nb_index = {a.code: i for i, a in enumerate(geo.neighbourhoods)}
    neighbourhood = np.array([nb_index.get(c, -1) if c else -1 for c in nb_codes], dtype=np.int64)
    u = rng.random((n, 6))
    dwell = np.array([KINDS[k].dwell_min for k in kind]) * (0.8 + 0.45 * u[:, 0])
    names_ko: list[str] = []
    names_en: list[str] = []
    addresses: list[str] = []
    routes: list[str | None] = []
    stems = [_stem(a.name_ko, a.name_en) for a in geo.neighbourhoods]
    for i in range(n):  # once per venue, to compose names
        spec = KINDS[kind[i]]
        local = (
            stems[neighbourhood[i]]
            if neighbourhood[i] >= 0
            else (
                geo.districts[district[i]].name_ko[:-1],
                geo.districts[district[i]].name_en.split("-")[0],
            )
        )
        place_named = spec.name in ("subway", "bus", "school") or u[i, 1] < 0.5
        s_ko, s_en = local if place_named else STEMS[int(u[i, 2] * len(STEMS))]
        ko_fmt, en_fmt = spec.names[int(u[i, 3] * len(spec.names))]
        names_ko.append(ko_fmt.format(s=s_ko))
        names_en.append(en_fmt.format(S=s_en))
        road = local[0] if local[0].endswith("로") else local[0] + "로"
        if u[i, 4] < 0.5:
            road += f"{1 + int(u[i, 5] * 40)}길"
        number = 1 + int(u[i, 5] * 997) % 300
        addresses.append(
            f"{geo.display_name_ko} {geo.districts[district[i]].name_ko} {road} {number}"
        )
        if kind[i] == SUBWAY:
            routes.append(f"{1 + int(u[i, 4] * 9)}호선")
        elif kind[i] == BUS:
            routes.append(str(100 + int(u[i, 4] * 7900)))
        else:
            routes.append(None)
    venue_id = np.arange(n, dtype=np.int64)
    pays = np.array([KINDS[k].card_rate > 0 for k in kind])
    merchant = [
        f"{(i * 7_919_317 + 1_234_567_891) % 10**10:010d}" if p else None
        for i, p in zip(venue_id.tolist(), pays.tolist(), strict=True)
    ]
    nb_code_arr = np.array([a.code for a in geo.neighbourhoods] + [None], dtype=object)
    venues = pa.table(
        {
            "venue_id": pa.array(venue_id, pa.int64()),
            "kind": pa.array([KINDS[k].name for k in kind], pa.string()),
            "name_ko": pa.array(names_ko, pa.string()),
            "name_en": pa.array(names_en, pa.string()),
            "address": pa.array(addresses, pa.string()),
            "district_code": pa.array(d_codes[district].tolist(), pa.string()),
            "neighbourhood_code": pa.array(nb_code_arr[neighbourhood].tolist(), pa.string()),
            "latitude": pa.array(lat, pa.float64()),
            "longitude": pa.array(lon, pa.float64()),
            "dwell_minutes": pa.array(np.rint(dwell).astype(np.int32), pa.int32()),
            "merchant_id": pa.array(merchant, pa.string()),
            "route": pa.array(routes, pa.string()),
            "requires_checkin": pa.array([KINDS[k].checkin for k in kind], pa.bool_()),
        }
    )
    kd_start = (np.cumsum(counts.ravel()) - counts.ravel()).reshape(counts.shape)
    k_count = counts.sum(axis=1)
    k_start = np.cumsum(k_count) - k_count
    n_nb = len(geo.neighbourhoods)
    key = kind * (n_nb + 1) + np.where(neighbourhood >= 0, neighbourhood, n_nb)
    kn_order = np.argsort(key, kind="stable")
    kn_count_full = np.bincount(key, minlength=n_kinds * (n_nb + 1)).reshape(n_kinds, n_nb + 1)
    kn_start_full = (np.cumsum(kn_count_full.ravel()) - kn_count_full.ravel()).reshape(
        kn_count_full.shape
    )
    stop_grid = Grid.over(geo, TRANSIT_GRID_M, 500.0)
    g_lat, g_lon = stop_grid.node_lat_lon()
    nearest_stop = np.stack(
        [_nearest(g_lat, g_lon, lat, lon, np.flatnonzero(kind == m)) for m in (SUBWAY, BUS)]
    )
    cell_grid = Grid.over(geo, CELL_SPACING_M, 1000.0)
    c_lat, c_lon = cell_grid.node_lat_lon()
    c_rng = streams.city_generator(seed, streams.CELLS_STREAM)
    lo, hi = CELL_RADIUS_M
    radius = np.rint(lo + (hi - lo) * c_rng.random(c_lat.size) ** 2).astype(np.int64)
    cell_ids = pa.array([f"450-05-{i:06d}" for i in range(c_lat.size)], pa.string())
    return World(
        geo=geo,
        venues=venues,
        kind=kind.astype(np.int64),
        lat=lat,
        lon=lon,
        district=district.astype(np.int64),
        neighbourhood=neighbourhood,
        dwell_min=np.rint(dwell),
        district_share=share,
        kd_start=kd_start,
        kd_count=counts,
        k_start=k_start,
        k_count=k_count,
        kn_order=kn_order.astype(np.int64),
        kn_start=kn_start_full[:, :n_nb].copy(),
        kn_count=kn_count_full[:, :n_nb].copy(),
        stop_grid=stop_grid,
        nearest_stop=nearest_stop,
        cell_grid=cell_grid,
        cell_lat=c_lat,
        cell_lon=c_lon,
        cell_radius_m=radius,
        cell_ids=cell_ids,
    )


def _nearest(
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    v_lat: NDArray[np.float64],
    v_lon: NDArray[np.float64],
    candidates: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Id of the candidate venue nearest each point (a GEOS tree in a locally square plane)."""
    kx = float(np.cos(np.radians(np.mean(lat))))
    tree = shapely.STRtree(shapely.points(v_lon[candidates] * kx, v_lat[candidates]))
    nearest = tree.query_nearest(shapely.points(lon * kx, lat), all_matches=False)
    out = np.empty(lat.size, dtype=np.int64)
    out[nearest[0]] = candidates[nearest[1]]
    return out
