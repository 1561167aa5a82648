"""`citytrace disclosure ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="disclosure", no_args_is_help=True)
