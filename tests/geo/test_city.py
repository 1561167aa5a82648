"""citytrace.geo: Seoul's districts and neighbourhoods, point lookup and sampling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import shape
from shapely.ops import nearest_points

from citytrace.errors import InputError, NotFoundError
from citytrace.geo import CityGeography, haversine_m, load_city, packaged_cities

PACKAGED = Path(__file__).parents[2] / "src" / "citytrace" / "geo" / "data" / "seoul"


@pytest.fixture(scope="module")
def seoul() -> CityGeography:
    return load_city("seoul")


def _polygons(city: CityGeography, level: str) -> dict[str, shapely.Geometry]:
    """Outlines as shapely geometries, repaired the way the library repairs them."""
    features = city.outlines_geojson(level)["features"]  # type: ignore[arg-type]
    return {f["properties"]["code"]: shapely.make_valid(shape(f["geometry"])) for f in features}


class TestLoadCity:
    def test_seoul_has_25_districts_and_467_neighbourhoods(self, seoul: CityGeography) -> None:
        assert len(seoul.districts) == 25
        assert len(seoul.neighbourhoods) == 467
        assert seoul.name == "seoul"
        assert seoul.timezone == "Asia/Seoul"
        assert seoul.display_name_ko == "서울특별시"
        assert packaged_cities() == ["seoul"]

    def test_cached(self, seoul: CityGeography) -> None:
        assert load_city() is seoul

    def test_every_neighbourhood_has_its_district_by_code_and_by_containment(
        self, seoul: CityGeography
    ) -> None:
        districts = {d.code for d in seoul.districts}
        assert all(d.parent_code is None for d in seoul.districts)
        assert all(n.parent_code in districts for n in seoul.neighbourhoods)
        assert all(n.code[:5] == n.parent_code for n in seoul.neighbourhoods)
        polygons = _polygons(seoul, "neighbourhood")
        reps = [polygons[n.code].representative_point() for n in seoul.neighbourhoods]
        found, _ = seoul.locate([p.y for p in reps], [p.x for p in reps])
        assert list(found) == [n.parent_code for n in seoul.neighbourhoods]

    def test_a_city_is_a_folder_and_parents_can_come_from_containment(
        self, seoul: CityGeography, tmp_path: Path
    ) -> None:
        folder = tmp_path / "other"
        shutil.copytree(PACKAGED, folder)
        config = json.loads((folder / "city.json").read_text(encoding="utf-8"))
        config["name"] = "other"
        del config["neighbourhoods"]["parent_code_prefix"]
        (folder / "city.json").write_text(json.dumps(config), encoding="utf-8")
        other = load_city(str(folder))
        assert other.name == "other"
        assert [n.parent_code for n in other.neighbourhoods] == [
            n.parent_code for n in seoul.neighbourhoods
        ]

    def test_unknown_city(self) -> None:
        with pytest.raises(NotFoundError, match="no city 'atlantis'"):
            load_city("atlantis")

    def test_malformed_folder(self, tmp_path: Path) -> None:
        (tmp_path / "city.json").write_text('{"name": "x", "timezone": "UTC"}', encoding="utf-8")
        with pytest.raises(InputError, match="'districts' must be an object"):
            load_city(str(tmp_path))

    @pytest.mark.realdata
    def test_packaged_files_are_byte_copies(self, data_dir: Path) -> None:
        source = data_dir / "seoul"
        assert (PACKAGED / "districts.geojson").read_bytes() == (
            source / "juso_2015_json_seoul_municipalities_geo_simple.json"
        ).read_bytes()
        assert (PACKAGED / "neighbourhoods.geojson").read_bytes() == (
            source / "juso_2015_json_seoul_neighborhoods_geo_simple.json"
        ).read_bytes()


class TestArea:
    def test_district_and_neighbourhood(self, seoul: CityGeography) -> None:
        jung = seoul.area("11140")
        assert (jung.name_ko, jung.name_en, jung.parent_code) == ("중구", "Jung-gu", None)
        assert seoul.area("11140103").parent_code == "11140"

    def test_unknown_code(self, seoul: CityGeography) -> None:
        with pytest.raises(NotFoundError):
            seoul.area("99999")


class TestLocate:
    def test_seoul_city_hall_is_in_jung_gu(self, seoul: CityGeography) -> None:
        district, hood = seoul.locate(37.5663, 126.9779)
        assert district == "11140"
        assert seoul.area(str(hood)).parent_code == "11140"

    def test_gangnam_station_falls_in_seocho_gu_in_this_data(self, seoul: CityGeography) -> None:
        # The station straddles Gangnam-daero, the border; these coordinates lie on its west
        # (Seocho) side in the simplified 2015 outlines.
        district, hood = seoul.locate([37.4979], [127.0276])
        assert list(district) == ["11650"]
        assert seoul.area(str(hood[0])).name_en == "Seocho-dong"

    def test_outside_the_city(self, seoul: CityGeography) -> None:
        # Busan, the Yellow Sea off Incheon, and a missing coordinate.
        district, hood = seoul.locate([35.1796, 37.45, np.nan], [129.0756, 126.30, 127.0])
        assert list(district) == [None, None, None]
        assert list(hood) == [None, None, None]

    def test_keeps_the_shape_of_the_input(self, seoul: CityGeography) -> None:
        lat = np.full((2, 3), 37.5663)
        district, hood = seoul.locate(lat, 126.9779)
        assert district.shape == hood.shape == (2, 3)
        assert district.dtype == object

    def test_a_shared_border_point_gets_the_lowest_code(self, seoul: CityGeography) -> None:
        polygons = _polygons(seoul, "district")
        a, b = polygons["11140"], polygons["11110"]  # Jung-gu and Jongno-gu share a border
        shared = set(map(tuple, shapely.get_coordinates(a.boundary))) & set(
            map(tuple, shapely.get_coordinates(b.boundary))
        )
        lon, lat = sorted(shared)[len(shared) // 2]
        district, hood = seoul.locate(lat, lon)
        assert district == "11110"
        assert hood is None or seoul.area(str(hood)).parent_code == "11110"

    def test_a_sliver_between_neighbourhoods_gets_the_nearest_one(
        self, seoul: CityGeography
    ) -> None:
        districts = _polygons(seoul, "district")
        hoods = _polygons(seoul, "neighbourhood")
        own = shapely.union_all([g for c, g in hoods.items() if c[:5] == "11680"])
        slivers = shapely.get_parts(districts["11680"].difference(own))
        point = max(slivers, key=lambda g: g.area).representative_point()
        district, hood = seoul.locate(point.y, point.x)
        assert district == "11680"
        assert hood is not None and str(hood).startswith("11680")
        nearest = nearest_points(hoods[str(hood)], point)[0]
        assert haversine_m(point.y, point.x, nearest.y, nearest.x) <= 200.0

    @settings(max_examples=25, deadline=None)
    @given(
        st.lists(
            st.tuples(st.floats(37.40, 37.73), st.floats(126.74, 127.21)), min_size=1, max_size=40
        )
    )
    def test_agrees_with_shapely_point_in_polygon(
        self, seoul: CityGeography, points: list[tuple[float, float]]
    ) -> None:
        districts = _polygons(seoul, "district")
        hoods = _polygons(seoul, "neighbourhood")
        lat = np.array([p[0] for p in points])
        lon = np.array([p[1] for p in points])
        found, found_hood = seoul.locate(lat, lon)
        for y, x, d, h in zip(lat, lon, found, found_hood, strict=True):
            point = shapely.Point(x, y)
            covering = sorted(c for c, g in districts.items() if g.covers(point))
            assert d == (covering[0] if covering else None)
            if h is not None:
                assert seoul.area(h).parent_code == d
                if not hoods[h].covers(point):
                    near = nearest_points(hoods[h], point)[0]
                    assert haversine_m(y, x, near.y, near.x) <= 200.5
            elif d is not None:
                own = [g for c, g in hoods.items() if c[:5] == d]
                assert not any(g.covers(point) for g in own)


class TestRandomPoints:
    def test_points_lie_in_their_district(self, seoul: CityGeography) -> None:
        rng = np.random.default_rng(1)
        for code in ("11140", "11680", "11500"):
            lat, lon = seoul.random_points(code, 500, rng)
            assert lat.shape == lon.shape == (500,)
            district, _ = seoul.locate(lat, lon)
            assert set(district) == {code}

    def test_same_generator_state_same_points(self, seoul: CityGeography) -> None:
        a = seoul.random_points("11110", 10, np.random.default_rng(7))
        b = seoul.random_points("11110", 10, np.random.default_rng(7))
        np.testing.assert_array_equal(a[0], b[0])

    def test_spread_over_the_whole_district(self, seoul: CityGeography) -> None:
        lat, lon = seoul.random_points("11680", 4000, np.random.default_rng(2))
        _, hoods = seoul.locate(lat, lon)
        own = [n for n in seoul.neighbourhoods if n.parent_code == "11680"]
        assert len(set(hoods) - {None}) == len(own)

    def test_unknown_district(self, seoul: CityGeography) -> None:
        with pytest.raises(NotFoundError):
            seoul.random_points("11140103", 1, np.random.default_rng(0))


class TestOutlinesAndBounds:
    def test_outlines(self, seoul: CityGeography) -> None:
        districts = seoul.outlines_geojson("district")
        assert districts["type"] == "FeatureCollection"
        assert len(districts["features"]) == 25
        props = districts["features"][0]["properties"]
        assert set(props) == {"code", "name_ko", "name_en", "parent_code"}
        assert len(seoul.outlines_geojson("neighbourhood")["features"]) == 467

    def test_outlines_are_a_fresh_copy(self, seoul: CityGeography) -> None:
        seoul.outlines_geojson("district")["features"].clear()
        assert len(seoul.outlines_geojson("district")["features"]) == 25

    def test_bad_level(self, seoul: CityGeography) -> None:
        with pytest.raises(ValueError, match="level"):
            seoul.outlines_geojson("city")  # type: ignore[arg-type]

    def test_bounds(self, seoul: CityGeography) -> None:
        min_lon, min_lat, max_lon, max_lat = seoul.bounds()
        assert 126.7 < min_lon < 126.8 and 127.1 < max_lon < 127.2
        assert 37.4 < min_lat < 37.45 and 37.7 < max_lat < 37.72
        assert seoul.district_areas_km2().sum() == pytest.approx(605, abs=2)
