"""`citytrace exposures` (to be written)."""

from __future__ import annotations


def exposures() -> None:
    """Find the contacts of confirmed cases."""
    raise NotImplementedError
