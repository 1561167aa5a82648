"""`citytrace screening simulate`: the summary, the chart, JSON and errors naming the option."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer

from citytrace.cli import main
from citytrace.cli.screening_simulate import simulate
from citytrace.errors import InputError
from tests.cli_runner import invoke

app = typer.Typer()
app.command()(simulate)

BASE = ("--kind", "drive_through", "--units", "4", "--hours", "09:00-18:00")


def refused(*args: str) -> InputError:
    result = invoke(app, *args)
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError), result.output
    return result.exception


class TestSimulateCommand:
    def test_summary_and_png_chart(self, tmp_path: Path) -> None:
        chart = tmp_path / "waits.png"
        result = invoke(app, *BASE, "--arrivals-per-hour", "30", "--chart", str(chart))
        assert result.exit_code == 0, result.output
        out = result.output
        assert out.startswith("drive_through clinic, 4 lanes, 09:00-18:00, 1 day, seed 0")
        assert "per lane" in out and "17:00" in out
        # 30 an hour on 4 lanes (24 an hour) is overload: the queue outlives the opening hours.
        assert "18:00+" in out and "overtime after closing" in out
        assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and chart.stat().st_size > 20_000
        assert f"chart -> {chart}" in out

    def test_json_and_svg(self, tmp_path: Path) -> None:
        chart = tmp_path / "waits.svg"
        args = (*BASE, "--arrivals-per-hour", "12,18,24,24,12,18,24,24,12", "--days", "3")
        result = invoke(app, *args, "--seed", "5", "--json", "--chart", str(chart))
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["days"] == 3 and data["seed"] == 5 and data["chart"] == str(chart)
        assert data["scenario"]["arrivals_per_hour"] == [12, 18, 24, 24, 12, 18, 24, 24, 12]
        assert set(data["waits"]) == {"count", "mean_min", "p50_min", "p90_min", "max_min"}
        assert data["waits"]["p50_min"] <= data["waits"]["p90_min"] <= data["waits"]["max_min"]
        assert 0 < data["utilisation"] <= 1 and "visits" not in data
        assert len(data["hours"]) >= 9 and "<svg" in chart.read_text()
        again = json.loads(invoke(app, *args, "--seed", "5", "--json").output)
        assert again["waits"] == data["waits"]  # seeded: the same day again

    def test_walk_through_turnover_options(self) -> None:
        args = ("--kind", "walk_through", "--units", "2", "--arrivals-per-hour", "40", "--json")
        default = json.loads(invoke(app, *args).output)
        assert default["scenario"]["turnover"] == {"ventilation_min": 5.0, "disinfection_min": 1.0}
        quick = json.loads(
            invoke(app, *args, "--ventilation-min", "1", "--disinfection-min", "0").output
        )
        assert quick["throughput_per_unit_hour"] > default["throughput_per_unit_hour"] * 1.5

    def test_config_file_and_options_that_win(self, tmp_path: Path) -> None:
        config = tmp_path / "clinic.toml"
        config.write_text(
            'kind = "walk_through"\nunits = 3\nhours = "10:00-14:00"\n'
            'bookings = ["10:00", "10:05", "10:10"]\narrivals_per_hour = [10, 20, 20, 10]\n'
            'staff = [3, 2, 2, 3]\n[service]\ndistribution = "triangular"\n'
            "mean_min = 6\nlow_min = 3\nhigh_min = 10\n"
        )
        data = json.loads(invoke(app, "--config", str(config), "--json").output)
        assert data["scenario"]["close_min"] == 14 * 60
        assert data["scenario"]["service"]["distribution"] == "triangular"
        assert data["scenario"]["bookings_min"] == [600, 605, 610]
        wider = json.loads(invoke(app, "--config", str(config), "--units", "5", "--json").output)
        assert wider["scenario"]["units"] == 5 and wider["scenario"]["kind"] == "walk_through"

        as_json = tmp_path / "clinic.json"
        as_json.write_text(json.dumps({"kind": "conventional", "units": 1, "arrivals_per_hour": 2}))
        data = json.loads(invoke(app, "--config", str(as_json), "--json").output)
        assert data["scenario"]["service"]["mean_min"] == 30.0

    @pytest.mark.parametrize(
        ("args", "location", "words"),
        [
            (("--units", "4", "--arrivals-per-hour", "5"), "--kind", "required"),
            (("--kind", "tent", "--units", "4", "--arrivals-per-hour", "5"), "--kind", "tent"),
            ((*BASE, "--arrivals-per-hour", "thirty"), "--arrivals-per-hour", "'thirty'"),
            (
                (*BASE, "--arrivals-per-hour", "10,20"),
                "--arrivals-per-hour",
                "one per opening hour (9)",
            ),
            ((*BASE,), "--arrivals-per-hour", "no arrivals"),
            (
                (*BASE, "--arrivals-per-hour", "5", "--hours", "18:00-09:00"),
                "--hours",
                "after opening",
            ),
            ((*BASE, "--arrivals-per-hour", "5", "--hours", "9am"), "--hours", "HH:MM"),
            ((*BASE, "--arrivals-per-hour", "5", "--staff", "two"), "--staff", "whole number"),
            (
                (*BASE, "--arrivals-per-hour", "5", "--service-mean-min", "0"),
                "--service-mean-min",
                "above 0",
            ),
            (
                (*BASE, "--arrivals-per-hour", "5", "--service-distribution", "normal"),
                "--service-distribution",
                "unknown",
            ),
            (
                (*BASE, "--arrivals-per-hour", "5", "--ventilation-min", "-1"),
                "--ventilation-min",
                "0 or more",
            ),
            ((*BASE, "--arrivals-per-hour", "5", "--days", "0"), "--days", "at least 1"),
            (
                (*BASE, "--arrivals-per-hour", "5", "--chart", "waits.gif"),
                "--chart",
                ".png or .svg",
            ),
            (
                ("--kind", "conventional", "--units", "0", "--arrivals-per-hour", "5"),
                "--units",
                "at least 1",
            ),
        ],
    )
    def test_bad_options_are_named(self, args: tuple[str, ...], location: str, words: str) -> None:
        error = refused(*args)
        assert error.location == location and words in str(error)

    def test_bad_config_names_the_file_and_key(self, tmp_path: Path) -> None:
        config = tmp_path / "clinic.json"
        config.write_text(json.dumps({"kind": "walk_through", "units": 2, "turnover": {"vent": 5}}))
        error = refused("--config", str(config), "--arrivals-per-hour", "10")
        assert error.path == str(config) and error.location == "turnover.vent"
        config.write_text('{"kind": "walk_through",')
        error = refused("--config", str(config))
        assert error.path == str(config) and "line 1" in str(error)
        missing = refused("--config", str(tmp_path / "none.toml"))
        assert missing.location == "--config"

    def test_error_is_one_line_through_the_entry_point(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["citytrace", "screening", "simulate", *BASE, "--arrivals-per-hour", "x"]
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as exit_:
            main()
        err = capsys.readouterr().err
        assert exit_.value.code == 2
        assert err.strip() == "error: --arrivals-per-hour: 'x' is not a number"
