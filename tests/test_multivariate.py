"""Multivariate drift (monitor.drift.multivariate) on real rows (NYC flights 2013):
a change only in how two columns move together (one column re-paired with the
others: every marginal identical) is flagged by multivariate_auc and by no
per-column metric, and the re-paired columns explain it most; random halves of
the data are not flagged; the AUC against scikit-learn's; the features; the
reasons it is not measured; thresholds as for the other metrics."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from monitor.drift import DriftSettings, compare_profiles
from monitor.drift.multivariate import (
    CATEGORY_CAP,
    domain_classifier,
    feature_matrix,
    multivariate_inputs,
    rank_auc,
)
from monitor.profile import DatasetProfile, compute_profile
from monitor.profile.rows import RowSample

COLUMNS = ["dep_time", "sched_dep_time", "dep_delay", "arr_delay", "carrier", "origin", "dest", "air_time",
           "distance", "hour"]


@pytest.fixture(scope="module")
def flights() -> pa.Table:
    from monitor.example import read_flights

    return read_flights().select(COLUMNS)


def _halves(table: pa.Table, seed: int) -> tuple[pa.Table, pa.Table]:
    order = np.random.default_rng(seed).permutation(table.num_rows)
    half = table.num_rows // 2
    return table.take(pa.array(order[:half])), table.take(pa.array(order[half:]))


def _repaired(table: pa.Table, column: str, seed: int) -> pa.Table:
    """``table`` with ``column``'s values shuffled among its rows: the same values (the
    same marginal), paired with other rows' values of the other columns."""
    i = table.schema.get_field_index(column)
    order = np.random.default_rng(seed).permutation(table.num_rows)
    return table.set_column(i, column, table.column(i).take(pa.array(order)))


def _profile(table: pa.Table, rows: int | None = 2000) -> DatasetProfile:
    return compute_profile(table.to_batches(max_chunksize=65_536), row_sample=rows)


def test_correlation_change_is_flagged_by_the_multivariate_metric_only(flights: pa.Table) -> None:
    baseline, rest = _halves(flights, 1)
    target = _repaired(rest, "arr_delay", 2)
    dep, arr = target.column("dep_delay").to_numpy(), target.column("arr_delay").to_numpy()
    both = ~(np.isnan(dep.astype(float)) | np.isnan(arr.astype(float)))
    assert abs(np.corrcoef(dep[both], arr[both])[0, 1]) < 0.02  # the real pairs correlate at 0.91
    assert sorted(target.column("arr_delay").drop_null().to_pylist()) == \
        sorted(rest.column("arr_delay").drop_null().to_pylist())
    result = compare_profiles(_profile(baseline), _profile(target), DriftSettings(multivariate=True))
    flagged = {(c.column, m.name) for c in result.columns for m in c.metrics if m.severity != "none"}
    assert flagged == set(), f"per-column metrics flagged: {flagged}"
    joint = result.metrics[-1]
    assert joint.name == "multivariate_auc" and joint.severity == "critical"
    assert joint.value is not None and joint.value > 0.65 and joint.p_value is not None and joint.p_value < 1e-10
    assert result.verdict.drifted and result.verdict.drifted_columns == 0 and result.verdict.severity == "critical"
    top = [c["column"] for c in joint.detail["top_columns"]]
    assert set(top[:2]) == {"arr_delay", "dep_delay"}, top
    shares = [c["share"] for c in joint.detail["top_columns"]]
    assert sum(shares[:2]) > 0.8 and shares == sorted(shares, reverse=True)


def test_random_halves_are_not_flagged(flights: pa.Table) -> None:
    """Two seeded random splits of the rows: the AUC stays near 1/2, never flagged (the
    100-split false-alarm rate is measured by bench/multivariate_bench.py)."""
    for seed in (11, 12):
        a, b = _halves(flights, seed)
        result = compare_profiles(_profile(a), _profile(b), DriftSettings(multivariate=True))
        joint = result.metrics[-1]
        assert joint.severity == "none" and joint.value is not None and abs(joint.value - 0.5) < 0.04, joint
        assert joint.p_value is not None and joint.p_value > 1e-3


def test_p_values_are_uniform_on_random_splits_of_real_rows(flights: pa.Table) -> None:
    """40 seeded random splits of 4,000 real rows into two samples of 2,000: under no drift the
    held-out AUC's Mann-Whitney p-values are uniform on (0, 1) (scipy's KS test against the
    uniform distribution)."""
    ps = []
    for seed in range(40):
        rows = np.random.default_rng(100 + seed).choice(flights.num_rows, 4000, replace=False)
        a, b = (compute_profile(flights.take(pa.array(part)).to_batches(), row_sample=2000)
                for part in (rows[:2000], rows[2000:]))
        samples = multivariate_inputs(a, b)
        assert not isinstance(samples, str)
        ps.append(domain_classifier(*samples).p_value)
    assert stats.kstest(ps, "uniform").pvalue > 1e-3, sorted(ps)
    assert np.mean(np.array(ps) < 0.05) <= 0.15


def test_rank_auc_equals_sklearn() -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(500) < 0.4).astype(float)
    scores = np.round(rng.normal(size=500) + labels, 1)  # ties
    assert rank_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    many = np.stack([scores, -scores, rng.normal(size=500)])
    expected = [roc_auc_score(labels, s) for s in many]
    np.testing.assert_allclose(rank_auc(labels, many), expected, atol=1e-12)


def test_feature_matrix_codes_categories_and_keeps_missing() -> None:
    values = np.array([f"v{i % 70}" for i in range(700)] + [None] * 10, dtype=object)
    b = RowSample(1000, np.linspace(0, 0.5, 710), {"c": "category", "x": "number"},
                  {"c": values, "x": np.r_[np.arange(700.0), [np.nan] * 8, [np.inf, -np.inf]]})
    t = RowSample(1000, np.linspace(0, 0.5, 5), {"c": "category", "x": "number"},
                  {"c": np.array(["v1", "new", None, "v2", "v3"], dtype=object), "x": np.arange(5.0)})
    x, mask, names = feature_matrix(b, t)
    assert names == ["c", "x"] and list(mask) == [True, False] and x.shape == (715, 2)
    codes = x[:, 0]
    assert np.isnan(codes[700:710]).all() and np.isnan(codes[712])
    kept = codes[~np.isnan(codes)]
    assert kept.max() == CATEGORY_CAP and len(np.unique(kept)) == CATEGORY_CAP + 1
    assert codes[711] == CATEGORY_CAP  # "new": not among the most frequent
    np.testing.assert_array_equal(x[:700, 1], np.arange(700.0))
    assert np.isnan(x[700:710, 1]).all()  # missing, and the infinities too


def test_reasons_when_not_measured(flights: pa.Table) -> None:
    small = flights.slice(0, 3000)
    with_rows, without = _profile(small), _profile(small, None)
    for b, t, why in ((without, with_rows, "the baseline snapshot has no row sample"),
                      (with_rows, without, "the target snapshot has no row sample"),
                      (with_rows, _profile(small.slice(0, 20)), "the target's row sample has 20 rows")):
        reason = multivariate_inputs(b, t)
        assert isinstance(reason, str) and why in reason
        m = compare_profiles(b, t, DriftSettings(multivariate=True)).metrics[-1]
        assert m.name == "multivariate_auc" and m.value is None and why in m.detail["reason"]
        assert not m.decides and m.severity == "none"
    other = _profile(pa.table({"z": np.arange(3000.0)}))
    assert multivariate_inputs(with_rows, other) == "the two row samples share no column of one kind"
    assert all(m.name != "multivariate_auc" for m in compare_profiles(with_rows, with_rows).metrics)


def test_thresholds_are_overridden_like_other_metrics(flights: pa.Table) -> None:
    baseline, rest = _halves(flights.slice(0, 60_000), 4)
    b, t = _profile(baseline), _profile(_repaired(rest, "arr_delay", 5))
    settings = DriftSettings.from_config({"multivariate_auc": {"warning": 0.95, "critical": None}},
                                         multivariate=True)
    joint = compare_profiles(b, t, settings).metrics[-1]
    assert joint.value is not None and 0.6 < joint.value < 0.95
    assert joint.warning == 0.95 and joint.critical is None and joint.severity == "none" and joint.decides
    again = domain_classifier(*multivariate_inputs(b, t))  # type: ignore[misc]
    assert again.auc == joint.value  # deterministic for given samples
