"""The service's index of the city's records, kept current in the background.

When the service starts, and every minute after, the index (:func:`citytrace.contacts.service.
record_index`) is compared with the record store's day files; days appended, replaced or deleted
(by ``citytrace records append`` or the retention purge, in this process or another) are
indexed or dropped in a thread of their own. Searches meanwhile read the store itself, so an
answer never comes from days that are out of date.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from citytrace.config import get_settings
from citytrace.schedule import install_periodic, repeat

CHECK_EVERY_MIN = 1.0


def check_once() -> bool:
    """Start indexing the store's changes unless the index is current; whether it started."""
    from citytrace.contacts.service import record_index, record_store

    store = record_store(create=False)
    live = None if store is None else record_index(store)
    if live is None or live.is_current():
        return False
    return live.refresh_in_background()


async def run_periodically(_: Engine, interval_s: float) -> None:
    """Check now, then every ``interval_s`` seconds (the indexing itself runs in its own thread,
    so the event loop keeps serving requests and the app stops without waiting for it)."""
    await repeat(
        check_once, interval_s=interval_s, first_delay_s=0.0, name="checking the record index"
    )


def install_record_index(app: FastAPI) -> None:
    """Keep the record index current in the background of ``app`` while it is up, unless
    ``records_index`` is off."""
    install_periodic(
        app,
        name="citytrace-record-index",
        interval_min=lambda: CHECK_EVERY_MIN if get_settings().records_index else 0.0,
        loop=run_periodically,
    )
