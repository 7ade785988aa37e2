"""Chart geometry: the baseline-versus-target bar charts of a column, laid out
as :class:`Chart` (with its :class:`Bar` and :class:`Tick` parts) in SVG user
units. Pure geometry; the macro ``chart`` in ``_macros.html`` draws it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.report.format import _number, fmt, pct

MAX_CATEGORIES = 20
"""Most category labels drawn in one chart; the largest shares are kept."""


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
