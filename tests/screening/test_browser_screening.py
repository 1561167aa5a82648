"""Screening in a real browser (Debian's Chromium driven by Playwright, a real uvicorn server on
a free localhost port, its own SQLite database): a citizen finds a clinic, books, sees the
booking and its QR code; the clinic's staff check the booking in, label its sample and enter a
positive result; the citizen sees the result with the booking's code."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from citytrace.config import get_settings
from citytrace.db import make_engine, unit_of_work
from citytrace.demo import create_demo_users
from citytrace.migrations import upgrade
from citytrace.screening import clinics
from citytrace.screening.models import ClinicKind, Outcome, Result
from citytrace.screening.schemas import ClinicCreate
from tests.conftest import _missing
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    _free_port,
    _sign_in_by_keyboard,
    _wait_until_up,
)

CLINIC_NAME = "Jung-gu Health Center Drive-through"
ALWAYS = "00:00-24:00"
# axe-core rules whose failures would make a page unusable for someone (serious or worse).
SERIOUS = {"serious", "critical"}


@dataclass
class Server:
    url: str
    database_url: str
    staff_password: str


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A served app over a fresh SQLite database: one round-the-clock drive-through clinic
    (the demo clinic staff's), the demo accounts."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing: the browser tests need Debian's chromium package")
    pytest.importorskip("playwright", reason="the browser tests need the playwright package")
    home = tmp_path / "home"
    monkeypatch.setenv("CITYTRACE_HOME", str(home))
    monkeypatch.setenv("CITYTRACE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CITYTRACE_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("CITYTRACE_ARGON2_PARALLELISM", "1")
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    get_settings.cache_clear()
    database_url = get_settings().resolved_database_url
    home.mkdir(parents=True)
    engine = make_engine(database_url)
    upgrade(engine)
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
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
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
            "warning",
        ],
        env=dict(os.environ),
    )
    try:
        _wait_until_up(url, process)
        yield Server(url=url, database_url=database_url, staff_password=made["demo-clinic"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _accessible(page, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Serious accessibility problems of the page (axe-core), as ``rule: target`` lines."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    problems = []
    for violation in results.response["violations"]:
        if violation.get("impact") in SERIOUS:
            for node in violation["nodes"]:
                problems.append(f"{name}: {violation['id']}: {node['target']}")
    return problems


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
            inaccessible += _accessible(page, "find")
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
            inaccessible += _accessible(page, "book")
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
            inaccessible += _accessible(page, "booked")
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
            _sign_in_by_keyboard(staff, "demo-clinic", server.staff_password)
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
            inaccessible += _accessible(staff, "staff-queue")
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
            inaccessible += _accessible(staff, "staff-samples")
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
            inaccessible += _accessible(page, "my-result")
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
