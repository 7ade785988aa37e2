"""Decision settings: :class:`Threshold`, :class:`DriftSettings` and the
validation of thresholds given in a configuration (:func:`threshold_problems`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from monitor.drift.registry import METRICS, Metric
from monitor.errors import ConfigError

Severity = Literal["none", "warning", "critical"]
"""A decision's severity, lowest first."""


# ---------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class Threshold:
    """A metric's thresholds; ``None`` disables that severity.

    For a "higher" metric a value at or above ``warning`` is a warning; for a
    p-value metric a p-value at or below it (after Benjamini-Hochberg).
    ``relative_warning`` and ``relative_critical`` (metrics with a relative form
    only: missing rate, category shares, row count) compare the change divided
    by the baseline's value: 0.5 means "moved by half of what it was".
    """

    warning: float | None = None
    critical: float | None = None
    relative_warning: float | None = None
    relative_critical: float | None = None

    @property
    def enabled(self) -> bool:
        """True when at least one threshold is set."""
        return any(v is not None for v in (self.warning, self.critical, self.relative_warning, self.relative_critical))


THRESHOLD_KEYS = ("warning", "critical", "relative_warning", "relative_critical")
"""Keys a metric's threshold mapping may have (the relative ones only where the metric has a relative form)."""


def _default(metric: str) -> Threshold:
    m = METRICS[metric]
    return Threshold(m.warning, m.critical)


def _merged(base: Threshold, spec: Mapping[str, Any] | Threshold) -> Threshold:
    if isinstance(spec, Threshold):
        return spec
    values = [_num(spec[k]) if k in spec else getattr(base, k) for k in THRESHOLD_KEYS]
    return Threshold(*values)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class DriftSettings:
    """How a comparison decides.

    :ivar thresholds: metric name -> :class:`Threshold`, overriding the registry's defaults.
    :ivar column_thresholds: column -> metric name -> :class:`Threshold`, overriding both.
    :ivar min_values: fewer non-missing values (rows, for the missing rate) on
        either side: "insufficient data".
    :ivar fdr: Benjamini-Hochberg false-discovery rate for deciding p-values.
    :ivar bins: number of baseline-quantile bins for PSI, JS and Hellinger.
    :ivar false_alarm_rate: the probability, under no drift, that a comparison
        raises any alarm from its effect-size metrics: each guarded (column,
        metric) pair is tested at ``false_alarm_rate / pairs`` (Bonferroni).
    :ivar multivariate: also compare the two profiles' row samples with a domain
        classifier across columns (``multivariate_auc``, :mod:`monitor.drift.multivariate`).
    """

    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    column_thresholds: Mapping[str, Mapping[str, Threshold]] = field(default_factory=dict)
    min_values: int = 100
    fdr: float = 0.05
    bins: int = 10
    false_alarm_rate: float = 0.01
    multivariate: bool = False

    def threshold(self, metric: str, column: str) -> Threshold:
        """The thresholds of ``metric`` for ``column``: column, then monitor, then default."""
        per_column = self.column_thresholds.get(column, {})
        if metric in per_column:
            return per_column[metric]
        return self.thresholds.get(metric) or _default(metric)

    @classmethod
    def from_config(cls, thresholds: Mapping[str, Any] | None, min_values: int = 100, fdr: float = 0.05,
                    bins: int = 10, false_alarm_rate: float = 0.01, multivariate: bool = False) -> DriftSettings:
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
        return cls(monitor, columns, int(min_values), float(fdr), int(bins), float(false_alarm_rate),
                   bool(multivariate))


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
    metric = METRICS[name]
    allowed = THRESHOLD_KEYS if metric.relative else ("warning", "critical")
    expected = "'warning', 'critical', 'relative_warning' or 'relative_critical'" if metric.relative \
        else "'warning' or 'critical'"
    problems = [f"{path}.{k}: unknown key (expected {expected})" for k in spec if k not in allowed]
    for key in allowed:
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
            problems.append(f"{path}.{key}: expected a number or null, got {value!r}")
    if problems:
        return problems
    return _range_problems(path, METRICS[name], spec, parent)


def _range_problems(path: str, metric: Metric, spec: Mapping[str, Any], parent: Mapping[str, Any] | None) -> list[str]:
    problems: list[str] = []
    for key in THRESHOLD_KEYS:
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
    relative = _order_problem(path, metric, Threshold(eff.relative_warning, eff.relative_critical),
                              "relative_critical" in spec, "relative_")
    return _order_problem(path, metric, eff, "critical" in spec) + relative


def _order_problem(path: str, metric: Metric, eff: Threshold, critical_given: bool, prefix: str = "") -> list[str]:
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
        return [f"{path}.{prefix}critical: {c:g} is {side} the {prefix}warning threshold {w:g}; {rule}"]
    other = "above" if side == "below" else "below"
    return [f"{path}.{prefix}warning: {w:g} is {other} the {prefix}critical threshold {c:g} (inherited); {rule} "
            f"(set {prefix}critical too)"]
