"""A monitor's history page: every stored comparison of the monitor, one chart
per column of its deciding metrics over time.

The caller (the service, which reads the store) hands :func:`history_context`
one :class:`HistoryRun` per comparison and one :class:`HistoryEpisode` per drift
episode; this module turns them into a frozen :class:`HistoryPage`. It reads no
report file and computes no statistic: a chart's y value is a deciding metric of
the stored result as a multiple of its warning threshold
(:func:`~monitor.report.context.warning_ratio`: ``value / warning``, or
``ln p / ln warning`` for p-values), so every line of every chart shares one
scale on which 1.0 is the warning line.

The column charts are panels of one SVG (:class:`~monitor.report.timeline.HistoryChart`)
sharing the time axis, so each run is one link to its report holding the run's
dot in every panel, and the page stays small for long histories.
"""

from __future__ import annotations

import math
import os
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from monitor.errors import MonitorError
from monitor.report.context import SEVERITY_RANK, warning_ratio
from monitor.report.format import _utc, fmt, when
from monitor.report.timeline import (
    CHART_WIDTH,
    PANEL_HEIGHT,
    PLOT_LEFT,
    PLOT_RIGHT,
    HistoryChart,
    Mark,
    Panel,
    RatioScale,
    Rule,
    RunStrip,
    TimeAxis,
    axis_top,
    band,
    half_gap,
    legend,
    panel_frame,
    place_labels,
    short_name,
    strips,
    traces,
)

SERIES_COLOURS = 6
"""Distinct line colours (``s0`` .. ``s5``); a column's metrics cycle through them."""


# --------------------------------------------------------------------------- #
# what the caller gives


@dataclass(frozen=True)
class HistoryRun:
    """One stored comparison of the monitor.

    :ivar at: the time the target snapshot stands for (its data window's start
        when it has one, else its creation time); the x position of the run.
    :ivar run_at: when the comparison was recorded; orders the runs the way the
        drift episodes saw them.
    :ivar result: the stored drift result (keys ``verdict`` and ``columns``, as
        :meth:`monitor.drift.DatasetDrift.to_dict` gives them).
    :ivar report_path: where its HTML report was written, or ``None``.
    """

    comparison_id: int
    dataset: str
    target_name: str
    at: datetime
    run_at: datetime
    result: Mapping[str, Any]
    report_path: str | None


@dataclass(frozen=True)
class HistoryEpisode:
    """A drift episode of the monitor, as the store keeps it: opened by a run,
    resolved by a later run (``resolved_at`` is ``None`` while it is open)."""

    opened_at: datetime
    resolved_at: datetime | None
    severity: str
    runs: int


# --------------------------------------------------------------------------- #
# the page


@dataclass(frozen=True)
class ColumnHistory:
    """One column of the history page."""

    name: str
    anchor: str
    """``id`` of the column's panel in the chart, safe whatever the column's name."""
    kind: str
    runs: int
    """Runs in which the column was compared."""
    drifted_runs: int
    last_drift: datetime | None
    """Target time of the latest run in which the column drifted."""
    last_drift_href: str | None
    metrics: tuple[str, ...]
    """The deciding metrics charted, in series order (colours ``s0``, ``s1``, ...)."""

    @property
    def summary(self) -> str:
        """``"drifted in 3 of 40 runs; last drift 2024-05-01 06:00 UTC"``."""
        text = f"drifted in {self.drifted_runs} of {self.runs} run{'' if self.runs == 1 else 's'}"
        return text + (f"; last drift {when(self.last_drift)}" if self.last_drift else "; never drifted")


@dataclass(frozen=True)
class EpisodeRow:
    """A drift episode in the page's table, with the target times of its runs.

    :ivar severity: the worst severity of the runs it covers (the store keeps
        only the latest run's).
    """

    opened_at: datetime
    resolved_at: datetime | None
    severity: str
    runs: int
    first_target: datetime | None
    last_target: datetime | None


@dataclass(frozen=True)
class SegmentLink:
    """One entry of a history page's segment selector.

    :ivar label: ``"whole dataset"`` or the segment's value.
    :ivar href: the page's file name, relative to the page that links it.
    :ivar current: whether it is the page being shown.
    :ivar drifted_runs: the runs in which it drifted, among those shown.
    """

    label: str
    href: str
    current: bool
    drifted_runs: int


@dataclass(frozen=True)
class HistoryPage:
    """Context of ``history.html``: the comparisons of one monitor over time."""

    monitor: str
    datasets: tuple[str, ...]
    generated_at: datetime
    runs: int
    drifted_runs: int
    first_at: datetime | None
    last_at: datetime | None
    columns: tuple[ColumnHistory, ...]
    """Most often drifted first, then latest drift first, then by name."""
    episodes: tuple[EpisodeRow, ...]
    chart: HistoryChart | None
    """One panel per column, in the order of :attr:`columns`; ``None`` without runs."""
    older_runs: bool = False
    """Whether the monitor has older comparisons than the page shows."""
    index_href: str | None = None
    segment: str | None = None
    """The segment whose comparisons the page shows; ``None`` for the whole dataset."""
    segment_links: tuple[SegmentLink, ...] = ()
    """The segment selector (whole dataset first); empty for a monitor without segments."""

    @property
    def title(self) -> str:
        """Page title: ``"flights-monthly: drift history"``, ``"... (carrier UA)"`` for a segment."""
        return f"{self.monitor}: drift history" + (f" ({self.segment})" if self.segment is not None else "")


# --------------------------------------------------------------------------- #
# building it


@dataclass
class _Column:
    """A column's series while the runs are read (index = run in time order)."""

    name: str
    size: int
    kind: str = "unknown"
    metrics: dict[str, list[float | None]] = field(default_factory=dict)
    criticals: dict[str, float] = field(default_factory=dict)
    marks: dict[int, tuple[float | None, str, str]] = field(default_factory=dict)
    """run index → (worst ratio, column severity, what to say about it)."""
    drifted: list[int] = field(default_factory=list)

    def values(self, metric: str) -> list[float | None]:
        """The series of ``metric``, created empty on first use."""
        if metric not in self.metrics:
            self.metrics[metric] = [None] * self.size
        return self.metrics[metric]


def history_context(
    monitor: str,
    runs: Iterable[HistoryRun],
    episodes: Iterable[HistoryEpisode] = (),
    *,
    page_dir: Path,
    generated_at: datetime | None = None,
    older_runs: bool = False,
    segment: str | None = None,
    segment_links: Sequence[SegmentLink] = (),
) -> HistoryPage:
    """Build the history page of ``monitor``.

    :param runs: the monitor's comparisons, in any order; they are drawn in order
        of their target time (``at``).
    :param episodes: the monitor's drift episodes; each is shaded over the runs
        from the one that opened it to the one before the one that resolved it
        (to the last run while open), matched by ``run_at``.
    :param page_dir: the folder the page is written to; report links are relative
        to it and given only for reports that exist on disk.
    :param generated_at: when the page is made; now if ``None``.
    :param older_runs: whether the monitor has older comparisons than ``runs``
        (the page says so).
    :param segment: the segment the runs' results are of (the page says so).
    :param segment_links: the segment selector to show.
    :raises MonitorError: when a stored result lacks ``verdict`` or ``columns`` or
        has a wrong shape.
    """
    ordered = sorted(runs, key=lambda r: (_utc(r.at), _utc(r.run_at), r.comparison_id))
    try:
        columns = _read_columns(ordered)
        verdicts = [_verdict_text(r.result["verdict"]) for r in ordered]
        severities = [str(r.result["verdict"].get("severity") or "none") for r in ordered]
        drifted_runs = sum(bool(r.result["verdict"]["drifted"]) for r in ordered)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MonitorError(f"monitor {monitor!r}: malformed stored comparison result: {exc!r}") from exc
    hrefs = [_href(r.report_path, page_dir) for r in ordered]
    sections = [_section(c, f"col-{n}", ordered, hrefs) for n, c in enumerate(columns.values())]
    sections.sort(key=lambda s: (-s.drifted_runs, -(_utc(s.last_drift).timestamp() if s.last_drift else -math.inf),
                                 s.name))
    spans = _episode_spans(ordered, list(episodes))
    chart = _history_chart(monitor, ordered, hrefs, verdicts, sections, columns, spans) if ordered else None
    return HistoryPage(
        monitor=monitor,
        datasets=tuple(sorted({r.dataset for r in ordered})),
        generated_at=_utc(generated_at or datetime.now(timezone.utc)),
        runs=len(ordered),
        drifted_runs=drifted_runs,
        first_at=_utc(ordered[0].at) if ordered else None,
        last_at=_utc(ordered[-1].at) if ordered else None,
        columns=tuple(sections),
        episodes=tuple(_episode_row(e, [ordered[i] for i in idx], [severities[i] for i in idx]) for e, idx in spans),
        chart=chart,
        older_runs=older_runs,
        segment=segment,
        segment_links=tuple(segment_links),
    )


def _verdict_text(verdict: Mapping[str, Any]) -> str:
    """``"warning: drift in 3 of 30 columns"`` or ``"no drift"``."""
    if not verdict["drifted"]:
        return "no drift" if verdict.get("status") != "insufficient_data" else "insufficient data"
    return (f"{verdict.get('severity') or 'drift'}: drift in {verdict.get('drifted_columns', '?')} of "
            f"{verdict.get('columns_compared', '?')} columns")


def _href(report_path: str | None, page_dir: Path) -> str | None:
    """The report's path relative to ``page_dir``, URL-quoted; ``None`` when it
    is not a file."""
    if not report_path or not os.path.isfile(report_path):
        return None
    return quote(Path(os.path.relpath(os.path.abspath(report_path), os.path.abspath(page_dir))).as_posix())


def _read_columns(ordered: Sequence[HistoryRun]) -> dict[str, _Column]:
    """Every column's deciding-metric ratios, severities and drifts, per run."""
    labels = _run_labels(ordered)
    columns: dict[str, _Column] = {}
    for i, run in enumerate(ordered):
        joint = run.result.get("multivariate")  # the multivariate test, read as one more column
        for raw in [*run.result["columns"], *([joint] if joint else [])]:
            name = str(raw["column"])
            column = columns.get(name)
            if column is None:
                column = columns[name] = _Column(name, len(ordered))
            column.kind = str(raw.get("kind") or column.kind)
            _read_run(column, i, labels[i], raw)
    return columns


def _run_labels(ordered: Sequence[HistoryRun]) -> list[str]:
    """Each run's target time for a tooltip: the date, or date and time when two
    runs share a date."""
    dates = [_utc(r.at).strftime("%Y-%m-%d") for r in ordered]
    if len(set(dates)) == len(dates):
        return dates
    return [_utc(r.at).strftime("%Y-%m-%d %H:%M") for r in ordered]


def _real(value: object) -> float | None:
    """A JSON number as a float, else ``None`` (JSON gives ``int`` or ``float``;
    ``bool`` is not a number here). A type check, not an ABC check: this runs
    once per metric per column per run."""
    kind = type(value)
    return float(value) if kind is float or kind is int else None  # type: ignore[arg-type]


def _ratio_text(value: float) -> str:
    """A ratio for a tooltip, three significant digits (``"1.23"``, ``"∞"``)."""
    return f"{value:.3g}" if math.isfinite(value) and value < 1000 else fmt(value, 3)


def _read_run(column: _Column, i: int, label: str, raw: Mapping[str, Any]) -> None:
    """Read one column of one run into ``column``."""
    severity = str(raw.get("severity") or "none")
    worst: tuple[float, str] | None = None
    for metric in raw.get("metrics") or ():
        if not metric.get("decides"):
            continue
        name, direction = str(metric["name"]), str(metric.get("direction") or "higher")
        warning = _real(metric.get("warning"))
        ratio = warning_ratio(direction, _real(metric.get("value")), _real(metric.get("p_value")), warning)
        if ratio is None or ratio != ratio:  # NaN
            continue
        column.values(name)[i] = ratio
        critical = _real(metric.get("critical"))
        if critical is not None:
            limit = warning_ratio(direction, critical, critical, warning)
            if limit is not None and math.isfinite(limit):
                column.criticals[name] = limit
        if worst is None or ratio > worst[0]:
            worst = (ratio, name)
    if raw.get("status") == "drift":
        column.drifted.append(i)
    if worst is not None:
        tip = f"{label}: {_ratio_text(worst[0])}× {worst[1]}" + (f" ({severity})" if severity != "none" else "")
    else:
        tip = f"{label}: {str(raw.get('status') or 'no value').replace('_', ' ')}"
    column.marks[i] = (None if worst is None else worst[0], severity, tip)


def _section(column: _Column, anchor: str, ordered: Sequence[HistoryRun],
             hrefs: Sequence[str | None]) -> ColumnHistory:
    """The counts of one column."""
    last = max(column.drifted, key=lambda i: (_utc(ordered[i].at), i), default=None)
    return ColumnHistory(
        name=column.name,
        anchor=anchor,
        kind=column.kind,
        runs=len(column.marks),
        drifted_runs=len(column.drifted),
        last_drift=None if last is None else _utc(ordered[last].at),
        last_drift_href=None if last is None else hrefs[last],
        metrics=tuple(column.metrics),
    )


def _history_chart(
    monitor: str, ordered: Sequence[HistoryRun], hrefs: Sequence[str | None], verdicts: Sequence[str],
    sections: Sequence[ColumnHistory], columns: Mapping[str, _Column],
    spans: Sequence[tuple[HistoryEpisode, list[int]]],
) -> HistoryChart:
    """The chart: a panel per column (in the order of ``sections``), a strip per
    run holding its dots, a band per episode."""
    axis = TimeAxis([r.at for r in ordered])
    xs = [axis.x(r.at) for r in ordered]
    marks: list[list[Mark]] = [[] for _ in ordered]
    panels = [_panel(n, section, columns[section.name], axis, xs, marks) for n, section in enumerate(sections)]
    pad = half_gap(xs)
    bands = [b for b in (band([xs[i] for i in idx], pad, _episode_tip(e)) for e, idx in spans) if b is not None]
    runs = [
        RunStrip(x, width, hrefs[i], f"{when(ordered[i].at)} · {ordered[i].target_name}: {verdicts[i]}",
                 tuple(marks[i]))
        for i, (x, width) in enumerate(strips(xs))
    ]
    return HistoryChart(
        title=f"{monitor}: deciding metrics of each column as multiples of their warning thresholds",
        width=CHART_WIDTH, height=len(panels) * PANEL_HEIGHT, left=PLOT_LEFT, right=PLOT_RIGHT,
        bands=tuple(bands), panels=tuple(panels), runs=tuple(runs),
    )


def _panel(index: int, section: ColumnHistory, column: _Column, axis: TimeAxis, xs: Sequence[float],
           marks: list[list[Mark]]) -> Panel:
    """The panel of one column: a line per deciding metric; its dots go to ``marks`` (per run)."""
    top, plot_top, plot_bottom = panel_frame(index)
    highest = max((v for series in column.metrics.values() for v in series if v is not None and math.isfinite(v)),
                  default=0.0)
    scale = RatioScale(axis_top(highest, list(column.criticals.values())), plot_top, plot_bottom)
    colours = [n % SERIES_COLOURS for n in range(len(column.metrics))]
    lines = [t for colour, series in zip(colours, column.metrics.values()) for t in traces(colour, xs, series, scale)]
    for i, (worst, severity, tip) in column.marks.items():
        if worst is None:
            css = "blank"
        else:
            css = f"sev-{severity}" if severity in SEVERITY_RANK and severity != "none" else ""
            css += " over" if worst > scale.top else ""
        marks[i].append(Mark(xs[i], scale.y(worst or 0.0), css.strip(), tip))
    return Panel(
        anchor=section.anchor, name=short_name(section.name), full_name=section.name,
        summary=f"{section.kind} · {section.summary}", top=top, plot_top=plot_top, plot_bottom=plot_bottom,
        legend=legend(list(column.metrics), colours), rules=tuple(_rules(column.criticals, scale)),
        y_ticks=scale.ticks(), x_ticks=axis.ticks(plot_bottom + 15), traces=tuple(lines),
    )


def _rules(criticals: Mapping[str, float], scale: RatioScale) -> list[Rule]:
    """The warning line (1.0) and one line per distinct critical ratio, naming its metrics."""
    rules = [Rule(scale.y(1.0), "warning", "warning")]
    grouped: dict[float, list[str]] = {}
    for name, ratio in criticals.items():
        grouped.setdefault(round(ratio, 6), []).append(name)
    for ratio in sorted(grouped):
        label = f"critical {fmt(ratio, 3)}× ({', '.join(grouped[ratio])})"
        rules.append(Rule(scale.y(ratio), label, "critical"))
    return place_labels(rules)


def _episode_spans(ordered: Sequence[HistoryRun],
                   episodes: Sequence[HistoryEpisode]) -> list[tuple[HistoryEpisode, list[int]]]:
    """Each episode with the indexes (in ``ordered``) of the runs it covers.

    Runs are taken in the order they were recorded (``run_at``, then id). The
    episode was opened by the last run recorded at or before ``opened_at`` and
    resolved by the last run recorded at or before ``resolved_at``; it covers the
    runs from the first up to, not including, the second (the resolving run did
    not drift), or to the last run while open. An episode no stored run opened
    covers none.
    """
    by_run = sorted(range(len(ordered)), key=lambda i: (_utc(ordered[i].run_at), ordered[i].comparison_id))
    stamps = [_utc(ordered[i].run_at) for i in by_run]
    spans: list[tuple[HistoryEpisode, list[int]]] = []
    for episode in episodes:
        start = _last_at_or_before(stamps, _utc(episode.opened_at))
        if start is None:
            spans.append((episode, []))
            continue
        end = len(by_run)
        if episode.resolved_at is not None:
            resolving = _last_at_or_before(stamps, _utc(episode.resolved_at))
            end = max(start + 1, resolving if resolving is not None else start + 1)
        spans.append((episode, [by_run[k] for k in range(start, end)]))
    return spans


def _last_at_or_before(stamps: Sequence[datetime], moment: datetime) -> int | None:
    """Index of the last stamp at or before ``moment`` (stamps sorted), or ``None``."""
    index = bisect_right(stamps, moment)
    return index - 1 if index else None


def _episode_tip(episode: HistoryEpisode) -> str:
    """The tooltip of an episode's band."""
    end = f"resolved {when(episode.resolved_at)}" if episode.resolved_at else "still open"
    runs = f"{episode.runs} drifted run{'' if episode.runs == 1 else 's'}"
    return f"drift episode: opened {when(episode.opened_at)}, {end}; {runs}"


def _episode_row(episode: HistoryEpisode, covered: Sequence[HistoryRun], severities: Sequence[str]) -> EpisodeRow:
    """The table row of an episode."""
    targets = [_utc(r.at) for r in covered]
    worst = max(severities, key=lambda s: SEVERITY_RANK.get(s, 0), default=episode.severity)
    return EpisodeRow(
        opened_at=_utc(episode.opened_at),
        resolved_at=None if episode.resolved_at is None else _utc(episode.resolved_at),
        severity=worst,
        runs=episode.runs,
        first_target=min(targets, default=None),
        last_target=max(targets, default=None),
    )
