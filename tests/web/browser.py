"""Helpers of the browser tests: Debian's Chromium driven by Playwright against a real uvicorn
server on a free localhost port, with its own database under ``CITYTRACE_HOME``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from citytrace.config import get_settings
from citytrace.db import make_engine
from citytrace.migrations import upgrade
from tests.conftest import _missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = (
    Path(os.environ.get("CITYTRACE_SCREENSHOT_DIR", ""))
    if os.environ.get("CITYTRACE_SCREENSHOT_DIR")
    else None
)
# axe-core impacts that would make a page unusable for someone (serious or worse).
SERIOUS = {"serious", "critical"}


def need_browser() -> None:
    """Skip (or fail, where the suite must run everything) without Chromium or Playwright."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing: the browser tests need Debian's chromium package")
    pytest.importorskip("playwright", reason="the browser tests need the playwright package")


def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast password hashing for the served app (its accounts are made for the test)."""
    monkeypatch.setenv("CITYTRACE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CITYTRACE_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("CITYTRACE_ARGON2_PARALLELISM", "1")


def fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Engine:
    """A migrated database in a new ``CITYTRACE_HOME`` (``tmp_path / "home"``) for the app that
    :func:`serving` starts, without the retention purge; ``env``: more ``CITYTRACE_*`` settings."""
    home = tmp_path / "home"
    home.mkdir(parents=True)
    monkeypatch.setenv("CITYTRACE_HOME", str(home))
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    engine = make_engine(get_settings().resolved_database_url)
    upgrade(engine)
    return engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server stopped with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail("the server did not answer within 60 s")


@contextmanager
def serving(log: Path | None = None) -> Iterator[str]:
    """Serve the app (settings from the environment) until the block ends; gives its URL.
    With ``log``, the server's output, access log included, goes to that file as it runs."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = open(log, "wb") if log is not None else None  # noqa: SIM115 (closed below)
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
            "warning" if out is None else "info",
        ],
        env=dict(os.environ) if out is None else {**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=out,
        stderr=None if out is None else subprocess.STDOUT,
    )
    try:
        wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if out is not None:
            out.close()


def sign_in_by_keyboard(page, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Tab to the username field, type, Tab to the password, type, Enter."""
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "username":
            break
    else:
        pytest.fail("Tab never reached the username field")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def accessible(page, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Serious accessibility problems of the page (axe-core), as ``page: rule: target`` lines."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{name}: {violation['id']}: {node['target']}"
        for violation in results.response["violations"]
        if violation.get("impact") in SERIOUS
        for node in violation["nodes"]
    ]
