"""Pages of screening: clinic staff (queue, check-in, samples, results) and citizens (find,
book, my booking, my result)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
