"""Type coercion for profiling, and the profile's serialised and tabular forms.

Serialised form (format version 1): a dataset-level dict and one record per
column, ``{"column", "position", "kind", "stats", "sketch"}`` where ``stats`` is
JSON-able and ``sketch`` is the bytes of :func:`monitor.profile.pack_sketch`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from monitor.profile import (
    FORMAT_VERSION,
    QUANTILE_RANKS,
    CategorySummary,
    ColumnProfile,
    DatasetProfile,
    Moments,
    NumericSummary,
    pack_sketch,
    unpack_sketch,
)

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}

# ---------------------------------------------------------------------------
# coercion


def coerce(arr: pa.Array, kind: str) -> tuple[pa.Array, int]:
    """Convert a chunk to the representation its kind is profiled in.

    Numeric and datetime kinds become float64 (datetimes: seconds since the epoch,
    UTC; naive timestamps are taken as UTC), boolean stays boolean, string and
    categorical become strings. Text that does not parse becomes null and is
    counted as an error; empty text in a non-string column is missing.

    :returns: (converted array, number of values that failed to parse)
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if kind in ("string", "categorical"):
        return (arr if pa.types.is_string(arr.type) else arr.cast(pa.string())), 0
    if kind == "boolean":
        return _to_bool(arr)
    if kind == "datetime":
        return _to_seconds(arr)
    return _to_float(arr)


def _is_text(arr: pa.Array) -> bool:
    return pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)


def _failures(text: pa.Array, parsed: np.ndarray) -> int:
    """Values present and non-empty in ``text`` whose parsed value is missing."""
    raw = text.to_numpy(zero_copy_only=False)
    present = np.array([v is not None and v.strip() != "" for v in raw], dtype=bool)
    return int(np.count_nonzero(present & pd.isna(parsed)))


def _to_float(arr: pa.Array) -> tuple[pa.Array, int]:
    if _is_text(arr):
        parsed = pd.to_numeric(pd.Series(arr.to_numpy(zero_copy_only=False)).str.strip(), errors="coerce")
        values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        return pa.array(values, type=pa.float64()), _failures(arr, values)
    if pa.types.is_boolean(arr.type):
        arr = arr.cast(pa.int8())
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return _to_seconds(arr)
    return arr.cast(pa.float64()), 0


def _to_seconds(arr: pa.Array) -> tuple[pa.Array, int]:
    if _is_text(arr):
        text = pd.Series(arr.to_numpy(zero_copy_only=False))
        parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
        secs = parsed.astype("int64", copy=False).to_numpy() / 1e9 if len(parsed) else np.empty(0)
        secs = np.where(parsed.isna().to_numpy(), np.nan, secs)
        return pa.array(secs, type=pa.float64()), _failures(arr, secs)
    if pa.types.is_date(arr.type):
        days = arr.cast(pa.date32()).cast(pa.int32()).cast(pa.float64())
        return pc.multiply(days, 86400.0), 0
    if pa.types.is_timestamp(arr.type):
        micros = arr.cast(pa.timestamp("us", tz=arr.type.tz)).cast(pa.int64()).cast(pa.float64())
        return pc.divide(micros, 1e6), 0
    return _to_float(arr)


def _to_bool(arr: pa.Array) -> tuple[pa.Array, int]:
    if pa.types.is_boolean(arr.type):
        return arr, 0
    text = [None if v is None else str(v).strip().lower() for v in arr.to_pylist()]
    out = [True if v in _TRUE else False if v in _FALSE else None for v in text]
    errors = sum(1 for v, o in zip(text, out) if o is None and v not in (None, ""))
    return pa.array(out, type=pa.bool_()), errors


# ---------------------------------------------------------------------------
# serialisation


def _numeric_stats(num: NumericSummary) -> dict[str, Any]:
    m = num.moments
    return {
        "n": m.n, "mean": m.mean, "m2": m.m2, "m3": m.m3, "m4": m.m4,
        "min": num.min, "max": num.max, "pos_inf": num.pos_inf,
        "neg_inf": num.neg_inf, "zeros": num.zeros, "k": num.k,
    }


def _column_record(position: int, col: ColumnProfile) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "arrow_type": col.arrow_type, "count": col.count, "missing": col.missing,
        "empty": col.empty, "errors": col.errors, "length_min": col.length_min,
        "length_max": col.length_max, "length_sum": col.length_sum,
    }
    if col.numeric is not None:
        stats["numeric"] = _numeric_stats(col.numeric)
    if col.categories is not None:
        cats = col.categories
        stats["categories"] = {"counts": cats.counts, "other": cats.other, "cap": cats.cap}
    return {"column": col.name, "position": position, "kind": col.kind, "stats": _finite(stats), "sketch": pack_sketch(col)}


def _finite(value: Any) -> Any:
    """Replace float infinities by strings so the dict is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return "inf" if value > 0 else "-inf" if value < 0 else "nan"
    return value


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def profile_to_records(profile: DatasetProfile) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """See :meth:`DatasetProfile.to_records`."""
    meta = {"format_version": FORMAT_VERSION, "row_count": profile.row_count, "columns": list(profile.columns)}
    return meta, [_column_record(i, col) for i, col in enumerate(profile.columns.values())]


def _column_from_record(rec: Mapping[str, Any]) -> ColumnProfile:
    stats = rec["stats"]
    kll, distinct = unpack_sketch(rec["sketch"])
    col = ColumnProfile(
        rec["column"], rec["kind"], stats.get("arrow_type", ""), stats["count"], stats["missing"],
        stats["empty"], stats["errors"], distinct_sketch=distinct, length_min=stats.get("length_min"),
        length_max=stats.get("length_max"), length_sum=stats.get("length_sum", 0),
    )
    if "numeric" in stats:
        s = stats["numeric"]
        moments = Moments(s["n"], s["mean"], s["m2"], s["m3"], s["m4"])
        col.numeric = NumericSummary(moments, _float(s["min"]), _float(s["max"]), s["pos_inf"], s["neg_inf"], s["zeros"], kll, s["k"])
    if "categories" in stats:
        c = stats["categories"]
        col.categories = CategorySummary(dict(c["counts"]), c["other"], c["cap"])
    return col


def profile_from_records(meta: Mapping[str, Any], columns: Sequence[Mapping[str, Any]]) -> DatasetProfile:
    """See :meth:`DatasetProfile.from_records`."""
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"unsupported profile format version {version!r} (this version reads {FORMAT_VERSION})")
    ordered = sorted(columns, key=lambda r: r["position"])
    return DatasetProfile(int(meta["row_count"]), {r["column"]: _column_from_record(r) for r in ordered})


# ---------------------------------------------------------------------------
# the profile table

TABLE_COLUMNS = (
    ["Type", "Min", "Max", "Count", "Missing Count", "Not Missing Count", "Percent missing", "Error Count", "Empty count"]
    + [f"{r * 100:g}% Quantile" for r in QUANTILE_RANKS]
    + ["Mean", "Standard Deviation", "Variance", "Skewness", "Kurtosis", "Distinct count"]
)


def _timestamp(value: float | None) -> Any:
    if value is None or not np.isfinite(value):
        return value
    return datetime.fromtimestamp(value, tz=timezone.utc)


def _numeric_cells(col: ColumnProfile) -> list[Any]:
    num = col.numeric
    if num is None:
        return [None] * (2 + len(QUANTILE_RANKS) + 5)
    quantiles = list(num.quantiles(QUANTILE_RANKS)) if num.n else [None] * len(QUANTILE_RANKS)
    if col.kind == "datetime":
        return [_timestamp(num.min), _timestamp(num.max)] + [_timestamp(q) for q in quantiles] + [_timestamp(num.mean), None, None, None, None]
    return [num.min, num.max] + quantiles + [num.mean, num.std, num.variance, num.skewness, num.kurtosis]


def profile_table(profile: DatasetProfile) -> pd.DataFrame:
    """Azure ML's profile table: one row per column, columns :data:`TABLE_COLUMNS`."""
    rows = []
    for col in profile.columns.values():
        cells = _numeric_cells(col)
        rows.append(
            [col.kind, cells[0], cells[1], col.count, col.missing, col.not_missing,
             col.percent_missing, col.errors, col.empty]
            + cells[2:2 + len(QUANTILE_RANKS)] + cells[2 + len(QUANTILE_RANKS):] + [round(col.distinct)]
        )
    return pd.DataFrame(rows, index=list(profile.columns), columns=TABLE_COLUMNS, dtype=object)
