"""The exposure search as SQL: one query for DuckDB (the default) and PostgreSQL.

The plan never compares all pairs. The cases' visits become their search keys
(:func:`visit_keys`: for each level present, the cells of the visit's bounding box and the time
buckets its overlap allows, see :mod:`citytrace.exposure.grid`); the keys are joined on
``(level, cell, bucket)`` to the records, which carry the same key from when they were stored;
only the pairs that meet there get the exact test, and the contacts are aggregated per (case,
person). The query is plain SQL (joins, ``greatest``/``least``, ``sin``/``cos``/``asin``,
``string_agg``, ``bool_or``), which is why the same text runs on DuckDB, on PostgreSQL, and would
run on a cluster's SQL engine over the same Parquet files, with the same answers.

The tables it reads:

- ``q_visits(visit, case_code, latitude, longitude, radius_m, started_us, finished_us,
  own_person)``,
- ``q_keys(visit, level, cell, bucket)``,
- ``records(level, cell, bucket, person_id, latitude, longitude, radius_m, started_us,
  finished_us, kind)``, times in microseconds since 1970 (UTC).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from citytrace.exposure import _kernels, grid

if TYPE_CHECKING:
    import duckdb
from citytrace.exposure._common import RAW_SCHEMA
from citytrace.exposure.definition import TOLERANCE_M, ExposureRule
from citytrace.exposure.visits import CaseVisits

__all__ = ["contacts_sql", "search_duckdb", "visit_keys", "visits_table"]

_CLASS_RADIUS, _ROW_DEG, _COL_DEG, _N_ROWS, _N_COLS = grid.grid_arrays()


def _double(value: float, dialect: str = "standard") -> str:
    # Through text, so that every engine parses the exact double (a decimal literal would be a
    # DECIMAL in DuckDB, converted with its own rounding).
    kind = "DOUBLE" if dialect == "spark" else "DOUBLE PRECISION"
    return f"CAST('{float(value)!r}' AS {kind})"


def _haversine_sql(dialect: str = "standard") -> str:
    """:func:`citytrace.geo.haversine_m` from visit ``v`` to record ``r``, operation for
    operation (``x * x`` for squares, radians by multiplying with pi / 180)."""
    k = _double(np.pi / 180.0, dialect)
    dphi = f"(r.latitude * {k} - v.latitude * {k})"
    dlam = f"((r.longitude - v.longitude) * {k})"
    s1 = f"sin({dphi} / 2)"
    s2 = f"sin({dlam} / 2)"
    a = f"{s1} * {s1} + cos(v.latitude * {k}) * cos(r.latitude * {k}) * ({s2} * {s2})"
    return f"{_double(2.0 * 6_371_000.0, dialect)} * asin(sqrt(least(greatest({a}, 0), 1)))"


def contacts_sql(rule: ExposureRule, dialect: str = "standard") -> str:
    """The query: contacts per (case, person) as ``RAW_SCHEMA``, sorted by case and person.

    ``dialect`` is ``"standard"`` (DuckDB and PostgreSQL) or ``"spark"`` (Spark SQL, which
    spells two things differently: ``DOUBLE`` and the sorted list of distinct kinds).
    """
    t = int(rule.min_overlap_us)
    close = rule.close

    def double(value: float) -> str:
        return _double(value, dialect)

    kinds = (
        "array_join(array_sort(collect_set(kind)), ',')"
        if dialect == "spark"
        else "string_agg(DISTINCT kind, ',' ORDER BY kind)"
    )
    # Only numbers formatted here go into the text: nothing from users.
    return f"""
WITH pairs AS (
    SELECT v.case_code,
           r.person_id,
           r.kind,
           greatest(v.started_us, r.started_us) AS from_us,
           least(v.finished_us, r.finished_us) AS to_us,
           least(v.finished_us, r.finished_us) - greatest(v.started_us, r.started_us)
               AS overlap_us,
           {_haversine_sql(dialect)} - v.radius_m - r.radius_m AS gap_m,
           v.radius_m AS visit_radius_m,
           r.radius_m AS record_radius_m
    FROM q_keys k
    JOIN records r ON r.level = k.level AND r.cell = k.cell AND r.bucket = k.bucket
    JOIN q_visits v ON v.visit = k.visit
    WHERE r.started_us <= v.finished_us - {t}
      AND r.finished_us >= v.started_us + {t}
      AND (v.own_person IS NULL OR r.person_id <> v.own_person)
)
SELECT case_code,
       person_id,
       min(from_us) AS first_us,
       max(to_us) AS last_us,
       max(overlap_us) AS max_overlap_us,
       min(greatest(gap_m, 0)) AS min_distance_m,
       {kinds} AS evidence_kinds,
       count(*) AS n_contacts,
       bool_or(gap_m <= {double(close.max_distance_m + TOLERANCE_M)}
               AND overlap_us >= {int(close.min_overlap_us)}
               AND visit_radius_m <= {double(close.max_radius_m)}
               AND record_radius_m <= {double(close.max_radius_m)}) AS close
FROM pairs
WHERE gap_m <= {double(rule.limit_m)} AND overlap_us >= {t}
GROUP BY case_code, person_id
ORDER BY case_code, person_id
"""  # noqa: S608


def visit_keys(
    visits: CaseVisits, rule: ExposureRule, level_duration_us: Mapping[int, int]
) -> pa.Table:
    """The search keys ``(visit, level, cell, bucket)`` of every visit.

    Parameters
    ----------
    visits
        The checked case visits.
    rule
        The exposure rule (``D`` widens the boxes, ``T`` narrows the buckets).
    level_duration_us
        The levels present among the records and the longest record of each, in microseconds;
        levels absent from the records get no keys.
    """
    levels = np.array(sorted(level_duration_us), dtype=np.int64)
    visit, level, cell, bucket = _kernels.query_keys(
        visits.latitude,
        visits.longitude,
        visits.radius_m,
        visits.started_us,
        visits.finished_us,
        levels,
        levels // grid.N_DURATIONS,
        np.array([level_duration_us[int(x)] for x in levels], dtype=np.int64),
        grid.BUCKET_US[levels % grid.N_DURATIONS],
        _CLASS_RADIUS,
        _ROW_DEG,
        _COL_DEG,
        _N_ROWS,
        _N_COLS,
        rule.limit_m,
        rule.min_overlap_us,
    )
    return pa.table({"visit": visit, "level": level, "cell": cell, "bucket": bucket})


def visits_table(
    visits: CaseVisits, own: NDArray[np.int64], has_own: NDArray[np.bool_]
) -> pa.Table:
    """``q_visits``: the visits numbered as in the keys, with their own person (or null)."""
    return pa.table(
        {
            "visit": np.arange(visits.size, dtype=np.int64),
            "case_code": visits.case_code,
            "latitude": visits.latitude,
            "longitude": visits.longitude,
            "radius_m": visits.radius_m,
            "started_us": visits.started_us,
            "finished_us": visits.finished_us,
            "own_person": pa.array(own, pa.int64(), mask=~has_own),
        }
    )


_MAX_LISTED_CELLS = 2048
_RECORD_COLUMNS = (
    "level, cell, bucket, person_id, latitude, longitude, radius_m, "
    "epoch_us(started_at) AS started_us, epoch_us(finished_at) AS finished_us, kind"
)


@functools.cache
def _database() -> duckdb.DuckDBPyConnection:
    import duckdb

    return duckdb.connect()


def search_duckdb(
    visits: pa.Table,
    keys: pa.Table,
    records: pa.Table | Sequence[Path],
    rule: ExposureRule,
    *,
    threads: int | None = None,
) -> pa.Table:
    """Run :func:`contacts_sql` in an in-memory DuckDB over keyed records.

    Parameters
    ----------
    visits, keys
        ``q_visits`` and ``q_keys``.
    records
        Keyed records in memory, or the Parquet files of a record store.
    rule
        The exposure rule.
    threads
        DuckDB's worker threads (default: all cores).
    """
    if keys.num_rows == 0 or (not isinstance(records, pa.Table) and not records):
        return RAW_SCHEMA.empty_table()
    # A connection of its own per search (cursors are cheap; opening a database is not).
    con = _database().cursor()
    con.execute("SET enable_progress_bar = false")  # never draw on the caller's terminal
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    try:
        con.register("q_visits", visits)
        con.register("q_keys", keys)
        if isinstance(records, pa.Table):
            con.register("records_table", records)
            source = "records_table"
        else:
            files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in records)
            source = f"read_parquet([{files}])"
        # A few cells (a case or two) go in as a literal list, which DuckDB filters during the
        # scan, so that only those cells' records are read in full; a long list would only add a
        # join of its own.
        distinct = np.unique(keys.column("cell").to_numpy())
        where = ""
        if distinct.size <= _MAX_LISTED_CELLS:
            where = f" WHERE cell IN ({', '.join(str(int(c)) for c in distinct)})"
        con.execute(
            f"CREATE TEMP VIEW records AS SELECT {_RECORD_COLUMNS} FROM {source}{where}"  # noqa: S608
        )
        result = con.sql(contacts_sql(rule)).to_arrow_table()
    finally:
        con.close()
    return result.cast(RAW_SCHEMA)
