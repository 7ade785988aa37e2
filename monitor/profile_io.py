"""Type coercion for exact comparisons, and the profile's stored, JSON and tabular forms.

Stored form (:data:`~monitor.profile.FORMAT_VERSION` 2): a dataset-level dict
``{"format_version", "row_count", "columns"}`` and one record per column,
``{"column", "position", "kind", "stats", "sketch"}``, where ``stats`` is strict
JSON (infinities as the strings ``"inf"``/``"-inf"``) and ``sketch`` is bytes:

``b"DMS2"``, then little-endian uint32s: KLL bytes, exact-value count, KMV size,
KMV hash count, hash scheme; then the KLL sketch (Apache DataSketches
``kll_doubles_sketch`` serialisation), the exact distinct values (float64) and
their counts (int64), and the KMV hashes (uint64).

Version 1 profiles (sketch ``b"DMS1"``: KLL bytes and KMV hashes, no exact
counts) are still read; their distinct-count sketches use hash scheme 1 and
merge with newer ones only approximately.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import datasketches
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from monitor.columns import NUMERIC_KINDS, as_text, float_values, is_text_array, to_numeric
from monitor.numeric import NumericSummary
from monitor.profile import FORMAT_VERSION, QUANTILE_RANKS, ColumnProfile, DatasetProfile
from monitor.sketches import CategorySummary, DistinctSketch, Moments
from monitor.sources.csv_types import parse_text

READABLE_VERSIONS = (1, 2)

# ---------------------------------------------------------------------------
# coercion


def coerce(arr: pa.Array | pa.ChunkedArray, kind: str) -> tuple[pa.Array, int]:
    """Convert values to the representation their kind is profiled in.

    Numeric and datetime kinds become float64 (datetimes: seconds since the epoch,
    UTC; naive timestamps are taken as UTC), boolean stays boolean, string and
    categorical become strings. Text that does not parse becomes null and is
    counted; blank text in a non-string column is null (missing).

    :returns: (converted array, number of values that failed to parse)
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if kind in ("string", "categorical"):
        return (arr if pa.types.is_string(arr.type) else as_text(arr)), 0
    errors = 0
    if is_text_array(arr):
        parsed = parse_text(arr, kind)
        arr, errors = parsed.values, parsed.errors
    if kind == "boolean":
        return (arr if pa.types.is_boolean(arr.type) else pc.not_equal(to_numeric(arr, "integer"), 0)), errors
    return to_numeric(arr, kind).cast(pa.float64()), errors


_ARROW_TYPES = {"integer": pa.int64(), "decimal": pa.float64(), "boolean": pa.bool_(),
                "datetime": pa.timestamp("us", tz="UTC")}


def typed_batch(batch: pa.RecordBatch, profile: DatasetProfile) -> pa.RecordBatch:
    """A batch of raw text (CSV) with each column converted to the kind ``profile``
    gave it: integer to int64, decimal to float64, boolean to bool, datetime to
    ``timestamp[us, UTC]``; string and categorical columns stay text. Values that
    do not parse become null. Batches that are not raw text are returned as is.
    """
    from monitor.sources.files import is_text

    if not is_text(batch.schema):
        return batch
    arrays, names = [], []
    for name, arr in zip(batch.schema.names, batch.columns):
        col = profile.columns.get(name)
        kind = col.kind if col is not None else "string"
        if col is not None and kind == "categorical" and col.numeric is not None:
            kind = "integer"
        if kind in _ARROW_TYPES:
            arr = parse_text(arr, kind).values.cast(_ARROW_TYPES[kind])
        arrays.append(arr)
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def finite_values(arr: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
    """The non-missing values of a numeric or datetime column as a float64 array
    (infinities kept), as the profile counts them."""
    values, _ = coerce(arr, kind)
    return float_values(values)[0]


# ---------------------------------------------------------------------------
# serialisation

_HEADER = struct.Struct("<4sIIIII")


def pack_sketch(col: ColumnProfile) -> bytes:
    """Binary form of a column's sketches (see the module docstring)."""
    num = col.numeric
    kll = b""
    vals = cnts = np.empty(0)
    if num is not None:
        if num.values is not None and num.counts is not None:
            vals, cnts = num.values, num.counts
        else:
            kll = bytes(num.kll.serialize())
    ds = col.distinct_sketch
    head = _HEADER.pack(b"DMS2", len(kll), vals.size, ds.size, ds.hashes.size, ds.scheme)
    return b"".join([head, kll, vals.astype("<f8").tobytes(), cnts.astype("<i8").tobytes(),
                     ds.hashes.astype("<u8").tobytes()])


def unpack_sketch(blob: bytes) -> tuple[Any, np.ndarray | None, np.ndarray | None, DistinctSketch]:
    """Inverse of :func:`pack_sketch` (and of version 1's blobs):
    (KLL sketch or None, exact values or None, exact counts or None, distinct sketch).

    :raises ValueError: when the blob is not a drift-monitor sketch.
    """
    magic = bytes(blob[:4])
    if magic == b"DMS1":
        return _unpack_v1(blob)
    if magic != b"DMS2":
        raise ValueError("not a drift-monitor sketch blob")
    _, kll_len, n_exact, size, n_hashes, scheme = _HEADER.unpack_from(blob, 0)
    off = _HEADER.size
    kll = datasketches.kll_doubles_sketch.deserialize(bytes(blob[off:off + kll_len])) if kll_len else None
    off += kll_len
    vals = np.frombuffer(blob, dtype="<f8", count=n_exact, offset=off).astype(np.float64)
    cnts = np.frombuffer(blob, dtype="<i8", count=n_exact, offset=off + 8 * n_exact).astype(np.int64)
    off += 16 * n_exact
    hashes = np.frombuffer(blob, dtype="<u8", count=n_hashes, offset=off).astype(np.uint64)
    return kll, vals, cnts, DistinctSketch(size, hashes, scheme)


def _unpack_v1(blob: bytes) -> tuple[Any, np.ndarray | None, np.ndarray | None, DistinctSketch]:
    _, kll_len, size = struct.unpack_from("<4sII", blob, 0)
    off = struct.calcsize("<4sII")
    kll = datasketches.kll_doubles_sketch.deserialize(bytes(blob[off:off + kll_len])) if kll_len else None
    hashes = np.frombuffer(blob[off + kll_len:], dtype="<u8").astype(np.uint64)
    return kll, None, None, DistinctSketch(size, hashes, 1)


def _numeric_stats(num: NumericSummary) -> dict[str, Any]:
    m = num.moments
    return {
        "n": m.n, "mean": m.mean, "m2": m.m2, "m3": m.m3, "m4": m.m4,
        "min": num.min, "max": num.max, "pos_inf": num.pos_inf, "neg_inf": num.neg_inf,
        "zeros": num.zeros, "k": num.k, "exact_limit": num.exact_limit,
        "precompaction_error": num.precompaction_error,
    }


def _column_stats(col: ColumnProfile) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "arrow_type": col.arrow_type, "count": col.count, "missing": col.missing,
        "empty": col.empty, "errors": col.errors, "length_min": col.length_min,
        "length_max": col.length_max, "length_sum": col.length_sum, "declared": col.declared,
        "timezone": col.timezone, "distinct": col.distinct, "distinct_floor": col.distinct_sketch.floor,
    }
    if col.numeric is not None:
        stats["numeric"] = _numeric_stats(col.numeric)
    if col.categories is not None:
        cats = col.categories
        stats["categories"] = {"counts": cats.counts, "other": cats.other, "cap": cats.cap, "error": cats.error}
    return stats


def _column_record(position: int, col: ColumnProfile) -> dict[str, Any]:
    return {"column": col.name, "position": position, "kind": col.kind,
            "stats": _finite(_column_stats(col)), "sketch": pack_sketch(col)}


def _finite(value: Any) -> Any:
    """Replace float infinities by strings (and NaN by None) so the value is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(value, np.integer):
        return int(value)
    return value


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def profile_to_records(profile: DatasetProfile) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """See :meth:`DatasetProfile.to_records`."""
    meta = {"format_version": FORMAT_VERSION, "row_count": profile.row_count, "columns": list(profile.columns)}
    return meta, [_column_record(i, col) for i, col in enumerate(profile.columns.values())]


def _numeric_from(s: Mapping[str, Any], kll: Any, vals: np.ndarray | None, cnts: np.ndarray | None) -> NumericSummary:
    moments = Moments(int(s["n"]), float(s["mean"]), float(s["m2"]), float(s["m3"]), float(s["m4"]))
    exact = kll is None and vals is not None
    num = NumericSummary(
        moments, _float(s["min"]), _float(s["max"]), int(s["pos_inf"]), int(s["neg_inf"]), int(s["zeros"]),
        int(s["k"]), int(s.get("exact_limit", vals.size if vals is not None else 0)),
        vals if exact else None, cnts if exact else None, kll, float(s.get("precompaction_error", 0.0)),
    )
    if num.values is None and num.kll is None:
        num.kll = datasketches.kll_doubles_sketch(num.k)
    return num


def _column_from_record(rec: Mapping[str, Any]) -> ColumnProfile:
    stats = rec["stats"]
    kll, vals, cnts, distinct = unpack_sketch(rec["sketch"])
    distinct.floor = float(stats.get("distinct_floor", 0.0) or 0.0)
    col = ColumnProfile(
        rec["column"], rec["kind"], stats.get("arrow_type", ""), int(stats["count"]), int(stats["missing"]),
        int(stats["empty"]), int(stats["errors"]), distinct_sketch=distinct,
        length_min=stats.get("length_min"), length_max=stats.get("length_max"),
        length_sum=int(stats.get("length_sum", 0)), declared=bool(stats.get("declared", False)),
        timezone=stats.get("timezone"),
    )
    if "numeric" in stats:
        col.numeric = _numeric_from(stats["numeric"], kll, vals, cnts)
    if "categories" in stats:
        c = stats["categories"]
        col.categories = CategorySummary({str(k): int(v) for k, v in c["counts"].items()}, int(c["other"]),
                                         int(c["cap"]), int(c.get("error", 0)))
    return col


def profile_from_records(meta: Mapping[str, Any], columns: Sequence[Mapping[str, Any]]) -> DatasetProfile:
    """See :meth:`DatasetProfile.from_records`."""
    version = meta.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ValueError(f"unsupported profile format version {version!r} (this version reads {READABLE_VERSIONS})")
    ordered = sorted(columns, key=lambda r: r["position"])
    return DatasetProfile(int(meta["row_count"]), {r["column"]: _column_from_record(r) for r in ordered})


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
    """A statistic in strict JSON: datetimes as ISO 8601 UTC strings, infinities as strings."""
    if value is None:
        return None
    if kind == "datetime" and isinstance(value, (float, int)) and math.isfinite(value):
        stamp = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=round(float(value) * 1e6))
        return stamp.isoformat().replace("+00:00", "Z")
    return _finite(float(value)) if isinstance(value, (float, np.floating)) else value


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
        "is_exact": num.is_exact, "rank_error": _finite(num.rank_error),
    }
    spread = {"std": num.std, "variance": num.variance, "skewness": num.skewness, "kurtosis": num.kurtosis}
    if col.kind == "datetime":
        out["std_seconds"] = _finite(num.std)
    else:
        out.update({k: _finite(v) for k, v in spread.items()})
    return out


def _column_json(col: ColumnProfile) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": col.name, "kind": col.kind, "arrow_type": col.arrow_type, "count": col.count,
        "missing": col.missing, "not_missing": col.not_missing, "percent_missing": _finite(col.percent_missing),
        "errors": col.errors, "empty": col.empty, "distinct": round(col.distinct),
        "distinct_relative_error": _finite(col.distinct_error), "declared": col.declared,
    }
    if col.kind == "datetime":
        out["timezone"] = col.timezone or "UTC (naive)"
    out.update(_numeric_json(col))
    if col.length_min is not None:
        out["length"] = {"min": col.length_min, "mean": _finite(col.length_mean), "max": col.length_max}
    if col.categories is not None:
        cats = col.categories
        out["categories"] = {"counts": dict(cats.counts), "other": cats.other, "error": cats.error}
    return out


def profile_json(profile: DatasetProfile) -> dict[str, Any]:
    """The profile as strict JSON (no NaN or infinity): ``{"row_count", "columns": [...]}``,
    each column with its counts, distribution statistics (datetimes as ISO 8601
    UTC strings), category counts and string lengths."""
    return {"row_count": profile.row_count, "columns": [_column_json(c) for c in profile.columns.values()]}
