"""`citytrace screening simulate`: capacity planning of a clinic's lanes and booths."""

from __future__ import annotations


def simulate() -> None:
    """Simulate a clinic's day."""
    raise NotImplementedError
