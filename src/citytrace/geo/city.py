"""A city's districts and neighbourhoods: lookup of points, sampling, outlines for maps.

A city is configuration: a folder holding ``city.json`` and two GeoJSON files (districts and
neighbourhoods). Seoul ships inside the package (``geo/data/seoul``, see its ``NOTICE.md``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from citytrace.errors import InputError, NotFoundError
from citytrace.geo.distance import EARTH_RADIUS_M

NEAREST_NEIGHBOURHOOD_M = 200.0
"""How far a point in a district may lie outside its neighbourhood polygons and still get one."""

_PACKAGE_DATA = "data"


@dataclass(frozen=True)
class Area:
    """A district, or a neighbourhood with ``parent_code`` naming its district."""

    code: str
    name_ko: str
    name_en: str
    parent_code: str | None


@dataclass(frozen=True)
class _Layer:
    """One level of areas, sorted by code, so that the lowest index is the lowest code."""

    areas: tuple[Area, ...]
    codes: NDArray[np.object_]  # codes plus a trailing None, so index -1 reads as None
    geoms: NDArray[np.object_]  # repaired, prepared shapely geometries in lon/lat
    bboxes: NDArray[np.float64]  # (n, 4) minx, miny, maxx, maxy
    features_json: str


class CityGeography:
    """Districts and neighbourhoods of one city, with vectorised point lookup.

    Build it with :func:`load_city`. All coordinates are WGS84 degrees; arrays are numpy.
    """

    def __init__(
        self,
        *,
        name: str,
        timezone: str,
        display_name_ko: str,
        display_name_en: str,
        center: tuple[float, float],
        zoom: int,
        districts: list[tuple[Area, BaseGeometry, dict[str, Any]]],
        neighbourhoods: list[tuple[Area, BaseGeometry, dict[str, Any]]],
    ) -> None:
        self.name = name
        self.timezone = timezone
        self.display_name_ko = display_name_ko
        self.display_name_en = display_name_en
        self.center = center  # (latitude, longitude) of the default map view
        self.zoom = zoom
        self._districts = _make_layer(districts)
        self._neighbourhoods = _make_layer(neighbourhoods)
        self.districts: tuple[Area, ...] = self._districts.areas
        self.neighbourhoods: tuple[Area, ...] = self._neighbourhoods.areas
        self._by_code: dict[str, Area] = {a.code: a for a in self.districts + self.neighbourhoods}
        district_index = {a.code: i for i, a in enumerate(self.districts)}
        self._parent_index = np.array(
            [district_index[a.parent_code or ""] for a in self.neighbourhoods], dtype=np.int64
        )
        # A local equirectangular plane in metres, for the nearest-neighbourhood fallback: over
        # a city's extent its scale error stays well below 1 %.
        self._lat0 = float(center[0])
        self._lon0 = float(center[1])
        self._ky = np.pi / 180.0 * EARTH_RADIUS_M
        self._kx = self._ky * float(np.cos(np.radians(self._lat0)))
        self._neighbourhood_geoms_m = shapely.transform(
            self._neighbourhoods.geoms[:-1].astype(object), self._to_plane
        )
        self._neighbourhood_tree_m = shapely.STRtree(self._neighbourhood_geoms_m)
        self._triangles: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None

    def __repr__(self) -> str:
        return (
            f"CityGeography(name={self.name!r}, districts={len(self.districts)}, "
            f"neighbourhoods={len(self.neighbourhoods)})"
        )

    def _to_plane(self, coords: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.empty_like(coords)
        out[:, 0] = (coords[:, 0] - self._lon0) * self._kx
        out[:, 1] = (coords[:, 1] - self._lat0) * self._ky
        return out

    def area(self, code: str) -> Area:
        """The district or neighbourhood with this code.

        Raises
        ------
        NotFoundError
            When the city has no area with that code.
        """
        try:
            return self._by_code[code]
        except KeyError:
            raise NotFoundError(f"{self.name} has no district or neighbourhood {code!r}") from None

    def district_index(self, code: str) -> int:
        """Position of a district in :attr:`districts` (raises :class:`NotFoundError`)."""
        area = self.area(code)
        if area.parent_code is not None:
            raise NotFoundError(f"{code!r} is a neighbourhood of {self.name}, not a district")
        return self.districts.index(area)

    def locate(
        self, lat: ArrayLike, lon: ArrayLike
    ) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
        """District and neighbourhood codes of points.

        A point belongs to a polygon that covers it (boundary included); a point covered by
        several polygons (a shared border, an overlap) gets the lowest code. A point inside a
        district but outside all of that district's neighbourhood polygons (simplified outlines
        leave slivers) gets the district's nearest neighbourhood within 200 m, else None. The
        neighbourhood returned always belongs to the district returned.

        Parameters
        ----------
        lat, lon
            Degrees; broadcast against each other. NaN gives None.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Object arrays of the broadcast shape: district codes and neighbourhood codes, None
            outside the city.
        """
        lat_a, lon_a = np.broadcast_arrays(
            np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        )
        shape_ = lat_a.shape
        y = np.ascontiguousarray(lat_a.ravel())
        x = np.ascontiguousarray(lon_a.ravel())
        d_idx = _first_covering(self._districts, x, y, None)
        inside = np.flatnonzero(d_idx >= 0)
        n_idx = np.full(x.size, -1, dtype=np.int64)
        if inside.size:
            n_idx[inside] = _first_covering(
                self._neighbourhoods, x[inside], y[inside], (d_idx[inside], self._parent_index)
            )
            gap = inside[n_idx[inside] < 0]
            if gap.size:
                n_idx[gap] = self._nearest_neighbourhood(x[gap], y[gap], d_idx[gap])
        districts = self._districts.codes[d_idx].reshape(shape_)
        neighbourhoods = self._neighbourhoods.codes[n_idx].reshape(shape_)
        return districts, neighbourhoods

    def _nearest_neighbourhood(
        self, x: NDArray[np.float64], y: NDArray[np.float64], d_idx: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        points = shapely.points((x - self._lon0) * self._kx, (y - self._lat0) * self._ky)
        pi, ti = self._neighbourhood_tree_m.query(
            points, predicate="dwithin", distance=NEAREST_NEIGHBOURHOOD_M
        )
        keep = self._parent_index[ti] == d_idx[pi]
        pi, ti = pi[keep], ti[keep]
        out = np.full(x.size, -1, dtype=np.int64)
        if pi.size:
            dist = shapely.distance(self._neighbourhood_geoms_m[ti], points[pi])
            order = np.lexsort((ti, dist, pi))
            pi, ti = pi[order], ti[order]
            first = np.r_[True, pi[1:] != pi[:-1]]
            out[pi[first]] = ti[first]
        return out

    def points_from_uniform(
        self, district_codes: ArrayLike, u: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Map uniform numbers to points uniformly distributed inside districts.

        Deterministic, so callers that draw their own numbers (one stream per person) get the
        same point however they batch. Uniform in the longitude-latitude plane, which over a
        city differs from uniform by area by well under 1 %.

        Parameters
        ----------
        district_codes
            One district code per point.
        u
            Array of shape ``(n, 3)`` with values in [0, 1).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Latitudes and longitudes, shape ``(n,)``.
        """
        codes = np.asarray(district_codes, dtype=object).ravel()
        lookup = {a.code: i for i, a in enumerate(self.districts)}
        try:
            d_idx = np.array([lookup[c] for c in codes], dtype=np.int64)
        except KeyError as exc:
            raise NotFoundError(f"{self.name} has no district {exc.args[0]!r}") from None
        return self._points_in_districts(d_idx, np.asarray(u, dtype=np.float64))

    def _points_in_districts(
        self, d_idx: NDArray[np.int64], u: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if u.shape != (d_idx.size, 3):
            raise ValueError(f"u must have shape ({d_idx.size}, 3), not {u.shape}")
        cum, tri = self._triangulation()
        # cum holds, per triangle, its district's index plus the district's cumulative area
        # share up to and including it: one searchsorted serves every district at once.
        k = np.searchsorted(cum, d_idx + u[:, 0], side="right")
        last = np.searchsorted(cum, d_idx + 1.0, side="left") - 1
        k = np.minimum(k, last)
        r1 = np.sqrt(u[:, 1])
        r2 = u[:, 2]
        a, b, c = tri[k, 0], tri[k, 1], tri[k, 2]
        p = (1.0 - r1)[:, None] * a + (r1 * (1.0 - r2))[:, None] * b + (r1 * r2)[:, None] * c
        return np.ascontiguousarray(p[:, 1]), np.ascontiguousarray(p[:, 0])

    def _triangulation(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if self._triangles is None:
            cums: list[NDArray[np.float64]] = []
            tris: list[NDArray[np.float64]] = []
            for i, geom in enumerate(self._districts.geoms[:-1]):
                parts = shapely.get_parts(shapely.constrained_delaunay_triangles(geom))
                coords = np.stack([shapely.get_coordinates(t)[:3] for t in parts])
                ab = coords[:, 1] - coords[:, 0]
                ac = coords[:, 2] - coords[:, 0]
                area = 0.5 * np.abs(ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0])
                cum = np.cumsum(area) / area.sum()
                cum[-1] = 1.0
                cums.append(i + np.minimum(cum, np.nextafter(1.0, 0.0)))
                tris.append(coords)
            self._triangles = (np.concatenate(cums), np.concatenate(tris))
        return self._triangles

    def random_points(
        self, district_code: str, n: int, rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``n`` points drawn uniformly inside a district: (latitudes, longitudes)."""
        d = self.district_index(district_code)
        return self._points_in_districts(np.full(n, d, dtype=np.int64), rng.random((n, 3)))

    def outlines_geojson(self, level: Literal["district", "neighbourhood"]) -> dict[str, Any]:
        """A GeoJSON FeatureCollection of the outlines, for maps (a fresh copy on each call).

        Each feature's properties are ``code``, ``name_ko``, ``name_en`` and ``parent_code``.
        """
        if level == "district":
            return dict(json.loads(self._districts.features_json))
        if level == "neighbourhood":
            return dict(json.loads(self._neighbourhoods.features_json))
        raise ValueError(f"level must be 'district' or 'neighbourhood', not {level!r}")

    def district_areas_km2(self) -> NDArray[np.float64]:
        """Area of each district in square kilometres, in the order of :attr:`districts`."""
        deg2 = shapely.area(self._districts.geoms[:-1].astype(object))
        return np.asarray(deg2 * self._kx * self._ky / 1e6, dtype=np.float64)

    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of the districts, GeoJSON bbox order."""
        b = shapely.total_bounds(self._districts.geoms[:-1])
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def _first_covering(
    layer: _Layer,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    groups: tuple[NDArray[np.int64], NDArray[np.int64]] | None,
) -> NDArray[np.int64]:
    """Lowest index of the layer's polygons covering each point, -1 for none.

    ``groups = (group_of_point, group_of_polygon)`` tests a point only against the polygons of
    its own group. Points are sorted once by (group, x); each polygon then takes the contiguous
    run of its group within its bounding box's x range and tests it exactly, vectorised. The loop
    runs over polygons and never builds point geometries, which would cost more than the tests.
    """
    n_polys = layer.bboxes.shape[0]
    if groups is None:
        point_groups = np.zeros(x.size, dtype=np.int64)
        poly_groups = np.zeros(n_polys, dtype=np.int64)
    else:
        point_groups, poly_groups = groups
    order = np.lexsort((x, point_groups))
    xs, ys, gs = x[order], y[order], point_groups[order]
    found = np.full(x.size, -1, dtype=np.int64)
    for j in range(n_polys):  # ascending code, so the first polygon to cover a point wins
        g = poly_groups[j]
        g_lo, g_hi = np.searchsorted(gs, [g, g + 1])
        minx, miny, maxx, maxy = layer.bboxes[j]
        lo = g_lo + np.searchsorted(xs[g_lo:g_hi], minx, side="left")
        hi = g_lo + np.searchsorted(xs[g_lo:g_hi], maxx, side="right")
        if hi <= lo:
            continue
        yr = ys[lo:hi]
        rows = lo + np.flatnonzero((yr >= miny) & (yr <= maxy) & (found[lo:hi] < 0))
        if rows.size:
            hit = shapely.intersects_xy(layer.geoms[j], xs[rows], ys[rows])
            found[rows[hit]] = j
    out = np.empty_like(found)
    out[order] = found
    return out


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Repair an invalid polygon, keeping only its polygonal parts."""
    if geom.is_valid:
        return geom
    fixed = shapely.make_valid(geom)
    if fixed.geom_type == "GeometryCollection":
        polys = [g for g in shapely.get_parts(fixed) if g.geom_type in ("Polygon", "MultiPolygon")]
        fixed = shapely.union_all(polys)
    return fixed


def _make_layer(items: list[tuple[Area, BaseGeometry, dict[str, Any]]]) -> _Layer:
    items = sorted(items, key=lambda item: item[0].code)
    areas = tuple(a for a, _, _ in items)
    geoms = np.empty(len(items) + 1, dtype=object)
    geoms[:-1] = [_polygonal(g) for _, g, _ in items]
    geoms[-1] = None
    shapely.prepare(geoms[:-1])
    codes = np.empty(len(items) + 1, dtype=object)
    codes[:-1] = [a.code for a in areas]
    codes[-1] = None
    features = [
        {
            "type": "Feature",
            "properties": {
                "code": a.code,
                "name_ko": a.name_ko,
                "name_en": a.name_en,
                "parent_code": a.parent_code,
            },
            "geometry": geometry,
        }
        for a, _, geometry in items
    ]
    features_json = json.dumps(
        {"type": "FeatureCollection", "features": features}, ensure_ascii=False
    )
    return _Layer(
        areas=areas,
        codes=codes,
        geoms=geoms,
        bboxes=shapely.bounds(geoms[:-1].astype(object)),
        features_json=features_json,
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError("file not found", path=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not JSON: {exc.msg}", path=str(path), location=f"line {exc.lineno}"
        ) from None


def _features(
    folder: Path, spec: Any, level: str
) -> list[tuple[str, str, str, BaseGeometry, dict[str, Any]]]:
    city_json = str(folder / "city.json")
    if not isinstance(spec, dict):
        raise InputError(f"{level!r} must be an object", path=city_json)
    try:
        file_, code_key = str(spec["file"]), str(spec["code"])
        ko_key, en_key = str(spec["name_ko"]), str(spec["name_en"])
    except KeyError as exc:
        raise InputError(f"{level!r} lacks the key {exc.args[0]!r}", path=city_json) from None
    path = folder / file_
    data = _read_json(path)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise InputError("not a GeoJSON FeatureCollection", path=str(path))
    out = []
    for i, feature in enumerate(data.get("features") or []):
        props = feature.get("properties") or {}
        where = f"feature {i}"
        if props.get(code_key) in (None, ""):
            raise InputError(f"no {code_key!r}", path=str(path), location=where)
        try:
            geom = shape(feature["geometry"])
        except Exception as exc:  # shapely raises several types for bad geometry
            raise InputError(f"bad geometry: {exc}", path=str(path), location=where) from None
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
            raise InputError("geometry is not a polygon", path=str(path), location=where)
        code = str(props[code_key])
        out.append(
            (
                code,
                str(props.get(ko_key) or code),
                str(props.get(en_key) or code),
                geom,
                feature["geometry"],
            )
        )
    codes = [c for c, *_ in out]
    if len(set(codes)) != len(codes):
        raise InputError(f"duplicate {code_key!r} values", path=str(path))
    if not out:
        raise InputError("no features", path=str(path))
    return out


def _load_folder(folder: Path) -> CityGeography:
    config = _read_json(folder / "city.json")
    city_json = str(folder / "city.json")
    if not isinstance(config, dict):
        raise InputError("must be a JSON object", path=city_json)
    raw_districts = _features(folder, config.get("districts"), "districts")
    raw_neighbourhoods = _features(folder, config.get("neighbourhoods"), "neighbourhoods")
    districts = [(Area(c, ko, en, None), g, gj) for c, ko, en, g, gj in raw_districts]
    district_codes = {a.code for a, _, _ in districts}
    prefix = config["neighbourhoods"].get("parent_code_prefix")
    if prefix is not None:
        parents = [c[: int(prefix)] for c, *_ in raw_neighbourhoods]
    else:
        # No code convention: the district that covers a point surely inside the neighbourhood.
        tree = shapely.STRtree([g for _, g, _ in districts])
        reps = np.array(
            [_polygonal(g).representative_point() for _, _, _, g, _ in raw_neighbourhoods],
            dtype=object,
        )
        pi, ti = tree.query(reps, predicate="within")
        first: dict[int, str] = {}
        for p, t in sorted(zip(pi.tolist(), ti.tolist(), strict=True)):
            first.setdefault(p, districts[t][0].code)
        parents = [first.get(i, "") for i in range(len(raw_neighbourhoods))]
    neighbourhoods = []
    for (code, ko, en, geom, gj), parent in zip(raw_neighbourhoods, parents, strict=True):
        if parent not in district_codes:
            raise InputError(
                f"neighbourhood {code!r} has no district ({parent!r} is not one)", path=city_json
            )
        neighbourhoods.append((Area(code, ko, en, parent), geom, gj))
    display = config.get("display_name") or {}
    view = (config.get("map") or {}).get("center") or {}
    try:
        name = str(config["name"])
        timezone = str(config["timezone"])
    except KeyError as exc:
        raise InputError(f"lacks the key {exc.args[0]!r}", path=city_json) from None
    if view:
        center = (float(view["latitude"]), float(view["longitude"]))
    else:
        c = shapely.union_all([g for _, g, _ in districts]).centroid
        center = (float(c.y), float(c.x))
    return CityGeography(
        name=name,
        timezone=timezone,
        display_name_ko=str(display.get("ko", name)),
        display_name_en=str(display.get("en", name)),
        center=center,
        zoom=int((config.get("map") or {}).get("zoom", 11)),
        districts=districts,
        neighbourhoods=neighbourhoods,
    )


def packaged_cities() -> list[str]:
    """Names of the cities shipped inside the package."""
    root = resources.files("citytrace.geo").joinpath(_PACKAGE_DATA)
    return sorted(
        p.name for p in root.iterdir() if p.is_dir() and p.joinpath("city.json").is_file()
    )


@cache
def _load_cached(folder: str) -> CityGeography:
    return _load_folder(Path(folder))


def load_city(name_or_path: str = "seoul") -> CityGeography:
    """Load a city by packaged name (``"seoul"``) or from a folder with the same three files.

    The folder holds ``city.json`` (name, timezone, display names, map view, and for each level
    the GeoJSON file and its property keys) and the two GeoJSON files. Loaded cities are cached.

    Raises
    ------
    NotFoundError
        When the name is neither a packaged city nor a folder.
    InputError
        When the folder's files are malformed.
    """
    if name_or_path in packaged_cities():
        traversable = resources.files("citytrace.geo").joinpath(_PACKAGE_DATA, name_or_path)
        return _load_cached(str(Path(str(traversable)).resolve()))
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return _load_cached(str(path.resolve()))
    raise NotFoundError(
        f"no city {name_or_path!r}: not a folder, nor one of {', '.join(packaged_cities())}"
    )
