"""Mergeable summaries of a column: moments, 64-bit hashes and the distinct-count
sketch, and category frequencies.

- :class:`Moments`: count, mean and central moment sums M2, M3, M4 of the values
  scaled by a power of two (finite for any finite input), merged with the
  pairwise formulas of Chan, Golub & LeVeque (1979) and Pébay (2008,
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
