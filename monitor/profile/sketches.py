"""Mergeable summaries of a column: moments and category frequencies (the
distinct-value sketch, :class:`DistinctSketch`, is in :mod:`monitor.profile.theta`).

- :class:`Moments`: count, mean and central moment sums M2, M3, M4 of the values
  scaled by a power of two (finite for any finite input), merged with the
  pairwise formulas of Chan, Golub & LeVeque (1979) and Pébay (2008,
  SAND2008-6212, eq. 3.1).
- :class:`CategoryCounter` (working counts) and :class:`CategorySummary` (the
  reported ones): exact, then Misra-Gries summaries (Agarwal et al. 2012,
  "Mergeable summaries").

The numeric distribution (exact counts, then a KLL sketch) is in
:mod:`monitor.profile.numeric`; the definitions of the statistics in :mod:`monitor.profile`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.profile.theta import DistinctSketch as DistinctSketch  # also importable from here, as before

DEFAULT_CATEGORY_CAP = 1000
COUNTER_FACTOR = 10
"""Labels counted per column: ``COUNTER_FACTOR`` times the categories reported."""


# ---------------------------------------------------------------------------
# moments


def times_pow2(x: float, e: int) -> float:
    """``x * 2**e``, exact unless the result leaves the double range: then ``±inf``
    (``math.ldexp`` raises instead) or a rounded subnormal or 0 (no warning)."""
    try:
        return math.ldexp(x, e)
    except OverflowError:
        return math.copysign(math.inf, x)


def array_times_pow2(values: np.ndarray, e: int) -> np.ndarray:
    """``values * 2**e`` as a new float64 array, by multiplication with powers of two
    (exact while the results are normal; about ten times faster than ``np.ldexp``)."""
    step = min(max(e, -1074), 1000)  # 2**-1074 (subnormal) to 2**1000 are doubles
    out: np.ndarray = np.multiply(values, 2.0**step)
    e -= step
    while e:
        step = min(max(e, -1000), 1000)
        np.multiply(out, 2.0**step, out=out)
        e -= step
    return out


def scale_exponent(peak: float) -> int:
    """The binary exponent ``e`` with ``peak = f * 2**e``, ``0.5 <= f < 1`` (0 for 0):
    values of magnitude at most ``peak`` divided by ``2**e`` are below 1."""
    return math.frexp(peak)[1]


@dataclass
class Moments:
    """Count, mean and central moment sums M2, M3, M4 of finite values, kept for
    the values scaled by a power of two, ``x * 2**-exp``.

    The scale keeps every sum finite for any finite input: ``exp`` is the binary
    exponent of the largest magnitude seen (:func:`scale_exponent`), so scaled
    values are below 1 in magnitude, deviations below 2 and ``M4`` below
    ``16 * n``. Multiplying by a power of two is exact in binary floating point
    (unless a scaled value falls below the normal range, about ``2**-1022`` times
    the largest value, where it no longer matters to the sums), so the scaled
    moments are those of the unscaled values, scaled: for data within the double
    range the results equal the unscaled computation's bit for bit.

    Merged with the pairwise formulas of Chan, Golub & LeVeque (1979) and Pébay
    (2008, SAND2008-6212, eq. 3.1), after rescaling the side with the smaller
    ``exp`` to the larger (again by a power of two).

    :ivar mean_s: mean of the scaled values; ``m2_s``, ``m3_s``, ``m4_s`` their
        central moment sums (``M2 = m2_s * 4**exp``, ...).
    """

    n: int = 0
    mean_s: float = 0.0
    m2_s: float = 0.0
    m3_s: float = 0.0
    m4_s: float = 0.0
    exp: int = 0

    @classmethod
    def of(cls, values: np.ndarray, peak: float | None = None) -> Moments:
        """Moments of a 1-D float64 array of finite values (two passes, pairwise sums).

        :param peak: the largest ``|value|``, when the caller knows it.
        """
        n = int(values.size)
        if n == 0:
            return cls()
        if peak is None:
            peak = max(-float(values.min()), float(values.max()))
        exp = scale_exponent(peak)
        scaled = array_times_pow2(values, -exp) if exp else values
        mean = float(scaled.mean())
        d = np.subtract(scaled, mean, out=scaled if scaled is not values else None)
        d2 = np.multiply(d, d)
        m2 = float(d2.sum())
        m3 = float(np.multiply(d2, d, out=d).sum())
        m4 = float(np.multiply(d2, d2, out=d2).sum())
        return cls(n, mean, m2, m3, m4, exp)

    @classmethod
    def unscaled(cls, n: int, mean: float, m2: float, m3: float, m4: float, peak: float) -> Moments:
        """Moments given unscaled (as stored before format version 3), rescaled for
        values of largest magnitude ``peak`` (exactly: by powers of two)."""
        exp = scale_exponent(peak) if math.isfinite(peak) else 0
        return cls(n, times_pow2(mean, -exp), times_pow2(m2, -2 * exp), times_pow2(m3, -3 * exp),
                   times_pow2(m4, -4 * exp), exp)

    def _at(self, exp: int) -> tuple[float, float, float, float]:
        """(mean, M2, M3, M4) for values scaled by ``2**-exp`` (``exp >= self.exp``)."""
        s = self.exp - exp
        if s == 0:
            return self.mean_s, self.m2_s, self.m3_s, self.m4_s
        return (times_pow2(self.mean_s, s), times_pow2(self.m2_s, 2 * s), times_pow2(self.m3_s, 3 * s),
                times_pow2(self.m4_s, 4 * s))

    def merge(self, o: Moments) -> Moments:
        """Combine two moment sets as if computed over the union of their values."""
        if o.n == 0:
            return Moments(self.n, self.mean_s, self.m2_s, self.m3_s, self.m4_s, self.exp)
        if self.n == 0:
            return Moments(o.n, o.mean_s, o.m2_s, o.m3_s, o.m4_s, o.exp)
        exp = max(self.exp, o.exp)
        mean_a, m2a, m3a, m4a = self._at(exp)
        mean_b, m2b, m3b, m4b = o._at(exp)
        na, nb = float(self.n), float(o.n)
        n = na + nb
        d = mean_b - mean_a
        mean = mean_a + d * nb / n
        m2 = m2a + m2b + d * d * na * nb / n
        m3 = (m3a + m3b + d**3 * na * nb * (na - nb) / n**2
              + 3.0 * d * (na * m2b - nb * m2a) / n)
        m4 = (m4a + m4b + d**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
              + 6.0 * d * d * (na * na * m2b + nb * nb * m2a) / n**2
              + 4.0 * d * (na * m3b - nb * m3a) / n)
        return Moments(self.n + o.n, mean, m2, m3, m4, exp)

    @property
    def mean(self) -> float:
        """Mean of the values (0 when there are none); always finite."""
        return times_pow2(self.mean_s, self.exp)

    @property
    def m2(self) -> float:
        """Unscaled M2 (``inf`` when it exceeds the double range)."""
        return times_pow2(self.m2_s, 2 * self.exp)

    @property
    def m3(self) -> float:
        """Unscaled M3 (``±inf`` when it exceeds the double range)."""
        return times_pow2(self.m3_s, 3 * self.exp)

    @property
    def m4(self) -> float:
        """Unscaled M4 (``inf`` when it exceeds the double range)."""
        return times_pow2(self.m4_s, 4 * self.exp)

    def _flat(self) -> bool:
        """True when the values are all equal (to rounding), so shape is undefined:
        ``M2 <= 1e-14 * max(1, mean**2) * n``, evaluated on the scaled sums."""
        floor = times_pow2(1.0, -2 * self.exp)
        return self.m2_s <= 1e-14 * max(floor, self.mean_s * self.mean_s) * self.n

    @property
    def variance(self) -> float | None:
        """Sample variance (ddof=1, as pandas); None for n < 2. ``inf`` when it
        exceeds the double range (a standard deviation above about 1.3e154)."""
        return times_pow2(self.m2_s / (self.n - 1), 2 * self.exp) if self.n >= 2 else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof=1, as pandas); None for n < 2.

        ``2**exp * sqrt(m2_s / (n - 1))``: finite whenever the true value is below
        the double maximum (about 1.8e308), even where the variance is not; ``inf``
        beyond (only values spanning both ends of the double range get there).
        """
        if self.n < 2:
            return None
        return times_pow2(math.sqrt(max(self.m2_s, 0.0) / (self.n - 1)), self.exp)

    @property
    def skewness(self) -> float | None:
        """Adjusted Fisher-Pearson skewness G1, as ``pandas.Series.skew``; None for n < 3,
        0 for constant values (as pandas). Scale-free: computed on the scaled sums."""
        n = self.n
        if n < 3:
            return None
        if self._flat():
            return 0.0
        g1 = (self.m3_s / n) / (self.m2_s / n) ** 1.5
        return float(math.sqrt(n * (n - 1)) / (n - 2) * g1)

    @property
    def kurtosis(self) -> float | None:
        """Bias-corrected excess kurtosis G2, as ``pandas.Series.kurt``; None for n < 4,
        0 for constant values (as pandas). Scale-free: computed on the scaled sums."""
        n = self.n
        if n < 4:
            return None
        if self._flat():
            return 0.0
        g2 = (self.m4_s / n) / (self.m2_s / n) ** 2 - 3.0
        return ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))


# ---------------------------------------------------------------------------
# categories


@dataclass
class CategorySummary:
    """Category frequencies: at most ``cap`` categories, most frequent first, and the
    rest counted as ``other``.

    Exact when :attr:`error` is 0 (the column had at most ``cap`` distinct values,
    or at most ``10 * cap`` where it was counted); otherwise each count is low by at
    most ``error`` (a Misra-Gries summary, Agarwal et al. 2012) and ``other`` holds
    the difference to :attr:`total`.
    """

    counts: dict[str, int] = field(default_factory=dict)
    other: int = 0
    cap: int = DEFAULT_CATEGORY_CAP
    error: int = 0

    def finalized(self) -> CategorySummary:
        """A copy holding at most ``cap`` categories, most frequent first (ties by label)."""
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = dict(ordered[: self.cap])
        return CategorySummary(kept, self.other + sum(n for _, n in ordered[self.cap:]), self.cap, self.error)

    def merge(self, o: CategorySummary) -> CategorySummary:
        """Summary of the union of both inputs, with at most ``cap`` categories.

        A listed count is the sum of what each input lists for the label, so it
        is low by at most what each input may hide of it (:meth:`_hidden`: its
        ``error``, plus its smallest listed count when it has an "other"
        bucket); ``error`` is the sum of both. The ``cap`` largest sums are kept,
        the rest go to "other", so a label left out has at most the smallest
        kept count plus ``error``: the guarantee of a Misra-Gries merge (Agarwal
        et al. 2012), without its step of lowering every count by the
        (cap+1)-th largest, which would move that much of every listed
        category into "other" (merging four weekly profiles of a column with
        thousands of values moved a quarter of the rows there). Exact while the
        union has at most ``cap`` categories and both were exact.
        """
        counts = dict(self.counts)
        for label, n in o.counts.items():
            counts[label] = counts.get(label, 0) + n
        total = self.total + o.total
        merged = CategorySummary(counts, total - sum(counts.values()), min(self.cap, o.cap),
                                 self._hidden() + o._hidden())
        return merged.finalized()

    def _hidden(self) -> int:
        """Most occurrences a label may have that this summary does not list for it."""
        if not self.other:
            return self.error
        return self.error + (min(self.counts.values()) if self.counts else self.other)

    @property
    def total(self) -> int:
        """Number of values counted, "other" included."""
        return sum(self.counts.values()) + self.other


def misra_gries_cut(counts: np.ndarray, capacity: int, ones: int = 0) -> int:
    """The (capacity+1)-th largest of ``counts`` and ``ones`` further counts of 1;
    0 when there are at most ``capacity`` counts. Subtracting it from every count
    and dropping those left at zero or below is a Misra-Gries step."""
    if counts.size + ones <= capacity:
        return 0
    if counts.size <= capacity:
        return 1
    top = int(counts.max())
    if top >= 1 << 22:
        return int(np.partition(counts, counts.size - capacity - 1)[counts.size - capacity - 1])
    at_least = np.cumsum(np.bincount(counts, minlength=2)[::-1])[::-1]
    at_least[1] += ones
    at_least[0] += ones
    return int(np.flatnonzero(at_least >= capacity + 1).max())


@dataclass
class CategoryCounter:
    """Working category counts of one column, vectorised (Arrow labels, numpy counts).

    Holds up to ``capacity`` labels; past that, a Misra-Gries step subtracts the
    (capacity+1)-th largest count from every count and drops those left at zero,
    adding it to ``error`` (the most any count is low by). Mergeable.
    """

    capacity: int
    labels: pa.Array = field(default_factory=lambda: pa.array([], type=pa.string()))
    counts: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    error: int = 0

    def add(self, labels: pa.Array, counts: np.ndarray, error: int = 0) -> None:
        """Add ``counts[i]`` occurrences of ``labels[i]`` (labels distinct, non-null),
        from a summary whose counts may each be low by ``error``."""
        self.error += error
        labels, counts = self._trim(labels, counts)
        if len(labels) == 0:
            return
        if len(self.labels) == 0:
            self.labels, self.counts = labels, counts
        else:
            both = pa.concat_arrays([self.labels, labels])
            enc = pc.dictionary_encode(both)
            summed = np.bincount(enc.indices.to_numpy(), weights=np.concatenate([self.counts, counts]))
            self.labels, self.counts = enc.dictionary, np.rint(summed).astype(np.int64)
        self.labels, self.counts = self._trim(self.labels, self.counts)

    def _trim(self, labels: pa.Array, counts: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        if len(labels) <= self.capacity:
            return labels.cast(pa.string()), counts
        cut = misra_gries_cut(counts, self.capacity)
        keep = counts > cut
        self.error += cut
        return labels.filter(pa.array(keep)).cast(pa.string()), counts[keep] - cut

    def merge(self, o: CategoryCounter) -> CategoryCounter:
        """Counter of the union of both inputs."""
        out = CategoryCounter(min(self.capacity, o.capacity), self.labels, self.counts, self.error + o.error)
        out.add(o.labels, o.counts)
        return out

    @property
    def exact(self) -> bool:
        """True while no count was cut."""
        return self.error == 0

    def summary(self, cap: int, total: int) -> CategorySummary:
        """The :class:`CategorySummary` of ``cap`` categories over ``total`` values."""
        order = sorted(zip(self.labels.to_pylist(), self.counts.tolist()), key=lambda kv: (-kv[1], kv[0]))
        kept = dict(order[:cap])
        return CategorySummary(kept, total - sum(kept.values()), cap, self.error)



def merge_optional(a: Any, b: Any) -> Any:
    """``a.merge(b)`` when both are set, else the one that is (or None)."""
    if a is None:
        return b
    return a if b is None else a.merge(b)
