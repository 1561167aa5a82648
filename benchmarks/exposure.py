"""Exposure search: citytrace against GeoPandas, PostGIS and a plain DuckDB interval join.

    .venv/bin/python benchmarks/exposure.py [--sizes 1M,10M,70M] [--distances 20,50]
                                            [--tools ...] [--budget-min 15] [--cache DIR]

The data are the synthetic city (:func:`citytrace.synth.write_city`: a million people, 14 days,
seed 7; 64.4 M true visits, 4.6 a day, and 12.9 M venue check-ins), generated once into the cache
folder and reused. A size of ``N`` records takes the visits and check-ins (a point in time, or
with a check-out) of the first people whose records add up to about ``N`` (about 910,000 people
for 70M). Each size is stored once as a citytrace record store (Parquet, one file a day), which
every tool reads, so all tools see the very same records.

The cases are 100 people among the first of the smallest size: for each, 30 consecutive visits
from the third day on, the same at every size. Each tool runs in its own subprocess, which
reports its load time, the median time of a one-case query (10 different cases) and of the
100-case query (5 runs, or more while they take under a second in all, up to 50), for D = 20 m
and 50 m and T = 15 min, and its peak RSS (``VmHWM``; PostGIS works in the server's processes,
which are not counted). A query is timed up to the tool's own answer: citytrace's contacts
table, or the other tools' contacts per (case, person); citytrace's table is put into the
others' form for the check after the clock stops. The 1-minute load average as each tool starts
and ends is shown next to its times (the machine may be shared). A tool that has not finished
loading and querying a size within ``--budget-min`` minutes, or whose resident memory goes over
``--max-rss-gb``, is stopped and reported as such.

Every tool applies the same exact test (haversine on a 6,371 km sphere within D plus 1 µm, overlap
of at least T) after its own candidate search, so their answers must be equal; the script checks
every contact of every tool against citytrace's index.

Tools:

- ``citytrace-index``: :class:`citytrace.exposure.RecordIndex` built from the store (in memory).
- ``citytrace-live``: :class:`citytrace.exposure.LiveIndex` as the service keeps it: all days but
  the last indexed as its load, then the last day appended to the store and indexed alone, and
  the queries run over the two segments (the time to append is reported below the table, against
  indexing every day again; the service then merges the two segments in the background).
- ``citytrace-duckdb``: ``find_contacts(engine="duckdb")`` on the store's Parquet files (no load).
- ``citytrace-postgres``: the same SQL on PostgreSQL, records copied into a table with a b-tree.
- ``duckdb-interval``: a plain DuckDB join on interval overlap and a latitude/longitude box, in a
  DuckDB in-memory table.
- ``geopandas``: ``geopandas.sjoin(predicate="dwithin")`` on points in Korea's metric projection
  (EPSG:5179, the search distance widened by 0.1 % + 0.5 m for its scale error) plus the time
  filter.
- ``postgis``: points in EPSG:5179 with a GiST index, ``ST_DWithin`` and interval overlap, in a
  schema of its own in the database of ``--database-url`` (dropped at the end); PostGIS is
  installed with ``apt-get install -y postgresql-15-postgis-3`` when ``CREATE EXTENSION`` fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve()
PEOPLE, DAYS, SEED = 1_000_000, 14, 7
N_CASES, VISITS_PER_CASE, CASE_FIRST_DAY = 100, 30, 2
SINGLE_CASES, FULL_RUNS, MAX_FULL_RUNS = 10, 5, 50
OVERLAP_MIN = 15.0
TOLERANCE_M = 1e-6
R = 6_371_000.0
K = math.pi / 180.0
UTC_US = pa.timestamp("us", tz="UTC")
TOOLS = (
    "citytrace-index",
    "citytrace-live",
    "citytrace-duckdb",
    "citytrace-postgres",
    "duckdb-interval",
    "geopandas",
    "postgis",
)
REFERENCE = "citytrace-index"


# ----------------------------------------------------------------------------------------------
# Data: the city, the stores, the cases


def ensure_city(cache: Path, people: int) -> Path:
    from citytrace.synth import SynthConfig, write_city

    folder = cache / f"city-{people}-{DAYS}d-seed{SEED}"
    done = folder / "DONE"
    if done.exists():
        return folder
    config = SynthConfig(n_people=people, n_days=DAYS, seed=SEED, fixes_for=0)
    started = time.perf_counter()
    counts = write_city(config, folder, progress=True)
    done.write_text(json.dumps(counts) + "\n")
    print(f"city: {counts['visits']:,} visits in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def _duckdb() -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def people_for(city: Path, n_records: int) -> int:
    """The number of first people whose visits and check-ins make about ``n_records``."""

    con = _duckdb()
    per_person = con.sql(
        "SELECT person_id, count(*) AS n FROM ("
        f"SELECT person_id FROM read_parquet('{city}/visits/*.parquet') UNION ALL "
        f"SELECT person_id FROM read_parquet('{city}/checkins.parquet')"
        ") GROUP BY person_id ORDER BY person_id"
    ).fetchnumpy()
    total = np.cumsum(per_person["n"])
    return min(int(np.searchsorted(total, n_records)) + 1, int(total.size))


def ensure_store(cache: Path, city: Path, label: str, n_records: int) -> tuple[Path, int, float]:
    """The record store of a size (built once); its folder, people and build time."""

    from citytrace.exposure import RecordStore, records_from_checkins, records_from_visits

    folder = cache / f"store-{city.name}-{label}"
    meta = folder / "BENCH.json"
    if meta.exists():
        info = json.loads(meta.read_text())
        return folder, int(info["people"]), float(info["build_s"])
    if folder.exists():
        shutil.rmtree(folder)
    people = people_for(city, n_records)
    store = RecordStore(folder, timezone="Asia/Seoul")
    started = time.perf_counter()
    con = _duckdb()
    con.execute("SET TimeZone = 'Asia/Seoul'")
    source = f"read_parquet('{city}/visits/*.parquet')"
    checkins = f"read_parquet('{city}/checkins.parquet')"
    days = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT CAST(started_at AS DATE) FROM {source} ORDER BY 1"
        ).fetchall()
    ]
    for day in days:
        visits = con.sql(
            "SELECT person_id, place_kind, venue_id, latitude, longitude, started_at, "
            f"finished_at FROM {source} WHERE person_id < {people} "
            f"AND CAST(started_at AS DATE) = DATE '{day}'"
        ).to_arrow_table()
        checked = con.sql(
            "SELECT person_id, venue_id, venue_kind, latitude, longitude, checked_in_at, "
            f"checked_out_at FROM {checkins} WHERE person_id < {people} "
            f"AND CAST(checked_in_at AS DATE) = DATE '{day}'"
        ).to_arrow_table()
        records = pa.concat_tables(
            [records_from_visits(_utc(visits)), records_from_checkins(_utc(checked))]
        )
        store.append_day(records, day=day)
        print(f"  store {label}: {day} {records.num_rows:,} records", flush=True)
    build_s = time.perf_counter() - started
    meta.write_text(json.dumps({"people": people, "build_s": build_s, "rows": store.num_rows}))
    return folder, people, build_s


def _utc(table: pa.Table) -> pa.Table:
    """Timestamps in UTC (DuckDB hands them over in its session's zone)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(UTC_US))
    return table


def ensure_cases(cache: Path, city: Path, people: int) -> Path:
    """100 cases among the first ``people``: 30 consecutive visits each from the third day."""
    from citytrace.synth.city import midnights_s

    path = cache / f"cases-{N_CASES}x{VISITS_PER_CASE}-of-{people}.parquet"
    if path.exists():
        return path
    visits = pq.read_table(
        sorted((city / "visits").glob("part-*.parquet"))[: math.ceil(people / 4096) + 1],
        columns=["person_id", "latitude", "longitude", "started_at", "finished_at"],
    )
    visits = visits.filter(pc.less(visits.column("person_id"), people))
    start_s = int(
        midnights_s("Asia/Seoul", date(2020, 3, 1) + timedelta(days=CASE_FIRST_DAY), 0)[0]
    )
    visits = visits.filter(pc.greater_equal(visits.column("started_at").cast(pa.int64()),
                                            start_s * 1_000_000))  # fmt: skip
    rng = np.random.default_rng(SEED)
    chosen = np.sort(rng.choice(people, size=N_CASES, replace=False))
    parts = []
    for person in chosen:
        own = visits.filter(pc.equal(visits.column("person_id"), int(person)))
        own = own.sort_by("started_at").slice(0, VISITS_PER_CASE)
        parts.append(own)
    table = pa.concat_tables(parts)
    cases = pa.table(
        {
            "case_id": table.column("person_id"),
            "person_id": table.column("person_id"),
            "latitude": table.column("latitude"),
            "longitude": table.column("longitude"),
            "started_at": table.column("started_at").cast(UTC_US),
            "finished_at": table.column("finished_at").cast(UTC_US),
        }
    )
    pq.write_table(cases, path)
    return path


# ----------------------------------------------------------------------------------------------
# Tools. Each: load(store folder) -> query(visits, distance_m) -> contacts per (case, person):
# citytrace's contacts table (CONTACT_COLUMNS), or for the other tools the common form
# case_id, person_id, first_us, max_overlap_us, min_distance_m, n_contacts, close. Citytrace's
# contacts are put into the common form after the query, untimed (see `as_common`).

ContactsFn = Callable[[pa.Table, float], pa.Table]
COMMON = ("case_id", "person_id", "first_us", "max_overlap_us", "min_distance_m", "n_contacts",
          "close")  # fmt: skip
T_US = round(OVERLAP_MIN * 60_000_000)


def _common_from_citytrace(contacts: pa.Table) -> pa.Table:
    return pa.table(
        {
            "case_id": contacts.column("case_id").cast(pa.int64()),
            "person_id": contacts.column("person_id").cast(pa.int64()),
            "first_us": contacts.column("first_contact_at").cast(pa.int64()),
            "max_overlap_us": pc.round(
                pc.multiply(contacts.column("max_overlap_min"), 60_000_000.0)
            ).cast(pa.int64()),
            "min_distance_m": contacts.column("min_distance_m"),
            "n_contacts": contacts.column("n_contacts"),
            "close": pc.equal(contacts.column("risk_class"), "close"),
        }
    )


def as_common(contacts: pa.Table) -> pa.Table:
    """A tool's answer in the common form (citytrace's contacts table is converted)."""
    if "first_contact_at" in contacts.column_names:
        return _common_from_citytrace(contacts)
    return contacts


def _rule(distance_m: float) -> Any:
    from citytrace.exposure import ExposureRule

    return ExposureRule(distance_m=distance_m, min_overlap_min=OVERLAP_MIN)


def load_citytrace_index(store_dir: Path, _: argparse.Namespace) -> ContactsFn:
    from citytrace.exposure import RecordIndex, RecordStore

    index = RecordIndex.build(RecordStore.open(store_dir))

    def query(visits: pa.Table, distance_m: float) -> pa.Table:
        return index.query(visits, _rule(distance_m))

    return query


def load_citytrace_live(store_dir: Path, _: argparse.Namespace) -> ContactsFn:
    """The service's index: all days but the last indexed as one segment, then the last appended
    to the store and indexed alone as a second segment, and searched so (the service then merges
    the two in the background). The day files are hard links into a store of the worker's
    own."""
    from citytrace.exposure import LiveIndex, RecordStore

    source = RecordStore.open(store_dir)
    work = store_dir.parent / f"live-{os.getpid()}"
    _CLEANUP.append(lambda: shutil.rmtree(work, ignore_errors=True))
    (work / "days").mkdir(parents=True)
    os.link(store_dir / "store.json", work / "store.json")
    *earlier, last = source.days()
    for day in earlier:
        os.link(source.day_path(day), work / "days" / source.day_path(day).name)
    live = LiveIndex.open(RecordStore.open(work))
    os.link(source.day_path(last), work / "days" / source.day_path(last).name)
    started = time.perf_counter()
    done = live.refresh(compact=False)  # searched as two segments: the days before, the new one
    assert done.added == (last,) and live.is_current() and live.segments == 2
    EXTRA["append_day_s"] = time.perf_counter() - started
    EXTRA["append_day_records"] = source.stats(last).rows

    def query(visits: pa.Table, distance_m: float) -> pa.Table:
        return live.query(visits, _rule(distance_m))

    return query


def load_citytrace_duckdb(store_dir: Path, _: argparse.Namespace) -> ContactsFn:
    from citytrace.exposure import RecordStore, find_contacts

    store = RecordStore.open(store_dir)
    store.level_durations()  # read the day files' statistics once, as a service would

    def query(visits: pa.Table, distance_m: float) -> pa.Table:
        return find_contacts(visits, store, _rule(distance_m), engine="duckdb")

    return query


def load_citytrace_postgres(store_dir: Path, args: argparse.Namespace) -> ContactsFn:
    import psycopg

    from citytrace.exposure import RecordStore, postgres
    from citytrace.exposure._common import finish, own_persons
    from citytrace.exposure.sql import visit_keys, visits_table
    from citytrace.exposure.visits import check_visits

    store = RecordStore.open(store_dir)
    schema = f"bench_citytrace_{os.getpid()}"
    _CLEANUP.append(lambda: _drop_schema(args.database_url, schema))
    connection = psycopg.connect(args.database_url)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
    postgres.load_records(connection, store.files(), table=f"{schema}.records")
    connection.commit()
    durations = store.level_durations()

    def query(visits: pa.Table, distance_m: float) -> pa.Table:
        rule = _rule(distance_m)
        checked = check_visits(visits)
        own, has_own = own_persons(checked, None)
        keys = visit_keys(checked, rule, durations)
        raw = postgres.search_postgres(
            connection, visits_table(checked, own, has_own), keys, rule, table=f"{schema}.records"
        )
        return finish(raw, checked, None)

    return query


def _haversine_np(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    from citytrace.geo import haversine_m

    return haversine_m(lat1, lon1, lat2, lon2)


def _aggregate_pandas(frame: Any) -> pa.Table:
    """Contact pairs (case_id, person_id, from_us, overlap_us, gap_m) to the common form."""
    frame = frame.assign(
        close=(frame.gap_m <= 2.0 + TOLERANCE_M) & (frame.overlap_us >= T_US),
        dist=frame.gap_m.clip(lower=0.0),
    )
    grouped = frame.groupby(["case_id", "person_id"], sort=True).agg(
        first_us=("from_us", "min"),
        max_overlap_us=("overlap_us", "max"),
        min_distance_m=("dist", "min"),
        n_contacts=("dist", "size"),
        close=("close", "any"),
    )
    grouped = grouped.reset_index()
    return pa.table({c: pa.array(grouped[c].to_numpy()) for c in COMMON}).cast(
        pa.schema([(c, t) for c, t in zip(COMMON, _COMMON_TYPES, strict=True)])
    )


_COMMON_TYPES = (pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.float64(), pa.int64(),
                 pa.bool_())  # fmt: skip


def _read_store(store_dir: Path) -> pa.Table:
    from citytrace.exposure import RecordStore

    table = RecordStore.open(store_dir).read(
        columns=["person_id", "latitude", "longitude", "started_at", "finished_at"]
    )
    return table


def load_geopandas(store_dir: Path, _: argparse.Namespace) -> ContactsFn:
    import geopandas as gpd
    import pandas as pd

    table = _read_store(store_dir)
    frame = pd.DataFrame(
        {
            "person_id": table.column("person_id").to_numpy(),
            "r_lat": table.column("latitude").to_numpy(),
            "r_lon": table.column("longitude").to_numpy(),
            "r_start": table.column("started_at").cast(pa.int64()).to_numpy(),
            "r_end": table.column("finished_at").cast(pa.int64()).to_numpy(),
        }
    )
    del table
    records = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame.r_lon, frame.r_lat), crs="EPSG:4326"
    ).to_crs("EPSG:5179")
    records.sindex  # build the STRtree now, as part of loading  # noqa: B018

    def query(visits: pa.Table, distance_m: float) -> pa.Table:
        v = pd.DataFrame(
            {
                "case_id": visits.column("case_id").to_numpy(),
                "own": visits.column("person_id").to_numpy(),
                "v_lat": visits.column("latitude").to_numpy(),
                "v_lon": visits.column("longitude").to_numpy(),
                "v_start": visits.column("started_at").cast(pa.int64()).to_numpy(),
                "v_end": visits.column("finished_at").cast(pa.int64()).to_numpy(),
            }
        )
        vg = gpd.GeoDataFrame(
            v, geometry=gpd.points_from_xy(v.v_lon, v.v_lat), crs="EPSG:4326"
        ).to_crs("EPSG:5179")
        joined = gpd.sjoin(vg, records, predicate="dwithin", distance=distance_m * 1.001 + 0.5)
        j = joined[
            (joined.r_start <= joined.v_end - T_US)
            & (joined.r_end >= joined.v_start + T_US)
            & (joined.person_id != joined.own)
        ]
        gap = _haversine_np(j.v_lat.to_numpy(), j.v_lon.to_numpy(), j.r_lat.to_numpy(),
                            j.r_lon.to_numpy())  # fmt: skip
        overlap = np.minimum(j.v_end.to_numpy(), j.r_end.to_numpy()) - np.maximum(
            j.v_start.to_numpy(), j.r_start.to_numpy()
        )
        pairs = pd.DataFrame(
            {
                "case_id": j.case_id.to_numpy(),
                "person_id": j.person_id.to_numpy(),
                "from_us": np.maximum(j.v_start.to_numpy(), j.r_start.to_numpy()),
                "overlap_us": overlap,
                "gap_m": gap,
            }
        )
        pairs = pairs[(pairs.gap_m <= distance_m + TOLERANCE_M) & (pairs.overlap_us >= T_US)]
        return _aggregate_pandas(pairs)

    return query


_S1 = "sin((r.latitude * {k} - v.latitude * {k}) / 2)"
_S2 = "sin((r.longitude - v.longitude) * {k} / 2)"
# citytrace.geo.haversine_m, operation for operation.
_HAVERSINE_SQL = (
    f"2 * 6371000.0 * asin(sqrt(least(greatest({_S1} * {_S1}"
    f" + cos(v.latitude * {{k}}) * cos(r.latitude * {{k}}) * ({_S2} * {_S2}), 0), 1)))"
)
_AGGREGATE_SQL = """
SELECT case_id, person_id, min(from_us) AS first_us, max(overlap_us) AS max_overlap_us,
       min(greatest(gap_m, 0)) AS min_distance_m, count(*) AS n_contacts,
       bool_or(gap_m <= {close} AND overlap_us >= {t}) AS close
FROM pairs WHERE gap_m <= {limit} AND overlap_us >= {t}
GROUP BY case_id, person_id ORDER BY case_id, person_id
"""


def _pairs_sql(k: str, join: str) -> str:
    return f"""
WITH pairs AS (
    SELECT v.case_id, r.person_id,
           greatest(v.started_us, r.started_us) AS from_us,
           least(v.finished_us, r.finished_us) - greatest(v.started_us, r.started_us)
               AS overlap_us,
           {_HAVERSINE_SQL.format(k=k)} AS gap_m
    FROM q v JOIN recs r ON {join}
)"""


def _visits_with_box(visits: pa.Table, distance_m: float) -> pa.Table:
    lat = visits.column("latitude").to_numpy()
    reach = distance_m * 1.001 + 0.5
    dlat = np.degrees(reach / R)
    dlon = dlat / np.cos(np.radians(np.minimum(np.abs(lat) + dlat, 89.9)))
    lon = visits.column("longitude").to_numpy()
    return pa.table(
        {
            "case_id": visits.column("case_id"),
            "own": visits.column("person_id"),
            "latitude": visits.column("latitude"),
            "longitude": visits.column("longitude"),
            "started_us": visits.column("started_at").cast(pa.int64()),
            "finished_us": visits.column("finished_at").cast(pa.int64()),
            "lat0": lat - dlat,
            "lat1": lat + dlat,
            "lon0": lon - dlon,
            "lon1": lon + dlon,
        }
    )


def load_duckdb_interval(store_dir: Path, _: argparse.Namespace) -> ContactsFn:

    from citytrace.exposure import RecordStore

    con = _duckdb()
    files = ", ".join(f"'{p}'" for p in RecordStore.open(store_dir).files())
    con.execute(
        "CREATE TABLE recs AS SELECT person_id, latitude, longitude, "
        "epoch_us(started_at) AS started_us, epoch_us(finished_at) AS finished_us "
        f"FROM read_parquet([{files}])"
    )
    k = f"CAST('{K!r}' AS DOUBLE)"

    def query(visits: pa.Table, distance_m: float) -> pa.Table:
        q = _visits_with_box(visits, distance_m)
        join = (
            f"r.started_us <= v.finished_us - {T_US} AND r.finished_us >= v.started_us + {T_US} "
            "AND r.latitude BETWEEN v.lat0 AND v.lat1 AND r.longitude BETWEEN v.lon0 AND v.lon1 "
            "AND r.person_id <> v.own"
        )
        sql = _pairs_sql(k, join) + _AGGREGATE_SQL.format(
            close=2.0 + TOLERANCE_M, t=T_US, limit=repr(distance_m + TOLERANCE_M)
        )
        con.register("q", q)
        return (
            con.sql(sql)
            .to_arrow_table()
            .cast(pa.schema([(c, t) for c, t in zip(COMMON, _COMMON_TYPES, strict=True)]))
        )

    return query


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _ensure_postgis(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        try:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS postgis SCHEMA {schema}")
            return
        except psycopg.Error as exc:
            print(f"postgis: {str(exc).strip()}; installing it", file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "postgresql-15-postgis-3"]
    if subprocess.run(install, capture_output=True, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=True)
        subprocess.run(install, capture_output=True, env=env, check=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE EXTENSION IF NOT EXISTS postgis SCHEMA {schema}")


def load_postgis(store_dir: Path, args: argparse.Namespace) -> ContactsFn:
    import io

    import psycopg
    import pyarrow.csv as pa_csv

    from citytrace.exposure import RecordStore

    url = args.database_url
    schema = f"bench_postgis_{os.getpid()}"
    _CLEANUP.append(lambda: _drop_schema(url, schema))
    _ensure_postgis(url, schema)
    conn = psycopg.connect(url)
    with conn.cursor() as cur:
        cur.execute(f"SET search_path TO {schema}, public")
        cur.execute(
            "CREATE UNLOGGED TABLE raw (person_id bigint, latitude float8, longitude float8, "
            "started_us bigint, finished_us bigint)"
        )
        with cur.copy("COPY raw FROM STDIN (FORMAT csv)") as copy:
            for path in RecordStore.open(store_dir).files():
                table = pq.read_table(
                    path,
                    columns=["person_id", "latitude", "longitude", "started_at", "finished_at"],
                )
                table = pa.table(
                    {
                        "person_id": table.column("person_id"),
                        "latitude": table.column("latitude"),
                        "longitude": table.column("longitude"),
                        "started_us": table.column("started_at").cast(pa.int64()),
                        "finished_us": table.column("finished_at").cast(pa.int64()),
                    }
                )
                sink = io.BytesIO()
                pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False))
                copy.write(sink.getvalue())
        cur.execute(
            "CREATE UNLOGGED TABLE recs AS SELECT person_id, latitude, longitude, started_us, "
            "finished_us, ST_Transform(ST_SetSRID(ST_MakePoint(longitude, latitude), 4326), "
            "5179)::geometry(Point, 5179) AS geom FROM raw"
        )
        cur.execute("DROP TABLE raw")
        cur.execute("CREATE INDEX recs_geom ON recs USING gist (geom)")
        cur.execute("ANALYZE recs")
    conn.commit()
    k = f"CAST('{K!r}' AS DOUBLE PRECISION)"

    def query(visits: pa.Table, distance_m: float) -> pa.Table:
        q = _visits_with_box(visits, distance_m)
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute(f"SET LOCAL search_path TO {schema}, public")
            cur.execute(
                "CREATE TEMP TABLE q (case_id bigint, own bigint, latitude float8, "
                "longitude float8, started_us bigint, finished_us bigint, lat0 float8, "
                "lat1 float8, lon0 float8, lon1 float8) ON COMMIT DROP"
            )
            sink = io.BytesIO()
            pa_csv.write_csv(q, sink, pa_csv.WriteOptions(include_header=False))
            with cur.copy("COPY q FROM STDIN (FORMAT csv)") as copy:
                copy.write(sink.getvalue())
            cur.execute(
                "ALTER TABLE q ADD COLUMN geom geometry(Point, 5179); "
                "UPDATE q SET geom = ST_Transform(ST_SetSRID(ST_MakePoint(longitude, latitude), "
                "4326), 5179); ANALYZE q"
            )
            join = (
                f"ST_DWithin(r.geom, v.geom, {distance_m * 1.001 + 0.5!r}) "
                f"AND r.started_us <= v.finished_us - {T_US} "
                f"AND r.finished_us >= v.started_us + {T_US} AND r.person_id <> v.own"
            )
            sql = _pairs_sql(k, join) + _AGGREGATE_SQL.format(
                close=2.0 + TOLERANCE_M, t=T_US, limit=repr(distance_m + TOLERANCE_M)
            )
            cur.execute(sql)
            rows = cur.fetchall()
        return pa.table(
            {c: pa.array([r[i] for r in rows], t)
             for i, (c, t) in enumerate(zip(COMMON, _COMMON_TYPES, strict=True))}
        )  # fmt: skip

    return query


LOADERS: dict[str, Callable[[Path, argparse.Namespace], ContactsFn]] = {
    "citytrace-index": load_citytrace_index,
    "citytrace-live": load_citytrace_live,
    "citytrace-duckdb": load_citytrace_duckdb,
    "citytrace-postgres": load_citytrace_postgres,
    "duckdb-interval": load_duckdb_interval,
    "geopandas": load_geopandas,
    "postgis": load_postgis,
}
_CLEANUP: list[Callable[[], None]] = []
EXTRA: dict[str, Any] = {}  # what a tool measures beyond the common figures


def worker(args: argparse.Namespace) -> None:
    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_term)
    try:
        _worker(args)
    finally:
        for clean in reversed(_CLEANUP):
            try:
                clean()
            except Exception as exc:  # report, but never hide the result
                print(f"clean-up failed: {exc}", file=sys.stderr)


def _worker(args: argparse.Namespace) -> None:
    cases = pq.read_table(args.cases)
    case_ids = pc.unique(cases.column("case_id")).to_pylist()
    singles = [cases.filter(pc.equal(cases.column("case_id"), c)) for c in case_ids[:SINGLE_CASES]]
    started = time.perf_counter()
    query = LOADERS[args.worker](args.store, args)
    load_s = time.perf_counter() - started
    report: dict[str, Any] = {"load_s": load_s, "queries": {}, **EXTRA}
    print(f"{args.worker}: loaded in {load_s:.1f} s", file=sys.stderr, flush=True)
    for distance in args.distance_list:
        query(singles[0], distance)  # warm-up (compiled kernels, caches)
        one = []
        for single in singles:
            t = time.perf_counter()
            query(single, distance)
            one.append(time.perf_counter() - t)
        full: list[float] = []
        contacts = None
        # At least FULL_RUNS runs (fewer if they take over a minute), more while they take
        # under a second in all: the median of a short query on a shared machine needs them.
        while len(full) < MAX_FULL_RUNS:
            t = time.perf_counter()
            contacts = query(cases, distance)
            full.append(time.perf_counter() - t)
            if sum(full) > 60 or (len(full) >= FULL_RUNS and sum(full) > 1):
                break
        assert contacts is not None
        contacts = as_common(contacts)
        pq.write_table(contacts, args.out / f"{args.worker}-D{distance:g}.parquet")
        report["queries"][f"{distance:g}"] = {
            "one_case_s": statistics.median(one),
            "cases_s": statistics.median(full),
            "contacts": contacts.num_rows,
        }
        print(f"{args.worker}: D={distance:g} m {report['queries'][f'{distance:g}']}",
              file=sys.stderr, flush=True)  # fmt: skip
        # What is done so far, in case the budget stops the rest.
        partial = dict(report, peak_mb=peak_rss_mb())
        (args.out / f"{args.worker}.partial.json").write_text(json.dumps(partial))
    report["peak_mb"] = peak_rss_mb()
    print(json.dumps(report), flush=True)


# ----------------------------------------------------------------------------------------------
# Running the tools under a time and memory budget


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike getrusage's ru_maxrss, it does not
    inherit the parent's peak across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Result:
    tool: str
    label: str
    records: int
    report: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average as the tool started, ended


def run_tool(
    tool: str, label: str, store: Path, cases: Path, out: Path, args: argparse.Namespace
) -> Result:
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(HERE), "--worker", tool, "--store", str(store), "--cases",
               str(cases), "--out", str(out), "--distances", args.distances,
               "--database-url", args.database_url]  # fmt: skip
    log = out / f"{tool}.log"
    result_file = out / f"{tool}.json"
    with log.open("w") as err, result_file.open("w") as res:
        child = subprocess.Popen(command, stdout=res, stderr=err, start_new_session=True)
        started = time.monotonic()
        note = ""
        while child.poll() is None:
            time.sleep(0.5)
            elapsed = time.monotonic() - started
            if elapsed > args.budget_min * 60:
                note = f"stopped: not finished within {args.budget_min:g} min"
            elif rss_mb(child.pid) > args.max_rss_gb * 1024:
                note = f"stopped: memory over {args.max_rss_gb:g} GB"
            if note:
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(timeout=120)  # lets it drop its PostgreSQL schema
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                break
    for prefix in ("bench_citytrace", "bench_postgis"):  # if the worker could not
        try:
            _drop_schema(args.database_url, f"{prefix}_{child.pid}")
        except Exception as exc:
            print(f"could not drop {prefix}_{child.pid}: {exc}", flush=True)
    text = result_file.read_text().strip().splitlines()
    partial = out / f"{tool}.partial.json"
    if note and partial.exists():
        done = json.loads(partial.read_text())
        return Result(tool, label, 0, report=done, note=f"{note} (the distances shown finished)")
    if note:
        return Result(tool, label, 0, note=note)
    if child.returncode != 0 or not text:
        tail = log.read_text().strip().splitlines()[-1:] or ["?"]
        return Result(tool, label, 0, note=f"failed: {tail[0][:120]}")
    return Result(tool, label, 0, report=json.loads(text[-1]))


def compare(reference: Path, other: Path) -> str:
    a = pq.read_table(reference).sort_by([("case_id", "ascending"), ("person_id", "ascending")])
    b = pq.read_table(other).sort_by([("case_id", "ascending"), ("person_id", "ascending")])
    if a.num_rows != b.num_rows:
        return f"DIFFERENT: {b.num_rows:,} contacts, not {a.num_rows:,}"
    for name in COMMON:
        if name == "min_distance_m":
            worst = float(np.max(np.abs(a.column(name).to_numpy() - b.column(name).to_numpy()),
                                 initial=0.0))  # fmt: skip
            if worst > 1e-6:
                return f"DIFFERENT: min_distance_m off by {worst:.2e} m"
        elif not a.column(name).equals(b.column(name)):
            return f"DIFFERENT: {name}"
    return "equal"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * scale)


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def print_table(results: list[Result], sizes: list[tuple[str, int]], distances: list[float],
                comparisons: dict[tuple[str, str, str], str]) -> None:  # fmt: skip
    head = "| records | tool | load | "
    head += " | ".join(f"1 case D={d:g} | 100 cases D={d:g}" for d in distances)
    head += " | records/s (100 cases, D=20) | peak RSS | speed-up (100 cases) | load | answers |"
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for label, records in sizes:
        ours = next((r for r in results if r.label == label and r.tool == REFERENCE), None)
        for r in (r for r in results if r.label == label):
            if not r.report:
                cells = ["-"] * (2 * len(distances) + 4) + [_load(r)]
                print(f"| {records:,} | {r.tool} | " + " | ".join(cells) + f" | {r.note} |")
                continue
            q = r.report["queries"]
            done = [d for d in distances if f"{d:g}" in q]
            cells = [ms(r.report["load_s"])]
            for d in distances:
                got = q.get(f"{d:g}", {})
                cells += [ms(got.get("one_case_s")), ms(got.get("cases_s"))]
            first = q.get(f"{distances[0]:g}", {}).get("cases_s")
            cells.append(f"{records / first / 1e6:,.1f} M/s" if first else "-")
            cells.append(f"{r.report['peak_mb']:,.0f} MB")
            speed = "-"
            if r.tool != REFERENCE and ours and ours.report:
                parts = []
                for d in distances:
                    theirs = q.get(f"{d:g}", {}).get("cases_s")
                    base = ours.report["queries"].get(f"{d:g}", {}).get("cases_s")
                    parts.append(f"{theirs / base:,.0f}x" if theirs and base else "-")
                speed = " / ".join(parts)
            cells.append(speed)
            cells.append(_load(r))
            answers = "; ".join(
                f"D={d:g}: {comparisons.get((label, r.tool, f'{d:g}'), '-')}" for d in done
            )
            contacts = " / ".join(f"{q[f'{d:g}']['contacts']:,}" for d in done)
            if r.note:
                answers = f"{r.note}; {answers}"
            print(
                f"| {records:,} | {r.tool} | "
                + " | ".join(cells)
                + f" | {answers} ({contacts} contacts) |"
            )


def print_appends(results: list[Result]) -> None:
    """What appending a day cost the live index, against indexing every day again."""
    for r in results:
        if r.tool != "citytrace-live" or "append_day_s" not in r.report:
            continue
        whole = next(
            (x for x in results if x.label == r.label and x.tool == REFERENCE and x.report), None
        )
        rebuild = f"; indexing every day again: {ms(whole.report['load_s'])}" if whole else ""
        print(
            f"{r.label}: a day of {r.report['append_day_records']:,} records appended to the "
            f"live index, searchable in {ms(r.report['append_day_s'])}{rebuild}"
        )


def _load(result: Result) -> str:
    """The 1-minute load average as the tool started and ended."""
    return f"{result.load[0]:.1f} / {result.load[1]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,10M,70M")
    parser.add_argument("--people", type=int, default=PEOPLE, help="people in the city")
    parser.add_argument("--distances", default="20,50")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--budget-min", type=float, default=15.0)
    parser.add_argument("--max-rss-gb", type=float, default=12.0)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "citytrace"
        / "bench-exposure",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "CITYTRACE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--worker", choices=sorted(LOADERS), help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cases", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.distance_list = [float(d) for d in args.distances.split(",")]
    if args.worker:
        worker(args)
        return

    tools = [t.strip() for t in args.tools.split(",")]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tools: {', '.join(unknown)}")
    if REFERENCE in tools:
        tools = [REFERENCE] + [t for t in tools if t != REFERENCE]
    print(f"machine: {machine()}", flush=True)
    print(f"load before: {os.getloadavg()}", flush=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    city = ensure_city(args.cache, args.people)
    wanted = sorted(parse_size(s) for s in args.sizes.split(","))
    stores = []
    for n in wanted:
        label = f"{n / 1e6:g}M"
        folder, people, build_s = ensure_store(args.cache, city, label, n)
        stores.append((label, folder, people, build_s))
        print(f"{label}: {people:,} people, store built in {build_s:.0f} s", flush=True)
    cases = ensure_cases(args.cache, city, stores[0][2])
    results: list[Result] = []
    comparisons: dict[tuple[str, str, str], str] = {}
    sizes: list[tuple[str, int]] = []
    from citytrace.exposure import RecordStore

    for label, folder, _people, _build in stores:
        records = RecordStore.open(folder).num_rows
        sizes.append((label, records))
        out = args.cache / "runs" / f"{city.name}-{label}"
        if out.exists():
            shutil.rmtree(out)
        for tool in tools:
            load = os.getloadavg()[0]
            print(f"{label}: {tool} ... (load average {load:.1f})", flush=True)
            result = run_tool(tool, label, folder, cases, out, args)
            result.records = records
            result.load = (load, os.getloadavg()[0])
            results.append(result)
            print(f"{label}: {tool}: {result.note or result.report}", flush=True)
            if tool != REFERENCE and result.report:
                for d in args.distance_list:
                    ref = out / f"{REFERENCE}-D{d:g}.parquet"
                    other = out / f"{tool}-D{d:g}.parquet"
                    if not other.exists():
                        continue
                    verdict = compare(ref, other) if ref.exists() else "no reference"
                    comparisons[(label, tool, f"{d:g}")] = verdict
            elif tool == REFERENCE:
                for d in args.distance_list:
                    comparisons[(label, tool, f"{d:g}")] = "reference"
    print()
    print(f"Machine: {machine()}; load after: {os.getloadavg()}")
    print()
    print_table(results, sizes, args.distance_list, comparisons)
    print()
    print_appends(results)
    (args.cache / "results.json").write_text(
        json.dumps([r.__dict__ for r in results], indent=2, default=str)
    )


if __name__ == "__main__":
    main()
