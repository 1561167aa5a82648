"""Open-data feed: requests per second and latency under wrk, against the real service.

    .venv/bin/python benchmarks/feed_bench.py [--entries 100] [--duration-s 20]
        [--connections 200] [--threads 2] [--workers 2] [--servers extras,plain]
        [--output benchmarks/feed.md]

What it does:

- Installs Debian's ``wrk`` with ``apt-get install -y wrk`` when it is missing.
- Makes a fresh ``CITYTRACE_HOME`` (SQLite) in a temporary folder, inserts ``--entries``
  published places spread over Seoul's districts (synthetic names, addresses and windows; a
  fifth of them public transport), and writes the feed's snapshot.
- Starts the service as a deployment would: ``uvicorn --factory citytrace.api.app:create_app``
  with ``--workers`` processes on a free port of 127.0.0.1 (loopback only), access log on at
  level info, as ``citytrace serve`` runs it. Two servers are measured in turn:

  - ``extras``: uvicorn with its standard extras, httptools and uvloop (``uvicorn[standard]``).
    When they are not installed, they are installed with pip into a cache folder
    (``~/.cache/citytrace-bench/uvicorn-extras``) that only the server process sees: the
    project's environment is left as it is.
  - ``plain``: uvicorn as the project's environment has it (h11, asyncio) when the extras are
    not installed there.

- For each server: a warm-up of 3 s, then ``wrk -t{threads} -c{connections} -d{duration}s
  --latency`` on ``/api/public/places.geojson`` (plain), the same with
  ``Accept-Encoding: gzip`` (what browsers and HTTP libraries send), and a revalidation with
  ``If-None-Match`` (304, what a polling client mostly gets). It checks every answer was a
  2xx/304 and that the access log holds no line of the feed (nobody is recorded downloading).
- Writes the table (requests/s, latency percentiles, errors) to ``--output`` between the
  markers ``<!-- feed-bench -->`` and ``<!-- /feed-bench -->``, keeping the rest of the file.

wrk and the server share the machine's cores: the figures include wrk's own load.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
PIP_INSTALL = (sys.executable, "-m", "pip", "install", "-q", "--target")
EXTRAS_DIR = Path.home() / ".cache" / "citytrace-bench" / "uvicorn-extras"
FEED = "/api/public/places.geojson"
MARK_START, MARK_END = "<!-- feed-bench -->", "<!-- /feed-bench -->"
KINDS = (
    "restaurant",
    "cafe",
    "church",
    "gym",
    "pc_bang",
    "karaoke",
    "hospital",
    "pharmacy",
    "mart",
)


@dataclass
class Result:
    server: str
    scenario: str
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    bad: int
    errors: str
    transfer: str
    load_after: float = 0.0


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: apt-get install -y wrk", flush=True)
    subprocess.run(["apt-get", "update"], check=False, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "wrk"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk could not be installed")
    return found


def have_extras() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("httptools", "uvloop"))


def ensure_extras() -> Path | None:
    """A folder with httptools and uvloop for the server's PYTHONPATH (None: already installed)."""
    if have_extras():
        return None
    if not (EXTRAS_DIR / "httptools").is_dir() or not (EXTRAS_DIR / "uvloop").is_dir():
        print(f"installing httptools and uvloop into {EXTRAS_DIR}", flush=True)
        subprocess.run(
            [*PIP_INSTALL, str(EXTRAS_DIR), "httptools", "uvloop"],
            check=True,
        )
    return EXTRAS_DIR


def seed(home: Path, entries: int) -> int:
    """Migrate a fresh database in ``home``, publish ``entries`` places, write the snapshot;
    the size of the GeoJSON document in bytes."""
    home.mkdir(parents=True)
    os.environ["CITYTRACE_HOME"] = str(home)
    from citytrace.config import get_settings

    get_settings.cache_clear()
    from citytrace.db import make_engine, unit_of_work
    from citytrace.disclosure import feed
    from citytrace.disclosure.models import DisclosureEntry, EntryStatus
    from citytrace.geo import load_city
    from citytrace.migrations import upgrade

    engine = make_engine(get_settings().resolved_database_url)
    upgrade(engine)
    city = load_city("seoul")
    rng = random.Random(7)
    now = datetime.now(UTC)
    with unit_of_work(engine) as session:
        for i in range(entries):
            area = city.districts[i % len(city.districts)]
            lat = city.center[0] + rng.uniform(-0.08, 0.08)
            lon = city.center[1] + rng.uniform(-0.12, 0.12)
            start = (now - timedelta(days=rng.randint(1, 12))).replace(
                minute=rng.choice((0, 30)), second=0, microsecond=0
            )
            transport = i % 5 == 0
            session.add(
                DisclosureEntry(
                    public_id=uuid.uuid4().hex,
                    status=EntryStatus.PUBLISHED,
                    district_code=area.code,
                    place_kind="subway" if transport else KINDS[i % len(KINDS)],
                    business_name=None if transport else f"{area.name_en} place {i}",
                    road_address=None if transport else f"{area.name_ko} 테스트로 {i + 1}",
                    latitude=lat,
                    longitude=lon,
                    exposure_start=start,
                    exposure_end=start + timedelta(minutes=rng.choice((30, 60, 90))),
                    disinfected=rng.random() < 0.8,
                    notes="",
                    transport_line="Line 2" if transport else None,
                    transport_car=str(rng.randint(1, 10)) if transport else None,
                    boarding_stop="City Hall" if transport else None,
                    boarding_at=start if transport else None,
                    alighting_stop="Gangnam" if transport else None,
                    alighting_at=start + timedelta(minutes=30) if transport else None,
                    last_contact_at=start + timedelta(hours=1),
                    expires_at=start + timedelta(days=14, hours=1),
                    published_at=now,
                    updated_at=now,
                )
            )
        session.flush()
        feed.refresh(session, now)
    engine.dispose()
    cache = feed.FeedCache()
    view = cache.view()
    assert view is not None and len(view.records) == entries
    return len(view.body("geojson"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(home: Path, workers: int, extras: Path | None, log: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CITYTRACE_HOME": str(home), "CITYTRACE_RETENTION_INTERVAL_MIN": "0"}
    if extras is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(extras), env.get("PYTHONPATH")) if p)
    command = [
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
        str(workers),
        "--log-level",
        "info",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                sys.exit(f"the server stopped (code {process.returncode}); see {log}")
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"the server did not start within 60 s; see {log}")
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not found:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _UNIT_MS[found.group(2)]


def run_wrk(
    wrk: str, url: str, *, threads: int, connections: int, duration_s: int, headers: list[str]
) -> tuple[str, int]:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run([*command, url], check=True, capture_output=True, text=True)
    return done.stdout, done.returncode


def parse(output: str, server: str, scenario: str) -> Result:
    def grab(pattern: str) -> str:
        found = re.search(pattern, output, re.MULTILINE)
        if not found:
            raise ValueError(f"wrk output without {pattern!r}:\n{output}")
        return found.group(1)

    latency = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", output, re.MULTILINE)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return Result(
        server=server,
        scenario=scenario,
        rps=float(grab(r"Requests/sec:\s+([\d.]+)")),
        p50_ms=_ms(grab(r"^\s+50%\s+(\S+)")),
        p90_ms=_ms(grab(r"^\s+90%\s+(\S+)")),
        p99_ms=_ms(grab(r"^\s+99%\s+(\S+)")),
        max_ms=_ms(latency.group(1)) if latency else float("nan"),
        requests=int(grab(r"(\d+) requests in")),
        bad=int(bad.group(1)) if bad else 0,
        errors=errors.group(1).strip() if errors else "none",
        transfer=grab(r"Transfer/sec:\s+(\S+)"),
    )


def etag_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.headers["ETag"])


def write_table(path: Path, results: list[Result], info: dict[str, str]) -> None:
    lines = [MARK_START, ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += [
        "",
        "| server | request | requests/s | p50 ms | p90 ms | p99 ms | max ms | requests | "
        "non-2xx/3xx | socket errors | transfer/s | load average after |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.server} | {r.scenario} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p90_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.max_ms:.1f} | {r.requests:,} | {r.bad} | {r.errors} | "
            f"{r.transfer} | {r.load_after:.1f} |"
        )
    lines += ["", MARK_END]
    block = "\n".join(lines)
    text = path.read_text() if path.exists() else ""
    if MARK_START in text and MARK_END in text:
        head, _, rest = text.partition(MARK_START)
        _, _, tail = rest.partition(MARK_END)
        text = head + block + tail
    else:
        text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100)
    parser.add_argument("--duration-s", type=int, default=20)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--servers", default="extras,plain")
    parser.add_argument("--output", type=Path, default=HERE / "feed.md")
    args = parser.parse_args()
    if not 1 <= args.duration_s <= 120:
        sys.exit("--duration-s must be within 1..120")
    wrk = ensure_wrk()
    load_before = os.getloadavg()[0]
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(servers) - {"extras", "plain"}
    if unknown:
        sys.exit(f"unknown --servers {sorted(unknown)}: extras, plain")
    if "plain" in servers and have_extras():
        print("httptools and uvloop are installed: 'plain' would equal 'extras'; skipped")
        servers.remove("plain")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="citytrace-feed-bench-") as work:
        home = Path(work) / "home"
        size = seed(home, args.entries)
        print(f"{args.entries} published places; the GeoJSON document is {size:,} bytes")
        for server in servers:
            extras = ensure_extras() if server == "extras" else None
            log = Path(work) / f"server-{server}.log"
            with serve(home, args.workers, extras, log) as url:
                target = url + FEED
                run_wrk(wrk, target, threads=args.threads, connections=50, duration_s=3, headers=[])
                etag = etag_of(target)
                scenarios = (
                    ("GET", []),
                    ("GET, Accept-Encoding: gzip", ["Accept-Encoding: gzip"]),
                    ("GET, If-None-Match (304)", [f"If-None-Match: {etag}"]),
                )
                for name, headers in scenarios:
                    output, _ = run_wrk(
                        wrk,
                        target,
                        threads=args.threads,
                        connections=args.connections,
                        duration_s=args.duration_s,
                        headers=headers,
                    )
                    result = parse(output, server, name)
                    result.load_after = os.getloadavg()[0]
                    results.append(result)
                    print(
                        f"{server:7} {name:28} {result.rps:9,.0f} req/s  p50 {result.p50_ms:6.1f} "
                        f"ms  p99 {result.p99_ms:6.1f} ms  non-2xx/3xx {result.bad}  "
                        f"errors {result.errors}",
                        flush=True,
                    )
            logged = [line for line in log.read_text().splitlines() if FEED in line]
            if logged:
                sys.exit(f"the access log recorded feed requests, e.g. {logged[0]!r}")
    import uvicorn

    info = {
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "`"
        + " ".join([".venv/bin/python benchmarks/feed_bench.py", *sys.argv[1:]])
        + "`",
        "machine": f"{os.cpu_count()} cores ({platform.machine()}), load average before the "
        f"run {load_before:.2f} (other work on the machine), Python "
        f"{platform.python_version()}, uvicorn {uvicorn.__version__}",
        "service": f"uvicorn --workers {args.workers}, access log on (level info), "
        f"{args.entries} published places, GeoJSON document {size:,} bytes",
        "load": f"wrk -t{args.threads} -c{args.connections} -d{args.duration_s}s --latency, "
        "on the same machine",
    }
    write_table(args.output, results, info)
    print(f"table written to {args.output}")


if __name__ == "__main__":
    main()
