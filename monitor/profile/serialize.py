"""The profile's stored form: :func:`profile_to_records` and :func:`profile_from_records`.

Stored form (:data:`~monitor.profile.FORMAT_VERSION` 3): a dataset-level dict
``{"format_version", "row_count", "columns"}`` and one record per column,
``{"column", "position", "kind", "stats", "sketch"}``, where ``stats`` is strict
JSON with one type per field (a non-finite number is ``null``: ``min`` is
``null`` for ``-inf`` when ``neg_inf > 0``, ``max`` for ``+inf`` when
``pos_inf > 0``; the moments are those of the values times ``2**-exp``,
``"moments": {"exp", "mean", "m2", "m3", "m4"}``, finite for any finite data)
and ``sketch`` is bytes:

``b"DMS2"``, then little-endian uint32s: KLL bytes, exact-value count, KMV size,
KMV hash count, hash scheme; then the KLL sketch (Apache DataSketches
``kll_doubles_sketch`` serialisation), the exact distinct values (float64) and
their counts (int64), and the KMV hashes (uint64).

Versions 1 and 2 are still read: their moments were stored unscaled (``"mean"``,
``"m2"``, ``"m3"``, ``"m4"``; rescaled on reading, exactly, and a moment that had
overflowed stays infinite) and their infinities as the strings ``"inf"`` and
``"-inf"``. Version 1 profiles (sketch ``b"DMS1"``: KLL bytes and KMV hashes, no
exact counts) have distinct-count sketches of hash scheme 1, which merge with
newer ones only approximately.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import datasketches
import numpy as np

from monitor.profile.model import FORMAT_VERSION, ColumnProfile, DatasetProfile
from monitor.profile.numeric import NumericSummary
from monitor.profile.sketches import CategorySummary, DistinctSketch, Moments

__all__ = ["READABLE_VERSIONS", "json_finite", "pack_sketch", "profile_from_records", "profile_to_records",
           "unpack_sketch"]

READABLE_VERSIONS = (1, 2, 3)

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
        "n": m.n, "moments": {"exp": m.exp, "mean": m.mean_s, "m2": m.m2_s, "m3": m.m3_s, "m4": m.m4_s},
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
            "stats": json_finite(_column_stats(col)), "sketch": pack_sketch(col)}


def json_finite(value: Any) -> Any:
    """``value`` as strict JSON with one type per field: a non-finite float (NaN,
    ``±inf``) becomes None (JSON ``null``), numpy scalars Python numbers; dicts,
    lists and tuples are converted throughout."""
    if isinstance(value, dict):
        return {k: json_finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _float(value: Any) -> float | None:
    """A stored number: None stays None; ``"inf"``/``"-inf"`` (versions 1 and 2) are read."""
    return None if value is None else float(value)


def _sum(value: Any) -> float:
    """A stored moment sum of versions 1 and 2 (NaN was stored as null)."""
    return math.nan if value is None else float(value)


def _bound(value: Any, infinite: int, sign: float) -> float | None:
    """A stored min or max: null stands for the infinity of ``sign`` when ``infinite > 0``."""
    return sign * math.inf if value is None and infinite else _float(value)


def profile_to_records(profile: DatasetProfile) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Serialise a profile: a dataset-level dict ``{"format_version", "row_count",
    "columns"}`` and one dict per column with keys ``column, position, kind,
    stats`` (strict JSON) and ``sketch`` (bytes)."""
    meta = {"format_version": FORMAT_VERSION, "row_count": profile.row_count, "columns": list(profile.columns)}
    return meta, [_column_record(i, col) for i, col in enumerate(profile.columns.values())]


def _moments_from(s: Mapping[str, Any], kll: Any, vals: np.ndarray | None) -> Moments:
    """The moments of a stored column: scaled (version 3) or unscaled (versions 1
    and 2, rescaled here for the column's largest finite magnitude)."""
    n = int(s["n"])
    if "moments" in s:
        m = s["moments"]
        return Moments(n, float(m["mean"]), float(m["m2"]), float(m["m3"]), float(m["m4"]), int(m["exp"]))
    lo = hi = 0.0
    if vals is not None and vals.size:
        lo, hi = float(vals[0]), float(vals[-1])
    elif kll is not None and not kll.is_empty():
        lo, hi = float(kll.get_min_value()), float(kll.get_max_value())
    return Moments.unscaled(n, _sum(s["mean"]), _sum(s["m2"]), _sum(s["m3"]), _sum(s["m4"]), max(-lo, hi))


def _numeric_from(s: Mapping[str, Any], kll: Any, vals: np.ndarray | None, cnts: np.ndarray | None) -> NumericSummary:
    moments = _moments_from(s, kll, vals)
    exact = kll is None and vals is not None
    pos_inf, neg_inf = int(s["pos_inf"]), int(s["neg_inf"])
    num = NumericSummary(
        moments, _bound(s["min"], neg_inf, -1.0), _bound(s["max"], pos_inf, 1.0), pos_inf, neg_inf, int(s["zeros"]),
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
    """Inverse of :func:`profile_to_records`; reads every format version in
    :data:`READABLE_VERSIONS`.

    :raises ValueError: on an unknown format version or a malformed record.
    """
    version = meta.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ValueError(f"unsupported profile format version {version!r} (this version reads {READABLE_VERSIONS})")
    ordered = sorted(columns, key=lambda r: r["position"])
    return DatasetProfile(int(meta["row_count"]), {r["column"]: _column_from_record(r) for r in ordered})
