"""The `citytrace user` commands, run in-process over the embedded database of the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from citytrace import cli
from citytrace.audit.models import AuditEvent
from citytrace.auth.models import Role, User
from citytrace.db import get_engine, make_engine
from citytrace.demo import create_demo_users
from citytrace.errors import CitytraceError
from citytrace.migrations import upgrade


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    if not cli.app.registered_groups:
        cli._register()
    get_engine.cache_clear()  # the engine of this test's data folder
    yield CliRunner()
    get_engine().dispose()
    get_engine.cache_clear()


def run(runner: CliRunner, *args: str, stdin: str = "", check: bool = True) -> Any:
    result = runner.invoke(cli.app, ["user", *args], input=stdin)
    if check and result.exit_code != 0:
        raise AssertionError(f"citytrace user {' '.join(args)} failed: {result.output}")
    return result


class TestUserCommands:
    def test_create_list_token_deactivate(self, runner: CliRunner) -> None:
        made = run(
            runner,
            "create",
            "--username",
            "root",
            "--role",
            "administrator",
            "--password-stdin",
            stdin="a long enough password\n",
        )
        assert "user 1 root (administrator) created" in made.stdout
        assert "password" not in made.stdout
        generated = run(
            runner, "create", "--username", "kim", "--role", "investigator", "--district", "11140"
        )
        assert "password (shown once" in generated.stdout
        users = json.loads(run(runner, "list", "--json").stdout)
        assert [(u["username"], u["district_code"]) for u in users] == [
            ("kim", "11140"),
            ("root", None),
        ]
        token = run(runner, "token", "--username", "kim", "--name", "import job")
        value = token.stdout.strip()
        assert value.startswith("ct_") and len(value) > 40
        assert value not in token.stderr and "Bearer" in token.stderr
        run(runner, "deactivate", "--username", "kim")
        assert "inactive" in run(runner, "list").stdout
        with Session(get_engine()) as session:
            actors = set(session.scalars(select(AuditEvent.actor)))
            assert len(actors) == 1 and actors.pop().startswith("cli:")

    def test_errors_name_what_is_wrong(self, runner: CliRunner) -> None:
        short = run(
            runner,
            "create",
            "--username",
            "root",
            "--role",
            "administrator",
            "--password-stdin",
            stdin="short\n",
            check=False,
        )
        assert isinstance(short.exception, CitytraceError)
        assert "--password-stdin" in str(short.exception)
        no_district = run(
            runner, "create", "--username", "kim", "--role", "investigator", check=False
        )
        assert "district" in str(no_district.exception)
        missing = run(runner, "deactivate", "--username", "nobody", check=False)
        assert "'nobody' does not exist" in str(missing.exception)


class TestDemoUsers:
    def test_one_account_per_role_once(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
        upgrade(engine)
        made = create_demo_users(engine)
        assert sorted(role for _, role, _ in made) == sorted(r.value for r in Role)
        assert all(len(password) >= 12 for _, _, password in made)
        assert create_demo_users(engine) == []
        with Session(engine) as session:
            investigator = session.query(User).filter_by(role=Role.INVESTIGATOR).one()
            assert investigator.district_code is not None
        engine.dispose()
