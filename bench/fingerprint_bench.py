"""Benchmark: what a ``content`` fingerprint costs a snapshot, against ``metadata``.

Usage (from the repository root)::

    python bench/fingerprint_bench.py                 # flights (Parquet, CSV) and a larger Parquet table
    python bench/fingerprint_bench.py --reps 5 --rows 4000000

For each dataset, in a temporary folder, over ``--reps`` repetitions (the two
kinds alternating which goes first), one snapshot through the real runner
(:func:`monitor.service.runner.take_snapshot`) with ``fingerprint: metadata``
(the baseline of the ratio: paths, sizes, modification times) and one with
``fingerprint: content``, both with the page cache warm (the files read just
before) and cold (each file's cached pages dropped first with
``posix_fadvise(DONTNEED)``, which needs no privilege). Also timed: hashing the
files alone (:func:`monitor.sources.digest.file_sha256`), warm and cold.

CSV files are hashed while the snapshot reads them (no second read); Parquet
files by a read of their own after the snapshot's pass (see
:mod:`monitor.sources.digest` for why), which the ``content / metadata``
ratio of the Parquet rows shows.

Datasets: the NYC flights of 2013 as its 12 monthly Parquet files, the same
rows as 12 CSV files, and a seeded Parquet table of ``--rows`` rows (8 numeric
and 2 text columns) in 4 files.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from monitor.config import DatasetConfig
from monitor.example import prepare_flights
from monitor.service.runner import take_snapshot
from monitor.sources.digest import file_sha256
from monitor.store import Store


def evict(files: list[Path]) -> None:
    """Drop the files' pages from the page cache (clean pages only; no privilege needed)."""
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm(files: list[Path]) -> None:
    for path in files:
        file_sha256(path)


def timed(setup: Callable[[], None], work: Callable[[], object]) -> float:
    setup()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def synthetic(folder: Path, rows: int) -> list[Path]:
    rng = np.random.default_rng(7)
    folder.mkdir()
    files = []
    for part in range(4):
        n = rows // 4
        columns = {f"x{i}": rng.normal(i, 1 + i, n) for i in range(8)}
        columns["city"] = rng.choice(np.array([f"city-{k}" for k in range(200)]), n)
        columns["code"] = np.char.add("c", rng.integers(0, 10**6, n).astype(str))
        path = folder / f"part-{part}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=256 * 1024)
        files.append(path)
    return files


def as_csv(files: list[Path], folder: Path) -> list[Path]:
    folder.mkdir()
    out = []
    for path in files:
        target = folder / path.with_suffix(".csv").name
        pa_csv.write_csv(pq.read_table(path), target)
        out.append(target)
    return out


def bench(name: str, files: list[Path], folder: Path, reps: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in ("metadata warm", "content warm", "metadata cold",
                                                     "content cold", "hash warm", "hash cold")}
    with Store(folder / f"{name}.db") as store:
        for rep in range(reps):
            kinds = ("metadata", "content") if rep % 2 == 0 else ("content", "metadata")
            for cache, setup in (("warm", lambda: warm(files)), ("cold", lambda: evict(files))):
                for kind in kinds:
                    ds = DatasetConfig(path=tuple(str(p) for p in files), fingerprint=kind)  # type: ignore[arg-type]
                    times[f"{kind} {cache}"].append(timed(setup, lambda: take_snapshot(store, name, ds)))
            times["hash warm"].append(timed(lambda: warm(files), lambda: [file_sha256(p) for p in files]))
            times["hash cold"].append(timed(lambda: evict(files), lambda: [file_sha256(p) for p in files]))
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fingerprint-bench-") as tmp:
        base = Path(tmp)
        flights = prepare_flights(base / "flights")
        datasets = {"flights-parquet": flights, "flights-csv": as_csv(flights, base / "flights-csv"),
                    f"synthetic-{args.rows // 1000}k-parquet": synthetic(base / "synthetic", args.rows)}
        print(f"{'dataset':<26}{'MB':>8}  {'cache':<6}{'metadata s':>11}{'content s':>11}{'content/metadata':>18}"
              f"{'hash alone s':>14}{'hash MB/s':>11}")
        for name, files in datasets.items():
            mb = sum(p.stat().st_size for p in files) / 1e6
            t = bench(name, files, base, args.reps)
            for cache in ("warm", "cold"):
                meta, content, hashed = t[f"metadata {cache}"], t[f"content {cache}"], t[f"hash {cache}"]
                print(f"{name:<26}{mb:>8.1f}  {cache:<6}{meta:>11.3f}{content:>11.3f}{content / meta:>18.3f}"
                      f"{hashed:>14.3f}{mb / hashed:>11.0f}")


if __name__ == "__main__":
    main()
