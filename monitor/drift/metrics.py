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

Sampling noise (see ``docs/metrics.md``): decisions on the KS statistic, the
L-infinity distance and the missing-rate change subtract
``NOISE_C * sqrt(1/n + 1/m)`` (Deequ's robust L-infinity with
``c(alpha) = sqrt(-ln(alpha/2) / 2)``, ``alpha = NOISE_ALPHA``); decisions on PSI
subtract ``(1/n + 1/m) * chi2.ppf(1 - NOISE_ALPHA, k - 1)``, the same quantile of
PSI's own null distribution (Yurdakul 2018).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from monitor.profile.sketches import Moments, array_times_pow2, scale_exponent, times_pow2

Array = np.ndarray
Direction = Literal["higher", "p_value"]

EPSILON = 1e-4
"""Smallest share PSI uses (empty bins included), unless half an observation is larger."""
NOISE_ALPHA = 0.05
"""Tail probability of the noise allowances (KS, L-infinity, missing rate, PSI)."""
NOISE_C = math.sqrt(-math.log(NOISE_ALPHA / 2) / 2)
"""Deequ's ``c(alpha)`` for ``NOISE_ALPHA``: 1.3581, the two-sample KS 5% critical value."""
GRID = 4096
"""Quantile ranks per side used to evaluate sketch-based KS and Wasserstein."""
KS_EXACT_MAX_N = 10_000
"""Largest sample size for which the KS p-value is exact (as ``scipy.stats.ks_2samp``)."""
NUMERIC_KINDS = ("integer", "decimal", "datetime")
CATEGORICAL_KINDS = ("string", "categorical", "boolean")
ALL_KINDS = NUMERIC_KINDS + CATEGORICAL_KINDS


# ---------------------------------------------------------------------------
# the two sides of a comparison


@dataclass(frozen=True)
class NumericSide:
    """One snapshot's non-missing values of a numeric column.

    :ivar values: the finite values, sorted, when known exactly (every value, or
        each distinct value once with ``counts``); else ``None``.
    :ivar counts: multiplicity of each of ``values``; ``None`` when ``values`` holds
        every value (raw data).
    :ivar finite_cdf: fraction of finite values ``<= x`` for a 1-D float64 array.
    :ivar finite_quantiles: inclusive quantiles of the finite values (the smallest
        value whose CDF reaches the rank) for ranks in (0, 1).
    :ivar rank_error: normalised rank error of ``finite_cdf`` (0 when exact).
    :ivar interpolated: True when the CDF comes from a few quantiles, with mass
        spread uniformly within each bin.
    """

    n_finite: int
    neg_inf: int
    pos_inf: int
    low: float | None
    high: float | None
    mean: float | None
    std: float | None
    rank_error: float
    values: Array | None
    finite_cdf: Callable[[Array], Array]
    finite_quantiles: Callable[[Array], Array]
    counts: Array | None = None
    interpolated: bool = False

    @property
    def n(self) -> int:
        """Number of non-missing values, infinities included."""
        return self.n_finite + self.neg_inf + self.pos_inf

    @property
    def raw(self) -> bool:
        """True when :attr:`values` holds every finite value (data, not a summary)."""
        return self.values is not None and self.counts is None

    def cdf(self, points: Array) -> Array:
        """Fraction of all non-missing values ``<= x`` (infinities included) at finite points."""
        pts = np.asarray(points, dtype=np.float64)
        finite = self.finite_cdf(pts) if self.n_finite else np.zeros(pts.shape)
        return (self.neg_inf + self.n_finite * np.clip(finite, 0.0, 1.0)) / max(self.n, 1)

    def quantiles(self, ranks: Array) -> Array:
        """Inclusive quantiles of the finite values; rank 0 is the minimum, 1 the maximum."""
        r = np.asarray(ranks, dtype=np.float64)
        inner = (r > 0) & (r < 1)
        low = math.nan if self.low is None else self.low
        high = math.nan if self.high is None else self.high
        out: Array = np.where(r <= 0, low, high)
        if inner.any():
            out[inner] = self.finite_quantiles(r[inner])
        return out

    def all_values(self) -> Array:
        """Every non-missing value, infinities included (only for raw data)."""
        assert self.values is not None and self.counts is None
        return np.concatenate([np.full(self.neg_inf, -np.inf), self.values, np.full(self.pos_inf, np.inf)])


def side_from_values(values: Array) -> NumericSide:
    """A :class:`NumericSide` from data.

    :param values: 1-D float64 array of non-missing values (NaN removed, infinities allowed).
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.sort(v[np.isfinite(v)])
    n = finite.size
    neg, pos = int(np.count_nonzero(v == -np.inf)), int(np.count_nonzero(v == np.inf))
    moments = Moments.of(finite, max(-float(finite[0]), float(finite[-1]))) if n else Moments()
    return NumericSide(
        n, neg, pos, float(finite[0]) if n else None, float(finite[-1]) if n else None,
        moments.mean if n else None, moments.std, 0.0, finite,
        lambda x: np.searchsorted(finite, x, side="right") / n,
        lambda r: np.quantile(finite, r, method="inverted_cdf"),
    )


def side_from_counts(values: Array, counts: Array, *, neg_inf: int = 0, pos_inf: int = 0,
                     mean: float | None = None, std: float | None = None) -> NumericSide:
    """An exact :class:`NumericSide` from distinct finite values and their counts.

    :param values: 1-D sorted array of distinct finite values; ``counts`` their
        positive integer counts (same length, at least one value).
    """
    vals = np.asarray(values, dtype=np.float64)
    cum = np.cumsum(np.asarray(counts, dtype=np.int64))
    n = int(cum[-1])

    def quantiles(r: Array) -> Array:  # as numpy.quantile(..., method="inverted_cdf") on the expanded values
        pos = np.clip(np.ceil(n * np.asarray(r, dtype=np.float64)) - 1, 0, n - 1)
        out: Array = vals[np.searchsorted(cum, pos, side="right")]
        return out

    return NumericSide(
        n, neg_inf, pos_inf, float(vals[0]), float(vals[-1]), mean, std, 0.0, vals,
        lambda x: np.concatenate([[0], cum])[np.searchsorted(vals, x, side="right")] / n,
        quantiles, counts=np.asarray(counts, dtype=np.int64),
    )


def side_from_histogram(edges: Array, fractions: Array, *, n_finite: int, neg_inf: int = 0, pos_inf: int = 0,
                        mean: float | None = None, std: float | None = None) -> NumericSide:
    """A :class:`NumericSide` whose CDF is piecewise linear between ``edges``.

    Mass is spread uniformly within each bin (as TFDV does), so evaluating this
    CDF at another summary's edges re-buckets onto the union of both edge sets.

    :param edges: 1-D increasing array of ``len(fractions) + 1`` finite bin edges.
    :param fractions: share of the finite values in each bin (sums to 1).
    """
    e = np.asarray(edges, dtype=np.float64)
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(fractions, dtype=np.float64))])
    cum = cum / cum[-1] if cum[-1] > 0 else cum
    return NumericSide(
        n_finite, neg_inf, pos_inf, float(e[0]), float(e[-1]), mean, std, 0.0, None,
        lambda x: np.interp(x, e, cum, left=0.0, right=1.0),
        lambda r: np.interp(r, cum, e), interpolated=True,
    )


def rebucket(edges: Array, fractions: Array, new_edges: Array) -> Array:
    """Shares of a histogram re-bucketed onto ``new_edges``, mass uniform within a bin.

    :param edges: increasing bin edges (length ``len(fractions) + 1``).
    :param fractions: share of each bin.
    :param new_edges: increasing edges of the target bins.
    :returns: 1-D array of ``len(new_edges) - 1`` shares.
    """
    side = side_from_histogram(edges, fractions, n_finite=1)
    return np.diff(side.finite_cdf(np.asarray(new_edges, dtype=np.float64)))


@dataclass(frozen=True)
class CategoryCounts:
    """Exact counts of a column's categories; ``other`` counts values outside ``counts``."""

    counts: Mapping[str, int]
    other: int = 0

    @property
    def total(self) -> int:
        """Number of non-missing values."""
        return int(sum(self.counts.values())) + self.other


@dataclass(frozen=True)
class CategoryCells:
    """The cells both categorical distributions are compared on.

    :ivar labels: category names; the last is ``other_label`` when there is an "other" cell.
    :ivar baseline: counts per cell; ``target`` likewise.
    :ivar folded: categories moved into "other" because the other side could not
        count them (they are in its own "other" bucket).
    """

    labels: tuple[str, ...]
    baseline: Array
    target: Array
    other_label: str | None
    folded: int


def _known(label: str, side: CategoryCounts) -> bool:
    return label in side.counts or side.other == 0


def category_cells(base: CategoryCounts, target: CategoryCounts, other_label: str = "other") -> CategoryCells:
    """Cells on which two category distributions are compared.

    A category is its own cell when its count is known on both sides (listed, or
    absent from a side that has no "other" bucket, so its count there is 0). Every
    other category is folded into one "other" cell on both sides, so no value is
    dropped and both sides' "other" cells hold the same categories.
    """
    names = list(dict.fromkeys([*base.counts, *target.counts]))
    keep = [c for c in names if _known(c, base) and _known(c, target)]
    folded = len(names) - len(keep)
    b = [int(base.counts.get(c, 0)) for c in keep]
    t = [int(target.counts.get(c, 0)) for c in keep]
    b_other, t_other = base.total - sum(b), target.total - sum(t)
    label = other_label if other_label not in keep else f"({other_label})"
    has_other = bool(b_other or t_other)
    if has_other:
        keep, b, t = [*keep, label], [*b, b_other], [*t, t_other]
    return CategoryCells(tuple(keep), np.asarray(b, dtype=np.float64), np.asarray(t, dtype=np.float64),
                         label if has_other else None, folded)


# ---------------------------------------------------------------------------
# bins of numeric columns


@dataclass(frozen=True)
class Bins:
    """PSI bins: ``(-inf, e0)``, ``[e0, e1]``, ``(e1, e2]`` ... ``(e_last, +inf]``.

    :ivar edges: the baseline's distinct quantile edges (minimum first, maximum last).
    :ivar baseline: share of the baseline's non-missing values per bin (sums to 1);
        ``target`` likewise. The first and last bins hold values outside the
        baseline's finite range, infinities included.
    """

    edges: Array
    baseline: Array
    target: Array


def quantile_bins(base: NumericSide, target: NumericSide, bins: int = 10) -> Bins | None:
    """Bins from the baseline's quantiles at ranks ``i / bins``, plus one bin below
    and one above the baseline's finite range. ``None`` when the baseline has no
    finite value."""
    if base.low is None or base.high is None:
        return None
    inner = base.quantiles(np.arange(1, bins) / bins)
    edges = np.unique(np.concatenate([[base.low], inner, [base.high]]))
    cuts = np.concatenate([[np.nextafter(edges[0], -np.inf)], edges[1:] if edges.size > 1 else edges])

    def shares(side: NumericSide) -> Array:
        cum = np.concatenate([[0.0], np.maximum.accumulate(side.cdf(cuts)), [1.0]])
        return np.clip(np.diff(cum), 0.0, 1.0)

    return Bins(edges, shares(base), shares(target))


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


def psi_noise(cells: int, n: int, m: int, alpha: float = NOISE_ALPHA) -> float:
    """PSI that sampling noise alone exceeds with probability ``alpha``.

    Under no drift ``PSI ~ (1/n + 1/m) * chi2(cells - 1)`` (Yurdakul 2018), so this is
    ``(1/n + 1/m) * chi2.ppf(1 - alpha, cells - 1)``; 0 for a single cell.
    """
    if cells < 2 or n <= 0 or m <= 0:
        return 0.0
    return float((1.0 / n + 1.0 / m) * stats.chi2.ppf(1.0 - alpha, cells - 1))


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

    Formula: ``max_i |p_i - q_i|`` over the categories ("other" included).
    Units: share (0..1); 0 = identical.
    Direction: higher = more drift.
    Source: Deequ ``Distance.categoricalDistance`` (LInfinityMethod); TFDV's
    ``infinity_norm`` drift comparator.
    """
    return float(np.max(np.abs(p - q))) if p.size else 0.0


def noise_floor(n: int, m: int, c: float = NOISE_C) -> float:
    """Deequ's sample-size correction ``c * sqrt((n + m) / (n * m))`` for an L-infinity distance."""
    if n <= 0 or m <= 0:
        return 1.0
    return c * math.sqrt((n + m) / (n * m))


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
