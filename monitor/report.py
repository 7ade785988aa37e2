"""Self-contained HTML drift reports, rendered with Jinja2.

A report is one HTML file that opens with no network access: inline ``<style>``,
charts drawn as inline SVG, no scripts, no external fonts or images (a
Content-Security-Policy ``<meta>`` forbids loading anything). Each page renders
one frozen context dataclass:

* :class:`ComparisonPage`, built from a drift engine result by
  :func:`comparison_context`, rendered by :func:`render_comparison` and written
  by :func:`write_comparison_report` to
  ``<reports_dir>/<dataset>/<target>__vs__<baseline>.html``;
* :class:`IndexPage`, built by :func:`index_context` from the reports found under
  ``reports_dir`` and written by :func:`write_index` to
  ``<reports_dir>/index.html``, newest first.

Every comparison report carries its own summary in
``<meta name="drift-monitor-report" content="{json}">`` so the index is rebuilt
by scanning the folder; there is no other state. Files are written to a
temporary name and renamed, so a reader never sees half a report.

This module formats and lays out numbers; it never computes statistics.
Templates are looked up by :func:`template_dir`; the environment has
``autoescape=True`` and ``StrictUndefined``, so a context missing a field
fails loudly instead of rendering an empty cell.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from hashlib import sha1
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from monitor.errors import MonitorError

__all__ = [
    "Bar",
    "CategoryShare",
    "Chart",
    "ColumnSection",
    "ComparisonPage",
    "IndexEntry",
    "IndexPage",
    "MetricRow",
    "MissingRate",
    "RowCount",
    "SchemaChanges",
    "Settings",
    "StatRow",
    "Tick",
    "Verdict",
    "comparison_context",
    "environment",
    "fmt",
    "index_context",
    "read_report_metadata",
    "render_comparison",
    "render_index",
    "report_path",
    "safe_name",
    "template_dir",
    "write_comparison_report",
    "write_index",
]

log = logging.getLogger(__name__)

META_NAME = "drift-monitor-report"
"""``name`` of the ``<meta>`` tag that holds a report's summary as JSON."""
META_VERSION = 1
INDEX_NAME = "index.html"
MAX_CATEGORIES = 20
"""Most category labels drawn in one chart; the largest shares are kept."""

SEVERITY_RANK = {"critical": 2, "warning": 1, "none": 0}
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
# number formatting (the template filters)


def fmt(value: object, digits: int = 4) -> str:
    """Format a value for a reader.

    :param value: a number, ``None``, or anything printable.
    :param digits: significant digits kept for floats.
    :returns: ``"—"`` for ``None``; integers with thousands separators
        (``1,234,567``); floats with ``digits`` significant digits, trailing zeros
        dropped (``0.01235``, ``12,346``), scientific notation below 1e-4 or from
        1e15 (``1.2e-40``); ``"NaN"``, ``"∞"``; anything else as ``str``.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return _fmt_float(float(value), digits)
    return str(value)


def _fmt_float(value: float, digits: int) -> str:
    """Format a float with ``digits`` significant digits (see :func:`fmt`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if exponent < -4 or exponent >= 15:
        mantissa, power = f"{value:.{max(digits - 1, 0)}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(power)}"
    decimals = max(digits - 1 - exponent, 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def pct(value: object, digits: int = 3) -> str:
    """Format a fraction as a percentage: ``0.1234`` → ``"12.3%"``; ``None`` → ``"—"``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return fmt(value)
    return fmt(float(value) * 100, digits) + "%"


def signed_pct(value: object, digits: int = 3) -> str:
    """Format a relative change with its sign: ``0.05`` → ``"+5%"``, ``-0.5`` → ``"-50%"``."""
    text = pct(value, digits)
    return _signed(value, text)


def pp(value: object, digits: int = 3) -> str:
    """Format a difference of two fractions in percentage points: ``0.021`` → ``"+2.1 pp"``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return fmt(value)
    return _signed(value, fmt(float(value) * 100, digits) + " pp")


def _signed(value: object, text: str) -> str:
    """Prefix ``text`` with ``+`` when ``value`` is a positive number."""
    number = _number(value)
    return "+" + text if number is not None and number > 0 else text


def when(value: object) -> str:
    """Format a datetime in UTC to the minute: ``"2024-05-01 06:00 UTC"``; ``None`` → ``"—"``."""
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y-%m-%d %H:%M UTC")
    return fmt(value)


def humanize(value: object) -> str:
    """Turn an identifier into words: ``"insufficient_data"`` → ``"insufficient data"``."""
    return str(value).replace("_", " ")


def duration(delta: timedelta) -> str:
    """Describe a time span coarsely: ``"3 days"``, ``"5 hours"``, ``"12 minutes"``."""
    seconds = abs(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "less than a minute"


def _utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


# --------------------------------------------------------------------------- #
# templates


def template_dir() -> Path:
    """Find the folder holding the report templates.

    Looks first for ``templates/`` inside the installed ``monitor`` package (where
    the wheel puts it), then for the top-level ``templates/`` folder next to the
    ``monitor`` package in a source checkout.

    :returns: an existing folder containing ``base.html``.
    :raises MonitorError: when neither location holds the templates.
    """
    for candidate in _template_candidates():
        if (candidate / "base.html").is_file():
            return candidate
    raise MonitorError("report templates not found; the drift-monitor installation is incomplete")


def _template_candidates() -> list[Path]:
    """Folders that may hold the templates, in the order they are tried."""
    candidates: list[Path] = []
    try:
        packaged = resources.files("monitor") / "templates"
    except (ImportError, OSError, TypeError, ValueError):
        packaged = None  # e.g. an editable install of a package without __init__.py
    if isinstance(packaged, Path):
        candidates.append(packaged)
    candidates.append(Path(__file__).resolve().parent.parent / "templates")
    return candidates


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared Jinja2 environment: autoescape on, ``StrictUndefined``, the filters
    ``fmt``, ``pct``, ``signed_pct``, ``pp``, ``when``, ``humanize``.

    :raises MonitorError: when the templates cannot be found.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        fmt=fmt, pct=pct, signed_pct=signed_pct, pp=pp, when=when, humanize=humanize
    )
    return env


def _render(template: str, page: object) -> str:
    """Render ``template`` with the context dataclass ``page`` bound to ``page``."""
    return environment().get_template(template).render(page=page)


# --------------------------------------------------------------------------- #
# context dataclasses


@dataclass(frozen=True)
class Bar:
    """One rectangle of a chart, in SVG user units (y grows downwards)."""

    x: float
    y: float
    width: float
    height: float
    series: str
    """``"baseline"`` or ``"target"``; the CSS class of the bar."""
    tooltip: str


@dataclass(frozen=True)
class Tick:
    """One axis label of a chart, at ``(x, y)`` in SVG user units."""

    x: float
    y: float
    label: str
    anchor: str
    """SVG ``text-anchor``: ``start``, ``middle`` or ``end``."""
    rotate: bool = False
    full: str = ""
    """The untruncated label, shown as a tooltip when it differs from ``label``."""


@dataclass(frozen=True)
class Chart:
    """A baseline-versus-target bar chart, laid out for an inline SVG."""

    kind: str
    """``"histogram"`` (numeric bins) or ``"categories"`` (one group per label)."""
    title: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    caption: str


@dataclass(frozen=True)
class MetricRow:
    """One drift metric of a column, as the engine reported it."""

    name: str
    value: float | None
    p_value: float | None
    direction: str
    """``"higher"`` (higher value = more drift) or ``"p_value"`` (lower p = more drift)."""
    warning: float | None
    critical: float | None
    severity: str
    decides: bool
    detail: tuple[tuple[str, str], ...]
    """Extra facts of the metric, each ``(key, formatted value)``."""

    @property
    def compared(self) -> float | None:
        """The number the thresholds apply to: the p-value or the metric value."""
        return self.p_value if self.direction == "p_value" else self.value

    @property
    def short(self) -> str:
        """``"psi 0.3121"`` or ``"chi_square p=0.0001"`` for the summary table."""
        if self.direction == "p_value":
            return f"{self.name} p={fmt(self.p_value)}"
        return f"{self.name} {fmt(self.value)}"


@dataclass(frozen=True)
class StatRow:
    """One statistic of a column in the baseline and the target snapshot."""

    label: str
    baseline: object
    target: object


@dataclass(frozen=True)
class CategoryShare:
    """A category named in a new/vanished list, with its share of rows (0..1)."""

    name: str
    share: float | None


@dataclass(frozen=True)
class MissingRate:
    """Share of missing values (0..1) and its change (absolute, and relative)."""

    baseline: float | None
    target: float | None
    change: float | None
    relative_change: float | None


@dataclass(frozen=True)
class ColumnSection:
    """Everything shown about one column."""

    name: str
    anchor: str
    """HTML ``id`` of the column's section, safe whatever the column's name."""
    kind: str
    status: str
    severity: str
    reason: str | None
    metrics: tuple[MetricRow, ...]
    stats: tuple[StatRow, ...]
    missing: MissingRate | None
    new_categories: tuple[CategoryShare, ...]
    vanished_categories: tuple[CategoryShare, ...]
    chart: Chart | None
    exceedance: float
    """Largest ratio of a deciding metric to its warning threshold (>1 = beyond it)."""

    @property
    def deciding(self) -> tuple[MetricRow, ...]:
        """The metrics that decide the column's severity."""
        return tuple(m for m in self.metrics if m.decides)

    @property
    def has_stats(self) -> bool:
        """Whether either snapshot has statistics for the column."""
        return bool(self.stats)


@dataclass(frozen=True)
class Retype:
    """A column whose type differs between the snapshots."""

    column: str
    baseline: str
    target: str


@dataclass(frozen=True)
class SchemaChanges:
    """Columns added, removed or retyped in the target snapshot."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    retyped: tuple[Retype, ...]

    @property
    def empty(self) -> bool:
        """Whether the schema did not change."""
        return not (self.added or self.removed or self.retyped)


@dataclass(frozen=True)
class Verdict:
    """The dataset-level verdict of a comparison."""

    drifted: bool
    severity: str
    drifted_columns: int
    columns_compared: int
    share_drifted: float
    magnitude: float | None
    insufficient_data: int

    @property
    def headline(self) -> str:
        """One sentence for the banner, e.g. ``"Drift detected in 3 of 12 columns"``."""
        if self.drifted:
            return f"Drift detected in {self.drifted_columns} of {self.columns_compared} columns"
        return f"No drift detected across {self.columns_compared} columns"


@dataclass(frozen=True)
class RowCount:
    """Row counts of both snapshots and the relative change (``None`` if undefined)."""

    baseline: int
    target: int
    change: float | None


@dataclass(frozen=True)
class Settings:
    """The engine settings a comparison ran with."""

    min_values: object
    fdr: float | None
    bins: object
    bh_applied: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ComparisonPage:
    """Context of ``comparison.html``: one target snapshot compared with its baseline."""

    dataset: str
    monitor: str | None
    baseline_name: str
    baseline_created: datetime
    target_name: str
    target_created: datetime
    generated_at: datetime
    mode: str
    verdict: Verdict
    schema: SchemaChanges
    row_count: RowCount
    settings: Settings
    columns: tuple[ColumnSection, ...]
    """Sorted: worst severity first, then largest threshold exceedance."""
    index_href: str | None = None
    """Relative link to the reports index, when the report lives next to one."""

    @property
    def title(self) -> str:
        """Page title: ``"flights: 2024-06-01 vs 2024-05-01"``."""
        return f"{self.dataset}: {self.target_name} vs {self.baseline_name}"

    @property
    def gap(self) -> str:
        """How far apart the snapshots were taken, e.g. ``"31 days"``."""
        return duration(self.target_created - self.baseline_created)

    @property
    def mode_label(self) -> str:
        """What the metrics were computed from, in words."""
        if self.mode == "exact":
            return "exact (computed from the data copies)"
        return "profile (computed from the snapshot profiles)"

    @property
    def meta_json(self) -> str:
        """The summary the index reads back from the report, as JSON."""
        return json.dumps(_page_summary(self), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class IndexEntry:
    """One report listed in the index."""

    href: str
    """Link relative to the index, URL-quoted."""
    dataset: str
    monitor: str | None
    baseline: str
    baseline_created: datetime
    target: str
    target_created: datetime
    generated_at: datetime
    drifted: bool
    severity: str
    drifted_columns: int
    columns_compared: int
    share_drifted: float


@dataclass(frozen=True)
class IndexPage:
    """Context of ``index.html``: every report under a reports folder, newest first."""

    generated_at: datetime
    reports: tuple[IndexEntry, ...]
    latest: tuple[IndexEntry, ...]
    """The newest report of each dataset, datasets by name."""

    @property
    def title(self) -> str:
        """Page title."""
        return "Drift reports"


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
) -> ComparisonPage:
    """Build the context of a comparison report from a drift engine result.

    :param result: the JSON-safe comparison result of the drift engine (keys
        ``mode``, ``verdict``, ``schema``, ``row_count``, ``settings``, ``columns``).
    :param dataset: dataset name. :param monitor: monitor name, or ``None`` for an
        ad-hoc comparison.
    :param baseline_name: name of the baseline snapshot; ``baseline_created`` its
        creation time. ``target_name`` / ``target_created`` likewise.
    :param generated_at: when the report is made; now if ``None``. Datetimes
        should be timezone-aware; naive ones are taken to be UTC.
    :returns: a frozen :class:`ComparisonPage`, columns sorted worst first.
    :raises MonitorError: when ``result`` lacks a required key or has a wrong shape.
    """
    try:
        return ComparisonPage(
            dataset=dataset,
            monitor=monitor,
            baseline_name=baseline_name,
            baseline_created=_utc(baseline_created),
            target_name=target_name,
            target_created=_utc(target_created),
            generated_at=_utc(generated_at or datetime.now(timezone.utc)),
            mode=str(result["mode"]),
            verdict=_verdict(result["verdict"]),
            schema=_schema(result.get("schema") or {}),
            row_count=_row_count(result["row_count"]),
            settings=_settings(result.get("settings") or {}),
            columns=_sorted_columns(result["columns"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MonitorError(f"malformed comparison result: {exc!r}") from exc


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


def _number(value: object) -> float | None:
    """``value`` as a float, or ``None`` when it is missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


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


def _column(raw: Mapping[str, Any], anchor: str) -> ColumnSection:
    """Build the section of one column."""
    metrics = tuple(_metric(m) for m in raw.get("metrics") or ())
    return ColumnSection(
        name=str(raw["column"]),
        anchor=anchor,
        kind=str(raw.get("kind") or "unknown"),
        status=str(raw["status"]),
        severity=str(raw.get("severity") or "none"),
        reason=_reason(raw),
        metrics=metrics,
        stats=_stats(raw.get("baseline"), raw.get("target")),
        missing=_missing(raw.get("missing_rate")),
        new_categories=_shares(raw.get("new_categories")),
        vanished_categories=_shares(raw.get("vanished_categories")),
        chart=_chart(raw),
        exceedance=max((_exceedance(m) for m in metrics if m.decides), default=0.0),
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
    return MetricRow(
        name=str(raw["name"]),
        value=_number(raw.get("value")),
        p_value=_number(raw.get("p_value")),
        direction=str(raw.get("direction") or "higher"),
        warning=_number(raw.get("warning")),
        critical=_number(raw.get("critical")),
        severity=str(raw.get("severity") or "none"),
        decides=bool(raw.get("decides")),
        detail=tuple((str(k), _detail_text(v)) for k, v in detail.items()),
    )


def _detail_text(value: object) -> str:
    """Format one metric detail value: numbers via :func:`fmt`, the rest as compact JSON."""
    if value is None or isinstance(value, (numbers.Real, str)):
        return fmt(value)
    text = json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= 80 else text[:79] + "…"


def _exceedance(metric: MetricRow) -> float:
    """How far a metric is past its warning threshold: 1.0 at the threshold.

    ``value / warning`` for higher-is-drift metrics; ``ln p / ln warning`` for
    p-values (so a p-value below the threshold gives more than 1).
    """
    if metric.direction == "p_value":
        p, limit = metric.p_value, metric.warning
        if p is None or limit is None or not 0 < limit < 1:
            return 0.0
        return math.inf if p <= 0 else math.log(min(p, 1.0)) / math.log(limit)
    if metric.value is None:
        return 0.0
    if metric.warning is None or metric.warning <= 0:
        return abs(metric.value)
    return metric.value / metric.warning


def _stats(baseline: object, target: object) -> tuple[StatRow, ...]:
    """Side-by-side statistics; empty when neither snapshot has any."""
    base = baseline if isinstance(baseline, Mapping) else {}
    targ = target if isinstance(target, Mapping) else {}
    if not base and not targ:
        return ()
    known = [StatRow(label, base.get(key), targ.get(key)) for key, label in STAT_LABELS]
    names = {key for key, _ in STAT_LABELS}
    extra = [StatRow(k, base.get(k), targ.get(k)) for k in _ordered_keys(base, targ) if k not in names]
    return tuple(known + extra)


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
# chart layout (pure geometry; the macro ``chart`` in _macros.html draws it)

CHART_WIDTH = 520
CHART_HEIGHT = 230
PLOT_LEFT = 46.0
PLOT_RIGHT = CHART_WIDTH - 14.0
PLOT_TOP = 10.0


def _chart(raw: Mapping[str, Any]) -> Chart | None:
    """The column's chart: its histogram if it has one, else its categories."""
    histogram = raw.get("histogram")
    if isinstance(histogram, Mapping):
        return _histogram_chart(histogram)
    categories = raw.get("categories")
    if isinstance(categories, Mapping):
        return _category_chart(categories)
    return None


def _fractions(raw: object, length: int) -> list[float]:
    """A list of ``length`` shares; missing or non-numeric entries become 0."""
    values = [(_number(v) or 0.0) for v in raw] if isinstance(raw, Sequence) else []
    return (values + [0.0] * length)[:length]


def _y_scale(values: Iterable[float]) -> float:
    """A round top for the y axis at or above the largest share (0.05, 0.08, 0.1, ...)."""
    peak = max(values, default=0.0)
    if peak <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(peak))
    for factor in (1, 1.2, 1.6, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if factor * step >= peak:
            return float(factor * step)
    return peak


def _y_ticks(top: float, bottom: float, scale: float) -> tuple[Tick, ...]:
    """Gridline labels at 0, half and all of ``scale``."""
    ticks = []
    for share in (0.0, scale / 2, scale):
        y = bottom - (bottom - top) * share / scale
        ticks.append(Tick(PLOT_LEFT - 6, y + 4, pct(share, 3), "end"))
    return tuple(ticks)


def _bar(x: float, width: float, share: float, series: str, tooltip: str,
         frame: tuple[float, float, float]) -> Bar:
    """A bar standing on the x axis; ``frame`` is ``(top, bottom, scale)``."""
    top, bottom, scale = frame
    height = (bottom - top) * min(max(share, 0.0), scale) / scale
    return Bar(round(x, 2), round(bottom - height, 2), round(width, 2), round(height, 2), series, tooltip)


def _histogram_chart(raw: Mapping[str, Any]) -> Chart | None:
    """Overlay of baseline (wide, pale) and target (narrow, dark) shares per bin.

    Bins are drawn in equal-width slots (they usually come from the baseline's
    quantiles, so their widths on the value axis differ); edges label the slots.
    """
    size = max(len(raw.get("baseline") or ()), len(raw.get("target") or ()))
    if size == 0:
        return None
    base, targ = _fractions(raw.get("baseline"), size), _fractions(raw.get("target"), size)
    bottom = CHART_HEIGHT - 34.0
    scale = _y_scale(base + targ)
    frame = (PLOT_TOP, bottom, scale)
    slot = (PLOT_RIGHT - PLOT_LEFT) / size
    labels = _edge_labels(raw.get("edges"), size)
    bars: list[Bar] = []
    for i, (b, t) in enumerate(zip(base, targ)):
        x = PLOT_LEFT + i * slot
        tip = f"{_bin_name(labels, i)}: baseline {pct(b)}, target {pct(t)}"
        bars.append(_bar(x + slot * 0.06, slot * 0.88, b, "baseline", tip, frame))
        bars.append(_bar(x + slot * 0.28, slot * 0.44, t, "target", tip, frame))
    caption = f"{size} bins; share of non-missing values per bin"
    return _make_chart("histogram", bars, _edge_ticks(labels, slot, bottom), scale, bottom, caption)


def _edge_labels(raw: object, size: int) -> list[str] | None:
    """Labels for the ``size + 1`` bin edges; ``None`` if the edges do not fit."""
    if not isinstance(raw, Sequence) or len(raw) != size + 1:
        return None
    labels = []
    for i, edge in enumerate(raw):
        number = _number(edge)
        if number is None or math.isinf(number):
            labels.append("-∞" if i == 0 else "∞")
        else:
            labels.append(fmt(number, 3))
    return labels


def _bin_name(labels: list[str] | None, index: int) -> str:
    """``"[1.5, 2.25)"`` for bin ``index``, or ``"bin 3"`` without edges."""
    if labels is None:
        return f"bin {index + 1}"
    return f"[{labels[index]}, {labels[index + 1]})"


def _edge_ticks(labels: list[str] | None, slot: float, bottom: float) -> tuple[Tick, ...]:
    """At most seven evenly spread edge labels under the slots."""
    if labels is None:
        return ()
    last = len(labels) - 1
    count = min(len(labels), 7)
    picks = sorted({round(i * last / (count - 1)) for i in range(count)}) if count > 1 else [0]
    ticks = []
    for index in picks:
        anchor = "start" if index == 0 else "end" if index == last else "middle"
        ticks.append(Tick(PLOT_LEFT + index * slot, bottom + 16, labels[index], anchor))
    return tuple(ticks)


def _category_chart(raw: Mapping[str, Any]) -> Chart | None:
    """Grouped bars, baseline and target side by side, one group per category."""
    labels = [str(label) for label in raw.get("labels") or ()]
    if not labels:
        return None
    base = _fractions(raw.get("baseline"), len(labels))
    targ = _fractions(raw.get("target"), len(labels))
    keep = _largest(base, targ)
    bottom = CHART_HEIGHT - 62.0
    scale = _y_scale([base[i] for i in keep] + [targ[i] for i in keep])
    frame = (PLOT_TOP, bottom, scale)
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(keep)
    bars: list[Bar] = []
    ticks: list[Tick] = []
    for position, i in enumerate(keep):
        x = PLOT_LEFT + position * slot
        tip = f"{labels[i]}: baseline {pct(base[i])}, target {pct(targ[i])}"
        bars.append(_bar(x + slot * 0.1, slot * 0.4, base[i], "baseline", tip, frame))
        bars.append(_bar(x + slot * 0.5, slot * 0.4, targ[i], "target", tip, frame))
        ticks.append(_category_tick(labels[i], x + slot / 2, bottom))
    shown = f"{len(keep)} of {len(labels)} categories (largest shares)" if len(keep) < len(labels) else f"{len(labels)} categories"
    return _make_chart("categories", bars, tuple(ticks), scale, bottom, shown + "; share of rows")


def _largest(base: list[float], targ: list[float]) -> list[int]:
    """Indexes of the ``MAX_CATEGORIES`` labels with the largest share, in input order."""
    if len(base) <= MAX_CATEGORIES:
        return list(range(len(base)))
    ranked = sorted(range(len(base)), key=lambda i: -max(base[i], targ[i]))
    return sorted(ranked[:MAX_CATEGORIES])


def _category_tick(label: str, x: float, bottom: float) -> Tick:
    """A slanted category label, truncated to 14 characters."""
    short = label if len(label) <= 14 else label[:13] + "…"
    return Tick(x + 3, bottom + 12, short, "end", rotate=True, full=label)


def _make_chart(kind: str, bars: list[Bar], x_ticks: tuple[Tick, ...], scale: float,
                bottom: float, caption: str) -> Chart:
    """Assemble a :class:`Chart` with the shared frame and y axis."""
    what = "histogram" if kind == "histogram" else "category shares"
    return Chart(
        kind=kind,
        title=f"Baseline and target {what}",
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=PLOT_LEFT,
        top=PLOT_TOP,
        right=PLOT_RIGHT,
        bottom=bottom,
        bars=tuple(bars),
        x_ticks=x_ticks,
        y_ticks=_y_ticks(PLOT_TOP, bottom, scale),
        caption=caption,
    )


# --------------------------------------------------------------------------- #
# rendering and writing


def render_comparison(page: ComparisonPage) -> str:
    """Render a comparison report to a self-contained HTML document.

    :raises jinja2.UndefinedError: when the context lacks a field a template uses.
    """
    return _render("comparison.html", page)


def render_index(page: IndexPage) -> str:
    """Render the reports index to a self-contained HTML document."""
    return _render("index.html", page)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, limit: int = 80) -> str:
    """A file-name-safe version of ``name``.

    Runs of characters other than ASCII letters, digits, ``.``, ``_`` and ``-``
    become ``_``; a leading dot is dropped; the result is cut to ``limit``
    characters. When anything changed, 8 hex digits of the SHA-1 of ``name`` are
    appended so two different names never share a file.

    :returns: a non-empty string, e.g. ``"2024-05-01T06_00-1a2b3c4d"``.
    """
    cleaned = _UNSAFE.sub("_", name).lstrip(".")[:limit]
    if cleaned == name and cleaned:
        return cleaned
    return f"{cleaned or '_'}-{sha1(name.encode('utf-8')).hexdigest()[:8]}"


def report_path(reports_dir: Path, page: ComparisonPage) -> Path:
    """Where :func:`write_comparison_report` puts a page:
    ``<reports_dir>/<dataset>/<target>__vs__<baseline>.html``, names made safe."""
    file_name = f"{safe_name(page.target_name)}__vs__{safe_name(page.baseline_name)}.html"
    return Path(reports_dir) / safe_name(page.dataset) / file_name


def write_comparison_report(reports_dir: Path, page: ComparisonPage) -> Path:
    """Write a comparison report and rebuild the index of ``reports_dir``.

    The report is written to a temporary file and renamed into place; an existing
    report of the same target and baseline is replaced.

    :returns: the path of the report (see :func:`report_path`).
    :raises MonitorError: when the folder or file cannot be written.
    """
    path = report_path(reports_dir, page)
    _write_atomic(path, render_comparison(replace(page, index_href="../" + INDEX_NAME)))
    write_index(reports_dir)
    return path


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to a temporary file next to ``path``, then rename it.

    The file is made readable by everyone (mode 0644), like a file a web server
    serves.

    :raises MonitorError: when the folder or file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise MonitorError(f"cannot write report {path}: {exc}") from exc
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise MonitorError(f"cannot write report {path}: {exc}") from exc


# --------------------------------------------------------------------------- #
# the index


def _page_summary(page: ComparisonPage) -> dict[str, Any]:
    """The JSON-safe summary stored in a report's ``<meta>`` tag."""
    return {
        "version": META_VERSION,
        "dataset": page.dataset,
        "monitor": page.monitor,
        "baseline": page.baseline_name,
        "baseline_created": page.baseline_created.isoformat(),
        "target": page.target_name,
        "target_created": page.target_created.isoformat(),
        "generated_at": page.generated_at.isoformat(),
        "drifted": page.verdict.drifted,
        "severity": page.verdict.severity,
        "drifted_columns": page.verdict.drifted_columns,
        "columns_compared": page.verdict.columns_compared,
        "share_drifted": page.verdict.share_drifted,
    }


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


def read_report_metadata(path: Path) -> dict[str, Any] | None:
    """Read the summary a comparison report carries in its ``<meta>`` tag.

    Only the first 64 KiB of the file are read (the tag is in ``<head>``).

    :returns: the summary (keys as in the ``<meta>`` JSON, datetimes as ISO
        strings), or ``None`` when the file is unreadable or not a report.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(65536)
    except OSError as exc:
        log.warning("skipping report %s: %s", path, exc)
        return None
    reader = _MetaReader()
    reader.feed(head.split("</head>", 1)[0])
    if reader.content is None:
        return None
    try:
        summary = json.loads(reader.content)
    except ValueError:
        log.warning("skipping report %s: unreadable summary", path)
        return None
    return summary if isinstance(summary, dict) and summary.get("version") == META_VERSION else None


def _index_entry(summary: Mapping[str, Any], href: str) -> IndexEntry:
    """Turn a report summary into an index row."""
    return IndexEntry(
        href=href,
        dataset=str(summary["dataset"]),
        monitor=summary.get("monitor"),
        baseline=str(summary["baseline"]),
        baseline_created=datetime.fromisoformat(summary["baseline_created"]),
        target=str(summary["target"]),
        target_created=datetime.fromisoformat(summary["target_created"]),
        generated_at=datetime.fromisoformat(summary["generated_at"]),
        drifted=bool(summary["drifted"]),
        severity=str(summary["severity"]),
        drifted_columns=int(summary["drifted_columns"]),
        columns_compared=int(summary["columns_compared"]),
        share_drifted=float(summary["share_drifted"]),
    )


def _scan_reports(reports_dir: Path) -> list[IndexEntry]:
    """Every readable report in ``<reports_dir>/<dataset>/``, newest first."""
    entries = []
    for path in sorted(Path(reports_dir).glob("*/*.html")):
        summary = read_report_metadata(path)
        if summary is None:
            continue
        href = quote(path.relative_to(reports_dir).as_posix())
        try:
            entries.append(_index_entry(summary, href))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("skipping report %s: incomplete summary (%r)", path, exc)
    entries.sort(key=lambda e: (_utc(e.generated_at), _utc(e.target_created), e.href), reverse=True)
    return entries


def index_context(reports_dir: Path, generated_at: datetime | None = None) -> IndexPage:
    """Build the index context from the reports found under ``reports_dir``.

    :param reports_dir: the folder holding ``<dataset>/<report>.html`` files.
    :param generated_at: when the index is made; now if ``None``.
    """
    reports = _scan_reports(reports_dir)
    latest: dict[str, IndexEntry] = {}
    for entry in reports:
        latest.setdefault(entry.dataset, entry)
    return IndexPage(
        generated_at=_utc(generated_at or datetime.now(timezone.utc)),
        reports=tuple(reports),
        latest=tuple(latest[name] for name in sorted(latest)),
    )


def write_index(reports_dir: Path) -> Path:
    """Rebuild ``<reports_dir>/index.html`` listing every report, newest first.

    :returns: the path of the index.
    :raises MonitorError: when the file cannot be written.
    """
    path = Path(reports_dir) / INDEX_NAME
    _write_atomic(path, render_index(index_context(reports_dir)))
    return path
