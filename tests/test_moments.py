"""Moments over the whole double range: mean, standard deviation, skewness and
kurtosis of finite values up to 1e308 and down to subnormals, computed, merged
and stored without overflow (and without a RuntimeWarning), checked against an
exact ``fractions.Fraction`` oracle."""

from __future__ import annotations

import json
import math
from decimal import Context, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.profile import (
    Moments,
    NumericSummary,
    compute_profile,
    profile_from_records,
    profile_json,
    profile_to_records,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

TINY = 2.0**-1074
"""The smallest subnormal: the spacing of doubles below 2**-1022."""
_CTX = Context(prec=60)


def _dec(q: Fraction) -> Decimal:
    return _CTX.divide(Decimal(q.numerator), Decimal(q.denominator))


def oracle(values: np.ndarray) -> dict[str, float]:
    """Exact mean and sample variance (Fraction), std, skewness G1 and excess
    kurtosis G2 (pandas' definitions) to 60 digits, rounded once to doubles."""
    xs = [Fraction(float(v)) for v in values]
    n = len(xs)
    mean = sum(xs, Fraction(0)) / n
    d = [x - mean for x in xs]
    m2 = sum((e * e for e in d), Fraction(0))
    m3 = sum((e * e * e for e in d), Fraction(0))
    m4 = sum((e**4 for e in d), Fraction(0))
    out = {"mean": float(mean), "std": float(_CTX.sqrt(_dec(m2 / (n - 1))))}
    if m2 and n >= 4:
        k2 = m2 / n
        g1 = _dec(m3 / n) / _CTX.power(_dec(k2), Decimal("1.5"))
        out["skewness"] = float(_CTX.sqrt(Decimal(n * (n - 1))) / (n - 2) * g1)
        g2 = float(_dec(m4 / n / (k2 * k2))) - 3.0
        out["kurtosis"] = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))
    return out


def summary_of(values: np.ndarray, parts: int = 1, seed: int = 0) -> NumericSummary:
    """A numeric summary of ``values`` cut into ``parts`` pieces (random cuts),
    each summarised alone, merged in a random order."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, values.size), size=parts - 1, replace=False)) if parts > 1 else []
    pieces = []
    for piece in np.split(values, cuts):
        s = NumericSummary()
        s.update(piece.copy())
        pieces.append(s)
    order = rng.permutation(len(pieces))
    merged = pieces[order[0]]
    for i in order[1:]:
        merged = merged.merge(pieces[i])
    return merged


def wide_values(seed: int, n: int = 3000) -> np.ndarray:
    """Mixed signs (mostly positive, so the mean does not cancel) and magnitudes
    from 1e-300 to 1.7e308, a third of them above 1e300."""
    rng = np.random.default_rng(seed)
    mags = 10.0 ** rng.uniform(-300, 308, n)
    mags[: n // 3] = rng.uniform(1e300, 1.7e308, n // 3)
    signs = np.where(rng.random(n) < 0.8, 1.0, -1.0)
    return rng.permutation(signs * mags)


def assert_close(got: float | None, want: float, rel: float) -> None:
    assert got is not None and math.isfinite(got)
    assert abs(got - want) <= rel * abs(want), (got, want, abs(got - want) / abs(want))


CASES = {
    "near the maximum": lambda rng: rng.uniform(1.0e308, 1.7e308, 2000),
    "both signs near the maximum": lambda rng: np.concatenate([rng.uniform(1.0e308, 1.7e308, 1400),
                                                               -rng.uniform(1.0e308, 1.7e308, 600)]),
    "mixed signs and magnitudes": lambda rng: wide_values(int(rng.integers(1 << 30))),
    "variance beyond the range": lambda rng: rng.normal(3e200, 1e200, 2000),
    "tiny normal": lambda rng: rng.uniform(1e-306, 1e-300, 2000),
    "subnormal": lambda rng: rng.uniform(1e-312, 1e-309, 2000),
    "tiny and subnormal mixed": lambda rng: 10.0 ** rng.uniform(-315, -300, 2000),
    "ordinary": lambda rng: rng.lognormal(0, 2, 2000),
}


@pytest.mark.parametrize("parts", [1, 2, 7])
@pytest.mark.parametrize("case", list(CASES))
def test_mean_and_std_match_the_exact_oracle(case: str, parts: int) -> None:
    """Within 1e-12 relative of the exact values (and the skewness and kurtosis
    within 1e-9), whole or merged from pieces, wherever the true values are doubles."""
    values = CASES[case](np.random.default_rng(len(case) * 7 + parts))
    want = oracle(values)
    got = summary_of(values, parts, seed=parts)
    assert got.n == values.size
    assert_close(got.mean, want["mean"], 1e-12)
    assert_close(got.std, want["std"], 1e-12)
    if "skewness" in want and got.skewness != 0.0:  # 0: flat by pandas' absolute 1e-14 rule
        assert_close(got.skewness, want["skewness"], 1e-9)
        assert_close(got.kurtosis, want["kurtosis"], 1e-9)


def test_values_near_the_maximum_were_out_of_range_unscaled() -> None:
    """The case the scale exists for: the plain sums overflow, the scaled ones do not."""
    values = CASES["near the maximum"](np.random.default_rng(1))
    with np.errstate(over="ignore"):
        assert math.isinf(float(values.sum())) and math.isinf(float(((values - values.mean()) ** 2).sum()))
    m = Moments.of(values)
    assert m.exp == 1024 and all(math.isfinite(v) for v in (m.mean_s, m.m2_s, m.m3_s, m.m4_s))
    assert_close(m.mean, oracle(values)["mean"], 1e-12)


def test_variance_beyond_the_range_is_inf_and_std_stays_finite() -> None:
    values = CASES["variance beyond the range"](np.random.default_rng(2))
    s = summary_of(values, 3)
    assert s.variance == math.inf
    assert_close(s.std, oracle(values)["std"], 1e-12)
    col = profile_json(compute_profile([pa.record_batch({"x": values})]))["columns"][0]
    assert col["variance"] is None and col["std"] == pytest.approx(s.std, rel=1e-12)


def test_std_beyond_the_range_is_inf() -> None:
    """Values at both ends of the range: the true std (1.7e308 * sqrt(2)) is not a double."""
    s = summary_of(np.array([-1.7e308, 1.7e308]))
    assert s.mean == 0.0 and s.std == math.inf and s.variance == math.inf
    col = profile_json(compute_profile([pa.record_batch({"x": [-1.7e308, 1.7e308]})]))["columns"][0]
    assert col["std"] is None and col["variance"] is None and col["n_finite"] == 2


def test_cancelling_mean_is_within_the_summation_bound() -> None:
    """A mean that cancels is as accurate as any double-precision sum can make it:
    within a few rounding units of the largest value, not of the result."""
    values = np.array([1e308, -1e308, 3.0, 1.7e308, -1.7e308, 1e-300])
    got = summary_of(values, 2)
    want = oracle(values)
    assert got.mean is not None and abs(got.mean - want["mean"]) <= 4 * np.finfo(float).eps * 1.7e308
    assert_close(got.std, want["std"], 1e-12)


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=2, max_size=40), st.integers(min_value=1, max_value=4), st.integers(0, 1000))
def test_any_finite_doubles_give_finite_moments(xs: list[float], parts: int, seed: int) -> None:
    """Any finite doubles, any cuts: a finite mean within a few rounding units of
    the largest magnitude of the exact one, a std within 1e-12 relative of the
    exact one, or ``inf`` only when the exact one is beyond the double range."""
    values = np.array(xs)
    s = summary_of(values, min(parts, values.size), seed)
    want = oracle(values)
    peak = float(np.max(np.abs(values)))
    slack = 8 * np.finfo(float).eps * peak + 4 * TINY
    assert s.mean is not None and math.isfinite(s.mean) and abs(s.mean - want["mean"]) <= slack
    assert s.std is not None
    if math.isinf(want["std"]):
        assert s.std == math.inf
    else:
        assert abs(s.std - want["std"]) <= 1e-12 * want["std"] + slack


def test_profiles_of_huge_values_store_and_merge_exactly() -> None:
    values = wide_values(5)
    half = values.size // 2
    prof = compute_profile([pa.record_batch({"x": values[:half]}), pa.record_batch({"x": values[half:]})])
    meta, columns = profile_to_records(prof)
    stats = json.loads(json.dumps(columns[0]["stats"], allow_nan=False))
    assert stats["numeric"]["moments"]["exp"] == 1024
    back = profile_from_records(meta, [{**columns[0], "stats": stats}])
    a, b = prof.columns["x"].numeric, back.columns["x"].numeric
    assert a is not None and b is not None
    assert (a.mean, a.std, a.skewness, a.kurtosis) == (b.mean, b.std, b.skewness, b.kurtosis)
    doubled = back.merge(back).columns["x"].numeric
    assert doubled is not None
    want = oracle(np.concatenate([values, values]))
    assert_close(doubled.mean, want["mean"], 1e-12)
    assert_close(doubled.std, want["std"], 1e-12)


def version_2_records(values: np.ndarray, moments: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A column record as format version 2 stored it: unscaled moments, infinities
    as strings, exact values and counts in a ``DMS2`` sketch blob."""
    import struct

    finite = np.sort(values[np.isfinite(values)])
    vals, cnts = np.unique(finite, return_counts=True)
    blob = (struct.pack("<4sIIIII", b"DMS2", 0, vals.size, 4096, 0, 2) + vals.astype("<f8").tobytes()
            + cnts.astype("<i8").tobytes())
    neg_inf = int(np.count_nonzero(values == -np.inf))
    numeric = {"n": int(finite.size), **moments, "min": "-inf" if neg_inf else float(finite[0]),
               "max": float(finite[-1]), "pos_inf": 0, "neg_inf": neg_inf, "zeros": 0, "k": 8192,
               "exact_limit": 4096, "precompaction_error": 0.0}
    stats = {"arrow_type": "double", "count": int(values.size), "missing": 0, "empty": 0, "errors": 0,
             "length_min": None, "length_max": None, "length_sum": 0, "declared": False, "timezone": None,
             "distinct": float(vals.size + 1), "distinct_floor": 0.0, "numeric": numeric}
    return ({"format_version": 2, "row_count": int(values.size), "columns": ["x"]},
            [{"column": "x", "position": 0, "kind": "decimal", "stats": stats, "sketch": blob}])


def test_version_2_profiles_stay_readable() -> None:
    """Unscaled moments and "-inf" strings of format version 2 are read, rescaled
    exactly, and merge with new profiles."""
    finite = np.random.default_rng(8).normal(1e5, 10.0, 500)
    values = np.concatenate([finite, [-np.inf]])
    d = finite - finite.mean()
    moments = {"mean": float(finite.mean()), "m2": float((d**2).sum()), "m3": float((d**3).sum()),
               "m4": float((d**4).sum())}
    old = profile_from_records(*version_2_records(values, moments))
    num = old.columns["x"].numeric
    assert num is not None and num.min == -math.inf and num.neg_inf == 1 and num.n == 500
    assert num.mean == float(finite.mean()) and num.variance == float((d**2).sum()) / 499
    assert num.std == pytest.approx(np.std(finite, ddof=1), rel=1e-12)
    assert num.moments.exp == 17  # 1e5 = 0.76 * 2**17: the stored sums were rescaled by powers of two
    merged = old.merge(compute_profile([pa.record_batch({"x": finite})])).columns["x"].numeric
    assert merged is not None and merged.n == 1000
    assert_close(merged.mean, oracle(np.concatenate([finite, finite]))["mean"], 1e-12)
    assert_close(merged.std, oracle(np.concatenate([finite, finite]))["std"], 1e-12)
    col = profile_json(old)["columns"][0]
    assert col["min"] is None and col["neg_inf"] == 1


def test_version_2_profiles_with_overflowed_moments_still_load() -> None:
    """Before format version 3, values near 1e308 overflowed the sums: such a stored
    profile loads, its moments stay undefined (null in JSON), the rest is intact."""
    values = np.array([1.5e308, 1.6e308, 1.7e308, 1.0])
    old = profile_from_records(*version_2_records(values, {"mean": "inf", "m2": None, "m3": None, "m4": None}))
    num = old.columns["x"].numeric
    assert num is not None and num.n == 4 and num.finite_max == 1.7e308
    col = profile_json(old)["columns"][0]
    assert col["mean"] is None and col["std"] is None and col["max"] == 1.7e308


def test_exact_and_profile_comparisons_of_huge_values_agree() -> None:
    """Exact mode (the data) states mean and std from the same scaled moments as
    the profile: finite, equal to the oracle, and no RuntimeWarning on the way."""
    from monitor.drift import compare_data, compare_profiles

    rng = np.random.default_rng(12)
    base = pa.table({"x": rng.uniform(1e307, 1.7e308, 3000)})
    target = pa.table({"x": rng.uniform(1e307, 1.7e308, 3000) - 1e307})
    exact = compare_data(base, target).column("x")
    approx = compare_profiles(compute_profile(base.to_batches()), compute_profile(target.to_batches())).column("x")
    want = oracle(base.column("x").to_numpy())
    for side in (exact.baseline, approx.baseline):
        assert side is not None
        assert_close(side["mean"], want["mean"], 1e-12)
        assert_close(side["std"], want["std"], 1e-12)
    for result in (exact, approx):
        change = result.metric("mean_change")
        assert change is not None and change.value is not None and math.isfinite(change.value)
