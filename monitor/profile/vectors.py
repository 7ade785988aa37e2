"""Vector (embedding) columns: :class:`VectorSummary`, a mergeable summary of
fixed-length float vectors, and reading such vectors from Arrow list arrays.

A column is a vector column when its Arrow type is ``fixed_size_list`` of
numbers, or ``list`` / ``large_list`` of numbers (every row the same length).
The summary holds, over the vectors read:

- ``n``: vectors summarised; ``dim``: their length (fixed by the first one);
- ``mean`` (shape ``(dim,)``) and ``m2`` (shape ``(dim,)``, the sums of squared
  deviations from the mean per dimension), merged with Chan, Golub & LeVeque's
  parallel update (1979): ``mean = mean_a + delta * n_b / n``,
  ``m2 = m2_a + m2_b + delta**2 * n_a * n_b / n``;
- ``norms``: a KLL quantile sketch (Apache DataSketches ``kll_doubles_sketch``,
  ``k`` = :data:`NORM_K`) of the vectors' L2 norms;
- ``sample``: a uniform random sample of at most ``size`` vectors
  (:data:`SAMPLE_SIZE` = 1,000 by default), kept as a *bottom-k* sample: each
  vector gets a random key, uniform on (0, 1), and the sample is the ``size``
  vectors with the smallest keys. Merging two summaries keeps the ``size``
  smallest keys of the union, which is exactly the bottom-k sample of the
  concatenated stream: a uniform sample without replacement of all rows, each
  side contributing in proportion to its count (hypergeometrically). The keys
  of a batch come from a generator seeded with the CRC-32 of the batch's bytes,
  so a profile is reproducible: the same data in the same batches gives the
  same sample.

A vector that is null counts as missing; a vector of another length than the
column's dimension (the first non-empty vector's length), an empty list, or a
vector with a null or NaN element counts as an error (not missing) and is left
out of every statistic.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import datasketches
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NORM_K", "SAMPLE_SIZE", "VectorSummary", "is_vector_type", "pack_vector", "unpack_vector", "vector_values"]

SAMPLE_SIZE = 1000
"""Default bound of a vector column's reservoir sample (vectors)."""
NORM_K = 200
"""KLL ``k`` of the norms' sketch (normalised rank error about 1.3%)."""


def is_vector_type(arrow_type: pa.DataType) -> bool:
    """True for a fixed-size list, list or large list whose values are numbers."""
    if not (pa.types.is_fixed_size_list(arrow_type) or pa.types.is_list(arrow_type)
            or pa.types.is_large_list(arrow_type)):
        return False
    value = arrow_type.value_type
    return bool(pa.types.is_floating(value) or pa.types.is_integer(value) or pa.types.is_decimal(value))


def vector_values(arr: pa.Array, dim: int | None) -> tuple[np.ndarray, int, int]:
    """The vectors of a list array as a float64 matrix, with the missing and error counts.

    :param arr: a fixed-size list, list or large list array of numbers.
    :param dim: the column's dimension, or None to take the first non-empty vector's length.
    :returns: ``(values, missing, errors)``: values of shape ``(rows kept, dim)``;
        ``missing`` the null vectors; ``errors`` the vectors of another length (an
        empty list included) or with a null or NaN element.
    :raises ValueError: when ``arr`` is not a list array of numbers.
    """
    if not is_vector_type(arr.type):
        raise ValueError(f"cannot profile {arr.type} as vector")
    missing = arr.null_count
    if missing:
        arr = arr.drop_null()
    if len(arr) == 0:
        return np.empty((0, dim or 0)), missing, 0
    lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    if dim is None:
        if not (lengths > 0).any():
            return np.empty((0, 0)), missing, len(arr)
        dim = int(lengths[lengths > 0][0])
    flat = pc.list_flatten(arr)
    if pa.types.is_decimal(flat.type):
        flat = flat.cast(pa.float64())
    values = flat.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    ok = lengths == dim
    if ok.all():
        matrix = values.reshape(len(arr), dim)
    else:
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        take = (starts[ok][:, None] + np.arange(dim)[None, :]).ravel()
        matrix = values[take].reshape(int(ok.sum()), dim)
    good = ~np.isnan(matrix).any(axis=1)
    errors = int(len(arr) - ok.sum()) + int((~good).sum())
    return np.ascontiguousarray(matrix[good]), missing, errors


@dataclass
class VectorSummary:
    """Mergeable summary of a vector column (see the module docstring).

    :ivar dim: vector length, 0 before the first vector.
    :ivar n: vectors summarised.
    :ivar mean: mean vector, shape ``(dim,)``; ``m2`` the per-dimension sums of
        squared deviations, shape ``(dim,)``.
    :ivar norms: KLL sketch of the L2 norms.
    :ivar sample: up to ``size`` vectors, shape ``(k, dim)``, float32 (as embeddings are stored); ``keys``
        their sampling keys, shape ``(k,)``, ascending.
    :ivar size: the sample's bound.
    """

    dim: int = 0
    n: int = 0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    m2: np.ndarray = field(default_factory=lambda: np.zeros(0))
    norms: Any = field(default_factory=lambda: datasketches.kll_doubles_sketch(NORM_K))
    sample: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0))
    size: int = SAMPLE_SIZE

    @property
    def variance(self) -> np.ndarray:
        """Per-dimension sample variance (ddof 1), shape ``(dim,)``; NaN with fewer than 2 vectors."""
        return self.m2 / (self.n - 1) if self.n > 1 else np.full(self.dim, math.nan)

    def update(self, values: np.ndarray) -> None:
        """Add vectors, shape ``(rows, dim)``.

        :raises ValueError: when their length is not the summary's dimension.
        """
        rows = values.shape[0]
        if rows == 0:
            return
        self._check_dim(values.shape[1])
        mean = values.mean(axis=0)
        m2 = ((values - mean) ** 2).sum(axis=0)
        self._combine(rows, mean, m2)
        self.norms.update(np.sqrt(np.einsum("ij,ij->i", values, values)))
        rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(values).tobytes()))
        self._keep(values.astype(np.float32), np.asarray(rng.random(rows)))

    def _check_dim(self, dim: int) -> None:
        if self.dim == 0 and self.n == 0:
            self.dim = dim
            self.mean, self.m2 = np.zeros(dim), np.zeros(dim)
            self.sample = np.zeros((0, dim), dtype=np.float32)
        elif dim != self.dim:
            raise ValueError(f"vectors of length {dim} cannot join a summary of length {self.dim}")

    def _combine(self, n_b: int, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta * delta * (self.n * n_b / n)
        self.n = n

    def _keep(self, values: np.ndarray, keys: np.ndarray) -> None:
        allv = np.concatenate([self.sample, values]) if self.sample.size else values
        allk = np.concatenate([self.keys, keys])
        order = np.argsort(allk, kind="stable")[: self.size]
        self.sample, self.keys = np.ascontiguousarray(allv[order]), allk[order]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["norms"] = bytes(self.norms.serialize())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["norms"] = datasketches.kll_doubles_sketch.deserialize(state["norms"])
        self.__dict__.update(state)

    def merge(self, o: VectorSummary) -> VectorSummary:
        """Summary of both inputs' vectors (a new object).

        :raises ValueError: when the two dimensions differ.
        """
        out = VectorSummary(self.dim, self.n, self.mean.copy(), self.m2.copy(),
                            datasketches.kll_doubles_sketch(NORM_K), self.sample, self.keys.copy(),
                            min(self.size, o.size))
        out.norms.merge(self.norms)
        out.norms.merge(o.norms)
        if o.n == 0:
            return out
        if out.n == 0:
            out.dim, out.n, out.mean, out.m2 = o.dim, o.n, o.mean.copy(), o.m2.copy()
            out.sample = np.zeros((0, o.dim), dtype=np.float32)
        elif o.dim != out.dim:
            raise ValueError(f"cannot merge vectors of length {out.dim} with vectors of length {o.dim}")
        else:
            out._combine(o.n, o.mean, o.m2)
        out._keep(o.sample, o.keys)
        return out


_FOOTER = struct.Struct("<Q4s")
_HEAD = struct.Struct("<IIII")


def pack_vector(v: VectorSummary) -> bytes:
    """Binary form of a summary, appended to a column's sketch blob: little-endian
    ``dim, sample rows, norms bytes, size`` (uint32), mean and m2 (float64),
    the sample's keys (float64) and vectors (float32, row-major), the norms'
    KLL sketch (DataSketches serialisation); then the payload's length (uint64)
    and ``b"VEC1"``."""
    norms = bytes(v.norms.serialize())
    payload = b"".join([_HEAD.pack(v.dim, v.keys.size, len(norms), v.size), v.mean.astype("<f8").tobytes(),
                        v.m2.astype("<f8").tobytes(), v.keys.astype("<f8").tobytes(),
                        v.sample.astype("<f4").tobytes(), norms])
    return payload + _FOOTER.pack(len(payload), b"VEC1")


def unpack_vector(blob: bytes, n: int) -> VectorSummary:
    """Inverse of :func:`pack_vector`: the summary at the end of ``blob``, of ``n`` vectors.

    :raises ValueError: when the blob does not end with a vector summary.
    """
    length, magic = _FOOTER.unpack_from(blob, len(blob) - _FOOTER.size)
    if magic != b"VEC1":
        raise ValueError("the sketch blob holds no vector summary")
    off = len(blob) - _FOOTER.size - length
    dim, rows, norms_len, size = _HEAD.unpack_from(blob, off)
    off += _HEAD.size

    def take(dtype: str, count: int) -> np.ndarray:
        nonlocal off
        out = np.frombuffer(blob, dtype=dtype, count=count, offset=off)
        off += out.nbytes
        return out

    mean, m2 = take("<f8", dim).astype(np.float64), take("<f8", dim).astype(np.float64)
    keys = take("<f8", rows).astype(np.float64)
    sample = take("<f4", rows * dim).astype(np.float32).reshape(rows, dim)
    norms = datasketches.kll_doubles_sketch.deserialize(bytes(blob[off:off + norms_len]))
    return VectorSummary(dim, n, mean, m2, norms, sample, keys, size)
