"""HTTP routes (API and pages) of the disclosure domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
