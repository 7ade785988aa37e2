"""Scale benchmark: a partitioned Parquet dataset larger than the memory the
profile may use, profiled by the local engine and on Dask with 1 and 2 workers.

Usage (from the repository root)::

    python bench/scale_bench.py                   # 100M rows (about 9 GB) in /tmp, deleted afterwards
    python bench/scale_bench.py --rows 10000000   # 10M rows: the Dask overhead against local

It generates (seeded) ``--rows`` rows of the 20-column table of
``bench/bench_data.py`` (8 float with nulls, 4 integer, 4 categorical strings
of 5 to 20,000 values, 2 boolean, 1 UTC timestamp, 1 short free text) as
Parquet files of ``--rows-per-file`` rows (one row group each) in ``--dir``
(it first checks the free space), then profiles the folder, each run a fresh
process:

- ``local``: :func:`monitor.profile.profile_source`, the local engine (one
  worker process per CPU);
- ``dask-1``, ``dask-2``: :meth:`monitor.profile.dask_engine.DaskSession.accumulate`
  (what ``engine: dask`` runs) on a ``LocalCluster`` of 1 and 2 worker
  processes started by the run, then the profile finished as ``profile_source`` does.

For each it prints the wall time of the profile (the cluster's start apart),
the wall and CPU seconds of the whole run (every process, start and imports
included: CPU time says less about other work on the machine than wall time),
rows/s, the peak memory (PSS from ``/proc/PID/smaps_rollup``, sampled every
``--sample-ms``) of every process of the run and of all of them together, and
for Dask the merge cost: units, bytes of the partial profiles (each unit's,
and what reached the client), seconds the workers spent merging partials and
seconds the client spent merging the last ones. Then the ratios measured in
the same run: Dask with 2 workers against 1 (speed-up) and against local
(overhead); whether the local engine stayed within 1 GiB; the size of one
unit's partial profile by column kind; and the quantile and distinct-count
errors after merging N partials of ``--sketch-values`` values (N = 1, 10,
100, 1000) against the stated bounds. The dataset is deleted at the end unless
``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from proctree import children, pss_kib  # noqa: E402 - bench/ is on the path from here

BYTES_PER_ROW = 100.0
"""On-disk bytes per row of the table, rounded up (about 90 measured), for the space check."""
LOCAL_LIMIT_MIB = 1024.0
ENGINES = ("local", "dask-1", "dask-2")


# ---------------------------------------------------------------------------
# the dataset


def _write_file(args: tuple[Path, int, int, int, int]) -> int:
    """Write one partition (a process of the generating pool). :returns: its bytes."""
    import numpy as np
    import pyarrow.parquet as pq

    from bench_data import chunk

    path, index, rows, offset, seed = args
    table = chunk(np.random.default_rng([seed, index]), rows, offset)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, row_group_size=rows)
    tmp.replace(path)
    return path.stat().st_size


def generate(folder: Path, rows: int, per_file: int, seed: int, jobs: int) -> tuple[int, int, float]:
    """Write ``rows`` rows as files of ``per_file`` rows. :returns: files, bytes, seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [(folder / f"part-{i:05d}.parquet", i, min(per_file, rows - off), off, seed)
             for i, off in enumerate(range(0, rows, per_file))]
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        sizes = list(pool.map(_write_file, parts))
    return len(parts), sum(sizes), time.perf_counter() - start


# ---------------------------------------------------------------------------
# the measured programs (``scale_bench.py _run ENGINE FOLDER``, a child process)


def run_engine(engine: str, folder: str) -> dict[str, object]:
    """Profile ``folder`` with ``engine``; what the parent prints."""
    from monitor.profile import finish_profile, profile_source
    from monitor.profile.dask_engine import DaskSession, DaskSettings
    from monitor.profile.numeric import DEFAULT_K
    from monitor.profile.sketches import DEFAULT_CATEGORY_CAP
    from monitor.sources.files import FileSource

    source = FileSource((folder,))
    if engine == "local":
        start = time.perf_counter()
        profile = profile_source(source, progress=False)
        return {"seconds": time.perf_counter() - start, "rows": profile.row_count, "columns": len(profile.columns)}
    workers = int(engine.split("-")[1])
    with DaskSession(DaskSettings(workers=workers)) as session:
        start = time.perf_counter()
        state, order, stats = session.accumulate(source, source.files(), {}, k=DEFAULT_K,
                                                 category_cap=DEFAULT_CATEGORY_CAP, progress=False)
        profile = finish_profile(state, order)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": profile.row_count, "columns": len(profile.columns),
            "stats": stats.__dict__}


# ---------------------------------------------------------------------------
# measuring a process tree


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "main (client, scheduler)"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"
    if "resource_tracker" in cmd:
        return "resource tracker"
    if "forkserver" in cmd:
        return "fork server"
    if "spawn_main" in cmd:
        return "dask worker"
    return "worker"


@dataclass
class Measured:
    """One run: what the child printed, and the peak PSS (MiB) of each process and of all together."""

    engine: str
    result: dict[str, object]
    wall: float
    cpu: float = 0.0
    """CPU seconds (user + system) of the process and every descendant it waited for."""
    peaks: dict[int, tuple[str, float]] = field(default_factory=dict)
    total_peak: float = 0.0


def measure(engine: str, folder: Path, sample_ms: float) -> Measured:
    """Run one engine in a fresh process, sampling the memory of its process tree."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "_run", engine, str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = Measured(engine, {}, 0.0)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total, stack = 0, [proc.pid]
            while stack:
                pid = stack.pop()
                pss = pss_kib(pid) / 1024
                total += pss
                role, peak = out.peaks.get(pid) or (_role(pid, proc.pid), 0.0)
                out.peaks[pid] = (role, max(peak, pss))
                stack += children(pid)
            out.total_peak = max(out.total_peak, total)
            time.sleep(sample_ms / 1000)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    out.wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} failed: {stderr.decode()[-3000:]}")
    out.result = json.loads(stdout.decode().strip().splitlines()[-1])
    return out


# ---------------------------------------------------------------------------
# partial sizes and sketch errors


def partial_sizes(path: Path) -> list[tuple[str, str, int]]:
    """(column, kind, pickled bytes) of each column of one file's partial profile."""
    from monitor.profile.accumulators import ProfileState
    from monitor.profile.parallel import resolve_specs, run_task
    from monitor.sources.files import FileSource

    source = FileSource((str(path),))
    specs, _ = resolve_specs(source, [path], {})
    state = ProfileState(specs)
    for task in source.plan([path]):
        run_task(state, task)
    return [(n, acc.spec.kind, len(pickle.dumps(acc, protocol=pickle.HIGHEST_PROTOCOL)))
            for n, acc in state.columns.items()]


def sketch_errors(values_n: int, parts: tuple[int, ...] = (1, 10, 100, 1000)) -> list[tuple[int, ...]]:
    """For each N: the largest normalised rank error of the nine quantiles of a
    lognormal sample merged from N partial summaries, its stated bound, and the
    relative error of the distinct count (about half the values distinct)
    merged from N partial theta sketches, and its stated standard error."""
    import numpy as np

    from monitor.profile import QUANTILE_RANKS, DistinctSketch, NumericSummary, theta_hash_floats

    rng = np.random.default_rng(7)
    values = rng.lognormal(2.0, 1.0, values_n)
    ids = rng.integers(0, values_n, values_n).astype(np.float64)
    exact_sorted, true_distinct = np.sort(values), np.unique(ids).size
    ranks = np.array(QUANTILE_RANKS)
    out = []
    for n in parts:
        merged, sketch = None, DistinctSketch()
        for piece, id_piece in zip(np.array_split(values, n), np.array_split(ids, n)):
            part = NumericSummary()
            part.update(piece)
            merged = part if merged is None else merged.merge(part)
            one = DistinctSketch()
            one.update_hashes(theta_hash_floats(id_piece), counted=False)
            sketch = sketch.merge(one)
        assert merged is not None
        q = merged.quantiles(ranks)
        lo = np.searchsorted(exact_sorted, q, side="left") / values_n
        hi = np.searchsorted(exact_sorted, q, side="right") / values_n
        rank_error = float(np.max(np.maximum(np.maximum(lo - ranks, ranks - hi), 0.0)))
        out.append((n, rank_error, merged.rank_error, abs(sketch.estimate / true_distinct - 1),
                    sketch.relative_error))
    return out


# ---------------------------------------------------------------------------
# the report


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def report(runs: dict[str, Measured], rows: int) -> None:
    print("\n| engine | profile (s) | process wall (s) | CPU (s) | rows/s | peak, all processes "
          "| peak of each process |")
    print("|---|---|---|---|---|---|---|")
    for engine, m in runs.items():
        seconds = float(m.result["seconds"])  # type: ignore[arg-type]
        each = ", ".join(f"{role} {peak:,.0f}" for role, peak in m.peaks.values() if peak > 1)
        print(f"| {engine} | {seconds:.1f} | {m.wall:.1f} | {m.cpu:.1f} | {rows / seconds / 1e6:.2f}M | "
              f"{m.total_peak:,.0f} MiB | {each} (MiB) |")
    print("\n| engine | units | partial per unit (mean, largest) | to the client | merge on workers (s) "
          "| merge on the client (s) | plan (s) | cluster start (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for engine, m in runs.items():
        s = m.result.get("stats")
        if not isinstance(s, dict):
            continue
        print(f"| {engine} | {s['units']} | {_mib(s['unit_bytes'] / max(s['units'], 1))}, "
              f"{_mib(s['largest_unit_bytes'])} | {_mib(s['client_bytes'])} | {s['worker_merge_seconds']:.2f} | "
              f"{s['client_merge_seconds']:.3f} | {s['plan_seconds']:.2f} | {s['start_seconds']:.1f} |")
    secs = {e: float(m.result["seconds"]) for e, m in runs.items()}  # type: ignore[arg-type]
    print()
    if "dask-1" in secs and "dask-2" in secs:
        print(f"Dask 2 workers vs 1: speed-up {secs['dask-1'] / secs['dask-2']:.2f}x")
    if "local" in secs and "dask-2" in secs:
        print(f"Dask 2 workers vs local: {secs['dask-2'] / secs['local']:.2f}x the time "
              f"(overhead {100 * (secs['dask-2'] / secs['local'] - 1):+.0f}%)")
    if "local" in runs:
        peak = runs["local"].total_peak
        verdict = "within" if peak <= LOCAL_LIMIT_MIB else "OVER"
        print(f"local engine peak {peak:,.0f} MiB: {verdict} {LOCAL_LIMIT_MIB:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--rows-per-file", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/drift-monitor-scale"))
    parser.add_argument("--seed", type=int, default=20240)
    parser.add_argument("--gen-jobs", type=int, default=2, help="processes generating the files")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated, of " + ", ".join(ENGINES) + " ('': only generate, with --keep)")
    parser.add_argument("--sample-ms", type=float, default=100.0, help="memory sampling period")
    parser.add_argument("--sketch-values", type=int, default=10_000_000, help="0: skip the sketch errors")
    parser.add_argument("--keep", action="store_true", help="keep the dataset")
    args = parser.parse_args()
    folder = args.dir / f"rows-{args.rows}-seed-{args.seed}"
    need = args.rows * BYTES_PER_ROW
    if not folder.exists():
        free = shutil.disk_usage(args.dir if args.dir.exists() else args.dir.parent).free
        if free < need * 1.1:
            raise SystemExit(f"{args.dir}: {free / 1e9:.1f} GB free, about {need / 1e9:.1f} GB needed; "
                             "use --rows or --dir")
        print(f"generating {args.rows:,} rows in {folder} ...", flush=True)
        files, size, seconds = generate(folder, args.rows, args.rows_per_file, args.seed, args.gen_jobs)
        print(f"  {files} files, {size / 1e9:.2f} GB, in {seconds:.0f} s", flush=True)
    size = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    print(f"dataset: {args.rows:,} rows x 20 columns, {len(list(folder.glob('*.parquet')))} files, "
          f"{size / 1e9:.2f} GB on disk ({size / 2**30:.2f} GiB); {os.cpu_count()} CPUs", flush=True)
    try:
        runs = {}
        for engine in [e for e in args.engines.split(",") if e]:
            print(f"running {engine} ...", flush=True)
            runs[engine] = measure(engine, folder, args.sample_ms)
            print(f"  {runs[engine].result}", flush=True)
        if runs:
            report(runs, args.rows)
        print("\npartial profile of one unit (one file of "
              f"{args.rows_per_file:,} rows), by column kind:")
        by_kind: dict[str, list[int]] = {}
        for _, kind, n in partial_sizes(sorted(folder.glob("*.parquet"))[0]):
            by_kind.setdefault(kind, []).append(n)
        for kind, sizes in sorted(by_kind.items()):
            print(f"  {kind}: {len(sizes)} column(s), {min(sizes) / 1024:,.1f} to {max(sizes) / 1024:,.1f} KiB")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if args.sketch_values:
        print(f"\nerrors after merging N partials ({args.sketch_values:,} values):")
        print("| N | quantile rank error (max of 9) | stated bound | distinct count error | stated s.e. |")
        print("|---|---|---|---|---|")
        for n, err, bound, derr, dse in sketch_errors(args.sketch_values):
            print(f"| {n} | {err:.6f} | {bound:.6f} | {derr:.4f} | {dse:.4f} |")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "_run":
        print(json.dumps(run_engine(sys.argv[2], sys.argv[3])))
    else:
        main()
