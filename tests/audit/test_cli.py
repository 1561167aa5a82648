"""`citytrace audit list|verify` on the embedded database of the test's home."""

from __future__ import annotations

import sqlite3
import sys
from datetime import date

import pytest

from citytrace.cases import service as cases
from citytrace.cases.schemas import CaseCreate, IdentityIn
from citytrace.cli import main
from citytrace.cli.audit import app
from citytrace.config import get_settings
from citytrace.db import get_engine
from tests.cli_runner import home_session, invoke


class TestAuditCommands:
    def test_list_verify_and_name_a_tampered_event(self) -> None:
        with home_session() as session:
            for day in (5, 6):
                data = CaseCreate(
                    confirmed_date=date(2020, 3, day), identity=IdentityIn(full_name="Kim")
                )
                cases.create(session=session, actor="cli:tester", data=data)
        listed = invoke(app, "list", "--action", "case.create")
        assert listed.exit_code == 0, listed.output
        assert listed.output.count("case.create") == 2 and "Kim" not in listed.output
        as_json = invoke(app, "list", "--json", "--actor", "cli:tester", "--since", "2020-01-01")
        assert "error" not in as_json.output and as_json.output.count('"actor"') == 2
        verified = invoke(app, "verify")
        assert verified.exit_code == 0 and "audit chain intact" in verified.output

        with sqlite3.connect(get_settings().home / "citytrace.db") as db:
            db.execute("UPDATE audit_event SET entity_id = '7' WHERE id = 2")
        broken = invoke(app, "verify")
        assert broken.exit_code == 1
        assert "audit chain broken at event 2" in broken.output
        assert "do not match its hash" in broken.output

    def test_exit_code_through_the_entry_point(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with home_session() as session:
            cases.create(
                session=session, actor="t", data=CaseCreate(confirmed_date=date(2020, 3, 5))
            )
        with sqlite3.connect(get_settings().home / "citytrace.db") as db:
            db.execute("UPDATE audit_event SET actor = 'x' WHERE id = 1")
        monkeypatch.setattr(sys, "argv", ["citytrace", "audit", "verify"])
        get_engine.cache_clear()
        with pytest.raises(SystemExit) as exit_:
            main()
        get_engine().dispose()
        get_engine.cache_clear()
        assert exit_.value.code == 1 and "broken at event 1" in capsys.readouterr().err

    def test_a_bad_time_is_refused(self) -> None:
        result = invoke(app, "list", "--since", "yesterday")
        assert result.exit_code != 0 and "--since" in str(result.exception)
