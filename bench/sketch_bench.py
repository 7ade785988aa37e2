"""Benchmark: the profile's hand-made sketch paths against the DataSketches
library's own, measured in the same run.

Usage (from the repository root)::

    python bench/sketch_bench.py                        # 1M rows, 3 runs
    python bench/sketch_bench.py --rows 10000000 --reps 3

On the benchmark table of ``bench/profile_bench.py`` (generated if missing):

1. **Numeric summaries** (CPU time per value, in-process): every float and wide
   integer column read in 524,288-row pieces, as the profile reads Parquet, into
   ``NumericSummary`` as it is (large batches binned, compacted and merged into the
   KLL sketch as hand-built images, ``monitor.profile.kll``) and with the library's
   own update instead (``kll_doubles_sketch.update(array)`` for every value).
   Also the normalised rank error of the 0.1% and 99.9% quantiles of each.
2. **Whole profile** (``profile_source``, whole processes, interleaved, medians):
   wall and CPU time, as it is and with the library's update patched in.
3. **Category counts** (the working counter of a string column, in-process): the
   Misra-Gries ``CategoryCounter`` of 10,000 counters against
   ``frequent_strings_sketch`` at ``lg_max_k`` 14 (12,288 counters, about the same)
   and 16 (the smallest whose a-priori error is below the counter's bound
   ``n / 10,001``): CPU time, error bound (for the library: the largest
   upper-minus-lower bound of its items, plus what the batches counted by hash left
   out, as for the counter), worst undercount and the most frequent value left
   out, against the exact counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PIECE = 1 << 19
NUMERIC = ("f_normal", "f_lognormal", "f_exponential", "f_uniform", "f_student_t", "f_bimodal", "f_price",
           "f_zero_inflated", "i_amount", "i_id")
COUNTERS = 10_000


def use_library_updates() -> None:
    """Patch :class:`NumericSummary` to feed the sketch through the library's own
    ``update(array)``: no binning, no hand-built images."""
    import numpy as np

    from monitor.profile import numeric

    def sketch_update(self: Any, values: Any, zeros: int = 0) -> None:
        self.kll.update(numeric._writable(values))

    def to_sketch(self: Any, vals: Any, cnts: Any) -> None:
        self.kll = numeric.new_kll(self.k)
        for i in range(0, vals.size, 256):
            self.kll.update(numeric._writable(np.repeat(vals[i:i + 256], cnts[i:i + 256])))
        self.values = self.counts = None

    numeric.NumericSummary._sketch_update = sketch_update  # type: ignore[method-assign]
    numeric.NumericSummary._to_sketch = to_sketch  # type: ignore[method-assign]


def run_profile(path: str, mode: str) -> None:
    """The body of a measured process: profile ``path`` with ``mode``'s sketch updates."""
    if mode == "library":
        use_library_updates()
    from monitor.profile import profile_source
    from monitor.sources.files import FileSource

    print(profile_source(FileSource((path,)), progress=False).row_count)


def numeric_pieces(path: Path) -> dict[str, list[Any]]:
    import numpy as np
    import pyarrow.parquet as pq

    out: dict[str, list[Any]] = {}
    for name in NUMERIC:
        pieces = []
        for batch in pq.ParquetFile(path).iter_batches(batch_size=PIECE, columns=[name]):
            col = batch.column(0).drop_null()
            pieces.append(np.array(col.to_numpy(zero_copy_only=False), dtype=np.float64))
        out[name] = pieces
    return out


def tail_error(summary: Any, values: Any) -> float:
    import numpy as np

    q = summary.quantiles([0.001, 0.999])
    lo = np.searchsorted(values, q, side="left") / values.size
    hi = np.searchsorted(values, q, side="right") / values.size
    ranks = np.array([0.001, 0.999])
    return float(np.max(np.maximum(lo - ranks, ranks - hi).clip(0.0)))


def bench_numeric(path: Path, reps: int) -> None:
    import numpy as np

    from monitor.profile import NumericSummary

    pieces = numeric_pieces(path)
    n_values = sum(p.size for ps in pieces.values() for p in ps)
    times: dict[str, list[float]] = {"hand-built": [], "library": []}
    errors: dict[str, float] = {}
    original = (NumericSummary._sketch_update, NumericSummary._to_sketch)
    for _ in range(reps):
        for mode in times:
            if mode == "library":
                use_library_updates()
            spent, worst = 0.0, 0.0
            for name, ps in pieces.items():
                summary = NumericSummary()
                start = time.process_time()
                for p in ps:
                    summary.update(p.copy(), integral=name.startswith("i_"))
                spent += time.process_time() - start
                worst = max(worst, tail_error(summary, np.sort(np.concatenate(ps))))
            times[mode].append(spent)
            errors[mode] = worst
            NumericSummary._sketch_update, NumericSummary._to_sketch = original  # type: ignore[method-assign]
    print(f"\n1. numeric summaries: {len(pieces)} columns, {n_values:,} values, {reps} runs (CPU)")
    for mode, spent in times.items():
        t = statistics.median(spent)
        print(f"  {mode:<11} {t:7.3f} s  {t / n_values * 1e9:6.1f} ns/value   "
              f"worst tail rank error {errors[mode]:.6f}")
    ratio = statistics.median(times["library"]) / statistics.median(times["hand-built"])
    print(f"  library / hand-built: {ratio:.2f}x")


def bench_profile(path: Path, reps: int) -> None:
    runs: dict[str, list[tuple[float, float]]] = {"hand-built": [], "library": []}
    for _ in range(reps):
        for mode in runs:
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, __file__, "_profile", str(path), mode],
                                    stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            if status:
                raise RuntimeError(f"profile ({mode}) failed with status {status}")
            runs[mode].append((time.perf_counter() - start, usage.ru_utime + usage.ru_stime))
    print(f"\n2. whole profile (profile_source, whole processes, median of {reps})")
    wall = {m: statistics.median(w for w, _ in r) for m, r in runs.items()}
    cpu = {m: statistics.median(c for _, c in r) for m, r in runs.items()}
    for mode in runs:
        print(f"  {mode:<11} wall {wall[mode]:6.2f} s   CPU {cpu[mode]:6.2f} s")
    print(f"  library / hand-built: wall {wall['library'] / wall['hand-built']:.2f}x, "
          f"CPU {cpu['library'] / cpu['hand-built']:.2f}x")


def bench_categories(path: Path) -> None:
    import datasketches
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from monitor.profile.accumulators import _frequent_by_hash, _label_counts, _many_distinct
    from monitor.profile.sketches import CategoryCounter, hash_strings

    print(f"\n3. category counts: the working counter ({COUNTERS:,} counters) against frequent_strings_sketch")
    for name in ("c_1000", "c_20000", "text"):
        inputs, exact = [], {}
        for batch in pq.ParquetFile(path).iter_batches(batch_size=PIECE, columns=[name]):
            arr = batch.column(0)
            found = None
            if _many_distinct(arr):
                valid = arr.is_valid().to_numpy(zero_copy_only=False)
                found = _frequent_by_hash(arr, hash_strings(arr.filter(pa.array(valid))), COUNTERS, valid)
            inputs.append(found if found is not None else (*_label_counts(arr), 0))
            vc = pc.value_counts(arr.drop_null())
            for label, count in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
                exact[label] = exact.get(label, 0) + count
        n = sum(exact.values())
        batch_cuts = sum(int(error) for _, _, error in inputs)  # counts the hashed batches left out, for both
        print(f"  {name}: {n:,} values, {len(exact):,} distinct; "
              f"bound n / {COUNTERS + 1:,} = {n / (COUNTERS + 1):,.0f}")

        start = time.process_time()
        counter = CategoryCounter(COUNTERS)
        for labels, counts, error in inputs:
            counter.add(labels, counts, error)
        spent = time.process_time() - start
        listed = dict(zip(counter.labels.to_pylist(), counter.counts.tolist()))
        report("CategoryCounter", spent, counter.error, listed, exact)

        for lg in (14, 16):
            start = time.process_time()
            sketch = datasketches.frequent_strings_sketch(lg)
            for labels, counts, _ in inputs:
                for label, count in zip(labels.to_pylist(), counts.tolist()):
                    sketch.update(label, int(count))
            spent = time.process_time() - start
            rows = sketch.get_frequent_items(datasketches.frequent_items_error_type.NO_FALSE_NEGATIVES)
            offset = max((upper - lower for _, _, lower, upper in rows), default=0)
            print(f"      (a priori error of lg_max_k={lg}: {sketch.get_epsilon_for_lg_size(lg) * n:,.0f})")
            report(f"frequent_strings({lg})", spent, offset + batch_cuts, {r[0]: r[2] for r in rows}, exact)


def report(label: str, spent: float, error: int, listed: dict[str, int], exact: dict[str, int]) -> None:
    under = max((exact[k] - v for k, v in listed.items()), default=0)
    missed = max((c for k, c in exact.items() if k not in listed), default=0)
    print(f"    {label:<22} {spent * 1e3:8.1f} ms CPU   error bound {error:>6,}   worst undercount {under:>6,}"
          f"   most frequent unlisted {missed:>6,}   listed {len(listed):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "drift-monitor-bench")
    parser.add_argument("--seed", type=int, default=20240)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    from profile_bench import dataset

    path = dataset(args.dir, args.rows, args.seed)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rows:,} rows: {path}", flush=True)
    bench_numeric(path, args.reps)
    bench_profile(path, args.reps)
    bench_categories(path)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "_profile":
        run_profile(sys.argv[2], sys.argv[3])
    else:
        main()
