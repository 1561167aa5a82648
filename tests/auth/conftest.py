"""Fixtures of the accounts tests: a cheap password hash, the app and a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.config import get_settings


@pytest.fixture(autouse=True)
def _cheap_hashing(_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its smallest cost: the tests check the logic, not the hash's strength."""
    monkeypatch.setenv("CITYTRACE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CITYTRACE_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("CITYTRACE_ARGON2_PARALLELISM", "1")
    # No background purge holding the test database while a test runs.
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    get_settings.cache_clear()


@pytest.fixture
def app(engine: Engine, session: Session) -> FastAPI:
    app = create_app(engine)
    app.dependency_overrides[get_session] = lambda: session
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
