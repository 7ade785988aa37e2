"""Time-series geometry: the history chart of a monitor (:class:`HistoryChart`:
one :class:`Panel` per column, stacked, sharing one time axis, with one
:class:`RunStrip` per run and a :class:`Band` per drift episode) and the index's
sparklines (:class:`Sparkline`), laid out in SVG user units. Pure geometry; the
macros ``history_chart`` and ``sparkline`` in ``_macros.html`` draw them.

The x axis is time, proportional: a run's x is its time's position between the
first and the last time shown. Each panel's y axis is a ratio to the warning
threshold (1.0 is the warning line), from 0 to a round top of its own; a value
above the top is drawn on it (its mark has the ``over`` class).

The panels share one SVG so that each run is one link: its :class:`RunStrip`
is a transparent band across every panel, and the run's dots in every panel
sit inside the same link. A page of a year of daily runs over 30 columns then
carries 365 links, not 10,950.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from monitor.report.charts import Tick
from monitor.report.format import _utc, fmt

CHART_WIDTH = 1040
PLOT_LEFT = 46.0
PLOT_RIGHT = CHART_WIDTH - 14.0
INSET = 6.0
"""Space between the plot's edges and the first and last runs."""
PANEL_HEIGHT = 168.0
PANEL_PLOT_TOP = 44.0
"""Offset of a panel's plot below the panel's top (the heading rows are above it)."""
PANEL_PLOT_HEIGHT = 100.0
X_TICKS = 6
"""Most date labels under a panel."""
TOP_CAP = 2.0
"""A panel's y axis reaches at most this many times its highest critical ratio
(5 without one), so one huge value does not flatten the rest."""
NAME_CHARACTERS = 70
"""Longest column name drawn in full; longer ones are cut, the full name in a tooltip."""

SPARK_WIDTH = 160
SPARK_HEIGHT = 28
SPARK_PAD = 3.0


@dataclass(frozen=True)
class Trace:
    """One polyline of a panel: the points of a series between two gaps."""

    series: int
    """Index of the series (its colour, ``s0``, ``s1``, ...)."""
    points: str
    """SVG ``points``: ``"x,y x,y ..."``."""


@dataclass(frozen=True)
class Mark:
    """One run's dot in one panel."""

    x: float
    y: float
    css: str
    """``""`` (severity none), ``sev-warning``, ``sev-critical`` or ``blank`` (no
    value), plus `` over`` when the value is above the axis."""
    tooltip: str


@dataclass(frozen=True)
class RunStrip:
    """One run across every panel: a transparent band and its dots, in one link."""

    x: float
    width: float
    href: str | None
    """Relative link to the comparison report, or ``None`` when it is not on disk."""
    tooltip: str
    marks: tuple[Mark, ...]


@dataclass(frozen=True)
class Band:
    """A shaded span of time across every panel: a drift episode."""

    x: float
    width: float
    tooltip: str


@dataclass(frozen=True)
class Rule:
    """A horizontal threshold line across a panel's plot, labelled at its right
    end (or its left end when another label would overlap)."""

    y: float
    label: str
    css: str
    """``warning`` or ``critical``."""
    label_x: float = PLOT_RIGHT - 4
    anchor: str = "end"


def place_labels(rules: Sequence[Rule], gap: float = 11.0) -> list[Rule]:
    """``rules`` with each label moved to the left end of its line when it would
    come within ``gap`` units of the label below it on the right."""
    placed: list[Rule] = []
    last_right: float | None = None
    last_left: float | None = None
    for rule in sorted(rules, key=lambda r: -r.y):
        if last_right is None or last_right - rule.y >= gap:
            placed.append(rule)
            last_right = rule.y
        elif last_left is None or last_left - rule.y >= gap:
            placed.append(replace(rule, label_x=PLOT_LEFT + 4, anchor="start"))
            last_left = rule.y
        else:
            placed.append(rule)
            last_right = rule.y
    return placed


@dataclass(frozen=True)
class LegendItem:
    """A series' swatch and name in a panel's heading."""

    x: float
    series: int
    label: str


@dataclass(frozen=True)
class Panel:
    """One column's chart inside the history chart."""

    anchor: str
    """The panel's ``id``, safe whatever the column's name."""
    name: str
    """The column's name, cut to :data:`NAME_CHARACTERS`."""
    full_name: str
    summary: str
    top: float
    plot_top: float
    plot_bottom: float
    legend: tuple[LegendItem, ...]
    rules: tuple[Rule, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    traces: tuple[Trace, ...]


@dataclass(frozen=True)
class HistoryChart:
    """The history chart, laid out for one inline SVG."""

    title: str
    width: int
    height: float
    left: float
    right: float
    bands: tuple[Band, ...]
    panels: tuple[Panel, ...]
    runs: tuple[RunStrip, ...]


@dataclass(frozen=True)
class Sparkline:
    """A small line of one number over a monitor's comparisons (0..1 scale)."""

    width: int
    height: int
    points: str
    """SVG ``points`` of the line."""
    dots: tuple[tuple[float, float, str], ...]
    """``(x, y, css)`` of the last run's dot."""
    title: str


# --------------------------------------------------------------------------- #
# axes


class TimeAxis:
    """Maps times to x positions between the plot's edges (inset by :data:`INSET`).

    :param times: the times to show (any order).
    """

    def __init__(self, times: Sequence[datetime]) -> None:
        stamps = [_utc(t).timestamp() for t in times]
        self.start = min(stamps, default=0.0)
        self.end = max(stamps, default=0.0)
        self.left, self.right = PLOT_LEFT + INSET, PLOT_RIGHT - INSET

    def x(self, moment: datetime) -> float:
        """The x position of ``moment``; the middle when every time is the same."""
        if self.end <= self.start:
            return round((self.left + self.right) / 2, 1)
        share = (_utc(moment).timestamp() - self.start) / (self.end - self.start)
        return round(self.left + share * (self.right - self.left), 1)

    def ticks(self, y: float, count: int = X_TICKS) -> tuple[Tick, ...]:
        """Up to ``count`` evenly spread date labels at height ``y``: dates, or
        dates and times when the span is under three days."""
        if self.end <= self.start:
            count = 1
        pattern = "%Y-%m-%d" if self.end - self.start >= 3 * 86400 else "%m-%d %H:%M"
        ticks = []
        for i in range(count):
            stamp = self.start + (self.end - self.start) * (i / (count - 1) if count > 1 else 0.0)
            moment = datetime.fromtimestamp(stamp, tz=timezone.utc)
            anchor = "middle" if count == 1 else "start" if i == 0 else "end" if i == count - 1 else "middle"
            ticks.append(Tick(self.x(moment), y, moment.strftime(pattern), anchor))
        return tuple(ticks)


def axis_top(highest: float, criticals: Sequence[float]) -> float:
    """A round top for a ratio axis: at least 1.5 and 1.1 × every critical ratio,
    enough for ``highest``, but at most :data:`TOP_CAP` × the highest critical
    ratio (5 without one)."""
    critical = max(criticals, default=0.0)
    floor = max(1.5, critical * 1.1)
    cap = TOP_CAP * (critical if critical > 0 else 2.5)
    wanted = min(max(highest, floor), max(cap, floor))
    step = 10 ** math.floor(math.log10(wanted))
    for factor in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if factor * step >= wanted - 1e-12:
            return float(factor * step)
    return wanted


class RatioScale:
    """Maps a ratio (0..``top``) to a y position in a panel's plot; values above
    ``top`` sit on it."""

    def __init__(self, top: float, plot_top: float, plot_bottom: float) -> None:
        self.top, self.plot_top, self.plot_bottom = top, plot_top, plot_bottom

    def y(self, ratio: float) -> float:
        """The y position of ``ratio`` (clamped to the plot)."""
        share = min(max(ratio, 0.0), self.top) / self.top
        return round(self.plot_bottom - share * (self.plot_bottom - self.plot_top), 1)

    def ticks(self) -> tuple[Tick, ...]:
        """Labels at 0, 1 (the warning line) and the top."""
        values = sorted({0.0, 1.0, self.top})
        return tuple(Tick(PLOT_LEFT - 5, self.y(v) + 4, fmt(v, 3) + "×", "end") for v in values)


# --------------------------------------------------------------------------- #
# parts


def traces(series: int, xs: Sequence[float], values: Sequence[float | None], scale: RatioScale) -> list[Trace]:
    """The polylines of one series: one per run of consecutive known values (a
    missing value breaks the line)."""
    out: list[Trace] = []
    current: list[str] = []
    top, bottom, height = scale.top, scale.plot_bottom, scale.plot_bottom - scale.plot_top
    for x, value in zip(xs, values):
        if value is None or value != value:  # missing or NaN
            if current:
                out.append(Trace(series, " ".join(current)))
            current = []
            continue
        y = round(bottom - (value if 0 < value < top else 0.0 if value <= 0 else top) / top * height, 1)
        current.append(f"{x:g},{y:g}")
    if current:
        out.append(Trace(series, " ".join(current)))
    return out


def half_gap(xs: Sequence[float]) -> float:
    """Half the median gap between neighbouring distinct x positions, between 1.5
    and 12 units: how far an episode's band reaches beyond its first and last run."""
    distinct = sorted(set(xs))
    gaps = sorted(b - a for a, b in zip(distinct, distinct[1:]))
    if not gaps:
        return 6.0
    return min(max(gaps[len(gaps) // 2] / 2, 1.5), 12.0)


def band(xs: Sequence[float], pad: float, tooltip: str) -> Band | None:
    """The shaded span covering the runs at ``xs``, ``pad`` units beyond each
    end, kept inside the plot; ``None`` without runs."""
    if not xs:
        return None
    low, high = max(min(xs) - pad, PLOT_LEFT), min(max(xs) + pad, PLOT_RIGHT)
    return Band(round(low, 1), round(high - low, 1), tooltip)


def strips(xs: Sequence[float]) -> list[tuple[float, float]]:
    """``(x, width)`` of each run's clickable band: from halfway to the previous
    distinct x to halfway to the next one (runs at the same x share it)."""
    distinct = sorted(set(xs))
    edges: dict[float, tuple[float, float]] = {}
    for i, x in enumerate(distinct):
        low = (distinct[i - 1] + x) / 2 if i else max(x - INSET, PLOT_LEFT)
        high = (distinct[i + 1] + x) / 2 if i + 1 < len(distinct) else min(x + INSET, PLOT_RIGHT)
        if len(distinct) == 1:
            low, high = PLOT_LEFT, PLOT_RIGHT
        edges[x] = (round(low, 1), round(high - low, 1))
    return [edges[x] for x in xs]


def panel_frame(index: int) -> tuple[float, float, float]:
    """``(top, plot_top, plot_bottom)`` of the ``index``-th panel."""
    top = index * PANEL_HEIGHT
    return top, top + PANEL_PLOT_TOP, top + PANEL_PLOT_TOP + PANEL_PLOT_HEIGHT


def legend(metrics: Sequence[str], series: Sequence[int]) -> tuple[LegendItem, ...]:
    """Legend items right-aligned on the heading row (about 6.5 units a character)."""
    items = []
    x = PLOT_RIGHT
    for name, colour in reversed(list(zip(metrics, series))):
        x -= 6.5 * len(name) + 24
        items.append(LegendItem(round(x, 1), colour, name))
    return tuple(reversed(items))


def short_name(name: str) -> str:
    """``name`` cut to :data:`NAME_CHARACTERS` characters (an ellipsis marks the cut)."""
    return name if len(name) <= NAME_CHARACTERS else name[: NAME_CHARACTERS - 1] + "…"


# --------------------------------------------------------------------------- #
# the sparkline


def sparkline(values: Sequence[float], severities: Sequence[str], title: str) -> Sparkline:
    """A sparkline of ``values`` (each clamped to 0..1), evenly spaced in the
    given order; a dot, coloured by its severity, marks the last run.

    :param severities: one per value.
    """
    count = len(values)
    inner = SPARK_WIDTH - 2 * SPARK_PAD
    height = SPARK_HEIGHT - 2 * SPARK_PAD

    def at(i: int, value: float) -> tuple[float, float]:
        x = SPARK_PAD + (inner * i / (count - 1) if count > 1 else inner / 2)
        y = SPARK_PAD + height * (1 - min(max(value, 0.0), 1.0))
        return round(x, 1), round(y, 1)

    spots = [at(i, v) for i, v in enumerate(values)]
    dots = [(spots[-1][0], spots[-1][1], f"sev-{severities[-1]}")] if spots and severities else []
    points = " ".join(f"{x:g},{y:g}" for x, y in spots)
    return Sparkline(SPARK_WIDTH, SPARK_HEIGHT, points, tuple(dots), title)
