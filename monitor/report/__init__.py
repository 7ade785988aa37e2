"""Self-contained HTML drift reports, rendered with Jinja2.

A report is one HTML file that opens with no network access: inline ``<style>``,
charts drawn as inline SVG, no scripts, no external fonts or images (a
Content-Security-Policy ``<meta>`` forbids loading anything). Each page renders
one frozen context dataclass:

* :class:`ComparisonPage`, built from a drift engine result by
  :func:`comparison_context`, rendered by :func:`render_comparison` and written
  by :func:`write_comparison_report` to
  ``<reports_dir>/<dataset>/<target>__vs__<baseline>.html``;
* :class:`Index` (an :class:`IndexPage`), built by :func:`index_context` from
  the reports and profile pages found under ``reports_dir`` and written by
  :func:`write_index` to ``<reports_dir>/index.html``: each monitor with its
  latest verdict, the columns that drifted in it, a sparkline of its verdicts
  and links to its history page and to its latest snapshot's profile page, then
  every report, newest first;
* :class:`HistoryPage`, built by :func:`history_context` from a monitor's stored
  comparisons (:class:`HistoryRun`) and drift episodes (:class:`HistoryEpisode`),
  which the caller reads from the store, and written by :func:`write_history` to
  ``<reports_dir>/<monitor>/history.html``: one chart per column of its deciding
  metrics over time, as multiples of their warning thresholds;
* :class:`ProfilePage`, built by :func:`profile_page_context` from one summary
  per column of a snapshot's profile (records with the fields of
  :class:`ColumnFigures`, which the caller computes from the stored profile),
  rendered by :func:`render_profile` and written by :func:`write_profile` to
  ``<reports_dir>/<dataset>/<snapshot>/profile.html``: Azure ML's profile
  table, one row per column, with a small distribution chart per column.

Every comparison report carries its own summary in
``<meta name="drift-monitor-report" content="{json}">``, and every profile page
in ``<meta name="drift-monitor-profile" ...>``, so the index is rebuilt by
scanning the folder; there is no other state. Files are written to a
temporary name and renamed, so a reader never sees half a report.

This package formats and lays out numbers; it never computes statistics.
Templates are looked up by :func:`template_dir`; the environment has
``autoescape=True`` and ``StrictUndefined``, so a context missing a field
fails loudly instead of rendering an empty cell.

The modules, each importing only those listed before it:

* :mod:`monitor.report.format`: number and time formatting, the template
  filters (:func:`fmt`, ``pct``, ``signed_pct``, ``pp``, ``when``,
  ``humanize``, ``ident``: a name that wraps only at ``_ - . / :``) and ``duration``;
* :mod:`monitor.report.names`: file names (:func:`safe_name`, the index's and
  the history pages' names);
* :mod:`monitor.report.charts`: the SVG chart geometry (:class:`Bar`,
  :class:`Tick`, :class:`Chart`) and the chart builders of results stored
  before they carried ``display`` (PSI bins, category shares by size);
* :mod:`monitor.report.distribution`: the charts of a column's ``display``: its
  histogram and CDF on one value axis, its categories by change in share;
* :mod:`monitor.report.timeline`: the time-series geometry of the history
  chart (:class:`HistoryChart`) and the index's sparklines (:class:`Sparkline`);
* :mod:`monitor.report.wording`: results in words: metric labels, each
  metric's decision, one sentence per drifted column (the findings);
* :mod:`monitor.report.pages`: the frozen page context dataclasses and the
  summary a comparison report carries in its ``<meta>`` tag;
* :mod:`monitor.report.context`: :func:`comparison_context` with its helpers
  and :func:`warning_ratio`;
* :mod:`monitor.report.history`: the history page's inputs, context and
  :func:`history_context`;
* :mod:`monitor.report.profile_page`: the profile page's context,
  :func:`profile_page_context`, and its distribution charts;
* :mod:`monitor.report.index`: :func:`index_context`, and
  :func:`read_report_metadata` and :func:`read_profile_metadata`, which read a
  page's summary back for the index;
* :mod:`monitor.report.render`: the Jinja2 :func:`environment`,
  :func:`template_dir`, rendering, where pages go and the atomic writes of
  reports, history pages and the index.
"""

from __future__ import annotations

from monitor.report.charts import Bar, Chart, Tick
from monitor.report.context import comparison_context, warning_ratio
from monitor.report.format import fmt, ident
from monitor.report.history import (
    ColumnHistory, EpisodeRow, HistoryEpisode, HistoryPage, HistoryRun, SegmentLink, history_context,
)
from monitor.report.index import (
    BaselineOnly,
    Index,
    MonitorRow,
    ProfileEntry,
    ReportEntry,
    index_context,
    read_profile_metadata,
    read_report_metadata,
)
from monitor.report.pages import (
    CategoryShare,
    ColumnSection,
    ComparisonPage,
    IndexEntry,
    IndexPage,
    MetricRow,
    MissingRate,
    MonitorEntry,
    RowCount,
    SchemaChanges,
    Settings,
    StatRow,
    Verdict,
)
from monitor.report.profile_page import (
    ColumnFigures,
    HistogramFigures,
    ProfileCell,
    ProfilePage,
    ProfileRow,
    SparkBar,
    SparkChart,
    profile_page_context,
)
from monitor.report.render import (
    HISTORY_NAME,
    comparison_html,
    environment,
    history_html,
    history_path,
    profile_path,
    index_html,
    render_comparison,
    render_history,
    render_index,
    render_profile,
    report_path,
    safe_name,
    segment_history_name,
    template_dir,
    write_comparison_report,
    write_history,
    write_index,
    write_profile,
)
from monitor.report.timeline import HistoryChart, Sparkline

__all__ = [
    "Bar",
    "BaselineOnly",
    "CategoryShare",
    "Chart",
    "ColumnFigures",
    "ColumnHistory",
    "ColumnSection",
    "ComparisonPage",
    "EpisodeRow",
    "HistogramFigures",
    "HistoryChart",
    "HistoryEpisode",
    "HistoryPage",
    "HistoryRun",
    "SegmentLink",
    "Index",
    "IndexEntry",
    "IndexPage",
    "MetricRow",
    "MissingRate",
    "MonitorEntry",
    "MonitorRow",
    "ProfileCell",
    "ProfileEntry",
    "ProfilePage",
    "ProfileRow",
    "ReportEntry",
    "RowCount",
    "SchemaChanges",
    "Settings",
    "SparkBar",
    "SparkChart",
    "Sparkline",
    "StatRow",
    "Tick",
    "Verdict",
    "comparison_context",
    "comparison_html",
    "environment",
    "fmt",
    "history_context",
    "HISTORY_NAME",
    "history_html",
    "history_path",
    "segment_history_name",
    "ident",
    "index_context",
    "profile_page_context",
    "profile_path",
    "read_profile_metadata",
    "index_html",
    "read_report_metadata",
    "render_comparison",
    "render_history",
    "render_index",
    "render_profile",
    "report_path",
    "safe_name",
    "template_dir",
    "warning_ratio",
    "write_comparison_report",
    "write_history",
    "write_index",
    "write_profile",
]
