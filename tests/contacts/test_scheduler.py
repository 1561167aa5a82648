"""The record index kept current in the background of the service."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from citytrace.api.app import create_app
from citytrace.contacts import scheduler, service
from citytrace.exposure import LiveIndex
from tests.contacts.test_service import CAFE, CITY, T0, records


def current(live: LiveIndex, within_s: float = 60.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if live.is_current():
            return True
        time.sleep(0.05)
    return False


class TestRecordIndexScheduler:
    def test_a_check_indexes_what_changed_in_the_background(self) -> None:
        assert scheduler.check_once() is False  # no store yet
        store = service.record_store()
        assert store is not None
        store.append_day(CITY)
        assert scheduler.check_once() is True
        live = service.record_index(store)
        assert live is not None and current(live)
        assert scheduler.check_once() is False  # nothing changed
        store.append_day(records([(9, *CAFE, T0 + timedelta(days=1), T0 + timedelta(days=1))]))
        assert scheduler.check_once() is True and current(live) and len(live.days) == 2

    def test_the_service_indexes_the_store_as_it_starts(self, engine: Engine) -> None:
        store = service.record_store()
        assert store is not None
        store.append_day(CITY)
        live = service.record_index(store)
        assert live is not None and not live.is_current()
        with TestClient(create_app(engine)):
            assert current(live) and live.num_records == CITY.num_rows

    def test_nothing_runs_with_the_index_off(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CITYTRACE_RECORDS_INDEX", "0")
        store = service.record_store()
        assert store is not None
        store.append_day(CITY)
        assert scheduler.check_once() is False and service.record_index(store) is None
