"""The `citytrace case` commands, run as a user runs them, on the embedded database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import CARD_CSV, gpx_text


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "citytrace", *args], capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"citytrace {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


class TestCaseCommands:
    def test_register_attach_review(self, tmp_path: Path) -> None:
        created = run(
            "case",
            "create",
            "--confirmed",
            "2020-03-05",
            "--onset",
            "2020-03-03",
            "--district",
            "11140",
        )
        assert "case 1 (C20200305-0001) registered" in created.stdout
        gpx = tmp_path / "track.gpx"
        gpx.write_text(gpx_text())
        card = tmp_path / "card.csv"
        card.write_text(CARD_CSV)
        attached = run("case", "attach", "1", str(gpx), str(card))
        assert "gpx, " in attached.stdout and "card, " in attached.stdout
        again = run("case", "attach", "1", str(card))
        assert "already attached" in again.stdout

        shown = json.loads(run("case", "show", "1", "--json").stdout)
        assert [e["kind"] for e in shown["evidence"]] == ["gpx", "card"]
        route = shown["route"]
        assert len(route) == 2 and route[1]["venue_name"] == "Seoul Station Cafe"

        run("case", "visit", "reject", str(route[0]["id"]), "--note", "not the patient")
        edited = run(
            "case",
            "visit",
            "edit",
            str(route[1]["id"]),
            "--finished-at",
            "2020-03-03T21:30:00+09:00",
        )
        assert "confirmed (edited)" in edited.stdout
        table = run("case", "route", "1").stdout
        assert "rejected" in table and "Seoul Station Cafe" in table

    def test_errors_are_one_line_without_traceback(self, tmp_path: Path) -> None:
        bad_date = run("case", "create", "--confirmed", "2020-13-45", check=False)
        assert bad_date.returncode == 2
        assert "--confirmed" in bad_date.stderr and "Traceback" not in bad_date.stderr

        missing = run("case", "show", "7", check=False)
        assert missing.returncode == 2 and "case 7 does not exist" in missing.stderr

        run("case", "create", "--confirmed", "2020-03-05")
        empty = tmp_path / "empty.csv"
        empty.write_text("")
        refused = run("case", "attach", "1", str(empty), check=False)
        assert refused.returncode == 2
        assert "empty.csv" in refused.stderr and "Traceback" not in refused.stderr
        assert json.loads(run("case", "show", "1", "--json").stdout)["evidence"] == []

    def test_a_command_line_that_does_not_parse_gets_usage_not_a_traceback(self) -> None:
        for args, expected in (
            (("case", "--bogus"), "No such option: --bogus"),
            (("nosuch",), "No such command 'nosuch'"),
            (("case", "show"), "Missing argument"),
        ):
            result = run(*args, check=False)
            assert result.returncode == 2, args
            assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr

    def test_a_bad_setting_is_named_not_a_traceback(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CITYTRACE_DISCLOSURE_MIN_K", "many")
        monkeypatch.setenv("CITYTRACE_HOLIDAYS", "XX")
        result = run("records", "days", check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "error: CITYTRACE_DISCLOSURE_MIN_K: Input should be a valid integer" in result.stderr
        assert "error: CITYTRACE_HOLIDAYS: " in result.stderr and "'XX'" in result.stderr


class TestContactsDue:
    def test_worklist_follows_the_contacts(self, tmp_path: Path) -> None:
        assert "no contact needs an action" in run("case", "contacts-due").stdout
        records = tmp_path / "records.csv"
        records.write_text(
            "person_id,latitude,longitude,started_at,finished_at\n"
            "501,37.55475,126.97075,2020-03-03T11:20:00+09:00,2020-03-03T12:20:00+09:00\n"
            "502,37.56475,126.97075,2020-03-03T11:20:00+09:00,2020-03-03T12:20:00+09:00\n"
        )
        run("records", "append", str(records))
        run("case", "create", "--confirmed", "2020-03-05", "--district", "11140")
        card = tmp_path / "card.csv"
        card.write_text(CARD_CSV)
        run("case", "attach", "1", str(card))
        assert "1 contacts (1 new" in run("case", "contacts", "1", "--search").stdout

        listed = run("case", "contacts-due", "--on", "2020-03-06").stdout.splitlines()
        assert len(listed) == 1 and listed[0].startswith("notify")
        assert "case C20200305-0001" in listed[0] and "person 501" in listed[0]
        (due,) = json.loads(run("case", "contacts-due", "--on", "2020-03-06", "--json").stdout)
        assert due["action"] == "notify" and due["district_code"] == "11140"
        assert due["waiting_days"] == 0  # identified today: due since today
        assert due["contact"]["quarantine_until_date"] == "2020-03-17"

        run("case", "contact", "move", str(due["contact"]["id"]), "in_quarantine")
        quiet = run("case", "contacts-due", "--on", "2020-03-10", "--district", "11140")
        assert "no contact needs an action" in quiet.stdout
        (release,) = json.loads(run("case", "contacts-due", "--on", "2020-03-18", "--json").stdout)
        assert (release["action"], release["since"], release["waiting_days"]) == (
            "release",
            "2020-03-18",
            0,
        )
        assert json.loads(
            run("case", "contacts-due", "--on", "2020-03-18", "--district", "11110", "--json")
            .stdout
        ) == []  # fmt: skip
        bad = run("case", "contacts-due", "--on", "18 March", check=False)
        assert bad.returncode != 0 and "--on" in bad.stderr and "Traceback" not in bad.stderr
