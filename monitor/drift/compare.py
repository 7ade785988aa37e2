"""Measuring, deciding and concluding: each column's metrics from two
:class:`~monitor.drift.inputs.ColumnInput` sides, severities against the
thresholds (Benjamini-Hochberg across columns for p-value metrics), the dataset
verdict, and :func:`compare_profiles`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from monitor.drift.inputs import ColumnInput, input_from_profile
from monitor.drift.metrics import (
    CATEGORICAL_KINDS,
    EPSILON,
    NOISE_ALPHA,
    NOISE_C,
    CategoryCells,
    CategoryCounts,
    NumericSide,
    bh_adjust,
    category_cells,
    chi_square,
    empty_share,
    hellinger,
    js_distance,
    kind_family,
    ks_test,
    linf_distance,
    mean_change,
    missing_rate_change,
    noise_floor,
    psi,
    psi_noise,
    quantile_bins,
    type_change,
    wasserstein,
    wasserstein_normed,
)
from monitor.drift.overlap import new_values
from monitor.drift.registry import METRICS
from monitor.drift.results import ColumnDrift, DatasetDrift, MetricResult, Verdict
from monitor.drift.settings import DriftSettings, Severity, Threshold

if TYPE_CHECKING:
    from monitor.profile.model import DatasetProfile


LIST_LIMIT = 50
"""Most categories listed as new or vanished, and most labels in a column's chart data."""
_SUMMARY_RANKS = (0.01, 0.5, 0.99)


# ---------------------------------------------------------------------------
# measuring one column


@dataclass(frozen=True)
class _Measure:
    name: str
    value: float | None
    p_value: float | None
    decision: float | None
    detail: Mapping[str, Any]


def _undefined(name: str, reason: str) -> _Measure:
    return _Measure(name, None, None, None, {"reason": reason})


def _numeric_measures(b: NumericSide, t: NumericSide, bins: int) -> tuple[list[_Measure], dict[str, Any] | None, float]:
    n, m = b.n, t.n
    floor = noise_floor(n, m)
    d, p = ks_test(b, t)
    ks_detail = {"n": n, "m": m, "noise_floor": floor, "c": NOISE_C}
    out = [_Measure("ks_statistic", d, p, max(0.0, d - floor), ks_detail),
           _Measure("ks_test", d, p, p, {"n": n, "m": m})]
    binned = quantile_bins(b, t, bins)
    if binned is None:
        out += [_undefined(k, "the baseline has no finite values") for k in ("psi", "js_distance", "hellinger")]
    else:
        out += _share_measures(binned.baseline, binned.target, n, m)
    out += _moment_measures(b, t)
    return out, _histogram(binned), max(0.0, d - floor)


def _share_measures(p: np.ndarray, q: np.ndarray, n: int, m: int) -> list[_Measure]:
    cells = int(np.count_nonzero((p > 0) | (q > 0)))
    value = psi(p, q, n, m)
    allowance = psi_noise(cells, n, m)
    detail = {"cells": cells, "noise_allowance": allowance, "empty_share": [empty_share(n), empty_share(m)]}
    return [
        _Measure("psi", value, None, max(0.0, value - allowance), detail),
        _Measure("js_distance", js_distance(p, q), None, js_distance(p, q), {"base": 2}),
        _Measure("hellinger", hellinger(p, q), None, hellinger(p, q), {}),
    ]


def _moment_measures(b: NumericSide, t: NumericSide) -> list[_Measure]:
    w = wasserstein(b, t)
    infinite = b.neg_inf + b.pos_inf + t.neg_inf + t.pos_inf
    detail: dict[str, Any] = {"method": "exact" if b.values is not None and t.values is not None else "sketch"}
    if infinite:
        detail["excluded_infinities"] = infinite
    out = [_Measure("wasserstein", w, None, w, detail) if w is not None
           else _undefined("wasserstein", "a side has no finite values")]
    if w is None or not b.std:
        reason = "a side has no finite values" if w is None else "the baseline's standard deviation is 0 or undefined"
        return out + [_undefined("wasserstein_normed", reason), _undefined("mean_change", reason)]
    change = mean_change(b, t)
    normed = wasserstein_normed(w, b.std)
    out.append(_Measure("wasserstein_normed", normed, None, normed, {"baseline_std": b.std}))
    if change is None:
        return out + [_undefined("mean_change", "a mean is undefined")]
    return out + [_Measure("mean_change", abs(change), None, abs(change),
                           {"signed": change, "baseline_mean": b.mean, "target_mean": t.mean})]


def _categorical_measures(b: CategoryCounts, t: CategoryCounts) -> tuple[list[_Measure], CategoryCells, float]:
    cells = category_cells(b, t)
    n, m = b.total, t.total
    p, q = cells.baseline / max(n, 1), cells.target / max(m, 1)
    floor = noise_floor(n, m)
    linf = linf_distance(p, q)
    stat, pval, dof = chi_square(cells.baseline, cells.target)
    out = _share_measures(p, q, n, m)
    out += [
        _Measure("linf_distance", linf, None, max(0.0, linf - floor),
                 {"n": n, "m": m, "noise_floor": floor, "c": NOISE_C, "category": _argmax_label(cells, p, q)}),
        _Measure("chi_square", stat, pval, pval, {"dof": dof, "cells": len(cells.labels)}),
    ]
    return out, cells, max(0.0, linf - floor)


def _argmax_label(cells: CategoryCells, p: np.ndarray, q: np.ndarray) -> str | None:
    return cells.labels[int(np.argmax(np.abs(p - q)))] if p.size else None


def _missing_measure(b: ColumnInput, t: ColumnInput) -> tuple[_Measure, dict[str, float | None]]:
    rb = b.missing / b.rows if b.rows else None
    rt = t.missing / t.rows if t.rows else None
    rates: dict[str, float | None] = {"baseline": rb, "target": rt, "change": None, "relative_change": None}
    change = missing_rate_change(b.missing, b.rows, t.missing, t.rows)
    if rb is None or rt is None or change is None:
        return _undefined("missing_rate_change", "a snapshot has no rows"), rates
    rates["change"] = change
    rates["relative_change"] = change / rb if rb else (0.0 if rt == 0 else None)
    floor = noise_floor(b.rows, t.rows)
    detail = {"signed": change, "relative": rates["relative_change"], "noise_floor": floor, "c": NOISE_C}
    return _Measure("missing_rate_change", abs(change), None, max(0.0, abs(change) - floor), detail), rates


# ---------------------------------------------------------------------------
# what a column's report shows


def _histogram(binned: Any) -> dict[str, Any] | None:
    if binned is None:
        return None
    edges = [float(e) for e in binned.edges]
    inner = edges if len(edges) > 1 else edges * 2
    return {"edges": [None, *inner, None], "baseline": binned.baseline.tolist(), "target": binned.target.tolist()}


def _side_stats(side: ColumnInput) -> dict[str, Any]:
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


def _categories_block(cells: CategoryCells) -> dict[str, Any]:
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


def _appeared(side: CategoryCounts, other: CategoryCounts) -> tuple[dict[str, Any], ...]:
    """Categories of ``side`` that ``other`` certainly lacks (it has no "other" bucket)."""
    if other.other or not side.total:
        return ()
    found = [(c, n / side.total) for c, n in side.counts.items() if n and c not in other.counts]
    found.sort(key=lambda item: (-item[1], item[0]))
    return tuple({"name": c, "share": s} for c, s in found[:LIST_LIMIT])


# ---------------------------------------------------------------------------
# one column, before decisions


def _retyped(b: ColumnInput, t: ColumnInput) -> bool:
    return type_change(b.base_kind or b.kind, t.base_kind or t.kind) > 0


def _comparable(b: ColumnInput, t: ColumnInput) -> bool:
    return kind_family(b.base_kind or b.kind) == kind_family(t.base_kind or t.kind)


def _one_sided(col: ColumnInput, status: str) -> ColumnDrift:
    stats = _side_stats(col)
    return ColumnDrift(col.name, col.kind, status, "none", None, (), None,
                       stats if status == "removed" else None, stats if status == "added" else None)


def _insufficient(b: ColumnInput, t: ColumnInput, minimum: int) -> str | None:
    for label, side in (("baseline", b), ("target", t)):
        if side.rows == 0:
            return f"the {label} has no rows"
        if side.values == 0:
            return f"the {label} has no values ({side.missing:,} of {side.rows:,} rows missing)"
        if side.values < minimum:
            noun = "value" if side.values == 1 else "values"
            return f"the {label} has {side.values:,} {noun}; at least {minimum:,} (min_values) are needed on each side"
    return None


def _measure_column(b: ColumnInput | None, t: ColumnInput | None, settings: DriftSettings) -> ColumnDrift:
    if b is None or t is None:
        side = t if b is None else b
        assert side is not None
        return _one_sided(side, "added" if b is None else "removed")
    missing, rates = _missing_measure(b, t)
    measures = [missing]
    if _retyped(b, t):
        measures.append(_Measure("type_change", 1.0, None, 1.0, {"baseline": b.kind, "target": t.kind}))
    col = ColumnDrift(b.name, t.kind, "ok", "none", None, (), rates, _side_stats(b), _side_stats(t), eligible=True)
    short = _insufficient(b, t, settings.min_values)
    if not _comparable(b, t):
        reason = f"type changed from {b.kind} to {t.kind}; the distributions are not compared"
        col = replace(col, status="not_comparable", reason=reason)
    elif b.values and t.values:
        col, more = _distribution(col, b, t, settings)
        measures += more
    if short is not None:
        reason = short + (f"; {col.reason}" if col.reason else "")
        return _with(col, settings, measures, status="insufficient_data", reason=reason, eligible=False)
    return _with(col, settings, measures)


def _distribution(col: ColumnDrift, b: ColumnInput, t: ColumnInput,
                  settings: DriftSettings) -> tuple[ColumnDrift, list[_Measure]]:
    as_categories = b.kind in CATEGORICAL_KINDS and t.kind in CATEGORICAL_KINDS
    if b.numeric is not None and t.numeric is not None and not (as_categories and b.categories and t.categories):
        measures, hist, magnitude = _numeric_measures(b.numeric, t.numeric, settings.bins)
        notes = ("interpolated",) if b.numeric.interpolated or t.numeric.interpolated else ()
        sketch = ("sketch",) if b.numeric.values is None or t.numeric.values is None else ()
        return replace(col, histogram=hist, magnitude=magnitude, notes=notes + sketch), measures
    if b.categories is not None and t.categories is not None:
        measures, cells, magnitude = _categorical_measures(b.categories, t.categories)
        notes = ("other",) if b.categories.other or t.categories.other else ()
        new = new_values(b, t)  # set overlap of the distinct values (monitor.drift.overlap)
        measures.append(_Measure("new_values", new.value, None, new.decision, new.detail))
        return replace(col, categories=_categories_block(cells), magnitude=magnitude, notes=notes,
                       new_categories=_appeared(t.categories, b.categories), reason=new.note or col.reason,
                       vanished_categories=_appeared(b.categories, t.categories)), measures
    return replace(col, status="not_comparable", reason="the two sides have no comparable summaries"), []


def _with(col: ColumnDrift, settings: DriftSettings, measures: list[_Measure], *, status: str | None = None,
          reason: str | None = None, eligible: bool | None = None) -> ColumnDrift:
    ok = col.eligible if eligible is None else eligible
    results = tuple(_result(m, settings.threshold(m.name, col.column), ok) for m in measures)
    return replace(col, metrics=results, status=status or col.status, reason=reason or col.reason, eligible=ok)


def _result(m: _Measure, th: Threshold, eligible: bool) -> MetricResult:
    decides = eligible and m.decision is not None and (th.warning is not None or th.critical is not None)
    return MetricResult(m.name, m.value, m.p_value, METRICS[m.name].direction, th.warning, th.critical,
                        "none", decides, m.decision, m.detail)


# ---------------------------------------------------------------------------
# decisions


def _rank(sev: str) -> int:
    return ("none", "warning", "critical").index(sev)


def _higher_severity(v: float, th: MetricResult) -> Severity:
    if th.critical is not None and v >= th.critical:
        return "critical"
    return "warning" if th.warning is not None and v >= th.warning else "none"


def _p_severity(p: float, th: MetricResult) -> Severity:
    if th.critical is not None and p <= th.critical:
        return "critical"
    return "warning" if th.warning is not None and p <= th.warning else "none"


def _decide_metric(m: MetricResult, bh: tuple[float, bool] | None) -> MetricResult:
    if not m.decides or m.decision_value is None:
        return m
    if m.direction == "higher":
        return replace(m, severity=_higher_severity(m.decision_value, m))
    adjusted, rejected = bh if bh is not None else (m.decision_value, True)
    detail = {**m.detail, "p_adjusted": adjusted, "bh_rejected": rejected}
    return replace(m, severity=_p_severity(m.decision_value, m) if rejected else "none", detail=detail)


def _bh_table(columns: Sequence[ColumnDrift], fdr: float) -> dict[tuple[int, str], tuple[float, bool]]:
    keys = [(i, m.name) for i, c in enumerate(columns) for m in c.metrics
            if m.direction == "p_value" and m.decides and m.decision_value is not None]
    values = [float(columns[i].metric(name).decision_value) for i, name in keys]  # type: ignore[union-attr, arg-type]
    adjusted = bh_adjust(values)
    return {key: (float(a), bool(a <= fdr)) for key, a in zip(keys, adjusted)}


def _decide_column(i: int, col: ColumnDrift, bh: Mapping[tuple[int, str], tuple[float, bool]]) -> ColumnDrift:
    metrics = tuple(_decide_metric(m, bh.get((i, m.name))) for m in col.metrics)
    flagged = [m for m in metrics if m.severity != "none"]
    severity: Severity = max((m.severity for m in flagged), key=_rank, default="none")
    status, reason = col.status, col.reason
    if severity != "none" and status in ("ok", "not_comparable"):
        status = "drift"
        reason = "; ".join(_why(m) for m in flagged) + (f" ({col.reason})" if col.reason else "")
    return replace(col, metrics=metrics, severity=severity if status == "drift" else "none",
                   status=status, reason=reason)


def _why(m: MetricResult) -> str:
    limit = m.critical if m.severity == "critical" else m.warning
    if m.direction == "p_value":
        return f"{m.name} p={m.decision_value:.3g} <= {m.severity} {limit:g} (Benjamini-Hochberg rejected)"
    shown = f"{m.value:.4g}" + (f", {m.decision_value:.4g} beyond noise" if m.decision_value != m.value else "")
    return f"{m.name} {shown} >= {m.severity} {limit:g}"


def _verdict(columns: Sequence[ColumnDrift]) -> Verdict:
    compared = [c for c in columns if c.status in ("ok", "drift", "not_comparable")]
    drifted = [c for c in columns if c.status == "drift"]
    mags = [c.magnitude for c in columns if c.status in ("ok", "drift") and c.magnitude is not None]
    return Verdict(
        drifted=bool(drifted),
        severity=max((c.severity for c in drifted), key=_rank, default="none"),
        drifted_columns=len(drifted),
        columns_compared=len(compared),
        share_drifted=len(drifted) / len(compared) if compared else 0.0,
        magnitude=float(np.mean(mags)) if mags else 0.0,
        insufficient_data=sum(c.status == "insufficient_data" for c in columns),
    )


# ---------------------------------------------------------------------------
# the comparison


def _schema(base: Mapping[str, ColumnInput], target: Mapping[str, ColumnInput]) -> dict[str, Any]:
    retyped = [{"column": n, "baseline": base[n].kind, "target": target[n].kind}
               for n in base if n in target and _retyped(base[n], target[n])]
    return {"added": [n for n in target if n not in base], "removed": [n for n in base if n not in target],
            "retyped": retyped}


def _notes(mode: str, columns: Sequence[ColumnDrift], settings: DriftSettings, bh: Mapping[Any, Any]) -> list[str]:
    notes = [
        f"Decisions use effect sizes: KS statistic, L-infinity distance and missing-rate change are compared "
        f"with their thresholds after subtracting {NOISE_C:.4f} * sqrt(1/n + 1/m) (Deequ's robust L-infinity, "
        f"alpha = {NOISE_ALPHA:g}); PSI after subtracting (1/n + 1/m) * chi2.ppf({1 - NOISE_ALPHA:g}, cells - 1), "
        f"its {100 * (1 - NOISE_ALPHA):g}th percentile under no drift.",
        f"Columns with fewer than {settings.min_values:,} values on either side are 'insufficient data', never drift.",
        f"PSI: natural logarithm, shares (empty bins included) floored at max({EPSILON:g}, 1/(2 n)); "
        f"JS distance in base 2.",
    ]
    if bh:
        names = sorted({name for _, name in bh})
        rejected = sum(r for _, r in bh.values())
        notes.append(f"Benjamini-Hochberg correction at false-discovery rate {settings.fdr:g} over {len(bh)} "
                     f"p-values ({', '.join(names)}): {rejected} rejected.")
    else:
        notes.append("p-values (ks_test, chi_square) are reported but decide nothing: no thresholds are set for them.")
    notes += _mode_notes(mode, columns)
    return notes


def _mode_notes(mode: str, columns: Sequence[ColumnDrift]) -> list[str]:
    if mode == "exact":
        return ["Exact mode: every metric computed from the data copies with scipy and numpy."]
    notes = []
    sketched = [c.column for c in columns if "sketch" in c.notes]
    if sketched:
        notes.append(f"Profile mode: numeric metrics of {len(sketched)} column(s) come from KLL quantile sketches "
                     f"(KS and bins within the sketches' rank error); the others from exact values.")
    capped = [c.column for c in columns if "other" in c.notes]
    if capped:
        notes.append(f"Categories beyond a profile's cap are compared as one 'other' cell (exact mode counts every "
                     f"category): {', '.join(capped)}.")
    interp = [c.column for c in columns if "interpolated" in c.notes]
    if interp:
        notes.append(f"Re-bucketed onto the union of bin edges assuming uniform mass within each bin (as TFDV): "
                     f"{', '.join(interp)}.")
    return notes


def compare_columns(mode: Literal["profile", "exact"], rows: tuple[int, int], base: Mapping[str, ColumnInput],
             target: Mapping[str, ColumnInput], settings: DriftSettings) -> DatasetDrift:
    names = list(dict.fromkeys([*base, *target]))
    drafts = [_measure_column(base.get(n), target.get(n), settings) for n in names]
    bh = _bh_table(drafts, settings.fdr)
    columns = tuple(_decide_column(i, c, bh) for i, c in enumerate(drafts))
    settings_out = {"min_values": settings.min_values, "fdr": settings.fdr, "bins": settings.bins,
                    "bh_applied": bool(bh), "noise_c": NOISE_C, "noise_alpha": NOISE_ALPHA, "epsilon": EPSILON,
                    "notes": _notes(mode, columns, settings, bh)}
    row_count = {"baseline": rows[0], "target": rows[1], "change": (rows[1] - rows[0]) / rows[0] if rows[0] else None}
    return DatasetDrift(mode, _verdict(columns), _schema(base, target), row_count, settings_out, columns)


def compare_profiles(baseline: DatasetProfile, target: DatasetProfile,
                     settings: DriftSettings | None = None) -> DatasetDrift:
    """Compare a target snapshot's profile with its baseline's.

    :param baseline: the baseline (reference) profile; ``target`` the current one.
    :param settings: thresholds and decision settings (default :class:`DriftSettings()`).
    :returns: a :class:`DatasetDrift` with ``mode == "profile"``.
    """
    base = {name: input_from_profile(col) for name, col in baseline.columns.items()}
    targ = {name: input_from_profile(col) for name, col in target.columns.items()}
    return compare_columns("profile", (baseline.row_count, target.row_count), base, targ, settings or DriftSettings())
