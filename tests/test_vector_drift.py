"""Vector drift metrics against independent oracles (numpy, scipy, scikit-learn),
and the acceptance on real image vectors: scikit-learn's digits (64 dimensions)
flag a change of class mix, and random halves of the set are not flagged."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.spatial.distance import cdist, cosine, pdist
from scipy.stats import mannwhitneyu

pytest.importorskip("sklearn")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from monitor.drift import compare_profiles  # noqa: E402
from monitor.drift.registry import METRICS  # noqa: E402
from monitor.drift.settings import DriftSettings, Threshold  # noqa: E402
from monitor.drift.vectors import (  # noqa: E402
    classifier_auc,
    cosine_distance,
    mean_distance,
    median_bandwidth,
    mmd2_unbiased,
    pooled_std,
    kernel_matrix,
    rbf_kernel,
)
from monitor.profile import compute_profile  # noqa: E402


def _profile(x: np.ndarray):  # type: ignore[no-untyped-def]
    col = pa.FixedSizeListArray.from_arrays(pa.array(x.astype(np.float32).ravel()), x.shape[1])
    return compute_profile([pa.RecordBatch.from_arrays([col], ["pixels"])])


def test_mean_distances_match_numpy() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(1.0, 2.0, size=(400, 10)), rng.normal(1.3, 1.0, size=(300, 10))
    assert cosine_distance(x.mean(0), y.mean(0)) == pytest.approx(cosine(x.mean(0), y.mean(0)), rel=1e-12)
    scale = pooled_std(x.var(0, ddof=1), 400, y.var(0, ddof=1), 300)
    pooled = np.sqrt((399 * x.var(0, ddof=1) + 299 * y.var(0, ddof=1)) / 698)
    np.testing.assert_allclose(scale, pooled, rtol=1e-12)
    expected = np.linalg.norm((y.mean(0) - x.mean(0)) / pooled) / np.sqrt(10)
    assert mean_distance(x.mean(0), y.mean(0), scale) == pytest.approx(expected, rel=1e-12)
    assert cosine_distance(np.zeros(3), np.ones(3)) is None
    assert mean_distance(np.zeros(2), np.array([0.0, 1.0]), np.array([1.0, 0.0])) is None


def test_mmd_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(60, 5)), rng.normal(0.4, 1.0, size=(45, 5))
    z = np.concatenate([x, y])
    sigma = median_bandwidth(z)
    assert sigma == pytest.approx(np.median(pdist(z)), rel=1e-9)

    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-cdist(a, b, "sqeuclidean") / (2 * sigma**2))

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    n, m = len(x), len(y)
    direct = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
              - 2 * kxy.mean())
    assert mmd2_unbiased(rbf_kernel(z, sigma), n) == pytest.approx(direct, rel=1e-9, abs=1e-12)
    same_sigma, kernel = kernel_matrix(z)
    assert same_sigma == sigma
    np.testing.assert_allclose(kernel, k(z, z), rtol=1e-9, atol=1e-12)
    assert direct > 0.01  # a shift of 0.4 sd in 5 dimensions is visible


def test_auc_matches_roc_auc_score() -> None:
    """The AUC is scikit-learn's of a logistic regression fitted on one stratified half and scored
    on the other; its p-value is the Mann-Whitney null's for the held-out rows (against scipy)."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(200, 8)), rng.normal(0.3, 1.0, size=(150, 8))
    data, labels = np.concatenate([x, y]), np.r_[np.zeros(200), np.ones(150)]
    train, test = train_test_split(np.arange(len(data)), test_size=0.5, stratify=labels, random_state=7)
    scaler = StandardScaler().fit(data[train])
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(data[train]), labels[train])
    want = roc_auc_score(labels[test], model.decision_function(scaler.transform(data[test])))
    got = classifier_auc(x, y, seed=7)
    assert got.auc == pytest.approx(want, abs=1e-9) and got.auc > 0.6
    assert (got.held_baseline, got.held_target) == (100, 75)
    u_scores = model.decision_function(scaler.transform(data[test]))
    mw = mannwhitneyu(u_scores[labels[test] == 1], u_scores[labels[test] == 0], alternative="greater",
                      method="asymptotic", use_continuity=False)
    assert got.p_value == pytest.approx(mw.pvalue, rel=0.05)


def test_auc_p_values_are_uniform_on_random_halves(digits: tuple[np.ndarray, np.ndarray]) -> None:
    """Random halves of the digits: the held-out AUC's p-value is below 0.05 in about 5% of 100
    seeded splits (a binomial 99.9% bound: at most 13), where cross-validated AUCs gave 11."""
    x, _ = digits
    ps = []
    for seed in range(100):
        order = np.random.default_rng(seed).permutation(len(x))
        ps.append(classifier_auc(x[order[:898]], x[order[898:]], seed=seed).p_value)
    below = int(np.sum(np.array(ps) < 0.05))
    assert below <= 13, f"p < 0.05 in {below} of 100 random halves"
    assert np.mean(ps) == pytest.approx(0.5, abs=0.1)


def test_registry_entries() -> None:
    for name in ("cosine_distance", "mean_distance", "mmd", "classifier_auc"):
        m = METRICS[name]
        assert m.kinds == ("vector",) and m.direction == "higher" and m.noise
    assert (METRICS["mmd"].warning, METRICS["classifier_auc"].warning) == (0.015, 0.55)


def test_dimension_change_is_not_compared() -> None:
    rng = np.random.default_rng(0)
    drift = compare_profiles(_profile(rng.normal(size=(100, 4))), _profile(rng.normal(size=(100, 5))))
    col = drift.columns[0]
    assert col.status == "not_comparable" and "from 4 to 5" in (col.reason or "")


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return data.data.astype(np.float64), data.target


def test_class_mix_change_is_flagged(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, labels = digits
    hot = np.isin(labels, (0, 1))
    drift = compare_profiles(_profile(x[~hot]), _profile(x[hot]))
    col = drift.columns[0]
    assert drift.verdict.drifted and col.status == "drift", col.reason
    flagged = {m.name for m in col.metrics if m.severity != "none"}
    assert {"mmd", "classifier_auc", "mean_distance"} <= flagged, flagged
    # a milder change: classes 0 and 1 make half of the target instead of a fifth
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    base, rest = order[:900], order[900:]
    target = np.concatenate([rest[np.isin(labels[rest], (0, 1))], rng.choice(rest[~hot[rest]], 180, replace=False)])
    mild = compare_profiles(_profile(x[base]), _profile(x[target]))
    assert mild.verdict.drifted, mild.columns[0].reason


def test_random_halves_are_not_flagged(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = digits
    alarms = []
    for seed in range(100):
        order = np.random.default_rng(seed).permutation(len(x))
        drift = compare_profiles(_profile(x[order[:898]]), _profile(x[order[898:]]))
        alarms.append(drift.verdict.drifted)
    rate = float(np.mean(alarms))
    assert rate < 0.05, f"false-alarm rate over 100 random halves of the digits: {rate:.2f}"
    print(f"false-alarm rate over 100 random halves of the digits: {rate:.2f}")


def _decided_by_tests() -> DriftSettings:
    """Every vector metric decides on its test alone (thresholds at their floor), at a 5% false-alarm rate."""
    floors = {"cosine_distance": Threshold(0.0), "mean_distance": Threshold(0.0), "mmd": Threshold(-1.0),
              "classifier_auc": Threshold(0.0), "missing_rate_change": Threshold(None)}
    return DriftSettings(thresholds=floors, false_alarm_rate=0.05)


def test_tests_hold_their_level_with_samples_smaller_than_the_data() -> None:
    """3,000 vectors per side, samples of 1,000: the mean distances' null is rescaled from the samples
    to all vectors. With every threshold at its floor, 20 no-drift pairs raise at most 3 alarms (at a
    true rate of 5%, 4 or more happen with probability 1.6%), and a shift of 0.06 standard deviations
    in every dimension (invisible to the samples alone, seen by the means of all vectors) is flagged."""
    settings = _decided_by_tests()
    alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        x, y = rng.normal(size=(3000, 16)), rng.normal(size=(3000, 16))
        alarms += compare_profiles(_profile(x), _profile(y), settings).verdict.drifted
    assert alarms <= 3, f"{alarms} of 20 no-drift pairs flagged"
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(3000, 16)), rng.normal(0.06, 1.0, size=(3000, 16))
    col = compare_profiles(_profile(x), _profile(y), settings).columns[0]
    md = col.metric("mean_distance")
    assert md is not None and md.severity != "none", md
    assert md.detail["null_scale"] == pytest.approx((2 / 3000) / (2 / 1000))
