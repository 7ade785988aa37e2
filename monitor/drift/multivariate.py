"""Multivariate drift of tabular data: a domain classifier across a dataset's
columns, fitted on the two profiles' row samples (:mod:`monitor.profile.rows`).

Per-column tests miss a change in how columns move together (a correlation
that changes while every marginal stays the same). The classifier tells the
target's sampled rows (label 1) from the baseline's (label 0) using every
sampled column at once; if it does better than chance, the joint distribution
changed (Lopez-Paz & Oquab 2017, *Revisiting Classifier Two-Sample Tests*;
NannyML's "domain classifier" multivariate drift method).

- **Features**: the columns both samples hold with the same kind: numbers
  (integer, decimal, datetime as epoch seconds, boolean as 0/1) as they are
  (an infinity as missing);
  categories as codes of the pooled sample's :data:`CATEGORY_CAP` most
  frequent values, the rest one "other" code, a native categorical feature.
  Missing values stay missing (NaN), which the model handles natively.
- **Model**: scikit-learn's ``HistGradientBoostingClassifier`` (gradient-boosted
  trees: splits on one column after another model interactions, which a
  linear model on raw columns cannot), :data:`MODEL_PARAMS`.
- **Metric** ``multivariate_auc``: the ROC AUC of the predicted probabilities
  of the held-out half of the pooled rows (:data:`TEST_SHARE`, a stratified
  split seeded from the samples), the model fitted on the other half. 0.5: the
  rows are indistinguishable; 1: fully separable.
- **Noise**: the AUC's Mann-Whitney null over the held-out rows, ``z = (AUC -
  1/2) / sqrt((n + m + 1) / (12 n m))`` one-sided, ``n`` and ``m`` the
  held-out baseline and target rows, tested at the comparison's per-pair level
  (:mod:`monitor.drift.noise`). It is exact in distribution: given the fitted
  model, under no drift the held-out rows' labels are a random assignment, so
  their AUC is a Mann-Whitney statistic. (Cross-validated AUCs are not: the
  folds' models share training rows and their AUCs correlate, Bengio &
  Grandvalet 2004; on random halves of real rows the Mann-Whitney p-value of a
  5-fold out-of-fold AUC fell below 0.05 in 10 of 100 splits, and of the mean of
  the folds' AUCs in 19.) ``bench/multivariate_bench.py`` measures the
  false-alarm rate on random splits of real rows.
- **Importances**: the permutation importance of each column on the held-out
  rows (Breiman 2001; as ``sklearn.inspection.permutation_importance``): the
  drop of the AUC when the column's held-out values are shuffled, averaged over
  :data:`REPEATS` shuffles; negative drops count as 0 and the drops are
  normalised to shares of their sum.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.drift.vectors import auc_p, one_thread, sklearn_available

if TYPE_CHECKING:
    from monitor.profile.model import DatasetProfile
    from monitor.profile.rows import RowSample

__all__ = ["CATEGORY_CAP", "TEST_SHARE", "MIN_ROWS", "MODEL_PARAMS", "REPEATS", "TOP_COLUMNS", "MultivariateFit",
           "domain_classifier", "feature_matrix", "fit_summary", "multivariate_inputs", "rank_auc"]

TEST_SHARE = 0.5
"""Share of the pooled rows held out (stratified) to measure the classifier's AUC."""
REPEATS = 2
"""Shuffles of each column's held-out values for its permutation importance."""
CATEGORY_CAP = 50
"""Values of a categorical column kept as their own feature code; the rest share one code."""
MIN_ROWS = 50
"""Fewest sampled rows on each side for the test."""
TOP_COLUMNS = 5
"""Columns reported with their importances."""
MODEL_PARAMS: dict[str, Any] = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 15,
                                "min_samples_leaf": 20, "l2_regularization": 1.0, "early_stopping": False}
"""The ``HistGradientBoostingClassifier`` settings: 100 trees of at most 15 leaves."""

Array = np.ndarray


@dataclass(frozen=True)
class MultivariateFit:
    """What the domain classifier found.

    :ivar auc: ROC AUC on the held-out rows (0..1; 0.5 = no drift).
    :ivar p_value: one-sided Mann-Whitney p-value of ``auc > 1/2``.
    :ivar columns: the feature columns, in order; ``importance`` each one's mean drop
        of AUC when shuffled (>= 0), ``share`` the drops normalised to sum 1 (all 0
        when no column helps).
    :ivar n: baseline rows used; ``m`` target rows; ``held_n`` and ``held_m`` those held out.
    """

    auc: float
    p_value: float
    columns: tuple[str, ...]
    importance: tuple[float, ...]
    share: tuple[float, ...]
    n: int
    m: int
    held_n: int = 0
    held_m: int = 0

    def top(self, count: int = TOP_COLUMNS) -> list[dict[str, Any]]:
        """The ``count`` columns that explain the drift most: ``{column, importance, share}``,
        largest first, those with a positive importance only."""
        order = sorted(range(len(self.columns)), key=lambda i: -self.importance[i])
        return [{"column": self.columns[i], "importance": self.importance[i], "share": self.share[i]}
                for i in order[:count] if self.importance[i] > 0]


def multivariate_inputs(baseline: DatasetProfile, target: DatasetProfile) -> tuple[RowSample, RowSample] | str:
    """The two row samples over their common columns, or why the test cannot run."""
    for label, prof in (("baseline", baseline), ("target", target)):
        if prof.row_sample is None:
            return (f"the {label} snapshot has no row sample (it was taken without multivariate: true; "
                    f"take a new one)")
    b, t = baseline.row_sample, target.row_sample
    assert b is not None and t is not None
    common = [c for c, kind in b.kinds.items() if t.kinds.get(c) == kind]
    if not common:
        return "the two row samples share no column of one kind"
    for label, sample in (("baseline", b), ("target", t)):
        if sample.rows < MIN_ROWS:
            return f"the {label}'s row sample has {sample.rows:,} rows; at least {MIN_ROWS} are needed"
    if not sklearn_available():
        return "scikit-learn is not installed (pip install 'drift-monitor[vectors]')"
    return b.restrict(common), t.restrict(common)


def feature_matrix(b: RowSample, t: RowSample) -> tuple[Array, Array, list[str]]:
    """The pooled features ``(n + m, columns)`` (baseline rows first), the categorical
    mask ``(columns,)`` and the column names. Categories become codes of the pooled
    :data:`CATEGORY_CAP` most frequent values (ties by value), the rest code
    ``CATEGORY_CAP``; missing values NaN, and infinite numbers too (the model takes finite ones)."""
    names = list(b.kinds)
    x = np.empty((b.rows + t.rows, len(names)))
    mask = np.zeros(len(names), dtype=bool)
    for j, name in enumerate(names):
        if b.kinds[name] == "number":
            column = np.concatenate([b.values[name], t.values[name]])
            x[:, j] = np.where(np.isinf(column), np.nan, column)
            continue
        mask[j] = True
        values = np.concatenate([b.values[name], t.values[name]])
        present = np.array([v is not None for v in values])
        labels, counts = np.unique(values[present].astype(str), return_counts=True)
        kept = labels[np.lexsort((labels, -counts))][:CATEGORY_CAP]
        code = {v: float(i) for i, v in enumerate(kept)}
        x[:, j] = [code.get(v, float(CATEGORY_CAP)) if v is not None else math.nan for v in values]
    return x, mask, names


def _seed(x: Array) -> int:
    return zlib.crc32(np.ascontiguousarray(x).tobytes())


def rank_auc(labels: Array, scores: Array) -> Any:
    """ROC AUC of ``scores`` (last axis: rows; any leading axes) for the 0/1 ``labels`` of the rows,
    from mid-ranks: ``(R_1 - n_1 (n_1 + 1) / 2) / (n_1 n_0)``, ``R_1`` the rank sum of the label-1
    scores (ties count one half, as ``sklearn.metrics.roc_auc_score``). A float, or an array of the
    leading axes' shape."""
    from scipy.stats import rankdata

    pos = labels == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return (rankdata(scores, axis=-1)[..., pos].sum(axis=-1) - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def domain_classifier(b: RowSample, t: RowSample, repeats: int = REPEATS) -> MultivariateFit:
    """Fit the domain classifier on two row samples of the same columns (see the module docstring).

    Formula: the ROC AUC ``P(score(target row) > score(baseline row))`` on the held-out half of the
    rows (a stratified split, :data:`TEST_SHARE`) of a ``HistGradientBoostingClassifier``
    (:data:`MODEL_PARAMS`) fitted on the other half; each column's importance the mean drop of that
    AUC when its held-out values are shuffled. Units: ROC AUC, 0..1. Direction: higher = more drift
    (0.5 = indistinguishable rows, 1 = separable). Source: Lopez-Paz & Oquab 2017, "Revisiting
    Classifier Two-Sample Tests"; NannyML's domain classifier; permutation importance, Breiman
    2001; scikit-learn.

    :param b: the baseline's sample (label 0); ``t`` the target's (label 1).
    :returns: the :class:`MultivariateFit`; its p-value from the held-out rows' Mann-Whitney null
        (exact in distribution: given the fitted model, the held-out labels are a random
        assignment under no drift). Deterministic for given samples.
    :raises ImportError: when scikit-learn is not installed (the ``vectors`` extra).
    :raises ValueError: when a side has fewer than 2 rows.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    x, mask, names = feature_matrix(b, t)
    y = np.concatenate([np.zeros(b.rows), np.ones(t.rows)])
    if min(b.rows, t.rows) < 2:
        raise ValueError(f"each side needs at least 2 rows, not {min(b.rows, t.rows)}")
    seed = _seed(x)
    rng = np.random.default_rng(seed)
    train, test = train_test_split(np.arange(len(y)), test_size=TEST_SHARE, stratify=y,
                                   random_state=seed % (2**31))
    with one_thread():
        model = HistGradientBoostingClassifier(**MODEL_PARAMS, categorical_features=mask, random_state=seed % (2**31))
        model.fit(x[train], y[train])
        held, labels = x[test], y[test]
        auc = float(rank_auc(labels, model.predict_proba(held)[:, 1]))
        drops = auc - rank_auc(labels, _shuffled_scores(model, held, rng, repeats)).mean(axis=1)
    n1 = int(labels.sum())
    n0 = len(labels) - n1
    p = auc_p(auc, n0, n1)
    importance = np.maximum(drops, 0.0)
    total = float(importance.sum())
    share = importance / total if total > 0 else np.zeros(len(names))
    return MultivariateFit(auc, p, tuple(names), tuple(float(v) for v in importance),
                           tuple(float(v) for v in share), b.rows, t.rows, n0, n1)


def _shuffled_scores(model: Any, held: Array, rng: np.random.Generator, repeats: int) -> Array:
    """The model's scores of the held-out rows with each column shuffled in turn, ``repeats``
    times: shape ``(columns, repeats, rows)``, predicted in one call."""
    rows, cols = held.shape
    stack = np.tile(held, (cols * repeats, 1)).reshape(cols, repeats, rows, cols)
    for j in range(cols):
        for r in range(repeats):
            stack[j, r, :, j] = rng.permutation(held[:, j])
    out: Array = model.predict_proba(stack.reshape(-1, cols))[:, 1].reshape(cols, repeats, rows)
    return out


def fit_summary(fit: MultivariateFit) -> Mapping[str, Any]:
    """The result's detail of a fit: sample sizes (sampled, and held out), columns, model, top columns."""
    return {"baseline_rows": fit.n, "target_rows": fit.m, "held_out": [fit.held_n, fit.held_m],
            "columns": len(fit.columns),
            "top_columns": fit.top(), "model": "HistGradientBoostingClassifier"}
