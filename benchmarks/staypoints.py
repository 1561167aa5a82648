"""Stay-point detection: citytrace against trackintel 1.4.2 and scikit-mobility.

    .venv/bin/python benchmarks/staypoints.py [--sizes 0.2M,2M,20M] [--seed 7]

For each size the script simulates realistic GPS tracks from the seed (many users; a fix every
5-60 s; stays with GPS noise, trips at walking to driving speed, tracking gaps, a few duplicate
fixes and equal times), writes them to Parquet, and runs each tool in its own subprocess, which
reports wall time and peak RSS (``resource.getrusage``). It prints fixes per second for the
detection step (an in-memory table / data frame in, stay points out) and, for citytrace, end to
end (Parquet in, Parquet out), the peak memory and citytrace's speed-up over each peer.

A peer whose run would take more than ``--budget-s`` (default 600 s), extrapolated linearly from
the previous size, is skipped and the extrapolation is shown, labelled as such. Where citytrace
and trackintel both ran, every stay point is compared (user, started_at, finished_at exactly;
position within 1 m).

scikit-mobility (``skmob.preprocessing.detection.stay_locations``) pins pandas < 2 and geopandas
0.10, which would break trackintel in the project's environment, so it is run from the Python
given by ``--skmob-python`` (default: the ``SKMOB_PYTHON`` environment variable); without one it
is skipped and the table says why. It implements a different rule (Hariharan & Toyama 2004;
median position, a stop radius), run here with a 100 m radius and 5 minutes, so its output is
not compared.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
HEADER = (
    "| fixes | tool | detection (first run / repeat) | end to end from Parquet (first / repeat) "
    "| peak RSS | citytrace speed-up (detection, first run) | notes |"
)
DIST_M, TIME_MIN, GAP_MIN = 100.0, 5.0, 15.0
FIXES_PER_USER = 20_000


# ----------------------------------------------------------------------------------------------
# Synthetic tracks


def simulate(n_fixes: int, seed: int) -> dict[str, np.ndarray]:
    """Tracks of ``n_fixes`` fixes in total around Seoul, ``FIXES_PER_USER`` per user."""
    from numba import njit

    @njit(cache=False)
    def run(n: int, n_users: int, seed: int) -> tuple[np.ndarray, ...]:
        np.random.seed(seed)
        user = np.empty(n, np.int64)
        t_s = np.empty(n, np.int64)
        lat = np.empty(n, np.float64)
        lon = np.empty(n, np.float64)
        m_per_deg = 111_195.0
        i = 0
        for u in range(n_users):
            count = n // n_users + (1 if u < n % n_users else 0)
            home_lat = 37.45 + 0.2 * np.random.random()
            home_lon = 126.85 + 0.3 * np.random.random()
            cos_home = math.cos(math.radians(home_lat))
            t = 1_583_020_800 + int(86_400 * np.random.random())  # some time on 2020-03-01
            interval = 5.0 + 55.0 * np.random.random()
            c_lat, c_lon = home_lat, home_lon  # stay centre or moving position
            staying = True
            left = 600.0 + 7200.0 * np.random.random()  # seconds of stay left
            target_lat, target_lon, speed = c_lat, c_lon, 1.0
            for k in range(count):
                if k > 0:
                    roll = np.random.random()
                    if roll < 0.001:  # a fix recorded twice
                        user[i], t_s[i], lat[i], lon[i] = u, t_s[i - 1], lat[i - 1], lon[i - 1]
                        i += 1
                        continue
                    dt = 0.0 if roll < 0.002 else interval * (0.8 + 0.4 * np.random.random())
                    if np.random.random() < 0.0005:  # tracking gap of 20 min to 8 h
                        dt += 1200.0 + 27_600.0 * np.random.random()
                    t += int(dt)
                    left -= dt
                    if staying and left <= 0:
                        staying = False
                        target_lat = home_lat + np.random.normal(0.0, 0.05)
                        target_lon = home_lon + np.random.normal(0.0, 0.06)
                        speed = 1.0 + 14.0 * np.random.random()
                    elif not staying:
                        dy = (target_lat - c_lat) * m_per_deg
                        dx = (target_lon - c_lon) * m_per_deg * cos_home
                        dist = math.hypot(dx, dy)
                        step = speed * dt
                        if dist <= step:
                            c_lat, c_lon = target_lat, target_lon
                            staying = True
                            left = 300.0 + 3.0 * 3600.0 * np.random.random() ** 2
                        else:
                            c_lat += dy / dist * step / m_per_deg
                            c_lon += dx / dist * step / (m_per_deg * cos_home)
                noise = 8.0 if staying else 5.0
                user[i] = u
                t_s[i] = t
                lat[i] = c_lat + np.random.normal(0.0, noise) / m_per_deg
                lon[i] = c_lon + np.random.normal(0.0, noise) / (m_per_deg * cos_home)
                i += 1
        return user, t_s, lat, lon

    n_users = max(1, n_fixes // FIXES_PER_USER)
    user, t_s, lat, lon = run(n_fixes, n_users, seed)
    # Loggers record 6 decimals (about 0.1 m), which also makes repeated positions realistic.
    return {
        "user_id": user,
        "tracked_at_us": t_s * 1_000_000,
        "latitude": np.round(lat, 6),
        "longitude": np.round(lon, 6),
    }


def write_fixes(path: Path, n_fixes: int, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tracks = simulate(n_fixes, seed)
    table = pa.table(
        {
            "user_id": tracks["user_id"],
            "tracked_at": pa.array(tracks["tracked_at_us"], pa.timestamp("us", tz="UTC")),
            "latitude": tracks["latitude"],
            "longitude": tracks["longitude"],
        }
    )
    pq.write_table(table, path, row_group_size=1 << 20)


# ----------------------------------------------------------------------------------------------
# Workers: one tool, one input, in a fresh process


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_citytrace(fixes: Path, out: Path) -> dict[str, float]:
    import pyarrow as pa

    from citytrace.trajectory import generate_staypoints, read_fixes, write_staypoints

    tiny = pa.table(
        {
            "user_id": pa.array([1, 1], pa.int64()),
            "tracked_at": pa.array([0, 1], pa.timestamp("us", tz="UTC")),
            "latitude": [0.0, 1.0],
            "longitude": [0.0, 1.0],
        }
    )
    # Imports and first calls (reader, writer, kernels) outside the timings.
    warm = out.with_name(f"warm-{out.name}")
    write_staypoints(generate_staypoints(tiny), warm)
    write_staypoints(tiny, warm)
    read_fixes(warm)
    warm.unlink()
    report: dict[str, float] = {}
    # The first run pays for touching fresh memory (costly in a VM); the second is a warm process.
    for run in ("", "repeat_"):
        start = time.perf_counter()
        table = read_fixes(fixes)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        stays = generate_staypoints(
            table, dist_threshold_m=DIST_M, time_threshold_min=TIME_MIN, gap_threshold_min=GAP_MIN
        )
        detect_s = time.perf_counter() - start
        start = time.perf_counter()
        write_staypoints(stays, out)
        write_s = time.perf_counter() - start
        report |= {
            f"{run}detect_s": detect_s,
            f"{run}end_to_end_s": read_s + detect_s + write_s,
            "stays": stays.num_rows,
        }
        del table, stays
    return report


def worker_trackintel(fixes: Path, out: Path) -> dict[str, float]:
    import geopandas as gpd
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import trackintel as ti

    frame = pd.read_parquet(fixes)
    geometry = gpd.points_from_xy(frame.pop("longitude"), frame.pop("latitude"))
    pfs = ti.Positionfixes(gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326"))
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    _, sp = pfs.generate_staypoints(
        method="sliding",
        dist_threshold=DIST_M,
        time_threshold=TIME_MIN,
        gap_threshold=GAP_MIN,
    )
    detect_s = time.perf_counter() - start
    table = pa.table(
        {
            "user_id": sp["user_id"].to_numpy(),
            "started_at": pa.array(sp["started_at"]).cast(pa.timestamp("us", tz="UTC")),
            "finished_at": pa.array(sp["finished_at"]).cast(pa.timestamp("us", tz="UTC")),
            "latitude": sp.geometry.y.to_numpy(),
            "longitude": sp.geometry.x.to_numpy(),
        }
    )
    pq.write_table(table, out)
    return {"detect_s": detect_s, "stays": len(sp)}


def worker_skmob(fixes: Path, out: Path) -> dict[str, float]:
    import pandas as pd
    import skmob
    from skmob.preprocessing import detection

    frame = pd.read_parquet(fixes)
    frame["datetime"] = pd.to_datetime(frame.pop("tracked_at")).dt.tz_localize(None)
    tdf = skmob.TrajDataFrame(
        frame, latitude="latitude", longitude="longitude", datetime="datetime", user_id="user_id"
    )
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    stops = detection.stay_locations(
        tdf, spatial_radius_km=DIST_M / 1000, minutes_for_a_stop=TIME_MIN, leaving_time=True
    )
    detect_s = time.perf_counter() - start
    return {"detect_s": detect_s, "stays": len(stops)}


WORKERS = {"citytrace": worker_citytrace, "trackintel": worker_trackintel, "skmob": worker_skmob}


def run_worker(tool: str, fixes: Path, out: Path, python: str) -> dict[str, float]:
    command = [python, str(HERE), "--worker", tool, "--fixes", str(fixes), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ----------------------------------------------------------------------------------------------
# Comparison and report


def compare(ours: Path, theirs: Path) -> str:
    """'equal' when every stay point matches, else what differs."""
    import pyarrow.parquet as pq

    a = pq.read_table(ours)
    b = pq.read_table(theirs)
    if a.num_rows != b.num_rows:
        return f"DIFFERENT: {a.num_rows} vs {b.num_rows} stay points"
    for name in ("user_id", "started_at", "finished_at"):
        if not a.column(name).equals(b.column(name)):
            return f"DIFFERENT: {name}"
    lat1, lon1 = (np.radians(a.column(c).to_numpy()) for c in ("latitude", "longitude"))
    lat2, lon2 = (np.radians(b.column(c).to_numpy()) for c in ("latitude", "longitude"))
    hav = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    worst = float(2 * 6_371_000 * np.arcsin(np.sqrt(hav)).max()) if a.num_rows else 0.0
    if worst > 1.0:
        return f"DIFFERENT: position off by {worst:.3f} m"
    return f"equal ({a.num_rows:,} stay points, positions within {worst:.1e} m)"


@dataclass
class Result:
    tool: str
    size: int
    detect_s: float | None = None
    end_to_end_s: float | None = None
    repeat_detect_s: float | None = None
    repeat_end_to_end_s: float | None = None
    peak_mb: float | None = None
    note: str = ""
    extrapolated: bool = False


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * scale)


def label(n: int) -> str:
    return f"{n / 1e6:g}M"


def rate(n: int, seconds: float | None) -> str:
    if seconds is None:
        return "-"
    per_s = n / seconds / 1e6
    return f"{per_s:.1f} M/s" if per_s >= 1 else f"{per_s * 1000:,.1f} k/s"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0.2M,2M,20M")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget-s", type=float, default=600.0)
    parser.add_argument("--skmob-python", default=os.environ.get("SKMOB_PYTHON"))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--fixes", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        report = WORKERS[args.worker](args.fixes, args.out)
        report["peak_mb"] = peak_rss_mb()
        print(json.dumps(report))
        return

    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    skmob_python, skmob_note = args.skmob_python, ""
    if not skmob_python:
        skmob_note = "skipped: no --skmob-python (scikit-mobility pins pandas<2, see README)"
    else:
        check = subprocess.run(
            [skmob_python, "-c", "import skmob.preprocessing.detection"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            skmob_note = (
                "skipped: scikit-mobility does not import: "
                + (check.stderr.strip().splitlines() or ["?"])[-1]
            )
            skmob_python = None
    print(f"machine: {machine()}", flush=True)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="citytrace-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    last_rate: dict[str, float] = {}
    last_size: dict[str, int] = {}
    comparisons: dict[int, str] = {}
    for n in sizes:
        fixes = workdir / f"fixes-{label(n)}-seed{args.seed}.parquet"
        if not fixes.exists():
            started = time.perf_counter()
            write_fixes(fixes, n, args.seed)
            print(f"{label(n)}: simulated in {time.perf_counter() - started:.1f} s", flush=True)
        peers = [("citytrace", sys.executable), ("trackintel", sys.executable)]
        if skmob_python:
            peers.append(("skmob", skmob_python))
        for tool, python in peers:
            result = Result(tool, n)
            results.append(result)
            expected = n / last_rate[tool] if tool in last_rate else 0.0
            if tool != "citytrace" and expected > args.budget_s:
                result.detect_s = expected
                result.extrapolated = True
                result.note = (
                    f"skipped: ~{expected / 60:.0f} min, extrapolated from {label(last_size[tool])}"
                )
                continue
            out = workdir / f"{tool}-{label(n)}.parquet"
            try:
                report = run_worker(tool, fixes, out, python)
            except RuntimeError as exc:
                result.note = f"failed: {str(exc).splitlines()[-1][:80]}"
                continue
            result.detect_s = report["detect_s"]
            result.end_to_end_s = report.get("end_to_end_s")
            result.repeat_detect_s = report.get("repeat_detect_s")
            result.repeat_end_to_end_s = report.get("repeat_end_to_end_s")
            result.peak_mb = report["peak_mb"]
            result.note = f"{int(report['stays']):,} stay points"
            last_rate[tool] = n / report["detect_s"]
            last_size[tool] = n
            print(
                f"{label(n)} {tool}: detect {report['detect_s']:.3f} s, "
                f"peak {report['peak_mb']:.0f} MB, load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        if not any(
            r.tool == "trackintel" and r.size == n and not r.extrapolated and r.peak_mb
            for r in results
        ):
            comparisons[n] = "trackintel did not run"
        else:
            comparisons[n] = compare(
                workdir / f"citytrace-{label(n)}.parquet",
                workdir / f"trackintel-{label(n)}.parquet",
            )
        print(f"{label(n)}: citytrace vs trackintel: {comparisons[n]}", flush=True)
    if skmob_note:
        results.extend(Result("skmob", n, note=skmob_note) for n in sizes)

    print()
    print(f"Machine: {machine()}; load average at the end {os.getloadavg()[0]:.2f}")
    print()
    print(HEADER)
    print("| ---: | --- | ---: | ---: | ---: | ---: | --- |")
    for n in sizes:
        ours = next(r for r in results if r.tool == "citytrace" and r.size == n)
        for r in (r for r in results if r.size == n):
            detect = rate(n, r.detect_s)
            if r.repeat_detect_s:
                detect += f" / {rate(n, r.repeat_detect_s)}"
            if r.extrapolated:
                detect = f"~{detect} (extrapolated)"
            end_to_end = rate(n, r.end_to_end_s)
            if r.repeat_end_to_end_s:
                end_to_end += f" / {rate(n, r.repeat_end_to_end_s)}"
            speedup = "-"
            if r.tool != "citytrace" and r.detect_s and ours.detect_s:
                speedup = f"{r.detect_s / ours.detect_s:,.0f}x"
                if r.extrapolated:
                    speedup = f"~{speedup} (extrapolated)"
            peak = "-" if r.peak_mb is None else f"{r.peak_mb:,.0f} MB"
            print(
                f"| {label(n)} | {r.tool} | {detect} | {end_to_end} | {peak} "
                f"| {speedup} | {r.note} |"
            )
    print()
    for n in sizes:
        print(f"- {label(n)}: citytrace vs trackintel: {comparisons[n]}")


if __name__ == "__main__":
    main()
