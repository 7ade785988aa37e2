"""KLL sketches built from sorted, compacted batches.

A large batch of values is not fed to a DataSketches KLL sketch value by value:
it is sorted (numpy's SIMD sort, about 11 ns a value), :func:`compaction_level`
picks the weight ``2**h`` a KLL compaction would give it, and
:func:`compact_sorted` keeps every ``2**h``-th value of the sorted batch and
builds the sketch in DataSketches' serialised form (:func:`compact_to_sketch`
does the same for sorted runs of values and counts). See ``docs/profile.md``
for the error bound.
"""

from __future__ import annotations

import struct
from typing import Any

import datasketches
import numpy as np


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
    pos, level_sizes = _kept_positions(n, h)
    items = reps[np.searchsorted(cum, pos, side="right")]
    return _kll_from_levels(items, level_sizes, n, lo, hi, k)


def compact_sorted(values: np.ndarray, k: int, h: int) -> Any:
    """A KLL sketch of ``k`` holding a sorted 1-D float64 array of ``n >= 2`` finite
    values, compacted to weight ``2**h``: :func:`compact_to_sketch` with every
    value a run of one (the rank of any x in the sketch differs from its rank
    among ``values`` by less than ``2**h``); minimum and maximum are the first
    and last values."""
    pos, level_sizes = _kept_positions(values.size, h)
    return _kll_from_levels(values[pos], level_sizes, values.size, float(values[0]), float(values[-1]), k)


def _kept_positions(n: int, h: int) -> tuple[np.ndarray, list[int]]:
    """Ranks (0-based, ascending) of the ``n`` sorted values a compaction to weight
    ``2**h`` keeps: every ``2**h``-th from a random offset, then one per binary
    digit of the rest (level ``i`` for digit ``i``, from a random offset in its
    ``2**i`` values); and the number of items on each level ``0..h``."""
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
    return np.concatenate(pos), level_sizes


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
