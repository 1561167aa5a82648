"""Find the contacts of confirmed cases: one function over every engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path

import numpy as np
import pyarrow as pa

from citytrace.errors import InputError
from citytrace.exposure import postgres
from citytrace.exposure._checks import Rows
from citytrace.exposure._common import (
    CONTACT_COLUMNS,
    PreparedRecords,
    finish,
    own_persons,
    prepare_table,
)
from citytrace.exposure.brute import search_brute
from citytrace.exposure.definition import ExposureRule
from citytrace.exposure.index import RecordIndex
from citytrace.exposure.live import LiveIndex
from citytrace.exposure.sql import search_duckdb, visit_keys, visits_table
from citytrace.exposure.store import RecordStore
from citytrace.exposure.visits import CaseVisits, check_visits

__all__ = ["CONTACT_COLUMNS", "Engine", "find_contacts"]


class Engine(StrEnum):
    """How a search runs; every engine gives the same contacts."""

    DUCKDB = "duckdb"  # SQL over the store's Parquet files (or a table) in DuckDB
    POSTGRES = "postgres"  # the same SQL on PostgreSQL, records copied into a temporary table
    SPARK = "spark"  # the same SQL on Apache Spark (CITYTRACE_SPARK_MASTER), for a nation's data
    INDEX = "index"  # in memory: a RecordIndex (built once, searched many times) or a LiveIndex
    BRUTE = "brute"  # every pair: the reference, for small inputs


def _engine(engine: str | None, records: object) -> Engine:
    if engine is None:
        return Engine.INDEX if isinstance(records, RecordIndex | LiveIndex) else Engine.DUCKDB
    try:
        chosen = Engine(engine)
    except ValueError:
        names = ", ".join(e.value for e in Engine)
        raise InputError(
            f"unknown engine {engine!r}: use one of {names}", location="engine"
        ) from None
    if isinstance(records, RecordIndex | LiveIndex) and chosen is not Engine.INDEX:
        raise InputError(
            f"a {type(records).__name__} is searched by the index engine", location="engine"
        )
    return chosen


def find_contacts(
    visits: pa.Table,
    records: RecordStore | RecordIndex | LiveIndex | pa.Table,
    rule: ExposureRule | None = None,
    *,
    engine: str | None = None,
    exclude_person_ids: Mapping[object, object] | None = None,
    database_url: str | None = None,
    visit_rows: Rows | None = None,
) -> pa.Table:
    """Everyone who shared a place and a time with the cases, one row per (case, person).

    Parameters
    ----------
    visits
        The cases' visits: ``case_id, latitude, longitude, started_at, finished_at`` and
        optionally ``radius_m`` and ``person_id`` (the case's own person, never its own contact).
    records
        The city's records: a :class:`~citytrace.exposure.store.RecordStore`, a built
        :class:`~citytrace.exposure.index.RecordIndex`, a
        :class:`~citytrace.exposure.live.LiveIndex` of a store, or a table of records as
        :func:`~citytrace.exposure.records.normalise_records` takes them.
    rule
        Distance, overlap and close-contact rule (default :class:`ExposureRule`: 20 m, 15 min).
    engine
        ``duckdb`` (default), ``postgres``, ``spark``, ``index`` (default for a
        ``RecordIndex``) or ``brute``; see :class:`Engine`. All give the same contacts.
    exclude_person_ids
        ``{case_id: person_id}``: each case's own person, left out of its contacts.
    database_url
        PostgreSQL URL for ``engine="postgres"``.
    visit_rows
        How errors name the rows of ``visits`` (a file's lines).

    Returns
    -------
    pyarrow.Table
        ``case_id``, ``person_id``, ``first_contact_at`` (start of the earliest overlap, UTC),
        ``last_contact_at`` (end of the latest overlap, UTC),
        ``max_overlap_min`` (the longest single overlap), ``min_distance_m`` (the smallest gap
        between the circles of a contact pair, 0 when they overlap), ``evidence_kinds`` (the kinds
        of the person's records in contact, sorted, comma-separated), ``n_contacts`` (pairs of
        visit and record in contact) and ``risk_class`` (``close`` or ``casual``), sorted by
        ``case_id`` then ``person_id``.

    Raises
    ------
    InputError
        Bad visits or records (naming the rows or the column), an unknown engine, or no
        ``database_url`` for ``postgres``.
    """
    rule = rule or ExposureRule()
    if not isinstance(rule, ExposureRule):
        raise InputError("must be an ExposureRule", location="rule")
    chosen = _engine(engine, records)
    if chosen is Engine.POSTGRES and not database_url:
        raise InputError("engine postgres needs a database URL", location="database_url")
    checked = check_visits(visits, exclude_person_ids=exclude_person_ids, rows=visit_rows)
    if isinstance(records, RecordIndex | LiveIndex):
        return finish(records.search(checked, rule), checked, records.person_ids, presorted=True)
    if isinstance(records, RecordStore):
        return _search_store(checked, records, rule, chosen, database_url)
    if isinstance(records, pa.Table):
        return _search_table(checked, prepare_table(records), rule, chosen, database_url)
    raise InputError(
        "records must be a RecordStore, a RecordIndex, a LiveIndex or a pyarrow.Table, "
        f"not {type(records).__name__}"
    )


def _durations(keyed: pa.Table) -> dict[int, int]:
    level = np.asarray(keyed.column("level").to_numpy(), np.int64)
    duration = np.asarray(
        keyed.column("finished_at").cast(pa.int64()).to_numpy(), np.int64
    ) - np.asarray(keyed.column("started_at").cast(pa.int64()).to_numpy(), np.int64)
    return {int(v): int(duration[level == v].max()) for v in np.unique(level)}


def _search_table(
    visits: CaseVisits,
    prepared: PreparedRecords,
    rule: ExposureRule,
    engine: Engine,
    database_url: str | None,
) -> pa.Table:
    if engine is Engine.BRUTE:
        return finish(search_brute(visits, prepared, rule), visits, prepared.person_ids)
    if engine is Engine.INDEX:
        index = RecordIndex.from_prepared(prepared)
        return finish(index.search(visits, rule), visits, index.person_ids, presorted=True)
    own, has_own = own_persons(visits, prepared.person_ids)
    q_visits = visits_table(visits, own, has_own)
    keys = visit_keys(visits, rule, _durations(prepared.keyed))
    raw = _sql(engine, q_visits, keys, prepared.keyed, rule, database_url)
    return finish(raw, visits, prepared.person_ids)


def _search_store(
    visits: CaseVisits,
    store: RecordStore,
    rule: ExposureRule,
    engine: Engine,
    database_url: str | None,
) -> pa.Table:
    if visits.size == 0:
        days = []
    else:
        days = store.days_touching(
            int(visits.started_us.min()), int(visits.finished_us.max()), rule.min_overlap_us
        )
    if engine is Engine.INDEX:
        index = RecordIndex.build(store, days=days)
        return finish(index.search(visits, rule), visits, None, presorted=True)
    if engine is Engine.BRUTE:
        prepared = PreparedRecords(keyed=store.read(days=days), person_ids=None)
        return finish(search_brute(visits, prepared, rule), visits, None)
    own, has_own = own_persons(visits, None)
    q_visits = visits_table(visits, own, has_own)
    keys = visit_keys(visits, rule, store.level_durations(days))
    raw = _sql(engine, q_visits, keys, store.files(days), rule, database_url)
    return finish(raw, visits, None)


def _sql(
    engine: Engine,
    q_visits: pa.Table,
    keys: pa.Table,
    records: pa.Table | Sequence[Path],
    rule: ExposureRule,
    database_url: str | None,
) -> pa.Table:
    """The SQL engines: one query text over the same tables."""
    if engine is Engine.DUCKDB:
        return search_duckdb(q_visits, keys, records, rule)
    if engine is Engine.SPARK:
        from citytrace.exposure.spark import search_spark

        return search_spark(q_visits, keys, records, rule)
    return _postgres(q_visits, keys, records, rule, database_url)


def _postgres(
    q_visits: pa.Table,
    keys: pa.Table,
    records: pa.Table | Sequence[Path],
    rule: ExposureRule,
    database_url: str | None,
) -> pa.Table:
    assert database_url is not None
    with (
        postgres.connect(database_url) as connection,
        connection.transaction(force_rollback=True),
    ):
        postgres.load_records(connection, records, table="exposure_records", temporary=True)
        return postgres.search_postgres(connection, q_visits, keys, rule, table="exposure_records")
