"""Drift results in words: a metric's label (:func:`metric_label`), the decision
each metric took (:func:`decision`, e.g. ``"KS 0.12 ≥ warning 0.1 and significant
(p < 0.000001; per-test level 0.00015): drift"``) and one plain sentence per
drifted column (:func:`finding`, e.g. ``"distribution moved right; median 12 → 19;
KS 0.125 ≥ warning 0.1"``).

Everything here reads numbers the drift engine computed (a column of a result's
``columns``, as JSON data) and words them; it compares numbers with their
thresholds as the engine reported them and computes no statistic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from monitor.report.format import _number, fmt, p_clause, pct

LABELS = {
    "ks_statistic": "KS", "ks_test": "KS test", "psi": "PSI", "js_distance": "JS distance",
    "hellinger": "Hellinger", "wasserstein": "Wasserstein", "wasserstein_normed": "Wasserstein (σ)",
    "mean_change": "mean change", "chi_square": "χ² test", "linf_distance": "largest share change",
    "new_values": "new values", "missing_rate_change": "missing-rate change", "type_change": "type change",
    "column_removed": "column removed", "row_count_change": "row-count change",
}
"""Short names a reader knows, by metric name (the name itself for others)."""
_SHARE_METRICS = {"linf_distance", "missing_rate_change"}
_SIGMA_METRICS = {"mean_change", "wasserstein_normed"}
SEVERITY_RANK = {"critical": 2, "warning": 1, "none": 0}
"""Severities in order, for sorting (the history page sorts by it too)."""


def metric_label(name: str) -> str:
    """The short name of metric ``name`` (``"ks_statistic"`` → ``"KS"``)."""
    return LABELS.get(name, name)


def _limit_text(name: str, limit: float) -> str:
    if name in _SHARE_METRICS:
        return fmt(limit * 100, 3) + " pp"
    if name == "new_values":
        return pct(limit)
    return fmt(limit) + (" σ" if name in _SIGMA_METRICS else "")


def value_text(name: str, value: float) -> str:
    """A metric's value in its unit: percentage points for shares of rows, ``σ`` for
    standard deviations, a percentage for ``new_values``, else :func:`fmt` (3 digits)."""
    if name in _SHARE_METRICS:
        return fmt(value * 100, 3) + " pp"
    if name == "new_values":
        return pct(value)
    return fmt(value, 3) + (" σ" if name in _SIGMA_METRICS else "")


def _threshold(metric: Mapping[str, Any], severity: str, relative: bool = False) -> float | None:
    key = ("relative_" if relative else "") + severity
    return _number(metric.get(key))


def _compared(metric: Mapping[str, Any]) -> float | None:
    """The number the engine compared with the thresholds: the decision value, else the value."""
    detail = metric.get("detail") or {}
    shown = _number(detail.get("decision_value"))
    return shown if shown is not None else _number(metric.get("value"))


def reached(metric: Mapping[str, Any], severity: str) -> str:
    """The threshold a flagged metric reached, e.g. ``"KS 0.125 ≥ warning 0.1"``,
    ``"relative change +150% ≥ relative warning 100%"``, ``"p < 0.000001 ≤ warning 0.01"``."""
    name, label = str(metric["name"]), metric_label(str(metric["name"]))
    detail = metric.get("detail") or {}
    limit = _threshold(metric, severity)
    if metric.get("direction") == "p_value":
        return f"{label} {p_clause(_compared(metric))} ≤ {severity} {fmt(limit)}"
    value = _compared(metric)
    if limit is not None and value is not None and value >= limit:
        return f"{label} {value_text(name, value)} ≥ {severity} {_limit_text(name, limit)}"
    rel_limit = _threshold(metric, severity, relative=True)
    if rel_limit is not None:
        rel = _number(detail.get("decision_relative"))
        shown = "infinite" if rel is None else pct(rel)
        return f"{label} relative change {shown} ≥ relative {severity} {pct(rel_limit)}"
    return f"{label} {value_text(name, value) if value is not None else fmt(None)}"


def _significance(detail: Mapping[str, Any]) -> str:
    """How the noise guard let a change through, in words ('' when it did not test)."""
    alpha = _number(detail.get("alpha"))
    level = f"per-test level {fmt(alpha, 2)}" if alpha is not None else "the per-test level"
    if "allowance" in detail:
        return f"beyond sampling noise (allowance {fmt(_number(detail.get('allowance')), 3)} at {level})"
    if "p_value" in detail:
        return f"significant ({p_clause(_number(detail.get('p_value')))}; {level})"
    return ""


def decision(metric: Mapping[str, Any]) -> tuple[str, str]:
    """What a metric decided, in words, and its tone.

    :param metric: one metric of a result column (keys ``name``, ``value``,
        ``p_value``, ``direction``, ``warning``, ``critical``, ``severity``,
        ``decides``, ``detail``; optionally the relative thresholds).
    :returns: ``(text, tone)``; tone is the severity (``"warning"``, ``"critical"``)
        when the metric flagged, ``"quiet"`` when it reached a threshold that sampling
        noise explains, ``"ok"`` below every threshold, ``"info"`` when it decides nothing.
    """
    detail = metric.get("detail") or {}
    name = str(metric.get("name"))
    severity = str(metric.get("severity") or "none")
    limits = [_number(metric.get(k)) for k in ("warning", "critical", "relative_warning", "relative_critical")]
    if metric.get("value") is None and metric.get("p_value") is None:
        reason = detail.get("reason")
        return (f"undefined: {reason}" if reason else "undefined"), "info"
    if all(v is None for v in limits):
        return "no threshold set: reported only", "info"
    if not metric.get("decides"):
        return "not judged: too few values", "info"
    if severity in ("warning", "critical"):
        if metric.get("direction") == "p_value":
            kept = ", kept by Benjamini-Hochberg" if detail.get("bh_rejected") else ""
            return f"{reached(metric, severity)}{kept}: drift", severity
        guard = _significance(detail)
        return f"{reached(metric, severity)}{' and ' + guard if guard else ''}: drift", severity
    return _not_flagged(metric, name, detail)


def _not_flagged(metric: Mapping[str, Any], name: str, detail: Mapping[str, Any]) -> tuple[str, str]:
    warning = _number(metric.get("warning"))
    if metric.get("direction") == "p_value":
        p = _compared(metric)
        if detail.get("bh_rejected") is False and p is not None and warning is not None and p <= warning:
            return (f"{p_clause(p)} ≤ warning {fmt(warning)}, but not kept by Benjamini-Hochberg "
                    f"(adjusted {p_clause(_number(detail.get('p_adjusted')))})"), "quiet"
        return f"{p_clause(p)}: below threshold" + (f" (warning ≤ {fmt(warning)})" if warning else ""), "ok"
    if detail.get("tested") and detail.get("significant") is False:
        value = _number(metric.get("value"))
        if "allowance" in detail:
            return (f"{value_text(name, value or 0.0)} reaches a threshold but is within sampling noise "
                    f"(allowance {fmt(_number(detail.get('allowance')), 3)})"), "quiet"
        return (f"{value_text(name, value or 0.0)} reaches a threshold but is not significant at the per-test "
                f"level ({p_clause(_number(detail.get('p_value')))} > {fmt(_number(detail.get('alpha')), 2)})"), "quiet"
    value = _number(metric.get("value"))
    shown = value_text(name, value) if value is not None else fmt(None)
    return (f"{shown} < warning {_limit_text(name, warning)}: below threshold" if warning is not None
            else f"{shown}: below threshold"), "ok"


# --------------------------------------------------------------------------- #
# findings: one sentence per drifted column


def _when(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M" if moment.hour or moment.minute else "%Y-%m-%d")


def side_value(value: object, kind: str) -> str:
    """A statistic of a side for a sentence: a date for datetime columns, else :func:`fmt` (3 digits)."""
    number = _number(value)
    if number is not None and kind == "datetime" and math.isfinite(number):
        try:
            return _when(number)
        except (OverflowError, OSError, ValueError):
            return fmt(number, 3)
    return fmt(value, 3)


def _numeric_change(raw: Mapping[str, Any]) -> str | None:
    """"distribution moved right; median 12 → 19" from the sides' statistics."""
    base, targ = raw.get("baseline") or {}, raw.get("target") or {}
    kind = str(raw.get("kind") or "")
    b50, t50 = _number(base.get("p50")), _number(targ.get("p50"))
    bmean, tmean = _number(base.get("mean")), _number(targ.get("mean"))
    bstd, tstd = _number(base.get("std")), _number(targ.get("std"))
    later, earlier = ("later", "earlier") if kind == "datetime" else ("right", "left")
    moves: list[str] = []
    if b50 is not None and t50 is not None and b50 != t50:
        moves.append(f"moved {later if t50 > b50 else earlier}")
    elif bmean is not None and tmean is not None and bmean != tmean:
        moves.append(f"moved {later if tmean > bmean else earlier} (mean)")
    spread = None
    if bstd and tstd is not None and bstd > 0 and not 0.8 < tstd / bstd < 1.25:
        spread = "widened" if tstd > bstd else "narrowed"
        moves.append(spread)
    parts = [("distribution " + " and ".join(moves)) if moves else "distribution changed shape"]
    if b50 is not None and t50 is not None:
        parts.append(f"median {side_value(b50, kind)} → {side_value(t50, kind)}")
    if spread and bstd is not None and tstd is not None:
        if kind == "datetime":
            parts.append(f"std {fmt(bstd / 86400, 3)} → {fmt(tstd / 86400, 3)} days")
        else:
            parts.append(f"std {fmt(bstd, 3)} → {fmt(tstd, 3)}")
    return "; ".join(parts)


def _quoted(name: object) -> str:
    return f"“{name}”"


_CAPPED = "categories beyond the profile's cap"


def _category_name(row: Mapping[str, Any]) -> str:
    return _CAPPED if row.get("status") == "other" else _quoted(row.get("name"))


def _category_rows(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    shown = (raw.get("display") or {}).get("categories") or {}
    return [r for r in shown.get("rows") or () if isinstance(r, Mapping)]


def _category_change(raw: Mapping[str, Any]) -> str | None:
    """Which category gained and which lost most share, from the result's ``display.categories``."""
    rows = _category_rows(raw)
    if not rows:
        return None

    def delta(r: Mapping[str, Any]) -> float:
        return (_number(r.get("target")) or 0.0) - (_number(r.get("baseline")) or 0.0)

    gained = max(rows, key=delta)
    lost = min(rows, key=delta)
    parts = []
    if delta(gained) > 0:
        if gained.get("status") == "new":
            parts.append(f"new category {_quoted(gained['name'])} holds {pct(gained.get('target'))} of values")
        else:
            parts.append(f"{_category_name(gained)} gained most ({pct(gained.get('baseline'))} → "
                         f"{pct(gained.get('target'))})")
    if delta(lost) < 0:
        if lost.get("status") == "vanished":
            parts.append(f"{_quoted(lost['name'])} vanished (was {pct(lost.get('baseline'))})")
        else:
            parts.append(f"{_category_name(lost)} lost most ({pct(lost.get('baseline'))} → "
                         f"{pct(lost.get('target'))})")
    return "; ".join(parts) or None


def _clause(metric: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    """A flagged metric as a clause of its column's finding."""
    name, severity = str(metric["name"]), str(metric["severity"])
    detail = metric.get("detail") or {}
    if name == "column_removed":
        return "column removed from the target"
    if name == "type_change":
        return f"type changed from {detail.get('baseline', '?')} to {detail.get('target', '?')}"
    if name == "missing_rate_change":
        rates = raw.get("missing_rate") or {}
        if "all_missing" in detail:
            return f"the {detail['all_missing']} is entirely missing ({pct(rates.get('baseline'))} → " \
                   f"{pct(rates.get('target'))} missing)"
        return f"missing {pct(rates.get('baseline'))} → {pct(rates.get('target'))} ({reached(metric, severity)})"
    text = reached(metric, severity)
    category = detail.get("decisive_category")
    if category is None:
        return text
    capped = any(r.get("name") == category and r.get("status") == "other" for r in _category_rows(raw))
    return text + f" ({_CAPPED if capped else _quoted(category)})"


_DISTRIBUTION = {"ks_statistic", "ks_test", "psi", "js_distance", "hellinger", "wasserstein",
                 "wasserstein_normed", "mean_change", "chi_square", "linf_distance", "new_values"}


_LEADS = ("column_removed", "type_change", "ks_statistic", "mean_change", "linf_distance", "new_values", "psi",
          "chi_square", "ks_test", "js_distance", "hellinger", "wasserstein_normed", "wasserstein")
"""The order in which a finding prefers the metric it names (the best known first)."""


def finding(raw: Mapping[str, Any]) -> str | None:
    """One plain sentence (without the column's name) on why a drifted column drifted:
    what changed, the best known metric of the highest severity with the threshold
    it reached, the missing rate when it flagged too, and how many more metrics
    flagged; ``None`` when the column did not drift."""
    if raw.get("status") != "drift":
        return None
    flagged = [m for m in raw.get("metrics") or () if str(m.get("severity") or "none") != "none"]
    top = max((SEVERITY_RANK.get(str(m.get("severity")), 0) for m in flagged), default=0)
    leads = [m for m in flagged if SEVERITY_RANK.get(str(m.get("severity")), 0) == top
             and m.get("name") != "missing_rate_change"]
    lead = min(leads, key=lambda m: _LEADS.index(m["name"]) if m.get("name") in _LEADS else len(_LEADS),
               default=None)
    missing = next((m for m in flagged if m.get("name") == "missing_rate_change"), None)
    named = [m for m in (lead, missing) if m is not None]
    parts: list[str] = []
    if any(m.get("name") in _DISTRIBUTION for m in flagged):
        numeric = bool((raw.get("display") or {}).get("histogram")) or raw.get("histogram") is not None
        described = _numeric_change(raw) if numeric else _category_change(raw)
        if described:
            parts.append(described)
    parts += [_clause(m, raw) for m in named]
    more = len(flagged) - len(named)
    if more:
        parts.append(f"{more} more metric{'' if more == 1 else 's'} past {'its' if more == 1 else 'their'} threshold")
    return "; ".join(parts) if parts else (str(raw.get("reason") or "") or None)
