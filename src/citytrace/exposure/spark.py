"""The exposure search on Apache Spark: the same SQL, for records that outgrow one machine.

:func:`citytrace.exposure.sql.contacts_sql` is plain SQL; Spark runs it (in its own dialect, which
differs in two spellings) over the record store's Parquet files as they are, read where they lie
(a local folder, or HDFS/S3 paths that the cluster can read). The cases' visits and their search
keys are small: Spark broadcasts them to every executor, so the join with the records is a scan of
the records under the visits' cells, never a shuffle of the city.

The session is ``CITYTRACE_SPARK_MASTER`` (``local[*]`` by default: every core of this machine;
``spark://host:7077``, ``yarn`` or ``k8s://...`` for a cluster). PySpark and a Java runtime (17 or
newer) are needed: ``pip install 'citytrace[spark]'``.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from citytrace.errors import CitytraceError
from citytrace.exposure._common import RAW_SCHEMA
from citytrace.exposure.definition import ExposureRule
from citytrace.exposure.sql import contacts_sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["search_spark", "spark_session"]

MASTER_ENV = "CITYTRACE_SPARK_MASTER"
_RECORD_COLUMNS = (
    "level",
    "cell",
    "bucket",
    "person_id",
    "latitude",
    "longitude",
    "radius_m",
    "kind",
)


class SparkUnavailableError(CitytraceError):
    """PySpark or Java is missing, or the session could not start."""


@functools.cache
def spark_session() -> SparkSession:
    """The Spark session of this process (started on first use, then reused)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(
            "the spark engine needs PySpark: pip install 'citytrace[spark]'"
        ) from None
    master = os.environ.get(MASTER_ENV, "local[*]")
    local = master.startswith("local")
    builder = (
        SparkSession.builder.appName("citytrace-exposure")
        .master(master)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Small tables from Arrow and back without row-by-row conversion.
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if local:
        # A few partitions suit one machine; the default 200 costs more than the search.
        builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 1)))
        # The search makes only temporary views: no spark-warehouse folder in the working one.
        warehouse = Path(tempfile.gettempdir()) / f"citytrace-spark-warehouse-{os.getuid()}"
        builder = builder.config("spark.sql.warehouse.dir", str(warehouse))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no Java, or a bad master
        raise SparkUnavailableError(
            f"Spark did not start with master {master!r} ({type(exc).__name__}): it needs a Java "
            f"runtime, 17 or newer, and a reachable master ({MASTER_ENV})"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _microseconds(table: pa.Table) -> pa.Table:
    """Records with their times as microseconds since 1970, as the query reads them."""
    columns = {name: table.column(name) for name in _RECORD_COLUMNS}
    for name, target in (("started_at", "started_us"), ("finished_at", "finished_us")):
        columns[target] = pc.cast(table.column(name), pa.int64())
    return pa.table(columns)


def _records(spark: SparkSession, records: pa.Table | Sequence[Path | str]) -> DataFrame:
    if isinstance(records, pa.Table):
        return spark.createDataFrame(_microseconds(records))
    frame = spark.read.parquet(*[str(p) for p in records])
    return frame.selectExpr(
        *_RECORD_COLUMNS,
        "unix_micros(started_at) AS started_us",
        "unix_micros(finished_at) AS finished_us",
    )


def search_spark(
    visits: pa.Table,
    keys: pa.Table,
    records: pa.Table | Sequence[Path | str],
    rule: ExposureRule,
    *,
    spark: SparkSession | None = None,
) -> pa.Table:
    """Run :func:`~citytrace.exposure.sql.contacts_sql` on Spark.

    Parameters
    ----------
    visits, keys
        ``q_visits`` and ``q_keys`` (see :mod:`citytrace.exposure.sql`).
    records
        Keyed records in memory, or the Parquet files of a record store.
    rule
        The exposure rule.
    spark
        The session (default: :func:`spark_session`).
    """
    if keys.num_rows == 0 or (not isinstance(records, pa.Table) and not records):
        return RAW_SCHEMA.empty_table()
    spark = spark or spark_session()
    from pyspark.sql import functions

    # Views of this search's own names, so that searches in one session do not see each other's.
    suffix = f"{os.getpid()}_{id(keys):x}"
    names = {"q_visits": f"q_visits_{suffix}", "q_keys": f"q_keys_{suffix}"}
    names["records"] = f"records_{suffix}"
    frames: dict[str, Any] = {
        "q_visits": functions.broadcast(spark.createDataFrame(visits)),
        "q_keys": functions.broadcast(spark.createDataFrame(keys)),
        "records": _records(spark, records),
    }
    for role, frame in frames.items():
        frame.createOrReplaceTempView(names[role])
    sql = (
        contacts_sql(rule, dialect="spark")
        .replace("FROM q_keys k", f"FROM {names['q_keys']} k")
        .replace("JOIN records r", f"JOIN {names['records']} r")
        .replace("JOIN q_visits v", f"JOIN {names['q_visits']} v")
    )
    try:
        result = spark.sql(sql).toArrow()
    finally:
        for name in names.values():
            spark.catalog.dropTempView(name)
    return result.select(RAW_SCHEMA.names).cast(RAW_SCHEMA)
