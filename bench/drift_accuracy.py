"""Profile-mode drift metrics against exact mode on large synthetic data.

For each row count (default 1M and 10M per side) it builds a seeded baseline and
target table (no drift, a small shift, a shift and scale change, lognormal, counts,
heavy-tailed and a categorical column), computes the comparison from the two
profiles and from the data, and prints, per column and metric, both values and the
error against the tolerance the test suite holds at up to 100k rows:

- KS statistic within 0.01;
- PSI within 0.01 absolute or 5% relative;
- Wasserstein distance / baseline s.d. within 3% relative (0.01 absolute below 0.1);
- Jensen-Shannon distance within 0.01.

Exit status 1 when a figure is out of tolerance.

Example::

    .venv/bin/python bench/drift_accuracy.py --rows 1000000,10000000
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pyarrow as pa

from monitor.drift import DatasetDrift, compare_data, compare_profiles
from monitor.profile import compute_profile

METRICS = ("ks_statistic", "psi", "wasserstein_normed", "js_distance")
LABELS = pa.array(["a", "b", "c", "d", "e"])


def _categories(rng: np.random.Generator, n: int, shares: list[float]) -> pa.Array:
    codes = pa.array(rng.choice(len(shares), n, p=shares).astype(np.int32))
    return pa.DictionaryArray.from_arrays(codes, LABELS)


def tables(n: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """A seeded (baseline, target) pair of ``n`` rows each."""
    rng = np.random.default_rng(seed)
    base = pa.table({
        "same": rng.normal(size=n), "shift_small": rng.normal(size=n), "shift_scale": rng.normal(size=n),
        "lognormal": rng.lognormal(size=n), "counts": rng.poisson(5, n), "heavy": rng.pareto(2.5, n),
        "category": _categories(rng, n, [0.3, 0.25, 0.2, 0.15, 0.1]),
    })
    target = pa.table({
        "same": rng.normal(size=n), "shift_small": rng.normal(0.1, 1, n), "shift_scale": rng.normal(0.5, 1.2, n),
        "lognormal": rng.lognormal(0.2, 1.1, n), "counts": rng.poisson(5.5, n), "heavy": rng.pareto(2.2, n),
        "category": _categories(rng, n, [0.25, 0.25, 0.2, 0.15, 0.15]),
    })
    return base, target


def tolerance(metric: str, exact: float) -> float:
    """Largest error allowed for ``metric`` at the exact value ``exact``."""
    if metric == "psi":
        return max(0.01, 0.05 * exact)
    if metric == "wasserstein_normed":
        return 0.03 * exact if exact >= 0.1 else 0.01
    return 0.01


def rows_of(prof: DatasetDrift, exact: DatasetDrift) -> list[tuple[str, str, float, float, float, float]]:
    """(column, metric, exact, profile, error, tolerance) for every compared metric."""
    out = []
    for col in exact.columns:
        for name in METRICS:
            e, p = col.metric(name), prof.column(col.column).metric(name)
            if e is None or p is None or e.value is None or p.value is None:
                continue
            out.append((col.column, name, e.value, p.value, abs(p.value - e.value), tolerance(name, e.value)))
    return out


def run(n: int, seed: int) -> bool:
    """Print the figures for ``n`` rows per side; True when all are within tolerance."""
    base, target = tables(n, seed)
    start = time.perf_counter()
    prof = compare_profiles(compute_profile(base.to_batches()), compute_profile(target.to_batches()))
    profile_s = time.perf_counter() - start
    start = time.perf_counter()
    exact = compare_data(base, target)
    exact_s = time.perf_counter() - start
    print(f"\n{n:,} rows per side: profile mode {profile_s:.1f} s (profiling included), exact mode {exact_s:.1f} s")
    print(f"{'column':<12} {'metric':<19} {'exact':>10} {'profile':>10} {'error':>9} {'tolerance':>9}")
    ok = True
    for column, name, e, p, err, tol in rows_of(prof, exact):
        flag = "" if err <= tol else "  OUT OF TOLERANCE"
        ok = ok and not flag
        print(f"{column:<12} {name:<19} {e:>10.5f} {p:>10.5f} {err:>9.5f} {tol:>9.4f}{flag}")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the check for each ``--rows``; exit status 1 when a figure is out of tolerance."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000", help="comma-separated rows per side")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = [run(int(n), args.seed) for n in args.rows.split(",")]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
