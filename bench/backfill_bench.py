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

and the ratios measured in the same run. Run: ``python bench/backfill_bench.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
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

if __name__ == "__main__":
    main()
