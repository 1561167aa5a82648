"""`citytrace keys ...` (to be written)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
