"""The two sides of a comparison: a numeric column as a :class:`NumericSide` (its
CDF, quantiles, moments and counts, from data, exact counts, a sketch or a few
quantiles), a categorical column as :class:`CategoryCounts`, the cells two
category distributions are compared on, and the baseline-quantile bins of PSI."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from monitor.profile.sketches import Moments

Array = np.ndarray


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
    """Counts of a column's categories; ``other`` counts values outside ``counts``.

    :ivar error: the most a listed count may be low by (0: exact); a summary of a
        column with more distinct values than it can list (Misra-Gries, or merged
        profiles) lists lower bounds, the rest being in ``other``.
    """

    counts: Mapping[str, int]
    other: int = 0
    error: int = 0

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
    reconciled: tuple[int, int] = (0, 0)
    """Rows each side's "other" cell gave to its listed cells within the
    summary's error bound (:func:`reconcile_cells`); ``(0, 0)`` for exact counts."""


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


def reconcile_cells(cells: CategoryCells, base_error: int, target_error: int) -> CategoryCells:
    """The cells moved, within what approximate counts allow, toward each other.

    A side whose listed counts are lower bounds (``error`` > 0) undercounts each
    listed category by up to ``error`` rows, and its "other" cell, the rest of
    its rows, overcounts by their sum. Those rows are handed back: each listed
    cell of that side is raised toward the other side's share (by at most
    ``error`` rows, largest shortfall first) while the "other" cell has rows
    left, so the comparison is made at the reading of the summaries that is
    closest to no change. A change that survives it is not an artefact of the
    approximation; a side with exact counts (``error`` 0) or without an "other"
    cell is left as it is. Totals are kept.
    """
    if cells.other_label is None or not (base_error or target_error):
        return cells
    sides = [cells.baseline.copy(), cells.target.copy()]
    moved = [0, 0]
    for k, error in enumerate((base_error, target_error)):
        mine, theirs = sides[k], sides[1 - k]
        if error <= 0 or mine[-1] <= 0:
            continue
        want = theirs[:-1] / max(theirs.sum(), 1.0) * mine.sum() - mine[:-1]
        for i in np.argsort(-want, kind="stable"):
            if want[i] <= 0 or mine[-1] <= 0:
                break
            give = min(float(error), float(want[i]), float(mine[-1]))
            mine[i] += give
            mine[-1] -= give
            moved[k] += int(round(give))
    return replace(cells, baseline=sides[0], target=sides[1], reconciled=(moved[0], moved[1]))


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
