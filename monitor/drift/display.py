"""What a column's report shows, computed with the comparison: histogram bins,
summary statistics per side, the category chart data, new and vanished categories."""

from __future__ import annotations

from typing import Any

import numpy as np

from monitor.drift.inputs import ColumnInput
from monitor.drift.metrics import Bins, CategoryCells, CategoryCounts

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
