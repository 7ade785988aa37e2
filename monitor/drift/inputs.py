"""What a comparison needs of one column of a profile: :class:`ColumnInput`, a
numeric side (:func:`side_from_summary`) and category counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from monitor.drift.metrics import (
    CategoryCounts,
    NumericSide,
    side_from_counts,
    side_from_histogram,
)

from monitor.drift.vectors import VectorSide, vector_side

if TYPE_CHECKING:
    from monitor.profile.model import ColumnProfile
    from monitor.profile.numeric import NumericSummary
    from monitor.profile.theta import DistinctSketch


# ---------------------------------------------------------------------------
# inputs: what a comparison needs of one column


@dataclass(frozen=True)
class ColumnInput:
    """One side of one column: counts, and its values as a numeric and/or categorical distribution.

    :ivar base_kind: the kind as a type: an integer column the profile calls
        categorical (few distinct values) is still ``"integer"``.
    :ivar distinct: the column's distinct non-missing values, for set overlap
        (:mod:`monitor.drift.overlap`): a :class:`~monitor.profile.theta.DistinctSketch`
        (a compact theta sketch and the rows of each value it retains); None when
        the profile was stored before such sketches were kept (format 1 or 2).
    :ivar vector: for vector columns, their mean, variance and sample.
    """

    name: str
    kind: str
    rows: int
    missing: int
    numeric: NumericSide | None = None
    categories: CategoryCounts | None = None
    base_kind: str = ""
    distinct: DistinctSketch | None = None
    vector: VectorSide | None = None

    @property
    def values(self) -> int:
        """Number of non-missing values the distribution holds."""
        if self.categories is not None:
            return self.categories.total
        if self.vector is not None:
            return self.vector.n
        return self.numeric.n if self.numeric is not None else 0


def base_kind(col: ColumnProfile) -> str:
    """The kind as a type: an integer column the profile calls categorical is still ``"integer"``."""
    return "integer" if col.kind == "categorical" and col.numeric is not None else col.kind


def _finite_bounds(summary: NumericSummary) -> tuple[float | None, float | None]:
    if not summary.n:
        return None, None
    lo, hi = getattr(summary, "finite_min", summary.min), getattr(summary, "finite_max", summary.max)
    sketch = getattr(summary, "sketch", None)
    if lo is not None and not math.isfinite(lo):
        lo = float(sketch.get_min_value()) if sketch is not None else None
    if hi is not None and not math.isfinite(hi):
        hi = float(sketch.get_max_value()) if sketch is not None else None
    return lo, hi


def side_from_summary(summary: NumericSummary) -> NumericSide:
    """A :class:`~monitor.drift.metrics.NumericSide` from a profile's numeric summary.

    While the summary holds every value exactly, the side is exact (its distinct
    values and counts); beyond, CDF and quantiles come from the sketch; a summary
    without a sketch falls back to its quantiles at ``QUANTILE_RANKS`` with mass
    spread uniformly within each bin.
    """
    n, neg, pos = int(summary.n), int(summary.neg_inf), int(summary.pos_inf)
    if n and summary.is_exact:
        vals, cnts = _exact_counts(summary)
        return side_from_counts(vals, cnts, neg_inf=neg, pos_inf=pos, mean=summary.mean, std=summary.std)
    lo, hi = _finite_bounds(summary)
    if n and getattr(summary, "sketch", True) is None:
        return _interpolated_side(summary, lo, hi)
    return NumericSide(n, neg, pos, lo, hi, summary.mean, summary.std, _rank_error(summary), None,
                       summary.cdf, summary.quantiles)


def _exact_counts(summary: NumericSummary) -> tuple[np.ndarray, np.ndarray]:
    counted = getattr(summary, "exact_counts", None)
    if callable(counted):
        vals, cnts = counted()
        return np.asarray(vals, dtype=np.float64), np.asarray(cnts, dtype=np.int64)
    vals, cnts = np.unique(np.asarray(summary.exact_values(), dtype=np.float64), return_counts=True)
    return vals, cnts


def _rank_error(summary: NumericSummary) -> float:
    """The summary's normalised rank error, computed from the sketch's ``k`` if it cannot say."""
    try:
        return float(summary.rank_error)
    except TypeError:
        import datasketches

        k = int(getattr(summary, "k", 0) or summary.sketch.k)
        return float(datasketches.kll_doubles_sketch.get_normalized_rank_error(k, False))


def _interpolated_side(summary: NumericSummary, lo: float | None, hi: float | None) -> NumericSide:
    from monitor.profile import QUANTILE_RANKS

    ranks = np.array([0.0, *QUANTILE_RANKS, 1.0])
    edges = np.maximum.accumulate(np.concatenate([[lo], summary.quantiles(QUANTILE_RANKS), [hi]]))
    return side_from_histogram(edges, np.diff(ranks), n_finite=int(summary.n), neg_inf=int(summary.neg_inf),
                               pos_inf=int(summary.pos_inf), mean=summary.mean, std=summary.std)


def input_from_profile(col: ColumnProfile) -> ColumnInput:
    """The :class:`ColumnInput` of a profiled column."""
    cats = col.categories
    counts = CategoryCounts(dict(cats.counts), int(cats.other), int(cats.error)) if cats is not None else None
    numeric = side_from_summary(col.numeric) if col.numeric is not None else None
    distinct = col.distinct_sketch if col.distinct_sketch.complete else None
    vector = vector_side(col.vector) if col.vector is not None else None
    return ColumnInput(col.name, col.kind, col.count, col.missing, numeric, counts, base_kind(col), distinct, vector)
