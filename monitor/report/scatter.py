"""Chart geometry of a vector column's PCA scatter: both sides' sample vectors
projected on the first two principal components of the pooled samples, as the
drift result's ``display["vector"]["pca"]`` carries them
(:func:`monitor.drift.display.pca_scatter`). Pure layout in SVG user units; the
macro ``pca_scatter`` in ``_macros.html`` draws it. The coordinates and the
variance shares come from the result; only positions, ticks and labels are
computed here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.report.charts import Tick
from monitor.report.distribution import _nice
from monitor.report.format import fmt

__all__ = ["ScatterChart", "ScatterPoint", "scatter_chart"]

WIDTH = 420
HEIGHT = 340
LEFT = 56.0
RIGHT = WIDTH - 14.0
TOP = 12.0
BOTTOM = HEIGHT - 44.0


@dataclass(frozen=True)
class ScatterPoint:
    """One sample vector: its SVG position, side and PCA coordinates."""

    x: float
    y: float
    side: str
    pc1: float
    pc2: float


@dataclass(frozen=True)
class ScatterChart:
    """Both sides' samples on PC1 (x) and PC2 (y) (``<svg class="chart scatter">``)."""

    column: str
    title: str
    points: tuple[ScatterPoint, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_label: str
    y_label: str
    counts: tuple[int, int]
    """Points drawn of the baseline and of the target."""
    width: int = WIDTH
    height: int = HEIGHT
    left: float = LEFT
    right: float = RIGHT
    top: float = TOP
    bottom: float = BOTTOM

    @property
    def caption(self) -> str:
        """What the chart shows, in words."""
        return (f"{self.counts[0]} baseline and {self.counts[1]} target sample vectors on the first two principal "
                "components of both samples pooled")


def _pairs(raw: object) -> list[tuple[float, float]] | None:
    if not isinstance(raw, (list, tuple)):
        return None
    out = []
    for item in raw:
        if not (isinstance(item, (list, tuple)) and len(item) == 2
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in item)):
            return None
        out.append((float(item[0]), float(item[1])))
    return out


def _range(values: Sequence[float]) -> tuple[float, float, float]:
    """``(lo, hi, step)``: nice bounds around ``values`` and the tick step."""
    lo, hi = min(values), max(values)
    if hi - lo <= 0:
        lo, hi = lo - 1.0, hi + 1.0
    step = _nice((hi - lo) / 5, "decimal")
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    return [k * step for k in range(round(lo / step), round(hi / step) + 1)]


def _label(axis: int, share: object) -> str:
    text = fmt(100 * float(share), 3) if isinstance(share, (int, float)) and math.isfinite(share) else "?"
    return f"PC{axis} ({text}% of variance)"


def scatter_chart(raw: Mapping[str, Any], column: str) -> ScatterChart | None:
    """The scatter of a result's ``display["vector"]["pca"]``; ``None`` when it is
    missing or malformed, or a side has no point."""
    base, targ = _pairs(raw.get("baseline")), _pairs(raw.get("target"))
    if not base or not targ:
        return None
    given = raw.get("explained")
    explained: list[Any] = list(given) + [None, None] if isinstance(given, (list, tuple)) else [None, None]
    every = base + targ
    x_lo, x_hi, x_step = _range([p[0] for p in every])
    y_lo, y_hi, y_step = _range([p[1] for p in every])

    def sx(v: float) -> float:
        return round(LEFT + (RIGHT - LEFT) * (v - x_lo) / (x_hi - x_lo), 1)

    def sy(v: float) -> float:
        return round(BOTTOM - (BOTTOM - TOP) * (v - y_lo) / (y_hi - y_lo), 1)

    points = tuple(ScatterPoint(sx(a), sy(b), side, a, b)
                   for side, pairs in (("baseline", base), ("target", targ)) for a, b in pairs)
    x_ticks = tuple(Tick(sx(v), BOTTOM + 15, fmt(0.0 if abs(v) < x_step * 1e-9 else v, 4), "middle")
                    for v in _ticks(x_lo, x_hi, x_step))
    y_ticks = tuple(Tick(LEFT - 6, sy(v) + 4, fmt(0.0 if abs(v) < y_step * 1e-9 else v, 4), "end")
                    for v in _ticks(y_lo, y_hi, y_step))
    return ScatterChart(column, f"{column}: sample vectors on the first two principal components", points,
                        x_ticks, y_ticks, _label(1, explained[0]), _label(2, explained[1]),
                        (len(base), len(targ)))
