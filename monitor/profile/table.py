"""The profile's tabular and JSON forms: :func:`profile_table` (Azure ML's
profile table, a pandas DataFrame) and :func:`profile_json` (strict JSON, a
non-finite number as ``null``)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from monitor.profile.columns import NUMERIC_KINDS
from monitor.profile.model import QUANTILE_RANKS, ColumnProfile, DatasetProfile
from monitor.profile.serialize import json_finite
from monitor.profile.vectors import VectorSummary

__all__ = ["QUANTILE_LABELS", "TABLE_COLUMNS", "profile_json", "profile_table"]

# ---------------------------------------------------------------------------
# the profile table and JSON

QUANTILE_LABELS = tuple(f"{r * 100:g}%" for r in QUANTILE_RANKS)
TABLE_COLUMNS = (
    ["Type", "Min", "Max", "Count", "Missing Count", "Not Missing Count", "Percent missing", "Error Count",
     "Empty count"]
    + [f"{label} Quantile" for label in QUANTILE_LABELS]
    + ["Mean", "Standard Deviation", "Variance", "Skewness", "Kurtosis", "Distinct count", "Zero count",
       "Positive infinity count", "Negative infinity count", "Min length", "Mean length", "Max length"]
)
"""Azure ML's profile columns, then distinct, zero and infinity counts and string lengths."""


def _timestamp(value: float | None) -> Any:
    if value is None or not math.isfinite(value):
        return value
    return pd.Timestamp(round(value * 1e6), unit="us", tz="UTC")


def _numeric_cells(col: ColumnProfile) -> list[Any]:
    """Min, Max, quantiles, Mean, SD, Variance, Skewness, Kurtosis of a column."""
    num = col.numeric
    if num is None or (col.kind not in NUMERIC_KINDS and col.kind != "categorical"):
        return [None] * (2 + len(QUANTILE_RANKS) + 5)
    qs = [float(q) for q in num.quantiles(QUANTILE_RANKS)] if num.n else [None] * len(QUANTILE_RANKS)
    if col.kind == "datetime":
        std = None if num.std is None else pd.Timedelta(seconds=num.std)
        return ([_timestamp(num.min), _timestamp(num.max)] + [_timestamp(q) for q in qs]
                + [_timestamp(num.mean), std, None, None, None])
    return [num.min, num.max] + qs + [num.mean, num.std, num.variance, num.skewness, num.kurtosis]


def _label_bounds(col: ColumnProfile) -> tuple[Any, Any]:
    """Min and max of a boolean column (False/True present)."""
    cats = col.categories
    if col.kind != "boolean" or cats is None or not cats.counts:
        return None, None
    present = sorted(label == "true" for label in cats.counts)
    return present[0], present[-1]


def _row(col: ColumnProfile) -> list[Any]:
    cells = _numeric_cells(col)
    lo, hi = cells[0], cells[1]
    if col.kind == "boolean":
        lo, hi = _label_bounds(col)
    num = col.numeric
    return (
        [col.kind, lo, hi, col.count, col.missing, col.not_missing, col.percent_missing, col.errors, col.empty]
        + cells[2:]
        + [round(col.distinct), num.zeros if num else None, num.pos_inf if num else None,
           num.neg_inf if num else None, col.length_min, col.length_mean, col.length_max]
    )


def profile_table(profile: DatasetProfile) -> pd.DataFrame:
    """Azure ML's profile table: one row per column, columns :data:`TABLE_COLUMNS`."""
    rows = [_row(col) for col in profile.columns.values()]
    return pd.DataFrame(rows, index=list(profile.columns), columns=TABLE_COLUMNS, dtype=object)


def _json_value(value: Any, kind: str) -> Any:
    """A statistic in strict JSON: datetimes as ISO 8601 UTC strings, a non-finite
    number as None (the column's ``neg_inf``/``pos_inf`` counts tell an infinite
    min or max)."""
    if value is None:
        return None
    if kind == "datetime" and isinstance(value, (float, int)) and math.isfinite(value):
        stamp = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=round(float(value) * 1e6))
        return stamp.isoformat().replace("+00:00", "Z")
    return json_finite(float(value)) if isinstance(value, (float, np.floating)) else value


def _numeric_json(col: ColumnProfile) -> dict[str, Any]:
    num = col.numeric
    if num is None:
        return {}
    kind = "datetime" if col.kind == "datetime" else "number"
    qs = num.quantiles(QUANTILE_RANKS) if num.n else [None] * len(QUANTILE_RANKS)
    out = {
        "min": _json_value(num.min, kind), "max": _json_value(num.max, kind),
        "quantiles": {label: _json_value(None if q is None else float(q), kind) for label, q in zip(QUANTILE_LABELS, qs)},
        "mean": _json_value(num.mean, kind),
        "n_finite": num.n, "zeros": num.zeros, "pos_inf": num.pos_inf, "neg_inf": num.neg_inf,
        "is_exact": num.is_exact, "rank_error": json_finite(num.rank_error),
    }
    spread = {"std": num.std, "variance": num.variance, "skewness": num.skewness, "kurtosis": num.kurtosis}
    if col.kind == "datetime":
        out["std_seconds"] = json_finite(num.std)
    else:
        out.update({k: json_finite(v) for k, v in spread.items()})
    return out


def _column_json(col: ColumnProfile) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": col.name, "kind": col.kind, "arrow_type": col.arrow_type, "count": col.count,
        "missing": col.missing, "not_missing": col.not_missing, "percent_missing": json_finite(col.percent_missing),
        "errors": col.errors, "empty": col.empty, "distinct": round(col.distinct),
        "distinct_relative_error": json_finite(col.distinct_error), "declared": col.declared,
    }
    if col.kind == "datetime":
        out["timezone"] = col.timezone or "UTC (naive)"
    out.update(_numeric_json(col))
    if col.length_min is not None:
        out["length"] = {"min": col.length_min, "mean": json_finite(col.length_mean), "max": col.length_max}
    if col.categories is not None:
        cats = col.categories
        out["categories"] = {"counts": dict(cats.counts), "other": cats.other, "error": cats.error}
    if col.vector is not None:
        out["vector"] = _vector_json(col.vector)
    return out


def _vector_json(v: VectorSummary) -> dict[str, Any]:
    """A vector column's ``dim``, ``n``, ``sample`` size and its norms' quantiles (``null`` without vectors)."""
    norms = [None] * len(QUANTILE_RANKS) if v.norms.is_empty() else [v.norms.get_quantile(q) for q in QUANTILE_RANKS]
    return {"dim": v.dim, "n": v.n, "sample": int(v.keys.size),
            "norm_quantiles": {label: json_finite(q) for label, q in zip(QUANTILE_LABELS, norms)}}


def profile_json(profile: DatasetProfile) -> dict[str, Any]:
    """The profile as strict JSON: ``{"row_count", "columns": [...]}``, each column
    with its counts, distribution statistics, category counts and string lengths.

    One JSON type per field for a given column ``kind``: a number that is not
    finite or not defined is ``null``, never a string (``min`` is ``null`` with
    ``neg_inf > 0`` when it is ``-inf``, ``max`` with ``pos_inf > 0`` when it is
    ``+inf``; ``variance`` is ``null`` beside a number ``std`` when it exceeds the
    double range). Datetime columns give ``min``, ``max``, ``mean`` and the
    quantiles as ISO 8601 UTC strings and the standard deviation as the number
    ``std_seconds``; see ``docs/profile.md``."""
    return {"row_count": profile.row_count, "columns": [_column_json(c) for c in profile.columns.values()]}
