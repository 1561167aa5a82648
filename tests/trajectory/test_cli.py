"""`citytrace staypoints`, through the real entry point (citytrace.cli.main)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer

import citytrace.cli
from citytrace.cli import staypoints as staypoints_command

HEADER = "user_id,tracked_at,latitude,longitude\n"


RunCli = Callable[[list[str]], tuple[int, str, str]]


@pytest.fixture
def citytrace_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run ``citytrace ARGS`` in-process through ``citytrace.cli.main``: (exit code, stdout,
    stderr). Only the staypoints command is registered, so the test does not depend on the other
    domains' commands."""
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.command("staypoints")(staypoints_command.staypoints)
    app.command("noop", hidden=True)(lambda: None)  # keeps "staypoints" a named sub-command
    monkeypatch.setattr(citytrace.cli, "app", app)
    monkeypatch.setattr(citytrace.cli, "_register", lambda: None)

    def run(args: list[str]) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["citytrace", *args])
        code = 0
        try:
            citytrace.cli.main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def fixes_csv(path: Path) -> Path:
    lines = [HEADER]
    for minute in range(40):
        lat = 37.5665 if minute < 30 else 37.5665 + 0.01 * (minute - 29)
        lines.append(f"1,2020-03-01T09:{minute:02d}:00+09:00,{lat},126.978\n")
    path.write_text("".join(lines))
    return path


class TestStaypointsCommand:
    def test_writes_the_stays_and_prints_one_line(
        self, tmp_path: Path, citytrace_cli: RunCli
    ) -> None:
        fixes = fixes_csv(tmp_path / "f.csv")
        code, out, err = citytrace_cli(
            ["staypoints", "--input", str(fixes), "--output", str(tmp_path / "s.parquet")]
        )
        assert (code, err) == (0, "")
        assert len(out.strip().splitlines()) == 1
        assert out.startswith("1 stay points of 1 users from 40 fixes")
        stays = pq.read_table(tmp_path / "s.parquet")
        assert stays.column("n_fixes").to_pylist() == [30]

    def test_options(self, tmp_path: Path, citytrace_cli: RunCli) -> None:
        fixes = fixes_csv(tmp_path / "f.csv")
        args = ["staypoints", "--input", str(fixes), "--output", str(tmp_path / "s.csv")]
        code, out, _ = citytrace_cli([*args, "--time-threshold-min", "45"])
        assert code == 0
        assert out.startswith("0 stay points")
        # Never 50 km from the anchor: the stay is still open at the end, so not reported.
        code, out, _ = citytrace_cli(
            [*args, "--dist-threshold-m", "50000", "--gap-threshold-min", "15"]
        )
        assert code == 0
        assert out.startswith("0 stay points")

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("", "f.csv: file is empty"),
            (
                "user_id,tracked_at,latitude\n1,2020-03-01T09:00:00+09:00,37.5\n",
                "column 'longitude': is missing",
            ),
            (
                HEADER
                + "1,2020-03-01T09:00:00+09:00,37.5,127\n"
                + "1,2020-03-01 09:01:00,37.5,127\n",
                "line 3: tracked_at has no UTC offset",
            ),
        ],
    )
    def test_bad_input_is_one_line_and_exit_2(
        self, tmp_path: Path, citytrace_cli: RunCli, content: str, message: str
    ) -> None:
        (tmp_path / "f.csv").write_text(content)
        code, out, err = citytrace_cli(
            ["staypoints", "--input", str(tmp_path / "f.csv"), "--output", str(tmp_path / "s.csv")]
        )
        assert code == 2
        assert out == ""
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("error: ")
        assert message in err
        assert not (tmp_path / "s.csv").exists()

    def test_a_bad_option_is_named_as_spelled(self, tmp_path: Path, citytrace_cli: RunCli) -> None:
        fixes = fixes_csv(tmp_path / "f.csv")
        code, _, err = citytrace_cli(
            [
                "staypoints",
                "--input",
                str(fixes),
                "--output",
                str(tmp_path / "s.csv"),
                "--dist-threshold-m",
                "-5",
            ]
        )
        assert code == 2
        assert "option --dist-threshold-m: must be a finite number >= 0" in err
