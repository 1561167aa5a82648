"""Helpers shared by the CLI commands."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import typer
from sqlalchemy.orm import Session

from citytrace.db import get_engine, unit_of_work
from citytrace.errors import InputError


def actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work on the configured database, brought to the current schema first."""
    from citytrace.migrations import upgrade

    engine = get_engine()
    upgrade(engine)
    with unit_of_work(engine) as session:
        yield session


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{value!r} is not a date (YYYY-MM-DD)", location=option) from None


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
