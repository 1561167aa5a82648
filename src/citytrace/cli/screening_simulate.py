"""`citytrace screening simulate`: capacity planning of a clinic's lanes and booths."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from citytrace.cli._common import echo_json
from citytrace.errors import InputError
from citytrace.screening.simulation import (
    KINDS,
    UNIT_NAMES,
    SimulationResult,
    format_clock,
    scenario_from_mapping,
)
from citytrace.screening.simulation import (
    simulate as run_simulation,
)

# Settings of the scenario and the option that sets each on the command line.
_OPTIONS = {
    "kind": "--kind",
    "units": "--units",
    "hours": "--hours",
    "arrivals_per_hour": "--arrivals-per-hour",
    "arrivals": "--arrivals-per-hour",
    "staff": "--staff",
    "seed": "--seed",
    "days": "--days",
    "serve_after_close": "--serve-after-close",
    "service.distribution": "--service-distribution",
    "service.mean_min": "--service-mean-min",
    "service.cv": "--service-cv",
    "turnover.ventilation_min": "--ventilation-min",
    "turnover.disinfection_min": "--disinfection-min",
}
_CHART_SUFFIXES = (".png", ".svg")


def simulate(
    kind: Annotated[
        str | None,
        typer.Option(help=f"Kind of clinic: {', '.join(KINDS)}. Sets the published defaults."),
    ] = None,
    units: Annotated[
        int | None, typer.Option(help="Lanes (drive-through), booths (walk-through) or rooms.")
    ] = None,
    hours: Annotated[
        str | None, typer.Option(help="Opening hours, HH:MM-HH:MM [default: 09:00-18:00].")
    ] = None,
    arrivals_per_hour: Annotated[
        str | None,
        typer.Option(help="People arriving an hour: one number, or one per opening hour (a,b,c)."),
    ] = None,
    staff: Annotated[
        str | None,
        typer.Option(help="Sampling staff on duty: one number or one per hour [default: units]."),
    ] = None,
    service_distribution: Annotated[
        str | None,
        typer.Option(help="fixed, exponential, lognormal, gamma or triangular [lognormal]."),
    ] = None,
    service_mean_min: Annotated[
        float | None, typer.Option(help="Mean minutes of service [the kind's published figure].")
    ] = None,
    service_cv: Annotated[
        float | None, typer.Option(help="Spread of service times: sd / mean [0.3].")
    ] = None,
    ventilation_min: Annotated[
        float | None,
        typer.Option(help="Minutes a unit is ventilated after each person [walk-through: 5]."),
    ] = None,
    disinfection_min: Annotated[
        float | None,
        typer.Option(help="Minutes of disinfectant contact after ventilation [walk-through: 1]."),
    ] = None,
    serve_after_close: Annotated[
        bool | None,
        typer.Option(
            "--serve-after-close/--send-away-at-close",
            help="Serve the queue left at closing (overtime), or send it away [serve].",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the random numbers [0].")] = None,
    days: Annotated[
        int | None, typer.Option(help="Independent days simulated and averaged [1].")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="A .json or .toml file of settings (keys as the options, with service and "
            "turnover tables, and bookings); options given here win."
        ),
    ] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Write a chart of waits and queue over the day (.png|.svg).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Simulate a clinic's day: throughput, waits, queue and utilisation (SimPy)."""
    if chart is not None and chart.suffix.lower() not in _CHART_SUFFIXES:
        raise InputError(f"{chart.name!r}: a chart is written as .png or .svg", location="--chart")
    settings: dict[str, Any] = _read_config(config) if config is not None else {}
    given: set[str] = set()

    def put(key: str, value: Any) -> None:
        if value is not None:
            settings[key] = value
            given.add(key)

    def put_in(table: str, key: str, value: Any) -> None:
        if value is not None:
            section = settings.get(table)
            settings[table] = {**(section if isinstance(section, dict) else {}), key: value}
            given.add(f"{table}.{key}")

    put("kind", kind)
    put("units", units)
    put("hours", hours)
    put("arrivals_per_hour", _list_option(arrivals_per_hour, "--arrivals-per-hour", float))
    put("staff", _list_option(staff, "--staff", int))
    put("serve_after_close", serve_after_close)
    put("seed", seed)
    put("days", days)
    put_in("service", "distribution", service_distribution)
    put_in("service", "mean_min", service_mean_min)
    put_in("service", "cv", service_cv)
    put_in("turnover", "ventilation_min", ventilation_min)
    put_in("turnover", "disinfection_min", disinfection_min)
    for key in ("kind", "units"):
        if key not in settings:
            raise InputError("is required (or give it in --config)", location=f"--{key}")

    try:
        scenario, run_seed, run_days = scenario_from_mapping(settings)
    except InputError as exc:
        raise _where(exc, given, config) from None
    result = run_simulation(scenario, seed=run_seed, days=run_days)
    if chart is not None:
        write_chart(result, chart)
    if as_json:
        data = result.to_dict()
        if chart is not None:
            data["chart"] = str(chart)
        echo_json(data)
        return
    typer.echo(summary(result))
    if chart is not None:
        typer.echo(f"chart -> {chart}")


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError("no such file", path=str(path), location="--config")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            raise InputError("settings are read from .json or .toml", path=str(path))
    except json.JSONDecodeError as exc:
        raise InputError(exc.msg, path=str(path), location=f"line {exc.lineno}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(exc), path=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("settings must be an object of keys and values", path=str(path))
    return data


def _list_option(value: str | None, option: str, kind: type[float] | type[int]) -> Any:
    """``"30"`` -> 30, ``"20,30,40"`` -> [20, 30, 40]; a bad item names the option."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",")]
    parsed: list[float | int] = []
    for item in items:
        try:
            parsed.append(kind(item))
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise InputError(f"{item!r} is not {what}", location=option) from None
    return parsed[0] if len(parsed) == 1 else parsed


def _where(exc: InputError, given: set[str], config: Path | None) -> InputError:
    """Name the option when the setting came from the command line, else the config's key."""
    key = re.sub(r"\[\d+\]$", "", exc.location or "")
    from_command_line = key in given or (key == "arrivals" and "arrivals_per_hour" in given)
    if (from_command_line or config is None) and key in _OPTIONS:
        return InputError(exc.reason, location=_OPTIONS[key])
    if config is not None:
        return InputError(exc.reason, path=str(config), location=exc.location)
    return exc


def summary(result: SimulationResult) -> str:
    """The result as a table by hour and a closing paragraph."""
    scenario = result.scenario
    one, many = UNIT_NAMES[scenario.kind]
    units = f"{scenario.units} {one if scenario.units == 1 else many}"
    days = "1 day" if result.days == 1 else f"{result.days} days (averaged)"
    lines = [
        f"{scenario.kind} clinic, {units}, "
        f"{format_clock(scenario.open_min)}-{format_clock(scenario.close_min)}, "
        f"{days}, seed {result.seed}",
        "",
        f"{'hour':<8}{'arrived':>8}{'served':>8}{'per ' + one:>10}"
        f"{'wait mean':>11}{'wait p90':>10}{'queue':>7}{'max':>5}{'busy':>6}",
    ]
    for hour in result.hours:
        label = format_clock(hour.start_min) + ("+" if hour.after_close else "")
        cells = (
            f"{hour.wait_mean_min:>7.1f} min{hour.wait_p90_min:>6.1f} min"
            if hour.arrived
            else f"{'-':>11}{'-':>10}"
        )
        lines.append(
            f"{label:<8}{hour.arrived:>8.1f}{hour.served:>8.1f}{hour.served_per_unit:>10.2f}"
            f"{cells}{hour.queue_mean:>7.1f}{hour.queue_max:>5d}{hour.utilisation:>6.0%}"
        )
    waits = result.waits
    lines += [
        "",
        f"arrived {result.arrived:.1f}, served {result.served:.1f}"
        + (f", not served {result.unserved:.1f}" if result.unserved else ""),
        f"throughput {result.throughput_per_unit_hour:.2f} an hour per {one} within opening "
        f"hours; service {result.service_mean_min:.1f} min on average",
        f"wait: mean {waits.mean_min:.1f} min, p50 {waits.p50_min:.1f}, "
        f"p90 {waits.p90_min:.1f}, max {waits.max_min:.1f}",
        f"queue: mean {result.queue_mean:.1f}, max {result.queue_max}",
        f"utilisation: {result.utilisation:.0%} serving, {result.turnover_share:.0%} in turnover; "
        f"staff {result.staff_utilisation:.0%}",
        f"overtime after closing: {result.overtime_min:.0f} min",
        "(hours marked + are after closing)" if any(h.after_close for h in result.hours) else "",
    ]
    return "\n".join(lines).rstrip()


def write_chart(result: SimulationResult, path: Path) -> None:
    """Waits of each person by arrival time (with the hourly mean and p90) above the queue."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    scenario = result.scenario
    one, many = UNIT_NAMES[scenario.kind]
    served = [v for v in result.visits if v.wait_min is not None]
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6.5))
    try:
        top.scatter(
            [v.arrived_min for v in served],
            [v.wait_min for v in served],
            s=6,
            alpha=0.35 if result.days == 1 else 0.15,
            color="#4c72b0",
            label="each person (by arrival)",
        )
        mids = [h.start_min + 30 for h in result.hours if not h.after_close]
        open_hours = [h for h in result.hours if not h.after_close]
        top.plot(mids, [h.wait_mean_min for h in open_hours], "o-", color="#dd8452", label="mean")
        top.plot(mids, [h.wait_p90_min for h in open_hours], "s--", color="#c44e52", label="p90")
        top.set_ylabel("wait (min)")
        top.legend(loc="upper left", fontsize="small")
        top.set_title(
            f"{scenario.kind.replace('_', '-')} clinic, {scenario.units} "
            f"{one if scenario.units == 1 else many}: waits and queue over the day"
            + (f" ({result.days} days)" if result.days > 1 else "")
        )
        minutes = range(scenario.open_min, scenario.open_min + len(result.queue_by_minute))
        bottom.step(list(minutes), result.queue_by_minute, where="post", color="#55a868")
        bottom.fill_between(
            list(minutes), result.queue_by_minute, step="post", alpha=0.3, color="#55a868"
        )
        bottom.set_ylabel("people waiting" + (" (mean of the days)" if result.days > 1 else ""))
        bottom.set_xlabel("time of day")
        for axis in (top, bottom):
            axis.axvline(scenario.close_min, color="grey", linestyle=":", linewidth=1)
            axis.grid(alpha=0.3)
        bottom.annotate(
            "closing",
            (scenario.close_min, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            color="grey",
            fontsize="small",
        )
        bottom.xaxis.set_major_locator(MultipleLocator(60))
        bottom.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_clock(x)))
        figure.tight_layout()
        figure.savefig(path, format=path.suffix.lower().lstrip("."))
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=str(path)) from None
    finally:
        plt.close(figure)
