"""The exposure search on PostgreSQL: the records in a table with a b-tree on their key.

The query is :func:`citytrace.exposure.sql.contacts_sql`, the same text DuckDB runs. Records are
loaded with ``COPY`` into a table ``(level, cell, bucket, person_id, latitude, longitude,
radius_m, started_us, finished_us, kind)`` with a b-tree on ``(level, cell, bucket)``, so the join
from the visits' keys is an index lookup per key. :func:`find_contacts` with
``engine="postgres"`` loads the records into a temporary table of its own session (nothing stays
behind); :func:`load_records` keeps a table for repeated searches.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from citytrace.errors import InputError
from citytrace.exposure._common import RAW_SCHEMA
from citytrace.exposure.definition import ExposureRule
from citytrace.exposure.sql import contacts_sql

if TYPE_CHECKING:
    from psycopg import Connection, Cursor

__all__ = ["connect", "load_records", "search_postgres"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_COLUMNS = (
    "level",
    "cell",
    "bucket",
    "person_id",
    "latitude",
    "longitude",
    "radius_m",
    "started_us",
    "finished_us",
    "kind",
)
_DDL = """(
    level smallint NOT NULL,
    cell bigint NOT NULL,
    bucket bigint NOT NULL,
    person_id bigint NOT NULL,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    radius_m double precision NOT NULL,
    started_us bigint NOT NULL,
    finished_us bigint NOT NULL,
    kind text COLLATE "C" NOT NULL
)"""
_BATCH_ROWS = 1 << 20


def _conninfo(url: str) -> str:
    # SQLAlchemy spells the driver into the scheme; libpq does not.
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


@contextmanager
def connect(url: str) -> Iterator[Connection[Any]]:
    """A psycopg connection to ``url`` (``postgresql://`` or SQLAlchemy's
    ``postgresql+psycopg://``), closed on exit; an unreachable server is an ``InputError``."""
    import psycopg

    if not re.match(r"^postgres(ql)?(\+\w+)?://", url):
        raise InputError("is not a PostgreSQL URL (postgresql://...)", location="database URL")
    try:
        connection = psycopg.connect(_conninfo(url))
    except psycopg.OperationalError:
        raise InputError("cannot connect to PostgreSQL", location="database URL") from None
    try:
        yield connection
    finally:
        connection.close()


def _check_name(table: str) -> str:
    if not _NAME.match(table):
        raise InputError("must be a plain (schema.)table name", location="table")
    return table


def _csv_batches(records: pa.Table | Sequence[Path]) -> Iterator[bytes]:
    """The keyed records as CSV text in ``_COLUMNS`` order, a batch at a time.

    Arrow writes doubles in their shortest exact form and PostgreSQL reads them exactly, so no
    position changes on the way.
    """
    tables: Iterator[pa.Table]
    if isinstance(records, pa.Table):
        tables = iter([records])
    else:
        tables = (pq.read_table(p) for p in records)
    for table in tables:
        for lo in range(0, table.num_rows, _BATCH_ROWS):
            part = table.slice(lo, _BATCH_ROWS)
            out = pa.table(
                {
                    "level": part.column("level"),
                    "cell": part.column("cell"),
                    "bucket": part.column("bucket"),
                    "person_id": part.column("person_id"),
                    "latitude": part.column("latitude"),
                    "longitude": part.column("longitude"),
                    "radius_m": part.column("radius_m"),
                    "started_us": part.column("started_at").cast(pa.int64()),
                    "finished_us": part.column("finished_at").cast(pa.int64()),
                    "kind": part.column("kind"),
                }
            )
            sink = io.BytesIO()
            pa_csv.write_csv(out, sink, pa_csv.WriteOptions(include_header=False))
            yield sink.getvalue()


def _copy_table(cursor: Cursor[Any], table: str, data: pa.Table) -> None:
    sink = io.BytesIO()
    pa_csv.write_csv(data, sink, pa_csv.WriteOptions(include_header=False))
    with cursor.copy(
        f"COPY {table} ({', '.join(data.column_names)}) FROM STDIN (FORMAT csv)"
    ) as copy:
        copy.write(sink.getvalue())


def load_records(
    connection: Connection[Any],
    records: pa.Table | Sequence[Path],
    *,
    table: str = "exposure_records",
    temporary: bool = False,
) -> int:
    """Create ``table`` and fill it with keyed records, then index and analyse it.

    Parameters
    ----------
    connection
        A psycopg connection; the caller commits.
    records
        Keyed records (:data:`~citytrace.exposure.records.KEYED_SCHEMA`, integer person ids) or
        the day files of a record store.
    table
        Table name, optionally with a schema; it must not exist.
    temporary
        A temporary table, dropped when the session ends.

    Returns
    -------
    int
        Rows loaded.
    """
    name = _check_name(table)
    rows = 0
    with connection.cursor() as cursor:
        kind = "TEMPORARY TABLE" if temporary else "TABLE"
        cursor.execute(f"CREATE {kind} {name} {_DDL}")
        with cursor.copy(f"COPY {name} ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in _csv_batches(records):
                copy.write(chunk)
                rows += chunk.count(b"\n")
        index = name.split(".")[-1] + "_key"
        cursor.execute(f"CREATE INDEX {index} ON {name} (level, cell, bucket)")
        cursor.execute(f"ANALYZE {name}")
    return rows


def search_postgres(
    connection: Connection[Any],
    visits: pa.Table,
    keys: pa.Table,
    rule: ExposureRule,
    *,
    table: str = "exposure_records",
) -> pa.Table:
    """Run :func:`~citytrace.exposure.sql.contacts_sql` against a loaded records table.

    ``visits`` and ``keys`` are ``q_visits`` and ``q_keys``; they go into temporary tables inside a
    transaction (a savepoint, if one is open) that is rolled back: nothing is left behind.
    """
    name = _check_name(table)
    if keys.num_rows == 0:
        return RAW_SCHEMA.empty_table()
    with (
        connection.transaction(force_rollback=True),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "CREATE TEMPORARY TABLE q_visits (visit bigint PRIMARY KEY, case_code bigint, "
            "latitude double precision, longitude double precision, radius_m double precision, "
            "started_us bigint, finished_us bigint, own_person bigint)"
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE q_keys (visit bigint, level smallint, cell bigint, "
            "bucket bigint)"
        )
        _copy_table(cursor, "q_visits", visits)
        _copy_table(cursor, "q_keys", keys)
        cursor.execute("ANALYZE q_visits")
        cursor.execute("ANALYZE q_keys")
        sql = contacts_sql(rule).replace("JOIN records r", f"JOIN {name} r")
        cursor.execute(sql)
        rows = cursor.fetchall()
    return pa.table(
        {f.name: pa.array([row[i] for row in rows], f.type) for i, f in enumerate(RAW_SCHEMA)},
        schema=RAW_SCHEMA,
    )
