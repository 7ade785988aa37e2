"""Benchmark: profiling the seeded 20-column mixed table as Parquet, CSV, gzip
CSV and JSON Lines against reading the same file with pyarrow (and, for
Parquet, pandas and DuckDB), and the tail accuracy of the profile's quantiles.

Usage (from the repository root)::

    python bench/profile_bench.py                      # Parquet at 1M and 10M rows, text at 1M; 3 runs each
    python bench/profile_bench.py --rows 1000000 --reps 1 --skip pandas duckdb
    python bench/profile_bench.py --formats csv --text-rows 1000000 --reps 2
    python bench/profile_bench.py --formats --big-csv 3  # only: a 3 GiB CSV, its peak memory

Each tool runs as a whole process (interpreter start and imports included), the
tools interleaved, ``--reps`` times; the figures are medians. Times (wall and
CPU: user + system of the process and its children) come from runs with nothing
else sampling the process. Peak memory comes from a second run of each tool:
the highest total proportional set size (PSS, from ``/proc/<pid>/smaps_rollup``)
of the process and its children, sampled every 10 ms, so worker processes count
and shared library pages count once.
Each measured process also reports the CPU it spent before its
work began (interpreter start and imports: about 0.2 s for pyarrow's readers,
0.6-0.9 s for the profile, whose numpy, pandas, DataSketches and own modules
pyarrow's readers do not load); the tables print the work's CPU alone beside
the whole process's.

Tools, per format of the same generated rows:

- Parquet: ``profile`` (``profile_source(FileSource((path,)))``, the ad-hoc
  profile); ``read_table`` (``pyarrow.parquet.read_table``, the wall-time
  floor); ``decode`` (every column decoded by ``ParquetFile.iter_batches``, the
  streaming decode: the CPU-time floor); ``pandas`` (``read_parquet``,
  ``describe(include="all")`` plus the nine profile quantiles); ``duckdb``
  (``SUMMARIZE``);
- CSV (``.csv``, and ``.csv.gz``: decompression in both): ``profile`` and
  ``read_csv`` (``pyarrow.csv.read_csv``, multithreaded, types inferred);
- JSON Lines: ``profile`` and ``read_json`` (``pyarrow.json.read_json``).

Targets: Parquet (at the largest size) profile at most 3.0x read_table, at
least 2x faster than DuckDB and 5x than pandas, CPU at most 1.25x the streaming
decode's, peak at most 1 GiB and 1.5x its peak at the smallest size; CSV, gzip
CSV and JSON Lines at most 1.5x pyarrow's reader in wall time; a ``--big-csv``
file profiled in under 1 GiB; the 0.1% and 99.9% quantiles of every numeric
column within 0.0005 normalised rank.
"""

from __future__ import annotations

import argparse
import os
import resource
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

from proctree import children, pss_kib  # noqa: E402 - bench/ is on the path from here

FORMATS = {
    "parquet": ("profile", "read_table", "decode", "pandas", "duckdb"),
    "csv": ("profile", "read_csv"),
    "csv.gz": ("profile", "read_csv"),
    "jsonl": ("profile", "read_json"),
}
FLOORS = {"parquet": "read_table", "csv": "read_csv", "csv.gz": "read_csv", "jsonl": "read_json"}
RANKS = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)
TAIL_TOLERANCE = 5e-4
TEXT_TARGET = 1.5
DECODE_CPU_TARGET = 1.25
GIB = 1024.0
STARTED = "started:"

# ---------------------------------------------------------------------------
# the measured programs (run in a child process: ``profile_bench.py _run TOOL PATH``)


def _started() -> None:
    """Tell the measuring process that start-up and imports are over: this
    process's CPU seconds so far and the wall clock (``time.time``), on stderr."""
    cpu = os.times()
    print(f"{STARTED} {cpu.user + cpu.system:.6f} {time.time():.6f}", file=sys.stderr, flush=True)


def run_tool(tool: str, path: str) -> None:
    """Do one tool's work on ``path`` (the body of a measured process)."""
    if tool == "profile":
        from monitor.profile import profile_source
        from monitor.sources.files import FileSource

        _started()
        prof = profile_source(FileSource((path,)), progress=False)
        print(prof.row_count, len(prof.columns))
    elif tool == "read_table":
        import pyarrow.parquet as pq

        _started()
        print(pq.read_table(path).num_rows)
    elif tool == "decode":
        import pyarrow.parquet as pq

        _started()
        print(sum(batch.num_rows for batch in pq.ParquetFile(path).iter_batches()))
    elif tool == "read_csv":
        import pyarrow.csv as pa_csv

        _started()
        print(pa_csv.read_csv(path).num_rows)
    elif tool == "read_json":
        import pyarrow.json as pa_json

        _started()
        print(pa_json.read_json(path).num_rows)
    elif tool == "pandas":
        import pandas as pd

        _started()
        df = pd.read_parquet(path)
        described = df.describe(include="all")
        quantiles = df.select_dtypes(include="number").quantile(list(RANKS))
        print(described.shape, quantiles.shape)
    elif tool == "duckdb":
        import duckdb

        _started()
        print(len(duckdb.sql(f"SUMMARIZE SELECT * FROM read_parquet('{path}')").fetchall()))
    else:
        raise SystemExit(f"unknown tool {tool!r}")


# ---------------------------------------------------------------------------
# measuring a process tree


def tree_pss_kib(root: int) -> int:
    """Total PSS (KiB) of a process and all its descendants."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += pss_kib(pid)
        stack += children(pid)
    return total


@dataclass
class Run:
    seconds: float
    cpu: float
    peak_mib: float
    startup_cpu: float = 0.0
    """CPU seconds before the tool's work began (interpreter start, imports)."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(tool: str, path: Path, sample_memory: bool = True) -> Run:
    """Run one tool as a fresh process; wall time, CPU time (user + system of
    the process and the children it waited for) and peak tree PSS.

    Sampling ``smaps_rollup`` every 10 ms costs CPU that the measured process
    would otherwise have (on 2 cores it slows a 2-worker profile by about 20%),
    so the timed runs are made without it (``sample_memory=False``, peak 0)
    and the memory runs apart.
    """
    peak = [0]
    cpu0 = _children_cpu()
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
    cpu = _children_cpu() - cpu0
    done.set()
    if sample_memory:
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed: {err.decode()[-2000:]}")
    marks = [line.split() for line in err.decode().splitlines() if line.startswith(STARTED)]
    return Run(seconds, cpu, peak[0] / 1024, float(marks[-1][1]) if marks else 0.0)


# ---------------------------------------------------------------------------
# accuracy of the tails


def tail_errors(path: Path) -> dict[str, tuple[float, float, float]]:
    """Per numeric column: normalised rank error of the profile's 0.1% and 99.9%
    quantiles (distance of the rank to the true rank interval), and the stated bound."""
    import numpy as np
    import pyarrow.parquet as pq

    from monitor.profile import NUMERIC_KINDS, finite_values, profile_source
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


def dataset(directory: Path, rows: int, seed: int, fmt: str = "parquet") -> Path:
    """The generated table of ``rows`` rows as ``fmt`` in ``directory`` (made when missing)."""
    from bench_data import generate, generate_csv, generate_jsonl

    path = directory / f"mixed_{rows}_{seed}.{fmt}"
    if not path.exists():
        print(f"generating {rows:,} rows -> {path}", flush=True)
        t0 = time.perf_counter()
        write = {"parquet": generate, "csv": generate_csv, "csv.gz": generate_csv, "jsonl": generate_jsonl}[fmt]
        write(path, rows, seed)
        print(f"  done in {time.perf_counter() - t0:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)", flush=True)
    return path


def bench_size(path: Path, tools: list[str], reps: int) -> dict[str, list[Run]]:
    """``reps`` rounds of every tool: a timed run (no sampling), then a memory run
    (sampled); each :class:`Run` pairs the timed run's seconds and CPU with the
    sampled peak."""
    runs: dict[str, list[Run]] = {t: [] for t in tools}
    for rep in range(reps):
        for tool in tools:
            timed = measure(tool, path, sample_memory=False)
            peak = measure(tool, path, sample_memory=True).peak_mib
            runs[tool].append(Run(timed.seconds, timed.cpu, peak, timed.startup_cpu))
            print(f"  run {rep + 1}/{reps} {tool:<10} {timed.seconds:7.2f} s {timed.cpu:7.2f} s CPU "
                  f"{peak:8.0f} MiB", flush=True)
    return runs


def median_time(runs: list[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


def median_cpu(runs: list[Run]) -> float:
    return statistics.median(r.cpu for r in runs)


def median_peak(runs: list[Run]) -> float:
    return statistics.median(r.peak_mib for r in runs)


def median_work_cpu(runs: list[Run]) -> float:
    """CPU seconds after start-up and imports (the tool's work alone)."""
    return statistics.median(r.cpu - r.startup_cpu for r in runs)


def print_table(fmt: str, rows: int, runs: dict[str, list[Run]]) -> None:
    floor = runs.get(FLOORS[fmt])
    wall = median_time(floor) if floor else float("nan")
    cpu = median_cpu(floor) if floor else float("nan")
    work = median_work_cpu(floor) if floor else float("nan")
    print(f"\n{fmt}, {rows:,} rows: median of {len(next(iter(runs.values())))} (whole processes; "
          "work CPU: after start-up and imports)")
    print(f"  {'tool':<12}{'time s':>9}{'x floor':>9}{'CPU s':>9}{'x floor':>9}{'start CPU':>10}"
          f"{'work CPU':>9}{'x floor':>9}{'peak MiB':>10}   runs (s)")
    for tool, rs in runs.items():
        times = ", ".join(f"{r.seconds:.2f}" for r in rs)
        start = statistics.median(r.startup_cpu for r in rs)
        print(f"  {tool:<12}{median_time(rs):9.2f}{median_time(rs) / wall:9.2f}{median_cpu(rs):9.2f}"
              f"{median_cpu(rs) / cpu:9.2f}{start:10.2f}{median_work_cpu(rs):9.2f}{median_work_cpu(rs) / work:9.2f}"
              f"{median_peak(rs):10.0f}   {times}")


def check(label: str, ok: bool, detail: str) -> None:
    print(f"  [{'ok' if ok else 'MISS'}] {label}: {detail}")


def print_parquet_targets(results: dict[int, dict[str, list[Run]]]) -> None:
    big, small = max(results), min(results)
    r = results[big]
    print(f"\nParquet targets at {big:,} rows")
    ours = median_time(r["profile"])
    if "read_table" in r:
        ratio = ours / median_time(r["read_table"])
        check("profile <= 3.0x read_table (goal 2.0x)", ratio <= 3.0, f"{ratio:.2f}x")
    if "decode" in r:
        for rows in sorted(results):
            ratio = median_cpu(results[rows]["profile"]) / median_cpu(results[rows]["decode"])
            work = median_work_cpu(results[rows]["profile"]) / median_work_cpu(results[rows]["decode"])
            check(f"profile CPU <= {DECODE_CPU_TARGET}x the streaming decode's at {rows:,} rows",
                  ratio <= DECODE_CPU_TARGET, f"{ratio:.2f}x (after start-up and imports: {work:.2f}x)")
    if "duckdb" in r:
        speed = median_time(r["duckdb"]) / ours
        check("profile >= 2x faster than DuckDB SUMMARIZE", speed >= 2.0, f"{speed:.2f}x faster")
    if "pandas" in r:
        speed = median_time(r["pandas"]) / ours
        check("profile >= 5x faster than pandas", speed >= 5.0, f"{speed:.2f}x faster")
    peak = median_peak(r["profile"])
    check("profile peak <= 1 GiB", peak <= GIB, f"{peak:.0f} MiB")
    if small != big:
        growth = peak / median_peak(results[small]["profile"])
        check(f"profile peak <= 1.5x its peak at {small:,} rows", growth <= 1.5, f"{growth:.2f}x")


def print_text_targets(fmt: str, results: dict[int, dict[str, list[Run]]]) -> None:
    floor = FLOORS[fmt]
    print(f"\n{fmt} targets")
    for rows, r in sorted(results.items()):
        wall = median_time(r["profile"]) / median_time(r[floor])
        cpu = median_cpu(r["profile"]) / median_cpu(r[floor])
        work = median_work_cpu(r["profile"]) / median_work_cpu(r[floor])
        check(f"profile <= {TEXT_TARGET}x {floor} at {rows:,} rows", wall <= TEXT_TARGET,
              f"{wall:.2f}x wall, {cpu:.2f}x CPU, {work:.2f}x CPU after start-up and imports; peak {median_peak(r['profile']):.0f} MiB "
              f"({floor}: {median_peak(r[floor]):.0f} MiB)")


def print_tails(path: Path, rows: int) -> None:
    errors = tail_errors(path)
    print(f"\ntail quantiles at {rows:,} rows: normalised rank error of the 0.1% and 99.9% quantiles")
    worst = 0.0
    for name, (low, high, bound) in errors.items():
        worst = max(worst, low, high)
        print(f"  {name:<16}{low:10.6f}{high:10.6f}   stated bound {bound:.6f}")
    check(f"every tail within {TAIL_TOLERANCE}", worst <= TAIL_TOLERANCE, f"worst {worst:.6f}")


def big_csv(directory: Path, gib: float, seed: int, keep: bool) -> None:
    """Generate a CSV of about ``gib`` GiB, profile it once sampling memory, and
    delete it (unless ``keep``)."""
    from bench_data import generate_csv

    rows = int(gib * 2**30 / 263)  # about 263 bytes a row
    path = directory / f"big_{rows}_{seed}.csv"
    if not path.exists():
        print(f"generating {rows:,} rows -> {path}", flush=True)
        generate_csv(path, rows, seed)
    size = path.stat().st_size / 2**30
    try:
        run = measure("profile", path, sample_memory=True)
    finally:
        if not keep:
            path.unlink()
    print(f"\nbig CSV: {size:.2f} GiB, {rows:,} rows: profile {run.seconds:.1f} s, {run.cpu:.1f} s CPU, "
          f"peak {run.peak_mib:.0f} MiB")
    check("a CSV of 3 GiB profiled in under 1 GiB", run.peak_mib < GIB, f"{run.peak_mib:.0f} MiB for {size:.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000], help="Parquet sizes")
    parser.add_argument("--text-rows", type=int, nargs="+", default=[1_000_000], help="CSV and JSON Lines sizes")
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=list(FORMATS))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "drift-monitor-bench")
    parser.add_argument("--seed", type=int, default=20240)
    parser.add_argument("--skip", nargs="*", default=[], choices=["read_table", "decode", "pandas", "duckdb"],
                        help="Parquet tools not to run")
    parser.add_argument("--no-tails", action="store_true", help="skip the tail accuracy check")
    parser.add_argument("--big-csv", type=float, default=0.0, metavar="GIB",
                        help="also profile a generated CSV of this many GiB for its peak memory (then deleted)")
    parser.add_argument("--keep", action="store_true", help="keep the --big-csv file")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
    results: dict[str, dict[int, dict[str, list[Run]]]] = {}
    for fmt in args.formats:
        tools = [t for t in FORMATS[fmt] if t not in args.skip]
        for rows in args.rows if fmt == "parquet" else args.text_rows:
            path = dataset(args.dir, rows, args.seed, fmt)
            print(f"{fmt}, {rows:,} rows: {path}", flush=True)
            results.setdefault(fmt, {})[rows] = bench_size(path, tools, args.reps)
    for fmt, sizes in results.items():
        for rows, runs in sizes.items():
            print_table(fmt, rows, runs)
    for fmt, sizes in results.items():
        if fmt == "parquet":
            print_parquet_targets(sizes)
        else:
            print_text_targets(fmt, sizes)
    if "parquet" in results and not args.no_tails:
        print_tails(dataset(args.dir, max(args.rows), args.seed), max(args.rows))
    if args.big_csv:
        big_csv(args.dir, args.big_csv, args.seed, args.keep)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "_run":
        run_tool(sys.argv[2], sys.argv[3])
    else:
        main()
