"""profile(A + B) == merge(profile(A), profile(B)): property tests (hypothesis).

Exactly for counts, min and max; to 1e-9 relative for the moments; within the
stated rank error for quantiles (exact here, where the columns are small, and
bounded by :attr:`NumericSummary.rank_error` for the large case)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from monitor.profile import QUANTILE_RANKS, DatasetProfile, NumericSummary, compute_profile

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0])
numbers = st.lists(st.one_of(finite, finite, finite, special, st.none()), min_size=0, max_size=300)
labels = st.lists(st.one_of(st.sampled_from(["a", "b", "", "long label", "é"]), st.none()), max_size=300)


def batch(xs: list[float | None], cs: list[str | None]) -> pa.RecordBatch:
    n = min(len(xs), len(cs))
    return pa.record_batch({"x": pa.array(xs[:n], type=pa.float64()), "c": pa.array(cs[:n], type=pa.string())})


def profile_of(*batches: pa.RecordBatch) -> DatasetProfile:
    return compute_profile(list(batches), types={"x": "decimal", "c": "string"})


def close(a: float | None, b: float | None, scale: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-9 * scale


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(numbers, numbers, labels, labels)
def test_merge_equals_profile_of_the_union(xa: list[float | None], xb: list[float | None],
                                           ca: list[str | None], cb: list[str | None]) -> None:
    a, b = batch(xa, ca), batch(xb, cb)
    whole = profile_of(a, b)
    merged = profile_of(a).merge(profile_of(b))
    assert merged.row_count == whole.row_count
    for name in ("x", "c"):
        w, m = whole.columns[name], merged.columns[name]
        assert (w.count, w.missing, w.empty, w.errors, w.distinct) == (m.count, m.missing, m.empty, m.errors, m.distinct)
        assert (w.length_min, w.length_max, w.length_sum) == (m.length_min, m.length_max, m.length_sum)
    wn, mn = whole.columns["x"].numeric, merged.columns["x"].numeric
    assert wn is not None and mn is not None
    for attr in ("min", "max", "n", "zeros", "pos_inf", "neg_inf"):
        assert getattr(wn, attr) == getattr(mn, attr), attr
    if wn.n:
        scale = max(abs(wn.finite_min or 0.0), abs(wn.finite_max or 0.0), 1.0)
        assert close(wn.mean, mn.mean, scale)
        assert close(wn.variance, mn.variance, scale**2)
        spread = wn.variance or 0.0
        assume(wn.n < 4 or spread > 1e-6 * scale**2)
        assert close(wn.skewness, mn.skewness, 1.0)
        assert close(wn.kurtosis, mn.kurtosis, 1.0)
        np.testing.assert_array_equal(wn.quantiles(QUANTILE_RANKS), mn.quantiles(QUANTILE_RANKS))
    wc, mc = whole.columns["c"].categories, merged.columns["c"].categories
    assert wc is not None and mc is not None and (wc.counts, wc.other) == (mc.counts, mc.other)


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=1, max_value=2**31), st.integers(min_value=2, max_value=5))
def test_large_merges_stay_within_the_rank_error(seed: int, parts: int) -> None:
    rng = np.random.default_rng(seed)
    chunks = [rng.lognormal(rng.normal(), 1.5, int(rng.integers(20_000, 90_000))) for _ in range(parts)]
    summaries = []
    for chunk in chunks:
        s = NumericSummary()
        s.update(chunk)
        summaries.append(s)
    merged = summaries[0]
    for s in summaries[1:]:
        merged = merged.merge(s)
    whole = NumericSummary()
    whole.update(np.concatenate(chunks))
    values = np.sort(np.concatenate(chunks))
    assert (merged.n, merged.min, merged.max) == (whole.n, whole.min, whole.max) == (values.size, values[0], values[-1])
    assert merged.moments.m2 == pytest.approx(whole.moments.m2, rel=1e-9)
    assert merged.kurtosis == pytest.approx(whole.kurtosis, rel=1e-9)
    eps = max(merged.rank_error, whole.rank_error)
    assert 0 < eps < 5e-4
    for summary in (merged, whole):
        q = summary.quantiles(QUANTILE_RANKS)
        lo = np.searchsorted(values, q, side="left") / values.size
        hi = np.searchsorted(values, q, side="right") / values.size
        assert np.all(lo <= np.array(QUANTILE_RANKS) + eps) and np.all(hi >= np.array(QUANTILE_RANKS) - eps)
