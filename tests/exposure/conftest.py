"""Fixtures of the exposure tests."""

from __future__ import annotations

import os

import pytest

from tests.conftest import _missing


@pytest.fixture(scope="session")
def database_url() -> str:
    """The PostgreSQL of ``CITYTRACE_TEST_DATABASE_URL`` (the search uses temporary tables only)."""
    url = os.environ.get("CITYTRACE_TEST_DATABASE_URL")
    if not url:
        _missing("CITYTRACE_TEST_DATABASE_URL is not set: this test needs PostgreSQL")
    return str(url)
