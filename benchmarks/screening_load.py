"""Screening under load: bookings per second and the latency of the clinic's queue page, on
SQLite and on PostgreSQL, measured with wrk against a real uvicorn server on loopback.

    .venv/bin/python benchmarks/screening_load.py [--backends sqlite,postgres] [--duration 15]
        [--connections 1,8,32] [--clinics 50] [--waiting 30] [--workers 1]

For each backend the script makes a fresh database (SQLite: a file in a temporary home;
PostgreSQL: a database ``bench_screening_<pid>`` on the server of ``CITYTRACE_TEST_DATABASE_URL``,
default ``postgresql://postgres@127.0.0.1:5432/test``, dropped at the end), migrates it and
seeds it through the services: ``--clinics`` round-the-clock drive-through clinics of 4 lanes
around Seoul (576 slots a day each, 28 days ahead), one clinic staff account with an API token,
and ``--waiting`` walk-ins checked in at the first clinic, so that its queue page has a real
queue to show. It then serves the app with uvicorn on 127.0.0.1 (``--workers`` processes) and
runs wrk (Debian's; installed with ``apt-get install -y wrk`` when missing), each run bounded by
``--duration`` seconds and a 10 s request timeout:

- **book**: ``POST /api/screening/bookings`` (the citizens' JSON API: earliest free slot of a
  random clinic, a unique idempotency key per request) at each number of connections;
  bookings/s counts the 201 answers only.
- **queue page**: ``GET /screening/staff`` (the staff's HTML page of today's queue, signed in
  by the API token) at each number of connections.
- **queue page while booking**: both at once, the page at 4 connections and bookings at 8.
- **find page**: ``GET /screening?district=11140`` (the nearest clinics, their waits and next
  free slots) at 8 connections.

Afterwards it checks the database: as many bookings as 201 answers (plus the seeded walk-ins)
and never two bookings holding one (lane, start). Latencies are wrk's (HdrHistogram, per
request, including queueing in the server). wrk, the server and the database share the same
machine's cores, so the figures are those of one small box doing everything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
ALWAYS = "00:00-24:00"

BOOK_LUA = (
    r"""
counter = 0
statuses = {}
local threads = {}
local clinics = tonumber(os.getenv("BENCH_CLINICS"))
local run = os.getenv("BENCH_RUN")

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + id * 7919)
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"clinic_id": %d, "person": {"full_name": "Bench %d-%d", "phone": "010-%04d-%04d",'
    .. ' "language": "ko"}, "idempotency_key": "bench-%s-%d-%d"}',
    math.random(1, clinics), id, counter, id, counter % 10000, run, id, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
end
"""
    + r"""
function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%s": %d', k, v)) end
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d,'
    .. ' "max_us": %d, "errors": %d, "timeouts": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status,
    summary.errors.timeout, table.concat(parts, ", ")))
end
"""
)

GET_LUA = r"""
function done(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d,'
    .. ' "max_us": %d, "errors": %d, "timeouts": %d, "statuses": {}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status,
    summary.errors.timeout))
end
"""


@dataclass
class Run:
    backend: str
    what: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    timeouts: int
    created: int = 0

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def created_per_s(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: apt-get install -y wrk", flush=True)
    install = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(install, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


def wrk_version(binary: str) -> str:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return ((done.stdout or done.stderr).splitlines() or ["wrk"])[0].strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(backend: str, home: Path) -> Iterator[str]:
    """The URL of a fresh database of ``backend``, dropped afterwards (PostgreSQL)."""
    if backend == "sqlite":
        yield f"sqlite:///{home / 'citytrace.db'}"
        return
    import psycopg

    admin = os.environ.get("CITYTRACE_TEST_DATABASE_URL", DEFAULT_PG)
    name = f"bench_screening_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str, clinics_n: int, waiting: int) -> str:
    """Clinics, a clinic staff account (its API token is returned) and a queue at clinic 1."""
    from pydantic import SecretStr

    from citytrace.auth import service as accounts
    from citytrace.auth.models import Role
    from citytrace.auth.schemas import UserCreate
    from citytrace.db import make_engine, unit_of_work
    from citytrace.migrations import upgrade
    from citytrace.screening import booking, clinics
    from citytrace.screening.models import ClinicKind
    from citytrace.screening.schemas import ClinicCreate, PersonIn

    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(engine) as session:
        for i in range(clinics_n):
            clinics.create(
                session=session,
                actor="bench",
                data=ClinicCreate(
                    reference=f"bench-{i + 1}",
                    name=f"Bench clinic {i + 1}",
                    kind=ClinicKind.DRIVE_THROUGH,
                    units=4,
                    district_code="11140",
                    latitude=37.50 + 0.002 * (i % 50),
                    longitude=126.90 + 0.003 * (i // 50 + i % 7),
                    weekday_hours=ALWAYS,
                    saturday_hours=ALWAYS,
                    holiday_hours=ALWAYS,
                ),
            )
        user = accounts.create(
            session=session,
            actor="bench",
            data=UserCreate(
                username="bench-staff",
                role=Role.CLINIC_STAFF,
                clinic_ref="bench-1",
                password=SecretStr("a long bench password"),
            ),
        )
        _, token = accounts.create_token(session=session, actor="bench", user_id=user.id, name="b")
    with unit_of_work(engine) as session:
        first = clinics.get_by_reference_or_raise(session=session, reference="bench-1")
        for n in range(waiting):
            booking.walk_in(
                session=session,
                actor="bench",
                clinic_id=first.id,
                person=PersonIn(full_name=f"Waiting {n}", phone=f"010-9999-{n:04d}"),
            )
    engine.dispose()
    return token


def check(url: str, created: int, waiting: int, in_flight: int) -> str:
    """Bookings stored against 201 answers, and no slot held twice.

    wrk stops counting at the end of a run while up to one request per connection is still in
    the server, which completes it: so up to ``in_flight`` more bookings than 201 answers.
    """
    from sqlalchemy import func, select

    from citytrace.db import make_engine, unit_of_work
    from citytrace.screening.models import Booking, SlotClaim

    engine = make_engine(url)
    try:
        with unit_of_work(engine) as session:
            stored = session.scalar(select(func.count()).select_from(Booking)) or 0
            claims = session.scalar(select(func.count()).select_from(SlotClaim)) or 0
            distinct = (
                session.scalar(
                    select(func.count()).select_from(
                        select(SlotClaim.unit_id, SlotClaim.starts_at).distinct().subquery()
                    )
                )
                or 0
            )
    finally:
        engine.dispose()
    extra = stored - waiting - created
    ok = 0 <= extra <= in_flight and claims == distinct == stored - waiting
    return (
        f"{'ok' if ok else 'MISMATCH'}: {stored:,} bookings stored ({waiting} walk-ins, "
        f"{created:,} answered 201, {extra} completed after wrk stopped counting, at most "
        f"{in_flight}); {claims:,} slot claims on {distinct:,} distinct (lane, start)"
    )


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer within 90 s")


def wrk(
    binary: str,
    url: str,
    script: Path,
    connections: int,
    duration: int,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    cmd = [
        binary,
        "-t",
        str(min(2, connections)),
        "-c",
        str(connections),
        "-d",
        f"{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    cmd.append(url)
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def result(process: subprocess.Popen[str], backend: str, what: str, connections: int) -> Run:
    out, _ = process.communicate(timeout=600)
    line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk said:\n{out}")
    data: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return Run(
        backend=backend,
        what=what,
        connections=connections,
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=int(data["errors"]),
        timeouts=int(data["timeouts"]),
        created=int(data["statuses"].get("201", 0)),
    )


def bench_backend(
    backend: str, args: argparse.Namespace, binary: str, log: Any
) -> tuple[list[Run], str]:
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-screening-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        scripts = Path(tmp)
        (scripts / "book.lua").write_text(BOOK_LUA)
        (scripts / "get.lua").write_text(GET_LUA)
        with database(backend, home) as url:
            env = {
                **os.environ,
                "CITYTRACE_HOME": str(home),
                "CITYTRACE_DATABASE_URL": url,
                "CITYTRACE_PUBLIC_RATE_PER_CLIENT_PER_MIN": "100000000",
                "CITYTRACE_RETENTION_INTERVAL_MIN": "0",
                "CITYTRACE_ARGON2_TIME_COST": "1",
                "CITYTRACE_ARGON2_MEMORY_KIB": "1024",
                "CITYTRACE_ARGON2_PARALLELISM": "1",
            }
            os.environ.update({k: env[k] for k in env if k.startswith("CITYTRACE_")})
            from citytrace.config import get_settings

            get_settings.cache_clear()
            started = time.perf_counter()
            token = seed(url, args.clinics, args.waiting)
            print(f"[{backend}] seeded in {time.perf_counter() - started:.1f} s", flush=True)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "citytrace.api.app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(args.workers),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                env=env,
                stdout=log,
                stderr=log,
            )
            log.write(f"--- {backend}: server log ---\n")
            log.flush()
            bearer = {"Authorization": f"Bearer {token}"}
            lua_env = {"BENCH_CLINICS": str(args.clinics)}
            try:
                wait_until_up(base, server)
                book_url = f"{base}/api/screening/bookings"
                queue_url = f"{base}/screening/staff"
                # Warm-up: imports, first queries, the connection pool.
                warm = wrk(
                    binary, book_url, scripts / "book.lua", 2, 3, env={**lua_env, "BENCH_RUN": "w"}
                )
                runs_created = result(warm, backend, "warm-up", 2).created
                warm = wrk(binary, queue_url, scripts / "get.lua", 2, 3, headers=bearer)
                result(warm, backend, "warm-up", 2)
                for c in args.connections:
                    p = wrk(
                        binary,
                        book_url,
                        scripts / "book.lua",
                        c,
                        args.duration,
                        env={**lua_env, "BENCH_RUN": f"b{c}"},
                    )
                    runs.append(result(p, backend, "book", c))
                    print(f"[{backend}] {fmt(runs[-1])}", flush=True)
                for c in args.connections:
                    p = wrk(
                        binary, queue_url, scripts / "get.lua", c, args.duration, headers=bearer
                    )
                    runs.append(result(p, backend, "queue page", c))
                    print(f"[{backend}] {fmt(runs[-1])}", flush=True)
                page = wrk(binary, queue_url, scripts / "get.lua", 4, args.duration, headers=bearer)
                books = wrk(
                    binary,
                    book_url,
                    scripts / "book.lua",
                    8,
                    args.duration,
                    env={**lua_env, "BENCH_RUN": "mix"},
                )
                runs.append(result(page, backend, "queue page while booking", 4))
                runs.append(result(books, backend, "book (with the queue page)", 8))
                print(f"[{backend}] {fmt(runs[-2])}\n[{backend}] {fmt(runs[-1])}", flush=True)
                find_url = f"{base}/screening?district=11140"
                p = wrk(binary, find_url, scripts / "get.lua", 8, args.duration)
                runs.append(result(p, backend, "find page", 8))
                print(f"[{backend}] {fmt(runs[-1])}", flush=True)
            finally:
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
            created = runs_created + sum(r.created for r in runs)
            in_flight = 2 + sum(r.connections for r in runs if r.what.startswith("book"))
            verdict = check(url, created, args.waiting, in_flight)
            print(f"[{backend}] {verdict}", flush=True)
    return runs, verdict


def fmt(r: Run) -> str:
    rate = f"{r.created_per_s:,.1f} bookings/s" if r.created else f"{r.per_s:,.1f} req/s"
    return (
        f"{r.what} c={r.connections}: {rate}, p50 {r.p50_ms:.1f} ms, p90 {r.p90_ms:.1f} ms, "
        f"p99 {r.p99_ms:.1f} ms, max {r.max_ms:.0f} ms, {r.requests:,} requests, "
        f"{r.errors} errors, {r.timeouts} timeouts"
    )


def table(runs: list[Run]) -> str:
    lines = [
        "| backend | what | connections | throughput | p50 | p90 | p99 | max | requests | "
        "non-2xx/errors | timeouts |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        rate = (
            f"{r.created_per_s:,.1f} bookings/s"
            if r.what.startswith("book")
            else (f"{r.per_s:,.1f} pages/s")
        )
        lines.append(
            f"| {r.backend} | {r.what} | {r.connections} | {rate} | {r.p50_ms:.1f} ms | "
            f"{r.p90_ms:.1f} ms | {r.p99_ms:.1f} ms | {r.max_ms:.0f} ms | {r.requests:,} | "
            f"{r.errors} | {r.timeouts} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each run (max 120)")
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--clinics", type=int, default=50)
    parser.add_argument("--waiting", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    args.duration = max(1, min(args.duration, 120))
    args.connections = [max(1, min(int(c), 256)) for c in args.connections.split(",")]
    binary = ensure_wrk()
    load = os.getloadavg()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {wrk_version(binary)}; "
        f"load average before: {load[0]:.1f}",
        flush=True,
    )
    all_runs: list[Run] = []
    verdicts = []
    log_path = Path(tempfile.gettempdir()) / f"bench-screening-{os.getpid()}.log"
    with log_path.open("w") as log:
        for backend in args.backends.split(","):
            runs, verdict = bench_backend(backend.strip(), args, binary, log)
            all_runs += runs
            verdicts.append(f"- {backend}: {verdict}")
    text = log_path.read_text()
    failures = text.count("Exception in ASGI application") + text.count("unhandled ")
    print()
    print(table(all_runs))
    print()
    print("\n".join(verdicts))
    locked = text.count("database is locked")
    print(
        f"server log: {log_path} ({failures} failures logged; "
        f"'database is locked' appears {locked} times)"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    main()
