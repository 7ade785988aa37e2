"""What a column's report shows, computed with the comparison: the PSI bins as
chart data, summary statistics per side, the category chart data, new and
vanished categories, and the result's ``display``: a numeric column's histogram
on a value axis and both CDFs (:func:`numeric_display`), a categorical column's
largest changes in share (:func:`category_changes`). See docs/metrics.md, "What
the report draws"."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from monitor.drift.inputs import ColumnInput
from monitor.drift.metrics import Bins, CategoryCells, CategoryCounts, NumericSide

LIST_LIMIT = 50
"""Most categories listed as new or vanished, and most labels in a column's chart data."""
_SUMMARY_RANKS = (0.01, 0.5, 0.99)


def histogram(binned: Bins | None) -> dict[str, Any] | None:
    """The PSI bins as chart data: ``edges`` (``None`` for the open outer ends), ``baseline`` and
    ``target`` shares per bin; ``None`` without bins."""
    if binned is None:
        return None
    edges = [float(e) for e in binned.edges]
    inner = edges if len(edges) > 1 else edges * 2
    return {"edges": [None, *inner, None], "baseline": binned.baseline.tolist(), "target": binned.target.tolist()}


def side_stats(side: ColumnInput) -> dict[str, Any]:
    """One side's summary: count, missing, mean, std, min, max, p01, p50, p99 (numbers or ``None``),
    infinity counts when there are any, and the number of categories for categorical sides."""
    out: dict[str, Any] = {"count": side.rows, "missing": side.missing}
    num = side.numeric
    if num is not None:
        quants = num.quantiles(np.array(_SUMMARY_RANKS)) if num.n_finite else [None] * 3
        out.update(mean=num.mean, std=num.std, min=num.low, max=num.high,
                   p01=quants[0], p50=quants[1], p99=quants[2])
        if num.neg_inf or num.pos_inf:
            out.update(neg_inf=num.neg_inf, pos_inf=num.pos_inf)
    else:
        out.update(mean=None, std=None, min=None, max=None, p01=None, p50=None, p99=None)
    if side.categories is not None:
        out["categories"] = len(side.categories.counts)
    return out


def categories_block(cells: CategoryCells) -> dict[str, Any]:
    """Chart data of a categorical column: the ``LIST_LIMIT`` largest categories' shares per side,
    the rest (and "other") summed in one last label."""
    p = cells.baseline / max(cells.baseline.sum(), 1.0)
    q = cells.target / max(cells.target.sum(), 1.0)
    named = [i for i, label in enumerate(cells.labels) if label != cells.other_label]
    named.sort(key=lambda i: (-max(p[i], q[i]), cells.labels[i]))
    shown, rest = named[:LIST_LIMIT], named[LIST_LIMIT:]
    labels = [cells.labels[i] for i in shown]
    base, targ = [float(p[i]) for i in shown], [float(q[i]) for i in shown]
    extra = [i for i, label in enumerate(cells.labels) if label == cells.other_label] + rest
    if extra:
        labels.append(cells.other_label or "other")
        base.append(float(p[extra].sum()))
        targ.append(float(q[extra].sum()))
    return {"labels": labels, "baseline": base, "target": targ}


def appeared(side: CategoryCounts, other: CategoryCounts) -> tuple[dict[str, Any], ...]:
    """Categories of ``side`` that ``other`` certainly lacks (it has no "other" bucket),
    largest share first, at most ``LIST_LIMIT``."""
    if other.other or not side.total:
        return ()
    found = [(c, n / side.total) for c, n in side.counts.items() if n and c not in other.counts]
    found.sort(key=lambda item: (-item[1], item[0]))
    return tuple({"name": c, "share": s} for c, s in found[:LIST_LIMIT])


# ---------------------------------------------------------------------------
# a numeric column on a value axis: histogram and CDF

HISTOGRAM_BINS = 32
"""Most bins of a value-axis histogram (about 22 to 32, plus one when the range
straddles a bin edge): the bin width is the smallest "nice" step (1, 1.5, 2, 2.5,
3, 4, 5, 6 or 8 times a power of ten; whole numbers for integers, calendar-like
steps for datetimes) giving at most this many bins over the clip range."""
CLIP_RANKS = (0.01, 0.99)
"""The histogram's axis runs from the lower of the two sides' 1st percentiles to the
higher of their 99th, widened to whole bins; the rest is reported as clipped mass."""
CDF_RANKS = 24
"""Quantiles of each side at which the CDFs are evaluated (ranks 2% to 98%)."""
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
               86400, 172800, 604800, 1209600, 2592000, 7776000, 15552000, 31536000)
_NICE = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def _nice_step(raw: float, kind: str) -> float | None:
    """The smallest nice bin width at or above ``raw`` (seconds for datetimes); ``None`` when undefined."""
    if not math.isfinite(raw) or raw <= 0:
        return None
    if kind == "datetime" and raw <= _TIME_STEPS[-1]:
        return float(next(s for s in _TIME_STEPS if s >= raw))
    if kind == "datetime":
        years = _nice_step(raw / _TIME_STEPS[-1], "integer")
        return None if years is None else years * _TIME_STEPS[-1]
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in _NICE:
        step = factor * power
        if step >= raw * (1 - 1e-12) and (kind != "integer" or (step >= 1 and step == round(step))):
            return step
    return max(1.0, 10 * power) if kind == "integer" else 10 * power


def _clip_range(sides: list[NumericSide]) -> tuple[float, float] | None:
    """The lower 1st and higher 99th percentile of the sides with finite values
    (their minimum and maximum when those coincide)."""
    finite = [s for s in sides if s.n_finite and s.low is not None and s.high is not None]
    if not finite:
        return None
    ranks = np.array(CLIP_RANKS)
    cuts = [s.quantiles(ranks) for s in finite]
    lo, hi = min(float(c[0]) for c in cuts), max(float(c[1]) for c in cuts)
    if not hi > lo:
        lo, hi = min(float(s.low) for s in finite), max(float(s.high) for s in finite)  # type: ignore[arg-type]
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None


def value_edges(lo: float, hi: float, kind: str) -> np.ndarray | None:
    """Equal-width bin edges covering ``[lo, hi]``: bins ``[e_i, e_i+1)``, at most
    :data:`HISTOGRAM_BINS` of them, edges at multiples of a nice step (integers: bins
    centred on whole numbers); ``None`` when the range cannot be binned in float64."""
    offset = 0.5 if kind == "integer" else 0.0
    step = _nice_step((hi - lo) / HISTOGRAM_BINS if hi > lo else max(abs(lo) / 10, 1.0), kind)
    if step is None:
        return None
    first = math.floor((lo + offset) / step)
    last = max(math.floor((hi + offset) / step) + 1, first + 1)  # the last edge is beyond hi
    edges = np.array([float(f"{(k * step - offset):.15g}") for k in range(first, last + 1)])
    ok = bool(np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0))
    return edges if ok else None


def _below(side: NumericSide, points: np.ndarray) -> np.ndarray:
    """Share of the side's non-missing values strictly below each point, non-decreasing."""
    return np.maximum.accumulate(side.cdf(np.nextafter(points, -np.inf)))


def _round_sig(values: np.ndarray, digits: int) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in values.tolist()]


def _side_histogram(side: NumericSide, edges: np.ndarray) -> tuple[list[float], dict[str, float]]:
    below = _below(side, edges)
    density = np.clip(np.diff(below), 0.0, None) / np.diff(edges)
    return _round_sig(density, 5), {"below": round(float(below[0]), 6), "above": round(float(1.0 - below[-1]), 6)}


def value_histogram(b: NumericSide, t: NumericSide, kind: str) -> dict[str, Any] | None:
    """Both sides binned on one value axis, for the report's histogram.

    :param kind: the column kind (``integer``, ``decimal`` or ``datetime``: seconds since the epoch, UTC).
    :returns: ``{"kind", "clip_ranks", "clip": [lo, hi], "edges": [...], "baseline_density",
        "target_density", "clipped": {"baseline": {"below", "above"}, "target": ...}}``:
        ``edges`` increasing (bins ``[e_i, e_i+1)``), densities in share of the side's
        non-missing values per unit of value (density times width is the bin's share),
        ``clipped`` the shares below the first and at or above the last edge (infinities
        included), so each side's shares sum to 1; ``None`` when there is no finite range.
        Computed from the sides' CDFs: exact, or within the sketch's rank error per edge.
    """
    clip = _clip_range([b, t])
    edges = None if clip is None else value_edges(clip[0], clip[1], kind)
    if clip is None or edges is None:
        return None
    base, base_clip = _side_histogram(b, edges)
    targ, targ_clip = _side_histogram(t, edges)
    return {"kind": kind, "clip_ranks": list(CLIP_RANKS), "clip": _round_sig(np.array(clip), 8),
            "edges": edges.tolist(), "baseline_density": base, "target_density": targ,
            "clipped": {"baseline": base_clip, "target": targ_clip}}


def value_cdf(b: NumericSide, t: NumericSide, axis: tuple[float, float]) -> dict[str, Any] | None:
    """Both sides' CDFs ``F(x) = P[X <= x]`` (share of non-missing values) at common points.

    :param axis: the histogram's first and last edge, kept as points.
    :returns: ``{"x": [...], "baseline": [...], "target": [...]}``: ``x`` increasing from the
        smaller minimum to the larger maximum of the two sides, through both sides'
        quantiles at :data:`CDF_RANKS` ranks; the CDFs non-decreasing, 1 at the last point
        (less the share of +∞ values); ``None`` without finite values.
    """
    sides = [s for s in (b, t) if s.n_finite and s.low is not None and s.high is not None]
    if not sides:
        return None
    low, high = min(float(s.low) for s in sides), max(float(s.high) for s in sides)  # type: ignore[arg-type]
    ranks = np.linspace(0.02, 0.98, CDF_RANKS)
    inner = np.concatenate([np.asarray(s.quantiles(ranks), dtype=np.float64) for s in sides] + [np.array(axis)])
    resolution = 10.0 ** math.floor(math.log10(max(axis[1] - axis[0], 1e-300) / 1e5))
    inner = np.round(inner[np.isfinite(inner)] / resolution) * resolution
    inner = np.array(_round_sig(inner[(inner > low) & (inner < high)], 12))  # no float noise in the JSON
    x = np.unique(np.concatenate([[low], inner, [high]]))
    if not np.all(np.isfinite(x)):
        return None
    return {"x": x.tolist(), "baseline": _curve(b, x), "target": _curve(t, x)}


def _curve(side: NumericSide, x: np.ndarray) -> list[float]:
    out: list[float] = np.round(np.maximum.accumulate(side.cdf(x)), 4).tolist()
    return out


def value_kind(b: ColumnInput, t: ColumnInput) -> str:
    """How a numeric column's values are binned: ``integer`` when both sides are
    integers, ``datetime`` when both are datetimes, else ``decimal``."""
    kinds = {b.base_kind or b.kind, t.base_kind or t.kind}
    return kinds.pop() if len(kinds) == 1 and kinds <= {"integer", "datetime"} else "decimal"


def numeric_display(b: NumericSide, t: NumericSide, kind: str) -> dict[str, Any] | None:
    """What the report draws of a numeric column: ``{"histogram": value_histogram(...),
    "cdf": value_cdf(...)}``; ``None`` when the column has no finite range."""
    hist = value_histogram(b, t, kind)
    if hist is None:
        return None
    return {"histogram": hist, "cdf": value_cdf(b, t, (hist["edges"][0], hist["edges"][-1]))}


# ---------------------------------------------------------------------------
# a categorical column: the categories whose share changed most

TOP_CATEGORIES = 12
"""Categories listed by change in share; the rest are summed."""


def category_changes(cells: CategoryCells) -> dict[str, Any]:
    """The categories whose share of non-missing values changed most, for the report.

    :returns: ``{"rows": [{"name", "baseline", "target", "status"}], "rest": {"categories",
        "baseline", "target", "other"}}``: at most :data:`TOP_CATEGORIES` rows by absolute
        change in share (then larger share, then name); ``status`` is ``"new"`` (absent from
        the baseline), ``"vanished"`` (absent from the target), ``"other"`` (the cell of
        categories a profile could not count one by one) or ``None``; ``rest`` sums the
        categories not listed (``other`` tells whether that cell is among them).
    """
    p = cells.baseline / max(cells.baseline.sum(), 1.0)
    q = cells.target / max(cells.target.sum(), 1.0)
    labels = cells.labels
    order = sorted(range(len(labels)), key=lambda i: (-abs(q[i] - p[i]), -max(p[i], q[i]), labels[i]))
    top, rest = order[:TOP_CATEGORIES], order[TOP_CATEGORIES:]

    def status(i: int) -> str | None:
        if labels[i] == cells.other_label:
            return "other"
        return "new" if p[i] == 0 < q[i] else "vanished" if q[i] == 0 < p[i] else None

    rows = [{"name": labels[i], "baseline": round(float(p[i]), 6), "target": round(float(q[i]), 6),
             "status": status(i)} for i in top]
    other = any(labels[i] == cells.other_label for i in rest)
    return {"rows": rows, "rest": {"categories": len(rest), "baseline": round(float(p[rest].sum()), 6),
                                   "target": round(float(q[rest].sum()), 6), "other": other}}


# ---------------------------------------------------------------------------
# a vector column: its samples on the first two principal components

SCATTER_POINTS = 500
"""Most points of each side a vector column's scatter shows."""


def pca_scatter(baseline: np.ndarray, target: np.ndarray, limit: int = SCATTER_POINTS) -> dict[str, Any] | None:
    """A 2-D PCA projection of both sides' vector samples, for the report's scatter.

    The principal axes are fitted on the pooled samples (both sides' rows,
    centred on their pooled mean; numpy's SVD, as ``sklearn.decomposition.PCA``
    does); each axis's sign is chosen so its largest loading is positive. The
    first ``limit`` rows of each sample are projected (a stored sample is in
    random key order, so they are a uniform sub-sample).

    :param baseline: shape ``(n, dim)``; ``target`` shape ``(m, dim)``.
    :returns: ``{"explained": [r1, r2], "baseline": [[x, y], ...], "target": [[x, y], ...]}``,
        ``explained`` the shares of the pooled variance on each axis (0 for an axis of
        no variance), coordinates rounded to 5 significant digits; ``None`` when
        either side has no vector or the vectors have fewer than one dimension.
    """
    if baseline.ndim != 2 or target.ndim != 2 or not len(baseline) or not len(target) or baseline.shape[1] < 1:
        return None
    components, explained, mean = pca_axes(np.concatenate([baseline, target]).astype(np.float64))

    def project(x: np.ndarray) -> list[list[float]]:
        xy = (x[:limit].astype(np.float64) - mean) @ components.T
        return [[float(f"{v:.5g}") for v in row] for row in xy]

    return {"explained": [float(r) for r in explained], "baseline": project(baseline), "target": project(target)}


def pca_axes(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``k`` principal axes of ``x`` (shape ``(rows, dim)``).

    :returns: ``(components, explained, mean)``: components shape ``(k, dim)`` (rows
        of zeros past the data's rank or dimension), ``explained`` the share of the
        total variance along each (shape ``(k,)``), ``mean`` shape ``(dim,)``.
    """
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    flip = np.where(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)] < 0, -1.0, 1.0)
    vt = vt * flip[:, None]
    total = float((s ** 2).sum())
    components = np.zeros((k, x.shape[1]))
    explained = np.zeros(k)
    take = min(k, len(s))
    components[:take] = vt[:take]
    if total > 0:
        explained[:take] = s[:take] ** 2 / total
    return components, explained, mean
