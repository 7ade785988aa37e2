"""Sampling noise: when is a measured change beyond what chance alone gives?

Every deciding effect size is guarded by a test of "no change" at a per-pair
level ``alpha / K``, where ``alpha`` is the dataset's false-alarm rate and ``K``
the number of guarded (column, metric) pairs that decide in the comparison
(Bonferroni), so the probability that a no-drift comparison raises any alarm is
at most ``alpha`` (union bound). A metric flags only when its change is both
*significant* at that level and *at least its threshold*: the threshold says how
large a change matters, the test says the change is real.

The tests, one per kind of metric:

- shares of rows (missing rate, each category's share): the two-proportion
  z-test with the pooled share and Yates' continuity correction
  (Fleiss, Levin & Paik 2003, *Statistical Methods for Rates and Proportions*,
  section 3.3); across the cells of a categorical column, Bonferroni again;
- the KS statistic: its own p-value (``scipy.stats.ks_2samp``);
- the mean change: Welch's z, ``(mean_t - mean_b) / sqrt(s_b^2/n + s_t^2/m)``;
- PSI, Jensen-Shannon and Hellinger on bins or categories: a parametric
  bootstrap from the pooled shares (both sides drawn from one multinomial, as
  under no drift), whose mean, variance and skewness fit a shifted, scaled
  chi-square (the three-moment approximation of quadratic forms: Pearson 1959;
  Liu, Tang & Zhang 2009) read at ``1 - alpha / K``; at most
  :data:`BOOTSTRAP_DRAWS` draws per column, deterministic for given counts.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from monitor.drift.metrics import empty_share

Array = np.ndarray

BOOTSTRAP_DRAWS = 2000
"""Most parametric bootstrap draws per column for the PSI / JS / Hellinger null distribution
(fewer for many cells: ``BOOTSTRAP_CELLS // cells``, at least 200)."""
BOOTSTRAP_CELLS = 400_000
"""Budget of drawn cells per side and column for the bootstrap."""


def pair_alpha(alpha: float, pairs: int) -> float:
    """Per-pair test level: ``alpha / pairs`` (Bonferroni); ``alpha`` when there is at most one pair."""
    return alpha / max(pairs, 1)


def two_proportion_p(x1: float, n1: float, x2: float, n2: float) -> float:
    """Two-sided p-value of ``x1 / n1 == x2 / n2``: pooled z-test with continuity correction.

    Formula: ``z = (|x1/n1 - x2/n2| - (1/n1 + 1/n2) / 2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with
    the pooled share ``p = (x1 + x2) / (n1 + n2)``, ``p_value = 2 * (1 - Phi(z))`` (Fleiss et al. 2003,
    3.3; the continuity correction of Yates 1934). 1 when a side is empty or both shares are equal.

    :param x1: count of the event among ``n1`` trials on the baseline side; ``x2``, ``n2`` the target's.
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    diff = abs(x1 / n1 - x2 / n2)
    pooled = (x1 + x2) / (n1 + n2)
    spread = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    corrected = diff - 0.5 * (1.0 / n1 + 1.0 / n2)
    if corrected <= 0 or spread <= 0:
        return 1.0 if corrected <= 0 else 0.0
    return float(min(1.0, 2.0 * stats.norm.sf(corrected / math.sqrt(spread))))


def two_proportion_p_many(x1: Array, n1: float, x2: Array, n2: float) -> Array:
    """:func:`two_proportion_p` for many cells at once (1-D arrays of counts)."""
    a, b = np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    if n1 <= 0 or n2 <= 0:
        return np.ones(a.shape)
    diff = np.abs(a / n1 - b / n2)
    pooled = (a + b) / (n1 + n2)
    spread = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    corrected = diff - 0.5 * (1.0 / n1 + 1.0 / n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(spread > 0, corrected / np.sqrt(np.where(spread > 0, spread, 1.0)), np.inf)
    p = np.where(corrected <= 0, 1.0, 2.0 * stats.norm.sf(z))
    out: Array = np.minimum(p, 1.0)
    return out


def welch_p(mean_b: float, std_b: float, n: int, mean_t: float, std_t: float, m: int) -> float:
    """Two-sided p-value of equal means from Welch's z (normal approximation).

    Formula: ``z = (mean_t - mean_b) / sqrt(s_b^2 / n + s_t^2 / m)``; ``2 (1 - Phi(|z|))``
    (Welch 1947, large-sample form). 1 when the standard error is 0 and the means agree, else 0.
    """
    if n < 2 or m < 2:
        return 1.0
    se = math.sqrt(std_b * std_b / n + std_t * std_t / m) if math.isfinite(std_b) and math.isfinite(std_t) else math.inf
    diff = abs(mean_t - mean_b)
    if se == 0:
        return 1.0 if diff == 0 else 0.0
    if not math.isfinite(se):
        return 1.0
    return float(2.0 * stats.norm.sf(diff / se))


@dataclass(frozen=True)
class NullFit:
    """A statistic's null distribution summarised by its bootstrap moments.

    :ivar mean: bootstrap mean of the statistic; ``var`` its variance; ``skew`` its skewness;
        ``draws`` how many draws.
    """

    mean: float
    var: float
    skew: float
    draws: int

    def quantile(self, alpha: float) -> float:
        """The value the statistic exceeds with probability ``alpha`` under no change.

        Three-moment chi-square approximation: ``mean + sd * (chi2.isf(alpha, nu) - nu) / sqrt(2 nu)``
        with ``nu = 8 / skew^2`` (Pearson 1959; Liu, Tang & Zhang 2009); the normal quantile when
        the skewness is not positive.
        """
        if self.draws == 0 or self.var <= 0:
            return max(self.mean, 0.0)
        sd = math.sqrt(self.var)
        if self.skew <= 1e-3:
            return float(self.mean + sd * stats.norm.isf(alpha))
        nu = 8.0 / (self.skew * self.skew)
        return float(self.mean + sd * (stats.chi2.isf(alpha, nu) - nu) / math.sqrt(2.0 * nu))


def _seed(base: Array, target: Array) -> int:
    data = np.concatenate([np.asarray(base, dtype=np.float64), np.asarray(target, dtype=np.float64)])
    return zlib.crc32(data.tobytes())


def multinomial(rng: np.random.Generator, size: int, shares: Array, draws: int) -> Array:
    """``draws`` multinomial count vectors (2-D, one row per draw), drawn cell by cell as conditional
    binomials across all draws at once (the method of ``numpy.random.Generator.multinomial``,
    vectorised over draws instead of cells)."""
    out = np.zeros((draws, shares.size), dtype=np.float64)
    left = np.full(draws, size, dtype=np.int64)
    rest = 1.0
    for j, share in enumerate(shares[:-1]):
        prob = min(1.0, max(0.0, share / rest)) if rest > 0 else 0.0
        out[:, j] = rng.binomial(left, prob)
        left -= out[:, j].astype(np.int64)
        rest -= share
    out[:, -1] = left
    return out


def bootstrap_null(base_counts: Array, target_counts: Array,
                   statistics: Mapping[str, Callable[[Array, Array, int, int], Array]],
                   draws: int | None = None) -> dict[str, NullFit]:
    """Fit each statistic's null distribution by a parametric bootstrap from the pooled shares.

    Both sides are drawn from ``Multinomial(size, pooled shares)``, sizes ``n = sum(base_counts)`` and
    ``m = sum(target_counts)``; every statistic is computed on the drawn shares (a 2-D array,
    one row per draw) and summarised by :class:`NullFit`. Deterministic: the generator is seeded
    from the counts.

    :param base_counts: counts per cell (1-D, cells with a value on either side); ``target_counts`` likewise.
    :param statistics: name -> function ``(p, q, n, m) -> 1-D array`` of the statistic per draw.
    :param draws: number of draws (default: :data:`BOOTSTRAP_DRAWS`, fewer for many cells).
    """
    b, t = np.asarray(base_counts, dtype=np.float64), np.asarray(target_counts, dtype=np.float64)
    n, m = int(round(b.sum())), int(round(t.sum()))
    if n <= 0 or m <= 0 or b.size < 2:
        return {name: NullFit(0.0, 0.0, 0.0, 0) for name in statistics}
    if draws is None:
        draws = int(min(BOOTSTRAP_DRAWS, max(200, BOOTSTRAP_CELLS // b.size)))
    pooled = (b + t) / (n + m)
    rng = np.random.default_rng(_seed(b, t))
    p = multinomial(rng, n, pooled, draws) / n
    q = multinomial(rng, m, pooled, draws) / m
    out = {}
    for name, fn in statistics.items():
        values = np.asarray(fn(p, q, n, m), dtype=np.float64)
        skew = float(stats.skew(values)) if values.std() > 0 else 0.0
        out[name] = NullFit(float(values.mean()), float(values.var(ddof=1)), skew, draws)
    return out


# ---------------------------------------------------------------------------
# the distances of monitor.drift.metrics on many share vectors at once (rows), for bootstrap draws


def psi_rows(p: Array, q: Array, n: int, m: int) -> Array:
    """:func:`~monitor.drift.metrics.psi` of each row of two 2-D share arrays (same shape); cells empty on both sides of a row are left out."""
    used = (p > 0) | (q > 0)
    pp, qq = np.maximum(p, empty_share(n)), np.maximum(q, empty_share(m))
    out: Array = np.sum(np.where(used, (qq - pp) * np.log(qq / pp), 0.0), axis=1)
    return out


def js_rows(p: Array, q: Array, n: int = 0, m: int = 0) -> Array:
    """:func:`~monitor.drift.metrics.js_distance` (base 2) of each row of two 2-D share arrays whose rows sum to 1."""
    a = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0) / np.where(a > 0, a, 1.0)), 0.0)
        kl_q = np.where(q > 0, q * np.log2(np.where(q > 0, q, 1.0) / np.where(a > 0, a, 1.0)), 0.0)
    out: Array = np.sqrt(np.clip((kl_p.sum(axis=1) + kl_q.sum(axis=1)) / 2.0, 0.0, 1.0))
    return out


def hellinger_rows(p: Array, q: Array, n: int = 0, m: int = 0) -> Array:
    """:func:`~monitor.drift.metrics.hellinger` of each row of two 2-D share arrays."""
    out: Array = np.sqrt(np.clip(1.0 - np.sum(np.sqrt(p * q), axis=1), 0.0, 1.0))
    return out
