"""Admission of requests: at most so many at once inside the app, the others queued on the
event loop; exempt paths and other scopes pass through; and over a real server, far more
signed-in requests than worker threads all succeed instead of waiting for a database lock whose
holder waits for a thread."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from citytrace.api.admission import (
    RESERVED_THREADS,
    AdmissionMiddleware,
    admission_limit,
)
from citytrace.auth.models import Role
from citytrace.config import get_settings
from citytrace.db import make_engine
from citytrace.migrations import upgrade
from tests.auth.factories import bearer, make_user
from tests.live_server import serve


class TestAdmissionLimit:
    def test_all_threads_but_the_reserved_ones_by_default(self) -> None:
        assert admission_limit(40) == 40 - RESERVED_THREADS == 32

    def test_a_lower_setting_is_kept(self) -> None:
        assert admission_limit(40, 10) == 10

    def test_a_setting_that_leaves_no_thread_for_a_lock_holder_is_lowered(self) -> None:
        assert admission_limit(40, 40) == 32
        assert admission_limit(100, 500) == 92

    def test_at_least_one_request(self) -> None:
        assert admission_limit(4) == 1

    def test_threads_without_limit(self) -> None:
        assert admission_limit(float("inf"), 7) == 7


class SlowApp:
    """An ASGI app whose requests wait for :attr:`release` (unless under ``/static/``),
    counting how many are inside at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self.release = anyio.Event()
        self.scopes: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes[scope["type"]] += 1
        if scope["type"] != "http":
            return
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            if not scope["path"].startswith("/static/"):
                await self.release.wait()
            if scope["path"] == "/fails":
                raise RuntimeError("a fault")
        finally:
            self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def _until(condition: Any) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.001)


class TestAdmissionMiddleware:
    def test_at_most_the_limit_inside_and_the_queue_drains(self) -> None:
        inner = SlowApp()
        admission = AdmissionMiddleware(inner, max_requests=3)

        async def main() -> list[int]:
            async with _client(admission) as client, anyio.create_task_group() as tasks:
                statuses: list[int] = []

                async def get(path: str) -> None:
                    statuses.append((await client.get(path)).status_code)

                for i in range(20):
                    tasks.start_soon(get, f"/cases/{i}")
                await _until(lambda: inner.inside == 3)
                await anyio.sleep(0.05)  # the others stay queued
                assert inner.inside == 3
                inner.release.set()
            return statuses

        statuses = anyio.run(main)
        assert statuses == [200] * 20
        assert inner.most_inside == 3
        assert admission.limit == 3

    def test_exempt_paths_pass_a_full_house(self) -> None:
        inner = SlowApp()
        admission = AdmissionMiddleware(inner, max_requests=2)

        async def main() -> None:
            async with _client(admission) as client, anyio.create_task_group() as tasks:
                for i in range(4):
                    tasks.start_soon(client.get, f"/cases/{i}")
                await _until(lambda: inner.inside == 2)
                with anyio.fail_after(5):
                    answer = await client.get("/static/app.js")
                assert answer.status_code == 200
                assert inner.inside == 2  # the exempt request took no place
                inner.release.set()

        anyio.run(main)
        assert inner.most_inside == 3

    def test_a_failed_request_gives_its_place_back(self) -> None:
        inner = SlowApp()
        inner.release.set()
        admission = AdmissionMiddleware(inner, max_requests=1)

        async def main() -> list[int]:
            async with _client(admission) as client:
                failed = await asyncio.gather(*(client.get("/fails") for _ in range(3)))
                with anyio.fail_after(5):
                    after = await client.get("/cases/1")
            return [a.status_code for a in [*failed, after]]

        assert anyio.run(main) == [500, 500, 500, 200]

    def test_lifespan_and_websocket_pass_through(self) -> None:
        inner = SlowApp()
        admission = AdmissionMiddleware(inner, max_requests=1)

        async def main() -> None:
            for kind in ("lifespan", "websocket"):
                await admission({"type": kind, "path": "/"}, None, None)

        anyio.run(main)
        assert inner.scopes == {"lifespan": 1, "websocket": 1}
        assert admission.limit is None  # no place was ever taken

    def test_the_limit_comes_from_the_worker_threads(self) -> None:
        inner = SlowApp()
        inner.release.set()
        admission = AdmissionMiddleware(inner)

        async def main() -> int:
            threads = anyio.to_thread.current_default_thread_limiter().total_tokens
            async with _client(admission) as client:
                await client.get("/cases/1")
            return int(threads)

        threads = anyio.run(main)
        assert admission.limit == threads - RESERVED_THREADS


def test_the_app_admits_requests_past_the_feed_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from citytrace.api.app import create_app
    from citytrace.disclosure.public import OpenDataFastPath

    monkeypatch.setenv("CITYTRACE_MAX_CONCURRENT_REQUESTS", "12")
    get_settings.cache_clear()
    app = create_app(make_engine(f"sqlite:///{tmp_path / 'wiring.db'}"))
    outermost = [m.cls for m in app.user_middleware[:2]]
    assert outermost == [OpenDataFastPath, AdmissionMiddleware]
    assert app.user_middleware[1].kwargs == {"max_requests": 12}


# --- over a real server ----------------------------------------------------------------------

SIGNED_IN_REQUESTS = 150
# Without admission, a request holding SQLite's write lock waits for a worker thread that the
# waiters of that lock hold until this timeout fails them (503): short, to fail in seconds.
BUSY_TIMEOUT_MS = 3000


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_RECORDS_INDEX", "false")
    get_settings.cache_clear()
    engine = make_engine(f"sqlite:///{tmp_path / 'admission.db'}")

    def short_wait(connection: Any, _record: Any) -> None:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    event.listen(engine, "connect", short_wait)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_many_more_signed_in_requests_than_threads_all_succeed(database: Engine) -> None:
    from citytrace.api.app import create_app

    with Session(database) as session, session.begin():
        headers = bearer(session, make_user(session, Role.INVESTIGATOR))
    app = create_app(database)

    async def fire(base_url: str) -> list[int]:
        limits = httpx.Limits(max_connections=SIGNED_IN_REQUESTS, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=base_url, headers=headers, limits=limits, timeout=30
        ) as client:
            answers = await asyncio.gather(
                *(client.get("/api/auth/me") for _ in range(SIGNED_IN_REQUESTS))
            )
        return [a.status_code for a in answers]

    with serve(app) as base_url:
        started = time.monotonic()
        statuses = asyncio.run(fire(base_url))
        elapsed_s = time.monotonic() - started
    assert Counter(statuses) == {200: SIGNED_IN_REQUESTS}
    # About 2 s on a quiet machine; without admission the busy timeouts add up to half a minute.
    assert elapsed_s < 15, elapsed_s
