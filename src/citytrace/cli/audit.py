"""`citytrace audit ...` (to be written)."""

from __future__ import annotations

import typer

app = typer.Typer(help="The audit log.", no_args_is_help=True)
