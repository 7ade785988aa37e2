"""Benchmark: vectors in ``.npy`` arrays beside a Parquet table, against the
same vectors stored as a ``fixed_size_list`` column of the table.

Usage (from the repository root)::

    python bench/arrays_bench.py                         # 500,000 rows, 64 float32 dimensions, 4 files
    python bench/arrays_bench.py --rows 2000000 --dim 128 --reps 5

Writes, in a temporary folder, a seeded table of ``--rows`` rows (3 numbers,
1 text column) in ``--files`` Parquet files of row groups of 100,000 rows,
twice: once with the vectors as a column (the baseline of the ratios), once
without them and with one ``.npy`` file per Parquet file beside it (the
``arrays`` key). Then profiles each (:func:`monitor.profile.profile_source`),
in one process and in ``--workers`` worker processes, ``--reps`` times, the
two layouts alternating which goes first, with the page cache warm (every
file read just before). Each profile in one process runs in a child process
of its own, whose peak resident memory (``ru_maxrss``) is printed too.

Prints, per mode, the median seconds of each layout and ``arrays / column``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from monitor.profile import profile_source
from monitor.sources.files import FileSource

ROW_GROUP = 100_000


def write(base: Path, rows: int, dim: int, parts: int) -> tuple[FileSource, FileSource]:
    """The two layouts of the same seeded rows: (vectors as a column, vectors beside)."""
    rng = np.random.default_rng(7)
    for sub in ("column", "table", "arrays"):
        (base / sub).mkdir()
    for k, n in enumerate(np.diff(np.linspace(0, rows, parts + 1).astype(int))):
        table = pa.table({"a": rng.normal(size=n), "b": rng.lognormal(size=n), "n": rng.integers(0, 1000, n),
                          "s": rng.choice(["red", "green", "blue", "cyan"], n)})
        v = rng.normal(size=(n, dim)).astype(np.float32)
        wide = table.append_column("emb", pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), dim))
        pq.write_table(wide, base / "column" / f"part-{k}.parquet", row_group_size=ROW_GROUP)
        pq.write_table(table, base / "table" / f"part-{k}.parquet", row_group_size=ROW_GROUP)
        np.save(base / "arrays" / f"part-{k}.npy", v)
    return (FileSource((str(base / "column"),)),
            FileSource((str(base / "table"),), arrays=(("emb", (str(base / "arrays"),)),)))


def warm(base: Path) -> None:
    for path in sorted(base.rglob("*.*")):
        with open(path, "rb") as f:
            while f.read(16 << 20):
                pass


def in_child(source: FileSource) -> tuple[float, int]:
    """Seconds and peak resident KiB of one profile in one process, in a forked child."""
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: profile, report the time, exit
        os.close(read)
        start = time.perf_counter()
        profile_source(source, workers=1, progress=False)
        os.write(write_end, f"{time.perf_counter() - start}".encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read) as pipe:
        seconds = float(pipe.read())
    _, _, usage = os.wait4(pid, 0)
    return seconds, int(usage.ru_maxrss)


def timed(source: FileSource, workers: int) -> float:
    start = time.perf_counter()
    profile_source(source, workers=workers, progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        column, beside = write(base, args.rows, args.dim, args.files)
        warm(base)
        one: dict[str, list[tuple[float, int]]] = {"column": [], "arrays": []}
        many: dict[str, list[float]] = {"column": [], "arrays": []}
        for rep in range(args.reps):
            order = [("column", column), ("arrays", beside)]
            for name, source in order if rep % 2 == 0 else order[::-1]:
                one[name].append(in_child(source))
                many[name].append(timed(source, args.workers))
        print(f"{args.rows:,} rows, {args.dim} float32 dimensions, {args.files} files, median of {args.reps}")
        col_s = statistics.median(s for s, _ in one["column"])
        arr_s = statistics.median(s for s, _ in one["arrays"])
        col_m = max(m for _, m in one["column"]) / 1024
        arr_m = max(m for _, m in one["arrays"]) / 1024
        print(f"  1 process : column {col_s:.2f} s ({col_m:.0f} MiB peak), arrays {arr_s:.2f} s "
              f"({arr_m:.0f} MiB peak), arrays / column {arr_s / col_s:.2f} (memory {arr_m / col_m:.2f})")
        col_w, arr_w = statistics.median(many["column"]), statistics.median(many["arrays"])
        print(f"  {args.workers} workers : column {col_w:.2f} s, arrays {arr_w:.2f} s, "
              f"arrays / column {arr_w / col_w:.2f}")


if __name__ == "__main__":
    main()
