"""What one read for every window saves: the windowed pass of a backfill against
one read per window, on the NYC flights 2013 data (336,776 rows, every column),
in this process, in two layouts: ``monthly``, the 12 monthly Parquet files of the
example (a window's pass skips the files whose time statistics lie outside it),
and ``shuffled``, the same rows in random order in one file (no row group can be
skipped: every pass reads every row).

Prints, for weekly and daily windows of 2013 and each layout, the seconds of:

- ``one pass``: :func:`monitor.service.windowed.profile_windows` over every
  window at once (what ``drift-monitor backfill`` does);
- ``a pass per window``: the same function called once per window, each call
  reading every file (what repeated single-window runs would cost);
- ``one pass, 2 jobs``: the same with ``jobs=2`` (two worker processes, each
  reading a run of consecutive files; the ``shuffled`` layout is one file, so
  one process reads it);
- ``whole dataset``: one profile of all rows (:func:`monitor.profile.profile_source`,
  one process), the floor;

and the ratios measured in the same run. Then, for ``--jobs``, a larger input:
``--rows`` (default 8,000,000) seeded rows of 12 numeric and 2 categorical
columns over 2023 in 8 monthly-ordered Parquet files, weekly windows, one pass
in one process against ``jobs=2``. Run: ``python bench/backfill_bench.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from monitor.config import DatasetConfig, WindowConfig
from monitor.example import prepare_flights
from monitor.profile import profile_source
from monitor.service.windowed import profile_windows
from monitor.service.windows import windows_between
from monitor.sources.files import FileSource


def seconds(func: object) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder of the flights files (default: a temporary one)")
    parser.add_argument("--rows", type=int, default=8_000_000, help="rows of the larger input for --jobs (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or Path(tmp) / "flights"
        if not any(folder.glob("*.parquet")):
            prepare_flights(folder)
        table = pq.read_table(sorted(folder.glob("*.parquet")))
        shuffled = Path(tmp) / "shuffled.parquet"
        pq.write_table(table.take(np.random.default_rng(0).permutation(table.num_rows)), shuffled,
                       row_group_size=64 * 1024)
        start, end = datetime(2013, 1, 1, tzinfo=timezone.utc), datetime(2014, 1, 1, tzinfo=timezone.utc)
        print("| layout | windows | count | one pass (s) | one pass, 2 jobs (s) | a pass per window (s) "
              "| per window / one pass | one pass / one whole profile | 1 job / 2 jobs |")
        print("|---|---|---|---|---|---|---|---|---|")
        for layout, path in (("monthly", folder), ("shuffled", shuffled)):
            ds = DatasetConfig(path=str(path), timestamp_column="time_hour")
            whole = seconds(lambda: profile_source(FileSource(ds.paths), workers=1, progress=False))
            for size in ("1w", "1d"):
                windows = windows_between(start, end, WindowConfig(size=size), ZoneInfo("UTC"))
                once = seconds(lambda: profile_windows(ds, windows))
                jobs = seconds(lambda: profile_windows(ds, windows, jobs=2))
                each = seconds(lambda: [profile_windows(ds, [w]) for w in windows])
                print(f"| {layout} | {size} | {len(windows)} | {once:.2f} | {jobs:.2f} | {each:.2f} "
                      f"| {each / once:.1f} | {once / whole:.2f} | {once / jobs:.2f} |")

    if args.rows:
        jobs_on_a_larger_input(args.rows)


def jobs_on_a_larger_input(rows: int) -> None:
    """One process against two on ``rows`` seeded rows in 8 files, weekly windows of 2023."""
    rng = np.random.default_rng(0)
    start = datetime(2023, 1, 1, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "big"
        folder.mkdir()
        per_file, span = rows // 8, 365 * 86_400 // 8
        for k in range(8):
            seconds_in = np.sort(rng.integers(k * span, (k + 1) * span, per_file))
            columns = {"time": pa.array(np.datetime64("2023-01-01") + seconds_in.astype("timedelta64[s]"))}
            columns |= {f"x{i}": rng.normal(i, 1 + i, per_file) for i in range(12)}
            columns |= {f"c{i}": pa.array(rng.choice([f"v{j}" for j in range(20)], per_file)).dictionary_encode()
                        for i in range(2)}
            pq.write_table(pa.table(columns), folder / f"part-{k}.parquet", row_group_size=256 * 1024)
        ds = DatasetConfig(path=str(folder), timestamp_column="time")
        windows = windows_between(start, datetime(2024, 1, 1, tzinfo=timezone.utc), WindowConfig(size="1w"),
                                  ZoneInfo("UTC"))
        one = seconds(lambda: profile_windows(ds, windows))
        two = seconds(lambda: profile_windows(ds, windows, jobs=2))
        size = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 1e6
        print(f"\n{rows:,} rows, 14 columns, {size:.0f} MB in 8 files, {len(windows)} weekly windows: "
              f"one process {one:.2f} s, jobs=2 {two:.2f} s, speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()
