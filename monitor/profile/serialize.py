"""The profile's stored form: :func:`profile_to_records` and :func:`profile_from_records`.

Stored form (:data:`~monitor.profile.FORMAT_VERSION` 3): a dataset-level dict
``{"format_version", "row_count", "columns"}`` and one record per column,
``{"column", "position", "kind", "stats", "sketch"}``, where ``stats`` is strict
JSON with one type per field (a non-finite number is ``null``: ``min`` is
``null`` for ``-inf`` when ``neg_inf > 0``, ``max`` for ``+inf`` when
``pos_inf > 0``; the moments are those of the values times ``2**-exp``,
``"moments": {"exp", "mean", "m2", "m3", "m4"}``, finite for any finite data)
and ``sketch`` is bytes:

``b"DMS3"``, then little-endian uint32s: KLL bytes, exact-value count, theta
bytes, theta ``lg_k``, count of the theta sketch's row counts (``0xFFFFFFFF``
when not counted); then the KLL sketch (Apache DataSketches
``kll_doubles_sketch`` serialisation), the exact distinct values (float64) and
their counts (int64), the distinct-value theta sketch (DataSketches
``compact_theta_sketch`` serialisation, compressed) and the rows of each of its
retained hashes in ascending hash order (int64); for a vector column, its
summary follows (:func:`monitor.profile.vectors.pack_vector`, ending with
``b"VEC1"``; ``stats["vector"]`` holds ``dim``, ``n``, ``sample``,
``sample_size``). Readers of profiles without vector columns never look past the
distinct-value counts, so the format stays version 3.

A profile that keeps a row sample (:mod:`monitor.profile.rows`, for the
multivariate drift test) has ``"row_sample"`` in the dataset-level dict: the
base64 text of :func:`~monitor.profile.rows.pack_rows`. Profiles without it
(all those stored before) read with ``row_sample`` None.

Versions 1 and 2 are still read: their moments were stored unscaled (``"mean"``,
``"m2"``, ``"m3"``, ``"m4"``; rescaled on reading, exactly, and a moment that had
overflowed stays infinite) and their infinities as the strings ``"inf"`` and
``"-inf"``. Their sketches (``b"DMS2"``: KLL, exact counts and a K-minimum-values
sketch of the drift-monitor's own 64-bit hashes; ``b"DMS1"``: KLL and such hashes)
keep their distinct count (the estimate from their hashes, and
``stats["distinct_floor"]``), as :attr:`~monitor.profile.theta.DistinctSketch.legacy`;
their hashes cannot join a theta sketch, so such a column has no set overlap with
newer profiles and merges with them to the larger of the two counts.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import datasketches
import numpy as np

from monitor.profile.model import FORMAT_VERSION, ColumnProfile, DatasetProfile
from monitor.profile.numeric import NumericSummary
from monitor.profile.rows import pack_rows, unpack_rows
from monitor.profile.sketches import CategorySummary, Moments
from monitor.profile.theta import DistinctSketch
from monitor.profile.vectors import pack_vector, unpack_vector

__all__ = ["READABLE_VERSIONS", "json_finite", "pack_sketch", "profile_from_records", "profile_to_records",
           "unpack_sketch"]

READABLE_VERSIONS = (1, 2, 3)

# ---------------------------------------------------------------------------
# serialisation

_HEADER = struct.Struct("<4sIIIII")
_UNCOUNTED = 0xFFFFFFFF
_HEADER_V2 = struct.Struct("<4sIIIII")
_KMV_ERROR = 1.0 / math.sqrt(4096 - 2)
"""Relative standard error of the K-minimum-values sketches of formats 1 and 2 (K = 4096)."""


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
    theta = ds.to_bytes()
    rows = ds.counts if ds.counts is not None else np.empty(0, dtype=np.int64)
    head = _HEADER.pack(b"DMS3", len(kll), vals.size, len(theta), ds.lg_k,
                        rows.size if ds.counts is not None else _UNCOUNTED)
    vector = pack_vector(col.vector) if col.vector is not None else b""
    return b"".join([head, kll, vals.astype("<f8").tobytes(), cnts.astype("<i8").tobytes(), theta,
                     rows.astype("<i8").tobytes(), vector])


def unpack_sketch(blob: bytes) -> tuple[Any, np.ndarray | None, np.ndarray | None, DistinctSketch]:
    """Inverse of :func:`pack_sketch` (and of format 1 and 2 blobs):
    (KLL sketch or None, exact values or None, exact counts or None, distinct sketch).

    :raises ValueError: when the blob is not a drift-monitor sketch.
    """
    magic = bytes(blob[:4])
    if magic == b"DMS1":
        return _unpack_v1(blob)
    if magic == b"DMS2":
        return _unpack_v2(blob)
    if magic != b"DMS3":
        raise ValueError("not a drift-monitor sketch blob")
    _, kll_len, n_exact, theta_len, lg_k, n_rows = _HEADER.unpack_from(blob, 0)
    kll, vals, cnts, off = _kll_and_counts(blob, _HEADER.size, kll_len, n_exact)
    rows = None
    if n_rows != _UNCOUNTED:
        rows = np.frombuffer(blob, dtype="<i8", count=n_rows, offset=off + theta_len).astype(np.int64)
    return kll, vals, cnts, DistinctSketch.from_bytes(bytes(blob[off:off + theta_len]), lg_k, rows)


def _kll_and_counts(blob: bytes, off: int, kll_len: int, n_exact: int) -> tuple[Any, np.ndarray, np.ndarray, int]:
    kll = datasketches.kll_doubles_sketch.deserialize(bytes(blob[off:off + kll_len])) if kll_len else None
    off += kll_len
    vals = np.frombuffer(blob, dtype="<f8", count=n_exact, offset=off).astype(np.float64)
    cnts = np.frombuffer(blob, dtype="<i8", count=n_exact, offset=off + 8 * n_exact).astype(np.int64)
    return kll, vals, cnts, off + 16 * n_exact


def _unpack_v2(blob: bytes) -> tuple[Any, np.ndarray | None, np.ndarray | None, DistinctSketch]:
    _, kll_len, n_exact, size, n_hashes, _scheme = _HEADER_V2.unpack_from(blob, 0)
    kll, vals, cnts, off = _kll_and_counts(blob, _HEADER_V2.size, kll_len, n_exact)
    hashes = np.frombuffer(blob, dtype="<u8", count=n_hashes, offset=off)
    return kll, vals, cnts, _legacy_distinct(size, hashes)


def _unpack_v1(blob: bytes) -> tuple[Any, np.ndarray | None, np.ndarray | None, DistinctSketch]:
    _, kll_len, size = struct.unpack_from("<4sII", blob, 0)
    off = struct.calcsize("<4sII")
    kll = datasketches.kll_doubles_sketch.deserialize(bytes(blob[off:off + kll_len])) if kll_len else None
    hashes = np.frombuffer(blob[off + kll_len:], dtype="<u8")
    return kll, None, None, _legacy_distinct(size, hashes)


def _legacy_distinct(size: int, hashes: np.ndarray) -> DistinctSketch:
    """The distinct count of a format 1 or 2 K-minimum-values sketch (Bar-Yossef et
    al. 2002): the number of hashes while fewer than ``size`` (exact), else
    ``(size - 1) / (h_size / 2**64)`` with relative standard error ``1/sqrt(size - 2)``."""
    if hashes.size < size:
        return DistinctSketch(legacy=float(hashes.size), legacy_error=0.0)
    kth = float(np.sort(hashes)[size - 1]) + 1.0
    return DistinctSketch(legacy=(size - 1) / (kth / 2.0**64), legacy_error=1.0 / math.sqrt(size - 2))


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
        "timezone": col.timezone, "distinct": col.distinct, "distinct_floor": col.distinct_sketch.legacy,
        "distinct_floor_error": col.distinct_sketch.legacy_error,
    }
    if col.numeric is not None:
        stats["numeric"] = _numeric_stats(col.numeric)
    if col.vector is not None:
        v = col.vector
        stats["vector"] = {"dim": v.dim, "n": v.n, "sample": int(v.keys.size), "sample_size": v.size}
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
    "columns"}`` (and ``"row_sample"`` when it keeps one) and one dict per column with keys ``column, position, kind,
    stats`` (strict JSON) and ``sketch`` (bytes)."""
    meta: dict[str, Any] = {"format_version": FORMAT_VERSION, "row_count": profile.row_count,
                            "columns": list(profile.columns)}
    if profile.row_sample is not None:
        meta["row_sample"] = base64.b64encode(pack_rows(profile.row_sample)).decode("ascii")
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
    floor = float(stats.get("distinct_floor", 0.0) or 0.0)
    if floor > distinct.legacy:
        distinct.legacy, distinct.legacy_error = floor, float(stats.get("distinct_floor_error", _KMV_ERROR))
    col = ColumnProfile(
        rec["column"], rec["kind"], stats.get("arrow_type", ""), int(stats["count"]), int(stats["missing"]),
        int(stats["empty"]), int(stats["errors"]), distinct_sketch=distinct,
        length_min=stats.get("length_min"), length_max=stats.get("length_max"),
        length_sum=int(stats.get("length_sum", 0)), declared=bool(stats.get("declared", False)),
        timezone=stats.get("timezone"),
    )
    if "numeric" in stats:
        col.numeric = _numeric_from(stats["numeric"], kll, vals, cnts)
    if "vector" in stats:
        col.vector = unpack_vector(rec["sketch"], int(stats["vector"]["n"]))
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
    rows = meta.get("row_sample")
    sample = unpack_rows(base64.b64decode(rows)) if rows else None
    return DatasetProfile(int(meta["row_count"]), {r["column"]: _column_from_record(r) for r in ordered}, sample)
