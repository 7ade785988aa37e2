"""The metric registry: each drift metric's kinds, direction, default thresholds,
units, formula, source and noise handling (:data:`METRICS`), printed by
``drift-monitor metrics``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.drift.metrics import (
    ALL_KINDS,
    CATEGORICAL_KINDS,
    NUMERIC_KINDS,
    VECTOR_KINDS,
    Direction,
    chi_square,
    column_removed,
    hellinger,
    js_distance,
    ks_test,
    linf_distance,
    mean_change,
    missing_rate_change,
    psi,
    row_count_change,
    type_change,
    wasserstein,
    wasserstein_normed,
)
from monitor.drift.multivariate import domain_classifier
from monitor.drift.overlap import IDENTIFIER_RATIO, OVERLAP_ALPHA, new_values
from monitor.drift.vectors import PERMUTATIONS, classifier_auc, cosine_distance, mean_distance, mmd2_unbiased

__all__ = ["METRICS", "METRIC_FUNCTIONS", "Metric", "metric_table"]


# ---------------------------------------------------------------------------
# the registry


@dataclass(frozen=True)
class Metric:
    """A drift metric as the registry declares it.

    :ivar kinds: column kinds it applies to.
    :ivar direction: ``"higher"`` (higher = more drift) or ``"p_value"`` (lower = more drift).
    :ivar warning: default warning threshold, ``None`` = does not decide by default;
        ``critical`` likewise.
    :ivar noise: how sampling noise is kept from deciding, or ``None``.
    :ivar relative: what its relative thresholds compare, for metrics that have
        them (``relative_warning``, ``relative_critical``); else ``None``.
    """

    name: str
    kinds: tuple[str, ...]
    direction: Direction
    warning: float | None
    critical: float | None
    units: str
    formula: str
    source: str
    noise: str | None = None
    relative: str | None = None

    def row(self) -> dict[str, Any]:
        """The metric as a JSON-able dict (for ``drift-monitor metrics``)."""
        return {"name": self.name, "kinds": list(self.kinds), "direction": self.direction,
                "warning": self.warning, "critical": self.critical, "units": self.units,
                "formula": self.formula, "source": self.source, "noise": self.noise,
                "relative": self.relative}


_BONF = "flags only when also significant at false_alarm_rate / pairs (Bonferroni over the comparison)"
_BOOT = f"{_BONF}: null distribution from a parametric bootstrap of the pooled shares (three-moment chi-square fit)"
_PERM = (f"{_BONF}: null distribution from {PERMUTATIONS} seeded random splits of the pooled reservoir samples "
         f"(three-moment chi-square fit)")
_MEANS = ("each split's means: the pooled mean of all vectors plus the split's deviations scaled by "
          "sqrt((1/n + 1/m) / (1/n_s + 1/m_s))")
_METRICS = (
    Metric("ks_statistic", NUMERIC_KINDS, "higher", 0.1, 0.2, "share (0..1)",
           "sup_x |F_b(x) - F_t(x)|, inclusive CDFs", "Smirnov 1939; scipy.stats.ks_2samp",
           f"{_BONF}: the KS p-value (scipy.stats.ks_2samp)"),
    Metric("ks_test", NUMERIC_KINDS, "p_value", None, None, "probability",
           "two-sided p-value of the KS statistic for sizes n, m", "scipy.stats.ks_2samp (exact <= 10000, else kstwo)",
           "Benjamini-Hochberg across columns when it decides"),
    Metric("psi", NUMERIC_KINDS + CATEGORICAL_KINDS, "higher", 0.1, 0.25, "nats",
           "sum (q - p) ln(q / p); shares floored at max(1e-4, 1/(2n))", "Siddiqi 2006; Yurdakul 2018", _BOOT),
    Metric("wasserstein", NUMERIC_KINDS, "higher", None, None, "column units",
           "integral |F_b - F_t| dx", "scipy.stats.wasserstein_distance"),
    Metric("wasserstein_normed", NUMERIC_KINDS, "higher", None, None, "baseline standard deviations",
           "W1 / std_b", "Evidently 'Wasserstein distance (normed)'"),
    Metric("js_distance", NUMERIC_KINDS + CATEGORICAL_KINDS, "higher", None, None, "none (0..1, base 2)",
           "sqrt((KL(p||a) + KL(q||a)) / 2), a = (p + q) / 2", "Lin 1991; scipy.spatial.distance.jensenshannon",
           _BOOT),
    Metric("hellinger", NUMERIC_KINDS + CATEGORICAL_KINDS, "higher", None, None, "none (0..1)",
           "sqrt(1 - sum sqrt(p q))", "Hellinger 1909", _BOOT),
    Metric("mean_change", NUMERIC_KINDS, "higher", 0.2, 0.5, "baseline standard deviations",
           "|mean_t - mean_b| / std_b", "standardised mean difference; Cohen 1988 (0.2 small, 0.5 medium)",
           f"{_BONF}: Welch's z on the two means"),
    Metric("chi_square", CATEGORICAL_KINDS, "p_value", None, None, "probability",
           "Pearson chi-square on the 2 x k table of counts", "scipy.stats.chi2_contingency",
           "Benjamini-Hochberg across columns when it decides"),
    Metric("linf_distance", CATEGORICAL_KINDS, "higher", 0.03, 0.15, "share (0..1)",
           "max |p_i - q_i| over categories and 'other'", "Deequ categoricalDistance; TFDV infinity_norm",
           f"{_BONF} and the categories: a category counts when its two-proportion z-test (pooled, continuity "
           f"corrected) rejects", relative="|p_i - q_i| / p_i of the categories that count"),
    Metric("new_values", CATEGORICAL_KINDS, "higher", 0.5, 0.9, "share of the target's distinct values (0..1)",
           "|T \\ B| / |T| over distinct values (theta_a_not_b; exact from category counts when both list every value)",
           "theta sketch set difference: Dasgupta et al. 2016 'A Framework for Estimating Stream Expression "
           "Cardinalities'; Apache DataSketches",
           f"decides on max(0, value - the {1 - OVERLAP_ALPHA:g} upper bound of the share expected under a random "
           f"split of the pooled rows); never for near-unique identifiers (distinct / values > {IDENTIFIER_RATIO:g} "
           f"on either side)"),
    Metric("cosine_distance", VECTOR_KINDS, "higher", None, None, "none (0..2)",
           "1 - <mu_b, mu_t> / (|mu_b| |mu_t|) of the mean vectors", "cosine distance; numpy",
           f"{_PERM}; {_MEANS}"),
    Metric("mean_distance", VECTOR_KINDS, "higher", 0.1, 0.3, "pooled standard deviations (root mean square)",
           "sqrt(mean_j ((mu_t,j - mu_b,j) / s_j)^2), s_j the pooled per-dimension standard deviation",
           "standardised Euclidean distance of the means; Cohen 1988 per dimension",
           f"{_PERM}; {_MEANS}"),
    Metric("mmd", VECTOR_KINDS, "higher", 0.015, 0.05, "squared kernel distance (0..2)",
           "unbiased MMD^2, RBF kernel exp(-|x-y|^2 / (2 sigma^2)), sigma the median pooled distance",
           "Gretton et al. 2012 'A Kernel Two-Sample Test' (eq. 3); on the reservoir samples", _PERM),
    Metric("classifier_auc", VECTOR_KINDS, "higher", 0.55, 0.65, "ROC AUC (0.5 = no drift)",
           "AUC of a logistic regression, target vs baseline sample, fitted on a stratified half and "
           "scored on the held-out half",
           "Lopez-Paz & Oquab 2017 'Revisiting Classifier Two-Sample Tests'; scikit-learn",
           f"{_BONF}: one-sided Mann-Whitney z of the AUC, sd sqrt((n+m+1) / (12 n m)) of the held-out rows"),
    Metric("missing_rate_change", ALL_KINDS, "higher", 0.02, 0.10, "share of rows (0..1)",
           "|missing_t / rows_t - missing_b / rows_b|", "L-infinity distance of {missing, present}",
           f"{_BONF}: two-proportion z-test on the row counts (pooled, continuity corrected); a column "
           f"becoming entirely missing (or entirely present) is at least a warning when significant",
           relative="change / missing rate of the baseline"),
    Metric("type_change", ALL_KINDS, "higher", 1.0, None, "0 or 1",
           "1 when the column's kind changed (string <-> categorical excepted)", "schema comparison"),
    Metric("column_removed", ALL_KINDS, "higher", 1.0, None, "0 or 1",
           "1 when a baseline column is missing from the target", "schema comparison (TFDV schema anomalies)"),
    Metric("multivariate_auc", ("dataset",), "higher", 0.55, 0.65, "ROC AUC (0.5 = no drift)",
           "AUC of gradient-boosted-tree scores on a held-out half (stratified) of the pooled target and baseline "
           "row samples over the numeric, boolean, datetime and categorical columns; columns ranked by permutation "
           "importance on the held-out rows",
           "Lopez-Paz & Oquab 2017 'Revisiting Classifier Two-Sample Tests'; NannyML domain classifier; "
           "scikit-learn HistGradientBoostingClassifier",
           f"{_BONF}: one-sided Mann-Whitney z of the AUC, sd sqrt((n+m+1) / (12 n m)) of the held-out rows"),
    Metric("row_count_change", ("dataset",), "higher", None, None, "rows",
           "|rows_t - rows_b|", "volume check (Deequ Size; WhyLabs volume monitor)",
           relative="|rows_t - rows_b| / rows_b"),
)
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}
"""Every metric by name."""


METRIC_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ks_statistic": ks_test, "ks_test": ks_test, "psi": psi, "wasserstein": wasserstein,
    "wasserstein_normed": wasserstein_normed, "js_distance": js_distance, "hellinger": hellinger,
    "mean_change": mean_change, "chi_square": chi_square, "linf_distance": linf_distance,
    "missing_rate_change": missing_rate_change, "type_change": type_change, "new_values": new_values,
    "column_removed": column_removed, "row_count_change": row_count_change,
    "cosine_distance": cosine_distance, "mean_distance": mean_distance, "mmd": mmd2_unbiased,
    "classifier_auc": classifier_auc, "multivariate_auc": domain_classifier,
}
"""The function computing each metric; its docstring gives formula, units, direction and source."""


def metric_table() -> list[dict[str, Any]]:
    """The registry as rows: name, kinds, direction, warning, critical, source (and units, formula, noise)."""
    return [m.row() for m in _METRICS]
