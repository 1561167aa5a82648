"""The purge inside the service: started with the app, run every interval, stopped with it."""

from __future__ import annotations

import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from citytrace.config import get_settings
from citytrace.db import make_engine
from citytrace.retention import scheduler


def app_with_retention(interval_min: str, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", interval_min)
    get_settings.cache_clear()
    app = FastAPI()
    app.state.engine = make_engine("sqlite://")
    scheduler.install_retention(app)
    return app


class TestScheduler:
    def test_runs_every_interval_while_the_app_is_up(self, monkeypatch: pytest.MonkeyPatch) -> None:
        runs: list[Engine] = []
        third = threading.Event()

        def fake_run(engine: Engine) -> None:
            runs.append(engine)
            if len(runs) == 2:
                raise RuntimeError("a failed run is logged; the next one still comes")
            if len(runs) >= 3:
                third.set()

        monkeypatch.setattr(scheduler, "run_once", fake_run)
        app = app_with_retention("0.0005", monkeypatch)  # 30 ms
        with TestClient(app):
            assert third.wait(timeout=10)
        stopped_at = len(runs)
        assert all(e is app.state.engine for e in runs)
        third.clear()
        assert not third.wait(timeout=0.2) and len(runs) == stopped_at  # stopped with the app

    def test_zero_disables_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(scheduler, "FIRST_RUN_MAX_DELAY_S", 0.0)
        monkeypatch.setattr(scheduler, "run_once", lambda engine: pytest.fail("ran"))
        with TestClient(app_with_retention("0", monkeypatch)):
            pass

    def test_the_app_factory_installs_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from citytrace.api.app import create_app

        ran = threading.Event()
        monkeypatch.setattr(scheduler, "run_once", lambda engine: ran.set())
        monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0.0005")
        get_settings.cache_clear()
        with TestClient(create_app(make_engine("sqlite://"))) as client:
            assert client.get("/api/health").status_code == 200
            assert ran.wait(timeout=10)
