"""A SQLite database locked by another writer for the whole busy timeout is a 503 with
Retry-After, never an internal error."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from citytrace.api.app import create_app
from citytrace.config import get_settings
from citytrace.db import make_engine
from citytrace.migrations import upgrade


def test_a_locked_database_is_busy_not_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    get_settings.cache_clear()
    path = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{path}")

    def short_wait(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA busy_timeout=100")

    event.listen(engine, "connect", short_wait)
    upgrade(engine)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with TestClient(create_app(engine), raise_server_exceptions=False) as client:
            resp = client.post("/api/auth/login", json={"username": "kim", "password": "x" * 12})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    assert resp.status_code == 503, resp.text
    assert resp.headers["Retry-After"] == "2"
    assert resp.json() == {"error": "the service is busy: try again in a moment"}
