"""Distinct values as Apache DataSketches theta sketches: :class:`DistinctSketch`.

A theta sketch (Dasgupta, Lang, Rhodes & Thaler 2016, "A Framework for
Estimating Stream Expression Cardinalities"; Apache DataSketches
``update_theta_sketch`` / ``compact_theta_sketch``) keeps the hashes of the
distinct values below a threshold ``theta``: all of them while there are at most
``k = 2**lg_k`` distinct values (the count is then exact), else the ``k``
smallest, and estimates the count as ``retained / theta``, with a relative
standard error of about ``1 / sqrt(k)``. Sketches of two sets give estimates of
their union, intersection and difference (``theta_union``,
``theta_intersection``, ``theta_a_not_b``), which is what set overlap between
a baseline and a target needs.

The hashes are the library's own: 64-bit MurmurHash3 (``x64_128``, first half,
shifted right by one bit) with seed :data:`THETA_SEED` of a number's canonical
IEEE-754 bytes (:func:`theta_hash_floats`, as ``update_theta_sketch.update(float)``)
or of a string's UTF-8 bytes (:func:`theta_hash_strings`, as
``update(str)``). They are computed here vectorised with numpy because feeding a
batch value by value through ``update`` costs about 0.2 µs a value, more than the
rest of the profile (see ``docs/profile.md``); a batch's hashes become a compact
theta sketch in the library's serialised form (:func:`sketch_of_hashes`), which
the library reads and unions into the column's sketch. The tests check the hashes
against ``update`` and the set operations against exact set arithmetic.

One difference from ``update(str)``: the library skips the empty string; here
``""`` is a value (hashed as zero bytes), as for pandas' ``nunique``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import datasketches
import numpy as np
import pyarrow as pa

__all__ = ["THETA_LG_K", "THETA_SEED", "DistinctSketch", "retained_hashes", "sketch_of_hashes",
           "theta_hash_floats", "theta_hash_strings", "union_of"]

THETA_LG_K = 12
"""log2 of the sketch's nominal entries: ``k = 4096`` hashes, exact up to 4,096
distinct values, relative standard error about ``1/sqrt(k)`` = 1.6% beyond."""
THETA_SEED = 9001
"""The update seed: DataSketches' default, so any DataSketches sketch of the same
values (Java, C++, Python) is compatible."""

_U64 = np.uint64
_C1 = _U64(0x87C37B91114253D5)
_C2 = _U64(0x4CF5AD432745937F)
_F1 = _U64(0xFF51AFD7ED558CCD)
_F2 = _U64(0xC4CEB9FE1A85EC53)
_MAX_THETA = (1 << 63) - 1
_HEADER = struct.Struct("<BBBHBHIIQ")
_FLAGS = (1 << 1) | (1 << 3) | (1 << 4)  # read-only, compact, ordered
_BYTE_MASKS = np.array([(1 << (8 * r)) - 1 for r in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_SLICE = 1 << 15
"""Strings hashed at a time: their hashes and scratch arrays stay in the CPU's cache
between the passes (half the time of slices of 2**18 strings here)."""
_FLOAT_BLOCK = 1 << 15
"""Numbers hashed at a time: 256 KiB of hashes, which stay in the CPU's cache between passes."""


# ---------------------------------------------------------------------------
# MurmurHash3_x64_128, vectorised


_SEED_U64 = _U64(THETA_SEED)


def theta_hash_floats(values: np.ndarray) -> np.ndarray:
    """The theta hashes (uint64, below 2**63) of a 1-D float64 array, exactly as
    ``datasketches.update_theta_sketch.update(float)`` hashes each value:
    MurmurHash3_x64_128 with seed :data:`THETA_SEED` of the value's 8 IEEE-754
    bytes, ``-0.0`` as ``0.0`` and every NaN as ``0x7ff8000000000000``; the first
    64-bit half, shifted right by one bit."""
    values = np.asarray(values, dtype=np.float64)
    if values.size > _FLOAT_BLOCK:  # block by block: the passes below then stay in the CPU's cache
        out = np.empty(values.size, dtype=np.uint64)
        for i in range(0, values.size, _FLOAT_BLOCK):
            out[i:i + _FLOAT_BLOCK] = theta_hash_floats(values[i:i + _FLOAT_BLOCK])
        return out
    h1: np.ndarray = np.add(values, 0.0).view(np.uint64)  # a new array, hashed in place
    nan = np.isnan(values)
    if nan.any():
        h1[nan] = _U64(0x7FF8000000000000)
    # one 8-byte block: h2 stays the seed until the finalisation, h1 = seed ^ mix(k1)
    tmp = np.empty_like(h1)
    h1 *= _C1
    _rotl_in_place(h1, 31, tmp)
    h1 *= _C2
    h1 ^= _SEED_U64 ^ _U64(8)
    h1 += _SEED_U64 ^ _U64(8)  # h1 += h2
    h2 = h1 + (_SEED_U64 ^ _U64(8))  # h2 += h1
    _fmix64_in_place(h1, tmp)
    _fmix64_in_place(h2, tmp)
    h1 += h2
    h1 >>= _U64(1)
    return h1


def _rotl_in_place(x: np.ndarray, r: int, tmp: np.ndarray) -> None:
    """``x = rotl64(x, r)`` in place (``tmp``: scratch of ``x``'s size)."""
    np.right_shift(x, _U64(64 - r), out=tmp)
    x <<= _U64(r)
    x |= tmp


def _fmix64_in_place(k: np.ndarray, tmp: np.ndarray) -> None:
    """MurmurHash3's 64-bit finaliser, in place."""
    for factor in (_F1, _F2, None):
        np.right_shift(k, _U64(33), out=tmp)
        k ^= tmp
        if factor is not None:
            k *= factor


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start offsets int64, lengths int64, data uint8 padded by 16 zero bytes) of a
    string array; offsets relative to the copied data."""
    wide = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64 if wide else np.int32)[arr.offset: arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    padded = np.zeros(last - first + 16, dtype=np.uint8)
    if bufs[2] is not None and last > first:
        padded[: last - first] = np.frombuffer(bufs[2], dtype=np.uint8, count=last - first, offset=first)
    return offsets[:-1] - first, np.diff(offsets), padded


def theta_hash_strings(arr: pa.Array) -> np.ndarray:
    """The theta hashes (uint64, below 2**63) of a string array without nulls, as
    ``datasketches.update_theta_sketch.update(str)`` hashes each value:
    MurmurHash3_x64_128 with seed :data:`THETA_SEED` of its UTF-8 bytes, first
    half shifted right by one bit (``""`` is hashed as zero bytes; the library
    would skip it). Vectorised over the Arrow buffers, in slices of 2**15 strings."""
    if len(arr) > _SLICE:
        return np.concatenate([_hash_slice(arr.slice(i, _SLICE)) for i in range(0, len(arr), _SLICE)])
    return _hash_slice(arr)


def _hash_slice(arr: pa.Array) -> np.ndarray:
    """MurmurHash3_x64_128 of each string, in place on a few arrays: the 16-byte
    blocks of the strings that have them (gathered), then every string's tail
    (a tail of no byte mixes in zero, which leaves the hash as it is)."""
    if len(arr) == 0:
        return np.empty(0, dtype=np.uint64)
    starts, lengths, padded = _string_buffers(arr)
    words = np.ndarray((padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,))
    h1 = np.full(len(arr), _SEED_U64)
    h2 = h1.copy()
    tmp = np.empty_like(h1)
    blocks = lengths >> 4
    for j in range(int(blocks.max())):
        rows = None if blocks.min() > j else np.flatnonzero(blocks > j)
        at = (starts if rows is None else starts[rows]) + 16 * j
        a, b = (h1, h2) if rows is None else (h1[rows], h2[rows])
        t = tmp if rows is None else np.empty_like(a)
        a ^= _mix_in_place(words[at], _C1, 31, _C2, t)
        _rotl_in_place(a, 27, t)
        a += b
        a *= _U64(5)
        a += _U64(0x52DCE729)
        b ^= _mix_in_place(words[at + 8], _C2, 33, _C1, t)
        _rotl_in_place(b, 31, t)
        b += a
        b *= _U64(5)
        b += _U64(0x38495AB5)
        if rows is not None:
            h1[rows], h2[rows] = a, b
    tail = lengths & 15
    base = starts + (blocks << 4)
    h2 ^= _mix_in_place(words[base + 8] & _BYTE_MASKS[np.maximum(tail - 8, 0)], _C2, 33, _C1, tmp)
    h1 ^= _mix_in_place(words[base] & _BYTE_MASKS[np.minimum(tail, 8)], _C1, 31, _C2, tmp)
    lengths = lengths.astype(np.uint64)
    h1 ^= lengths
    h2 ^= lengths
    h1 += h2
    h2 += h1
    _fmix64_in_place(h1, tmp)
    _fmix64_in_place(h2, tmp)
    h1 += h2
    h1 >>= _U64(1)
    return h1


def _mix_in_place(k: np.ndarray, c1: np.uint64, r: int, c2: np.uint64, tmp: np.ndarray) -> np.ndarray:
    """MurmurHash3's ``k *= c1; k = rotl(k, r); k *= c2`` on ``k`` (returned)."""
    k *= c1
    _rotl_in_place(k, r, tmp[: k.size])
    k *= c2
    return k


# ---------------------------------------------------------------------------
# compact sketches from hashes


def _seed_hash() -> int:
    return int(datasketches.update_theta_sketch(THETA_LG_K, 1.0, THETA_SEED).get_seed_hash())


_SEED_HASH = _seed_hash()


def sketch_of_hashes(hashes: np.ndarray, lg_k: int = THETA_LG_K, theta: int = _MAX_THETA) -> Any:
    """The compact theta sketch (``datasketches.compact_theta_sketch``) of a set of
    theta hashes (any order, duplicates allowed), as the library would build it from
    the values: while at most ``2**lg_k`` distinct hashes are below ``theta``, all
    of them with that ``theta``; else the ``2**lg_k`` smallest, with the next one as
    ``theta`` (a K-minimum-values sketch, Bar-Yossef et al. 2002, which the theta
    framework contains). Written in the library's serialised form (compact,
    ordered, serial version 3) and read back with
    ``compact_theta_sketch.deserialize``.

    :param theta: only hashes below it are kept (a sampling threshold already
        reached, e.g. the sketch the result will be unioned into).
    """
    k = 1 << lg_k
    kept = hashes[hashes < _U64(theta)] if theta < _MAX_THETA else hashes
    kept = _smallest_counted(kept, k + 1)[0]
    if kept.size > k:
        theta, kept = int(kept[k]), kept[:k]
    return _image(kept, theta, lg_k)


def _image(kept: np.ndarray, theta: int, lg_k: int) -> Any:
    """The compact sketch of sorted distinct hashes ``kept``, all below ``theta``,
    written in serial version 3 and read by the library."""
    kept = kept[kept != 0] if kept.size and kept[0] == 0 else kept  # 0 marks an empty slot: the library skips it
    if kept.size == 0 and theta == _MAX_THETA:
        return datasketches.update_theta_sketch(lg_k, 1.0, THETA_SEED).compact()
    head = _HEADER.pack(3, 3, 3, 0, _FLAGS, _SEED_HASH, kept.size, 0, theta)
    return datasketches.compact_theta_sketch.deserialize(head + kept.astype("<u8").tobytes(), THETA_SEED)


def _smallest_counted(hashes: np.ndarray, k: int,
                      counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest distinct values of a uint64 array (all of them if fewer),
    sorted, and their rows: repeats summed, or ``counts`` when given (the values are
    then distinct). Without ``counts``, only the values under a threshold that grows
    eightfold until enough pass are sorted, a small share of a large array."""
    if counts is not None:
        if hashes.size > k:
            part = np.argpartition(hashes, k - 1)[:k]
            hashes, counts = hashes[part], counts[part]
        order = np.argsort(hashes)
        return hashes[order], counts[order].astype(np.int64)
    if hashes.size > 4 * k:
        share = 8.0 * k / hashes.size
        while share < 1.0:
            uniq, tally = np.unique(hashes[hashes < _U64(int(2**63 * share))], return_counts=True)
            if uniq.size >= k:
                return uniq[:k], tally[:k].astype(np.int64)
            share *= 8.0
    uniq, tally = np.unique(hashes, return_counts=True)
    return uniq[:k], tally[:k].astype(np.int64)


def retained_hashes(sketch: Any) -> np.ndarray:
    """The hashes a theta sketch retains, sorted (uint64)."""
    out = np.fromiter(iter(sketch), dtype=np.uint64, count=int(sketch.num_retained))
    out.sort()
    return out


def union_of(sketches: list[Any], lg_k: int = THETA_LG_K) -> Any:
    """``theta_union`` of compact sketches, as a compact ordered sketch."""
    union = datasketches.theta_union(lg_k, 1.0, THETA_SEED)
    for s in sketches:
        union.update(s)
    return union.get_result()


# ---------------------------------------------------------------------------
# the distinct-value sketch of a column


def _empty_sketch() -> Any:
    return datasketches.update_theta_sketch(THETA_LG_K, 1.0, THETA_SEED).compact()


def _no_counts() -> np.ndarray | None:
    return np.empty(0, dtype=np.int64)


def _counts_at(hashes: np.ndarray, own: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``counts`` of the sorted hashes ``own`` looked up at ``hashes`` (0 where absent)."""
    if own.size == 0:
        return np.zeros(hashes.size, dtype=np.int64)
    at = np.minimum(np.searchsorted(own, hashes), own.size - 1)
    return np.where(own[at] == hashes, counts[at], 0)


@dataclass
class DistinctSketch:
    """The distinct non-missing values of a column: a compact theta sketch with
    ``k = 2**lg_k`` nominal entries (Apache DataSketches), mergeable and picklable,
    with the number of rows of each value it retains.

    Exact up to ``k`` distinct values; beyond, :attr:`estimate` has the relative
    standard error :attr:`relative_error` (about ``1/sqrt(k)``, 1.6% for
    ``lg_k = 12``), taken from the library's one-standard-deviation bounds.
    The retained values are a uniform random sample of the distinct values (those
    whose hash falls below ``theta``); :attr:`counts` says how often each occurred,
    summed on merge as DataSketches' tuple sketches sum an accumulating summary,
    which gives the frequency profile of a sample of the distinct values (the
    ``new_values`` drift metric uses it for its no-drift allowance).

    :ivar theta: the ``datasketches.compact_theta_sketch``.
    :ivar hashes: its retained hashes, sorted (uint64).
    :ivar counts: rows per retained hash (int64, aligned with :attr:`hashes`);
        None when not counted (numeric columns: their exact mode feeds each
        distinct value once per batch).
    :ivar legacy: the distinct count of inputs profiled before theta sketches
        were kept (profile format 1 and 2 stored a K-minimum-values sketch of other
        hashes): those values are not in :attr:`theta`, so a merge with them is
        the larger of the two counts and set overlap is not possible
        (:attr:`complete` is False). 0 when there are none.
    :ivar legacy_error: the relative standard error of :attr:`legacy`.
    """

    theta: Any = field(default_factory=_empty_sketch)
    lg_k: int = THETA_LG_K
    legacy: float = 0.0
    legacy_error: float = 0.0
    counts: np.ndarray | None = field(default_factory=_no_counts)
    hashes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    def __post_init__(self) -> None:
        if self.hashes.size != int(self.theta.num_retained):
            self.hashes = retained_hashes(self.theta)
        if self.counts is not None and self.counts.size != self.hashes.size:
            self.counts = None

    def update_hashes(self, hashes: np.ndarray, counts: np.ndarray | None = None, *, counted: bool = True) -> None:
        """Add values by their theta hashes (:func:`theta_hash_floats`,
        :func:`theta_hash_strings`).

        :param hashes: one hash per row (any order, repeats counted), or, with
            ``counts``, one per distinct value.
        :param counts: rows of each of ``hashes`` (distinct hashes).
        :param counted: False when the rows are not known (the hashes of distinct
            values, however often they occurred): :attr:`counts` becomes None.
        """
        if hashes.size == 0:
            return
        k = 1 << self.lg_k
        theta = int(self.theta.theta64)
        if theta < _MAX_THETA:
            keep = hashes < _U64(theta)
            hashes, counts = hashes[keep], (counts[keep] if counts is not None else None)
        kept, tally = _smallest_counted(hashes, k + 1, counts)
        if kept.size > k:
            theta, kept, tally = int(kept[k]), kept[:k], tally[:k]
        self._absorb(_image(kept, theta, self.lg_k), kept, tally if counted else None)

    def _absorb(self, other: Any, hashes: np.ndarray, counts: np.ndarray | None) -> None:
        """Union ``other`` (a compact sketch with sorted retained ``hashes`` and their
        ``counts``) into this sketch."""
        union = union_of([self.theta, other], self.lg_k)
        kept = retained_hashes(union)
        if self.counts is not None and counts is not None:
            self.counts = _counts_at(kept, self.hashes, self.counts) + _counts_at(kept, hashes, counts)
        else:
            self.counts = None
        self.theta, self.hashes = union, kept

    def rows_of(self, hashes: np.ndarray) -> np.ndarray:
        """The rows counted for each of ``hashes`` (int64; 0 for a hash not retained).

        :raises ValueError: when the sketch does not count rows (:attr:`counts` is None).
        """
        if self.counts is None:
            raise ValueError("this distinct-value sketch does not count rows per value")
        return _counts_at(hashes, self.hashes, self.counts)

    def merge(self, other: DistinctSketch) -> DistinctSketch:
        """Sketch of the union of both inputs (``theta_union``; exact while the
        union has at most ``k`` distinct values; counts summed)."""
        out = DistinctSketch(self.theta, min(self.lg_k, other.lg_k), max(self.legacy, other.legacy),
                             self.legacy_error if self.legacy >= other.legacy else other.legacy_error,
                             self.counts, self.hashes)
        out._absorb(other.theta, other.hashes, other.counts)
        return out

    @property
    def complete(self) -> bool:
        """True when every value is in :attr:`theta` (no part profiled before theta
        sketches were kept), so set operations with other sketches are possible."""
        return self.legacy == 0

    @property
    def estimate(self) -> float:
        """Estimated number of distinct values (exact up to ``k``)."""
        return max(float(self.theta.get_estimate()), self.legacy)

    @property
    def relative_error(self) -> float:
        """Relative standard error of :attr:`estimate` (0 when exact): half the width
        of the library's one-standard-deviation bounds over the estimate."""
        est = float(self.theta.get_estimate())
        own = 0.0
        if self.theta.is_estimation_mode() and est > 0:
            own = (float(self.theta.get_upper_bound(1)) - float(self.theta.get_lower_bound(1))) / (2 * est)
        if self.complete:
            return own
        if self.theta.is_empty():
            return self.legacy_error
        return max(own, self.legacy_error, 1.0 / math.sqrt(1 << self.lg_k))

    def to_bytes(self) -> bytes:
        """The theta sketch in the library's serialised form (compressed)."""
        return bytes(self.theta.serialize(True))

    @classmethod
    def from_bytes(cls, data: bytes, lg_k: int = THETA_LG_K, counts: np.ndarray | None = None) -> DistinctSketch:
        """Inverse of :meth:`to_bytes` (``counts`` aligned with the sorted retained hashes).

        :raises ValueError: when ``data`` is not a compact theta sketch of seed
            :data:`THETA_SEED`, or ``counts`` does not match it.
        """
        try:
            theta = datasketches.compact_theta_sketch.deserialize(bytes(data), THETA_SEED)
        except Exception as exc:
            raise ValueError(f"not a compact theta sketch: {exc}") from exc
        if counts is not None and counts.size != int(theta.num_retained):
            raise ValueError(f"{counts.size} counts for a theta sketch of {theta.num_retained} hashes")
        return cls(theta, lg_k, counts=counts)

    def __getstate__(self) -> dict[str, Any]:
        return {"theta": self.to_bytes(), "lg_k": self.lg_k, "legacy": self.legacy,
                "legacy_error": self.legacy_error, "counts": self.counts, "hashes": self.hashes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.theta = datasketches.compact_theta_sketch.deserialize(state["theta"], THETA_SEED)
        self.lg_k, self.legacy, self.legacy_error = state["lg_k"], state["legacy"], state["legacy_error"]
        self.counts, self.hashes = state["counts"], state["hashes"]
