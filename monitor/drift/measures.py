"""Measuring one column: each metric's value and the test that guards it
(:class:`Guarded`, at a per-pair level the comparison sets later), for numeric,
categorical, vector and missing values; :mod:`monitor.drift.compare` decides on them."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.drift import display
from monitor.drift.inputs import ColumnInput
from monitor.drift.metrics import (
    CategoryCells,
    CategoryCounts,
    NumericSide,
    category_cells,
    reconcile_cells,
    chi_square,
    empty_share,
    hellinger,
    js_distance,
    ks_test,
    linf_distance,
    mean_change,
    missing_rate_change,
    psi,
    quantile_bins,
    total_variation,
    wasserstein,
    wasserstein_normed,
)
from monitor.drift.noise import (
    NullFit,
    bootstrap_null,
    hellinger_rows,
    js_rows,
    psi_rows,
    two_proportion_p,
    two_proportion_p_many,
    welch_p,
)
from monitor.drift.settings import Severity
from monitor.drift.vectors import (
    MIN_SAMPLE,
    PermutationNull,
    VectorSide,
    classifier_auc,
    cosine_distance,
    guard_detail,
    mean_distance,
    kernel_matrix,
    mmd2_unbiased,
    one_thread,
    permutation_null,
    pooled_std,
    seed_of,
    sklearn_available,
)

if TYPE_CHECKING:
    from monitor.profile.model import DatasetProfile

# ---------------------------------------------------------------------------
# measuring one column


@dataclass(frozen=True)
class Guarded:
    """What a metric's noise guard says at a per-pair level ``alpha``.

    :ivar significant: the change is beyond sampling noise at that level.
    :ivar decision: the number compared with the absolute thresholds (the value,
        or for category shares the largest change among significant categories).
    :ivar relative: the number compared with the relative thresholds, or ``None``.
    :ivar detail: what the guard computed (p-value, allowance, alpha), for the result's detail.
    """

    significant: bool
    decision: float | None
    relative: float | None
    detail: Mapping[str, Any]


Guard = Callable[[float], Guarded]


@dataclass(frozen=True)
class _Measure:
    name: str
    value: float | None
    p_value: float | None
    decision: float | None
    detail: Mapping[str, Any]
    guard: Guard | None = None
    relative: float | None = None
    by_rows: bool = False
    at_least: Severity = "none"


def _undefined(name: str, reason: str) -> _Measure:
    return _Measure(name, None, None, None, {"reason": reason})


def _p_guard(value: float, p: float) -> Guard:
    return lambda a: Guarded(p <= a, value, None, {"p_value": p, "alpha": a})


def _null_guard(value: float, fit: Callable[[], NullFit]) -> Guard:
    def guard(a: float) -> Guarded:
        null = fit()
        allowance = null.quantile(a)
        return Guarded(value > allowance, value, None,
                       {"allowance": allowance, "alpha": a, "null_mean": null.mean, "draws": null.draws})
    return guard


def _numeric_measures(b: NumericSide, t: NumericSide, bins: int) -> tuple[list[_Measure], dict[str, Any] | None, float]:
    n, m = b.n, t.n
    d, p = ks_test(b, t)
    out = [_Measure("ks_statistic", d, p, d, {"n": n, "m": m}, guard=_p_guard(d, p)),
           _Measure("ks_test", d, p, p, {"n": n, "m": m})]
    binned = quantile_bins(b, t, bins)
    if binned is None:
        out += [_undefined(k, "the baseline has no finite values") for k in ("psi", "js_distance", "hellinger")]
    else:
        out += _share_measures(binned.baseline * n, binned.target * m, n, m)
    out += _moment_measures(b, t)
    return out, display.histogram(binned), d


_NULL_STATISTICS = {"psi": psi_rows, "js_distance": js_rows, "hellinger": hellinger_rows}


def _share_measures(base: np.ndarray, target: np.ndarray, n: int, m: int) -> list[_Measure]:
    """PSI, JS and Hellinger of two count vectors, guarded by one bootstrap of their null distribution."""
    used = (base > 0) | (target > 0)
    cb, ct = np.round(base[used]), np.round(target[used])
    p, q = base / max(n, 1), target / max(m, 1)
    cache: dict[str, NullFit] = {}

    def fit(name: str) -> Callable[[], NullFit]:
        def get() -> NullFit:
            if not cache:
                cache.update(bootstrap_null(cb, ct, _NULL_STATISTICS))
            return cache[name]
        return get

    value, js, hel = psi(p, q, n, m), js_distance(p, q), hellinger(p, q)
    detail = {"cells": int(used.sum()), "empty_share": [empty_share(n), empty_share(m)]}
    return [
        _Measure("psi", value, None, value, detail, guard=_null_guard(value, fit("psi"))),
        _Measure("js_distance", js, None, js, {"base": 2}, guard=_null_guard(js, fit("js_distance"))),
        _Measure("hellinger", hel, None, hel, {}, guard=_null_guard(hel, fit("hellinger"))),
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
    if change is None or b.mean is None or t.mean is None:
        return out + [_undefined("mean_change", "a mean is undefined")]
    p = welch_p(b.mean, b.std, b.n_finite, t.mean, t.std or 0.0, t.n_finite)
    return out + [_Measure("mean_change", abs(change), None, abs(change),
                           {"signed": change, "baseline_mean": b.mean, "target_mean": t.mean},
                           guard=_p_guard(abs(change), p))]


def _named(cells: CategoryCells) -> int:
    """How many leading cells are categories: all but a trailing "other" cell.

    "Other" holds the values a side's profile could not list (beyond its
    category cap), so its share on each side depends on which categories each
    side listed, chosen by their own frequencies: it moves with the caps, not
    only with the data (a week against a month of tail numbers: 5 to 10 points
    while no tail number's share moves by half a point). It is compared in PSI,
    JS, Hellinger and chi-square with the rest, but never decides
    ``linf_distance``; values beyond the cap are the concern of ``new_values``."""
    return len(cells.labels) - (1 if cells.other_label is not None else 0)


def _category_guard(cells: CategoryCells, n: int, m: int) -> Guard:
    k = _named(cells)
    p, q = cells.baseline[:k] / max(n, 1), cells.target[:k] / max(m, 1)
    diff = np.abs(p - q)
    pvals = two_proportion_p_many(cells.baseline[:k], n, cells.target[:k], m)

    def guard(a: float) -> Guarded:
        level = a / max(k, 1)
        hits = np.flatnonzero(pvals <= level)
        if not hits.size:
            return Guarded(False, None, None, {"alpha": a, "category_alpha": level, "significant_categories": 0})
        top = hits[np.argmax(diff[hits])]
        with np.errstate(divide="ignore"):
            rel = np.where(p[hits] > 0, diff[hits] / np.where(p[hits] > 0, p[hits], 1.0), np.inf)
        return Guarded(True, float(diff[top]), float(rel.max()),
                       {"alpha": a, "category_alpha": level, "significant_categories": int(hits.size),
                        "decisive_category": cells.labels[int(top)]})
    return guard


def _categorical_measures(b: CategoryCounts, t: CategoryCounts) -> tuple[list[_Measure], CategoryCells, float]:
    cells = reconcile_cells(category_cells(b, t), b.error, t.error)
    n, m = b.total, t.total
    p, q = cells.baseline / max(n, 1), cells.target / max(m, 1)
    k = _named(cells)
    linf = linf_distance(p[:k], q[:k]) if k else 0.0
    stat, pval, dof = chi_square(cells.baseline, cells.target)
    out = _share_measures(cells.baseline, cells.target, n, m)
    out += [
        _Measure("linf_distance", linf, None, linf, {"n": n, "m": m, "category": _argmax_label(cells, p[:k], q[:k]),
                                                     **_reconciled(cells)},
                 guard=_category_guard(cells, n, m)),
        _Measure("chi_square", stat, pval, pval, {"dof": dof, "cells": len(cells.labels)}),
    ]
    return out, cells, total_variation(p, q)


def _reconciled(cells: CategoryCells) -> dict[str, Any]:
    """``reconciled_rows: [baseline, target]`` when approximate counts were reconciled."""
    return {"reconciled_rows": list(cells.reconciled)} if any(cells.reconciled) else {}


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
    relative = abs(change) / rb if rb else (0.0 if rt == 0 else math.inf)
    rates["relative_change"] = change / rb if rb else (0.0 if rt == 0 else None)
    emptied = "target" if t.values == 0 and b.values else "baseline" if b.values == 0 and t.values else None
    detail: dict[str, Any] = {"signed": change, "relative": rates["relative_change"]}
    if emptied:
        detail["all_missing"] = emptied
    p = two_proportion_p(b.missing, b.rows, t.missing, t.rows)
    guard = lambda a: Guarded(p <= a, abs(change), relative, {"p_value": p, "alpha": a})  # noqa: E731
    return _Measure("missing_rate_change", abs(change), None, abs(change), detail, guard=guard, relative=relative,
                    by_rows=True, at_least="warning" if emptied else "none"), rates


def _vector_measures(b: VectorSide, t: VectorSide) -> tuple[list[_Measure], float]:
    """The vector metrics of two sides (:mod:`monitor.drift.vectors`), each guarded by the
    permutation null of the pooled samples (the AUC by its Mann-Whitney null); and the
    column's effect size, ``2 |AUC - 1/2|`` (0 when the AUC is undefined)."""
    scale = pooled_std(b.variance, b.n, t.variance, t.n)
    cos, dist = cosine_distance(b.mean, t.mean), mean_distance(b.mean, t.mean, scale)
    x, y = b.sample, t.sample
    if len(x) < 2 or len(y) < 2:
        reason = "a side's sample has fewer than 2 vectors"
        return [_undefined(k, reason) for k in ("cosine_distance", "mean_distance", "mmd", "classifier_auc")], 0.0
    with one_thread():
        sigma, kernel = kernel_matrix(np.concatenate([x, y]))
        mmd = mmd2_unbiased(kernel, len(x))
    cache: list[PermutationNull] = []

    def null() -> PermutationNull:
        if not cache:
            with one_thread():
                cache.append(permutation_null(b, t, kernel, mmd, scale))
        return cache[0]

    def scaled(value: float, fit: Callable[[PermutationNull], NullFit], square: bool) -> Guard:
        def guard(a: float) -> Guarded:
            got = null()
            allowance = fit(got).quantile(a)
            allowance = math.sqrt(max(allowance, 0.0)) if square else allowance
            return Guarded(value > allowance, value, None,
                           {"allowance": allowance, "null_scale": got.scale, **guard_detail(fit(got), a)})
        return guard

    def mmd_guard(a: float) -> Guarded:
        got = null()
        allowance = got.mmd.quantile(a)
        return Guarded(mmd > allowance, mmd, None,
                       {"allowance": allowance, "permutation_p": got.mmd_p, **guard_detail(got.mmd, a)})

    sizes = {"n": b.n, "m": t.n, "sample_n": len(x), "sample_m": len(y)}
    out = [
        _Measure("cosine_distance", cos, None, cos, sizes, guard=scaled(cos, lambda g: g.cosine, False))
        if cos is not None else _undefined("cosine_distance", "a mean vector is the zero vector"),
        _Measure("mean_distance", dist, None, dist, {"dim": b.dim}, guard=scaled(dist, lambda g: g.mean_sq, True))
        if dist is not None else _undefined("mean_distance", "a dimension without variance changed its mean"),
        _Measure("mmd", mmd, None, mmd, {"sigma": sigma, "kernel": "rbf"}, guard=mmd_guard),
    ]
    if not sklearn_available():
        out.append(_undefined("classifier_auc", "scikit-learn is not installed (pip install 'drift-monitor[vectors]')"))
        return out, 0.0
    if min(len(x), len(y)) < MIN_SAMPLE:
        out.append(_undefined("classifier_auc", f"a side's sample has fewer than {MIN_SAMPLE} vectors"))
        return out, 0.0
    fit = classifier_auc(x, y, seed=seed_of(x, y))
    out.append(_Measure("classifier_auc", fit.auc, fit.p_value, fit.auc,
                        {"held_out": {"baseline": fit.held_baseline, "target": fit.held_target}},
                        guard=_p_guard(fit.auc, fit.p_value)))
    return out, 2.0 * abs(fit.auc - 0.5)


def multivariate_measure(baseline: DatasetProfile, target: DatasetProfile) -> _Measure:
    """The ``multivariate_auc`` of two profiles' row samples (:mod:`monitor.drift.multivariate`),
    guarded by its Mann-Whitney null; undefined, with the reason, when a side keeps no sample."""
    from monitor.drift import multivariate as mv

    samples = mv.multivariate_inputs(baseline, target)
    if isinstance(samples, str):
        return _undefined("multivariate_auc", samples)
    fit = mv.domain_classifier(*samples)
    return _Measure("multivariate_auc", fit.auc, fit.p_value, fit.auc, mv.fit_summary(fit),
                    guard=_p_guard(fit.auc, fit.p_value))
