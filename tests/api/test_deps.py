"""The request's unit of work: its transaction ends in the thread that ran the route, right after
the route returns (committed, kept for an audited refusal, rolled back on an error), and every
route of the app that opens one ends it so."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from citytrace.api.app import create_app
from citytrace.api.deps import SessionDep, UnitOfWorkRoute, get_session
from citytrace.auth.exceptions import PermissionDeniedError
from citytrace.db import make_engine

# Set by a route in the context of the call that runs it: FastAPI runs each piece of a request
# (a dependency, the route, the end of a dependency) in a copy of the request's context, so a
# commit sees the value only when it runs within the route's own call.
_in_route: ContextVar[bool] = ContextVar("in_route", default=False)


class Commits:
    """What each commit of the database saw: whether it ran within the route, and its thread."""

    def __init__(self, engine: Engine) -> None:
        self.in_route: list[bool] = []
        self.threads: list[int] = []
        event.listen(engine, "commit", self._seen)

    def _seen(self, _connection: Any) -> None:
        self.in_route.append(_in_route.get())
        self.threads.append(threading.get_ident())


def _write(session: Any, value: int) -> None:
    _in_route.set(True)
    session.execute(text("INSERT INTO item (id) VALUES (:v)"), {"v": value})


def _router() -> APIRouter:
    router = APIRouter(route_class=UnitOfWorkRoute)

    @router.post("/items/{value}", status_code=201)
    def add(value: int, session: SessionDep) -> dict[str, int]:
        _write(session, value)
        return {"id": value}

    @router.post("/refused/{value}")
    def refuse(value: int, session: SessionDep) -> None:
        _write(session, value)
        raise PermissionDeniedError("refused, and audited")

    @router.post("/failed/{value}")
    def fail(value: int, session: SessionDep) -> None:
        _write(session, value)
        raise RuntimeError("a fault")

    @router.post("/orphans/{value}", status_code=201)
    def add_orphan(value: int, session: SessionDep) -> dict[str, int]:
        # Its parent is missing: the deferred foreign key refuses it at commit.
        session.execute(text("INSERT INTO orphan (parent_id) VALUES (:v)"), {"v": value})
        return {"id": value}

    @router.post("/async-items/{value}", status_code=201)
    async def add_async(value: int, session: SessionDep) -> dict[str, int]:
        _write(session, value)
        return {"id": value, "thread": threading.get_ident()}

    return router


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'work.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY)"))
        conn.execute(
            text(
                "CREATE TABLE orphan (parent_id INTEGER REFERENCES item (id) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    yield engine
    engine.dispose()


@pytest.fixture
def client(database: Engine) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.engine = database
    app.include_router(_router())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def commits(database: Engine) -> Commits:
    return Commits(database)


def _items(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(text("SELECT id FROM item ORDER BY id")))


class TestUnitOfWorkRoute:
    def test_a_route_commits_within_its_own_call(
        self, client: TestClient, database: Engine, commits: Commits
    ) -> None:
        assert client.post("/items/1").status_code == 201
        assert commits.in_route == [True]
        assert _items(database) == [1]

    def test_an_audited_refusal_is_committed_within_the_route_call(
        self, client: TestClient, database: Engine, commits: Commits
    ) -> None:
        assert client.post("/refused/2").status_code == 500  # this app maps no refusal to 403
        assert commits.in_route[:1] == [True]
        assert _items(database) == [2]

    def test_an_error_rolls_back(
        self, client: TestClient, database: Engine, commits: Commits
    ) -> None:
        assert client.post("/failed/3").status_code == 500
        assert commits.in_route == []
        assert _items(database) == []

    def test_a_failed_commit_is_the_answer(self, client: TestClient, database: Engine) -> None:
        assert client.post("/orphans/4").status_code == 500
        with database.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM orphan")) == 0
        # The failed transaction was rolled back: the next request goes through.
        assert client.post("/items/4").status_code == 201

    def test_an_async_route_commits_on_the_event_loop(
        self, client: TestClient, database: Engine, commits: Commits
    ) -> None:
        resp = client.post("/async-items/5")
        assert resp.status_code == 201, resp.text
        assert commits.threads == [resp.json()["thread"]]
        assert _items(database) == [5]


def _opens_session(dependant: Dependant) -> bool:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is get_session:
            return True
        stack.extend(current.dependencies)
    return False


def test_every_route_with_a_session_ends_it_where_it_ran(tmp_path: Path) -> None:
    app = create_app(make_engine(f"sqlite:///{tmp_path / 'routes.db'}"))
    contexts = [
        rc for rc in iter_route_contexts(app.routes) if isinstance(rc.original_route, APIRoute)
    ]
    with_session = [rc for rc in contexts if _opens_session(rc.dependant)]
    assert len(with_session) > 100
    assert [
        f"{sorted(rc.methods or ())} {rc.path}"
        for rc in with_session
        if not isinstance(rc.original_route, UnitOfWorkRoute)
    ] == []
