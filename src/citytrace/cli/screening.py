"""`citytrace screening ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="screening", no_args_is_help=True)
