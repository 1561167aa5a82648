"""The public list of places in a real browser: Debian's Chromium driven by Playwright against a
real uvicorn server, on a phone's screen and a desktop's, by keyboard, with an axe-core check."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citytrace.config import get_settings
from citytrace.db import make_engine, unit_of_work
from citytrace.disclosure import feed
from citytrace.disclosure.models import DisclosureEntry, EntryStatus
from citytrace.migrations import upgrade
from tests.conftest import _missing
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    _free_port,
    _wait_until_up,
)

# axe-core impacts that would make the page unusable for someone.
SERIOUS = {"serious", "critical"}
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
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing: the browser tests need Debian's chromium package")
    pytest.importorskip("playwright", reason="the browser tests need the playwright package")
    pytest.importorskip("axe_playwright_python", reason="the axe check needs its package")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CITYTRACE_HOME", str(home))
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    get_settings.cache_clear()
    engine = make_engine(get_settings().resolved_database_url)
    upgrade(engine)
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
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    out = open(log, "wb")  # noqa: SIM115 (closed when the server has stopped)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "citytrace.api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info",
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the log is read while it runs
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_up(url, process)
        yield Server(url=url, ids=ids, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        out.close()


def _accessible(page, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Serious accessibility problems of the page (axe-core), as ``page: rule: target``."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{name}: {violation['id']}: {node['target']}"
        for violation in results.response["violations"]
        if violation.get("impact") in SERIOUS
        for node in violation["nodes"]
    ]


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
            inaccessible += _accessible(page, "phone /places")

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
            inaccessible += _accessible(page, "desktop /places")

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
            inaccessible += _accessible(page, "desktop /places?district=11110")

            # English, and an empty district.
            page.goto(f"{server.url}/places?district=11680&lang=en")
            assert page.get_attribute("html", "lang") == "en"
            expect(page.locator("#no-places")).to_be_visible()
            expect(page.locator("h1")).to_contain_text("Gangnam-gu")
            inaccessible += _accessible(page, "desktop /places?district=11680 (en)")

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
