"""What a comparison returns: :class:`MetricResult` per metric, :class:`ColumnDrift`
per column, :class:`Verdict` and :class:`DatasetDrift` for the dataset; each
with a strict-JSON ``to_dict()``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from monitor.drift.settings import Severity

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
    :ivar relative_warning: the relative thresholds (metrics with a relative
        form), compared with ``detail["decision_relative"]``; ``relative_critical`` likewise.
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
    relative_warning: float | None = None
    relative_critical: float | None = None

    @property
    def p_value_underflow(self) -> bool:
        """True when the p-value is 0: it underflowed (the true value is below the
        double range, about 1e-308), so it is "smaller than any double", not zero."""
        return self.p_value is not None and self.p_value == 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (keys name, value, p_value, p_value_underflow, direction,
        warning, critical, relative_warning, relative_critical, severity, decides, detail)."""
        detail = {**self.detail, "decision_value": self.decision_value}
        return {"name": self.name, "value": self.value, "p_value": self.p_value,
                "p_value_underflow": self.p_value_underflow, "direction": self.direction,
                "warning": self.warning, "critical": self.critical, "relative_warning": self.relative_warning,
                "relative_critical": self.relative_critical, "severity": self.severity,
                "decides": self.decides, "detail": detail}


@dataclass(frozen=True)
class ColumnDrift:
    """The comparison of one column.

    :ivar status: ``drift``, ``ok``, ``insufficient_data``, ``added``, ``removed``
        or ``not_comparable``.
    :ivar magnitude: how far the column moved, in [0, 1] and independent of the
        sample sizes: the largest of its distribution's distance (KS statistic for
        numbers, total variation distance for categories), its missing-rate change,
        1 for a type change, a removed column or values on one side only;
        ``None`` for an added column.
    :ivar display: what the report draws, computed with the comparison
        (:mod:`monitor.drift.display`): ``histogram`` (both sides on one value axis)
        and ``cdf`` for numeric columns, ``categories`` (largest changes in share)
        for categorical ones; ``None`` when neither applies.
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
    display: Mapping[str, Any] | None = None

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
            "magnitude": self.magnitude, "display": self.display,
        }


@dataclass(frozen=True)
class Verdict:
    """The dataset verdict.

    :ivar status: ``drift``, ``no_drift`` or ``insufficient_data`` (nothing
        drifted and no column had enough data to be judged).
    :ivar magnitude: the largest magnitude among the drifted columns, in [0, 1]
        (0 when none drifted; 1 when a drifted column's values are fully separated,
        emptied, retyped or removed); independent of the sample sizes and of the
        columns that did not drift.
    """

    drifted: bool
    severity: Severity
    drifted_columns: int
    columns_compared: int
    share_drifted: float
    magnitude: float
    insufficient_data: int
    status: Literal["drift", "no_drift", "insufficient_data"] = "no_drift"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"status": self.status, "drifted": self.drifted, "severity": self.severity,
                "drifted_columns": self.drifted_columns, "columns_compared": self.columns_compared,
                "share_drifted": self.share_drifted, "magnitude": self.magnitude,
                "insufficient_data": self.insufficient_data}


@dataclass(frozen=True)
class DatasetDrift:
    """The comparison of a target snapshot with its baseline.

    :ivar metrics: dataset-level metrics (``row_count_change``).
    """

    mode: Literal["profile", "exact"]
    verdict: Verdict
    schema: Mapping[str, Any]
    row_count: Mapping[str, Any]
    settings: Mapping[str, Any]
    columns: tuple[ColumnDrift, ...]
    metrics: tuple[MetricResult, ...] = ()

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
        ``row_count`` (baseline, target, relative change), ``metrics`` (dataset-level
        metrics), ``settings`` (min_values, fdr, bins, false_alarm_rate,
        deciding_pairs, pair_alpha, bh_applied, notes) and ``columns`` (one dict per column).
        """
        data: dict[str, Any] = _json_safe({
            "mode": self.mode, "verdict": self.verdict.to_dict(), "schema": self.schema,
            "row_count": self.row_count, "metrics": [m.to_dict() for m in self.metrics],
            "settings": self.settings, "columns": [c.to_dict() for c in self.columns],
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
