"""Benchmark: a snapshot through the service against the ad-hoc profile.

Usage (from the repository root)::

    python bench/service_bench.py                 # 10M rows, 3 runs each
    python bench/service_bench.py --rows 1000000

Both run as whole processes through the ``drift-monitor`` command line, on the
same seeded 20-column Parquet file as ``bench/profile_bench.py``:

- ``profile``: ``drift-monitor profile FILE --format json`` (profile only);
- ``snapshot``: ``drift-monitor snapshot create DATASET -c CONFIG`` (register the
  dataset, profile, serialise and store the snapshot in SQLite).

Target: the snapshot at most 1.2x the ad-hoc profile time (medians).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
CLI = [sys.executable, "-m", "monitor"]


def timed(cmd: list[str]) -> float:
    """Wall seconds of one command run as a fresh process (output discarded)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def snapshot_cmd(path: Path, work: Path, rep: int) -> list[str]:
    """A fresh store per run, so every run stores one new snapshot."""
    store = work / f"store-{rep}"
    shutil.rmtree(store, ignore_errors=True)
    config = work / f"bench-{rep}.yaml"
    config.write_text(f"store: {store}/monitor.db\ndatasets:\n  bench:\n    path: {path}\n")
    return [*CLI, "snapshot", "create", "bench", "-c", str(config)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "drift-monitor-bench")
    parser.add_argument("--seed", type=int, default=20240)
    args = parser.parse_args()
    from profile_bench import dataset

    args.dir.mkdir(parents=True, exist_ok=True)
    path = dataset(args.dir, args.rows, args.seed)
    times: dict[str, list[float]] = {"profile": [], "snapshot": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            times["profile"].append(timed([*CLI, "profile", str(path), "--format", "json"]))
            times["snapshot"].append(timed(snapshot_cmd(path, Path(tmp), rep)))
            print(f"  run {rep + 1}/{args.reps}: profile {times['profile'][-1]:.2f} s, "
                  f"snapshot {times['snapshot'][-1]:.2f} s", flush=True)
    prof, snap = statistics.median(times["profile"]), statistics.median(times["snapshot"])
    ratio = snap / prof
    print(f"{args.rows:,} rows: ad-hoc profile {prof:.2f} s, service snapshot {snap:.2f} s (medians of {args.reps})")
    print(f"[{'ok' if ratio <= 1.2 else 'MISSED'}] snapshot / profile = {ratio:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
