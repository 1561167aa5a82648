"""The public side of disclosure: the place list pages and the open-data feed."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
