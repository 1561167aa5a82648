"""`citytrace synth city` and `citytrace synth person`."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from citytrace.cli.synth import app


class TestSynthCommands:
    def test_city(self, tmp_path: Path) -> None:
        result = CliRunner().invoke(
            app,
            [
                "city",
                "--people", "30",
                "--days", "2",
                "--seed", "5",
                "--start", "2020-03-02",
                "--output", str(tmp_path),
                "--fixes-for", "3",
                "--no-progress",
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "visits:" in result.output
        people = pq.read_table(tmp_path / "people.parquet")
        assert people.num_rows == 30
        fixes = pq.read_table(tmp_path / "fixes.parquet")
        assert set(fixes["person_id"].to_pylist()) == {0, 1, 2}

    def test_person(self, tmp_path: Path) -> None:
        result = CliRunner().invoke(
            app,
            ["person", "--seed", "5", "--people", "30", "--days", "2", "--person-id", "7",
             "--output", str(tmp_path)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        names = {p.name for p in tmp_path.iterdir()}
        # A kind of record the person did not leave in those two days has no file.
        assert (
            {"Records.json", "cell.csv"}
            <= names
            <= {
                "Records.json",
                "card.csv",
                "cell.csv",
                "checkins.csv",
            }
        )
        for name in names:
            assert name in result.output

    def test_unknown_person(self, tmp_path: Path) -> None:
        result = CliRunner().invoke(
            app, ["person", "--people", "30", "--person-id", "30", "--output", str(tmp_path)]
        )
        assert result.exit_code != 0
