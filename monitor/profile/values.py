"""Arrow values converted to the representation their kind is profiled in, for
exact comparisons and data copies: :func:`coerce`, :func:`typed_batch`,
:func:`finite_values`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.profile.columns import as_text, float_values, is_text_array, to_numeric
from monitor.sources.csv_types import parse_text

if TYPE_CHECKING:
    from monitor.profile.model import DatasetProfile

__all__ = ["coerce", "finite_values", "typed_batch"]

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
    return to_numeric(arr, kind).cast(pa.float64(), safe=False), errors


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
