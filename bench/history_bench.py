"""Benchmark: a monitor's history page after a year of daily runs.

Usage (from the repository root)::

    python bench/history_bench.py                  # 365 days, 30 columns
    python bench/history_bench.py --days 90 --keep /tmp/history-demo

Builds a real workspace in a temporary folder: a 30-column Parquet file
(20 numeric, 10 categorical; seeded) rewritten for each day, and one monitor
(baseline ``first``) run once a day through the real runner
(:func:`monitor.service.runner.run_monitor`) with the store's clock a day
further each run, so the store holds a year of daily comparisons, their reports
and their drift episodes. A few seeded events shift one to five columns for
three to ten days; one column drifts slowly all year.

The runner rewrites the history page after every run; to build the year in
reasonable time the bench skips that while it builds, then times, over
``--reps`` repetitions:

- ``read``: the monitor's comparisons, target snapshots and episodes from the
  store (:func:`monitor.service.history.history_runs`);
- ``build``: the page context (:func:`monitor.report.history_context`);
- ``render``: the HTML (:func:`monitor.report.render_history`);
- ``write``: :func:`monitor.service.history.write_history`, all of the above
  plus the atomic write: what each run pays.

Targets: rendering (``build`` + ``render``, medians) under 1 s and the page
under 2 MB. ``read`` is mostly decoding the stored result JSON (about 120 kB a
comparison here) and grows with the number of comparisons shown, which
:data:`monitor.service.history.HISTORY_RUNS` bounds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import yaml

from monitor import report
from monitor.config import load_config
from monitor.service import history, runner
from monitor.store import Store

T = TypeVar("T")
MONITOR = "bench-daily"
T0 = datetime(2024, 1, 1, 6, 0, tzinfo=timezone.utc)
NUMERIC = 20
CATEGORIES = ("a", "b", "c", "d", "e", "f")


def day_frame(rng: np.random.Generator, day: int, days: int, rows: int, columns: int,
              events: list[tuple[int, int, list[int], float]]) -> pd.DataFrame:
    """One day's data: ``columns`` columns, the first ``NUMERIC`` (or two thirds)
    numeric N(0, 1) plus shifts, the others categorical over six labels; events
    ``(start, length, columns, size)`` shift their columns by ``size`` standard
    deviations (numeric) or move ``size / 2`` of the mass to label ``f``."""
    numeric = min(NUMERIC, columns * 2 // 3)
    shift = np.zeros(columns)
    shift[1] = 0.6 * day / max(days - 1, 1)  # a slow drift all year
    for start, length, cols, size in events:
        if start <= day < start + length:
            shift[cols] += size
    data: dict[str, object] = {}
    for c in range(numeric):
        data[f"num_{c:02d}"] = rng.normal(shift[c], 1.0, rows)
    base = np.array([0.3, 0.25, 0.2, 0.12, 0.08, 0.05])
    for c in range(numeric, columns):
        moved = min(shift[c] / 2, 0.9)
        p = base * (1 - moved)
        p[-1] += moved
        data[f"cat_{c:02d}"] = np.array(CATEGORIES)[rng.choice(len(CATEGORIES), rows, p=p / p.sum())]
    return pd.DataFrame(data)


def seeded_events(rng: np.random.Generator, days: int, columns: int) -> list[tuple[int, int, list[int], float]]:
    """About one event per six weeks: a start day, a length of 3-10 days, 1-5 columns, a size 0.4-1.2."""
    count = max(1, days // 42)
    return [
        (int(rng.integers(1, max(days - 3, 2))), int(rng.integers(3, 11)),
         sorted(rng.choice(columns, int(rng.integers(1, 6)), replace=False).tolist()), float(rng.uniform(0.4, 1.2)))
        for _ in range(count)
    ]


def build(root: Path, days: int, columns: int, rows: int, seed: int) -> Path:
    """Run the monitor once a day for ``days`` days; returns the config path."""
    config_path = root / "monitors.yaml"
    config_path.write_text(yaml.safe_dump({
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"bench": {"path": "data/today.parquet"}},
        "monitors": {MONITOR: {"dataset": "bench", "schedule": {"every": "1d"}, "baseline": "first"}},
    }))
    (root / "data").mkdir(exist_ok=True)
    config = load_config(config_path)
    rng = np.random.default_rng(seed)
    events = seeded_events(rng, days, columns)
    clock = {"now": T0}
    skipped = history.refresh_history

    def skip(*args: Any, **kwargs: Any) -> None:
        return None

    history.refresh_history = skip  # the runner imports it when it runs
    try:
        with Store(config.store, clock=lambda: clock["now"]) as store:
            started = time.perf_counter()
            for day in range(days + 1):  # day 0 is the baseline
                clock["now"] = T0 + timedelta(days=day)
                day_frame(rng, day, days, rows, columns, events).to_parquet(root / "data" / "today.parquet")
                result = runner.run_monitor(config, MONITOR, store)
                if result.status != "completed":
                    raise SystemExit(f"day {day}: run failed: {result.reason}")
                if day and day % 60 == 0:
                    print(f"  built {day} days ({time.perf_counter() - started:.0f} s)")
    finally:
        history.refresh_history = skipped
    return config_path


def timed(reps: int, func: Callable[[], T]) -> tuple[float, T]:
    """Median wall seconds of ``reps`` calls of ``func`` and its last result."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def measure(config_path: Path, reps: int) -> None:
    """Time reading, building, rendering and writing the history page; print the figures."""
    config = load_config(config_path)
    reports = Path(config.reports_dir)
    with Store(config.store) as store:
        read, runs = timed(reps, lambda: history.history_runs(store, MONITOR))
        full, _ = timed(reps, lambda: store.list_comparisons(monitor=MONITOR))
        episodes = [report.HistoryEpisode(e.opened_at, e.resolved_at, e.severity, e.runs)
                    for e in store.list_episodes(MONITOR)]
        page_dir = report.history_path(reports, MONITOR).parent
        built, page = timed(reps, lambda: report.history_context(MONITOR, runs, episodes, page_dir=page_dir))
        rendered, html = timed(reps, lambda: report.render_history(page))
        written, path = timed(reps, lambda: history.write_history(store, reports, MONITOR))
    size = path.stat().st_size
    marks = sum(len(r.marks) for r in page.chart.runs) if page.chart else 0
    print(f"{len(runs):,} comparisons, {len(page.columns)} columns, {marks:,} points, "
          f"{len(episodes)} episodes, {sum(c.drifted_runs for c in page.columns):,} drifted column-runs")
    rendering = built + rendered
    print(f"store read of the summaries {read * 1000:.0f} ms against {full * 1000:.0f} ms for the full results "
          f"({full / max(read, 1e-9):.1f}x)")
    print(f"medians of {reps}: store read {read * 1000:.0f} ms, context {built * 1000:.0f} ms, "
          f"HTML {rendered * 1000:.0f} ms; write_history in total (read + context + HTML + write) "
          f"{written * 1000:.0f} ms")
    print(f"page {size / 1e6:.2f} MB ({size / max(marks, 1):.0f} bytes a point), "
          f"{html.count('<a href'):,} links, html {len(html):,} characters")
    print(f"[{'ok' if rendering < 1.0 else 'MISSED'}] history page rendered (context + HTML) in "
          f"{rendering:.2f} s (target < 1 s)")
    print(f"[{'ok' if size < 2e6 else 'MISSED'}] history page {size / 1e6:.2f} MB (target < 2 MB)")
    print(f"page: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--rows", type=int, default=1000, help="rows a day")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20240)
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        root, holder = args.keep, None
    else:
        holder = tempfile.TemporaryDirectory(prefix="history-bench-")
        root = Path(holder.name)
    try:
        start = time.perf_counter()
        config_path = build(root, args.days, args.columns, args.rows, args.seed)
        print(f"built {args.days} daily runs of {args.columns} columns in {time.perf_counter() - start:.0f} s")
        measure(config_path, args.reps)
    finally:
        if holder is not None:
            holder.cleanup()


if __name__ == "__main__":
    main()
