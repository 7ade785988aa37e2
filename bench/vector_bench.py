"""False-alarm and power figures of the vector-column drift metrics on real image vectors.

scikit-learn's bundled digits (1,797 images of 8 x 8 pixels: 64-dimensional
vectors) are profiled as a ``fixed_size_list`` column and compared with
:func:`monitor.drift.compare_profiles` at the default settings:

- no drift: random halves of the whole set, ``--splits`` seeded splits (default
  100): the share of comparisons with any alarm is the false-alarm rate (the
  comparison's ``false_alarm_rate`` is 0.05);
- class mix: a baseline half drawn from every class against a target in which
  the classes 0 and 1 are over-represented (their share raised from 20% to
  ``share``), ``--splits`` seeded draws per share: the share flagged is the power;
- topic change: every class but 0 and 1 against classes 0 and 1 only.

Prints, per scenario, the share of comparisons flagged (the verdict, and each
metric), and the median of each metric's value.

    python bench/vector_bench.py [--splits 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
from sklearn.datasets import load_digits

from monitor.drift import compare_profiles
from monitor.profile import compute_profile

METRICS = ("cosine_distance", "mean_distance", "mmd", "classifier_auc")


def profile_of(x: np.ndarray):  # type: ignore[no-untyped-def]
    """The profile of one vector column holding the rows of ``x``."""
    col = pa.FixedSizeListArray.from_arrays(pa.array(x.astype(np.float32).ravel()), x.shape[1])
    return compute_profile([pa.RecordBatch.from_arrays([col], ["pixels"])])


def compare(x: np.ndarray, y: np.ndarray) -> tuple[bool, dict[str, tuple[float | None, bool]]]:
    """Whether the comparison of ``x`` (baseline) with ``y`` (target) flags, and each metric's value and flag."""
    drift = compare_profiles(profile_of(x), profile_of(y))
    col = drift.columns[0]
    out = {}
    for name in METRICS:
        m = col.metric(name)
        out[name] = (None if m is None else m.value, m is not None and m.severity != "none")
    return drift.verdict.drifted, out


def mix(x: np.ndarray, labels: np.ndarray, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A baseline half of every class, and a target of the other rows resampled so that classes 0 and 1 make ``share``."""
    order = rng.permutation(len(x))
    base, rest = order[: len(x) // 2], order[len(x) // 2:]
    hot = rest[np.isin(labels[rest], (0, 1))]
    cold = rest[~np.isin(labels[rest], (0, 1))]
    size = min(len(hot) / share, len(cold) / (1 - share))
    target = np.concatenate([rng.choice(hot, int(size * share), replace=False),
                             rng.choice(cold, int(size * (1 - share)), replace=False)])
    return x[base], x[target]


def run(name: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    start = time.perf_counter()
    flags, values = [], {k: [] for k in METRICS}
    hits = {k: 0 for k in METRICS}
    for x, y in pairs:
        drifted, got = compare(x, y)
        flags.append(drifted)
        for k, (v, f) in got.items():
            if v is not None:
                values[k].append(v)
            hits[k] += f
    rate = float(np.mean(flags))
    per = ", ".join(f"{k} {hits[k] / len(pairs):.2f} (median {np.median(values[k]):.4g})" for k in METRICS)
    print(f"{name}: flagged {sum(flags)}/{len(pairs)} = {rate:.3f}; by metric: {per}; "
          f"{(time.perf_counter() - start) / len(pairs):.2f} s per comparison")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", type=int, default=100)
    args = parser.parse_args()
    digits = load_digits()
    x, labels = digits.data.astype(np.float64), digits.target
    halves = []
    for seed in range(args.splits):
        order = np.random.default_rng(seed).permutation(len(x))
        halves.append((x[order[: len(x) // 2]], x[order[len(x) // 2:]]))
    run("random halves (false alarms)", halves)
    for share in (0.25, 0.3, 0.4):
        rng = np.random.default_rng(1000)
        run(f"classes 0 and 1 at {share:.0%} of the target instead of 20% (power)",
            [mix(x, labels, share, rng) for _ in range(args.splits)])
    hot = np.isin(labels, (0, 1))
    run("classes 2-9 against classes 0 and 1 (topic change)", [(x[~hot], x[hot])])


if __name__ == "__main__":
    main()
