"""Mergeable summaries of a column: moments, 64-bit hashes and the distinct-count
sketch, and category frequencies.

- :class:`Moments`: count, mean and central moment sums M2, M3, M4, merged with
  the pairwise formulas of Chan, Golub & LeVeque (1979) and Pébay (2008,
  SAND2008-6212, eq. 3.1).
- :func:`hash_floats`, :func:`hash_strings`: vectorised 64-bit hashes (scheme
  :data:`HASH_SCHEME`).
- :class:`DistinctSketch`: a K-minimum-values sketch of hashes (Bar-Yossef et
  al. 2002) with K = :data:`KMV_SIZE`.
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

KMV_SIZE = 4096
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
# hashing and distinct count

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_PRIME = np.uint64(0x9E3779B97F4A7C15)
_WORD_MASKS = np.array([(1 << (8 * r)) - 1 for r in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
HASH_SCHEME = 2
"""Identifies the hash functions below; sketches of different schemes do not merge exactly."""


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, in place on a uint64 array."""
    h ^= h >> np.uint64(33)
    h *= _M1
    h ^= h >> np.uint64(33)
    h *= _M2
    h ^= h >> np.uint64(33)
    return h


def hash_floats(values: np.ndarray) -> np.ndarray:
    """64-bit hashes of a 1-D float64 array without NaN (``-0.0`` hashes as ``0.0``):
    MurmurHash3's finaliser of the IEEE-754 bits."""
    return _fmix64(np.add(values, 0.0).view(np.uint64))


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start offsets int64, lengths int64, data uint8 padded by 8 zero bytes) of a
    string array without nulls; offsets relative to the copied data."""
    wide = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64 if wide else np.int32)[arr.offset: arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    padded = np.zeros(last - first + 8, dtype=np.uint8)
    if bufs[2] is not None and last > first:
        padded[: last - first] = np.frombuffer(bufs[2], dtype=np.uint8, count=last - first, offset=first)
    starts = offsets[:-1] - first
    return starts, np.diff(offsets), padded


_HASH_SLICE = 1 << 18


def hash_strings(arr: pa.Array) -> np.ndarray:
    """64-bit hashes of a string array without nulls, vectorised over its buffers
    (in slices of 2**18 strings, to bound memory).

    Each string's UTF-8 bytes are read as little-endian 8-byte words ``w``
    (the last one zero-padded); ``h = len * P``, then per word
    ``h = ((h ^ w) * P) ^ (… >> 29)``, then MurmurHash3's finaliser.
    """
    if len(arr) > _HASH_SLICE:
        return np.concatenate([_hash_slice(arr.slice(i, _HASH_SLICE)) for i in range(0, len(arr), _HASH_SLICE)])
    return _hash_slice(arr)


def _hash_slice(arr: pa.Array) -> np.ndarray:
    if len(arr) == 0:
        return np.empty(0, dtype=np.uint64)
    starts, lengths, padded = _string_buffers(arr)
    words = np.ndarray((padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,))
    h = lengths.astype(np.uint64) * _PRIME
    n_words = (lengths + 7) >> 3
    for j in range(int(n_words.max())):
        rows = None if j == 0 else np.flatnonzero(n_words > j)
        start = starts if rows is None else starts[rows]
        rest = lengths if rows is None else lengths[rows]
        w = words[start + 8 * j] & _WORD_MASKS[np.minimum(rest - 8 * j, 8)]
        part = h if rows is None else h[rows]
        part ^= w
        part *= _PRIME
        part ^= part >> np.uint64(29)
        if rows is not None:
            h[rows] = part
    return _fmix64(h)


@dataclass
class DistinctSketch:
    """K-minimum-values sketch of 64-bit hashes (Bar-Yossef et al. 2002).

    Exact while fewer than ``size`` distinct hashes were seen; beyond, the estimate
    ``(size - 1) / (h_size / 2**64)`` has a relative standard error of about
    ``1 / sqrt(size - 2)`` (1.6% for size 4096).

    :ivar scheme: the hash scheme (:data:`HASH_SCHEME`); sketches of different
        schemes merge to the larger estimate, no longer exact.
    """

    size: int = KMV_SIZE
    hashes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    scheme: int = HASH_SCHEME
    floor: float = 0.0

    def update_hashes(self, hashes: np.ndarray) -> None:
        """Add 64-bit hashes (any order, duplicates allowed)."""
        if self.hashes.size >= self.size:
            hashes = hashes[hashes < self.hashes[-1]]
        elif hashes.size > 4 * self.size:
            hashes = _smallest_distinct(hashes, self.size)
        if hashes.size:
            merged = np.union1d(self.hashes, hashes)
            self.hashes = merged[: self.size] if merged.size > self.size else merged

    def merge(self, other: DistinctSketch) -> DistinctSketch:
        """Sketch of the union of both inputs."""
        if other.scheme != self.scheme:
            est = max(self.estimate, other.estimate)
            return DistinctSketch(self.size, self.hashes, self.scheme, est)
        out = DistinctSketch(min(self.size, other.size), self.hashes, self.scheme, max(self.floor, other.floor))
        out.update_hashes(other.hashes)
        return out

    @property
    def estimate(self) -> float:
        """Estimated number of distinct values (exact below ``size``)."""
        if self.hashes.size < self.size:
            return max(float(self.hashes.size), self.floor)
        kth = float(self.hashes[self.size - 1]) + 1.0
        return max((self.size - 1) / (kth / 2.0**64), self.floor)

    @property
    def relative_error(self) -> float:
        """Relative standard error of :attr:`estimate` (0 when exact)."""
        exact = self.hashes.size < self.size and not self.floor
        return 0.0 if exact else 1.0 / math.sqrt(self.size - 2)


def _smallest_distinct(hashes: np.ndarray, k: int) -> np.ndarray:
    """At least the ``k`` smallest distinct values of a large uint64 array (or all of
    them): those under a threshold that grows eightfold until enough pass."""
    share = 8.0 * k / hashes.size
    while share < 1.0:
        small = np.unique(hashes[hashes < np.uint64(int(2**64 * share))])
        if small.size >= k:
            return small
        share *= 8.0
    return np.unique(hashes)


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
