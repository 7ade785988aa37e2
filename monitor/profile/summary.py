"""What a profile page shows of each column: :func:`summarize_profile` turns a
:class:`~monitor.profile.model.DatasetProfile` into one :class:`ColumnSummary`
per column (Azure ML's profile table: counts, min, max, the nine quantiles,
moments, distinct count) with a small distribution: a :class:`Histogram` of
equal-width bins for numeric and datetime columns, computed from the column's
quantile sketch (its CDF), and the shares of the most frequent categories for
categorical, string and boolean columns.

Everything comes from the stored profile, never from the data: counts, min and
max are exact; the moments are the profile's (1e-9 relative of pandas); the
quantiles and the histogram shares are exact while the column's summary is
exact (:attr:`~monitor.profile.numeric.NumericSummary.is_exact`), else within
its stated rank error (each CDF value within ``rank_error`` of normalised rank,
so each bin's share within ``2 * rank_error``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from monitor.profile.columns import NUMERIC_KINDS
from monitor.profile.model import QUANTILE_RANKS, ColumnProfile, DatasetProfile
from monitor.profile.numeric import NumericSummary

__all__ = [
    "HISTOGRAM_BINS", "TAIL_RATIO", "TOP_CATEGORIES", "ColumnSummary", "Histogram", "histogram",
    "summarize_column", "summarize_profile",
]

HISTOGRAM_BINS = 20
"""Most bins of a numeric column's histogram (integer columns of a narrower
range get one bin per value)."""
TAIL_RATIO = 2.0
"""A numeric column's tails are *long* when its range (max - min) is more than
this many times the range of its central 99.8% (p99.9 - p0.1): its histogram
then spans p0.1 to p99.9, and the shares below and above are given apart."""
TOP_CATEGORIES = 8
"""Categories drawn in a categorical column's distribution; the rest are one "other" bar."""
_TAIL_RANKS = (0.001, 0.999)


@dataclass(frozen=True)
class Histogram:
    """Equal-width bins of a column's finite values.

    :ivar edges: ``len(shares) + 1`` increasing bin edges, equal width; in the
        column's unit (seconds since the Unix epoch, UTC, for datetimes).
    :ivar shares: the share (0..1) of the finite values in each bin: the first
        bin is ``[edges[0], edges[1]]``, each next one ``(edges[i], edges[i+1]]``.
    :ivar clipped: the edges span p0.1 to p99.9 instead of min to max, because
        the tails are long (see :data:`TAIL_RATIO`).
    :ivar below: share of the finite values below ``edges[0]`` (0 unless clipped).
    :ivar above: share of the finite values above ``edges[-1]`` (0 unless clipped).
    :ivar exact: the shares are exact; otherwise each is within ``2 * rank_error``
        of the true share (it is the difference of two CDF values of the sketch).
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    clipped: bool
    below: float
    above: float
    exact: bool


@dataclass(frozen=True)
class ColumnSummary:
    """One column of a profile as a profile page shows it.

    Counts as in :class:`~monitor.profile.model.ColumnProfile`. Numbers are
    floats in the column's unit: a datetime column's ``min``, ``max``,
    quantiles and ``mean`` are seconds since the Unix epoch (UTC) and its
    ``std`` is in seconds; it has no ``variance``, ``skewness`` or
    ``kurtosis`` (as the profile table). ``None`` where the column has no such
    statistic (a text column's quantiles, a mean of no values).

    :ivar kind: the profile's kind (integer, decimal, string, boolean, datetime, categorical).
    :ivar min: exact, infinities included; a boolean column's is ``False`` or ``True``.
    :ivar quantiles: ``(rank, value)`` at the ranks of
        :data:`~monitor.profile.model.QUANTILE_RANKS`, of the finite values;
        empty for a column without numbers.
    :ivar rank_error: bound on the normalised rank error of the quantiles and of
        the histogram's CDF values (0 when exact).
    :ivar distinct: estimated distinct non-missing values; exact when
        ``distinct_error`` is 0, else its relative standard error.
    :ivar categories: ``(label, share)`` of the :data:`TOP_CATEGORIES` most
        frequent values, most frequent first (ties by label); shares of the
        counted values (:attr:`category_total`).
    :ivar other_share: share of the counted values not in ``categories``.
    :ivar category_error: bound on how low each category share may be (a
        Misra-Gries summary's error over the total; 0 when the counts are exact).
    """

    name: str
    kind: str
    arrow_type: str
    count: int
    missing: int
    not_missing: int
    percent_missing: float
    errors: int
    empty: int
    distinct: int
    distinct_error: float
    min: float | bool | None = None
    max: float | bool | None = None
    quantiles: tuple[tuple[float, float], ...] = ()
    mean: float | None = None
    std: float | None = None
    variance: float | None = None
    skewness: float | None = None
    kurtosis: float | None = None
    n_finite: int = 0
    zeros: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    is_exact: bool = True
    rank_error: float = 0.0
    histogram: Histogram | None = None
    categories: tuple[tuple[str, float], ...] = ()
    other_share: float = 0.0
    category_total: int = 0
    category_error: float = 0.0
    timezone: str | None = None

    @property
    def is_datetime(self) -> bool:
        """Whether numbers are seconds since the Unix epoch (UTC)."""
        return self.kind == "datetime"


# ---------------------------------------------------------------------------
# the histogram


def _between(lo: float, hi: float, t: np.ndarray) -> np.ndarray:
    """``lo + (hi - lo) * t`` without overflow for values near both ends of the double range."""
    with np.errstate(over="ignore", invalid="ignore"):
        out: np.ndarray = lo * (1.0 - t) + hi * t
    return np.maximum.accumulate(np.clip(out, lo, hi))


def _long_tails(num: NumericSummary, lo: float, hi: float) -> tuple[float, float] | None:
    """p0.1 and p99.9 when the tails are long (see :data:`TAIL_RATIO`), else None."""
    q_lo, q_hi = (float(q) for q in num.quantiles(_TAIL_RANKS))
    inner = q_hi * 0.5 - q_lo * 0.5
    return (q_lo, q_hi) if inner > 0 and TAIL_RATIO * inner < hi * 0.5 - lo * 0.5 else None


def _edges(lo: float, hi: float, integral: bool, bins: int) -> np.ndarray:
    """Equal-width edges covering ``[lo, hi]``: ``bins`` of them, or for integers
    whole numbers of values per bin, edges halfway between two integers."""
    if integral and hi - lo < 2**52:
        width = math.ceil((hi - lo + 1) / bins)
        count = math.ceil((hi - lo + 1) / width)
        return lo - 0.5 + width * np.arange(count + 1, dtype=np.float64)
    return _between(lo, hi, np.arange(bins + 1, dtype=np.float64) / bins)


def histogram(num: NumericSummary, *, integral: bool = False, bins: int = HISTOGRAM_BINS) -> Histogram | None:
    """Equal-width histogram of a numeric summary's finite values, from its CDF.

    The bins span min to max, or p0.1 to p99.9 when the tails are long (see
    :data:`TAIL_RATIO`); a constant column has one bin. Each share is the
    difference of two CDF values (:meth:`NumericSummary.cdf`, the fraction of
    values ``<= x``), so it is exact in exact mode and within ``2 * rank_error``
    beyond.

    :param integral: the values are integers: bins hold whole numbers of values
        (edges at half-integers), at most ``bins`` of them.
    :returns: None when there is no finite value.
    """
    if num.n == 0:
        return None
    lo, hi = num.finite_min, num.finite_max
    assert lo is not None and hi is not None
    tails = _long_tails(num, lo, hi) if hi > lo else None
    start, stop = tails or (lo, hi)
    if integral:
        start, stop = math.floor(start), math.ceil(stop)
    if stop <= start:
        return Histogram((start, stop), (1.0,), False, 0.0, 0.0, num.is_exact)
    edges = _edges(start, stop, integral, bins)
    below = float(num.cdf([np.nextafter(edges[0], -np.inf)])[0])
    cum = np.asarray(num.cdf(edges[1:]), dtype=np.float64)
    shares = np.diff(np.concatenate(([below], cum)))
    return Histogram(
        tuple(float(e) for e in edges), tuple(float(max(s, 0.0)) for s in shares), tails is not None,
        below, float(max(1.0 - cum[-1], 0.0)), num.is_exact,
    )


# ---------------------------------------------------------------------------
# a column


def _top_categories(col: ColumnProfile) -> dict[str, object]:
    cats = col.categories
    if cats is None or cats.total == 0:
        return {}
    total = cats.total
    ranked = sorted(cats.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]
    return {
        "categories": tuple((label, n / total) for label, n in ranked),
        "other_share": (total - sum(n for _, n in ranked)) / total,
        "category_total": total, "category_error": cats.error / total,
    }


def _boolean_bounds(col: ColumnProfile) -> dict[str, object]:
    cats = col.categories
    if cats is None or not cats.counts:
        return {}
    present = sorted(label == "true" for label in cats.counts)
    return {"min": present[0], "max": present[-1]}


def _numeric(col: ColumnProfile) -> dict[str, object]:
    num = col.numeric
    if num is None or (col.kind not in NUMERIC_KINDS and col.kind != "categorical"):
        return {}
    out: dict[str, object] = {
        "min": num.min, "max": num.max, "mean": num.mean, "std": num.std, "n_finite": int(num.n),
        "zeros": num.zeros, "pos_inf": num.pos_inf, "neg_inf": num.neg_inf, "is_exact": num.is_exact,
        "rank_error": num.rank_error,
    }
    if num.n:
        out["quantiles"] = tuple(zip(QUANTILE_RANKS, (float(q) for q in num.quantiles(QUANTILE_RANKS))))
    if col.kind != "datetime":
        out.update(variance=num.variance, skewness=num.skewness, kurtosis=num.kurtosis)
    if col.kind != "categorical":
        out["histogram"] = histogram(num, integral=col.kind == "integer")
    return out


def summarize_column(col: ColumnProfile) -> ColumnSummary:
    """The :class:`ColumnSummary` of one profiled column: statistics of numeric,
    datetime and integer-categorical columns, a histogram for numeric and
    datetime ones, category shares for the others (categorical, string, boolean)."""
    extra: dict[str, object] = {**_numeric(col), **_top_categories(col)}
    if col.kind == "boolean":
        extra.update(_boolean_bounds(col))
    return ColumnSummary(
        name=col.name, kind=col.kind, arrow_type=col.arrow_type, count=col.count, missing=col.missing,
        not_missing=col.not_missing, percent_missing=col.percent_missing, errors=col.errors, empty=col.empty,
        distinct=round(col.distinct), distinct_error=col.distinct_error, timezone=col.timezone,
        **extra,  # type: ignore[arg-type]
    )


def summarize_profile(profile: DatasetProfile) -> tuple[ColumnSummary, ...]:
    """One :class:`ColumnSummary` per column of ``profile``, in column order."""
    return tuple(summarize_column(col) for col in profile.columns.values())
