"""What retention costs a run: :func:`monitor.service.retention.apply` after a
monitor's run, against the run itself, in this process.

A monitor (``baseline: previous``) runs on a Parquet file of 20,000 rows and
6 columns; its store then holds ``K`` snapshots of it (the same profile stored
``K`` times through the store's API, with times a day apart; the timed runs
add a few). Prints, for each
``K``, the median seconds of:

- ``run``: :func:`~monitor.service.runner.run_monitor` without retention (the
  baseline; it also reads the monitor's snapshots, as ``previous`` does);
- ``retention, nothing to remove``: :func:`~monitor.service.retention.apply`
  with ``keep_last`` at the store's count;
- ``retention, one to remove``: the same after one more snapshot, which
  removes the oldest (what every run pays once the store is at its size);
- ``prune half``: removing ``K / 2`` snapshots in one transaction
  (:meth:`~monitor.store.Store.prune`; a policy tightened, or ``prune`` run
  after a long time);

and their ratios to ``run``. Run: ``python bench/retention_bench.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.config import Config, parse_config
from monitor.service import retention
from monitor.service.runner import run_monitor
from monitor.store import Store

T0 = datetime(2030, 1, 1, 6, tzinfo=timezone.utc)


def median_seconds(func: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_config(folder: Path, keep_last: int | None) -> Config:
    rng = np.random.default_rng(0)
    rows = 20_000
    pd.DataFrame({f"x{i}": rng.normal(i, 1, rows) for i in range(4)}
                 | {"c": rng.choice(list("abcdef"), rows), "n": rng.integers(0, 1000, rows)}
                 ).to_parquet(folder / "data.parquet", index=False)
    monitor: dict[str, Any] = {"dataset": "d", "schedule": {"every": "1d"}, "baseline": "previous"}
    if keep_last is not None:
        monitor["retention"] = {"keep_last": keep_last}
    return parse_config({"store": "store/monitor.db", "reports_dir": "reports",
                         "datasets": {"d": {"path": "data.parquet"}}, "monitors": {"m": monitor}}, folder)


def fill(store: Store, count: int, start: int = 0) -> None:
    """``count`` more completed snapshots of monitor m, a day apart from day
    ``start + 1`` on, with the profile of its first snapshot."""
    (first,) = store.list_snapshots("d", monitor="m")[:1]
    meta, columns = store.load_profile(first.id)
    clock: Any = store._clock
    for i in range(start, start + count):
        clock.now = T0 + timedelta(days=i + 1)
        snap = store.begin_snapshot("d", f"s{i:06d}", monitor="m")
        store.complete_snapshot(snap.id, profile=meta, columns=columns, row_count=first.row_count or 0,
                                fingerprint="f")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'K':>6}  {'run s':>7}  {'nothing s':>9}  {'ratio':>6}  {'one s':>7}  {'ratio':>6}  "
          f"{'prune K/2 s':>11}  {'ratio':>7}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            plain = make_config(folder, None)
            clock = Clock()
            with Store(plain.store, clock=clock) as store:
                run_monitor(plain, "m", store)
                fill(store, size - 1)
                clock.now = T0 + timedelta(days=size + 1)
                run = median_seconds(lambda: run_monitor(plain, "m", store), args.repeat)
                kept = make_config(folder, len(store.list_snapshots("d", monitor="m")))
                assert not retention.plan(store, kept)  # the newest size are kept: nothing to remove
                keep = median_seconds(lambda: retention.apply(store, kept), args.repeat)
                one = []
                for r in range(args.repeat):
                    fill(store, 1, start=100_000 + r)  # newer than every other
                    one.append(median_seconds(lambda: retention.apply(store, kept), 1))
                half = [s.id for s in store.list_snapshots("d", monitor="m")][: size // 2]
                prune = median_seconds(lambda: store.prune(half), 1)
            step = statistics.median(one)
            print(f"{size:>6}  {run:>7.3f}  {keep:>9.4f}  {keep / run:>6.1%}  {step:>7.4f}  {step / run:>6.1%}  "
                  f"{prune:>11.4f}  {prune / run:>7.1%}")


if __name__ == "__main__":
    main()
