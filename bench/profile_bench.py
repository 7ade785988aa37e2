"""Benchmark: profiling a 20-column mixed Parquet table against reading it, pandas
and DuckDB, and the tail accuracy of the profile's quantiles.

Usage (from the repository root)::

    python bench/profile_bench.py                      # 1M and 10M rows, 3 runs each
    python bench/profile_bench.py --rows 1000000 --reps 1 --skip pandas

Each tool runs as a whole process (interpreter start and imports included), the
tools interleaved, ``--reps`` times; the figures are medians. Times come from
runs with nothing else sampling the process. Peak memory comes from a second run
of each tool: the highest total proportional set size (PSS, from
``/proc/<pid>/smaps_rollup``) of the process and its children, sampled every
10 ms, so worker processes count and shared library pages count once.

- ``profile``: ``profile_source(FileSource((path,)))``, the ad-hoc profile;
- ``read_table``: ``pyarrow.parquet.read_table(path)``, the floor;
- ``pandas``: ``read_parquet``, ``describe(include="all")`` plus
  ``quantile(...)`` at the nine profile quantiles (numeric columns);
- ``duckdb``: ``SUMMARIZE SELECT * FROM read_parquet(path)``.

Targets (at 10M rows): profile at most 3.0x the floor (goal 2.0x), at least 2x
faster than DuckDB, at least 5x faster than pandas, peak memory at most 1 GiB and
at most 1.5x its peak at 1M rows; the 0.1% and 99.9% quantiles of every numeric
column within 0.0005 normalised rank.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TOOLS = ("profile", "read_table", "pandas", "duckdb")
RANKS = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)
TAIL_TOLERANCE = 5e-4

# ---------------------------------------------------------------------------
# the measured programs (run in a child process: ``profile_bench.py _run TOOL PATH``)


def run_tool(tool: str, path: str) -> None:
    """Do one tool's work on ``path`` (the body of a measured process)."""
    if tool == "profile":
        from monitor.profile import profile_source
        from monitor.sources.files import FileSource

        prof = profile_source(FileSource((path,)), progress=False)
        print(prof.row_count, len(prof.columns))
    elif tool == "read_table":
        import pyarrow.parquet as pq

        print(pq.read_table(path).num_rows)
    elif tool == "pandas":
        import pandas as pd

        df = pd.read_parquet(path)
        described = df.describe(include="all")
        quantiles = df.select_dtypes(include="number").quantile(list(RANKS))
        print(described.shape, quantiles.shape)
    elif tool == "duckdb":
        import duckdb

        print(len(duckdb.sql(f"SUMMARIZE SELECT * FROM read_parquet('{path}')").fetchall()))
    else:
        raise SystemExit(f"unknown tool {tool!r}")


# ---------------------------------------------------------------------------
# measuring a process tree


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kib(root: int) -> int:
    """Total PSS (KiB) of a process and all its descendants."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _pss_kib(pid)
        stack += _children(pid)
    return total


@dataclass
class Run:
    seconds: float
    peak_mib: float


def measure(tool: str, path: Path, sample_memory: bool = True) -> Run:
    """Run one tool as a fresh process; wall time and peak tree PSS.

    Sampling ``smaps_rollup`` every 10 ms costs CPU that the measured process
    would otherwise have (on 2 cores it slows a 2-worker profile by about 20%),
    so the timed runs are made without it (``sample_memory=False``, peak 0)
    and the memory runs apart.
    """
    peak = [0]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "_run", tool, str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_pss_kib(proc.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_memory:
        sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    if sample_memory:
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed: {err.decode()[-2000:]}")
    return Run(seconds, peak[0] / 1024)


# ---------------------------------------------------------------------------
# accuracy of the tails


def tail_errors(path: Path) -> dict[str, tuple[float, float, float]]:
    """Per numeric column: normalised rank error of the profile's 0.1% and 99.9%
    quantiles (distance of the rank to the true rank interval), and the stated bound."""
    import numpy as np
    import pyarrow.parquet as pq

    from monitor.profile import NUMERIC_KINDS, profile_source
    from monitor.profile import finite_values
    from monitor.sources.files import FileSource

    prof = profile_source(FileSource((str(path),)), progress=False)
    out = {}
    for name, col in prof.columns.items():
        if col.numeric is None or col.kind not in NUMERIC_KINDS:
            continue
        values = np.sort(finite_values(pq.read_table(path, columns=[name]).column(name), col.kind))
        values = values[np.isfinite(values)]
        errors = []
        for rank, q in zip((0.001, 0.999), col.numeric.quantiles([0.001, 0.999])):
            lo = np.searchsorted(values, q, side="left") / values.size
            hi = np.searchsorted(values, q, side="right") / values.size
            errors.append(max(lo - rank, rank - hi, 0.0))
        out[name] = (errors[0], errors[1], col.numeric.rank_error)
    return out


# ---------------------------------------------------------------------------
# the report


def dataset(directory: Path, rows: int, seed: int) -> Path:
    from bench_data import generate

    path = directory / f"mixed_{rows}_{seed}.parquet"
    if not path.exists():
        print(f"generating {rows:,} rows -> {path}", flush=True)
        t0 = time.perf_counter()
        generate(path, rows, seed)
        print(f"  done in {time.perf_counter() - t0:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)", flush=True)
    return path


def bench_size(path: Path, tools: list[str], reps: int) -> dict[str, list[Run]]:
    """``reps`` rounds of every tool: a timed run (no sampling), then a memory run
    (sampled); each :class:`Run` pairs the timed seconds with the sampled peak."""
    runs: dict[str, list[Run]] = {t: [] for t in tools}
    for rep in range(reps):
        for tool in tools:
            seconds = measure(tool, path, sample_memory=False).seconds
            peak = measure(tool, path, sample_memory=True).peak_mib
            runs[tool].append(Run(seconds, peak))
            print(f"  run {rep + 1}/{reps} {tool:<10} {seconds:7.2f} s {peak:8.0f} MiB", flush=True)
    return runs


def median_time(runs: list[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


def median_peak(runs: list[Run]) -> float:
    return statistics.median(r.peak_mib for r in runs)


def print_table(rows: int, runs: dict[str, list[Run]]) -> None:
    floor = median_time(runs["read_table"]) if "read_table" in runs else float("nan")
    print(f"\n{rows:,} rows: median of {len(next(iter(runs.values())))} (whole processes)")
    print(f"  {'tool':<12}{'time s':>9}{'x floor':>9}{'peak MiB':>10}   runs (s)")
    for tool, rs in runs.items():
        times = ", ".join(f"{r.seconds:.2f}" for r in rs)
        print(f"  {tool:<12}{median_time(rs):9.2f}{median_time(rs) / floor:9.2f}{median_peak(rs):10.0f}   {times}")


def check(label: str, ok: bool, detail: str) -> None:
    print(f"  [{'ok' if ok else 'MISS'}] {label}: {detail}")


def print_targets(results: dict[int, dict[str, list[Run]]]) -> None:
    big, small = max(results), min(results)
    r = results[big]
    print(f"\ntargets at {big:,} rows")
    ours = median_time(r["profile"])
    if "read_table" in r:
        ratio = ours / median_time(r["read_table"])
        check("profile <= 3.0x read_table (goal 2.0x)", ratio <= 3.0, f"{ratio:.2f}x")
    if "duckdb" in r:
        speed = median_time(r["duckdb"]) / ours
        check("profile >= 2x faster than DuckDB SUMMARIZE", speed >= 2.0, f"{speed:.2f}x faster")
    if "pandas" in r:
        speed = median_time(r["pandas"]) / ours
        check("profile >= 5x faster than pandas", speed >= 5.0, f"{speed:.2f}x faster")
    peak = median_peak(r["profile"])
    check("profile peak <= 1 GiB", peak <= 1024, f"{peak:.0f} MiB")
    if small != big:
        growth = peak / median_peak(results[small]["profile"])
        check(f"profile peak <= 1.5x its peak at {small:,} rows", growth <= 1.5, f"{growth:.2f}x")


def print_tails(path: Path, rows: int) -> None:
    errors = tail_errors(path)
    print(f"\ntail quantiles at {rows:,} rows: normalised rank error of the 0.1% and 99.9% quantiles")
    worst = 0.0
    for name, (low, high, bound) in errors.items():
        worst = max(worst, low, high)
        print(f"  {name:<16}{low:10.6f}{high:10.6f}   stated bound {bound:.6f}")
    check(f"every tail within {TAIL_TOLERANCE}", worst <= TAIL_TOLERANCE, f"worst {worst:.6f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "drift-monitor-bench")
    parser.add_argument("--seed", type=int, default=20240)
    parser.add_argument("--skip", nargs="*", default=[], choices=TOOLS[1:], help="tools not to run")
    parser.add_argument("--no-tails", action="store_true", help="skip the tail accuracy check")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    tools = [t for t in TOOLS if t not in args.skip]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
    results = {}
    for rows in args.rows:
        path = dataset(args.dir, rows, args.seed)
        print(f"{rows:,} rows: {path}", flush=True)
        results[rows] = bench_size(path, tools, args.reps)
    for rows, runs in results.items():
        print_table(rows, runs)
    print_targets(results)
    if not args.no_tails:
        print_tails(dataset(args.dir, max(args.rows), args.seed), max(args.rows))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "_run":
        run_tool(sys.argv[2], sys.argv[3])
    else:
        main()
