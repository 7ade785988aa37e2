"""The numeric summary of a column: exact min and max, infinity and zero counts,
moments, and the distribution of the finite values, exactly (sorted distinct
values and counts) up to :data:`EXACT_DISTINCT` distinct values, then in a KLL
sketch of ``k`` = :data:`DEFAULT_K` fed through :mod:`monitor.profile.kll`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import datasketches
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.profile.kll import compact_sorted, compact_to_sketch, compaction_level, new_kll
from monitor.profile.sketches import Moments

DEFAULT_K = 8192
EXACT_DISTINCT = 4096
PRECOMPACT_MIN = 1 << 16
"""Batches of at least this many values are sorted and compacted before they enter
the KLL sketch (see :func:`monitor.profile.kll.compact_sorted`)."""
SKETCH_SLICE = 1 << 19
"""Larger batches are sorted and compacted in slices of this many values."""


def _writable(values: np.ndarray) -> np.ndarray:
    """A C-contiguous, writable float64 array (the KLL binding takes no read-only arrays)."""
    if values.dtype == np.float64 and values.flags.c_contiguous and values.flags.writeable:
        return values
    return np.array(values, dtype=np.float64)


def _repetitive(values: np.ndarray, probe: int = 8192) -> bool:
    """True when the first ``probe`` values hold at most half as many distinct values."""
    return bool(np.unique(values[:probe]).size * 2 <= min(probe, values.size))


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
            lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        zeros = int(np.count_nonzero(values == 0.0))
        if zeros:
            self.zeros += zeros
            values = np.where(values == 0.0, 0.0, values)
        self.moments = self.moments.merge(Moments.of(values, max(-lo, hi)))
        self._update_distribution(values, integral)

    def _update_distribution(self, values: np.ndarray, integral: bool) -> None:
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
        self._sketch_update(values)

    def _to_sketch(self, vals: np.ndarray, cnts: np.ndarray) -> None:
        """Leave exact mode: move the counted values into a KLL sketch."""
        self.kll = new_kll(self.k)
        n = int(cnts.sum()) if cnts.size else 0
        if n <= self.k or vals.size < 2:
            if n:
                self.kll.update(_writable(np.repeat(vals, cnts)))
        else:
            self._inject(vals, cnts, float(vals[0]), float(vals[-1]))
        self.values = self.counts = None

    def _sketch_update(self, values: np.ndarray) -> None:
        """Add finite values to the sketch: directly when few, else as exact value
        counts when values repeat, else sorted and compacted (in slices of at most
        :data:`SKETCH_SLICE` values, to bound memory)."""
        if values.size < PRECOMPACT_MIN:
            self.kll.update(_writable(values))
            return
        if values.size > SKETCH_SLICE:
            for i in range(0, values.size, SKETCH_SLICE):
                self._sketch_update(values[i:i + SKETCH_SLICE])
            return
        lo, hi = float(values.min()), float(values.max())
        if _repetitive(values):
            vc = pc.value_counts(pa.array(values, type=pa.float64()))
            uniq = vc.field("values").to_numpy(zero_copy_only=False)
            order = np.argsort(uniq)
            counts = vc.field("counts").to_numpy(zero_copy_only=False)[order].astype(np.int64)
            self._inject(uniq[order], counts, lo, hi)
            return
        h = compaction_level(values.size, self.k)
        self.kll.merge(compact_sorted(np.sort(values), self.k, h))
        self.precompaction_error = max(self.precompaction_error, (1 << h) / values.size)

    def _inject(self, reps: np.ndarray, cnts: np.ndarray, lo: float, hi: float) -> None:
        """Add sorted (value, count) runs, compacted to the level their total needs."""
        n = int(cnts.sum())
        h = compaction_level(n, self.k)
        self.kll.merge(compact_to_sketch(reps, cnts, lo, hi, self.k, h))
        self.precompaction_error = max(self.precompaction_error, (1 << h) / n)

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
        out.kll = new_kll(out.k)
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
    variance = property(lambda self: self.moments.variance,
                        doc="Sample variance, ddof=1 (inf beyond the double range; see :attr:`Moments.variance`).")
    skewness = property(lambda self: self.moments.skewness, doc="Skewness as pandas.")
    kurtosis = property(lambda self: self.moments.kurtosis, doc="Excess kurtosis as pandas.")

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof=1, as pandas); finite whenever the true
        value is below the double maximum (see :attr:`Moments.std`)."""
        return self.moments.std

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
    frac = h - lo
    with np.errstate(over="ignore", invalid="ignore"):
        out: np.ndarray = lo_v + (hi_v - lo_v) * frac
    wide = ~np.isfinite(out)
    if wide.any():  # hi - lo beyond the double range (values near both ends): weigh each end instead
        out[wide] = lo_v[wide] * (1.0 - frac[wide]) + hi_v[wide] * frac[wide]
    return out
