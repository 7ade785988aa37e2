"""The frozen page context dataclasses a template renders: :class:`ComparisonPage`
(with its :class:`Verdict`, :class:`SchemaChanges`, :class:`RowCount`,
:class:`Settings` and :class:`ColumnSection` parts) and :class:`IndexPage` (with
its :class:`IndexEntry` and :class:`MonitorEntry` rows), and the JSON summary a
comparison report carries in its ``<meta>`` tag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.report.charts import Chart
from monitor.report.distribution import CategoryChart, CdfChart, ValueHistogram
from monitor.report.format import duration, fmt, p_value
from monitor.report.multivariate import MultivariateSection
from monitor.report.scatter import ScatterChart
from monitor.report.timeline import Sparkline
from monitor.report.wording import value_text

META_NAME = "drift-monitor-report"
"""``name`` of the ``<meta>`` tag that holds a report's summary as JSON."""
META_VERSION = 1


# --------------------------------------------------------------------------- #
# context dataclasses


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
    label: str = ""
    """The metric's short name (``"KS"``); the name itself when empty."""
    decision: str = ""
    """What the metric decided, in words (:func:`monitor.report.wording.decision`)."""
    tone: str = "info"
    """``warning`` or ``critical`` (it flagged), ``quiet`` (noise), ``ok`` (below), ``info``."""
    thresholded: bool = True
    """Whether any threshold (absolute or relative) is set; without one the metric is only reported."""

    @property
    def compared(self) -> float | None:
        """The number the thresholds apply to: the p-value or the metric value."""
        return self.p_value if self.direction == "p_value" else self.value

    @property
    def short(self) -> str:
        """``"PSI 0.312"``, ``"largest share change 12 pp"`` or ``"χ² test p = 0.0001"`` for the summary table."""
        name = self.label or self.name
        if self.direction == "p_value":
            text = p_value(self.p_value)
            return f"{name} p {text}" if text.startswith("<") else f"{name} p = {text}"
        return f"{name} {fmt(None) if self.value is None else value_text(self.name, self.value)}"


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
    finding: str | None = None
    """Why the column drifted, in one sentence (without its name); ``None`` unless it drifted."""
    magnitude: float | None = None
    """How far the column moved, in [0, 1] (the engine's effect size); ``None`` when not known."""
    histogram: ValueHistogram | None = None
    """Both sides on one value axis (numeric columns of results that carry ``display``)."""
    cdf: CdfChart | None = None
    categories: CategoryChart | None = None
    """The categories whose share changed most (categorical columns of results that carry ``display``)."""
    scatter: ScatterChart | None = None
    """Both sides' sample vectors on two principal components (vector columns)."""

    @property
    def deciding(self) -> tuple[MetricRow, ...]:
        """The metrics that decide the column's severity."""
        return tuple(m for m in self.metrics if m.decides)

    @property
    def judged(self) -> tuple[MetricRow, ...]:
        """The metrics with a threshold: the rows of the column's metric table."""
        return tuple(m for m in self.metrics if m.thresholded)

    @property
    def reported(self) -> tuple[MetricRow, ...]:
        """The metrics without a threshold, listed on one line under the table."""
        return tuple(m for m in self.metrics if not m.thresholded)

    @property
    def flagged(self) -> tuple[MetricRow, ...]:
        """The metrics that reached a threshold beyond sampling noise (a warning or critical decision)."""
        return tuple(m for m in self.metrics if m.severity in ("warning", "critical"))

    @property
    def has_stats(self) -> bool:
        """Whether either snapshot has statistics for the column."""
        return bool(self.stats)


@dataclass(frozen=True)
class Finding:
    """One drifted column in the findings at the top of a report."""

    column: str
    anchor: str
    severity: str
    text: str


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
    status: str = "no_drift"
    joint: bool = False
    """The multivariate test flagged (the columns' joint distribution changed)."""

    @property
    def headline(self) -> str:
        """One sentence for the banner, e.g. ``"Drift detected in 3 of 12 columns"``."""
        if self.drifted:
            if not self.drifted_columns:
                return ("Drift detected in how the columns vary together (multivariate)" if self.joint
                        else "Drift detected in the dataset's volume")
            return f"Drift detected in {self.drifted_columns} of {self.columns_compared} columns"
        if self.status == "insufficient_data":
            return f"Insufficient data: none of the {self.insufficient_data} columns has enough values to judge"
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
class SegmentRow:
    """One row of the segment table: the whole dataset or one value of the
    segment column.

    :ivar status: ``drift``, ``compared`` (no drift), ``added`` or ``removed``.
    :ivar magnitude: the segment's verdict magnitude in [0, 1]; ``None`` when not compared.
    """

    segment: str
    status: str
    severity: str
    drifted_columns: tuple[str, ...]
    magnitude: float | None
    rows_baseline: int
    rows_target: int


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
    baseline_snapshots: tuple[str, ...] = ()
    """Every snapshot the baseline is made of, oldest first (``baseline_name`` is
    the newest); several when the baseline merges them."""
    baseline_description: str | None = None
    """How the baseline was chosen, in words; ``None`` when not known."""
    history_href: str | None = None
    """Relative link to the monitor's history page, when the report lives next to one."""
    conditions: tuple[tuple[str, str], ...] = ()
    """The run's conditions (``data.stale``, ``volume``) as ``(kind, detail)``;
    empty when it has none (or is not a monitor's run)."""
    segments: tuple[SegmentRow, ...] = ()
    """The segment table (monitors with ``segments``): the whole dataset first,
    then each segment as compared; empty otherwise."""
    segment_column: str | None = None
    findings: tuple[Finding, ...] = ()
    """One per drifted column, most severe first, then largest effect."""
    multivariate: MultivariateSection | None = None
    """The multivariate test (monitors with ``multivariate: true``), else None."""

    @property
    def no_findings(self) -> str:
        """The sentence shown when no column drifted."""
        v = self.verdict
        if v.status == "insufficient_data":
            return f"Insufficient data: none of the {v.insufficient_data} columns has enough values to judge."
        short = (f" {v.insufficient_data} column{'' if v.insufficient_data == 1 else 's'} had too few values "
                 f"to judge.") if v.insufficient_data else ""
        if v.drifted and v.joint:
            return (f"No column drifted on its own, but the columns' joint distribution did: see Multivariate "
                    f"below.{short}")
        if v.drifted:
            change = self.row_count.change
            moved = f" ({'+' if change and change > 0 else ''}{fmt((change or 0) * 100, 3)}%)" if change is not None else ""
            return (f"No column drifted, but the row count did: {fmt(self.row_count.baseline)} → "
                    f"{fmt(self.row_count.target)}{moved}.{short}")
        return f"No column drifted: each of the {v.columns_compared} compared columns is within its thresholds.{short}"

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
    magnitude: float | None = None
    """The verdict's magnitude (0..1); ``None`` in reports written before it was kept."""


@dataclass(frozen=True)
class MonitorEntry:
    """A monitor in the index: its latest report and a sparkline of all of them."""

    monitor: str
    latest: IndexEntry
    """The report with the newest target snapshot."""
    reports: int
    sparkline: Sparkline
    """The verdict magnitude of each report, oldest target first."""
    history_href: str | None
    """Link to the monitor's history page, when it exists."""


@dataclass(frozen=True)
class IndexPage:
    """Context of ``index.html``: every report under a reports folder, newest first."""

    generated_at: datetime
    reports: tuple[IndexEntry, ...]
    latest: tuple[IndexEntry, ...]
    """The newest report of each dataset, datasets by name."""
    monitors: tuple[MonitorEntry, ...] = ()
    """Every monitor with a report, by name."""

    @property
    def title(self) -> str:
        """Page title."""
        return "Drift reports"


# --------------------------------------------------------------------------- #
# the summary a report carries (read back by the index)


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
        "magnitude": page.verdict.magnitude,
        # the drifted columns, worst first, for the index to name: at most 20, each
        # cut to 200 characters, so the tag stays well inside what the index reads
        "drifted_column_names": [c.name[:200] for c in page.columns if c.status == "drift"][:20],
    }
