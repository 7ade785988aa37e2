"""Mergeable summaries of a column: moments and category frequencies (the
distinct-value sketch, :class:`DistinctSketch`, is in :mod:`monitor.profile.theta`).

- :class:`Moments`: count, mean and central moment sums M2, M3, M4, merged with
  the pairwise formulas of Chan, Golub & LeVeque (1979) and Pébay (2008,
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


@dataclass
class Moments:
    """Count, mean and central moment sums M2, M3, M4 of finite values.

    Merged with Pébay (2008) eq. 3.1; see the module docstring.
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """Moments of a 1-D float64 array of finite values (two passes, pairwise sums)."""
        n = int(values.size)
        if n == 0:
            return cls()
        mean = float(values.mean())
        d = values - mean
        d2 = np.multiply(d, d)
        m2 = float(d2.sum())
        m3 = float(np.multiply(d2, d, out=d).sum())
        m4 = float(np.multiply(d2, d2, out=d2).sum())
        return cls(n, mean, m2, m3, m4)

    def merge(self, o: Moments) -> Moments:
        """Combine two moment sets as if computed over the union of their values."""
        if o.n == 0:
            return Moments(self.n, self.mean, self.m2, self.m3, self.m4)
        if self.n == 0:
            return Moments(o.n, o.mean, o.m2, o.m3, o.m4)
        na, nb = float(self.n), float(o.n)
        n = na + nb
        d = o.mean - self.mean
        mean = self.mean + d * nb / n
        m2 = self.m2 + o.m2 + d * d * na * nb / n
        m3 = (self.m3 + o.m3 + d**3 * na * nb * (na - nb) / n**2
              + 3.0 * d * (na * o.m2 - nb * self.m2) / n)
        m4 = (self.m4 + o.m4 + d**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
              + 6.0 * d * d * (na * na * o.m2 + nb * nb * self.m2) / n**2
              + 4.0 * d * (na * o.m3 - nb * self.m3) / n)
        return Moments(self.n + o.n, mean, m2, m3, m4)

    def _flat(self) -> bool:
        """True when the values are all equal (to rounding), so shape is undefined."""
        return self.m2 <= 1e-14 * max(1.0, self.mean * self.mean) * self.n

    @property
    def variance(self) -> float | None:
        """Sample variance (ddof=1, as pandas); None for n < 2."""
        return self.m2 / (self.n - 1) if self.n >= 2 else None

    @property
    def skewness(self) -> float | None:
        """Adjusted Fisher-Pearson skewness G1, as ``pandas.Series.skew``; None for n < 3,
        0 for constant values (as pandas)."""
        n = self.n
        if n < 3:
            return None
        if self._flat():
            return 0.0
        g1 = (self.m3 / n) / (self.m2 / n) ** 1.5
        return float(math.sqrt(n * (n - 1)) / (n - 2) * g1)

    @property
    def kurtosis(self) -> float | None:
        """Bias-corrected excess kurtosis G2, as ``pandas.Series.kurt``; None for n < 4,
        0 for constant values (as pandas)."""
        n = self.n
        if n < 4:
            return None
        if self._flat():
            return 0.0
        g2 = (self.m4 / n) / (self.m2 / n) ** 2 - 3.0
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
        """Summary of the union of both inputs (Misra-Gries merge with ``cap`` counters;
        exact while the union has at most ``cap`` categories and both were exact)."""
        cap = min(self.cap, o.cap)
        counts = dict(self.counts)
        for label, n in o.counts.items():
            counts[label] = counts.get(label, 0) + n
        total = self.total + o.total
        error = self._hidden() + o._hidden()
        if len(counts) > cap:
            cut = sorted(counts.values(), reverse=True)[cap]
            counts = {c: n - cut for c, n in counts.items() if n > cut}
            error += cut
        return CategorySummary(counts, total - sum(counts.values()), cap, error).finalized()

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
