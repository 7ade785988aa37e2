"""The statistics engine: two profiles (or two data copies) → per-column drift
metrics, severities and a dataset verdict.

Pure functions, no I/O. :func:`compare_profiles` works from two
:class:`~monitor.profile.DatasetProfile` objects alone, so snapshots years apart
can be compared without their data; :func:`compare_data` (exact mode) computes the
same metrics from two Arrow tables with scipy and numpy, and is the oracle the
profile numbers are checked against.

Decisions use effect sizes with the sampling noise taken out (see
:mod:`monitor.metrics` and ``docs/metrics.md``): a column with fewer than
``min_values`` values on either side is "insufficient data", never drift;
p-value metrics decide only where thresholds are set for them, and then under a
Benjamini-Hochberg correction across columns.

Example::

    result = compare_profiles(baseline_profile, target_profile,
                              DriftSettings.from_config({"psi": {"warning": 0.2}}, 100, 0.05))
    result.verdict.drifted, [c.column for c in result.drifted_columns()]
    json.dumps(result.to_dict())
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.errors import ConfigError
from monitor.metrics import (
    CATEGORICAL_KINDS,
    EPSILON,
    METRICS,
    NOISE_ALPHA,
    NOISE_C,
    NUMERIC_KINDS,
    CategoryCells,
    CategoryCounts,
    Metric,
    NumericSide,
    bh_adjust,
    category_cells,
    chi_square,
    empty_share,
    hellinger,
    js_distance,
    kind_family,
    ks_test,
    linf_distance,
    mean_change,
    metric_table,
    missing_rate_change,
    noise_floor,
    psi,
    psi_noise,
    quantile_bins,
    side_from_counts,
    side_from_histogram,
    side_from_values,
    type_change,
    wasserstein,
    wasserstein_normed,
)

if TYPE_CHECKING:
    from monitor.profile import ColumnProfile, DatasetProfile, NumericSummary

__all__ = [
    "METRICS",
    "ColumnDrift",
    "DatasetDrift",
    "DriftSettings",
    "Metric",
    "MetricResult",
    "Threshold",
    "Verdict",
    "compare_data",
    "compare_profiles",
    "metric_table",
    "threshold_problems",
]

Severity = Literal["none", "warning", "critical"]
LIST_LIMIT = 50
"""Most categories listed as new or vanished, and most labels in a column's chart data."""
_SUMMARY_RANKS = (0.01, 0.5, 0.99)


# ---------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class Threshold:
    """A metric's two thresholds; ``None`` disables that severity.

    For a "higher" metric a value at or above ``warning`` is a warning; for a
    p-value metric a p-value at or below it (after Benjamini-Hochberg).
    """

    warning: float | None = None
    critical: float | None = None


def _default(metric: str) -> Threshold:
    m = METRICS[metric]
    return Threshold(m.warning, m.critical)


def _merged(base: Threshold, spec: Mapping[str, Any] | Threshold) -> Threshold:
    if isinstance(spec, Threshold):
        return spec
    return Threshold(
        _num(spec["warning"]) if "warning" in spec else base.warning,
        _num(spec["critical"]) if "critical" in spec else base.critical,
    )


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class DriftSettings:
    """How a comparison decides.

    :ivar thresholds: metric name -> :class:`Threshold`, overriding the registry's defaults.
    :ivar column_thresholds: column -> metric name -> :class:`Threshold`, overriding both.
    :ivar min_values: fewer non-missing values on either side: "insufficient data".
    :ivar fdr: Benjamini-Hochberg false-discovery rate for deciding p-values.
    :ivar bins: number of baseline-quantile bins for PSI, JS and Hellinger.
    """

    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    column_thresholds: Mapping[str, Mapping[str, Threshold]] = field(default_factory=dict)
    min_values: int = 100
    fdr: float = 0.05
    bins: int = 10

    def threshold(self, metric: str, column: str) -> Threshold:
        """The thresholds of ``metric`` for ``column``: column, then monitor, then default."""
        per_column = self.column_thresholds.get(column, {})
        if metric in per_column:
            return per_column[metric]
        return self.thresholds.get(metric) or _default(metric)

    @classmethod
    def from_config(cls, thresholds: Mapping[str, Any] | None, min_values: int = 100, fdr: float = 0.05,
                    bins: int = 10) -> DriftSettings:
        """Settings from a monitor's ``thresholds:`` YAML mapping.

        A metric's mapping may give ``warning``, ``critical`` or both; a key left
        out keeps the monitor-level (for a column) or default value, ``null``
        disables that severity.

        :raises ConfigError: listing every problem :func:`threshold_problems` finds.
        """
        raw = dict(thresholds or {})
        problems = threshold_problems("thresholds", raw)
        if problems:
            raise ConfigError(problems)
        monitor = {k: _merged(_default(k), v) for k, v in raw.items() if k != "columns"}
        columns = {
            col: {k: _merged(monitor.get(k) or _default(k), v) for k, v in spec.items()}
            for col, spec in (raw.get("columns") or {}).items()
        }
        return cls(monitor, columns, int(min_values), float(fdr), int(bins))


# ---------------------------------------------------------------------------
# threshold validation


def threshold_problems(path: str, thresholds: Any) -> list[str]:
    """Problems in a monitor's ``thresholds`` mapping, each ``"key.path: message"``.

    Finds unknown metric names, unknown keys, non-numeric values, negative
    thresholds of "higher" metrics, p-value thresholds outside (0, 1), and a
    critical threshold on the wrong side of the warning (below it for "higher"
    metrics, above it for p-values) once defaults are filled in.

    :param path: key path of the mapping, e.g. ``"monitors.flights.thresholds"``.
    """
    if thresholds is None:
        return []
    if not isinstance(thresholds, Mapping):
        return [f"{path}: expected a mapping of metric name -> {{warning, critical}}"]
    problems: list[str] = []
    for key, spec in thresholds.items():
        if key == "columns":
            problems += _column_problems(f"{path}.columns", spec, thresholds)
        else:
            problems += _metric_problems(f"{path}.{key}", str(key), spec, None)
    return problems


def _column_problems(path: str, columns: Any, monitor: Mapping[str, Any]) -> list[str]:
    if columns is None:
        return []
    if not isinstance(columns, Mapping):
        return [f"{path}: expected a mapping of column name -> metric -> {{warning, critical}}"]
    problems: list[str] = []
    for column, spec in columns.items():
        if not isinstance(spec, Mapping):
            problems.append(f"{path}.{column}: expected a mapping of metric name -> {{warning, critical}}")
            continue
        for name, metric_spec in spec.items():
            base = monitor.get(name) if isinstance(monitor.get(name), Mapping) else None
            problems += _metric_problems(f"{path}.{column}.{name}", str(name), metric_spec, base)
    return problems


def _metric_problems(path: str, name: str, spec: Any, parent: Mapping[str, Any] | None) -> list[str]:
    if name not in METRICS:
        return [f"{path}: unknown metric {name!r}; known metrics: {', '.join(METRICS)}"]
    if not isinstance(spec, Mapping):
        return [f"{path}: expected a mapping with 'warning' and/or 'critical'"]
    problems = [f"{path}.{k}: unknown key (expected 'warning' or 'critical')" for k in spec if k not in ("warning", "critical")]
    for key in ("warning", "critical"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
            problems.append(f"{path}.{key}: expected a number or null, got {value!r}")
    if problems:
        return problems
    return _range_problems(path, METRICS[name], spec, parent)


def _range_problems(path: str, metric: Metric, spec: Mapping[str, Any], parent: Mapping[str, Any] | None) -> list[str]:
    problems: list[str] = []
    for key in ("warning", "critical"):
        value = spec.get(key)
        if value is None:
            continue
        if metric.direction == "p_value" and not 0 < value < 1:
            problems.append(f"{path}.{key}: a p-value threshold must be between 0 and 1 (exclusive), got {value}")
        elif metric.direction == "higher" and value < 0:
            problems.append(f"{path}.{key}: must be >= 0 ({metric.name} is >= 0), got {value}")
    if problems:
        return problems
    base = _default(metric.name)
    if parent is not None and not _metric_problems("", metric.name, parent, None):
        base = _merged(base, parent)
    eff = _merged(base, spec)
    return _order_problem(path, metric, eff, "critical" in spec)


def _order_problem(path: str, metric: Metric, eff: Threshold, critical_given: bool) -> list[str]:
    w, c = eff.warning, eff.critical
    if w is None or c is None:
        return []
    wrong = c < w if metric.direction == "higher" else c > w
    if not wrong:
        return []
    side = "below" if metric.direction == "higher" else "above"
    rule = (f"higher {metric.name} means more drift, so critical must be >= warning" if metric.direction == "higher"
            else f"{metric.name} is a p-value (lower = more drift), so critical must be <= warning")
    if critical_given:
        return [f"{path}.critical: {c:g} is {side} the warning threshold {w:g}; {rule}"]
    other = "above" if side == "below" else "below"
    return [f"{path}.warning: {w:g} is {other} the critical threshold {c:g} (inherited); {rule} (set critical too)"]


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class MetricResult:
    """One metric of one column.

    :ivar value: the metric (for p-value metrics, the test statistic); ``None``
        when undefined, with ``detail["reason"]``.
    :ivar p_value: the p-value, for tests; else ``None``.
    :ivar decision_value: the number compared with the thresholds (the value with
        sampling noise taken out, or the p-value).
    :ivar decides: whether it can set the column's severity (a threshold is set
        and the column has enough data).
    """

    name: str
    value: float | None
    p_value: float | None
    direction: str
    warning: float | None
    critical: float | None
    severity: Severity
    decides: bool
    decision_value: float | None
    detail: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (keys name, value, p_value, direction, warning, critical, severity, decides, detail)."""
        detail = {**self.detail, "decision_value": self.decision_value}
        return {"name": self.name, "value": self.value, "p_value": self.p_value, "direction": self.direction,
                "warning": self.warning, "critical": self.critical, "severity": self.severity,
                "decides": self.decides, "detail": detail}


@dataclass(frozen=True)
class ColumnDrift:
    """The comparison of one column.

    :ivar status: ``drift``, ``ok``, ``insufficient_data``, ``added``, ``removed``
        or ``not_comparable``.
    :ivar magnitude: the column's robust L-infinity distance (KS statistic or
        category L-infinity minus the noise floor, 0..1), ``None`` if not compared.
    """

    column: str
    kind: str
    status: str
    severity: Severity
    reason: str | None
    metrics: tuple[MetricResult, ...]
    missing_rate: Mapping[str, float | None] | None
    baseline: Mapping[str, Any] | None
    target: Mapping[str, Any] | None
    histogram: Mapping[str, Any] | None = None
    categories: Mapping[str, Any] | None = None
    new_categories: tuple[Mapping[str, Any], ...] = ()
    vanished_categories: tuple[Mapping[str, Any], ...] = ()
    magnitude: float | None = None
    eligible: bool = False
    notes: tuple[str, ...] = ()

    def metric(self, name: str) -> MetricResult | None:
        """The metric called ``name``, if computed."""
        return next((m for m in self.metrics if m.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; see :meth:`DatasetDrift.to_dict`."""
        return {
            "column": self.column, "kind": self.kind, "status": self.status, "severity": self.severity,
            "reason": self.reason, "metrics": [m.to_dict() for m in self.metrics],
            "missing_rate": self.missing_rate, "baseline": self.baseline, "target": self.target,
            "histogram": self.histogram, "categories": self.categories,
            "new_categories": list(self.new_categories), "vanished_categories": list(self.vanished_categories),
            "magnitude": self.magnitude,
        }


@dataclass(frozen=True)
class Verdict:
    """The dataset verdict.

    :ivar magnitude: mean robust L-infinity distance over the columns whose
        distributions were compared (0 = nothing moved beyond noise, 1 = every
        column's values fully separated).
    """

    drifted: bool
    severity: Severity
    drifted_columns: int
    columns_compared: int
    share_drifted: float
    magnitude: float
    insufficient_data: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"drifted": self.drifted, "severity": self.severity, "drifted_columns": self.drifted_columns,
                "columns_compared": self.columns_compared, "share_drifted": self.share_drifted,
                "magnitude": self.magnitude, "insufficient_data": self.insufficient_data}


@dataclass(frozen=True)
class DatasetDrift:
    """The comparison of a target snapshot with its baseline."""

    mode: Literal["profile", "exact"]
    verdict: Verdict
    schema: Mapping[str, Any]
    row_count: Mapping[str, Any]
    settings: Mapping[str, Any]
    columns: tuple[ColumnDrift, ...]

    def drifted_columns(self) -> list[ColumnDrift]:
        """Columns whose status is ``drift``, in column order."""
        return [c for c in self.columns if c.status == "drift"]

    def column(self, name: str) -> ColumnDrift:
        """The comparison of column ``name``. :raises KeyError: when there is none."""
        for col in self.columns:
            if col.column == name:
                return col
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as strict JSON data: no NaN or infinity anywhere (an
        undefined number is ``None`` and its metric's ``detail`` has a ``reason``).

        Keys: ``mode``, ``verdict``, ``schema`` (added, removed, retyped),
        ``row_count`` (baseline, target, relative change), ``settings`` (min_values,
        fdr, bins, bh_applied, notes) and ``columns`` (one dict per column).
        """
        data: dict[str, Any] = _json_safe({
            "mode": self.mode, "verdict": self.verdict.to_dict(), "schema": self.schema,
            "row_count": self.row_count, "settings": self.settings,
            "columns": [c.to_dict() for c in self.columns],
        })
        return data


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    return value


# ---------------------------------------------------------------------------
# inputs: what a comparison needs of one column


@dataclass(frozen=True)
class ColumnInput:
    """One side of one column: counts, and its values as a numeric and/or categorical distribution.

    :ivar base_kind: the kind as a type: an integer column the profile calls
        categorical (few distinct values) is still ``"integer"``.
    """

    name: str
    kind: str
    rows: int
    missing: int
    numeric: NumericSide | None = None
    categories: CategoryCounts | None = None
    base_kind: str = ""

    @property
    def values(self) -> int:
        """Number of non-missing values the distribution holds."""
        if self.categories is not None:
            return self.categories.total
        return self.numeric.n if self.numeric is not None else 0


def _base_kind(col: ColumnProfile) -> str:
    return "integer" if col.kind == "categorical" and col.numeric is not None else col.kind


def _finite_bounds(summary: NumericSummary) -> tuple[float | None, float | None]:
    if not summary.n:
        return None, None
    lo, hi = getattr(summary, "finite_min", summary.min), getattr(summary, "finite_max", summary.max)
    sketch = getattr(summary, "sketch", None)
    if lo is not None and not math.isfinite(lo):
        lo = float(sketch.get_min_value()) if sketch is not None else None
    if hi is not None and not math.isfinite(hi):
        hi = float(sketch.get_max_value()) if sketch is not None else None
    return lo, hi


def side_from_summary(summary: NumericSummary) -> NumericSide:
    """A :class:`~monitor.metrics.NumericSide` from a profile's numeric summary.

    While the summary holds every value exactly, the side is exact (its distinct
    values and counts); beyond, CDF and quantiles come from the sketch; a summary
    without a sketch falls back to its quantiles at ``QUANTILE_RANKS`` with mass
    spread uniformly within each bin.
    """
    n, neg, pos = int(summary.n), int(summary.neg_inf), int(summary.pos_inf)
    if n and summary.is_exact:
        vals, cnts = _exact_counts(summary)
        return side_from_counts(vals, cnts, neg_inf=neg, pos_inf=pos, mean=summary.mean, std=summary.std)
    lo, hi = _finite_bounds(summary)
    if n and getattr(summary, "sketch", True) is None:
        return _interpolated_side(summary, lo, hi)
    return NumericSide(n, neg, pos, lo, hi, summary.mean, summary.std, _rank_error(summary), None,
                       summary.cdf, summary.quantiles)


def _exact_counts(summary: NumericSummary) -> tuple[np.ndarray, np.ndarray]:
    counted = getattr(summary, "exact_counts", None)
    if callable(counted):
        vals, cnts = counted()
        return np.asarray(vals, dtype=np.float64), np.asarray(cnts, dtype=np.int64)
    vals, cnts = np.unique(np.asarray(summary.exact_values(), dtype=np.float64), return_counts=True)
    return vals, cnts


def _rank_error(summary: NumericSummary) -> float:
    """The summary's normalised rank error, computed from the sketch's ``k`` if it cannot say."""
    try:
        return float(summary.rank_error)
    except TypeError:
        import datasketches

        k = int(getattr(summary, "k", 0) or summary.sketch.k)
        return float(datasketches.kll_doubles_sketch.get_normalized_rank_error(k, False))


def _interpolated_side(summary: NumericSummary, lo: float | None, hi: float | None) -> NumericSide:
    from monitor.profile import QUANTILE_RANKS

    ranks = np.array([0.0, *QUANTILE_RANKS, 1.0])
    edges = np.maximum.accumulate(np.concatenate([[lo], summary.quantiles(QUANTILE_RANKS), [hi]]))
    return side_from_histogram(edges, np.diff(ranks), n_finite=int(summary.n), neg_inf=int(summary.neg_inf),
                               pos_inf=int(summary.pos_inf), mean=summary.mean, std=summary.std)


def input_from_profile(col: ColumnProfile) -> ColumnInput:
    """The :class:`ColumnInput` of a profiled column."""
    cats = col.categories
    counts = CategoryCounts(dict(cats.counts), int(cats.other)) if cats is not None else None
    numeric = side_from_summary(col.numeric) if col.numeric is not None else None
    return ColumnInput(col.name, col.kind, col.count, col.missing, numeric, counts, _base_kind(col))


def _column_array(table: pa.Table, name: str) -> pa.Array:
    chunked = table.column(name)
    return chunked.combine_chunks() if chunked.num_chunks else pa.array([], type=chunked.type)


def input_from_data(arr: pa.Array, col: ColumnProfile) -> ColumnInput:
    """The exact :class:`ColumnInput` of a column's data, coerced as the profile coerces it."""
    from monitor.profile_io import coerce

    numeric = categories = None
    if col.numeric is not None:
        values, _ = coerce(arr, col.kind if col.kind in NUMERIC_KINDS else "decimal")
        nums = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
        numeric = side_from_values(nums[~np.isnan(nums)])
    if col.categories is not None:
        values, _ = coerce(arr, col.kind)
        counts = pc.value_counts(values.drop_null())
        labels = counts.field("values").to_pylist()
        names = [("true" if v else "false") if col.kind == "boolean" else str(v) for v in labels]
        categories = CategoryCounts(dict(zip(names, (int(c) for c in counts.field("counts").to_pylist()))), 0)
    return ColumnInput(col.name, col.kind, col.count, col.missing, numeric, categories, _base_kind(col))


# ---------------------------------------------------------------------------
# measuring one column


@dataclass(frozen=True)
class _Measure:
    name: str
    value: float | None
    p_value: float | None
    decision: float | None
    detail: Mapping[str, Any]


def _undefined(name: str, reason: str) -> _Measure:
    return _Measure(name, None, None, None, {"reason": reason})


def _numeric_measures(b: NumericSide, t: NumericSide, bins: int) -> tuple[list[_Measure], dict[str, Any] | None, float]:
    n, m = b.n, t.n
    floor = noise_floor(n, m)
    d, p = ks_test(b, t)
    ks_detail = {"n": n, "m": m, "noise_floor": floor, "c": NOISE_C}
    out = [_Measure("ks_statistic", d, p, max(0.0, d - floor), ks_detail),
           _Measure("ks_test", d, p, p, {"n": n, "m": m})]
    binned = quantile_bins(b, t, bins)
    if binned is None:
        out += [_undefined(k, "the baseline has no finite values") for k in ("psi", "js_distance", "hellinger")]
    else:
        out += _share_measures(binned.baseline, binned.target, n, m)
    out += _moment_measures(b, t)
    return out, _histogram(binned), max(0.0, d - floor)


def _share_measures(p: np.ndarray, q: np.ndarray, n: int, m: int) -> list[_Measure]:
    cells = int(np.count_nonzero((p > 0) | (q > 0)))
    value = psi(p, q, n, m)
    allowance = psi_noise(cells, n, m)
    detail = {"cells": cells, "noise_allowance": allowance, "empty_share": [empty_share(n), empty_share(m)]}
    return [
        _Measure("psi", value, None, max(0.0, value - allowance), detail),
        _Measure("js_distance", js_distance(p, q), None, js_distance(p, q), {"base": 2}),
        _Measure("hellinger", hellinger(p, q), None, hellinger(p, q), {}),
    ]


def _moment_measures(b: NumericSide, t: NumericSide) -> list[_Measure]:
    w = wasserstein(b, t)
    infinite = b.neg_inf + b.pos_inf + t.neg_inf + t.pos_inf
    detail: dict[str, Any] = {"method": "exact" if b.values is not None and t.values is not None else "sketch"}
    if infinite:
        detail["excluded_infinities"] = infinite
    out = [_Measure("wasserstein", w, None, w, detail) if w is not None
           else _undefined("wasserstein", "a side has no finite values")]
    if w is None or not b.std:
        reason = "a side has no finite values" if w is None else "the baseline's standard deviation is 0 or undefined"
        return out + [_undefined("wasserstein_normed", reason), _undefined("mean_change", reason)]
    change = mean_change(b, t)
    normed = wasserstein_normed(w, b.std)
    out.append(_Measure("wasserstein_normed", normed, None, normed, {"baseline_std": b.std}))
    if change is None:
        return out + [_undefined("mean_change", "a mean is undefined")]
    return out + [_Measure("mean_change", abs(change), None, abs(change),
                           {"signed": change, "baseline_mean": b.mean, "target_mean": t.mean})]


def _categorical_measures(b: CategoryCounts, t: CategoryCounts) -> tuple[list[_Measure], CategoryCells, float]:
    cells = category_cells(b, t)
    n, m = b.total, t.total
    p, q = cells.baseline / max(n, 1), cells.target / max(m, 1)
    floor = noise_floor(n, m)
    linf = linf_distance(p, q)
    stat, pval, dof = chi_square(cells.baseline, cells.target)
    out = _share_measures(p, q, n, m)
    out += [
        _Measure("linf_distance", linf, None, max(0.0, linf - floor),
                 {"n": n, "m": m, "noise_floor": floor, "c": NOISE_C, "category": _argmax_label(cells, p, q)}),
        _Measure("chi_square", stat, pval, pval, {"dof": dof, "cells": len(cells.labels)}),
    ]
    return out, cells, max(0.0, linf - floor)


def _argmax_label(cells: CategoryCells, p: np.ndarray, q: np.ndarray) -> str | None:
    return cells.labels[int(np.argmax(np.abs(p - q)))] if p.size else None


def _missing_measure(b: ColumnInput, t: ColumnInput) -> tuple[_Measure, dict[str, float | None]]:
    rb = b.missing / b.rows if b.rows else None
    rt = t.missing / t.rows if t.rows else None
    rates: dict[str, float | None] = {"baseline": rb, "target": rt, "change": None, "relative_change": None}
    change = missing_rate_change(b.missing, b.rows, t.missing, t.rows)
    if rb is None or rt is None or change is None:
        return _undefined("missing_rate_change", "a snapshot has no rows"), rates
    rates["change"] = change
    rates["relative_change"] = change / rb if rb else (0.0 if rt == 0 else None)
    floor = noise_floor(b.rows, t.rows)
    detail = {"signed": change, "relative": rates["relative_change"], "noise_floor": floor, "c": NOISE_C}
    return _Measure("missing_rate_change", abs(change), None, max(0.0, abs(change) - floor), detail), rates


# ---------------------------------------------------------------------------
# what a column's report shows


def _histogram(binned: Any) -> dict[str, Any] | None:
    if binned is None:
        return None
    edges = [float(e) for e in binned.edges]
    inner = edges if len(edges) > 1 else edges * 2
    return {"edges": [None, *inner, None], "baseline": binned.baseline.tolist(), "target": binned.target.tolist()}


def _side_stats(side: ColumnInput) -> dict[str, Any]:
    out: dict[str, Any] = {"count": side.rows, "missing": side.missing}
    num = side.numeric
    if num is not None:
        quants = num.quantiles(np.array(_SUMMARY_RANKS)) if num.n_finite else [None] * 3
        out.update(mean=num.mean, std=num.std, min=num.low, max=num.high,
                   p01=quants[0], p50=quants[1], p99=quants[2])
        if num.neg_inf or num.pos_inf:
            out.update(neg_inf=num.neg_inf, pos_inf=num.pos_inf)
    else:
        out.update(mean=None, std=None, min=None, max=None, p01=None, p50=None, p99=None)
    if side.categories is not None:
        out["categories"] = len(side.categories.counts)
    return out


def _categories_block(cells: CategoryCells) -> dict[str, Any]:
    p = cells.baseline / max(cells.baseline.sum(), 1.0)
    q = cells.target / max(cells.target.sum(), 1.0)
    named = [i for i, label in enumerate(cells.labels) if label != cells.other_label]
    named.sort(key=lambda i: (-max(p[i], q[i]), cells.labels[i]))
    shown, rest = named[:LIST_LIMIT], named[LIST_LIMIT:]
    labels = [cells.labels[i] for i in shown]
    base, targ = [float(p[i]) for i in shown], [float(q[i]) for i in shown]
    extra = [i for i, label in enumerate(cells.labels) if label == cells.other_label] + rest
    if extra:
        labels.append(cells.other_label or "other")
        base.append(float(p[extra].sum()))
        targ.append(float(q[extra].sum()))
    return {"labels": labels, "baseline": base, "target": targ}


def _appeared(side: CategoryCounts, other: CategoryCounts) -> tuple[dict[str, Any], ...]:
    """Categories of ``side`` that ``other`` certainly lacks (it has no "other" bucket)."""
    if other.other or not side.total:
        return ()
    found = [(c, n / side.total) for c, n in side.counts.items() if n and c not in other.counts]
    found.sort(key=lambda item: (-item[1], item[0]))
    return tuple({"name": c, "share": s} for c, s in found[:LIST_LIMIT])


# ---------------------------------------------------------------------------
# one column, before decisions


def _retyped(b: ColumnInput, t: ColumnInput) -> bool:
    return type_change(b.base_kind or b.kind, t.base_kind or t.kind) > 0


def _comparable(b: ColumnInput, t: ColumnInput) -> bool:
    return kind_family(b.base_kind or b.kind) == kind_family(t.base_kind or t.kind)


def _one_sided(col: ColumnInput, status: str) -> ColumnDrift:
    stats = _side_stats(col)
    return ColumnDrift(col.name, col.kind, status, "none", None, (), None,
                       stats if status == "removed" else None, stats if status == "added" else None)


def _insufficient(b: ColumnInput, t: ColumnInput, minimum: int) -> str | None:
    for label, side in (("baseline", b), ("target", t)):
        if side.rows == 0:
            return f"the {label} has no rows"
        if side.values == 0:
            return f"the {label} has no values ({side.missing:,} of {side.rows:,} rows missing)"
        if side.values < minimum:
            noun = "value" if side.values == 1 else "values"
            return f"the {label} has {side.values:,} {noun}; at least {minimum:,} (min_values) are needed on each side"
    return None


def _measure_column(b: ColumnInput | None, t: ColumnInput | None, settings: DriftSettings) -> ColumnDrift:
    if b is None or t is None:
        side = t if b is None else b
        assert side is not None
        return _one_sided(side, "added" if b is None else "removed")
    missing, rates = _missing_measure(b, t)
    measures = [missing]
    if _retyped(b, t):
        measures.append(_Measure("type_change", 1.0, None, 1.0, {"baseline": b.kind, "target": t.kind}))
    col = ColumnDrift(b.name, t.kind, "ok", "none", None, (), rates, _side_stats(b), _side_stats(t), eligible=True)
    short = _insufficient(b, t, settings.min_values)
    if not _comparable(b, t):
        reason = f"type changed from {b.kind} to {t.kind}; the distributions are not compared"
        col = replace(col, status="not_comparable", reason=reason)
    elif b.values and t.values:
        col, more = _distribution(col, b, t, settings)
        measures += more
    if short is not None:
        reason = short + (f"; {col.reason}" if col.reason else "")
        return _with(col, settings, measures, status="insufficient_data", reason=reason, eligible=False)
    return _with(col, settings, measures)


def _distribution(col: ColumnDrift, b: ColumnInput, t: ColumnInput,
                  settings: DriftSettings) -> tuple[ColumnDrift, list[_Measure]]:
    as_categories = b.kind in CATEGORICAL_KINDS and t.kind in CATEGORICAL_KINDS
    if b.numeric is not None and t.numeric is not None and not (as_categories and b.categories and t.categories):
        measures, hist, magnitude = _numeric_measures(b.numeric, t.numeric, settings.bins)
        notes = ("interpolated",) if b.numeric.interpolated or t.numeric.interpolated else ()
        sketch = ("sketch",) if b.numeric.values is None or t.numeric.values is None else ()
        return replace(col, histogram=hist, magnitude=magnitude, notes=notes + sketch), measures
    if b.categories is not None and t.categories is not None:
        measures, cells, magnitude = _categorical_measures(b.categories, t.categories)
        notes = ("other",) if b.categories.other or t.categories.other else ()
        return replace(col, categories=_categories_block(cells), magnitude=magnitude, notes=notes,
                       new_categories=_appeared(t.categories, b.categories),
                       vanished_categories=_appeared(b.categories, t.categories)), measures
    return replace(col, status="not_comparable", reason="the two sides have no comparable summaries"), []


def _with(col: ColumnDrift, settings: DriftSettings, measures: list[_Measure], *, status: str | None = None,
          reason: str | None = None, eligible: bool | None = None) -> ColumnDrift:
    ok = col.eligible if eligible is None else eligible
    results = tuple(_result(m, settings.threshold(m.name, col.column), ok) for m in measures)
    return replace(col, metrics=results, status=status or col.status, reason=reason or col.reason, eligible=ok)


def _result(m: _Measure, th: Threshold, eligible: bool) -> MetricResult:
    decides = eligible and m.decision is not None and (th.warning is not None or th.critical is not None)
    return MetricResult(m.name, m.value, m.p_value, METRICS[m.name].direction, th.warning, th.critical,
                        "none", decides, m.decision, m.detail)


# ---------------------------------------------------------------------------
# decisions


def _rank(sev: str) -> int:
    return ("none", "warning", "critical").index(sev)


def _higher_severity(v: float, th: MetricResult) -> Severity:
    if th.critical is not None and v >= th.critical:
        return "critical"
    return "warning" if th.warning is not None and v >= th.warning else "none"


def _p_severity(p: float, th: MetricResult) -> Severity:
    if th.critical is not None and p <= th.critical:
        return "critical"
    return "warning" if th.warning is not None and p <= th.warning else "none"


def _decide_metric(m: MetricResult, bh: tuple[float, bool] | None) -> MetricResult:
    if not m.decides or m.decision_value is None:
        return m
    if m.direction == "higher":
        return replace(m, severity=_higher_severity(m.decision_value, m))
    adjusted, rejected = bh if bh is not None else (m.decision_value, True)
    detail = {**m.detail, "p_adjusted": adjusted, "bh_rejected": rejected}
    return replace(m, severity=_p_severity(m.decision_value, m) if rejected else "none", detail=detail)


def _bh_table(columns: Sequence[ColumnDrift], fdr: float) -> dict[tuple[int, str], tuple[float, bool]]:
    keys = [(i, m.name) for i, c in enumerate(columns) for m in c.metrics
            if m.direction == "p_value" and m.decides and m.decision_value is not None]
    values = [float(columns[i].metric(name).decision_value) for i, name in keys]  # type: ignore[union-attr, arg-type]
    adjusted = bh_adjust(values)
    return {key: (float(a), bool(a <= fdr)) for key, a in zip(keys, adjusted)}


def _decide_column(i: int, col: ColumnDrift, bh: Mapping[tuple[int, str], tuple[float, bool]]) -> ColumnDrift:
    metrics = tuple(_decide_metric(m, bh.get((i, m.name))) for m in col.metrics)
    flagged = [m for m in metrics if m.severity != "none"]
    severity: Severity = max((m.severity for m in flagged), key=_rank, default="none")
    status, reason = col.status, col.reason
    if severity != "none" and status in ("ok", "not_comparable"):
        status = "drift"
        reason = "; ".join(_why(m) for m in flagged) + (f" ({col.reason})" if col.reason else "")
    return replace(col, metrics=metrics, severity=severity if status == "drift" else "none",
                   status=status, reason=reason)


def _why(m: MetricResult) -> str:
    limit = m.critical if m.severity == "critical" else m.warning
    if m.direction == "p_value":
        return f"{m.name} p={m.decision_value:.3g} <= {m.severity} {limit:g} (Benjamini-Hochberg rejected)"
    shown = f"{m.value:.4g}" + (f", {m.decision_value:.4g} beyond noise" if m.decision_value != m.value else "")
    return f"{m.name} {shown} >= {m.severity} {limit:g}"


def _verdict(columns: Sequence[ColumnDrift]) -> Verdict:
    compared = [c for c in columns if c.status in ("ok", "drift", "not_comparable")]
    drifted = [c for c in columns if c.status == "drift"]
    mags = [c.magnitude for c in columns if c.status in ("ok", "drift") and c.magnitude is not None]
    return Verdict(
        drifted=bool(drifted),
        severity=max((c.severity for c in drifted), key=_rank, default="none"),
        drifted_columns=len(drifted),
        columns_compared=len(compared),
        share_drifted=len(drifted) / len(compared) if compared else 0.0,
        magnitude=float(np.mean(mags)) if mags else 0.0,
        insufficient_data=sum(c.status == "insufficient_data" for c in columns),
    )


# ---------------------------------------------------------------------------
# the comparison


def _schema(base: Mapping[str, ColumnInput], target: Mapping[str, ColumnInput]) -> dict[str, Any]:
    retyped = [{"column": n, "baseline": base[n].kind, "target": target[n].kind}
               for n in base if n in target and _retyped(base[n], target[n])]
    return {"added": [n for n in target if n not in base], "removed": [n for n in base if n not in target],
            "retyped": retyped}


def _notes(mode: str, columns: Sequence[ColumnDrift], settings: DriftSettings, bh: Mapping[Any, Any]) -> list[str]:
    notes = [
        f"Decisions use effect sizes: KS statistic, L-infinity distance and missing-rate change are compared "
        f"with their thresholds after subtracting {NOISE_C:.4f} * sqrt(1/n + 1/m) (Deequ's robust L-infinity, "
        f"alpha = {NOISE_ALPHA:g}); PSI after subtracting (1/n + 1/m) * chi2.ppf({1 - NOISE_ALPHA:g}, cells - 1), "
        f"its {100 * (1 - NOISE_ALPHA):g}th percentile under no drift.",
        f"Columns with fewer than {settings.min_values:,} values on either side are 'insufficient data', never drift.",
        f"PSI: natural logarithm, shares (empty bins included) floored at max({EPSILON:g}, 1/(2 n)); "
        f"JS distance in base 2.",
    ]
    if bh:
        names = sorted({name for _, name in bh})
        rejected = sum(r for _, r in bh.values())
        notes.append(f"Benjamini-Hochberg correction at false-discovery rate {settings.fdr:g} over {len(bh)} "
                     f"p-values ({', '.join(names)}): {rejected} rejected.")
    else:
        notes.append("p-values (ks_test, chi_square) are reported but decide nothing: no thresholds are set for them.")
    notes += _mode_notes(mode, columns)
    return notes


def _mode_notes(mode: str, columns: Sequence[ColumnDrift]) -> list[str]:
    if mode == "exact":
        return ["Exact mode: every metric computed from the data copies with scipy and numpy."]
    notes = []
    sketched = [c.column for c in columns if "sketch" in c.notes]
    if sketched:
        notes.append(f"Profile mode: numeric metrics of {len(sketched)} column(s) come from KLL quantile sketches "
                     f"(KS and bins within the sketches' rank error); the others from exact values.")
    capped = [c.column for c in columns if "other" in c.notes]
    if capped:
        notes.append(f"Categories beyond a profile's cap are compared as one 'other' cell (exact mode counts every "
                     f"category): {', '.join(capped)}.")
    interp = [c.column for c in columns if "interpolated" in c.notes]
    if interp:
        notes.append(f"Re-bucketed onto the union of bin edges assuming uniform mass within each bin (as TFDV): "
                     f"{', '.join(interp)}.")
    return notes


def _compare(mode: Literal["profile", "exact"], rows: tuple[int, int], base: Mapping[str, ColumnInput],
             target: Mapping[str, ColumnInput], settings: DriftSettings) -> DatasetDrift:
    names = list(dict.fromkeys([*base, *target]))
    drafts = [_measure_column(base.get(n), target.get(n), settings) for n in names]
    bh = _bh_table(drafts, settings.fdr)
    columns = tuple(_decide_column(i, c, bh) for i, c in enumerate(drafts))
    settings_out = {"min_values": settings.min_values, "fdr": settings.fdr, "bins": settings.bins,
                    "bh_applied": bool(bh), "noise_c": NOISE_C, "noise_alpha": NOISE_ALPHA, "epsilon": EPSILON,
                    "notes": _notes(mode, columns, settings, bh)}
    row_count = {"baseline": rows[0], "target": rows[1], "change": (rows[1] - rows[0]) / rows[0] if rows[0] else None}
    return DatasetDrift(mode, _verdict(columns), _schema(base, target), row_count, settings_out, columns)


def compare_profiles(baseline: DatasetProfile, target: DatasetProfile,
                     settings: DriftSettings | None = None) -> DatasetDrift:
    """Compare a target snapshot's profile with its baseline's.

    :param baseline: the baseline (reference) profile; ``target`` the current one.
    :param settings: thresholds and decision settings (default :class:`DriftSettings()`).
    :returns: a :class:`DatasetDrift` with ``mode == "profile"``.
    """
    base = {name: input_from_profile(col) for name, col in baseline.columns.items()}
    targ = {name: input_from_profile(col) for name, col in target.columns.items()}
    return _compare("profile", (baseline.row_count, target.row_count), base, targ, settings or DriftSettings())


def _batches(table: pa.Table) -> list[pa.RecordBatch]:
    batches: list[pa.RecordBatch] = table.to_batches()
    if batches:
        return batches
    empty = [pa.array([], type=f.type) for f in table.schema]
    return [pa.RecordBatch.from_arrays(empty, schema=table.schema)]


def _data_inputs(table: pa.Table, types: Mapping[str, str] | None) -> tuple[int, dict[str, ColumnInput]]:
    from monitor.profile import compute_profile

    profile = compute_profile(_batches(table), types=types)
    inputs = {name: input_from_data(_column_array(table, name), col) for name, col in profile.columns.items()}
    return table.num_rows, inputs


def compare_data(baseline: pa.Table, target: pa.Table, settings: DriftSettings | None = None,
                 types: Mapping[str, str] | None = None) -> DatasetDrift:
    """Exact mode: the same comparison computed from two data copies with scipy and numpy.

    Column kinds are inferred as the profile infers them (``types`` overrides, as
    in a dataset's ``types:``); values are coerced the same way. Categories are
    counted without a cap, so there is no "other" bucket.

    :param baseline: the baseline data copy; ``target`` the current one.
    :returns: a :class:`DatasetDrift` with ``mode == "exact"``.
    """
    rows_b, base = _data_inputs(baseline, types)
    rows_t, targ = _data_inputs(target, types)
    return _compare("exact", (rows_b, rows_t), base, targ, settings or DriftSettings())

