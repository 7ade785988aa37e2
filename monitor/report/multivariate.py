"""The "Multivariate" section of a comparison report: the dataset-level
``multivariate_auc`` of a result (a domain classifier across the columns, see
``docs/metrics.md``), its decision in words and the columns that explain it
most, as bars. It reads the numbers of the result; it computes none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.report.format import fmt

__all__ = ["ImportanceBar", "MultivariateSection", "multivariate_section"]

BAR_WIDTH = 200
"""Width in pixels of the longest importance bar."""


@dataclass(frozen=True)
class ImportanceBar:
    """One column's share of the classifier's permutation importance.

    :ivar importance: the mean drop of AUC when the column is shuffled; ``share``
        that drop over the sum of all columns' drops (0..1); ``width`` the bar's pixels.
    """

    column: str
    importance: float
    share: float
    width: float


@dataclass(frozen=True)
class MultivariateSection:
    """What the section shows.

    :ivar auc: the held-out ROC AUC, ``None`` when not measured (``reason`` says why).
    :ivar decision: the decision in words.
    """

    auc: float | None
    p_value: float | None
    severity: str
    warning: float | None
    critical: float | None
    decision: str
    bars: tuple[ImportanceBar, ...]
    baseline_rows: int | None
    target_rows: int | None
    columns: int | None
    reason: str | None

    @property
    def drifted(self) -> bool:
        """The metric flagged."""
        return self.severity != "none"


def multivariate_section(result: Mapping[str, Any]) -> MultivariateSection | None:
    """The section of a comparison result that measured ``multivariate_auc`` (None otherwise)."""
    raw = next((m for m in result.get("metrics") or () if m.get("name") == "multivariate_auc"), None)
    if raw is None:
        return None
    detail = raw.get("detail") or {}
    auc, severity = raw.get("value"), str(raw.get("severity", "none"))
    if auc is None:
        reason = str(detail.get("reason", "not measured"))
        return MultivariateSection(None, None, "none", raw.get("warning"), raw.get("critical"),
                                   f"Not measured: {reason}.", (), None, None, None, reason)
    top = list(detail.get("top_columns") or ())
    most = max((float(c["share"]) for c in top), default=0.0)
    bars = tuple(ImportanceBar(str(c["column"]), float(c["importance"]), float(c["share"]),
                               BAR_WIDTH * float(c["share"]) / most if most > 0 else 0.0) for c in top)
    return MultivariateSection(float(auc), raw.get("p_value"), severity, raw.get("warning"), raw.get("critical"),
                               _decision(raw, float(auc), severity, bars), bars, detail.get("baseline_rows"),
                               detail.get("target_rows"), detail.get("columns"), None)


def _decision(raw: Mapping[str, Any], auc: float, severity: str, bars: tuple[ImportanceBar, ...]) -> str:
    detail = raw.get("detail") or {}
    names = ", ".join(b.column for b in bars[:2])
    if severity != "none":
        limit = raw.get("critical") if severity == "critical" else raw.get("warning")
        return (f"The rows changed jointly: a classifier tells target rows from baseline rows with AUC {fmt(auc)} "
                f"(at least the {severity} threshold {fmt(limit)}, and beyond sampling noise), most through "
                f"{names or 'no single column'}.")
    if detail.get("significant") is False and detail.get("tested"):
        return (f"No joint change beyond sampling noise: AUC {fmt(auc)} is within what chance gives at the "
                f"comparison's test level.")
    return (f"No joint change: AUC {fmt(auc)} is below the warning threshold {fmt(raw.get('warning'))} "
            f"(0.5 means the rows cannot be told apart).")
