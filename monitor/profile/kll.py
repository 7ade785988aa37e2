"""KLL sketches built from binned, compacted batches.

A large batch of values is not fed to a DataSketches KLL sketch value by value:
:func:`fine_bins` bins it by the values' order-preserving 64-bit keys (a radix
partition driven by counts, no sort), :func:`compaction_level` picks the weight
``2**h`` a KLL compaction would give it, and :func:`compact_to_sketch` keeps every
``2**h``-th value of the binned order and builds the sketch in DataSketches'
serialised form. See ``docs/profile.md`` for the error bound.
"""

from __future__ import annotations

import struct
from typing import Any

import datasketches
import numpy as np

from monitor.profile.sketches import array_times_pow2, scale_exponent

_RNG = np.random.default_rng()
_SKETCHES_USED = False
"""Set once this process updated or merged a KLL sketch: DataSketches' random
generator then has a state that forked workers would share (see
:func:`sketches_used`)."""


def new_kll(k: int) -> Any:
    """An empty ``kll_doubles_sketch`` of ``k`` (and note that sketches are in use)."""
    global _SKETCHES_USED
    _SKETCHES_USED = True
    return datasketches.kll_doubles_sketch(k)


def sketches_used() -> bool:
    """True once this process made a KLL sketch: a process forked from it would
    share DataSketches' random generator state."""
    return _SKETCHES_USED


def reseed() -> None:
    """Draw a fresh seed for the compaction offsets (in a new worker process)."""
    global _RNG
    _RNG = np.random.default_rng()


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


_SUM_SAFE = 2.0**1000
"""Bins whose values reach this magnitude are summed scaled by a power of two."""


def _refine(rel: np.ndarray, vals: np.ndarray, gid: np.ndarray, tau: int, kmin: np.uint64) -> tuple[np.ndarray, ...]:
    """Split groups of keys (compact ids ``gid``) until each holds at most ``tau`` keys
    or a single key value (keys relative to ``kmin``).

    :returns: (lowest key, count, representative, starting group) of each final
        bin, unordered; a bin's representative is the mean of its values, or its
        exact value when they are all equal.
    """
    out: list[tuple[np.ndarray, ...]] = []
    root = np.arange(int(gid.max()) + 1)
    peak = max(-float(vals.min()), float(vals.max()))
    scale = scale_exponent(peak) if peak >= _SUM_SAFE else 0
    if scale:  # sums of values this large would overflow: sum them times 2**-scale (exact)
        vals = array_times_pow2(vals, -scale)
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
        means = sums / np.maximum(cnt, 1)
        reps = np.where(hi == lo, _from_keys(lo + kmin), array_times_pow2(means, scale) if scale else means)
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
