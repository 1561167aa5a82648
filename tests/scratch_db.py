"""A scratch database of the same kind as the ``engine`` fixture's, for tests whose work must
really commit (several connections, batches that commit, the bytes of the database file)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from citytrace.db import make_engine
from citytrace.migrations import upgrade


@contextmanager
def scratch_engine(like: Engine, folder: Path, revision: str = "head") -> Iterator[Engine]:
    """A new, empty database migrated to ``revision``: a SQLite file in ``folder``, or a
    PostgreSQL schema (dropped afterwards)."""
    if like.dialect.name == "sqlite":
        engine = make_engine(f"sqlite:///{folder / 'scratch.db'}")
        upgrade(engine, revision)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    url = os.environ["CITYTRACE_TEST_DATABASE_URL"]
    schema = f"scratch_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()
        dbapi_connection.commit()

    try:
        upgrade(engine, revision)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
