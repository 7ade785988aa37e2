"""Deciding and concluding: each column's metrics (measured by
:mod:`monitor.drift.measures`) from two :class:`~monitor.drift.inputs.ColumnInput` sides, severities against the
thresholds (each effect size guarded by a test at the dataset's false-alarm rate
split over the deciding pairs, see :mod:`monitor.drift.noise`;
Benjamini-Hochberg across columns for p-value metrics), the dataset verdict,
and :func:`compare_profiles`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from monitor.drift import display
from monitor.drift.inputs import ColumnInput, input_from_profile
from monitor.drift.metrics import (
    CATEGORICAL_KINDS,
    EPSILON,
    bh_adjust,
    column_removed,
    kind_family,
    row_count_change,
    type_change,
)
from monitor.drift.measures import (
    _categorical_measures,
    _Measure,
    _missing_measure,
    _numeric_measures,
    _vector_measures,
    multivariate_measure,
)
from monitor.drift.noise import pair_alpha
from monitor.drift.overlap import new_values
from monitor.drift.registry import METRICS
from monitor.drift.results import ColumnDrift, DatasetDrift, MetricResult, Verdict
from monitor.drift.settings import DriftSettings, Severity, Threshold
from monitor.drift.vectors import VectorSide

if TYPE_CHECKING:
    from monitor.profile.model import DatasetProfile


# ---------------------------------------------------------------------------
# one column, before decisions


@dataclass(frozen=True)
class _Draft:
    """A column measured, waiting for the per-pair test level."""

    column: ColumnDrift
    measures: list[_Measure]
    rows_ok: bool
    values_ok: bool
    effects: list[float] = field(default_factory=list)

    def deciding(self, settings: DriftSettings) -> list[_Measure]:
        """Its guarded measures that can decide (threshold set, enough data)."""
        return [m for m in self.measures if m.guard is not None and m.decision is not None
                and (self.rows_ok if m.by_rows else self.values_ok)
                and settings.threshold(m.name, self.column.column).enabled]


def _retyped(b: ColumnInput, t: ColumnInput) -> bool:
    return type_change(b.base_kind or b.kind, t.base_kind or t.kind) > 0


def _comparable(b: ColumnInput, t: ColumnInput) -> bool:
    return kind_family(b.base_kind or b.kind) == kind_family(t.base_kind or t.kind)


def _one_sided(col: ColumnInput, status: str) -> _Draft:
    stats = display.side_stats(col)
    drift = ColumnDrift(col.name, col.kind, status, "none", None, (), None,
                        stats if status == "removed" else None, stats if status == "added" else None)
    if status == "added":
        return _Draft(drift, [], False, False)
    removed = _Measure("column_removed", column_removed(False), None, 1.0, {"baseline_kind": col.kind}, by_rows=True)
    return _Draft(replace(drift, magnitude=1.0, reason="the column is missing from the target"), [removed],
                  True, False, [1.0])


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


def _measure_column(b: ColumnInput | None, t: ColumnInput | None, settings: DriftSettings) -> _Draft:
    if b is None or t is None:
        side = t if b is None else b
        assert side is not None
        return _one_sided(side, "added" if b is None else "removed")
    missing, rates = _missing_measure(b, t)
    measures = [missing]
    effects = [abs(rates["change"] or 0.0)]
    if bool(b.values) != bool(t.values):
        effects.append(1.0)  # values on one side only: the distributions share nothing
    if _retyped(b, t):
        measures.append(_Measure("type_change", 1.0, None, 1.0, {"baseline": b.kind, "target": t.kind}, by_rows=True))
        effects.append(1.0)
    col = ColumnDrift(b.name, t.kind, "ok", "none", None, (), rates, display.side_stats(b), display.side_stats(t),
                      eligible=True)
    short = _insufficient(b, t, settings.min_values)
    if not _comparable(b, t):
        reason = f"type changed from {b.kind} to {t.kind}; the distributions are not compared"
        col = replace(col, status="not_comparable", reason=reason)
    elif b.values and t.values:
        col, more = _distribution(col, b, t, settings)
        measures += more
        effects.append(col.magnitude or 0.0)
    rows_ok = min(b.rows, t.rows) >= settings.min_values
    if short is not None:
        reason = short + (f"; {col.reason}" if col.reason else "")
        col = replace(col, status="insufficient_data", reason=reason, eligible=False)
    col = replace(col, magnitude=max(effects))
    return _Draft(col, measures, rows_ok, short is None, effects)


def _distribution(col: ColumnDrift, b: ColumnInput, t: ColumnInput,
                  settings: DriftSettings) -> tuple[ColumnDrift, list[_Measure]]:
    if b.vector is not None and t.vector is not None:
        return _vector_distribution(col, b.vector, t.vector)
    as_categories = b.kind in CATEGORICAL_KINDS and t.kind in CATEGORICAL_KINDS
    if b.numeric is not None and t.numeric is not None and not (as_categories and b.categories and t.categories):
        measures, hist, effect = _numeric_measures(b.numeric, t.numeric, settings.bins)
        notes = ("interpolated",) if b.numeric.interpolated or t.numeric.interpolated else ()
        sketch = ("sketch",) if b.numeric.values is None or t.numeric.values is None else ()
        shown = display.numeric_display(b.numeric, t.numeric, display.value_kind(b, t))
        return replace(col, histogram=hist, display=shown, magnitude=effect, notes=notes + sketch), measures
    if b.categories is not None and t.categories is not None:
        measures, cells, effect = _categorical_measures(b.categories, t.categories)
        notes = ("other",) if b.categories.other or t.categories.other else ()
        new = new_values(b, t)  # set overlap of the distinct values (monitor.drift.overlap)
        measures.append(_Measure("new_values", new.value, None, new.decision, new.detail))
        if new.decision is not None and new.value is not None:
            effect = max(effect, new.value)  # all values replaced: 1, even where every cell is "other"
        return replace(col, categories=display.categories_block(cells), magnitude=effect, notes=notes,
                       display={"categories": display.category_changes(cells)},
                       new_categories=display.appeared(t.categories, b.categories), reason=new.note or col.reason,
                       vanished_categories=display.appeared(b.categories, t.categories)), measures
    return replace(col, status="not_comparable", reason="the two sides have no comparable summaries"), []


def _vector_distribution(col: ColumnDrift, b: VectorSide, t: VectorSide) -> tuple[ColumnDrift, list[_Measure]]:
    if b.dim != t.dim:
        return replace(col, status="not_comparable",
                       reason=f"vector length changed from {b.dim} to {t.dim}; the distributions are not compared"), []
    measures, effect = _vector_measures(b, t)
    shown = {"vector": {"dim": b.dim, "sample": [len(b.sample), len(t.sample)],
                        "pca": display.pca_scatter(b.sample, t.sample)}}
    return replace(col, display=shown, magnitude=effect), measures


# ---------------------------------------------------------------------------
# decisions


def _rank(sev: str) -> int:
    return ("none", "warning", "critical").index(sev)


def _higher_severity(v: float | None, rel: float | None, th: Threshold) -> Severity:
    def reached(value: float | None, limit: float | None) -> bool:
        return value is not None and limit is not None and value >= limit

    if reached(v, th.critical) or reached(rel, th.relative_critical):
        return "critical"
    return "warning" if reached(v, th.warning) or reached(rel, th.relative_warning) else "none"


def _p_severity(p: float, th: MetricResult) -> Severity:
    if th.critical is not None and p <= th.critical:
        return "critical"
    return "warning" if th.warning is not None and p <= th.warning else "none"


def _result(m: _Measure, th: Threshold, eligible: bool, alpha: float) -> MetricResult:
    """The metric's result with its severity for "higher" metrics (p-value metrics wait for Benjamini-Hochberg)."""
    decides = eligible and m.decision is not None and th.enabled
    decision, relative, detail = m.decision, m.relative, dict(m.detail)
    severity: Severity = "none"
    if decides and m.guard is not None and not _may_reach(m, th):
        detail.update(significant=False, tested=False)  # below every threshold: no test needed
        decision = relative = None
    elif decides and m.guard is not None:
        guarded = m.guard(alpha)
        detail.update(guarded.detail, significant=guarded.significant, tested=True)
        decision, relative = guarded.decision, guarded.relative
        if guarded.significant:
            severity = max(_higher_severity(decision, relative, th), m.at_least, key=_rank)
        else:
            decision = relative = None
    elif decides and METRICS[m.name].direction == "higher":
        severity = _higher_severity(decision, relative, th)
    if relative is not None:
        detail["decision_relative"] = relative if math.isfinite(relative) else None
        detail["decision_relative_infinite"] = not math.isfinite(relative)
    return MetricResult(m.name, m.value, m.p_value, METRICS[m.name].direction, th.warning, th.critical,
                        severity, decides, decision, detail, th.relative_warning, th.relative_critical)


def _may_reach(m: _Measure, th: Threshold) -> bool:
    """Whether the measure's value reaches its lowest threshold (or it has a floor severity)."""
    if m.at_least != "none":
        return True
    limits = [v for v in (th.warning, th.critical) if v is not None]
    rel_limits = [v for v in (th.relative_warning, th.relative_critical) if v is not None]
    value = m.value if m.value is not None else m.decision
    by_value = bool(limits) and value is not None and value >= min(limits)
    by_relative = bool(rel_limits) and (m.relative is None or m.relative >= min(rel_limits))
    return by_value or by_relative


def _decide_p(m: MetricResult, bh: tuple[float, bool] | None) -> MetricResult:
    if not m.decides or m.decision_value is None or m.direction != "p_value":
        return m
    adjusted, rejected = bh if bh is not None else (m.decision_value, True)
    detail = {**m.detail, "p_adjusted": adjusted, "bh_rejected": rejected}
    return replace(m, severity=_p_severity(m.decision_value, m) if rejected else "none", detail=detail)


def _bh_table(columns: Sequence[ColumnDrift], fdr: float) -> dict[tuple[int, str], tuple[float, bool]]:
    keys = [(i, m.name) for i, c in enumerate(columns) for m in c.metrics
            if m.direction == "p_value" and m.decides and m.decision_value is not None]
    values = [float(columns[i].metric(name).decision_value) for i, name in keys]  # type: ignore[union-attr, arg-type]
    adjusted = bh_adjust(values)
    return {key: (float(a), bool(a <= fdr)) for key, a in zip(keys, adjusted)}


def _settle(draft: _Draft, settings: DriftSettings, alpha: float) -> ColumnDrift:
    col = draft.column
    results = tuple(_result(m, settings.threshold(m.name, col.column), draft.rows_ok if m.by_rows else draft.values_ok,
                            alpha) for m in draft.measures)
    return replace(col, metrics=results)


def _decide_column(i: int, col: ColumnDrift, bh: Mapping[tuple[int, str], tuple[float, bool]]) -> ColumnDrift:
    metrics = tuple(_decide_p(m, bh.get((i, m.name))) for m in col.metrics)
    flagged = [m for m in metrics if m.severity != "none"]
    severity: Severity = max((m.severity for m in flagged), key=_rank, default="none")
    status, reason = col.status, col.reason
    if severity != "none" and status in ("ok", "not_comparable", "insufficient_data", "removed"):
        status = "drift"
        reason = "; ".join(_why(m) for m in flagged) + (f" ({col.reason})" if col.reason else "")
    return replace(col, metrics=metrics, severity=severity if status == "drift" else "none",
                   status=status, reason=reason)


def _why(m: MetricResult) -> str:
    limit = m.critical if m.severity == "critical" else m.warning
    if m.direction == "p_value":
        return f"{m.name} p={m.decision_value:.3g} <= {m.severity} {limit:g} (Benjamini-Hochberg rejected)"
    if m.name == "column_removed":
        return "column removed from the target"
    if m.name == "missing_rate_change" and "all_missing" in m.detail:
        return f"the {m.detail['all_missing']} is entirely missing (missing rate change {m.value:.4g})"
    value = m.decision_value if m.decision_value is not None else m.value
    rel = m.detail.get("decision_relative")
    rel_limit = m.relative_critical if m.severity == "critical" else m.relative_warning
    if limit is not None and value is not None and value >= limit:
        text = f"{m.name} {value:.4g} >= {m.severity} {limit:g}"
    elif rel_limit is not None:
        shown = "infinite" if rel is None else f"{rel:.4g}"
        text = f"{m.name} relative change {shown} >= relative {m.severity} {rel_limit:g}"
    else:
        text = f"{m.name} {value:.4g}"
    if "decisive_category" in m.detail:
        text += f" (category {m.detail['decisive_category']!r})"
    return text


def _auc_magnitude(m: MetricResult) -> float:
    """The magnitude of a flagged dataset-level AUC, ``2 |AUC - 1/2|`` (0 for other metrics)."""
    return 2.0 * abs(m.value - 0.5) if m.name == "multivariate_auc" and m.value is not None else 0.0


def _verdict(columns: Sequence[ColumnDrift], dataset: Sequence[MetricResult]) -> Verdict:
    compared = [c for c in columns if c.status in ("ok", "drift", "not_comparable") and c.eligible]
    drifted = [c for c in columns if c.status == "drift"]
    flagged = [m for m in dataset if m.severity != "none"]
    severity: Severity = max([c.severity for c in drifted] + [m.severity for m in flagged], key=_rank, default="none")
    drift = bool(drifted or flagged)
    judged = bool(compared) or any(c.status == "drift" for c in columns)
    status: Literal["drift", "no_drift", "insufficient_data"] = \
        "drift" if drift else ("no_drift" if judged or not columns else "insufficient_data")
    return Verdict(
        drifted=drift,
        severity=severity,
        drifted_columns=len(drifted),
        columns_compared=len(compared),
        share_drifted=len(drifted) / len(compared) if compared else (1.0 if drifted else 0.0),
        magnitude=max([c.magnitude or 0.0 for c in drifted] + [_auc_magnitude(m) for m in flagged], default=0.0),
        insufficient_data=sum(c.status == "insufficient_data" for c in columns),
        status=status,
    )


# ---------------------------------------------------------------------------
# the comparison


def _schema(base: Mapping[str, ColumnInput], target: Mapping[str, ColumnInput]) -> dict[str, Any]:
    retyped = [{"column": n, "baseline": base[n].kind, "target": target[n].kind}
               for n in base if n in target and _retyped(base[n], target[n])]
    return {"added": [n for n in target if n not in base], "removed": [n for n in base if n not in target],
            "retyped": retyped}


def _notes(mode: str, columns: Sequence[ColumnDrift], settings: DriftSettings, bh: Mapping[Any, Any],
           pairs: int, alpha: float) -> list[str]:
    notes = [
        f"A metric flags when its change reaches a threshold and is beyond sampling noise: {pairs} (column, metric) "
        f"pair(s) decide, each tested at {alpha:.3g} = false_alarm_rate {settings.false_alarm_rate:g} / {pairs} "
        f"(Bonferroni), so a comparison without drift raises an alarm with probability at most "
        f"{settings.false_alarm_rate:g}. Tests: the KS p-value; Welch's z for the mean change; two-proportion "
        f"z-tests for missing rates and category shares; a parametric bootstrap for PSI.",
        f"Columns with fewer than {settings.min_values:,} values on either side are 'insufficient data': their "
        f"distributions decide nothing; their missing rate still decides when both sides have "
        f"{settings.min_values:,} rows.",
        f"PSI: natural logarithm, shares (empty bins included) floored at max({EPSILON:g}, 1/(2 n)); "
        f"JS distance in base 2.",
    ]
    vectors = [c.column for c in columns if c.metric("mmd") is not None]
    if vectors:
        notes.append(f"Vector columns ({', '.join(vectors)}) are compared as a whole from each side's mean, variance "
                     f"and sample of at most 1,000 vectors; mean_distance, mmd and cosine_distance are tested against "
                     f"a permutation null of the pooled samples, classifier_auc by its Mann-Whitney null.")
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


def _multivariate_notes(measured: Sequence[MetricResult]) -> list[str]:
    m = next((m for m in measured if m.name == "multivariate_auc"), None)
    if m is None:
        return []
    if m.value is None:
        return [f"Multivariate drift was not measured: {m.detail.get('reason')}."]
    return [f"Multivariate drift: a gradient-boosted domain classifier told {m.detail['target_rows']:,} sampled "
            f"target rows from {m.detail['baseline_rows']:,} baseline rows over {m.detail['columns']} columns with "
            f"held-out ROC AUC {m.value:.3f} (0.5: indistinguishable), tested by its Mann-Whitney null; the "
            f"columns that explain it most are ranked by permutation importance."]


def _row_count_metric(rows: tuple[int, int], settings: DriftSettings) -> MetricResult:
    change, relative = row_count_change(*rows)
    th = settings.thresholds.get("row_count_change") or Threshold()
    measure = _Measure("row_count_change", change, None, change,
                       {"baseline": rows[0], "target": rows[1], "signed": rows[1] - rows[0]}, relative=relative)
    return _result(measure, th, True, settings.false_alarm_rate)


def _dataset_deciding(measures: Sequence[_Measure], settings: DriftSettings) -> int:
    """Dataset-level guarded measures that can decide (one pair each)."""
    return sum(m.guard is not None and m.decision is not None and settings.threshold(m.name, "").enabled
               for m in measures)


def compare_columns(mode: Literal["profile", "exact"], rows: tuple[int, int], base: Mapping[str, ColumnInput],
                    target: Mapping[str, ColumnInput], settings: DriftSettings,
                    dataset_measures: Sequence[_Measure] = ()) -> DatasetDrift:
    """Compare two sides column by column and conclude (the core of :func:`compare_profiles` and exact mode).

    :param rows: (baseline, target) row counts.
    :param base: column name -> baseline :class:`ColumnInput`; ``target`` likewise.
    :param dataset_measures: dataset-level measures (``multivariate_auc``), each one more deciding
        pair when it can decide.
    """
    names = list(dict.fromkeys([*base, *target]))
    drafts = [_measure_column(base.get(n), target.get(n), settings) for n in names]
    pairs = sum(len(d.deciding(settings)) for d in drafts) + _dataset_deciding(dataset_measures, settings)
    alpha = pair_alpha(settings.false_alarm_rate, pairs)
    settled = [_settle(d, settings, alpha) for d in drafts]
    bh = _bh_table(settled, settings.fdr)
    columns = tuple(_decide_column(i, c, bh) for i, c in enumerate(settled))
    measured = tuple(_result(m, settings.threshold(m.name, ""), True, alpha) for m in dataset_measures)
    dataset = (_row_count_metric(rows, settings), *measured)
    settings_out = {"min_values": settings.min_values, "fdr": settings.fdr, "bins": settings.bins,
                    "bh_applied": bool(bh), "false_alarm_rate": settings.false_alarm_rate, "deciding_pairs": pairs,
                    "pair_alpha": alpha, "epsilon": EPSILON,
                    "notes": _notes(mode, columns, settings, bh, pairs, alpha) + _multivariate_notes(measured)}
    row_count = {"baseline": rows[0], "target": rows[1], "change": (rows[1] - rows[0]) / rows[0] if rows[0] else None}
    return DatasetDrift(mode, _verdict(columns, dataset), _schema(base, target), row_count, settings_out, columns,
                        dataset)


def compare_profiles(baseline: DatasetProfile, target: DatasetProfile,
                     settings: DriftSettings | None = None) -> DatasetDrift:
    """Compare a target snapshot's profile with its baseline's.

    :param baseline: the baseline (reference) profile; ``target`` the current one.
    :param settings: thresholds and decision settings (default :class:`DriftSettings()`); with
        ``settings.multivariate``, the dataset-level ``multivariate_auc`` is measured on the
        profiles' row samples (undefined, with the reason, when a side keeps none).
    :returns: a :class:`DatasetDrift` with ``mode == "profile"``.
    """
    settings = settings or DriftSettings()
    base = {name: input_from_profile(col) for name, col in baseline.columns.items()}
    targ = {name: input_from_profile(col) for name, col in target.columns.items()}
    extra = (multivariate_measure(baseline, target),) if settings.multivariate else ()
    return compare_columns("profile", (baseline.row_count, target.row_count), base, targ, settings, extra)
