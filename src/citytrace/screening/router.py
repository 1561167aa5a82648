"""HTTP routes (API and pages) of the screening domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
