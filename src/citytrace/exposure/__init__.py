"""Exposure search: everyone who shared a place and a time with a confirmed case.

A pure library (Arrow tables in and out; no ORM, no web). The definition of a contact and its
exact test are in :mod:`~citytrace.exposure.definition`; the grid that avoids comparing all pairs
in :mod:`~citytrace.exposure.grid`; the city's records on disk in
:mod:`~citytrace.exposure.store`; the engines (DuckDB and PostgreSQL SQL, an in-memory index, brute
force) behind :func:`find_contacts`, which all give the same answers.
"""

from citytrace.exposure.contacts import CONTACT_COLUMNS, Engine, find_contacts
from citytrace.exposure.definition import TOLERANCE_M, CloseContactRule, ExposureRule
from citytrace.exposure.index import RecordIndex
from citytrace.exposure.live import LiveIndex, Refresh
from citytrace.exposure.records import (
    KEYED_SCHEMA,
    RECORD_SCHEMA,
    keyed_records,
    normalise_records,
    records_from_card,
    records_from_cell,
    records_from_checkins,
    records_from_fixes,
    records_from_observations,
    records_from_visits,
)
from citytrace.exposure.store import DayStats, RecordStore

__all__ = [
    "CONTACT_COLUMNS",
    "KEYED_SCHEMA",
    "RECORD_SCHEMA",
    "TOLERANCE_M",
    "CloseContactRule",
    "DayStats",
    "Engine",
    "ExposureRule",
    "LiveIndex",
    "RecordIndex",
    "RecordStore",
    "Refresh",
    "find_contacts",
    "keyed_records",
    "normalise_records",
    "records_from_card",
    "records_from_cell",
    "records_from_checkins",
    "records_from_fixes",
    "records_from_observations",
    "records_from_visits",
]
