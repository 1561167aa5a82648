"""`citytrace users ...` (to be written)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Accounts and API tokens.", no_args_is_help=True)
