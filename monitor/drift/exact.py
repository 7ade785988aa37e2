"""Exact mode: the comparison computed from two data copies (Arrow tables) with
scipy and numpy; the oracle the profile numbers are checked against."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.drift.compare import compare_columns
from monitor.drift.inputs import ColumnInput, base_kind
from monitor.drift.metrics import (
    NUMERIC_KINDS,
    CategoryCounts,
    side_from_values,
)
from monitor.drift.results import DatasetDrift
from monitor.drift.settings import DriftSettings
from monitor.drift.vectors import vector_side

if TYPE_CHECKING:
    from monitor.profile.model import ColumnProfile


def _column_array(table: pa.Table, name: str) -> pa.Array:
    chunked = table.column(name)
    return chunked.combine_chunks() if chunked.num_chunks else pa.array([], type=chunked.type)


def input_from_data(arr: pa.Array, col: ColumnProfile) -> ColumnInput:
    """The exact :class:`ColumnInput` of a column's data, coerced as the profile coerces it.

    :param col: the profile of this very data: its kinds, and its theta sketch of
        the distinct values as the input's ``distinct`` (though
        :func:`~monitor.drift.overlap.new_values` uses the exact category sets
        whenever both sides list every value, as they do here).
    """
    from monitor.profile.values import coerce

    numeric = categories = None
    if col.numeric is not None:
        values, _ = coerce(arr, col.kind if col.kind in NUMERIC_KINDS else "decimal")
        nums = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
        numeric = side_from_values(nums[~np.isnan(nums)])
    if col.categories is not None:
        values, _ = coerce(arr, col.kind)
        counts = pc.value_counts(values.drop_null())
        labels = counts.field("values").to_pylist()
        names = [("true" if v else "false") if col.kind == "boolean" else str(v) for v in labels]
        categories = CategoryCounts(dict(zip(names, (int(c) for c in counts.field("counts").to_pylist()))), 0)
    vector = vector_side(col.vector) if col.vector is not None else None  # as in profile mode
    return ColumnInput(col.name, col.kind, col.count, col.missing, numeric, categories, base_kind(col),
                       col.distinct_sketch, vector)


def _batches(table: pa.Table) -> list[pa.RecordBatch]:
    batches: list[pa.RecordBatch] = table.to_batches()
    if batches:
        return batches
    empty = [pa.array([], type=f.type) for f in table.schema]
    return [pa.RecordBatch.from_arrays(empty, schema=table.schema)]


def _data_inputs(table: pa.Table, types: Mapping[str, str] | None) -> tuple[int, dict[str, ColumnInput]]:
    from monitor.profile import compute_profile

    profile = compute_profile(_batches(table), types=types)
    inputs = {name: input_from_data(_column_array(table, name), col) for name, col in profile.columns.items()}
    return table.num_rows, inputs


def compare_data(baseline: pa.Table, target: pa.Table, settings: DriftSettings | None = None,
                 types: Mapping[str, str] | None = None) -> DatasetDrift:
    """Exact mode: the same comparison computed from two data copies with scipy and numpy.

    Column kinds are inferred as the profile infers them (``types`` overrides, as
    in a dataset's ``types:``); values are coerced the same way. Categories are
    counted without a cap, so there is no "other" bucket.

    :param baseline: the baseline data copy; ``target`` the current one.
    :returns: a :class:`DatasetDrift` with ``mode == "exact"``.
    """
    rows_b, base = _data_inputs(baseline, types)
    rows_t, targ = _data_inputs(target, types)
    return compare_columns("exact", (rows_b, rows_t), base, targ, settings or DriftSettings())
