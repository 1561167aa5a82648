"""The workspace in a real browser: Debian's Chromium driven by Playwright against a real
uvicorn server on a free localhost port, with its own SQLite database and the demo accounts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from citytrace.audit.models import AuditEvent
from citytrace.auth import service as accounts
from citytrace.auth.models import Role
from citytrace.auth.schemas import UserCreate
from citytrace.cases import service as cases
from citytrace.cases.schemas import CaseCreate
from citytrace.config import get_settings
from citytrace.contacts.models import ContactState
from citytrace.db import make_engine, unit_of_work
from citytrace.demo import create_demo_users
from tests.factories import contact_row
from tests.web.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    accessible,
    cheap_hashing,
    fresh_database,
    need_browser,
    serving,
    sign_in_by_keyboard,
)
from tests.web.conftest import BAD_CSV, CHECKIN_CSV

DISTRICT = "11140"  # Jung-gu: the demo investigator's district (the first case's)
OTHER_DISTRICT = "11110"
OUTSIDER_PASSWORD = "kimchi stew on a cold day"


@dataclass
class Server:
    url: str
    database_url: str
    case_id: int
    reference: str
    password: str


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A served app over a fresh SQLite database: one case, the demo accounts, an outsider."""
    need_browser()
    cheap_hashing(monkeypatch)
    engine = fresh_database(tmp_path, monkeypatch, CITYTRACE_LOGIN_RATE_PER_USERNAME_PER_MIN="100")
    database_url = get_settings().resolved_database_url
    with unit_of_work(engine) as session:
        case = cases.create(
            session=session,
            actor="test",
            data=CaseCreate(
                reference="WEB-001",
                confirmed_date=date(2020, 3, 5),
                symptom_onset_date=date(2020, 3, 3),
                isolated_date=date(2020, 3, 5),
                district_code=DISTRICT,
            ),
        )
        case_id = case.id
        # WEB-001's person was a contact of WEB-000 (since released): a chain of two.
        case.person_ref = "web-p1"
        source = cases.create(
            session=session,
            actor="test",
            data=CaseCreate(
                reference="WEB-000", confirmed_date=date(2020, 3, 5), district_code=DISTRICT
            ),
        )
        session.flush()
        session.add(
            contact_row(
                source.id,
                "web-p1",
                start=datetime(2020, 3, 3, 3, tzinfo=UTC),
                state=ContactState.RELEASED,
            )
        )
    made = {username: password for username, _, password in create_demo_users(engine)}
    with unit_of_work(engine) as session:
        accounts.create(
            session=session,
            actor="test",
            data=UserCreate(
                username="outsider",
                role=Role.INVESTIGATOR,
                district_code=OTHER_DISTRICT,
                password=SecretStr(OUTSIDER_PASSWORD),
            ),
        )
    engine.dispose()
    with serving() as url:
        yield Server(
            url=url,
            database_url=database_url,
            case_id=case_id,
            reference="WEB-001",
            password=made["demo-investigator"],
        )


def test_the_investigators_workspace(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="ko-KR", viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(str(e)))

            # Signing in, by keyboard; Korean is the default for Seoul.
            page.goto(f"{server.url}/cases")
            assert "/login" in page.url
            assert page.get_attribute("html", "lang") == "ko"
            sign_in_by_keyboard(page, "demo-investigator", server.password)
            assert page.url.endswith("/cases")

            # My district's cases; open the case.
            page.get_by_role("link", name=server.reference).click()
            page.wait_for_url(f"**/cases/{server.case_id}")
            expect(page.locator("#no-route")).to_be_visible()
            # Its transmission chain: the case it was infected by, then itself.
            chain = page.locator("#chain-list tbody tr")
            expect(chain).to_have_count(2)
            expect(chain.nth(0).get_by_role("link", name="WEB-000")).to_be_visible()
            expect(page.locator("#chain-list tr[aria-current=true]")).to_contain_text("WEB-001")
            inaccessible = accessible(page, "case page")

            # A malformed file: its rows are reported in the page, and nothing is stored.
            page.set_input_files(
                "#evidence-file",
                files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}],
            )
            page.locator("#upload-form button[type=submit]").click()
            report = page.locator("#import-report")
            expect(report).to_contain_text("line 2")
            expect(report).to_contain_text("line 3")
            expect(page.locator("#evidence-list")).to_have_count(0)

            # A good file: uploaded with progress, then the route on the timeline and the map.
            page.set_input_files(
                "#evidence-file",
                files=[
                    {"name": "checkins.csv", "mimeType": "text/csv", "buffer": CHECKIN_CSV.encode()}
                ],
            )
            with page.expect_navigation(url="**imported=**"):
                page.locator("#upload-form button[type=submit]").click()
            rows = page.locator("#timeline tr.visit")
            expect(rows).to_have_count(3)
            expect(page.locator("#route-map .leaflet-marker-icon")).to_have_count(3)
            expect(
                page.locator("#route-map path.leaflet-interactive, #route-map path")
            ).not_to_have_count(0)
            expect(rows.nth(0)).to_contain_text("10:00–10:50")  # Seoul time
            expect(page.locator("#route-map[data-outlines-loaded=true]")).to_have_count(1)
            expect(page.locator("#route-map .district-label")).not_to_have_count(0)
            shot = (SCREENSHOTS or tmp_path) / "case-page.png"
            page.screenshot(path=str(shot), full_page=True)

            # Review: confirm the first visit, edit the second, reject the third.
            with page.expect_navigation():
                rows.nth(0).locator("button.confirm").click()
            expect(rows.nth(0)).to_have_class("visit status-confirmed")
            rows.nth(1).locator("summary").click()
            rows.nth(1).locator("input[name=venue_name]").fill("Myeongdong Noodles (2F)")
            rows.nth(1).locator("input[name=note]").fill("receipt checked")
            with page.expect_navigation():
                rows.nth(1).locator("details form button[type=submit]").click()
            expect(rows.nth(1)).to_have_class("visit status-confirmed")
            expect(rows.nth(1)).to_contain_text("Myeongdong Noodles (2F)")
            with page.expect_navigation():
                rows.nth(2).locator("button.reject").click()
            expect(rows.nth(2)).to_have_class("visit status-rejected")
            expect(page.locator("#route-map .leaflet-marker-icon.rejected")).to_have_count(1)

            # The exposure search: without the city's records the list says it is empty.
            with page.expect_navigation():
                page.get_by_role("link", name="접촉자 조사").click()
            page.fill("#distance_m", "30")
            page.fill("#min_overlap_min", "10")
            with page.expect_navigation():
                page.get_by_role("button", name="검색 실행").click()
            expect(page.locator("#search-result")).to_be_visible()
            expect(page.locator("#no-contacts")).to_be_visible()

            # English and back.
            with page.expect_navigation():
                page.get_by_role("link", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("h1")).to_contain_text("Contacts of WEB-001")
            with page.expect_navigation():
                page.get_by_role("link", name="한국어").click()
            expect(page.locator("html")).to_have_attribute("lang", "ko")
            expect(page.locator("h1")).to_contain_text("WEB-001의 접촉자")
            # The follow-up worklist, from the navigation: nobody to act on yet.
            with page.expect_navigation():
                page.get_by_role("link", name="접촉자 관리").click()
            expect(page.locator("h1")).to_have_text("오늘 조치할 접촉자")
            expect(page.locator("#no-due")).to_be_visible()
            # The outbreak picture: the day of the case's confirmation as a bar.
            with page.expect_navigation():
                page.get_by_role("link", name="유행 현황").click()
            expect(page.locator("h1")).to_have_text("유행 현황")
            expect(page.locator("#curve .bar")).to_have_count(1)
            expect(page.locator("#cluster-list tbody tr")).to_have_count(1)
            inaccessible += accessible(page, "outbreak")
            with page.expect_download() as download:
                page.locator("#clusters-csv").click()
            saved = tmp_path / "clusters.csv"
            download.value.save_as(saved)
            assert saved.read_text().splitlines()[1].startswith("2,1,2,2020-03-05,2020-03-05,")
            assert inaccessible == []
            context.close()

            # An investigator of another district cannot open the case.
            other = browser.new_context(locale="ko-KR")
            page = other.new_page()
            page.goto(f"{server.url}/login")
            sign_in_by_keyboard(page, "outsider", OUTSIDER_PASSWORD)
            response = page.goto(f"{server.url}/cases/{server.case_id}")
            assert response is not None and response.status == 403
            expect(page.locator("[role=alert]")).to_be_visible()
            other.close()
        finally:
            browser.close()
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []

    engine = make_engine(server.database_url)
    try:
        with unit_of_work(engine) as session:
            denied = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "access.denied",
                    AuditEvent.entity_id == str(server.case_id),
                )
            ).all()
            assert [(e.actor, e.detail["reason"]) for e in denied] == [("outsider", "scope")]
    finally:
        engine.dispose()
