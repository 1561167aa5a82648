"""The public list of places in a real browser: Debian's Chromium driven by Playwright against a
real uvicorn server, on a phone's screen and a desktop's, by keyboard, with an axe-core check."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citytrace.db import unit_of_work
from citytrace.disclosure import feed
from citytrace.disclosure.models import DisclosureEntry, EntryStatus
from tests.web.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    accessible,
    fresh_database,
    need_browser,
    serving,
)

START = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
PLACES = (
    # district, kind, business, latitude, longitude
    ("11140", "cafe", "Blue Cup", 37.5663, 126.9779),
    ("11140", "restaurant", "Myeongdong Noodles", 37.5600, 126.9850),
    ("11110", "store", "Gwanghwamun Books", 37.5714, 126.9768),
)


@dataclass
class Server:
    url: str
    ids: dict[str, str]  # business name -> public id
    log: Path  # the server's output, access log included


def _published(business: str, district: str, kind: str, lat: float, lon: float) -> DisclosureEntry:
    now = datetime.now(UTC)
    return DisclosureEntry(
        public_id=uuid.uuid4().hex,
        status=EntryStatus.PUBLISHED,
        district_code=district,
        place_kind=kind,
        business_name=business,
        road_address=f"{business} road 1",
        latitude=lat,
        longitude=lon,
        exposure_start=START,
        exposure_end=START + timedelta(minutes=90),
        disinfected=True,
        notes="",
        last_contact_at=START + timedelta(minutes=90),
        expires_at=now + timedelta(days=10),
        published_at=now,
        updated_at=now,
    )


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A served app over a fresh SQLite database with three published places and a ride."""
    need_browser()
    pytest.importorskip("axe_playwright_python", reason="the axe check needs its package")
    engine = fresh_database(tmp_path, monkeypatch, CITYTRACE_DISCLOSURE_INTERVAL_MIN="0")
    ids = {}
    with unit_of_work(engine) as session:
        for district, kind, business, lat, lon in PLACES:
            entry = _published(business, district, kind, lat, lon)
            session.add(entry)
            ids[business] = entry.public_id
        ride = _published("", "11140", "subway", 37.5657, 126.9769)
        ride.business_name, ride.road_address = None, None
        ride.latitude, ride.longitude = None, None
        ride.transport_line, ride.transport_car = "Line 2", "7"
        ride.boarding_stop, ride.boarding_at = "City Hall", START
        ride.alighting_stop, ride.alighting_at = "Euljiro 1-ga", START + timedelta(minutes=10)
        session.add(ride)
        ids["ride"] = ride.public_id
        session.flush()
        feed.rebuild(session, datetime.now(UTC))
    engine.dispose()
    assert feed.snapshot_path().exists()  # written at the commit
    log = tmp_path / "server.log"
    with serving(log=log) as url:
        yield Server(url=url, ids=ids, log=log)


def _watch(page, problems: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Collect script errors, refusals by the CSP and failed requests (but the favicon's)."""
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )


def _shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str((SCREENSHOTS or tmp_path) / f"disclosure-{name}.png"), full_page=True)


def test_the_public_list_and_map(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    inaccessible: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # A phone, in Korean: the list and the map, one column.
            phone = browser.new_context(
                locale="ko-KR", viewport={"width": 390, "height": 844}, is_mobile=True
            )
            page = phone.new_page()
            _watch(page, problems)
            page.goto(f"{server.url}/places")
            assert page.get_attribute("html", "lang") == "ko"
            expect(page.locator("#places .place")).to_have_count(4)
            expect(page.locator("#places-map[data-outlines-loaded=true]")).to_have_count(1)
            expect(page.locator("#places-map .district-label")).not_to_have_count(0)
            # One marker per place with a position; the ride has none.
            expect(page.locator("#places-map .leaflet-marker-icon")).to_have_count(3)
            expect(page.locator(f"#place-{server.ids['ride']}")).to_contain_text("Line 2")
            map_box = page.locator("#places-map").bounding_box()
            list_box = page.locator("#places").bounding_box()
            assert map_box and list_box and list_box["y"] >= map_box["y"] + map_box["height"]
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            _shot(page, tmp_path, "places-phone")
            inaccessible += accessible(page, "phone /places")

            # A desktop, by keyboard: a marker leads to its place in the list.
            desk = browser.new_context(locale="ko-KR", viewport={"width": 1440, "height": 1000})
            page = desk.new_page()
            _watch(page, problems)
            page.goto(f"{server.url}/places")
            expect(page.locator("#places-map[data-outlines-loaded=true]")).to_have_count(1)
            target = f"place-{server.ids['Gwanghwamun Books']}"
            for _ in range(40):
                page.keyboard.press("Tab")
                label = page.evaluate(
                    "document.activeElement && document.activeElement.getAttribute('aria-label')"
                )
                if label == "Gwanghwamun Books":
                    break
            else:
                pytest.fail("Tab never reached the marker of Gwanghwamun Books")
            page.keyboard.press("Enter")
            expect(page.locator(f"#{target}")).to_have_class("place selected")
            expect(page.locator(f"#{target}")).to_be_focused()
            inaccessible += accessible(page, "desktop /places")

            # A district, chosen with the keyboard and the button.
            page.focus("#district")
            page.select_option("#district", "11110")
            with page.expect_navigation():
                page.get_by_role("button", name="보기").press("Enter")
            assert "district=11110" in page.url
            expect(page.locator("#places .place")).to_have_count(1)
            expect(page.locator(f"#{target}")).to_be_visible()
            expect(page.locator("h1")).to_contain_text("종로구")
            expect(page.locator("#places-map[data-outlines-loaded=true]")).to_have_count(1)
            _shot(page, tmp_path, "places-district")
            inaccessible += accessible(page, "desktop /places?district=11110")

            # English, and an empty district.
            page.goto(f"{server.url}/places?district=11680&lang=en")
            assert page.get_attribute("html", "lang") == "en"
            expect(page.locator("#no-places")).to_be_visible()
            expect(page.locator("h1")).to_contain_text("Gangnam-gu")
            inaccessible += accessible(page, "desktop /places?district=11680 (en)")

            # The same list as open data, readable by another site (CORS).
            feed_resp = page.request.get(f"{server.url}/api/public/places.geojson")
            assert feed_resp.status == 200
            assert feed_resp.headers["access-control-allow-origin"] == "*"
            assert len(feed_resp.json()["features"]) == 4
        finally:
            browser.close()
    assert inaccessible == []
    assert problems == []
    # The access log works, and records nobody reading the list or downloading the feed.
    logged = server.log.read_text()
    assert "GET /api/health" in logged
    assert "/places" not in logged
    assert "/api/public/" not in logged


def test_the_self_check_stays_on_the_device(server: Server, tmp_path: Path) -> None:
    """A citizen's location history, in each of Google's formats and as GPX and KML, against the
    published places:
    a meeting is found in the page, and nothing of the file is sent (the only request after the
    choice is the GET of the public list)."""
    import json

    from playwright.sync_api import expect, sync_playwright

    at = START + timedelta(minutes=30)  # inside Blue Cup's window
    ms = int(at.timestamp() * 1000)
    files = {
        "semantic.json": {  # Takeout's Semantic Location History: a place visit at Blue Cup
            "timelineObjects": [
                {
                    "placeVisit": {
                        "location": {"latitudeE7": 375663200, "longitudeE7": 1269779300},
                        "duration": {
                            "startTimestamp": at.isoformat(),
                            "endTimestamp": (at + timedelta(minutes=40)).isoformat(),
                        },
                    }
                }
            ]
        },
        "records.json": {  # Takeout's Records.json: raw points, one at Blue Cup
            "locations": [
                {"latitudeE7": 375000000, "longitudeE7": 1270000000, "timestampMs": str(ms)},
                {"latitudeE7": 375663000, "longitudeE7": 1269779000, "timestamp": at.isoformat()},
            ]
        },
        "timeline.json": {  # the phone's Timeline export: a visit at Blue Cup
            "semanticSegments": [
                {
                    "startTime": at.isoformat(),
                    "endTime": (at + timedelta(minutes=20)).isoformat(),
                    "visit": {"topCandidate": {"placeLocation": {"latLng": "37.5663°, 126.9779°"}}},
                }
            ]
        },
        "elsewhere.json": {  # at Blue Cup, but the day after its window
            "locations": [
                {
                    "latitudeE7": 375663000,
                    "longitudeE7": 1269779000,
                    "timestamp": (at + timedelta(days=1)).isoformat(),
                }
            ]
        },
    }
    for name, doc in files.items():
        (tmp_path / name).write_text(json.dumps(doc))
    (tmp_path / "photo.json").write_text("not json at all")
    z = "%Y-%m-%dT%H:%M:%SZ"
    before = (at - timedelta(hours=2)).strftime(z)
    (tmp_path / "track.gpx").write_text(  # a GPS track passing Blue Cup, then away
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="a tracker" xmlns="http://www.topografix.com/GPX/1/1">'
        "<trk><trkseg>"
        f'<trkpt lat="37.5" lon="127.0"><time>{before}</time></trkpt>'
        f'<trkpt lat="37.56631" lon="126.97791"><time>{at.strftime(z)}</time></trkpt>'
        "</trkseg></trk></gpx>"
    )
    (tmp_path / "day.kml").write_text(  # a day exported from Google Maps' Timeline
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">'
        "<Document><Placemark><name>Blue Cup</name>"
        "<Point><coordinates>126.9779,37.5663,0</coordinates></Point>"
        f"<TimeSpan><begin>{at.strftime(z)}</begin>"
        f"<end>{(at + timedelta(minutes=30)).strftime(z)}</end></TimeSpan></Placemark>"
        "<Placemark><gx:Track>"
        f"<when>{(at + timedelta(hours=3)).strftime(z)}</when>"
        "<gx:coord>127.0 37.5 0</gx:coord></gx:Track></Placemark>"
        "</Document></kml>"
    )
    (tmp_path / "route.gpx").write_text(  # a planned route: points without times
        '<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        '<rte><rtept lat="37.5663" lon="126.9779"/></rte></gpx>'
    )
    (tmp_path / "broken.kml").write_text("<kml><Document><Placemark>")

    problems: list[str] = []
    sent: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-GB").new_page()
            _watch(page, problems)
            page.goto(f"{server.url}/places?lang=en")
            page.on("request", lambda r: sent.append(f"{r.method} {r.url} {r.post_data or ''}"))
            for name in ("semantic.json", "records.json", "timeline.json", "track.gpx", "day.kml"):
                page.set_input_files("#history", str(tmp_path / name))
                expect(page.locator("#check-result")).to_contain_text(
                    "1 listed places", timeout=10_000
                )
                expect(page.locator("#check-matches li")).to_have_count(1)
                expect(page.locator("#check-matches li")).to_contain_text("Blue Cup")
                expect(page.locator("#check-clinic a")).to_be_visible()
            page.set_input_files("#history", str(tmp_path / "elsewhere.json"))
            expect(page.locator("#check-result")).to_contain_text("None of your 1 locations")
            expect(page.locator("#check-clinic a")).to_be_hidden()
            for name in ("photo.json", "route.gpx", "broken.kml"):
                page.set_input_files("#history", str(tmp_path / name))
                expect(page.locator("#check-result")).to_contain_text("cannot be read")
                expect(page.locator("#check-matches li")).to_have_count(0)
        finally:
            browser.close()
    assert problems == []
    assert sent and all(s.startswith("GET ") and "/api/public/places.json" in s for s in sent)
    assert not any("37.566" in s or "126.977" in s for s in sent)
