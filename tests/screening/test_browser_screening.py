"""Screening in a real browser (Debian's Chromium driven by Playwright, a real uvicorn server on
a free localhost port, its own SQLite database): a citizen finds a clinic, books, sees the
booking and its QR code; the clinic's staff check the booking in, label its sample and enter a
positive result; the citizen sees the result with the booking's code."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from citytrace.config import get_settings
from citytrace.db import make_engine, unit_of_work
from citytrace.demo import create_demo_users
from citytrace.screening import clinics
from citytrace.screening.models import ClinicKind, Outcome, Result
from citytrace.screening.schemas import ClinicCreate
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

CLINIC_NAME = "Jung-gu Health Center Drive-through"
ALWAYS = "00:00-24:00"


@dataclass
class Server:
    url: str
    database_url: str
    staff_password: str


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A served app over a fresh SQLite database: one round-the-clock drive-through clinic
    (the demo clinic staff's), the demo accounts."""
    need_browser()
    cheap_hashing(monkeypatch)
    engine = fresh_database(tmp_path, monkeypatch)
    database_url = get_settings().resolved_database_url
    with unit_of_work(engine) as session:
        clinics.create(
            session=session,
            actor="test",
            data=ClinicCreate(
                reference="demo-clinic",
                name=CLINIC_NAME,
                kind=ClinicKind.DRIVE_THROUGH,
                units=2,
                address="Seoul, Jung-gu, Sejong-daero 110",
                phone="02-3396-5000",
                district_code="11140",
                latitude=37.5663,
                longitude=126.9779,
                weekday_hours=ALWAYS,
                saturday_hours=ALWAYS,
                holiday_hours=ALWAYS,
            ),
        )
    made = {username: password for username, _, password in create_demo_users(engine)}
    engine.dispose()
    with serving() as url:
        yield Server(url=url, database_url=database_url, staff_password=made["demo-clinic"])


def _shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str((SCREENSHOTS or tmp_path) / f"screening-{name}.png"), full_page=True)


def test_book_check_in_sample_result(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    inaccessible: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            citizen = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
            page = citizen.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            # Find: my district, the nearest clinics with their kind, wait and next slot.
            page.goto(f"{server.url}/screening")
            assert page.get_attribute("html", "lang") == "ko"
            page.get_by_label("자치구").select_option("11140")
            with page.expect_navigation():
                page.get_by_role("button", name="찾기", exact=True).click()
            result = page.locator("#clinic-results li").first
            expect(result).to_contain_text(CLINIC_NAME)
            expect(result).to_contain_text("드라이브 스루")
            expect(result).to_contain_text("운영 중")
            expect(result).to_contain_text("대기 없음")
            inaccessible += accessible(page, "find")
            _shot(page, tmp_path, "find")

            # Book the first free slot, filling the form by keyboard.
            with page.expect_navigation():
                page.get_by_role("link", name=f"{CLINIC_NAME} 예약하기").click()
            expect(page.locator("fieldset.slots input[type=radio]").first).to_be_checked()
            page.get_by_label("이름").focus()
            page.keyboard.type("김민지")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "phone"
            page.keyboard.type("010-1234-5678")
            inaccessible += accessible(page, "book")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            reference = page.locator("#booking-reference").inner_text().strip()
            code = page.locator("#access-code").inner_text().strip()
            assert reference.startswith("B") and len(code) == 9
            qr = page.locator("#booking-qr")
            expect(qr).to_be_visible()
            assert page.evaluate(
                "() => { const i = document.getElementById('booking-qr');"
                " return i.complete && i.naturalWidth > 100; }"
            )
            inaccessible += accessible(page, "booked")
            _shot(page, tmp_path, "booked")

            # My booking: its status and QR code, in English too.
            with page.expect_navigation():
                page.get_by_role("link", name="내 예약").first.click()
            expect(page.locator("#booking-status")).to_have_text("예약됨")
            expect(page.locator("#booking-qr")).to_be_visible()
            with page.expect_navigation():
                page.get_by_role("link", name="English").click()
            expect(page.locator("#booking-status")).to_have_text("Booked")
            expect(page.locator("#my-result")).to_contain_text("not ready yet")

            # The clinic's staff: check the booking in, call, take and label the sample.
            staff_context = browser.new_context(
                locale="ko-KR", viewport={"width": 1280, "height": 900}
            )
            staff = staff_context.new_page()
            staff.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            staff.on("pageerror", lambda e: problems.append(str(e)))
            staff.goto(f"{server.url}/login")
            sign_in_by_keyboard(staff, "demo-clinic", server.staff_password)
            with staff.expect_navigation():
                staff.get_by_role("link", name="선별진료소").click()
            expect(staff.locator("h1")).to_contain_text(CLINIC_NAME)
            # A scanner types the QR code's text into the focused field and presses Enter.
            assert staff.evaluate("document.activeElement.id") == "checkin-code"
            staff.keyboard.type(reference)
            with staff.expect_navigation():
                staff.keyboard.press("Enter")
            expect(staff.locator("#page-notice")).to_contain_text("대기번호 1")
            expect(staff.locator("#waiting-count")).to_have_text("1")
            inaccessible += accessible(staff, "staff-queue")
            _shot(staff, tmp_path, "staff-queue")
            unit = staff.locator("article.unit", has=staff.locator(f"text={reference}"))
            with staff.expect_navigation():
                unit.get_by_role("button", name="다음 사람 부르기").click()
            expect(staff.locator("#page-notice")).to_contain_text("1번을 불렀습니다")
            with staff.expect_navigation():
                staff.get_by_role("button", name="#1 검체 채취 완료").click()
            label_image = staff.locator("#new-label img")
            expect(label_image).to_be_visible()
            label = staff.locator("#new-label").get_attribute("data-label") or ""
            assert label.startswith("S"), label
            row = staff.locator(f"#sample-{label}")
            expect(row).to_contain_text(reference)
            expect(row).to_contain_text("채취")

            # A positive result, entered by hand.
            staff.get_by_label("검체번호").fill(label)
            staff.get_by_label("양성").check()
            inaccessible += accessible(staff, "staff-samples")
            with staff.expect_navigation():
                staff.get_by_role("button", name="결과 저장").click()
            expect(staff.locator("#page-notice")).to_contain_text(label)
            expect(staff.locator(f"#sample-{label}")).to_contain_text("양성")
            _shot(staff, tmp_path, "staff-samples")
            staff_context.close()

            # The citizen sees the result with the booking's reference and code.
            fresh = browser.new_context(locale="ko-KR")
            page = fresh.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(f"{server.url}/screening/my-result")
            page.get_by_label("예약번호").fill(reference)
            page.get_by_label("확인 코드").fill(code)
            with page.expect_navigation():
                page.get_by_role("button", name="결과 보기").click()
            expect(page.locator("#result-outcome")).to_contain_text("양성")
            expect(page.locator("#result-card")).to_contain_text("보건소에서 곧 연락드립니다")
            inaccessible += accessible(page, "my-result")
            _shot(page, tmp_path, "my-result")
            fresh.close()
            citizen.close()
        finally:
            browser.close()
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    assert inaccessible == []

    engine = make_engine(server.database_url)
    try:
        with unit_of_work(engine) as session:
            result = session.scalars(select(Result)).one()
            assert result.outcome == Outcome.POSITIVE and result.case_id is not None
    finally:
        engine.dispose()
