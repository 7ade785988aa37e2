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

Modules: the summaries are in :mod:`monitor.sketches` (moments, hashes, the
distinct-count sketch, category counts), :mod:`monitor.numeric` (the numeric
summary) and :mod:`monitor.kll` (batches compacted into KLL sketches); kinds in
:mod:`monitor.columns`; accumulation in :mod:`monitor.accumulators`; reading a
file source with worker processes in :mod:`monitor.profile_parallel`. Their
public names are importable from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from monitor.accumulators import ColumnAccumulator, ProfileState
from monitor.columns import (
    KINDS,
    NUMERIC_KINDS,
    SMALL_INT_CATEGORIES,
    TEXT_KINDS,
    ColumnSpec,
    column_spec,
    int_categorical,
    int_categories,
    kind_of,
    text_categorical,
)
from monitor.kll import compact_to_sketch, compaction_level, fine_bins, kll_capacity
from monitor.numeric import DEFAULT_K, EXACT_DISTINCT, PRECOMPACT_MIN, SKETCH_SLICE, NumericSummary, value_counts
from monitor.profile_parallel import PARALLEL_MIN_CELLS, Progress, accumulate_source, resolve_specs, run_task
from monitor.sketches import (
    COUNTER_FACTOR,
    DEFAULT_CATEGORY_CAP,
    HASH_SCHEME,
    KMV_SIZE,
    CategoryCounter,
    CategorySummary,
    DistinctSketch,
    Moments,
    hash_floats,
    hash_strings,
    merge_optional,
    misra_gries_cut,
)

if TYPE_CHECKING:
    import pandas as pd

    from monitor.sources.files import FileSource

FORMAT_VERSION = 2
QUANTILE_RANKS: tuple[float, ...] = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)


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
            merge_optional(self.numeric, o.numeric), merge_optional(self.categories, o.categories),
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
        if num is not None and int_categorical(num, values):
            cap = col.categories.cap if col.categories is not None else DEFAULT_CATEGORY_CAP
            col.categories = int_categories(num, cap, values)
            return "categorical"
        col.categories = None
        return "integer"
    return "categorical" if col.categories is not None and text_categorical(col.categories, values) else "string"


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
# finishing a profile


def finish_profile(state: ProfileState, order: Sequence[str] | None = None) -> DatasetProfile:
    """The :class:`DatasetProfile` of a profile in progress; columns in ``order``
    (default: first seen), a column with fewer counted rows than the profile
    padded as missing, categorical inference applied."""
    columns = {acc.name: column_profile(acc) for acc in state.complete(order)}
    return DatasetProfile(state.rows, columns)


def column_profile(acc: ColumnAccumulator) -> ColumnProfile:
    """The :class:`ColumnProfile` of one column's accumulator (categorical inference applied)."""
    spec = acc.spec
    col = ColumnProfile(
        acc.name, spec.kind, acc.arrow_type, acc.count, acc.missing, acc.empty, acc.errors,
        acc.numeric, None, acc.distinct, acc.length_min, acc.length_max, acc.length_sum,
        spec.declared, acc.timezone,
    )
    values = col.not_missing - col.errors
    if acc.counter is not None:
        col.categories = acc.counter.summary(acc.cap, values)
    if spec.declared:
        if spec.kind == "categorical" and col.numeric is not None:
            col.categories = int_categories(col.numeric, acc.cap, values)
        return col
    if spec.kind == "string" and col.categories is not None and text_categorical(col.categories, values):
        col.kind = "categorical"
    elif spec.kind == "integer" and col.numeric is not None and int_categorical(col.numeric, values):
        col.kind = "categorical"
        col.categories = int_categories(col.numeric, acc.cap, values)
    return col


# ---------------------------------------------------------------------------
# profiling


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
    return finish_profile(state)


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
    Each worker profiles the tasks it takes into its own :class:`~monitor.accumulators.ProfileState`;
    the states are merged. Memory is bounded by one column piece (CSV and JSON
    Lines: one block) per worker.

    :param files: the files to read (default: the source's files now).
    :param workers: processes to use (default: the CPUs this process may run
        on); 1 profiles in this process. Small inputs (under
        :data:`PARALLEL_MIN_CELLS` cells) are always profiled in-process.
    :param progress: show a progress line on stderr (default: when stderr is a terminal).
    :raises SourceError: when a file cannot be read or profiled.
    :raises ValueError: on an unknown kind in ``types``.
    """
    files = list(files) if files is not None else source.files()
    files = list(files) if files is not None else source.files()
    state, order = accumulate_source(source, files, dict(types or {}), workers=workers, progress=progress,
                                     k=k, category_cap=category_cap)
    return finish_profile(state, order)


__all__ = [
    "COUNTER_FACTOR", "DEFAULT_CATEGORY_CAP", "DEFAULT_K", "EXACT_DISTINCT", "FORMAT_VERSION", "HASH_SCHEME",
    "KINDS", "KMV_SIZE", "NUMERIC_KINDS", "PARALLEL_MIN_CELLS", "PRECOMPACT_MIN", "QUANTILE_RANKS",
    "SKETCH_SLICE", "SMALL_INT_CATEGORIES", "TEXT_KINDS", "CategoryCounter", "CategorySummary",
    "ColumnAccumulator", "ColumnProfile", "ColumnSpec", "DatasetProfile", "DistinctSketch", "Moments",
    "NumericSummary", "ProfileState", "Progress", "column_profile", "column_spec", "compact_to_sketch",
    "compaction_level", "compute_profile", "fine_bins", "finish_profile", "hash_floats", "hash_strings",
    "kind_of", "kll_capacity", "misra_gries_cut", "profile_source", "resolve_specs", "run_task", "value_counts",
]
