"""The drift metrics: formulas over two distributions (their registry is
:mod:`monitor.drift.registry`).

Pure functions on numpy arrays. A numeric column is seen through a
:class:`NumericSide` (its CDF, quantiles, moments and counts), built either from
the values themselves (exact mode, and profiles whose sketch still holds every
value) or from a profile's quantile sketch. A categorical column is seen through
:class:`CategoryCounts`. Every function returns plain floats; ``None`` stands for
"undefined" and always comes with a reason in the caller's output.

Conventions: ``p`` is the baseline's distribution, ``q`` the target's; ``n`` and
``m`` their numbers of values; logarithms are natural (nats) unless stated.

Sampling noise is kept from deciding by the tests in :mod:`monitor.drift.noise`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from monitor.drift.sides import (  # re-exported: the inputs of the formulas
    Bins as Bins,
    CategoryCells as CategoryCells,
    CategoryCounts as CategoryCounts,
    NumericSide as NumericSide,
    category_cells as category_cells,
    reconcile_cells as reconcile_cells,
    quantile_bins as quantile_bins,
    rebucket as rebucket,
    side_from_counts as side_from_counts,
    side_from_histogram as side_from_histogram,
    side_from_values as side_from_values,
)
from monitor.profile.sketches import array_times_pow2, scale_exponent, times_pow2

Array = np.ndarray
Direction = Literal["higher", "p_value"]

EPSILON = 1e-4
"""Smallest share PSI uses (empty bins included), unless half an observation is larger."""
GRID = 4096
"""Quantile ranks per side used to evaluate sketch-based KS and Wasserstein."""
KS_EXACT_MAX_N = 10_000
"""Largest sample size for which the KS p-value is exact (as ``scipy.stats.ks_2samp``)."""
NUMERIC_KINDS = ("integer", "decimal", "datetime")
CATEGORICAL_KINDS = ("string", "categorical", "boolean")
VECTOR_KINDS = ("vector",)
ALL_KINDS = NUMERIC_KINDS + CATEGORICAL_KINDS + VECTOR_KINDS


# ---------------------------------------------------------------------------
# distances on shares


def empty_share(n: int) -> float:
    """The smallest share PSI uses on a side with ``n`` values (empty bins get it): ``max(EPSILON, 1 / (2 n))``."""
    return max(EPSILON, 0.5 / max(n, 1))


def psi(p: Array, q: Array, n: int, m: int) -> float:
    """Population Stability Index of the target against the baseline.

    Formula: ``sum_i (q_i - p_i) * ln(q_i / p_i)`` over the bins that hold values
    on either side, where a share below ``max(EPSILON, 1 / (2 * size))`` of its
    side (an empty bin, say) counts as that floor (``EPSILON = 1e-4``; half an
    observation for small samples).
    Units: nats (natural logarithm); 0 for identical shares, unbounded above.
    Direction: higher = more drift.
    Source: Siddiqi (2006), *Credit Risk Scorecards*; Yurdakul (2018),
    "Statistical properties of population stability index".

    :param p: baseline shares per bin; ``q`` target shares (same length).
    :param n: baseline number of values; ``m`` target number of values.
    """
    used = (p > 0) | (q > 0)
    pp = np.maximum(p, empty_share(n))[used]
    qq = np.maximum(q, empty_share(m))[used]
    return float(np.sum((qq - pp) * np.log(qq / pp)))


def js_distance(p: Array, q: Array) -> float:
    """Jensen-Shannon distance between two share vectors.

    Formula: ``sqrt((KL(p || a) + KL(q || a)) / 2)`` with ``a = (p + q) / 2`` and
    base-2 logarithms, as ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
    Units: none; in [0, 1] (0 = identical, 1 = disjoint).
    Direction: higher = more drift.
    Source: Lin (1991), "Divergence measures based on the Shannon entropy"; scipy.
    """
    if not (p.sum() > 0 and q.sum() > 0):
        return 0.0
    return float(np.clip(jensenshannon(p, q, base=2.0), 0.0, 1.0))


def hellinger(p: Array, q: Array) -> float:
    """Hellinger distance between two share vectors.

    Formula: ``sqrt(1 - sum_i sqrt(p_i * q_i))`` (= ``||sqrt p - sqrt q||_2 / sqrt 2``).
    Units: none; in [0, 1] (0 = identical, 1 = disjoint).
    Direction: higher = more drift.
    Source: Hellinger (1909); as in Evidently's ``hellinger`` drift method.
    """
    return float(math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(p * q))))))


def linf_distance(p: Array, q: Array) -> float:
    """L-infinity distance between two share vectors.

    Formula: ``max_i |p_i - q_i|`` over the shares given (the comparison passes
    the categories, not the "other" cell of values beyond a profile's cap).
    Units: share (0..1); 0 = identical.
    Direction: higher = more drift.
    Source: Deequ ``Distance.categoricalDistance`` (LInfinityMethod); TFDV's
    ``infinity_norm`` drift comparator.
    """
    return float(np.max(np.abs(p - q))) if p.size else 0.0


# ---------------------------------------------------------------------------
# numeric distances


def ks_test(base: NumericSide, target: NumericSide) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and its p-value.

    Formula: ``D = sup_x |F_b(x) - F_t(x)|`` with the inclusive empirical CDFs
    ``F(x) = P[X <= x]`` over all non-missing values (infinities included),
    evaluated at data values, so ties count as ``scipy.stats.ks_2samp`` counts them.
    From sketches the supremum is taken over both sketches' quantiles at
    ``GRID`` ranks each (error at most the sketches' rank errors plus ``1/GRID``)
    and the p-value comes from :func:`ks_p_value` with the real sample sizes.
    Units: share (0..1); p-value a probability.
    Direction: higher statistic (lower p-value) = more drift.
    Source: Smirnov (1939); ``scipy.stats.ks_2samp`` (method "auto").

    :returns: (statistic, two-sided p-value).
    """
    if base.raw and target.raw:
        with warnings.catch_warnings():  # scipy's own fallback to the asymptotic p-value, as ks_p_value
            warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful")
            res = stats.ks_2samp(base.all_values(), target.all_values())
        return float(res.statistic), float(res.pvalue)
    if base.values is not None and target.values is not None:
        d = _exact_ks(base, target)
    else:
        d = _sketch_ks(base, target)
    return d, ks_p_value(d, base.n, target.n)


def _exact_ks(base: NumericSide, target: NumericSide) -> float:
    assert base.values is not None and target.values is not None
    grid = np.union1d(base.values, target.values)
    if grid.size == 0:
        return abs(base.neg_inf / max(base.n, 1) - target.neg_inf / max(target.n, 1))
    grid = np.concatenate([[np.nextafter(grid[0], -np.inf)], grid])
    return float(np.max(np.abs(base.cdf(grid) - target.cdf(grid))))


def _sketch_ks(base: NumericSide, target: NumericSide) -> float:
    ranks = np.linspace(0.0, 1.0, GRID + 1)
    pts = [side.quantiles(ranks) for side in (base, target) if side.n_finite]
    grid = np.unique(np.concatenate(pts)) if pts else np.empty(0)
    if grid.size == 0:
        return abs(base.neg_inf / max(base.n, 1) - target.neg_inf / max(target.n, 1))
    grid = np.concatenate([[np.nextafter(grid[0], -np.inf)], grid])
    return float(np.max(np.abs(base.cdf(grid) - target.cdf(grid))))


def ks_p_value(d: float, n: int, m: int) -> float:
    """Two-sided p-value of a KS statistic ``d`` for sample sizes ``n`` and ``m``.

    Exact (scipy's path counting) when both sizes are at most ``KS_EXACT_MAX_N``,
    else Smirnov's limit ``kstwo.sf(d, round(n m / (n + m)))``: the definitions of
    ``scipy.stats.ks_2samp(method="auto")``. The exact value depends on ``d``
    only through its nearest attainable value ``h / lcm(n, m)``, so it is
    computed by the public ``ks_2samp(method="exact")`` on two samples of sizes
    ``n`` and ``m`` whose statistic is exactly that value (:func:`_ks_witness`).
    """
    if n and m and max(n, m) <= KS_EXACT_MAX_N:
        witness = _ks_witness(d, n, m)
        if witness is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)  # scipy warns when it falls back
                try:
                    res = stats.ks_2samp(*witness, alternative="two-sided", method="exact")
                except RuntimeWarning:
                    res = None
            if res is not None:
                return float(np.clip(res.pvalue, 0.0, 1.0))
    big, small = max(n, m), min(n, m)
    return float(np.clip(stats.kstwo.sf(d, np.round(big * small / (big + small))), 0.0, 1.0))


def _ks_witness(d: float, n: int, m: int) -> tuple[Array, Array] | None:
    """Two samples of sizes ``n`` and ``m`` whose KS statistic is the smallest
    attainable value ``>= h / lcm(n, m)``, ``h = round(d * lcm(n, m))`` (scipy's
    rounding), so ``P(D >= statistic)`` is the p-value of ``d``: ``i`` zeros and
    ``n - i`` ones against ``j`` zeros and ``m - j`` ones, with
    ``|i / n - j / m|`` that value. None when ``d > 1``.
    """
    g = math.gcd(n, m)
    p, q = m // g, n // g  # lcm / n and lcm / m: |i / n - j / m| = |i p - j q| / lcm
    h = max(0, int(round(d * n * p)))
    best: tuple[int, int, int] | None = None
    for i in range(n + 1):
        below = (i * p - h) // q  # the largest j with i p - j q >= h
        above = -((-(h + i * p)) // q)  # the smallest j with j q - i p >= h
        for j in (below, above):
            if 0 <= j <= m and abs(i * p - j * q) >= h and (best is None or abs(i * p - j * q) < best[0]):
                best = (abs(i * p - j * q), i, j)
        if best is not None and best[0] == h:
            break
    if best is None:
        return None
    _, i, j = best
    return (np.concatenate([np.zeros(i), np.ones(n - i)]), np.concatenate([np.zeros(j), np.ones(m - j)]))


def _quantile_cells() -> tuple[Array, Array]:
    edges = np.linspace(0.0, 1.0, GRID + 1)
    tail = np.geomspace(1e-7, 1.0 / GRID, 48)
    edges = np.unique(np.concatenate([edges, tail, 1.0 - tail]))
    return (edges[:-1] + edges[1:]) / 2.0, np.diff(edges)


def wasserstein(base: NumericSide, target: NumericSide) -> float | None:
    """Wasserstein-1 (earth mover's) distance between the finite values.

    Formula: ``W1 = integral |F_b(x) - F_t(x)| dx = integral_0^1 |Q_b(u) - Q_t(u)| du``.
    From data: ``scipy.stats.wasserstein_distance``. From sketches:
    ``|mean_t - mean_b| + 2 * (area where Q_t - Q_b has the sign opposite to the
    mean change)``, the mean change from the exact moments and the minority area
    from both sketches' quantiles, leaving out the outer ``rank_error`` of ranks
    where a sketch cannot tell values apart.
    Units: the column's units (seconds for datetimes). Direction: higher = more drift.
    Source: Vaserstein (1969); ``scipy.stats.wasserstein_distance``.
    """
    if base.n_finite == 0 or target.n_finite == 0:
        return None
    e = _wide_exponent(base, target)
    if base.values is not None and target.values is not None:
        bv, tv = (array_times_pow2(v, -e) if e else v for v in (base.values, target.values))
        return times_pow2(float(stats.wasserstein_distance(bv, tv, base.counts, target.counts)), e)
    mid, width = _quantile_cells()
    qb, qt = base.quantiles(mid), target.quantiles(mid)
    diff = ((array_times_pow2(qt, -e) - array_times_pow2(qb, -e)) if e else (qt - qb)) * width
    shift = times_pow2(target.mean or 0.0, -e) - times_pow2(base.mean or 0.0, -e)
    tau = max(base.rank_error, target.rank_error)
    inner = (mid > tau) & (mid < 1.0 - tau)
    against = -diff[inner & (diff < 0)].sum() if shift >= 0 else diff[inner & (diff > 0)].sum()
    return times_pow2(abs(shift) + 2.0 * float(against), e)


def _wide_exponent(base: NumericSide, target: NumericSide) -> int:
    """0, or for values from 2**1020 on (whose differences may leave the double range)
    the ``e`` such that values times ``2**-e`` (exact) are below 1; ``W1(cX, cY) = c W1(X, Y)``."""
    peak = max(abs(v) for v in (base.low, base.high, target.low, target.high) if v is not None)
    return scale_exponent(peak) if peak >= 2.0**1020 else 0


def mean_change(base: NumericSide, target: NumericSide) -> float | None:
    """Change in mean in baseline standard deviations.

    Formula: ``(mean_t - mean_b) / std_b`` over finite values, ``std_b`` with ddof=1;
    the metric's value is its absolute value (the sign is in the detail).
    Units: baseline standard deviations. Direction: higher = more drift.
    Source: standardised mean difference (Cohen's d with the baseline's s.d.).
    """
    if base.mean is None or target.mean is None or not base.std:
        return None
    change = target.mean - base.mean
    if math.isinf(change):  # means near opposite ends of the double range: halve first (exact)
        return (0.5 * target.mean - 0.5 * base.mean) / base.std * 2.0
    return change / base.std


def wasserstein_normed(distance: float | None, baseline_std: float | None) -> float | None:
    """Wasserstein-1 distance in baseline standard deviations.

    Formula: ``W1(baseline, target) / std_b`` (``std_b`` with ddof=1, finite values);
    ``None`` when the baseline's standard deviation is 0 or undefined.
    Units: baseline standard deviations. Direction: higher = more drift.
    Source: Evidently's "Wasserstein distance (normed)"; ``scipy.stats.wasserstein_distance``.
    """
    if distance is None or not baseline_std:
        return None
    return distance / baseline_std


def missing_rate_change(missing_b: int, rows_b: int, missing_t: int, rows_t: int) -> float | None:
    """Change in the share of missing values (null or NaN).

    Formula: ``missing_t / rows_t - missing_b / rows_b`` (signed; the metric's
    value is its absolute value, the L-infinity distance between the two
    {missing, present} distributions); ``None`` when a side has no rows.
    Units: share of rows (0..1). Direction: higher = more drift.
    Source: Azure ML data drift "missing values" feature; Deequ Completeness.
    """
    if not rows_b or not rows_t:
        return None
    return missing_t / rows_t - missing_b / rows_b


_FAMILY = {"integer": "number", "decimal": "number", "datetime": "datetime",
           "string": "text", "categorical": "text", "boolean": "boolean"}


def kind_family(kind: str) -> str:
    """Kinds whose values can be compared: number (integer, decimal), datetime, text, boolean."""
    return _FAMILY.get(kind, kind)


def type_change(kind_b: str, kind_t: str) -> float:
    """Whether a column's type changed.

    Formula: 1 when the kinds differ, except string <-> categorical (the same text
    values; "categorical" only says few distinct values were seen), else 0.
    Units: 0 or 1. Direction: higher = more drift.
    Source: schema comparison, as TFDV's schema anomalies and Azure ML's schema drift.
    """
    return float(kind_b != kind_t and not (kind_family(kind_b) == kind_family(kind_t) == "text"))


def column_removed(in_target: bool) -> float:
    """Whether a baseline column is missing from the target.

    Formula: 1 when the column is absent from the target, else 0. Units: 0 or 1.
    Direction: higher = more drift. Source: schema comparison (TFDV schema anomalies).
    """
    return 0.0 if in_target else 1.0


def row_count_change(rows_b: int, rows_t: int) -> tuple[float, float | None]:
    """Change in the number of rows.

    Formula: ``|rows_t - rows_b|`` and its relative form ``|rows_t - rows_b| / rows_b``
    (``None`` when the baseline has no rows). Units: rows; relative: share of the
    baseline's rows. Direction: higher = more drift. Source: volume checks (Deequ
    ``Size``; WhyLabs volume monitors).
    """
    change = float(abs(rows_t - rows_b))
    return change, (change / rows_b if rows_b else None)


def total_variation(p: Array, q: Array) -> float:
    """Total variation distance between two share vectors.

    Formula: ``sum_i |p_i - q_i| / 2``. Units: none; in [0, 1] (0 = identical, 1 = disjoint).
    Source: the L1 distance of probability measures (Levin, Peres & Wilmer 2009, 4.1).
    """
    return float(np.clip(np.abs(p - q).sum() / 2.0, 0.0, 1.0)) if p.size else 0.0


# ---------------------------------------------------------------------------
# tests on counts


def chi_square(base: Array, target: Array) -> tuple[float, float, int]:
    """Pearson's chi-square test of homogeneity on a 2 x k table of counts.

    Formula: ``sum (O - E)^2 / E`` over the table, ``E`` from the margins; Yates'
    continuity correction when dof = 1 (``scipy.stats.chi2_contingency`` defaults).
    Units: statistic unitless; p-value a probability. Direction: p-value (lower =
    more drift). Source: Pearson (1900); ``scipy.stats.chi2_contingency``.

    :returns: (statistic, p-value, degrees of freedom); (0, 1, 0) for one cell.
    """
    if base.size < 2:
        return 0.0, 1.0, 0
    res = stats.chi2_contingency(np.vstack([base, target]))
    return float(res.statistic), float(res.pvalue), int(res.dof)


def bh_adjust(p_values: Sequence[float]) -> Array:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``)."""
    if not p_values:
        return np.empty(0)
    return np.asarray(stats.false_discovery_control(np.asarray(p_values, dtype=np.float64), method="bh"))

