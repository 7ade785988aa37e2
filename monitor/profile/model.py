"""The profile model: :class:`ColumnProfile` and :class:`DatasetProfile`, and how
two profiles merge.

The statistics and their definitions are in :mod:`monitor.profile`; the stored,
JSON and tabular forms in :mod:`monitor.profile.serialize` and
:mod:`monitor.profile.table`, which import this module (never the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.profile.columns import int_categorical, int_categories, text_categorical
from monitor.profile.numeric import NumericSummary
from monitor.profile.rows import RowSample
from monitor.profile.sketches import DEFAULT_CATEGORY_CAP, CategorySummary, merge_optional
from monitor.profile.theta import DistinctSketch
from monitor.profile.vectors import VectorSummary

__all__ = ["FORMAT_VERSION", "QUANTILE_RANKS", "ColumnProfile", "DatasetProfile"]

FORMAT_VERSION = 3
QUANTILE_RANKS: tuple[float, ...] = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)


# ---------------------------------------------------------------------------
# column and dataset profiles


@dataclass
class ColumnProfile:
    """Profile of one column; statistics as defined in :mod:`monitor.profile`.

    :ivar kind: one of integer, decimal, string, boolean, datetime, categorical, vector.
    :ivar count: rows; ``missing`` counts null and NaN; ``empty`` empty strings;
        ``errors`` values that did not parse as the kind (not counted as missing).
    :ivar numeric: for integer, decimal and datetime columns (and categorical ones
        inferred from integers).
    :ivar categories: for string, categorical and boolean columns.
    :ivar distinct_sketch: the theta sketch of the distinct non-missing values
        (numbers as float64, text and booleans as their labels).
    :ivar vector: for vector columns (:mod:`monitor.profile.vectors`).
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
    vector: VectorSummary | None = None

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
        """Estimated distinct non-missing values (exact up to 4,096); see
        :class:`~monitor.profile.theta.DistinctSketch`."""
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
            merge_optional(self.vector, o.vector),
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
    in column order.

    :ivar row_sample: when the profile was asked to keep one, a uniform sample of
        whole rows over its numeric, boolean, datetime and categorical columns
        (:mod:`monitor.profile.rows`), for the multivariate drift test.
    """

    row_count: int = 0
    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    row_sample: RowSample | None = None

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
        return DatasetProfile(self.row_count + o.row_count, cols, _merged_sample(self, o, cols))


def _merged_sample(a: DatasetProfile, b: DatasetProfile, cols: dict[str, ColumnProfile]) -> RowSample | None:
    """The row sample of two profiles' rows: None unless both keep one (a side without
    rows excepted), since a sample of one side only is not uniform over both."""
    if a.row_sample is None or b.row_sample is None:
        if a.row_sample is not None and b.row_count == 0:
            return a.row_sample
        return b.row_sample if b.row_sample is not None and a.row_count == 0 else None
    return sampled_columns(a.row_sample.merge(b.row_sample), cols)


def sampled_columns(sample: RowSample, cols: dict[str, ColumnProfile]) -> RowSample:
    """``sample`` with only the columns the multivariate test uses: those whose
    profiled kind is not ``string`` (identifiers, free text) nor ``vector``, in column order."""
    return sample.restrict([n for n, c in cols.items() if c.kind not in ("string", "vector")])


def _pad_missing(col: ColumnProfile, rows: int) -> ColumnProfile:
    pad = ColumnProfile(col.name, col.kind, col.arrow_type, rows, rows, declared=col.declared)
    return col.merge(pad)
