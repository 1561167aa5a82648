"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from citytrace.config import get_settings
from citytrace.db import make_engine
from citytrace.migrations import upgrade

# CI sets this so that a test that needs the real data or PostgreSQL fails instead of skipping.
REQUIRE_ALL = os.environ.get("CITYTRACE_REQUIRE_ALL") == "1"


def _missing(reason: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (CITYTRACE_REQUIRE_ALL=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The third-party data folder (``../shared/data``), found through ``CITYTRACE_DATA_DIR``."""
    value = os.environ.get("CITYTRACE_DATA_DIR")
    if not value:
        _missing("CITYTRACE_DATA_DIR is not set: this test needs the shared real data")
    path = Path(str(value))
    if not path.is_dir():
        pytest.fail(f"CITYTRACE_DATA_DIR={value} is not a folder")
    return path


@pytest.fixture(autouse=True)
def _settings(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Each test gets its own data folder and fresh settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CITYTRACE_HOME", str(home))
    monkeypatch.delenv("CITYTRACE_DATABASE_URL", raising=False)
    # No result notification goes out behind a test's back: the tests of the service's sender
    # turn it on themselves.
    monkeypatch.setenv("CITYTRACE_SCREENING_OUTBOX_INTERVAL_MIN", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def postgres_engine(schema: str) -> Engine:
    """An engine on the test PostgreSQL whose connections use ``schema``, created empty."""
    url = os.environ.get("CITYTRACE_TEST_DATABASE_URL")
    if not url:
        _missing("CITYTRACE_TEST_DATABASE_URL is not set: this test needs PostgreSQL")
    admin = make_engine(str(url))
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = make_engine(str(url))
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()
        dbapi_connection.commit()

    return engine


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database of each kind: the embedded SQLite and the real PostgreSQL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "citytrace.db"
        engine = make_engine(f"sqlite:///{path}")
    else:
        engine = postgres_engine(f"citytrace_test_{worker}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back when the test ends."""
    with engine.connect() as conn:
        outer = conn.begin()
        db = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield db
        finally:
            db.close()
            outer.rollback()
