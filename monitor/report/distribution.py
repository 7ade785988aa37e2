"""Chart geometry of a column's distribution as the drift result's ``display``
carries it: :func:`histogram_chart` (both sides on one value axis, density
scale), :func:`cdf_chart` (both CDFs on the same axis) and
:func:`category_chart` (the categories whose share changed most). Pure layout in
SVG user units; the macros ``value_histogram``, ``cdf`` and ``category_changes``
in ``_macros.html`` draw them. The numbers come from the result; only positions,
ticks and labels are computed here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from markupsafe import Markup

from monitor.report.charts import Tick, _y_scale
from monitor.report.format import _number, fmt, pct, pp

WIDTH = 500
HEIGHT = 236
LEFT = 52.0
RIGHT = WIDTH - 16.0
TOP = 12.0
BOTTOM = HEIGHT - 44.0
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
               86400, 172800, 604800, 1209600, 2592000, 5184000, 7776000, 15552000, 31536000)


@dataclass(frozen=True)
class HistogramBar:
    """One bin of one side: SVG rectangle plus the plotted numbers.

    :ivar lo: the bin's lower edge, in the column's values; ``hi`` its upper edge.
    :ivar density: share of the side's non-missing values per unit of value.
    """

    x: float
    y: float
    width: float
    height: float
    side: str
    lo: float
    hi: float
    density: float


@dataclass(frozen=True)
class ValueAxis:
    """A linear axis over ``[lo, hi]`` in the column's values, mapped to ``[LEFT, RIGHT]``."""

    lo: float
    hi: float
    kind: str
    ticks: tuple[Tick, ...]
    label: str

    def x(self, value: float) -> float:
        """SVG x of ``value``, clamped to the plot."""
        share = (value - self.lo) / (self.hi - self.lo)
        return round(LEFT + (RIGHT - LEFT) * min(max(share, 0.0), 1.0), 1)

    def xs(self, values: Sequence[float]) -> list[float]:
        """:meth:`x` of each of ``values``."""
        lo, hi, scale = self.lo, self.hi, (RIGHT - LEFT) / (self.hi - self.lo)
        return [round(LEFT + scale * (min(max(v, lo), hi) - lo), 1) for v in values]


@dataclass(frozen=True)
class ValueHistogram:
    """Both sides' histograms on one value axis (``<svg class="chart histogram">``).

    :ivar clipped: ``(side, below, above)`` shares outside the axis per side.
    """

    column: str
    title: str
    axis: ValueAxis
    bars: tuple[HistogramBar, ...]
    y_ticks: tuple[Tick, ...]
    y_label: str
    clipped: tuple[tuple[str, float, float], ...]
    caption: str
    bars_svg: Markup = Markup("")
    """:attr:`bars` as ``<rect>`` elements (see :func:`bars_svg`)."""
    width: int = WIDTH
    height: int = HEIGHT
    left: float = LEFT
    right: float = RIGHT
    top: float = TOP
    bottom: float = BOTTOM


@dataclass(frozen=True)
class CdfLine:
    """One side's CDF: ``points`` in SVG units (clamped to the axis), ``data`` the
    plotted ``x,F`` pairs in the column's values."""

    side: str
    points: str
    data: str


@dataclass(frozen=True)
class CdfChart:
    """Both sides' CDFs on the histogram's value axis (``<svg class="chart cdf">``)."""

    column: str
    title: str
    axis: ValueAxis
    lines: tuple[CdfLine, ...]
    y_ticks: tuple[Tick, ...]
    caption: str
    width: int = WIDTH
    height: int = HEIGHT
    left: float = LEFT
    right: float = RIGHT
    top: float = TOP
    bottom: float = BOTTOM


# --------------------------------------------------------------------------- #
# value axes


def _nice(raw: float, kind: str) -> float:
    if kind == "datetime" and raw <= _TIME_STEPS[-1]:
        return float(next(s for s in _TIME_STEPS if s >= raw))
    if kind == "datetime":
        return _nice(raw / _TIME_STEPS[-1], "integer") * _TIME_STEPS[-1]
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * power >= raw * (1 - 1e-12) and (kind != "integer" or factor * power >= 1):
            return factor * power
    return 10 * power


def tick_label(value: float, kind: str, step: float) -> str:
    """A tick label in the column's values: dates for datetimes (with the time of
    day when ticks are less than a day apart), else :func:`fmt`."""
    if kind == "datetime":
        try:
            moment = datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return fmt(value, 4)
        return moment.strftime("%Y-%m-%d" if step >= 86400 else "%m-%d %H:%M" if step >= 60 else "%H:%M:%S")
    return fmt(0.0 if abs(value) < step * 1e-9 else value, 4)


def value_axis(lo: float, hi: float, kind: str, label: str) -> ValueAxis:
    """A value axis over ``[lo, hi]`` with about five ticks at nice values."""
    step = _nice((hi - lo) / 6, kind)
    first = math.ceil(lo / step - 1e-9)
    values = [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]
    axis = ValueAxis(lo, hi, kind, (), label)
    ticks = tuple(Tick(axis.x(v), BOTTOM + 15, tick_label(v, kind, step), "middle") for v in values)
    return ValueAxis(lo, hi, kind, ticks, label)


def _floats(raw: object) -> list[float] | None:
    """``raw`` as a list of floats; ``None`` unless it is a list of numbers."""
    if not isinstance(raw, (list, tuple)):
        return None
    if all(type(v) is float or type(v) is int for v in raw):
        return [float(v) for v in raw]
    values = [_number(v) for v in raw]
    return None if any(v is None for v in values) else [float(v) for v in values if v is not None]


def _axis_label(column: str, kind: str, width: float | None) -> str:
    what = "time (UTC)" if kind == "datetime" else column
    if width is None:
        return what
    if kind == "datetime":
        return f"{what} · bins of {_duration(width)}"
    return f"{what} · bins of {fmt(width, 4)}"


def _duration(seconds: float) -> str:
    for unit, size in (("year", 31536000), ("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{fmt(seconds, 4)} s"


# --------------------------------------------------------------------------- #
# the histogram


def histogram_chart(raw: Mapping[str, Any], column: str) -> ValueHistogram | None:
    """The value-axis histogram of a result's ``display.histogram``; ``None`` when malformed.

    Bars have the height of the bin's share (density times the common bin width),
    so the y axis reads "% of values per bin"; both sides are scaled to their own
    non-missing values, so they compare whatever their sizes.
    """
    edges = _floats(raw.get("edges"))
    if not edges or len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        return None
    sides = {side: _floats(raw.get(f"{side}_density")) for side in ("baseline", "target")}
    if any(d is None or len(d) != len(edges) - 1 for d in sides.values()):
        return None
    kind = str(raw.get("kind") or "decimal")
    widths = [b - a for a, b in zip(edges, edges[1:])]
    shares = {side: [d * w for d, w in zip(dens or (), widths)] for side, dens in sides.items()}
    peak = max(shares["baseline"] + shares["target"], default=0.0)
    scale = 1.0 if 0.8 < peak <= 1.0 + 1e-3 else _y_scale([peak])  # a share never tops 100%
    axis = value_axis(edges[0], edges[-1], kind, _axis_label(column, kind, widths[0]))
    xs = axis.xs(edges)
    bars = []
    plot = BOTTOM - TOP
    for side in ("baseline", "target"):
        for i, (density, share) in enumerate(zip(sides[side] or (), shares[side])):
            if density > 0:
                height = round(plot * min(share / scale, 1.0), 1)
                bars.append(HistogramBar(xs[i], round(BOTTOM - height, 1), round(xs[i + 1] - xs[i], 1), height, side,
                                         edges[i], edges[i + 1], density))
    clipped = _clipped(raw.get("clipped"))
    return ValueHistogram(column, f"Histogram of {column}: baseline and target on one value axis", axis,
                          tuple(bars), _share_ticks(scale), "% of values per bin", clipped,
                          _histogram_caption(raw, clipped, kind), bars_svg(bars))


def bars_svg(bars: Sequence[HistogramBar]) -> Markup:
    """The bars as ``<rect>`` elements carrying their numbers (``data-side``,
    ``data-lo``, ``data-hi``, ``data-density``), built here rather than in the
    template because a page holds thousands. Only floats (written by ``repr``)
    and the side names ``baseline`` and ``target`` go in, so nothing needs escaping.

    :raises ValueError: on a side other than ``baseline`` or ``target``.
    """
    if any(b.side not in ("baseline", "target") for b in bars):
        raise ValueError("a histogram bar's side must be 'baseline' or 'target'")
    return Markup("\n".join(
        f'<rect x="{float(b.x)!r}" y="{float(b.y)!r}" width="{float(b.width)!r}" height="{float(b.height)!r}" '
        f'data-side="{b.side}" data-lo="{float(b.lo)!r}" data-hi="{float(b.hi)!r}" '
        f'data-density="{float(b.density)!r}"/>' for b in bars))


def _clipped(raw: object) -> tuple[tuple[str, float, float], ...]:
    out = []
    for side in ("baseline", "target"):
        part = raw.get(side) if isinstance(raw, Mapping) else None
        if isinstance(part, Mapping):
            out.append((side, _number(part.get("below")) or 0.0, _number(part.get("above")) or 0.0))
    return tuple(out)


def _histogram_caption(raw: Mapping[str, Any], clipped: Sequence[tuple[str, float, float]], kind: str) -> str:
    ranks = _floats(raw.get("clip_ranks")) or []
    clip = _floats(raw.get("clip")) or []
    text = ""
    if len(ranks) == 2 and len(clip) == 2:
        step = abs(clip[1] - clip[0]) or 1.0
        text = (f"Axis: the lower of the two sides' {pct(ranks[0])} quantiles ({tick_label(clip[0], kind, step)}) "
                f"to the higher of their {pct(ranks[1])} quantiles ({tick_label(clip[1], kind, step)}), "
                f"widened to whole bins. ")
    outside = [(side, below + above) for side, below, above in clipped]
    if any(share > 0 for _, share in outside):
        text += " and ".join(f"{pct(share, 2)} of {side}" for side, share in outside) + " outside the axis."
    else:
        text += "No value outside the axis."
    return text


def _share_ticks(scale: float) -> tuple[Tick, ...]:
    return tuple(Tick(LEFT - 6, round(BOTTOM - (BOTTOM - TOP) * share / scale + 4, 2), pct(share, 3), "end")
                 for share in (0.0, scale / 2, scale))


# --------------------------------------------------------------------------- #
# the CDF


def cdf_chart(raw: Mapping[str, Any], histogram: ValueHistogram) -> CdfChart | None:
    """Both CDFs of a result's ``display.cdf`` on ``histogram``'s value axis;
    points beyond the axis are drawn at its edges. ``None`` when malformed."""
    x = _floats(raw.get("x"))
    if not x:
        return None
    lines = []
    xs, plot = histogram.axis.xs(x), BOTTOM - TOP
    for side in ("baseline", "target"):
        values = _floats(raw.get(side))
        if values is None or len(values) != len(x):
            return None
        points = " ".join(f"{px!r},{round(BOTTOM - plot * f, 1)!r}" for px, f in zip(xs, values))
        data = " ".join(f"{v!r},{f!r}" for v, f in zip(x, values))
        lines.append(CdfLine(side, points, data))
    ticks = tuple(Tick(LEFT - 6, round(BOTTOM - (BOTTOM - TOP) * f + 4, 2), pct(f), "end") for f in (0, 0.5, 1.0))
    caption = ("Share of each side's non-missing values at or below x, from its profile (exact values or the "
               "quantile sketch); the steeper a rise, the more values there.")
    return CdfChart(histogram.column, f"Cumulative distribution of {histogram.column}: baseline and target",
                    histogram.axis, tuple(lines), ticks, caption)


# --------------------------------------------------------------------------- #
# categories by change in share


@dataclass(frozen=True)
class CategoryRow:
    """One listed category: its shares, where its bars go and its change in words."""

    name: str
    short: str
    baseline: float
    target: float
    status: str
    y: float
    baseline_width: float
    target_width: float
    change: str


@dataclass(frozen=True)
class CategoryChart:
    """The categories whose share changed most (``<svg class="chart categories">``)."""

    column: str
    title: str
    rows: tuple[CategoryRow, ...]
    rest: str
    scale: str
    width: int
    height: int
    bar_left: float
    bar_width: float


_ROW = 30.0
_CATEGORY_WIDTH = 660
_BAR_LEFT = 170.0
_BAR_WIDTH = 260.0


def _change_text(base: float, targ: float, status: str) -> str:
    if status == "new":
        return f"new · {pct(targ)}"
    if status == "vanished":
        return f"vanished · was {pct(base)}"
    return f"{pct(base)} → {pct(targ)} ({pp(targ - base)})"


def category_chart(raw: Mapping[str, Any], column: str) -> CategoryChart | None:
    """The chart of a result's ``display.categories``; ``None`` without rows."""
    rows_raw = [r for r in raw.get("rows") or () if isinstance(r, Mapping)]
    if not rows_raw:
        return None
    shares = [(_number(r.get("baseline")) or 0.0, _number(r.get("target")) or 0.0) for r in rows_raw]
    top = max((max(b, t) for b, t in shares), default=0.0) or 1.0
    rows = []
    for i, (r, (base, targ)) in enumerate(zip(rows_raw, shares)):
        name = str(r.get("name"))
        status = str(r.get("status") or "")
        short = name if len(name) <= 20 else name[:19] + "…"
        rows.append(CategoryRow(name, short, base, targ, status, 6 + i * _ROW,
                                round(_BAR_WIDTH * base / top, 2), round(_BAR_WIDTH * targ / top, 2),
                                _change_text(base, targ, status)))
    rest: Mapping[str, Any] = raw["rest"] if isinstance(raw.get("rest"), Mapping) else {}
    return CategoryChart(column, f"Categories of {column} whose share changed most", tuple(rows),
                         _rest_text(rest), f"bars to scale: the longest is {pct(top)}", _CATEGORY_WIDTH,
                         int(12 + len(rows) * _ROW), _BAR_LEFT, _BAR_WIDTH)


def _rest_text(rest: Mapping[str, Any]) -> str:
    count = int(_number(rest.get("categories")) or 0)
    if not count:
        return "Every category is listed."
    noun = "category" if count == 1 else "categories"
    other = " (with the profile's 'other' bucket)" if rest.get("other") else ""
    return (f"{count:,} more {noun}{other}: {pct(rest.get('baseline'))} of baseline and "
            f"{pct(rest.get('target'))} of target values.")
