"""Benchmark: building and rendering a comparison report of many columns.

Usage (from the repository root)::

    python bench/report_bench.py                 # 50 columns (40 numeric, 10 categorical)
    python bench/report_bench.py --columns 200 --reps 20 --keep /tmp/report.html

Profiles two seeded tables of ``--columns`` columns (four fifths numeric:
gamma, normal, integer and datetime columns, some shifted, some with missing
values; one fifth categorical, 50 to 2,000 categories, Zipf-like), compares
them with the drift engine (:func:`monitor.drift.compare_profiles`), then
times, over ``--reps`` repetitions (medians):

- ``json``: ``json.dumps`` of the result, the baseline the other two are
  compared with (the cost of merely serialising what the report shows);
- ``build``: the page context (:func:`monitor.report.comparison_context`):
  reading the result, the findings, chart geometry;
- ``render``: the HTML (:func:`monitor.report.render_comparison`).

Prints the times, their ratios to ``json`` measured in the same run, and the
sizes of the result JSON and the page. Target for 50 columns: build + render
under 200 ms and the page under 1 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from monitor import report
from monitor.drift import compare_profiles
from monitor.profile import compute_profile

T = TypeVar("T")
ROWS = 50_000
BASELINE_AT = datetime(2024, 5, 1, 6, 0, tzinfo=timezone.utc)
TARGET_AT = datetime(2024, 6, 1, 6, 0, tzinfo=timezone.utc)


def column(rng: np.random.Generator, i: int, numeric: int, shift: float) -> pa.Array:
    """Column ``i``: numeric of four shapes for ``i < numeric``, else categorical."""
    if i < numeric:
        moved = shift * (i % 4 == 0)
        shape = i % 4
        if shape == 0:
            values = rng.gamma(2.0, 10.0 + 3 * moved, ROWS)
        elif shape == 1:
            values = rng.normal(moved, 1.0, ROWS)
        elif shape == 2:
            values = rng.integers(0, 500 + int(50 * moved), ROWS).astype(np.float64)
        else:
            start = 1.7e9 + moved * 86400 * 3
            return pa.array((start + rng.random(ROWS) * 86400 * 30).astype("int64") * 1_000_000).cast(
                pa.timestamp("us", tz="UTC"))
        gaps = rng.random(ROWS) < 0.02 + 0.03 * moved
        return pa.array(np.where(gaps, np.nan, values), from_pandas=True)
    categories = (50, 200, 2_000)[i % 3]
    weights = 1.0 / np.arange(1, categories + 1) ** (1.1 + 0.2 * shift * (i % 2))
    codes = rng.choice(categories, ROWS, p=weights / weights.sum())
    return pa.array([f"value_{c:04d}" for c in codes])


def table(seed: int, columns: int, shift: float) -> pa.RecordBatch:
    """A seeded batch of ``columns`` columns; ``shift`` moves a quarter of them."""
    rng = np.random.default_rng(seed)
    numeric = columns * 4 // 5
    return pa.record_batch({f"col_{i:03d}": column(rng, i, numeric, shift) for i in range(columns)})


def timed(fn: Callable[[], T], reps: int) -> tuple[float, T]:
    """Median wall time of ``fn`` over ``reps`` calls (seconds) and its last result."""
    times, out = [], None
    for _ in range(reps):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out  # type: ignore[return-value]


def main() -> None:
    """Run the benchmark and print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--keep", type=Path, default=None, help="also write the page here")
    args = parser.parse_args()

    start = time.perf_counter()
    profiles = [compute_profile([table(seed, args.columns, shift)]) for seed, shift in ((1, 0.0), (2, 1.0))]
    result: dict[str, Any] = compare_profiles(*profiles).to_dict()
    prepared = time.perf_counter() - start

    def build() -> report.ComparisonPage:
        return report.comparison_context(
            result, dataset="bench", monitor="bench-daily", baseline_name="2024-05-01",
            baseline_created=BASELINE_AT, target_name="2024-06-01", target_created=TARGET_AT)

    t_json, text = timed(lambda: json.dumps(result), args.reps)
    t_build, page = timed(build, args.reps)
    report.render_comparison(page)  # templates compiled once, as in a running service
    t_render, html = timed(lambda: report.render_comparison(page), args.reps)
    if args.keep:
        args.keep.write_text(html, encoding="utf-8")

    size = len(html.encode("utf-8"))
    drifted = sum(c["status"] == "drift" for c in result["columns"])
    print(f"{args.columns} columns ({drifted} drifted), profiles and comparison in {prepared:.1f} s; "
          f"medians of {args.reps} runs")
    print(f"{'step':<8} {'ms':>8} {'x json':>8}")
    for name, seconds in (("json", t_json), ("build", t_build), ("render", t_render),
                          ("total", t_build + t_render)):
        print(f"{name:<8} {seconds * 1000:8.1f} {seconds / t_json:8.1f}")
    print(f"result JSON {len(text) / 1024:.0f} kB; page {size / 1024:.0f} kB "
          f"({size / len(text):.1f}x the JSON); target: total < 200 ms, page < 1,000 kB")


if __name__ == "__main__":
    main()
