"""Building the comparison page context: :func:`comparison_context` turns a
drift engine result into a :class:`~monitor.report.pages.ComparisonPage`,
columns sorted worst first, with the findings (one sentence per drifted column,
from :mod:`monitor.report.wording`) and each column's charts (from its
``display``, :mod:`monitor.report.distribution`; the older charts for results
without it). :func:`warning_ratio` is the "multiple of the warning threshold"
both the comparison and the history pages sort and draw by. The index's
context is built in :mod:`monitor.report.index`.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

from monitor.errors import MonitorError
from monitor.report.charts import _chart
from monitor.report.distribution import category_chart, cdf_chart, histogram_chart
from monitor.report.format import _number, _utc, fmt
from monitor.report.multivariate import multivariate_section
from monitor.report.scatter import scatter_chart
from monitor.report.wording import SEVERITY_RANK as SEVERITY_RANK  # the history page reads it from here
from monitor.report.wording import decision, finding, metric_label, side_value
from monitor.report.pages import (
    META_NAME,
    CategoryShare,
    ColumnSection,
    ComparisonPage,
    Finding,
    MetricRow,
    MissingRate,
    Retype,
    RowCount,
    SchemaChanges,
    SegmentRow,
    Settings,
    StatRow,
    Verdict,
)

log = logging.getLogger(__name__)

STATUS_RANK = {
    "drift": 0,
    "insufficient_data": 1,
    "not_comparable": 2,
    "added": 3,
    "removed": 3,
    "ok": 4,
}
STAT_LABELS = (
    ("count", "count"),
    ("missing", "missing"),
    ("mean", "mean"),
    ("std", "std"),
    ("min", "min"),
    ("p01", "1%"),
    ("p50", "median"),
    ("p99", "99%"),
    ("max", "max"),
)


# --------------------------------------------------------------------------- #
# building the comparison context


def comparison_context(
    result: Mapping[str, Any],
    *,
    dataset: str,
    monitor: str | None,
    baseline_name: str,
    baseline_created: datetime,
    target_name: str,
    target_created: datetime,
    generated_at: datetime | None = None,
    baseline_snapshots: Sequence[str] | None = None,
    baseline_description: str | None = None,
) -> ComparisonPage:
    """Build the context of a comparison report from a drift engine result.

    :param result: the JSON-safe comparison result of the drift engine (keys
        ``mode``, ``verdict``, ``schema``, ``row_count``, ``settings``, ``columns``;
        optionally ``conditions``, ``[{kind, detail}]``, shown above the columns).
    :param dataset: dataset name. :param monitor: monitor name, or ``None`` for an
        ad-hoc comparison.
    :param baseline_name: name of the baseline snapshot; ``baseline_created`` its
        creation time. ``target_name`` / ``target_created`` likewise.
    :param generated_at: when the report is made; now if ``None``. Datetimes
        should be timezone-aware; naive ones are taken to be UTC.
    :param baseline_snapshots: every snapshot the baseline is made of, oldest
        first (several when it merges them); default ``(baseline_name,)``.
    :param baseline_description: how the baseline was chosen, in words (e.g.
        ``"this monitor's previous snapshot"``), or ``None``.
    :returns: a frozen :class:`ComparisonPage`, columns sorted worst first.
    :raises MonitorError: when ``result`` lacks a required key or has a wrong shape.
    """
    try:
        columns = _sorted_columns(result["columns"])
        multivariate = multivariate_section(result)
        verdict = _verdict(result["verdict"])
        if multivariate is not None and multivariate.drifted:
            verdict = replace(verdict, joint=True)
        return ComparisonPage(
            dataset=dataset,
            monitor=monitor,
            baseline_name=baseline_name,
            baseline_created=_utc(baseline_created),
            target_name=target_name,
            target_created=_utc(target_created),
            generated_at=_utc(generated_at or datetime.now(timezone.utc)),
            mode=str(result["mode"]),
            verdict=verdict,
            schema=_schema(result.get("schema") or {}),
            row_count=_row_count(result["row_count"]),
            settings=_settings(result.get("settings") or {}),
            columns=columns,
            findings=_findings(columns),
            baseline_snapshots=tuple(str(s) for s in baseline_snapshots or (baseline_name,)),
            baseline_description=baseline_description,
            conditions=tuple((str(c["kind"]), str(c["detail"])) for c in result.get("conditions") or ()),
            segments=_segments(result),
            segment_column=(result.get("segment_settings") or {}).get("column"),
            multivariate=multivariate,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MonitorError(f"malformed comparison result: {exc!r}") from exc


def _segments(result: Mapping[str, Any]) -> tuple[SegmentRow, ...]:
    """The segment table of a result with ``segments``: the whole dataset first
    (its own columns' verdict), then the segments in stored order."""
    raw = result.get("segments")
    if not raw:
        return ()
    columns = [c for c in result["columns"] if c.get("status") == "drift"]
    whole = SegmentRow(
        "Whole dataset", "drift" if columns else "compared",
        max((str(c["severity"]) for c in columns), key=lambda s: SEVERITY_RANK.get(s, 0), default="none"),
        tuple(str(c["column"]) for c in columns),
        max((_number(c.get("magnitude")) or 0.0 for c in columns), default=0.0),
        int(result["row_count"]["baseline"]), int(result["row_count"]["target"]),
    )
    return (whole, *(
        SegmentRow(str(name), str(e["status"]), str(e["severity"]), tuple(str(c) for c in e["drifted_columns"]),
                   _number(e.get("magnitude")), int(e["rows"]["baseline"]), int(e["rows"]["target"]))
        for name, e in raw.items()))


def _verdict(raw: Mapping[str, Any]) -> Verdict:
    """Read the ``verdict`` part of a result."""
    return Verdict(
        drifted=bool(raw["drifted"]),
        severity=str(raw["severity"]),
        drifted_columns=int(raw["drifted_columns"]),
        columns_compared=int(raw["columns_compared"]),
        share_drifted=float(raw["share_drifted"]),
        magnitude=_number(raw.get("magnitude")),
        insufficient_data=int(raw.get("insufficient_data") or 0),
        status=str(raw.get("status") or ("drift" if raw["drifted"] else "no_drift")),
    )


def _schema(raw: Mapping[str, Any]) -> SchemaChanges:
    """Read the ``schema`` part of a result."""
    retyped = tuple(
        Retype(str(r["column"]), str(r["baseline"]), str(r["target"]))
        for r in raw.get("retyped") or ()
    )
    return SchemaChanges(
        added=tuple(str(c) for c in raw.get("added") or ()),
        removed=tuple(str(c) for c in raw.get("removed") or ()),
        retyped=retyped,
    )


def _row_count(raw: Mapping[str, Any]) -> RowCount:
    """Read the ``row_count`` part of a result."""
    return RowCount(int(raw["baseline"]), int(raw["target"]), _number(raw.get("change")))


def _settings(raw: Mapping[str, Any]) -> Settings:
    """Read the ``settings`` part of a result."""
    return Settings(
        min_values=raw.get("min_values"),
        fdr=_number(raw.get("fdr")),
        bins=raw.get("bins"),
        bh_applied=bool(raw.get("bh_applied")),
        notes=tuple(str(n) for n in raw.get("notes") or ()),
    )


def _sorted_columns(raw: Sequence[Mapping[str, Any]]) -> tuple[ColumnSection, ...]:
    """Build every column section, worst first: severity, status, exceedance, name."""
    sections = [_column(col, f"col-{i}") for i, col in enumerate(raw)]
    sections.sort(key=_column_order)
    return tuple(sections)


def _column_order(section: ColumnSection) -> tuple[int, int, float, str]:
    """Sort key putting the most alarming column first."""
    return (
        -SEVERITY_RANK.get(section.severity, 0),
        STATUS_RANK.get(section.status, 5),
        -section.exceedance,
        section.name,
    )


def _findings(columns: Sequence[ColumnSection]) -> tuple[Finding, ...]:
    """The drifted columns' sentences: most severe first, then largest effect size
    (the column's magnitude, else how far past its threshold), then name."""
    drifted = [c for c in columns if c.finding is not None]
    drifted.sort(key=lambda c: (-SEVERITY_RANK.get(c.severity, 0),
                                -(c.magnitude if c.magnitude is not None else 0.0), -c.exceedance, c.name))
    return tuple(Finding(c.name, c.anchor, c.severity, c.finding or "") for c in drifted)


def _column(raw: Mapping[str, Any], anchor: str) -> ColumnSection:
    """Build the section of one column."""
    metrics = tuple(_metric(m) for m in raw.get("metrics") or ())
    name = str(raw["column"])
    shown: Mapping[str, Any] = raw["display"] if isinstance(raw.get("display"), Mapping) else {}
    hist = histogram_chart(shown["histogram"], name) if isinstance(shown.get("histogram"), Mapping) else None
    cdf = cdf_chart(shown["cdf"], hist) if hist is not None and isinstance(shown.get("cdf"), Mapping) else None
    cats = category_chart(shown["categories"], name) if isinstance(shown.get("categories"), Mapping) else None
    vector: Mapping[str, Any] = shown["vector"] if isinstance(shown.get("vector"), Mapping) else {}
    scatter = scatter_chart(vector["pca"], name) if isinstance(vector.get("pca"), Mapping) else None
    return ColumnSection(
        name=name,
        anchor=anchor,
        kind=str(raw.get("kind") or "unknown"),
        status=str(raw["status"]),
        severity=str(raw.get("severity") or "none"),
        reason=_reason(raw),
        metrics=metrics,
        stats=_stats(raw.get("baseline"), raw.get("target"), str(raw.get("kind") or "")),
        missing=_missing(raw.get("missing_rate")),
        new_categories=_shares(raw.get("new_categories")),
        vanished_categories=_shares(raw.get("vanished_categories")),
        chart=None if hist is not None or cats is not None or scatter is not None else _chart(raw),
        exceedance=max((_exceedance(m) for m in metrics if m.decides), default=0.0),
        finding=finding(raw),
        magnitude=_number(raw.get("magnitude")),
        histogram=hist,
        cdf=cdf,
        categories=cats,
        scatter=scatter,
    )


def _reason(raw: Mapping[str, Any]) -> str | None:
    """The engine's reason, or a default sentence for added and removed columns."""
    if raw.get("reason"):
        return str(raw["reason"])
    defaults = {
        "added": "The column exists only in the target snapshot.",
        "removed": "The column exists only in the baseline snapshot.",
    }
    return defaults.get(str(raw.get("status")))


def _metric(raw: Mapping[str, Any]) -> MetricRow:
    """Read one metric of a column."""
    detail = raw.get("detail") or {}
    words, tone = decision(raw)
    return MetricRow(
        name=str(raw["name"]),
        value=_number(raw.get("value")),
        p_value=_number(raw.get("p_value")),
        direction=str(raw.get("direction") or "higher"),
        warning=_number(raw.get("warning")),
        critical=_number(raw.get("critical")),
        severity=str(raw.get("severity") or "none"),
        decides=bool(raw.get("decides")),
        detail=tuple((str(k).replace("_", " "), _detail_text(v)) for k, v in detail.items()
                     if k not in _IN_WORDS),
        label=metric_label(str(raw["name"])),
        decision=words,
        tone=tone,
        thresholded=any(raw.get(k) is not None for k in ("warning", "critical", "relative_warning",
                                                          "relative_critical")),
    )


_IN_WORDS = {"significant", "tested", "decision_value", "bh_rejected", "reason", "decision_relative_infinite"}
"""Detail keys the decision already says in words, left out of the details table."""


def _detail_text(value: object) -> str:
    """Format one metric detail value: numbers via :func:`fmt`, the rest as compact JSON."""
    if value is None or isinstance(value, (numbers.Real, str)):
        return fmt(value)
    text = json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= 80 else text[:79] + "…"


def _exceedance(metric: MetricRow) -> float:
    """How far a metric is past its warning threshold: 1.0 at the threshold
    (:func:`warning_ratio`); 0 when undefined, ``abs(value)`` without a
    positive warning threshold."""
    if metric.direction != "p_value" and metric.value is not None and (
            metric.warning is None or metric.warning <= 0):
        return abs(metric.value)
    ratio = warning_ratio(metric.direction, metric.value, metric.p_value, metric.warning)
    return 0.0 if ratio is None else ratio


def warning_ratio(direction: str, value: float | None, p_value: float | None, limit: float | None) -> float | None:
    """A metric's value as a multiple of a threshold ``limit``: 1.0 at the threshold,
    above 1 beyond it.

    ``value / limit`` for higher-is-drift metrics; ``ln p / ln limit`` for p-value
    metrics (a p-value below the threshold gives more than 1; ``inf`` when p is 0).

    :returns: the ratio, or ``None`` when the value is missing or the threshold is
        unusable (not positive; for p-values, not in (0, 1)).
    """
    if direction == "p_value":
        if p_value is None or limit is None or not 0 < limit < 1:
            return None
        return math.inf if p_value <= 0 else math.log(min(p_value, 1.0)) / math.log(limit)
    if value is None or limit is None or limit <= 0:
        return None
    return value / limit


_DATETIME_STATS = {"mean", "min", "max", "p01", "p50", "p99"}


def _stats(baseline: object, target: object, kind: str = "") -> tuple[StatRow, ...]:
    """Side-by-side statistics (dates for a datetime column's locations, its
    standard deviation in days; a statistic neither side has, such as a
    categorical column's mean, is left out); empty when neither snapshot has any."""
    base = baseline if isinstance(baseline, Mapping) else {}
    targ = target if isinstance(target, Mapping) else {}
    if not base and not targ:
        return ()
    if kind == "datetime":
        base, targ = _dated(base), _dated(targ)
    known = [StatRow(label, base.get(key), targ.get(key)) for key, label in STAT_LABELS
             if key in ("count", "missing") or base.get(key) is not None or targ.get(key) is not None]
    names = {key for key, _ in STAT_LABELS}
    extra = [StatRow(k, base.get(k), targ.get(k)) for k in _ordered_keys(base, targ) if k not in names]
    return tuple(known + extra)


def _dated(side: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: (side_value(v, "datetime") if k in _DATETIME_STATS and v is not None else v) for k, v in side.items()}
    std = _number(side.get("std"))
    if std is not None:
        out["std"] = f"{fmt(std / 86400, 3)} days"
    return out


def _ordered_keys(*mappings: Mapping[str, Any]) -> list[str]:
    """Keys of all ``mappings``, first-seen order, without repeats."""
    return list(dict.fromkeys(k for m in mappings for k in m))


def _missing(raw: object) -> MissingRate | None:
    """Read the ``missing_rate`` part of a column."""
    if not isinstance(raw, Mapping):
        return None
    return MissingRate(
        baseline=_number(raw.get("baseline")),
        target=_number(raw.get("target")),
        change=_number(raw.get("change")),
        relative_change=_number(raw.get("relative_change")),
    )


def _shares(raw: object) -> tuple[CategoryShare, ...]:
    """Read a list of ``{"name", "share"}`` categories."""
    if not isinstance(raw, Sequence):
        return ()
    return tuple(CategoryShare(str(c["name"]), _number(c.get("share"))) for c in raw)


# --------------------------------------------------------------------------- #
# the index


class _MetaReader(HTMLParser):
    """Collects the ``content`` of the report summary ``<meta>`` tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.content: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Remember the content of ``<meta name="drift-monitor-report">``."""
        values = dict(attrs)
        if tag == "meta" and values.get("name") == META_NAME and self.content is None:
            self.content = values.get("content")
