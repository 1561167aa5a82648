"""`citytrace retention ...` (to be written)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Retention of personal data.", no_args_is_help=True)
