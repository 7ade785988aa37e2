"""Column kinds: the kind each column is profiled as, Arrow values in the form
their kind is profiled in, and the categorical inference rules.

Kinds: integer, decimal, string, boolean, datetime, categorical, and vector
(fixed-length lists of numbers, :mod:`monitor.profile.vectors`; only from the
Arrow type, never declared). A column's kind comes from its Arrow type (:func:`kind_of`), from a ``types`` override, or, for
text columns (CSV), from :func:`monitor.sources.csv_types.infer_kind`
(:func:`column_spec`). Whether a string or integer column is categorical is
decided on the whole profile (:func:`text_categorical`, :func:`int_categorical`);
the rules are in :mod:`monitor.profile`'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.profile.numeric import NumericSummary
from monitor.profile.sketches import CategorySummary
from monitor.profile.vectors import is_vector_type
from monitor.sources.csv_types import TextKind, infer_kind

KINDS = ("integer", "decimal", "string", "boolean", "datetime", "categorical")
NUMERIC_KINDS = ("integer", "decimal", "datetime")
TEXT_KINDS = ("string", "categorical")
VECTOR_KIND = "vector"
"""The kind of list columns of numbers (embeddings): :func:`~monitor.profile.vectors.is_vector_type`."""
SMALL_INT_CATEGORIES = 20
"""An integer column with at most this many distinct values (each occurring on
average at least twice) is categorical."""


@dataclass(frozen=True)
class ColumnSpec:
    """How a column is profiled.

    :ivar kind: the kind before categorical inference.
    :ivar declared: the kind came from a ``types`` override.
    :ivar text: values arrive as raw text (CSV) and are parsed to the kind.
    :ivar fmt: the datetime format of a text column.
    """

    kind: str
    declared: bool = False
    text: bool = False
    fmt: str | None = None


def kind_of(arrow_type: pa.DataType) -> str:
    """Our column kind for an Arrow type (strings start as "string")."""
    if pa.types.is_dictionary(arrow_type):
        return "categorical"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "datetime"
    if is_vector_type(arrow_type):
        return VECTOR_KIND
    return "string"


def column_spec(arrow_type: pa.DataType, declared: str | None, text: bool, sample: pa.Array | None = None) -> ColumnSpec:
    """The :class:`ColumnSpec` of a column.

    :param sample: for a text column, values to infer the kind (and datetime format) from.
    :raises ValueError: when ``declared`` is not one of :data:`KINDS`.
    """
    if declared is not None and declared not in KINDS:
        raise ValueError(f"unknown kind {declared!r}; expected one of {', '.join(KINDS)}")
    if not text or pa.types.is_fixed_size_list(arrow_type):  # a vector column beside CSV text is not text
        return ColumnSpec(declared or kind_of(arrow_type), declared is not None)
    inferred = infer_kind(sample) if sample is not None else TextKind("string")
    if declared is None:
        return ColumnSpec(inferred.kind, False, True, inferred.fmt)
    fmt = inferred.fmt if declared == "datetime" else None
    return ColumnSpec(declared, True, True, fmt)


# ---------------------------------------------------------------------------
# Arrow values as their kind is profiled


def chunks(arr: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    """The chunks of a chunked array; a plain array as its only chunk."""
    return list(arr.chunks) if isinstance(arr, pa.ChunkedArray) else [arr]


def float_values(arr: pa.Array) -> tuple[np.ndarray, int]:
    """Non-missing values of a numeric Arrow array as float64, and the missing count
    (nulls and NaN)."""
    missing = arr.null_count
    if missing:
        arr = arr.drop_null()
    if not pa.types.is_floating(arr.type):
        return arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False), missing
    values = arr.to_numpy(zero_copy_only=False)
    if values.dtype != np.float64:
        values = values.astype(np.float64)
    nan = np.isnan(values)
    if nan.any():
        missing += int(np.count_nonzero(nan))
        values = values[~nan]
    return values, missing


def _seconds(arr: pa.Array) -> pa.Array:
    """Timestamps and dates as float64 seconds since the epoch, UTC."""
    if pa.types.is_date(arr.type):
        days = arr.cast(pa.date32()).cast(pa.int32()).cast(pa.float64())
        return pc.multiply(days, 86400.0)
    micros = arr.cast(pa.timestamp("us", tz=arr.type.tz), safe=False).cast(pa.int64()).cast(pa.float64(), safe=False)
    return pc.divide(micros, 1e6)


def to_numeric(arr: pa.Array, kind: str) -> pa.Array:
    """A non-text Arrow array as float64 for a numeric kind (datetimes as seconds)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return _seconds(arr)
    if pa.types.is_boolean(arr.type):
        return arr.cast(pa.int8()).cast(pa.float64())
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
        return arr
    if pa.types.is_decimal(arr.type):
        return arr.cast(pa.float64())
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr  # parsed by the caller
    raise ValueError(f"cannot profile {arr.type} as {kind}")


def is_text_array(arr: pa.Array) -> bool:
    """True for a string array, or a dictionary array of strings."""
    t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def as_text(chunk: pa.Array) -> pa.Array:
    """A non-text chunk as strings (booleans as true/false, timestamps in ISO form;
    nested values and bytes that are not UTF-8 through ``str``)."""
    if pa.types.is_dictionary(chunk.type):
        chunk = chunk.dictionary_decode()
    try:
        return chunk.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in chunk.to_pylist()], type=pa.string())


# ---------------------------------------------------------------------------
# categorical inference


def text_categorical(cats: CategorySummary, values: int) -> bool:
    """The string → categorical rule (see :mod:`monitor.profile`)."""
    n = len(cats.counts)
    return cats.error == 0 and cats.other == 0 and 0 < n <= cats.cap and n <= values / 2


def int_categorical(num: NumericSummary, values: int) -> bool:
    """The integer → categorical rule (see :mod:`monitor.profile`)."""
    if num.values is None or num.values.size == 0 or num.pos_inf or num.neg_inf:
        return False
    return num.values.size <= SMALL_INT_CATEGORIES and num.values.size <= values / 2


def int_categories(num: NumericSummary, cap: int, values: int) -> CategorySummary | None:
    """Category counts of an integer column in exact mode, labels as decimal integers."""
    if num.values is None or num.counts is None:
        return None
    pairs = sorted(zip((str(int(v)) for v in num.values), num.counts.tolist()), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(pairs[:cap])
    return CategorySummary(kept, values - sum(kept.values()), cap)
