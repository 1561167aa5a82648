"""The public pages: the city's and a district's list of places with a map, in Korean and
English, for anyone, showing the published snapshot and nothing of the investigation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citytrace.disclosure.models import EntryStatus
from citytrace.web.i18n import CATALOGUES
from tests.disclosure.public_fixtures import (  # noqa: F401
    START,
    public_app_fixture,
    public_client_fixture,
    publish,
)

JUNG_GU, JONGNO_GU = "11140", "11110"


def _items(html: str) -> list[str]:
    return re.findall(r'<li class="place" id="place-([0-9a-f]+)"', html)


class TestPlacesPage:
    def test_the_city_wide_list_and_map(self, public_client: TestClient, session: Session) -> None:
        cafe = publish(session, district_code=JUNG_GU, business_name="Blue Cup")
        books = publish(
            session,
            district_code=JONGNO_GU,
            business_name="Gwanghwamun Books",
            place_kind="store",
            disinfected=None,
            notes="2nd floor only",
        )
        ride = publish(
            session,
            district_code=JUNG_GU,
            place_kind="subway",
            business_name=None,
            road_address=None,
            transport_line="Line 2",
            transport_car="7",
            boarding_stop="City Hall",
            boarding_at=START,
            alighting_stop="Euljiro 1-ga",
            alighting_at=START + timedelta(minutes=10),
        )
        publish(session, status=EntryStatus.WITHDRAWN, business_name="Withdrawn Bar")
        publish(session, status=EntryStatus.DRAFT, business_name="Draft Diner")
        publish(session, expires_at=datetime.now(UTC) - timedelta(seconds=1), business_name="Old")

        resp = public_client.get("/places")
        assert resp.status_code == 200
        html = resp.text
        assert '<html lang="ko">' in html
        assert set(_items(html)) == {cafe.public_id, books.public_id, ride.public_id}
        for hidden in ("Withdrawn Bar", "Draft Diner", ">Old<"):
            assert hidden not in html
        assert "Blue Cup" in html and "Gwanghwamun Books" in html
        assert "2020-03-03 10:00–11:00" in html  # the window in Seoul time
        assert "Line 2" in html and "City Hall 2020-03-03 10:00" in html
        assert "해당 없음" in html and "2nd floor only" in html
        assert 'id="places-map"' in html and 'data-outlines="/api/public/districts.geojson"' in html
        assert f'data-lat="{cafe.latitude}"' in html
        assert "/api/public/places.geojson" in html
        assert resp.headers["cache-control"] == "no-store"

    def test_a_district(self, public_client: TestClient, session: Session) -> None:
        mine = publish(session, district_code=JUNG_GU)
        other = publish(session, district_code=JONGNO_GU, business_name="Elsewhere")
        html = public_client.get("/places", params={"district": JUNG_GU}).text
        assert _items(html) == [mine.public_id]
        assert other.public_id not in html
        assert "중구" in html
        assert 'data-district="11140"' in html
        assert re.search(r'<option value="11140" selected>중구 \(1\)</option>', html)
        assert re.search(r'<option value="11110">종로구 \(1\)</option>', html)

    def test_an_unknown_district_is_a_404_page(self, public_client: TestClient) -> None:
        resp = public_client.get("/places", params={"district": "99999"})
        assert resp.status_code == 404
        assert "text/html" in resp.headers["content-type"]
        assert "99999" not in resp.text

    def test_english(self, public_client: TestClient, session: Session) -> None:
        publish(session, place_kind="pc_bang", business_name=None)
        resp = public_client.get("/places", params={"lang": "en"})
        assert '<html lang="en">' in resp.text
        assert "Places visited by confirmed cases" in resp.text
        assert "PC room" in resp.text  # the kind names the place when no business is named
        assert "Jung-gu" in resp.text
        assert '<html lang="en">' in public_client.get("/places").text  # kept in a cookie

    def test_nothing_published(self, public_client: TestClient) -> None:
        html = public_client.get("/places").text
        assert 'id="no-places"' in html
        assert _items(html) == []

    def test_anyone_may_read_it_without_signing_in(self, public_client: TestClient) -> None:
        resp = public_client.get("/places", follow_redirects=False)
        assert resp.status_code == 200

    def test_labels_for_every_field(self, public_client: TestClient, session: Session) -> None:
        publish(session)
        html = public_client.get("/places").text
        assert '<label for="district">' in html
        assert 'aria-label="방문 장소 지도"' in html
        assert '<a class="skip" href="#main">' in html
        assert "<script>" not in html  # no inline script (CSP)


class TestOutlines:
    def test_district_outlines_for_the_map(self, public_client: TestClient) -> None:
        resp = public_client.get("/api/public/districts.geojson")
        assert resp.status_code == 200
        doc = resp.json()
        assert doc["type"] == "FeatureCollection"
        assert len(doc["features"]) == 25
        assert {"code", "name_ko", "name_en"} <= set(doc["features"][0]["properties"])
        assert resp.headers["cache-control"].startswith("public")
        assert resp.headers["access-control-allow-origin"] == "*"


def test_every_word_in_both_languages() -> None:
    ko = {k for k in CATALOGUES["ko"] if k.startswith("disclosure.public.")}
    en = {k for k in CATALOGUES["en"] if k.startswith("disclosure.public.")}
    assert ko == en
    assert len(ko) > 30
