"""The ``citytrace`` command: a thin layer over the same services the web uses."""

from __future__ import annotations

import sys
from typing import Any

import typer
from pydantic import ValidationError

from citytrace.errors import CitytraceError

app = typer.Typer(
    name="citytrace",
    help="Screening, investigation, exposure search and disclosure for a city health authority.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Imported here so that `citytrace --help` stays fast and each domain owns its commands.
    from citytrace.cli import (
        audit,
        cases,
        disclosure,
        exposures,
        keys,
        records,
        retention,
        screening,
        screening_simulate,
        serve,
        stats,
        staypoints,
        synth,
        users,
    )

    app.command("serve")(serve.serve)
    app.command("staypoints")(staypoints.staypoints)
    app.command("exposures")(exposures.exposures)
    app.add_typer(synth.app, name="synth")
    app.add_typer(cases.app, name="case")
    app.add_typer(records.app, name="records")
    app.add_typer(serve.db_app, name="db")
    app.add_typer(users.app, name="user")
    app.add_typer(audit.app, name="audit")
    app.add_typer(keys.app, name="keys")
    app.add_typer(retention.app, name="retention")
    app.add_typer(disclosure.app, name="disclosure")
    screening.app.command("simulate")(screening_simulate.simulate)
    app.add_typer(screening.app, name="screening")
    app.add_typer(stats.app, name="stats")


def main() -> None:
    """Entry point: errors meant for users are printed as one line, never as a stack trace."""
    _register()
    try:
        app(standalone_mode=False)
    except CitytraceError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        for problem in exc.errors():  # a bad CITYTRACE_* setting, named
            name = "CITYTRACE_" + "_".join(str(p) for p in problem["loc"]).upper()
            typer.secho(f"error: {name}: {problem['msg']}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", None) or getattr(exc, "code", 0) or 0
        sys.exit(code)
    except _usage_errors() as exc:
        exc.show()
        sys.exit(exc.exit_code)


def _usage_errors() -> tuple[type[Any], ...]:
    """The exception types of a command line that does not parse (an unknown option, a missing
    argument): click's, and those of the copy of click that newer typer releases bundle."""
    import importlib

    found: list[type[Any]] = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(found)
