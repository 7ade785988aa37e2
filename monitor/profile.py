"""One streaming pass over Arrow record batches → a mergeable :class:`DatasetProfile`.

Every per-column summary is mergeable, so a profile can be computed per file, row
group or column group, in parallel, and merged
(``profile(A + B) == merge(profile(A), profile(B))``). The statistics and their
definitions (they match pandas; the tests hold them to it):

- **Count**: rows. **Missing Count**: null values, and NaN in float columns (as
  ``Series.isna``). **Not Missing Count** = Count - Missing Count. **Percent
  missing** = 100 * Missing / Count. **Error Count**: values present that do not
  parse as the column's declared or inferred kind (e.g. ``"abc"`` in a CSV column
  declared integer); they are neither missing nor part of the statistics.
  **Empty count**: empty strings ``""`` in string and categorical columns.
- **Min**, **Max**: exact, over non-missing values, infinities included.
- **Mean**, **Variance**, **Standard Deviation** (sample, ``ddof=1``, as
  ``Series.var``/``Series.std``), **Skewness** (adjusted Fisher-Pearson G1, as
  ``Series.skew``) and **Kurtosis** (bias-corrected excess kurtosis G2, as
  ``Series.kurt``) over the finite values. They come from the count, mean and
  central moment sums M2, M3, M4, merged with the pairwise formulas of Chan,
  Golub & LeVeque (1979) and Pébay (2008, SAND2008-6212, eq. 3.1). Positive and
  negative infinities and zeros are counted apart.
- **Quantiles** 0.1%, 1%, 5%, 25%, 50%, 75%, 95%, 99%, 99.9% and the CDF, over
  finite values. Exact (``numpy.quantile``'s default linear interpolation, as
  ``Series.quantile``) while the column has at most :data:`EXACT_DISTINCT`
  distinct finite values or at most ``k`` values; beyond, from an Apache
  DataSketches KLL sketch with ``k`` = :data:`DEFAULT_K`. See
  :attr:`NumericSummary.rank_error` for the bound.
- **Distinct count**: an estimate from a K-minimum-values sketch of 64-bit
  hashes (Bar-Yossef et al. 2002) with K = :data:`KMV_SIZE`: exact below K
  distinct values; above, relative standard error ``1/sqrt(K - 2)`` = 1.6%.
- **Category frequencies** for string, categorical and boolean columns (and
  integer columns inferred categorical): the ``category_cap`` most frequent, the
  rest counted as "other"; exact while the column has at most
  ``10 * category_cap`` distinct values, beyond from a Misra-Gries summary of
  ``10 * category_cap`` counters (Agarwal et al. 2012, "Mergeable summaries"),
  each count low by at most :attr:`CategorySummary.error`.
- **String length** min, mean and max, in characters, of non-missing strings.

Kinds: integer, decimal, string, boolean, datetime, categorical. A column's
kind comes from its Arrow type, from a ``types`` override, or, for text columns
(CSV), from :func:`monitor.sources.csv_types.infer_kind` on the first batch.
Categorical inference, on the whole profile: a string column whose distinct
values all fit in the exact counts and number at most ``category_cap`` and at
most half its non-missing values is categorical; so is an integer column with at
most :data:`SMALL_INT_CATEGORIES` distinct values, each occurring on average at
least twice. A dictionary-encoded Arrow column is categorical.

Datetimes are profiled as float seconds since the Unix epoch, UTC, at microsecond
resolution; a timestamp without a timezone (and a date) is taken to be UTC;
timestamps with a timezone are converted to UTC. :attr:`ColumnProfile.timezone`
records the source's zone. See ``docs/profile.md``.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing as mp
import os
import pickle
import queue
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import datasketches
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.errors import MonitorError, SourceError
from monitor.sources.csv_types import INFER_ROWS, TextKind, infer_kind, parse_text

if TYPE_CHECKING:
    import pandas as pd

    from monitor.sources.files import FileSource, ReadTask

FORMAT_VERSION = 2
QUANTILE_RANKS: tuple[float, ...] = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)
KINDS = ("integer", "decimal", "string", "boolean", "datetime", "categorical")
NUMERIC_KINDS = ("integer", "decimal", "datetime")
TEXT_KINDS = ("string", "categorical")
DEFAULT_K = 8192
DEFAULT_CATEGORY_CAP = 1000
COUNTER_FACTOR = 10
EXACT_DISTINCT = 4096
KMV_SIZE = 4096
SMALL_INT_CATEGORIES = 20
PRECOMPACT_MIN = 1 << 16
"""Batches of at least this many values are binned and compacted before they enter
the KLL sketch (see :func:`compact_to_sketch`)."""
SKETCH_SLICE = 1 << 19
"""Larger batches are binned and compacted in slices of this many values."""

_RNG = np.random.default_rng()
_SKETCHES_USED = False
"""Set once this process updated or merged a KLL sketch: DataSketches' random
generator then has a state that forked workers would share (see :func:`_context`)."""


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
# KLL sketches built from binned, compacted batches

_KLL_M = 8
_POWERS_OF_THREE = [3**i for i in range(31)]


def _cap_aux_aux(k: int, depth: int) -> int:
    return int((((2 * k) << depth) // _POWERS_OF_THREE[depth] + 1) >> 1)


def _level_capacity(k: int, num_levels: int, height: int) -> int:
    """DataSketches' ``kll_helper::level_capacity``: ``max(m, round(k * (2/3)**depth))``."""
    depth = num_levels - height - 1
    if depth <= 30:
        cap = _cap_aux_aux(k, depth)
    else:
        cap = _cap_aux_aux(_cap_aux_aux(k, depth // 2), depth - depth // 2)
    return max(_KLL_M, cap)


def kll_capacity(k: int, num_levels: int) -> int:
    """DataSketches' ``kll_helper::compute_total_capacity`` (items a sketch holds)."""
    return sum(_level_capacity(k, num_levels, h) for h in range(num_levels))


def _sort_keys(values: np.ndarray) -> np.ndarray:
    """uint64 keys in the order of a float64 array's values (IEEE-754 bit trick:
    negative values have their magnitude bits flipped, then the sign bit is)."""
    bits = values.view(np.int64)
    keys = bits >> np.int64(63)
    keys &= np.int64(0x7FFFFFFFFFFFFFFF)
    keys ^= bits
    out = keys.view(np.uint64)
    out ^= np.uint64(1 << 63)
    return out


def fine_bins(values: np.ndarray, tau: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin a 1-D float64 array of finite values so that no bin holds more than
    ``tau`` values, unless all its values are equal.

    Bins are ranges of the values' order-preserving 64-bit keys: 16,384 equal
    ranges over the batch's key range, each split in about ``2 * count / tau``
    equal parts, then each still crowded part split again over its own key
    range (a radix partition driven by counts; the values are never sorted).

    :returns: (representatives, counts): for each non-empty bin, ascending, the
        value at the middle of its key range (its exact value when all its values
        are equal, the mean of its values for bins split again), and its number of
        values (int64).
    """
    keys = _sort_keys(values)
    kmin, kmax = _sort_keys(np.array([values.min(), values.max()]))
    if kmin == kmax:
        return values[:1].copy(), np.array([values.size], dtype=np.int64)
    rel = keys
    rel -= kmin
    gid, starts, widths = _level_zero(rel, int(kmax - kmin), tau)
    cnt = np.bincount(gid, minlength=starts.size)
    heavy = cnt > tau
    done = np.flatnonzero((cnt > 0) & ~heavy)
    mids = kmin + starts[done] + (np.minimum(widths[done], kmax - kmin - starts[done]) >> np.uint64(1))
    lo, counts, reps = done, cnt[done], _from_keys(mids)
    if heavy.any():
        rank = np.cumsum(heavy) - 1
        keep = np.flatnonzero(heavy[gid])
        parent = np.flatnonzero(heavy)
        sub_lo, sub_cnt, sub_rep, sub_parent = _refine(rel[keep], values[keep], rank[gid[keep]], tau, kmin)
        order = np.lexsort((sub_lo, sub_parent))
        at = np.searchsorted(lo, parent[sub_parent[order]])
        lo = np.insert(lo, at, parent[sub_parent[order]])
        counts = np.insert(counts, at, sub_cnt[order])
        reps = np.insert(reps, at, sub_rep[order])
    return np.maximum.accumulate(reps), counts.astype(np.int64)


def _level_zero(rel: np.ndarray, span: int, tau: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First binning of :func:`fine_bins`: 16,384 equal key ranges, each split in
    ``2**b`` equal parts with ``2**b`` about ``2 * count / tau``.

    :returns: (bin id of each key, bins in key order; each bin's first key and
        key width, relative, uint64)
    """
    coarse_shift = max(0, span.bit_length() - 14)
    coarse = (rel >> np.uint64(coarse_shift)).view(np.int64)
    ccnt = np.bincount(coarse)
    bits = np.ceil(np.log2(np.maximum(2.0 * ccnt / tau, 1.0))).astype(np.int64)
    bits = np.minimum(bits, coarse_shift)
    width = np.int64(1) << bits
    base = np.cumsum(width) - width
    shift = (coarse_shift - bits).astype(np.uint64)
    delta = base - (np.arange(ccnt.size, dtype=np.int64) << bits)
    gid = (rel >> shift[coarse]).view(np.int64)
    gid += delta[coarse]
    owner = np.repeat(np.arange(ccnt.size), width)
    step = np.uint64(1) << shift[owner]
    offset = (np.arange(owner.size) - base[owner]).astype(np.uint64) * step
    starts = (owner.astype(np.uint64) << np.uint64(coarse_shift)) + offset
    return gid, starts, step


def _refine(rel: np.ndarray, vals: np.ndarray, gid: np.ndarray, tau: int, kmin: np.uint64) -> tuple[np.ndarray, ...]:
    """Split groups of keys (compact ids ``gid``) until each holds at most ``tau`` keys
    or a single key value (keys relative to ``kmin``).

    :returns: (lowest key, count, representative, starting group) of each final
        bin, unordered; a bin's representative is the mean of its values, or its
        exact value when they are all equal.
    """
    out: list[tuple[np.ndarray, ...]] = []
    root = np.arange(int(gid.max()) + 1)
    while rel.size:
        size = int(gid.max()) + 1
        cnt = np.bincount(gid, minlength=size)
        sums = np.bincount(gid, weights=vals, minlength=size)
        lo = np.full(size, np.iinfo(np.uint64).max, dtype=np.uint64)
        hi = np.zeros(size, dtype=np.uint64)
        np.minimum.at(lo, gid, rel)
        np.maximum.at(hi, gid, rel)
        heavy = (cnt > tau) & (hi > lo)
        done = (cnt > 0) & ~heavy
        reps = np.where(hi == lo, _from_keys(lo + kmin), sums / np.maximum(cnt, 1))
        out.append((lo[done], cnt[done], reps[done], root[done]))
        if not heavy.any():
            break
        span = np.where(heavy, hi - lo, 0)
        want = np.ceil(np.log2(np.maximum(4.0 * cnt / tau, 2.0))).astype(np.int64)
        length = np.ceil(np.log2(span.astype(np.float64) + 1.0)).astype(np.int64)
        shift = np.maximum(length - want, 0).astype(np.uint64)
        width = np.where(heavy, (span >> shift) + np.uint64(1), 0).astype(np.int64)
        base = np.cumsum(width) - width
        root = np.repeat(root, width)
        keep = heavy[gid]
        if not keep.all():
            gid, rel, vals = gid[keep], rel[keep], vals[keep]
        gid = base[gid] + ((rel - lo[gid]) >> shift[gid]).view(np.int64)
    return tuple(np.concatenate([o[i] for o in out]) for i in range(4))


def _from_keys(keys: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_sort_keys` for keys relative to nothing (absolute keys)."""
    signed = (keys ^ np.uint64(1 << 63)).view(np.int64)
    bits = signed ^ ((signed >> np.int64(63)) & np.int64(0x7FFFFFFFFFFFFFFF))
    return bits.view(np.float64)


_SPARE_LEVELS = 8


def compaction_level(n: int, k: int) -> int:
    """The smallest level ``h >= 1`` whose ``n >> h`` items (and up to ``h`` more)
    fit a KLL sketch of ``k`` with a few empty levels above ``h`` (at most about
    ``3 * k`` items: the items then number at least about ``1.5 * k``)."""
    h = 1
    while (n >> h) + h > kll_capacity(k, h + 1 + _SPARE_LEVELS):
        h += 1
    return h


def compact_to_sketch(reps: np.ndarray, counts: np.ndarray, lo: float, hi: float, k: int, h: int) -> Any:
    """A KLL sketch of ``k`` holding the ``n = sum(counts)`` values given as sorted
    (representative, count) runs, compacted to weight ``2**h``.

    The runs are read as one sorted sequence of ``n`` values; every ``2**h``-th is
    kept (from a random offset) with weight ``2**h``, as a KLL compaction keeps
    every second item; the last ``n mod 2**h`` values become one item per binary
    digit. For any x the sketch's rank differs from the runs' by less than
    ``2**h``. The sketch is built in DataSketches' serialised form (version 1 of
    the KLL format) and read back with ``kll_doubles_sketch.deserialize``.

    :param lo: the exact minimum; :param hi: the exact maximum (kept by the sketch).
    """
    cum = np.cumsum(counts)
    n = int(cum[-1])
    w = 1 << h
    m = n >> h
    pos = [np.arange(m, dtype=np.int64) * w + int(_RNG.integers(w))]
    level_sizes = [0] * (h + 1)
    level_sizes[h] = m
    start = m * w
    for i in range(h - 1, -1, -1):
        if (n - m * w) >> i & 1:
            level_sizes[i] = 1
            pos.insert(0, np.array([start + int(_RNG.integers(1 << i))], dtype=np.int64))
            start += 1 << i
    items = reps[np.searchsorted(cum, np.concatenate(pos), side="right")]
    return _kll_from_levels(items, level_sizes, n, lo, hi, k)


def _kll_from_levels(items: np.ndarray, sizes: list[int], n: int, lo: float, hi: float, k: int) -> Any:
    """Deserialize a KLL image: ``items`` level by level from level 0, each level
    sorted; empty levels are added on top until the items fit the capacity."""
    total = int(sum(sizes))
    sizes = list(sizes)
    while kll_capacity(k, len(sizes)) < total and len(sizes) <= 60:
        sizes.append(0)
    levels = len(sizes)
    capacity = kll_capacity(k, levels)
    if total > capacity or n < 2:
        raise ValueError("items do not fit the sketch")
    bounds = np.cumsum([capacity - total] + sizes[:-1]).astype("<u4")
    head = struct.pack("<BBBBHBBQHBB", 5, 1, 15, 2, k, _KLL_M, 0, n, k, levels, 0)
    blob = head + bounds.tobytes() + struct.pack("<dd", lo, hi) + np.asarray(items, dtype="<f8").tobytes()
    sketch = datasketches.kll_doubles_sketch.deserialize(blob)
    if sketch.n != n or sketch.num_retained != total:
        raise ValueError("KLL image mismatch")
    return sketch


def _writable(values: np.ndarray) -> np.ndarray:
    """A C-contiguous, writable float64 array (the KLL binding takes no read-only arrays)."""
    if values.dtype == np.float64 and values.flags.c_contiguous and values.flags.writeable:
        return values
    return np.array(values, dtype=np.float64)


def _repetitive(values: np.ndarray, probe: int = 8192) -> bool:
    """True when the first ``probe`` values hold at most half as many distinct values."""
    return bool(np.unique(values[:probe]).size * 2 <= min(probe, values.size))


def _with_zeros(bins: tuple[np.ndarray, np.ndarray], zeros: int) -> tuple[np.ndarray, np.ndarray]:
    """Fine bins of the non-zero values with a bin of ``zeros`` zeros put in order."""
    reps, counts = bins
    at = int(np.searchsorted(reps, 0.0))
    return np.insert(reps, at, 0.0), np.insert(counts, at, zeros)


def _new_kll(k: int) -> Any:
    global _SKETCHES_USED
    _SKETCHES_USED = True
    return datasketches.kll_doubles_sketch(k)


# ---------------------------------------------------------------------------
# numeric summary


def _merge_counts(a: np.ndarray, ca: np.ndarray, b: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of two (sorted distinct values, counts) tables."""
    if a.size == 0:
        return b, cb
    if b.size == 0:
        return a, ca
    vals = np.concatenate([a, b])
    cnts = np.concatenate([ca, cb])
    order = np.argsort(vals, kind="stable")
    vals, cnts = vals[order], cnts[order]
    first = np.concatenate(([True], vals[1:] != vals[:-1]))
    return vals[first], np.add.reduceat(cnts, np.flatnonzero(first))


def value_counts(values: np.ndarray, limit: int, integral: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted distinct values and their counts of a float64 array (finite, ``-0.0``
    normalised), or None when it has more than ``limit`` distinct values.

    :param integral: the values are integers (bincount over their range when small).
    """
    if values.size == 0:
        return values, np.empty(0, dtype=np.int64)
    if values.size > 4 * limit and np.unique(values[: 2 * limit]).size > limit:
        return None
    lo, hi = float(values.min()), float(values.max())
    if integral and hi - lo < 4 * values.size and hi - lo < 1 << 22:
        counts = np.bincount((values - lo).astype(np.intp))
        nz = np.flatnonzero(counts)
        return (nz + lo).astype(np.float64), counts[nz].astype(np.int64)
    vc = pc.value_counts(pa.array(values, type=pa.float64()))
    if len(vc) > limit:
        return None
    uniq = vc.field("values").to_numpy(zero_copy_only=False)
    order = np.argsort(uniq)
    return uniq[order], vc.field("counts").to_numpy(zero_copy_only=False)[order].astype(np.int64)


@dataclass(eq=False)
class NumericSummary:
    """Mergeable summary of a numeric or datetime column's non-missing values.

    Holds exact min and max, infinity and zero counts, moments of the finite
    values, and their distribution: exactly (sorted distinct values and counts,
    :meth:`exact_counts`) while there are at most ``exact_limit`` distinct finite
    values, then in a KLL sketch of ``k`` (:attr:`sketch`).

    :ivar precompaction_error: normalised rank error added by compacting large
        batches before they enter the sketch (see :attr:`rank_error`).
    """

    moments: Moments = field(default_factory=Moments)
    min: float | None = None
    max: float | None = None
    pos_inf: int = 0
    neg_inf: int = 0
    zeros: int = 0
    k: int = DEFAULT_K
    exact_limit: int = EXACT_DISTINCT
    values: np.ndarray | None = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    counts: np.ndarray | None = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    kll: Any = None
    precompaction_error: float = 0.0

    # -- updating

    def update(self, values: np.ndarray, *, integral: bool = False) -> None:
        """Add a 1-D float64 array of non-NaN values (infinities allowed).

        :param integral: the values are integers (enables a faster exact count).
        """
        if values.size == 0:
            return
        lo, hi = float(values.min()), float(values.max())
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        if math.isinf(lo) or math.isinf(hi):
            self.pos_inf += int(np.count_nonzero(values == np.inf))
            self.neg_inf += int(np.count_nonzero(values == -np.inf))
            values = values[np.isfinite(values)]
        zeros = int(np.count_nonzero(values == 0.0))
        if zeros:
            self.zeros += zeros
            values = np.where(values == 0.0, 0.0, values)
        self.moments = self.moments.merge(Moments.of(values))
        self._update_distribution(values, integral, zeros)

    def _update_distribution(self, values: np.ndarray, integral: bool, zeros: int = 0) -> None:
        if values.size == 0:
            return
        if self.values is not None and self.counts is not None:
            counted = value_counts(values, self.exact_limit, integral)
            if counted is not None:
                vals, cnts = _merge_counts(self.values, self.counts, *counted)
                if vals.size <= self.exact_limit:
                    self.values, self.counts = vals, cnts
                    return
                self._to_sketch(vals, cnts)
                return
            self._to_sketch(self.values, self.counts)
        self._sketch_update(values, zeros)

    def _to_sketch(self, vals: np.ndarray, cnts: np.ndarray) -> None:
        """Leave exact mode: move the counted values into a KLL sketch."""
        self.kll = _new_kll(self.k)
        n = int(cnts.sum()) if cnts.size else 0
        if n <= self.k or vals.size < 2:
            if n:
                self.kll.update(_writable(np.repeat(vals, cnts)))
        else:
            self._inject(vals, cnts, 0, float(vals[0]), float(vals[-1]))
        self.values = self.counts = None

    def _sketch_update(self, values: np.ndarray, zeros: int = 0) -> None:
        """Add finite values (``zeros`` of them 0.0) to the sketch: directly when few,
        else as exact value counts when values repeat, else as fine bins (in slices
        of at most :data:`SKETCH_SLICE` values, to bound memory)."""
        if values.size < PRECOMPACT_MIN:
            self.kll.update(_writable(values))
            return
        if values.size > SKETCH_SLICE:
            for i in range(0, values.size, SKETCH_SLICE):
                part = values[i:i + SKETCH_SLICE]
                self._sketch_update(part, int(np.count_nonzero(part == 0.0)) if zeros else 0)
            return
        lo, hi = float(values.min()), float(values.max())
        if _repetitive(values):
            vc = pc.value_counts(pa.array(values, type=pa.float64()))
            uniq = vc.field("values").to_numpy(zero_copy_only=False)
            order = np.argsort(uniq)
            counts = vc.field("counts").to_numpy(zero_copy_only=False)[order].astype(np.int64)
            self._inject(uniq[order], counts, 0, lo, hi)
            return
        h = compaction_level(values.size, self.k)
        tau = max(1, (1 << h) // 2)
        if zeros * 8 > values.size:
            reps, cnts = _with_zeros(fine_bins(values[values != 0.0], tau), zeros)
        else:
            reps, cnts = fine_bins(values, tau)
        self._inject(reps, cnts, tau, lo, hi)

    def _inject(self, reps: np.ndarray, cnts: np.ndarray, tau: int, lo: float, hi: float) -> None:
        n = int(cnts.sum())
        h = compaction_level(n, self.k)
        self.kll.merge(compact_to_sketch(reps, cnts, lo, hi, self.k, h))
        self.precompaction_error = max(self.precompaction_error, ((1 << h) + tau) / n)

    def merge(self, o: NumericSummary) -> NumericSummary:
        """Summary of the union of both inputs."""
        mins = [v for v in (self.min, o.min) if v is not None]
        maxs = [v for v in (self.max, o.max) if v is not None]
        out = NumericSummary(
            self.moments.merge(o.moments), min(mins) if mins else None, max(maxs) if maxs else None,
            self.pos_inf + o.pos_inf, self.neg_inf + o.neg_inf, self.zeros + o.zeros,
            min(self.k, o.k), min(self.exact_limit, o.exact_limit), None, None, None,
            max(self.precompaction_error, o.precompaction_error),
        )
        if self.values is not None and o.values is not None and self.counts is not None and o.counts is not None:
            vals, cnts = _merge_counts(self.values, self.counts, o.values, o.counts)
            if vals.size <= out.exact_limit:
                out.values, out.counts = vals, cnts
                return out
            out._to_sketch(vals, cnts)
            return out
        out.kll = _new_kll(out.k)
        for side in (self, o):
            kll, error = side._sketch_and_error()
            out.kll.merge(kll)
            out.precompaction_error = max(out.precompaction_error, error)
        return out

    def _sketch_and_error(self) -> tuple[Any, float]:
        if self.values is None or self.counts is None:
            return self.kll, self.precompaction_error
        probe = NumericSummary(k=self.k)
        probe._to_sketch(self.values, self.counts)
        return probe.kll, probe.precompaction_error

    # -- reading

    @property
    def sketch(self) -> Any:
        """The KLL sketch of the finite values (built from the exact counts in exact mode)."""
        return self._sketch_and_error()[0]

    n = property(lambda self: self.moments.n, doc="Number of finite values.")
    mean = property(lambda self: self.moments.mean if self.moments.n else None, doc="Mean of finite values.")
    variance = property(lambda self: self.moments.variance, doc="Sample variance, ddof=1.")
    skewness = property(lambda self: self.moments.skewness, doc="Skewness as pandas.")
    kurtosis = property(lambda self: self.moments.kurtosis, doc="Excess kurtosis as pandas.")

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof=1, as pandas)."""
        var = self.variance
        return math.sqrt(max(var, 0.0)) if var is not None else None

    @property
    def finite_min(self) -> float | None:
        """Smallest finite value (None when there is none)."""
        if self.n == 0:
            return None
        if self.values is not None:
            return float(self.values[0])
        return float(self.kll.get_min_value())

    @property
    def finite_max(self) -> float | None:
        """Largest finite value (None when there is none)."""
        if self.n == 0:
            return None
        if self.values is not None:
            return float(self.values[-1])
        return float(self.kll.get_max_value())

    @property
    def is_exact(self) -> bool:
        """True while every finite value is held exactly (quantiles and CDF are exact)."""
        return self.values is not None or not self.kll.is_estimation_mode()

    @property
    def rank_error(self) -> float:
        """Bound on the normalised rank error of :meth:`quantiles` and :meth:`cdf`; 0 when exact.

        The KLL sketch's single-sided error at 99% confidence for its ``k``
        (DataSketches' ``get_normalized_rank_error(k, False)``: 0.036% for k=8192),
        plus the deterministic error of compacting batches before they enter the
        sketch, at most ``(2**h + 2**(h-1)) / batch size`` (0.01% for batches of
        2**16 values or more).
        """
        if self.is_exact:
            return 0.0
        kll_error = datasketches.kll_doubles_sketch.get_normalized_rank_error(self.kll.k, False)
        return float(kll_error) + self.precompaction_error

    def exact_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted distinct finite values and their counts, when :attr:`is_exact`.

        :raises ValueError: when the sketch is in estimation mode.
        """
        if self.values is not None and self.counts is not None:
            return self.values, self.counts
        if self.kll.is_estimation_mode():
            raise ValueError("the sketch no longer holds every value")
        pairs = sorted((float(v), int(w)) for v, w in self.kll)
        vals = np.array([v for v, _ in pairs], dtype=np.float64)
        return _merge_counts(vals, np.array([w for _, w in pairs], dtype=np.int64), np.empty(0), np.empty(0, np.int64))

    def exact_values(self) -> np.ndarray:
        """Every finite value, sorted, when :attr:`is_exact` (shape ``(n,)``).

        :raises ValueError: when the sketch is in estimation mode.
        """
        vals, cnts = self.exact_counts()
        return np.repeat(vals, cnts)

    def quantiles(self, ranks: Sequence[float] | np.ndarray) -> np.ndarray:
        """Quantiles at normalised ranks in [0, 1]; NaN when there are no values.

        Exact mode matches ``numpy.quantile(values, ranks)`` (linear
        interpolation, pandas' default); beyond, the sketch's inclusive quantiles.
        """
        r = np.asarray(ranks, dtype=np.float64)
        if self.n == 0:
            return np.full(r.shape, np.nan)
        if self.is_exact:
            return _weighted_quantiles(*self.exact_counts(), r)
        return np.asarray(self.kll.get_quantiles(r.ravel().tolist(), True), dtype=np.float64).reshape(r.shape)

    def cdf(self, points: Sequence[float] | np.ndarray) -> np.ndarray:
        """Fraction of finite values ``<= x`` for each x of an array (any order, any shape)."""
        pts = np.asarray(points, dtype=np.float64)
        if self.n == 0:
            return np.full(pts.shape, np.nan)
        if self.is_exact:
            vals, cnts = self.exact_counts()
            cum = np.concatenate(([0], np.cumsum(cnts)))
            out: np.ndarray = cum[np.searchsorted(vals, pts, side="right")] / cum[-1]
            return out
        uniq, inverse = np.unique(pts, return_inverse=True)
        ranks = np.asarray(self.kll.get_cdf(uniq.tolist(), True), dtype=np.float64)[:-1]
        return ranks[inverse].reshape(pts.shape)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["kll"] = None if self.kll is None else bytes(self.kll.serialize())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        blob = state.get("kll")
        if blob is not None:
            state["kll"] = datasketches.kll_doubles_sketch.deserialize(blob)
        self.__dict__.update(state)


def _weighted_quantiles(vals: np.ndarray, cnts: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """``numpy.quantile(np.repeat(vals, cnts), ranks)`` without expanding."""
    cum = np.cumsum(cnts)
    n = int(cum[-1])
    h = (n - 1) * ranks
    lo = np.floor(h)
    lo_v = vals[np.searchsorted(cum, lo, side="right")]
    hi_v = vals[np.searchsorted(cum, np.minimum(lo + 1, n - 1), side="right")]
    out: np.ndarray = lo_v + (hi_v - lo_v) * (h - lo)
    return out


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


# ---------------------------------------------------------------------------
# column and dataset profiles


@dataclass
class ColumnProfile:
    """Profile of one column; statistics as defined in the module docstring.

    :ivar kind: one of integer, decimal, string, boolean, datetime, categorical.
    :ivar count: rows; ``missing`` counts null and NaN; ``empty`` empty strings;
        ``errors`` values that did not parse as the kind (not counted as missing).
    :ivar numeric: for integer, decimal and datetime columns (and categorical ones
        inferred from integers).
    :ivar categories: for string, categorical and boolean columns.
    :ivar declared: the kind came from a ``types`` override.
    :ivar timezone: for datetime columns, the source's timezone (None: naive, read as UTC).
    """

    name: str
    kind: str
    arrow_type: str = ""
    count: int = 0
    missing: int = 0
    empty: int = 0
    errors: int = 0
    numeric: NumericSummary | None = None
    categories: CategorySummary | None = None
    distinct_sketch: DistinctSketch = field(default_factory=DistinctSketch)
    length_min: int | None = None
    length_max: int | None = None
    length_sum: int = 0
    declared: bool = False
    timezone: str | None = None

    @property
    def not_missing(self) -> int:
        """Rows with a value (errors included)."""
        return self.count - self.missing

    @property
    def percent_missing(self) -> float:
        """Missing rows as a percentage of rows (0 for an empty column)."""
        return 100.0 * self.missing / self.count if self.count else 0.0

    @property
    def distinct(self) -> float:
        """Estimated distinct non-missing values; see :class:`DistinctSketch`."""
        return self.distinct_sketch.estimate

    @property
    def distinct_error(self) -> float:
        """Relative standard error of :attr:`distinct` (0 when exact)."""
        return self.distinct_sketch.relative_error

    @property
    def length_mean(self) -> float | None:
        """Mean string length in characters, for string-like columns."""
        n = self.not_missing - self.errors
        return self.length_sum / n if self.length_min is not None and n > 0 else None

    def merge(self, o: ColumnProfile) -> ColumnProfile:
        """Profile of this column over both inputs' rows.

        :raises ValueError: when the two profiles are of incompatible kinds.
        """
        kind = _merged_kind(self, o)
        lmin = [v for v in (self.length_min, o.length_min) if v is not None]
        lmax = [v for v in (self.length_max, o.length_max) if v is not None]
        out = ColumnProfile(
            self.name, kind, self.arrow_type or o.arrow_type, self.count + o.count,
            self.missing + o.missing, self.empty + o.empty, self.errors + o.errors,
            _merge_opt(self.numeric, o.numeric), _merge_opt(self.categories, o.categories),
            self.distinct_sketch.merge(o.distinct_sketch),
            min(lmin) if lmin else None, max(lmax) if lmax else None,
            self.length_sum + o.length_sum, self.declared or o.declared, self.timezone or o.timezone,
        )
        if kind != self.kind or kind != o.kind:
            out.kind = _reinfer_kind(out, self.kind, o.kind)
        return out


def _merged_kind(a: ColumnProfile, b: ColumnProfile) -> str:
    if a.kind == b.kind:
        return a.kind
    pair = {a.kind, b.kind}
    if pair in ({"string", "categorical"}, {"integer", "categorical"}):
        return "categorical"
    raise ValueError(f"column {a.name!r}: cannot merge {a.kind} with {b.kind}")


def _reinfer_kind(col: ColumnProfile, ka: str, kb: str) -> str:
    """Kind of a merged column whose sides were inferred differently."""
    values = col.not_missing - col.errors
    if "integer" in (ka, kb):
        num = col.numeric
        if num is not None and _int_categorical(num, values):
            cap = col.categories.cap if col.categories is not None else DEFAULT_CATEGORY_CAP
            col.categories = _int_categories(num, cap, values)
            return "categorical"
        col.categories = None
        return "integer"
    return "categorical" if col.categories is not None and _text_categorical(col.categories, values) else "string"


def _merge_opt(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else a.merge(b)


@dataclass
class DatasetProfile:
    """Profile of a dataset: row count and one :class:`ColumnProfile` per column,
    in column order."""

    row_count: int = 0
    columns: dict[str, ColumnProfile] = field(default_factory=dict)

    def merge(self, o: DatasetProfile) -> DatasetProfile:
        """Profile of the rows of both inputs (a column on one side only is kept,
        with the rows of the other side counted as missing).

        :raises ValueError: when a column has incompatible kinds on the two sides.
        """
        cols: dict[str, ColumnProfile] = {}
        for name in list(self.columns) + [c for c in o.columns if c not in self.columns]:
            a, b = self.columns.get(name), o.columns.get(name)
            if a is None or b is None:
                col = _pad_missing(a or b, o.row_count if a else self.row_count)  # type: ignore[arg-type]
            else:
                col = a.merge(b)
            cols[name] = col
        return DatasetProfile(self.row_count + o.row_count, cols)

    def to_records(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Serialise: a dataset-level dict and one dict per column with keys
        ``column, position, kind, stats`` (JSON-able) and ``sketch`` (bytes)."""
        from monitor.profile_io import profile_to_records

        return profile_to_records(self)

    @classmethod
    def from_records(cls, meta: Mapping[str, Any], columns: Sequence[Mapping[str, Any]]) -> DatasetProfile:
        """Inverse of :meth:`to_records`; reads every format version up to :data:`FORMAT_VERSION`.

        :raises ValueError: on an unknown format version or a malformed record.
        """
        from monitor.profile_io import profile_from_records

        return profile_from_records(meta, columns)

    def table(self) -> pd.DataFrame:
        """The profile table with Azure ML's columns, one row per column."""
        from monitor.profile_io import profile_table

        return profile_table(self)


def _pad_missing(col: ColumnProfile, rows: int) -> ColumnProfile:
    pad = ColumnProfile(col.name, col.kind, col.arrow_type, rows, rows, declared=col.declared)
    return col.merge(pad)


# ---------------------------------------------------------------------------
# column specs: the kind each column is profiled as


@dataclass(frozen=True)
class ColumnSpec:
    """How a column is profiled.

    :ivar kind: the kind before categorical inference.
    :ivar declared: the kind came from a ``types`` override.
    :ivar text: values arrive as raw text (CSV) and are parsed to the kind.
    :ivar fmt: the datetime format of a text column.
    """

    kind: str
    declared: bool = False
    text: bool = False
    fmt: str | None = None


def kind_of(arrow_type: pa.DataType) -> str:
    """Our column kind for an Arrow type (strings start as "string")."""
    if pa.types.is_dictionary(arrow_type):
        return "categorical"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "datetime"
    return "string"


def column_spec(arrow_type: pa.DataType, declared: str | None, text: bool, sample: pa.Array | None = None) -> ColumnSpec:
    """The :class:`ColumnSpec` of a column.

    :param sample: for a text column, values to infer the kind (and datetime format) from.
    :raises ValueError: when ``declared`` is not one of :data:`KINDS`.
    """
    if declared is not None and declared not in KINDS:
        raise ValueError(f"unknown kind {declared!r}; expected one of {', '.join(KINDS)}")
    if not text:
        return ColumnSpec(declared or kind_of(arrow_type), declared is not None)
    inferred = infer_kind(sample) if sample is not None else TextKind("string")
    if declared is None:
        return ColumnSpec(inferred.kind, False, True, inferred.fmt)
    fmt = inferred.fmt if declared == "datetime" else None
    return ColumnSpec(declared, True, True, fmt)


# ---------------------------------------------------------------------------
# accumulating one column


def _chunks(arr: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(arr.chunks) if isinstance(arr, pa.ChunkedArray) else [arr]


def _float_values(arr: pa.Array) -> tuple[np.ndarray, int]:
    """Non-missing values of a numeric Arrow array as float64, and the missing count
    (nulls and NaN)."""
    missing = arr.null_count
    if missing:
        arr = arr.drop_null()
    if not pa.types.is_floating(arr.type):
        return arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False), missing
    values = arr.to_numpy(zero_copy_only=False)
    if values.dtype != np.float64:
        values = values.astype(np.float64)
    nan = np.isnan(values)
    if nan.any():
        missing += int(np.count_nonzero(nan))
        values = values[~nan]
    return values, missing


def _seconds(arr: pa.Array) -> pa.Array:
    """Timestamps and dates as float64 seconds since the epoch, UTC."""
    if pa.types.is_date(arr.type):
        days = arr.cast(pa.date32()).cast(pa.int32()).cast(pa.float64())
        return pc.multiply(days, 86400.0)
    micros = arr.cast(pa.timestamp("us", tz=arr.type.tz), safe=False).cast(pa.int64()).cast(pa.float64())
    return pc.divide(micros, 1e6)


def _to_numeric(arr: pa.Array, kind: str) -> pa.Array:
    """A non-text Arrow array as float64 for a numeric kind (datetimes as seconds)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return _seconds(arr)
    if pa.types.is_boolean(arr.type):
        return arr.cast(pa.int8()).cast(pa.float64())
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
        return arr
    if pa.types.is_decimal(arr.type):
        return arr.cast(pa.float64())
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr  # parsed by the caller
    raise ValueError(f"cannot profile {arr.type} as {kind}")


def _is_text(arr: pa.Array) -> bool:
    t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


class ColumnAccumulator:
    """Accumulates one column's statistics over Arrow arrays; picklable and mergeable.

    :param cap: categories reported; ``COUNTER_FACTOR * cap`` are counted.
    """

    def __init__(self, name: str, spec: ColumnSpec, k: int = DEFAULT_K, cap: int = DEFAULT_CATEGORY_CAP) -> None:
        self.name, self.spec, self.cap = name, spec, cap
        self.arrow_type = ""
        self.timezone: str | None = None
        self.count = self.missing = self.empty = self.errors = 0
        self.numeric = NumericSummary(k=k) if spec.kind in NUMERIC_KINDS else None
        self.counter = CategoryCounter(COUNTER_FACTOR * cap) if spec.kind not in NUMERIC_KINDS else None
        self.distinct = DistinctSketch()
        self.length_min: int | None = None
        self.length_max: int | None = None
        self.length_sum = 0

    def pad(self, rows: int) -> None:
        """Count ``rows`` rows where the column is absent (missing)."""
        self.count += rows
        self.missing += rows

    def update(self, arr: pa.Array | pa.ChunkedArray) -> None:
        """Add one column chunk (any Arrow type the kind can be read from).

        :raises ValueError: when the values cannot be read as the column's kind.
        """
        for chunk in _chunks(arr):
            if not self.arrow_type:
                self.arrow_type = str(chunk.type)
                self.timezone = getattr(chunk.type, "tz", None)
            self.count += len(chunk)
            if self.spec.kind in NUMERIC_KINDS:
                self._update_numeric(chunk)
            elif self.spec.kind == "boolean":
                self._update_boolean(chunk)
            else:
                self._update_text(chunk)

    def _parse(self, chunk: pa.Array, kind: str) -> tuple[pa.Array, int]:
        """A chunk in a form its kind can be read from, and the values that failed to
        parse (null in the result, counted as errors, not as missing)."""
        if not _is_text(chunk):
            return chunk, 0
        text = chunk.dictionary_decode() if pa.types.is_dictionary(chunk.type) else chunk
        parsed = parse_text(text, kind, self.spec.fmt)
        self.errors += parsed.errors
        return parsed.values, parsed.errors

    def _update_numeric(self, chunk: pa.Array) -> None:
        kind = self.spec.kind
        arr, errors = self._parse(chunk, kind)
        integral = kind == "integer" and (errors or _is_text(chunk) or pa.types.is_integer(arr.type))
        values, missing = _float_values(_to_numeric(arr, kind))
        self.missing += missing - errors
        assert self.numeric is not None
        self.numeric.update(values, integral=bool(integral))
        self.distinct.update_hashes(self._numeric_hashes(values))

    def _numeric_hashes(self, values: np.ndarray) -> np.ndarray:
        """Hashes for the distinct count: in exact mode those of the distinct values
        seen so far (fewer), else of every value."""
        num = self.numeric
        assert num is not None
        if num.values is not None and values.size > num.values.size:
            seen = num.values
            if num.pos_inf or num.neg_inf:
                seen = np.concatenate([seen, values[np.isinf(values)]])
            return hash_floats(seen)
        return hash_floats(values)

    def _update_boolean(self, chunk: pa.Array) -> None:
        arr, errors = self._parse(chunk, "boolean")
        if not pa.types.is_boolean(arr.type):
            arr = pc.not_equal(_to_numeric(arr, "integer"), 0)
        self.missing += arr.null_count - errors
        true = int(pc.sum(arr).as_py() or 0)
        false = len(arr) - arr.null_count - true
        labels = [lbl for lbl, n in (("false", false), ("true", true)) if n]
        counts = np.array([n for n in (false, true) if n], dtype=np.int64)
        self._add_labels(pa.array(labels, type=pa.string()), counts)

    def _update_text(self, chunk: pa.Array) -> None:
        if not _is_text(chunk):
            chunk = _as_text(chunk)
        self.missing += chunk.null_count
        if not pa.types.is_dictionary(chunk.type) and _many_distinct(chunk):
            self._update_text_hashed(chunk.drop_null() if chunk.null_count else chunk)
            return
        labels, counts = _label_counts(chunk)
        if len(labels) == 0:
            return
        lengths = pc.utf8_length(labels).to_numpy(zero_copy_only=False).astype(np.int64)
        self.length_min = _opt_min(self.length_min, int(lengths.min()))
        self.length_max = _opt_max(self.length_max, int(lengths.max()))
        self.length_sum += int(np.dot(lengths, counts))
        empty = np.flatnonzero(lengths == 0)
        self.empty += int(counts[empty].sum()) if empty.size else 0
        self._add_labels(labels, counts)

    def _update_text_hashed(self, values: pa.Array) -> None:
        """A chunk with many distinct values: count by hash, keep labels only for the
        values frequent enough to survive the batch's Misra-Gries step."""
        hashes = hash_strings(values)
        lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
        self.length_min = _opt_min(self.length_min, int(lengths.min()))
        self.length_max = _opt_max(self.length_max, int(lengths.max()))
        self.length_sum += int(lengths.sum(dtype=np.int64))
        self.empty += int(np.count_nonzero(lengths == 0))
        assert self.counter is not None
        frequent = _frequent_by_hash(values, hashes, self.counter.capacity)
        if frequent is None:
            labels, counts = _label_counts(values)
            self.counter.add(labels, counts)
        else:
            self.counter.add(*frequent)
        self.distinct.update_hashes(hashes)

    def _add_labels(self, labels: pa.Array, counts: np.ndarray) -> None:
        assert self.counter is not None
        self.counter.add(labels, counts)
        self.distinct.update_hashes(hash_strings(labels))

    def merge(self, o: ColumnAccumulator) -> ColumnAccumulator:
        """This accumulator with ``o``'s rows added (in place; returns self)."""
        if o.spec.kind != self.spec.kind:
            raise ValueError(f"column {self.name!r}: cannot merge {self.spec.kind} with {o.spec.kind}")
        self.arrow_type = self.arrow_type or o.arrow_type
        self.timezone = self.timezone or o.timezone
        self.count += o.count
        self.missing += o.missing
        self.empty += o.empty
        self.errors += o.errors
        self.numeric = _merge_opt(self.numeric, o.numeric)
        self.counter = _merge_opt(self.counter, o.counter)
        self.distinct = self.distinct.merge(o.distinct)
        self.length_min = _opt_min(self.length_min, o.length_min)
        self.length_max = _opt_max(self.length_max, o.length_max)
        self.length_sum += o.length_sum
        return self

    def finish(self) -> ColumnProfile:
        """The column's :class:`ColumnProfile` (categorical inference applied)."""
        spec = self.spec
        col = ColumnProfile(
            self.name, spec.kind, self.arrow_type, self.count, self.missing, self.empty, self.errors,
            self.numeric, None, self.distinct, self.length_min, self.length_max, self.length_sum,
            spec.declared, self.timezone,
        )
        values = col.not_missing - col.errors
        if self.counter is not None:
            col.categories = self.counter.summary(self.cap, values)
        if spec.declared:
            if spec.kind == "categorical" and col.numeric is not None:
                col.categories = _int_categories(col.numeric, self.cap, values)
            return col
        if spec.kind == "string" and col.categories is not None and _text_categorical(col.categories, values):
            col.kind = "categorical"
        elif spec.kind == "integer" and col.numeric is not None and _int_categorical(col.numeric, values):
            col.kind = "categorical"
            col.categories = _int_categories(col.numeric, self.cap, values)
        return col


def _opt_min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _opt_max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _as_text(chunk: pa.Array) -> pa.Array:
    """A non-text chunk as strings (booleans as true/false, timestamps in ISO form;
    nested values and bytes that are not UTF-8 through ``str``)."""
    if pa.types.is_dictionary(chunk.type):
        chunk = chunk.dictionary_decode()
    try:
        return chunk.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in chunk.to_pylist()], type=pa.string())


def _label_counts(chunk: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Distinct non-null values of a text chunk (string or dictionary) and their counts."""
    if pa.types.is_dictionary(chunk.type):
        indices = chunk.indices.drop_null().to_numpy(zero_copy_only=False)
        counts = np.bincount(indices, minlength=len(chunk.dictionary)) if indices.size else np.zeros(0, np.int64)
        used = np.flatnonzero(counts)
        return chunk.dictionary.take(pa.array(used)).cast(pa.string()), counts[used].astype(np.int64)
    vc = pc.value_counts(chunk)
    labels = vc.field("values")
    counts = vc.field("counts").to_numpy(zero_copy_only=False).astype(np.int64)
    if labels.null_count:
        valid = labels.is_valid()
        labels, counts = labels.filter(valid), counts[valid.to_numpy(zero_copy_only=False)]
    return labels.cast(pa.string()), counts


HASHED_MIN = 1 << 16
"""String chunks of at least this many values with mostly distinct values are
counted by hash (:func:`_frequent_by_hash`) rather than by a hash table of strings."""


def _many_distinct(chunk: pa.Array) -> bool:
    """A long string chunk whose first 16,384 values are mostly distinct."""
    if len(chunk) - chunk.null_count < HASHED_MIN:
        return False
    probe = chunk[: 1 << 14]
    return int(pc.count_distinct(probe).as_py()) > len(probe) // 2


def _frequent_by_hash(values: pa.Array, hashes: np.ndarray, capacity: int) -> tuple[pa.Array, np.ndarray, int] | None:
    """The batch's Misra-Gries summary with ``capacity`` counters, counted by 64-bit hash.

    Values whose hash falls alone in one of 2**22 buckets occur once; only the
    others are grouped exactly. Returns (labels, counts after the cut, cut), or
    None when every value fits the counters (the caller counts exactly).
    """
    bucket = (hashes >> np.uint64(42)).astype(np.intp)
    pos = np.flatnonzero(np.bincount(bucket, minlength=1 << 22)[bucket] > 1)
    crowded = hashes[pos]
    uniq, cnt = np.unique(crowded, return_counts=True)
    ones = hashes.size - crowded.size + int(np.count_nonzero(cnt == 1))
    cut = misra_gries_cut(cnt[cnt > 1], capacity, ones)
    if cut == 0:
        return None
    keep = cnt > cut
    kept = uniq[keep]
    slot = np.minimum(np.searchsorted(kept, crowded), max(kept.size - 1, 0))
    hit = np.flatnonzero(kept[slot] == crowded) if kept.size else np.empty(0, dtype=np.intp)
    _, first = np.unique(slot[hit], return_index=True)
    labels = values.take(pa.array(pos[hit[first]]))
    return labels.cast(pa.string()), cnt[keep].astype(np.int64) - cut, cut


def _text_categorical(cats: CategorySummary, values: int) -> bool:
    """The string → categorical rule (module docstring)."""
    n = len(cats.counts)
    return cats.error == 0 and cats.other == 0 and 0 < n <= cats.cap and n <= values / 2


def _int_categorical(num: NumericSummary, values: int) -> bool:
    """The integer → categorical rule (module docstring)."""
    if num.values is None or num.values.size == 0 or num.pos_inf or num.neg_inf:
        return False
    return num.values.size <= SMALL_INT_CATEGORIES and num.values.size <= values / 2


def _int_categories(num: NumericSummary, cap: int, values: int) -> CategorySummary | None:
    """Category counts of an integer column in exact mode, labels as decimal integers."""
    if num.values is None or num.counts is None:
        return None
    pairs = sorted(zip((str(int(v)) for v in num.values), num.counts.tolist()), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(pairs[:cap])
    return CategorySummary(kept, values - sum(kept.values()), cap)


# ---------------------------------------------------------------------------
# a profile in progress


@dataclass
class ProfileState:
    """Accumulators of a profile in progress: picklable (for worker processes) and
    mergeable; :meth:`finish` gives the :class:`DatasetProfile`."""

    specs: dict[str, ColumnSpec] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    k: int = DEFAULT_K
    cap: int = DEFAULT_CATEGORY_CAP
    rows: int = 0
    columns: dict[str, ColumnAccumulator] = field(default_factory=dict)

    def _accumulator(self, name: str, arr: pa.Array | pa.ChunkedArray, text: bool) -> ColumnAccumulator:
        acc = self.columns.get(name)
        if acc is None:
            spec = self.specs.get(name)
            if spec is None:
                sample = _chunks(arr)[0] if text else None
                spec = column_spec(arr.type, self.types.get(name), text, sample)
                self.specs[name] = spec
            acc = self.columns[name] = ColumnAccumulator(name, spec, self.k, self.cap)
        return acc

    def add_batch(self, batch: pa.RecordBatch, *, columns: Sequence[str] | None = None, primary: bool = True) -> None:
        """Add a record batch.

        :param columns: the columns this batch is responsible for; those absent
            from it count as missing (default: the batch's columns and every
            column seen before).
        :param primary: the batch's rows count toward :attr:`rows`.
        """
        from monitor.sources.files import is_text

        text = is_text(batch.schema)
        names = batch.schema.names
        for i, name in enumerate(names):
            if columns is None or name in columns:
                self._accumulator(name, batch.column(i), text).update(batch.column(i))
        wanted = columns if columns is not None else list(self.columns)
        for name in wanted:
            if name not in names:
                self._absent(name).pad(batch.num_rows)
        if primary:
            self.rows += batch.num_rows

    def add_column(self, name: str, values: pa.Array | pa.ChunkedArray) -> None:
        """Add one column's values for rows counted by another call (Parquet tasks:
        rows are counted once per row group, by the task marked primary)."""
        self._accumulator(name, values, False).update(values)

    def text_parquet(self, task: ReadTask) -> bool:
        """True when a Parquet task holds raw text columns (a CSV's data copy)."""
        return any(self.specs.get(n, ColumnSpec("string")).text for n in task.columns or ())

    def _absent(self, name: str) -> ColumnAccumulator:
        acc = self.columns.get(name)
        if acc is None:
            spec = self.specs.get(name, ColumnSpec(self.types.get(name, "string"), name in self.types))
            acc = self.columns[name] = ColumnAccumulator(name, spec, self.k, self.cap)
            acc.pad(self.rows)
        return acc

    def merge(self, o: ProfileState) -> ProfileState:
        """This state with ``o``'s rows and columns added (in place; returns self)."""
        self.rows += o.rows
        for name, acc in o.columns.items():
            mine = self.columns.get(name)
            self.columns[name] = acc if mine is None else mine.merge(acc)
        return self

    def finish(self, order: Sequence[str] | None = None) -> DatasetProfile:
        """The :class:`DatasetProfile`; columns in ``order`` (default: first seen),
        a column with fewer counted rows than the profile padded as missing."""
        for name in order or ():
            self._absent(name)
        names = list(order) if order is not None else list(self.columns)
        names += [n for n in self.columns if n not in names]
        cols = {}
        for name in names:
            acc = self.columns[name]
            if acc.count < self.rows:
                acc.pad(self.rows - acc.count)
            cols[name] = acc.finish()
        return DatasetProfile(self.rows, cols)


def compute_profile(
    batches: Iterable[pa.RecordBatch],
    *,
    types: Mapping[str, str] | None = None,
    k: int = DEFAULT_K,
    category_cap: int = DEFAULT_CATEGORY_CAP,
) -> DatasetProfile:
    """Profile a stream of record batches in one pass, in this process.

    :param batches: record batches (columns are matched by name; a column absent
        from a batch counts as missing for its rows). Batches whose schema carries
        :data:`monitor.sources.files.TEXT_METADATA` are raw text: their kinds are
        inferred from the first batch a column appears in.
    :param types: column name -> kind override (integer, decimal, string, boolean,
        datetime, categorical); values that do not parse count as errors.
    :param k: KLL sketch size; quantiles are exact up to ``k`` values per column
        (or :data:`EXACT_DISTINCT` distinct values).
    :param category_cap: categories reported per column.
    :returns: the :class:`DatasetProfile`.
    :raises ValueError: on an unknown kind in ``types`` or values that cannot be
        read as their column's kind.
    """
    state = ProfileState(types=dict(types or {}), k=k, cap=category_cap)
    for batch in batches:
        state.add_batch(batch)
    return state.finish()


# ---------------------------------------------------------------------------
# profiling a file source: tasks, workers, progress

PARALLEL_MIN_CELLS = 4_000_000
"""Below this many cells (rows x columns, estimated) a source is profiled in-process."""


def resolve_specs(
    source: FileSource, files: Sequence[Any], types: Mapping[str, str], *, sample: bool = True,
) -> tuple[dict[str, ColumnSpec], list[str]]:
    """The spec of every column of a source, and the column order.

    Parquet kinds come from each file's schema (the first file that has the
    column); CSV and JSON Lines kinds from the first block of the first file that
    has the column (CSV, and Parquet copies of CSV data: inferred from the text).

    :param sample: read CSV and JSON Lines blocks (False: leave their columns to
        be resolved from the first batch while profiling, in one process).
    :raises SourceError: when a file cannot be read.
    :raises ValueError: on an unknown kind in ``types``.
    """
    from monitor.sources.files import csv_header, is_text, parquet_schema

    specs: dict[str, ColumnSpec] = {}
    order: list[str] = []
    for path in files:
        fmt = source.format_of(path)
        schema = parquet_schema(path) if fmt == "parquet" else None
        if schema is not None and not is_text(schema):
            fields = [(n, schema.field(n).type, None) for n in schema.names]
        elif schema is None and (not sample or (fmt == "csv" and set(csv_header(path)) <= set(specs))):
            continue
        else:
            fields = _sampled_fields(source, path)
        for name, arrow_type, values in fields:
            if name in specs or not _wanted(source, name):
                continue
            specs[name] = column_spec(arrow_type, types.get(name), values is not None, values)
            order.append(name)
    return specs, order


def _wanted(source: FileSource, name: str) -> bool:
    return (source.columns is None or name in source.columns) and name not in source.exclude


def _sampled_fields(source: FileSource, path: Any) -> list[tuple[str, pa.DataType, pa.Array | None]]:
    """Columns of a CSV or JSON Lines file from its first batch (with text samples for CSV)."""
    from monitor.sources.files import is_text, read_file

    batch = next(iter(read_file(path, source.format_of(path), source.columns)), None)
    if batch is None:
        return []
    text = is_text(batch.schema)
    return [(n, batch.column(i).type, batch.column(i)[:INFER_ROWS] if text else None)
            for i, n in enumerate(batch.schema.names)]


class Progress:
    """A one-line progress display on a terminal: rows done, share and rate.

    :param stream: where to write (default ``sys.stderr``); nothing is written
        unless ``enabled``.
    """

    def __init__(self, enabled: bool, total: int | None, stream: TextIO | None = None) -> None:
        self.enabled, self.total = enabled, total or None
        self.stream = stream or sys.stderr
        self.done = 0.0
        self.start = self.last = time.monotonic()

    def advance(self, rows: float) -> None:
        """Count ``rows`` more rows done; redraw at most 5 times a second."""
        self.done += rows
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.2:
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        share = f" / {self.total:,} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        self.stream.write(f"\rprofiling: {int(self.done):,}{share} rows, {rate / 1e6:.2f}M rows/s ")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line (when enabled and rows were done)."""
        if self.enabled and self.done:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


def run_task(state: ProfileState, task: ReadTask, progress: Progress | None = None) -> None:
    """Add one read task's batches to ``state``.

    :raises SourceError: naming the file when it cannot be read or a value cannot
        be profiled as its column's kind.
    """
    try:
        if task.format == "parquet" and not state.text_parquet(task):
            _run_parquet_task(state, task, progress)
            return
        for batch in task.batches(dictionary=True):
            state.add_batch(batch, primary=task.primary)
            if progress is not None:
                progress.advance(batch.num_rows * task.share)
    except (ValueError, pa.ArrowException) as exc:
        raise SourceError(f"{task.path}: cannot profile: {exc}") from exc


def _run_parquet_task(state: ProfileState, task: ReadTask, progress: Progress | None) -> None:
    """Profile a Parquet task one row group and one column at a time."""
    for rows, columns in task.column_chunks():
        for name, values in columns:
            state.add_column(name, values)
        if task.primary:
            state.rows += rows
        if progress is not None:
            progress.advance(rows * task.share)


def _worker_count(workers: int | None) -> int:
    if workers is not None:
        return max(1, int(workers))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _estimated_cells(tasks: Sequence[ReadTask], columns: int) -> float:
    cells = 0.0
    for task in tasks:
        if task.rows:
            cells += task.rows * max(1, len(task.columns or ())) if task.columns is not None else task.rows * columns
        else:
            cells += task.path.stat().st_size / 8.0
    return cells


def profile_source(
    source: FileSource,
    *,
    types: Mapping[str, str] | None = None,
    files: Sequence[Any] | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    k: int = DEFAULT_K,
    category_cap: int = DEFAULT_CATEGORY_CAP,
) -> DatasetProfile:
    """Profile every file of a :class:`~monitor.sources.files.FileSource`, in
    parallel worker processes when the input is large.

    Parquet files are split by row groups (and by columns when there are fewer
    row-group runs than workers); CSV and JSON Lines files are one task each.
    Each worker profiles the tasks it takes into its own :class:`ProfileState`;
    the states are merged. Memory is bounded by one task's batch per worker.

    :param files: the files to read (default: the source's files now).
    :param workers: processes to use (default: the CPUs this process may run
        on); 1 profiles in this process. Small inputs (under
        :data:`PARALLEL_MIN_CELLS` cells) are always profiled in-process.
    :param progress: show a progress line on stderr (default: when stderr is a terminal).
    :raises SourceError: when a file cannot be read or profiled.
    :raises ValueError: on an unknown kind in ``types``.
    """
    files = list(files) if files is not None else source.files()
    n_workers = _worker_count(workers)
    tasks = source.plan(files, split=n_workers)
    parallel = n_workers > 1 and len(tasks) > 1 and _estimated_cells(tasks, 20) >= PARALLEL_MIN_CELLS
    specs, order = resolve_specs(source, files, dict(types or {}), sample=parallel)
    if not parallel:
        tasks = source.plan(files, split=1)
    total = sum(t.rows for t in tasks if t.primary) if all(t.rows for t in tasks) else None
    show = sys.stderr.isatty() if progress is None else progress
    bar = Progress(show, total)
    state = ProfileState(specs, dict(types or {}), k, category_cap)
    try:
        if parallel:
            _run_parallel(state, tasks, min(n_workers, len(tasks)), bar)
        else:
            for task in tasks:
                run_task(state, task, bar)
    finally:
        bar.close()
    return state.finish(order)


def _context() -> Any:
    """``fork`` when this process runs no other Python thread and has not used a
    KLL sketch yet (fast: nothing to import, and the workers' sketch random
    generators start apart), else ``forkserver`` (safe with threads)."""
    if threading.active_count() == 1 and not _SKETCHES_USED and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["monitor.profile"])
    return ctx


def keep_heap() -> None:
    """Tune a worker process's memory allocation for many short-lived large arrays:
    Arrow allocates through the system allocator, and glibc keeps freed memory for
    reuse (no ``mmap`` per large array, no trimming), so a batch's arrays cost no
    fresh page faults. Used in worker processes only (it changes process-wide
    settings); outside glibc only Arrow's pool is changed."""
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _worker_main(template: bytes, tasks: Any, results: Any) -> None:
    """Worker process: profile tasks from ``tasks`` until ``None``, then send the state."""
    global _RNG
    _RNG = np.random.default_rng()
    keep_heap()
    state: ProfileState = pickle.loads(template)
    try:
        while (item := tasks.get()) is not None:
            bar = _QueueProgress(results)
            run_task(state, item, bar)
            bar.flush()
        results.put(("state", pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))
    except MonitorError as exc:
        results.put(("error", exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(("crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


class _QueueProgress(Progress):
    """Progress reported to the parent process through a queue, at most 10 times a second."""

    def __init__(self, results: Any) -> None:
        super().__init__(False, None)
        self.results, self.pending = results, 0.0

    def advance(self, rows: float) -> None:
        """Count rows; send them at most 10 times a second."""
        self.pending += rows
        if time.monotonic() - self.last >= 0.1:
            self.flush()

    def flush(self) -> None:
        """Send the rows not reported yet."""
        if self.pending:
            self.results.put(("rows", self.pending))
        self.pending, self.last = 0.0, time.monotonic()


def _run_parallel(state: ProfileState, tasks: Sequence[ReadTask], workers: int, bar: Progress) -> None:
    ctx = _context()
    task_q, results = ctx.Queue(), ctx.Queue()
    template = pickle.dumps(ProfileState(state.specs, state.types, state.k, state.cap))
    procs = [ctx.Process(target=_worker_main, args=(template, task_q, results), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    for task in tasks:
        task_q.put(task)
    for _ in procs:
        task_q.put(None)
    try:
        for blob in _collect(procs, results, bar):
            state.merge(pickle.loads(blob))
    except BaseException:
        for p in procs:
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


def _collect(procs: Sequence[Any], results: Any, bar: Progress) -> Iterator[bytes]:
    """Yield each worker's pickled state; re-raise a worker's error."""
    remaining = len(procs)
    while remaining:
        try:
            kind, payload = results.get(timeout=0.5)
        except queue.Empty:
            if all(p.exitcode is not None for p in procs):
                raise SourceError("a profiling worker process stopped unexpectedly") from None
            continue
        if kind == "rows":
            bar.advance(payload)
        elif kind == "state":
            remaining -= 1
            yield payload
        elif kind == "error":
            raise payload
        else:
            raise SourceError(f"a profiling worker failed: {payload}")


__all__ = [
    "COUNTER_FACTOR", "DEFAULT_CATEGORY_CAP", "DEFAULT_K", "EXACT_DISTINCT", "FORMAT_VERSION", "KINDS",
    "KMV_SIZE", "QUANTILE_RANKS", "CategoryCounter", "CategorySummary", "ColumnAccumulator", "ColumnProfile",
    "ColumnSpec", "DatasetProfile", "DistinctSketch", "Moments", "NumericSummary", "ProfileState", "Progress",
    "column_spec", "compact_to_sketch", "compute_profile", "fine_bins", "hash_floats", "hash_strings",
    "kind_of", "profile_source", "resolve_specs", "run_task",
]
