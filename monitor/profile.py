"""One streaming pass over Arrow record batches → a mergeable :class:`DatasetProfile`.

Every per-column summary is mergeable, so a profile can be computed per file or
per row group and merged (``profile(A + B) == merge(profile(A), profile(B))``):

- counts: rows, missing (null or NaN), empty strings, errors (values that do not
  parse as the column's declared type), positive and negative infinities, zeros;
- exact min and max;
- moments (n, mean, M2, M3, M4) merged with the pairwise formulas of Chan, Golub &
  LeVeque (1979) and Pébay (2008, SAND2008-6212, eq. 3.1); from them mean, variance
  and standard deviation (sample, ddof=1), skewness and excess kurtosis
  (bias-corrected, as ``pandas.Series.skew`` and ``pandas.Series.kurt``);
- a KLL quantile sketch (Apache DataSketches ``kll_doubles_sketch``) of the finite
  values, from which the quantiles and the CDF come; it holds every value while
  ``n <= k`` (then quantiles are exact and match ``numpy.quantile``'s default
  linear interpolation);
- category counts for string, categorical and boolean columns: exact up to
  ``category_cap`` categories, the rest counted as "other";
- a distinct-count estimate from a K-minimum-values sketch of 64-bit hashes
  (Bar-Yossef et al. 2002): exact below K distinct values, relative standard error
  about ``1/sqrt(K - 2)`` above.

Statistics are computed over values; moments and the sketch use finite values only
(infinities are counted apart); NaN counts as missing, as pandas does.
Datetime values are float seconds since the Unix epoch, UTC; a timestamp without a
timezone is taken to be UTC.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasketches
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FORMAT_VERSION = 1
QUANTILE_RANKS: tuple[float, ...] = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)
KINDS = ("integer", "decimal", "string", "boolean", "datetime", "categorical")
DEFAULT_K = 4096
DEFAULT_CATEGORY_CAP = 1000
KMV_SIZE = 4096
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


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
        """Moments of a 1-D float64 array of finite values."""
        n = int(values.size)
        if n == 0:
            return cls()
        mean = float(values.mean())
        d = values - mean
        d2 = d * d
        return cls(n, mean, float(d2.sum()), float((d2 * d).sum()), float((d2 * d2).sum()))

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

    @property
    def variance(self) -> float | None:
        """Sample variance (ddof=1, as pandas); None for n < 2."""
        return self.m2 / (self.n - 1) if self.n >= 2 else None

    @property
    def skewness(self) -> float | None:
        """Adjusted Fisher-Pearson skewness G1, as ``pandas.Series.skew``; None for n < 3."""
        n = self.n
        if n < 3:
            return None
        if self.m2 <= 1e-14 * max(1.0, self.mean * self.mean) * n:
            return 0.0
        g1 = (self.m3 / n) / (self.m2 / n) ** 1.5
        return math.sqrt(n * (n - 1)) / (n - 2) * g1

    @property
    def kurtosis(self) -> float | None:
        """Bias-corrected excess kurtosis G2, as ``pandas.Series.kurt``; None for n < 4."""
        n = self.n
        if n < 4:
            return None
        if self.m2 <= 1e-14 * max(1.0, self.mean * self.mean) * n:
            return 0.0
        g2 = (self.m4 / n) / (self.m2 / n) ** 2 - 3.0
        return ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))


# ---------------------------------------------------------------------------
# distinct count


def hash_values(values: np.ndarray) -> np.ndarray:
    """64-bit hashes of a 1-D array (numbers or strings), via ``pandas.util.hash_array``."""
    if values.dtype.kind == "f":
        values = np.where(values == 0.0, 0.0, values)  # -0.0 and 0.0 are one value
    return np.asarray(pd.util.hash_array(values, categorize=False), dtype=np.uint64)


@dataclass
class DistinctSketch:
    """K-minimum-values sketch of 64-bit hashes (Bar-Yossef et al. 2002).

    Exact while fewer than ``size`` distinct hashes were seen; beyond, the estimate
    ``(size - 1) / (h_size / 2**64)`` has a relative standard error of about
    ``1 / sqrt(size - 2)`` (1.6% for size 4096).
    """

    size: int = KMV_SIZE
    hashes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    def update_hashes(self, hashes: np.ndarray) -> None:
        """Add 64-bit hashes (any order, duplicates allowed)."""
        merged = np.union1d(self.hashes, hashes)
        self.hashes = merged[: self.size] if merged.size > self.size else merged

    def merge(self, other: DistinctSketch) -> DistinctSketch:
        """Sketch of the union of both inputs."""
        out = DistinctSketch(min(self.size, other.size), self.hashes)
        out.update_hashes(other.hashes)
        return out

    @property
    def estimate(self) -> float:
        """Estimated number of distinct values (exact below ``size``)."""
        if self.hashes.size < self.size:
            return float(self.hashes.size)
        kth = float(self.hashes[self.size - 1]) + 1.0
        return (self.size - 1) / (kth / 2.0**64)

    @property
    def relative_error(self) -> float:
        """Relative standard error of :attr:`estimate` (0 when exact)."""
        return 0.0 if self.hashes.size < self.size else 1.0 / math.sqrt(self.size - 2)


# ---------------------------------------------------------------------------
# numeric summary


@dataclass
class NumericSummary:
    """Mergeable summary of a numeric or datetime column's non-missing values.

    :ivar n: finite values (those in the moments and the sketch).
    """

    moments: Moments = field(default_factory=Moments)
    min: float | None = None
    max: float | None = None
    pos_inf: int = 0
    neg_inf: int = 0
    zeros: int = 0
    sketch: Any = None
    k: int = DEFAULT_K

    def __post_init__(self) -> None:
        if self.sketch is None:
            self.sketch = datasketches.kll_doubles_sketch(self.k)

    def update(self, values: np.ndarray) -> None:
        """Add a 1-D float64 array of non-NaN values (infinities allowed)."""
        if values.size == 0:
            return
        lo, hi = float(values.min()), float(values.max())
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        finite = np.isfinite(values)
        if not finite.all():
            self.pos_inf += int(np.count_nonzero(values == np.inf))
            self.neg_inf += int(np.count_nonzero(values == -np.inf))
            values = values[finite]
        self.zeros += int(np.count_nonzero(values == 0.0))
        self.moments = self.moments.merge(Moments.of(values))
        if values.size:
            self.sketch.update(values)

    def merge(self, o: NumericSummary) -> NumericSummary:
        """Summary of the union of both inputs."""
        sketch = datasketches.kll_doubles_sketch.deserialize(self.sketch.serialize())
        sketch.merge(o.sketch)
        mins = [v for v in (self.min, o.min) if v is not None]
        maxs = [v for v in (self.max, o.max) if v is not None]
        return NumericSummary(
            self.moments.merge(o.moments), min(mins) if mins else None,
            max(maxs) if maxs else None, self.pos_inf + o.pos_inf,
            self.neg_inf + o.neg_inf, self.zeros + o.zeros, sketch, self.k,
        )

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
    def is_exact(self) -> bool:
        """True while the sketch still holds every finite value."""
        return not self.sketch.is_estimation_mode()

    @property
    def rank_error(self) -> float:
        """Normalised rank error bound of the sketch (99% confidence), 0 when exact."""
        return 0.0 if self.is_exact else float(self.sketch.get_normalized_rank_error(False))

    def exact_values(self) -> np.ndarray:
        """Every finite value, sorted, when :attr:`is_exact`.

        :raises ValueError: when the sketch is in estimation mode.
        """
        if not self.is_exact:
            raise ValueError("the sketch no longer holds every value")
        return np.sort(np.fromiter((v for v, _ in self.sketch), dtype=np.float64, count=self.n))

    def quantiles(self, ranks: Sequence[float]) -> np.ndarray:
        """Quantiles at normalised ranks in [0, 1]; NaN when there are no values.

        Exact mode matches ``numpy.quantile(values, ranks)`` (linear
        interpolation, pandas' default); beyond, the sketch's inclusive quantiles.
        """
        r = np.asarray(ranks, dtype=np.float64)
        if self.n == 0:
            return np.full(r.shape, np.nan)
        if self.is_exact:
            return np.quantile(self.exact_values(), r)
        return np.asarray(self.sketch.get_quantiles(r.tolist(), True), dtype=np.float64)

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Fraction of finite values ``<= x`` for each x of a 1-D array (any order)."""
        pts = np.asarray(points, dtype=np.float64)
        if self.n == 0:
            return np.full(pts.shape, np.nan)
        if self.is_exact:
            vals = self.exact_values()
            return np.searchsorted(vals, pts, side="right") / vals.size
        uniq, inverse = np.unique(pts, return_inverse=True)
        ranks = np.asarray(self.sketch.get_cdf(uniq.tolist(), True), dtype=np.float64)[:-1]
        return ranks[inverse].reshape(pts.shape)


# ---------------------------------------------------------------------------
# categories


@dataclass
class CategorySummary:
    """Category frequencies, exact for up to ``cap`` categories, the rest as "other".

    While the number of distinct categories seen stays under ``10 * cap`` every
    count is exact and the least frequent beyond ``cap`` are lumped into ``other``
    at the end; past that the least frequent are folded into ``other`` as they
    come, and a category folded earlier may be undercounted.
    """

    counts: dict[str, int] = field(default_factory=dict)
    other: int = 0
    cap: int = DEFAULT_CATEGORY_CAP

    def update(self, labels: Sequence[str], counts: Sequence[int]) -> None:
        """Add ``counts[i]`` occurrences of ``labels[i]``."""
        c = self.counts
        for label, n in zip(labels, counts):
            c[label] = c.get(label, 0) + int(n)
        if len(c) > 10 * self.cap:
            self._fold(self.cap)

    def _fold(self, keep: int) -> None:
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        self.counts = dict(ordered[:keep])
        self.other += sum(n for _, n in ordered[keep:])

    def finalized(self) -> CategorySummary:
        """A copy holding at most ``cap`` categories, most frequent first."""
        out = CategorySummary(dict(self.counts), self.other, self.cap)
        out._fold(self.cap)
        return out

    def merge(self, o: CategorySummary) -> CategorySummary:
        """Summary of the union of both inputs."""
        out = CategorySummary(dict(self.counts), self.other + o.other, min(self.cap, o.cap))
        out.update(list(o.counts), list(o.counts.values()))
        return out

    @property
    def total(self) -> int:
        """Number of values counted, "other" included."""
        return sum(self.counts.values()) + self.other


# ---------------------------------------------------------------------------
# column and dataset profiles


@dataclass
class ColumnProfile:
    """Profile of one column.

    :ivar kind: one of integer, decimal, string, boolean, datetime, categorical.
    :ivar count: rows; ``missing`` counts null and NaN; ``empty`` empty strings;
        ``errors`` values that did not parse as the declared type (they are
        counted as missing too).
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

    @property
    def not_missing(self) -> int:
        """Rows with a value."""
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
    def length_mean(self) -> float | None:
        """Mean string length in characters, for string-like columns."""
        n = self.not_missing
        return self.length_sum / n if self.length_min is not None and n else None

    def merge(self, o: ColumnProfile) -> ColumnProfile:
        """Profile of this column over both inputs' rows.

        :raises ValueError: when the two profiles are of different kinds.
        """
        if o.kind != self.kind:
            raise ValueError(f"column {self.name!r}: cannot merge {self.kind} with {o.kind}")
        lmin = [v for v in (self.length_min, o.length_min) if v is not None]
        lmax = [v for v in (self.length_max, o.length_max) if v is not None]
        return ColumnProfile(
            self.name, self.kind, self.arrow_type, self.count + o.count,
            self.missing + o.missing, self.empty + o.empty, self.errors + o.errors,
            _merge_opt(self.numeric, o.numeric), _merge_opt(self.categories, o.categories),
            self.distinct_sketch.merge(o.distinct_sketch),
            min(lmin) if lmin else None, max(lmax) if lmax else None,
            self.length_sum + o.length_sum,
        )


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
        """Profile of the rows of both inputs (same columns expected; a column on one
        side only is kept with the rows of the other side counted as missing)."""
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
        """Inverse of :meth:`to_records`.

        :raises ValueError: on an unknown format version.
        """
        from monitor.profile_io import profile_from_records

        return profile_from_records(meta, columns)

    def table(self) -> pd.DataFrame:
        """The profile table with Azure ML's columns, one row per column."""
        from monitor.profile_io import profile_table

        return profile_table(self)


def _pad_missing(col: ColumnProfile, rows: int) -> ColumnProfile:
    pad = ColumnProfile(col.name, col.kind, col.arrow_type, rows, rows)
    return col.merge(pad)


# ---------------------------------------------------------------------------
# the streaming pass


def kind_of(arrow_type: pa.DataType) -> str:
    """Our column kind for an Arrow type (strings start as "string")."""
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "datetime"
    if pa.types.is_dictionary(arrow_type):
        return "categorical"
    return "string"


class ColumnAccumulator:
    """Accumulates one column's :class:`ColumnProfile` over Arrow arrays."""

    def __init__(self, name: str, kind: str, declared: str | None, k: int, cap: int) -> None:
        self.declared = declared
        self.col = ColumnProfile(name, declared or kind)
        if self.col.kind in ("integer", "decimal", "datetime"):
            self.col.numeric = NumericSummary(k=k)
        if self.col.kind in ("string", "categorical", "boolean"):
            self.col.categories = CategorySummary(cap=cap)

    def update(self, arr: pa.Array) -> None:
        """Add one chunk of the column."""
        from monitor.profile_io import coerce

        col = self.col
        if not col.arrow_type:
            col.arrow_type = str(arr.type)
        arr, errors = coerce(arr, col.kind)
        col.count += len(arr)
        col.errors += errors
        if col.numeric is not None:
            self._update_numeric(arr)
        else:
            self._update_categories(arr)

    def _update_numeric(self, arr: pa.Array) -> None:
        col = self.col
        values = arr.to_numpy(zero_copy_only=False)
        if values.dtype != np.float64:
            values = values.astype(np.float64)
        present = ~np.isnan(values)
        col.missing += int(values.size - np.count_nonzero(present))
        values = values[present]
        assert col.numeric is not None
        col.numeric.update(values)
        col.distinct_sketch.update_hashes(hash_values(values))

    def _update_categories(self, arr: pa.Array) -> None:
        col = self.col
        col.missing += arr.null_count
        vc = pc.value_counts(arr.drop_null() if arr.null_count else arr)
        labels = vc.field("values").to_pylist()
        counts = vc.field("counts").to_numpy()
        if col.kind == "boolean":
            labels = ["true" if v else "false" for v in labels]
        else:
            self._update_lengths(arr)
            labels = [str(v) for v in labels]
            col.empty += int(sum(n for v, n in zip(labels, counts) if v == ""))
        assert col.categories is not None
        col.categories.update(labels, counts)
        col.distinct_sketch.update_hashes(hash_values(np.asarray(labels, dtype=object)))

    def _update_lengths(self, arr: pa.Array) -> None:
        lengths = pc.utf8_length(arr.cast(pa.string()) if not pa.types.is_string(arr.type) else arr)
        mm = pc.min_max(lengths)
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
        if lo is None:
            return
        col = self.col
        col.length_min = lo if col.length_min is None else min(col.length_min, lo)
        col.length_max = hi if col.length_max is None else max(col.length_max, hi)
        col.length_sum += int(pc.sum(lengths).as_py() or 0)

    def finish(self) -> ColumnProfile:
        """The column's profile; string columns with few distinct values become
        categorical (see :func:`infer_categorical`)."""
        col = self.col
        if col.categories is not None:
            col.categories = col.categories.finalized()
        if col.kind == "string" and self.declared is None and infer_categorical(col):
            col.kind = "categorical"
        return col


def infer_categorical(col: ColumnProfile) -> bool:
    """A string column is categorical when every category is counted exactly and it
    has at most ``max(50, 1% of its non-missing values)`` distinct values."""
    cats = col.categories
    if cats is None or cats.other or col.not_missing == 0:
        return False
    return len(cats.counts) <= max(50, 0.01 * col.not_missing)


def compute_profile(
    batches: Iterable[pa.RecordBatch],
    *,
    types: Mapping[str, str] | None = None,
    k: int = DEFAULT_K,
    category_cap: int = DEFAULT_CATEGORY_CAP,
) -> DatasetProfile:
    """Profile a stream of record batches in one pass.

    :param batches: record batches sharing one schema (columns are matched by name;
        a column absent from a batch counts as missing for its rows).
    :param types: column name -> kind override (integer, decimal, string, boolean,
        datetime, categorical); values that do not parse count as errors.
    :param k: KLL sketch size; quantiles are exact up to ``k`` values per column.
    :param category_cap: categories counted exactly per column.
    :returns: the :class:`DatasetProfile`.
    """
    types = dict(types or {})
    accs: dict[str, ColumnAccumulator] = {}
    rows = 0
    for batch in batches:
        for i, name in enumerate(batch.schema.names):
            arr = batch.column(i)
            if name not in accs:
                acc = ColumnAccumulator(name, kind_of(arr.type), types.get(name), k, category_cap)
                acc.col.count = acc.col.missing = rows
                accs[name] = acc
            accs[name].update(arr)
        rows += batch.num_rows
        for acc in accs.values():
            if acc.col.count < rows:
                gap = rows - acc.col.count
                acc.col.count += gap
                acc.col.missing += gap
    return DatasetProfile(rows, {name: acc.finish() for name, acc in accs.items()})


def pack_sketch(col: ColumnProfile) -> bytes:
    """Binary form of a column's sketches: KLL bytes and KMV hashes."""
    kll = col.numeric.sketch.serialize() if col.numeric is not None else b""
    hashes = col.distinct_sketch.hashes.astype("<u8").tobytes()
    return struct.pack("<4sII", b"DMS1", len(kll), col.distinct_sketch.size) + kll + hashes


def unpack_sketch(blob: bytes) -> tuple[Any, DistinctSketch]:
    """Inverse of :func:`pack_sketch`: (KLL sketch or None, distinct sketch)."""
    magic, kll_len, size = struct.unpack_from("<4sII", blob, 0)
    if magic != b"DMS1":
        raise ValueError("not a drift-monitor sketch blob")
    off = struct.calcsize("<4sII")
    kll = datasketches.kll_doubles_sketch.deserialize(blob[off:off + kll_len]) if kll_len else None
    hashes = np.frombuffer(blob[off + kll_len:], dtype="<u8").astype(np.uint64)
    return kll, DistinctSketch(size, hashes)


def profile_source(source: Any, *, types: Mapping[str, str] | None = None, files: Sequence[Any] | None = None) -> DatasetProfile:
    """Profile every file of a :class:`monitor.sources.files.FileSource`.

    :param files: the files to read (default: the source's files now).
    :raises SourceError: when a file cannot be read.
    """
    return compute_profile(source.iter_batches(files), types=types)
