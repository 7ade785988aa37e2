"""NumPy ``.npy`` arrays beside a table: row ``i`` of an array is row ``i`` of the table.

A dataset's ``arrays`` setting gives, for each extra vector column, the
``.npy`` files that hold it (a file, a folder, a glob, or a list of them,
like ``path``). The table's files and each column's array files are listed
sorted (:func:`~monitor.sources.files.resolve_files`) and paired in that
order, one array file per table file (:func:`pair_arrays`). An array is a 2-D
array (rows x dimensions) of numbers, read as a ``fixed_size_list`` column
of its element type (``float16`` widened to ``float32``, as a ``.npy``
dataset is read, :mod:`monitor.sources.npy`).

Each record batch of a table file gets the matching rows of each of its
arrays as a column (:func:`attach`): a local array is memory-mapped and the
rows a batch needs are copied out of the map; an object of a datastore (or a
URL) is opened with read-ahead blocks and read from the batch's first row
on, after a seek. No array is ever whole in memory. A read task that covers
some row groups of a Parquet file reads the rows of those row groups only,
found from the file's footer (:func:`group_starts`).

Mismatches are :class:`~monitor.errors.SourceError`\\ s naming the column and
both files: a table file without an array file (or the other way round), an
array with another row count than its table file, an array that is not 2-D
or not of numbers, and a column name the table already has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from monitor.errors import SourceError
from monitor.sources.inputs import Input, is_local, key_of
from monitor.sources.npy import _element, _header, _open

__all__ = ["ArrayFile", "ArrayInputs", "array_field", "attach", "check_arrays", "check_names", "group_starts",
           "pair_arrays"]

ArrayInputs = tuple[tuple[str, Input], ...]
"""The arrays beside one table file: ``(column, array file)`` each, in the
order of the dataset's ``arrays`` setting."""


def pair_arrays(tables: Sequence[Input], arrays: Mapping[str, Sequence[Input]]) -> dict[str, ArrayInputs]:
    """Pair each table file with one array file per column, in listed (sorted) order.

    :param tables: the table's files, as listed.
    :param arrays: column -> its array files, as listed.
    :returns: :func:`~monitor.sources.inputs.key_of` a table file -> its arrays.
    :raises SourceError: naming the column and the first table file without an
        array file (or array file without a table file) when the counts differ.
    """
    for column, found in arrays.items():
        if len(found) != len(tables):
            extra = (f"{tables[len(found)]} has no array file" if len(found) < len(tables)
                     else f"{found[len(tables)]} has no table file")
            raise SourceError(f"arrays of column {column!r}: {len(found)} .npy file(s) for {len(tables)} table "
                              f"file(s), paired in sorted order; {extra}")
    return {key_of(t): tuple((column, found[i]) for column, found in arrays.items()) for i, t in enumerate(tables)}


class ArrayFile:
    """One array beside a table file, opened to read runs of rows.

    :param column: the column it is read as.
    :param path: the ``.npy`` file or object.
    :param table: the table file it is beside (for messages).
    :raises SourceError: naming both files and the column when the array cannot
        be opened or is not a 2-D array of numbers.
    """

    def __init__(self, column: str, path: Input, table: Input) -> None:
        self.column, self.path, self.table = column, path, table
        self._map: np.ndarray | None = None
        self._file: Any = None
        if is_local(path):
            try:
                self._map = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise self.error(f"cannot read as npy: {exc}") from exc
            shape, dtype, fortran = tuple(self._map.shape), self._map.dtype, False
        else:
            self._file = _open(path)
            shape, fortran, dtype = _header(path, self._file)
            self._data = self._file.tell()
        self._check(shape, dtype, fortran)
        self.rows, self.dim = int(shape[0]), int(shape[1])
        self.dtype, self.element = np.dtype(dtype), _element(np.dtype(dtype))

    def error(self, what: str) -> SourceError:
        """A SourceError naming the array, the column and the table file."""
        return SourceError(f"{self.path} (column {self.column!r} beside {self.table}): {what}")

    def _check(self, shape: tuple[int, ...], dtype: np.dtype[Any], fortran: bool) -> None:
        if len(shape) != 2:
            raise self.error(f"an array beside a table is 2-D (rows x dimensions), not of shape {shape}")
        if dtype.kind not in "fiu":
            raise self.error(f"an array beside a table holds numbers, not {dtype}")
        if fortran and shape[0] > 1 and shape[1] > 1:
            raise self.error("a Fortran-ordered array cannot be read from a datastore by rows")

    def take(self, start: int, count: int) -> pa.Array:
        """Rows ``[start, start + count)`` as a ``fixed_size_list<dim>`` array.

        :raises SourceError: when the array has fewer rows, or cannot be read.
        """
        if start + count > self.rows:
            raise self.error(f"{self.rows} rows, fewer than the table file has")
        if self._map is not None:
            values = np.asarray(self._map[start:start + count], dtype=self.element)
        else:
            size = count * self.dim * self.dtype.itemsize
            try:
                self._file.seek(self._data + start * self.dim * self.dtype.itemsize)
                data = self._file.read(size)
            except OSError as exc:
                raise self.error(f"cannot read: {exc}") from exc
            if len(data) != size:
                raise self.error(f"the array ends before row {start + count} of {self.rows}")
            values = np.frombuffer(data, dtype=self.dtype).reshape(count, self.dim).astype(self.element)
        flat = pa.array(np.ascontiguousarray(values).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, self.dim)

    def close(self) -> None:
        """Close the map or the object."""
        self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None


def array_field(column: str, path: Input, table: Input) -> pa.Field:
    """The field an array is read as: ``fixed_size_list<dim>`` of its element type.

    :raises SourceError: as :class:`ArrayFile`.
    """
    array = ArrayFile(column, path, table)
    try:
        return pa.field(column, pa.list_(pa.from_numpy_dtype(array.element), array.dim))
    finally:
        array.close()


def check_arrays(table: Input, rows: int, names: Iterable[str], arrays: ArrayInputs) -> dict[str, pa.Field]:
    """Check the arrays beside a table file of ``rows`` rows and columns ``names``.

    :returns: column -> the field it is read as (``fixed_size_list<dim>``).
    :raises SourceError: naming both files and the column when an array has
        another row count, is not a 2-D array of numbers, or its column is a
        column of the table.
    """
    check_names(table, names, arrays)
    fields = {}
    for column, path in arrays:
        array = ArrayFile(column, path, table)
        try:
            if array.rows != rows:
                raise array.error(f"{array.rows} rows, but the table file has {rows} rows")
            fields[column] = pa.field(column, pa.list_(pa.from_numpy_dtype(array.element), array.dim))
        finally:
            array.close()
    return fields


def check_names(table: Input, names: Iterable[str], arrays: ArrayInputs) -> None:
    """Check no array's column is a column of the table.

    :raises SourceError: naming both files and the column otherwise.
    """
    have = set(names)
    for column, path in arrays:
        if column in have:
            raise SourceError(f"{table}: column {column!r} is in the table and in arrays ({path}); "
                              "rename one of them")


def group_starts(md: Any, groups: Sequence[int] | None) -> list[tuple[int, int]]:
    """``(first row, rows)`` in the file of each row group read, in order.

    :param md: the file's ``pyarrow.parquet.FileMetaData``.
    :param groups: the row groups read (None: all).
    """
    starts, first = [], 0
    for i in range(md.num_row_groups):
        starts.append((first, md.row_group(i).num_rows))
        first += md.row_group(i).num_rows
    return [starts[i] for i in (groups if groups is not None else range(md.num_row_groups))]


def attach(batches: Iterable[pa.RecordBatch], table: Input, arrays: ArrayInputs,
           runs: Sequence[tuple[int, int]] | None = None) -> Iterator[pa.RecordBatch]:
    """The table file's batches, each with the matching rows of each array as a column.

    :param runs: ``(first row, rows)`` of the runs of rows the batches hold, in
        order (a Parquet task's row groups, :func:`group_starts`); None when they
        are the whole file from its first row: then each array must have exactly
        as many rows as the batches, checked at the end.
    :raises SourceError: naming both files and the column on a column name the
        table has, or a row count that differs.
    """
    opened = [ArrayFile(column, path, table) for column, path in arrays]
    try:
        position = _Position(runs)
        for batch in batches:
            check_names(table, batch.schema.names, arrays)
            yield _with_columns(batch, opened, position.take(batch.num_rows))
        if runs is None:
            for array in opened:
                if array.rows != position.read:
                    raise array.error(f"{array.rows} rows, but the table file has {position.read} rows")
    finally:
        for array in opened:
            array.close()


def _with_columns(batch: pa.RecordBatch, arrays: Sequence[ArrayFile], pieces: list[tuple[int, int]],
                  ) -> pa.RecordBatch:
    columns, names = list(batch.columns), list(batch.schema.names)
    for array in arrays:
        parts = [array.take(start, count) for start, count in pieces]
        columns.append(parts[0] if len(parts) == 1 else pa.concat_arrays(parts))
        names.append(array.column)
    schema = pa.schema([*batch.schema, *(pa.field(n, c.type) for n, c in zip(names[len(batch.schema):],
                                                                              columns[len(batch.schema):]))],
                       metadata=batch.schema.metadata)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


class _Position:
    """Where the next batch's rows are in the file: the runs of rows read, consumed in order."""

    def __init__(self, runs: Sequence[tuple[int, int]] | None) -> None:
        self.runs = list(runs) if runs is not None else None
        self.read = 0
        self._run, self._within = 0, 0

    def take(self, rows: int) -> list[tuple[int, int]]:
        """The ``(first row, rows)`` pieces of the next ``rows`` rows."""
        if self.runs is None:
            start, self.read = self.read, self.read + rows
            return [(start, rows)]
        pieces = []
        while rows > 0:
            if self._run >= len(self.runs):
                raise SourceError("a Parquet task read more rows than its row groups hold")
            first, size = self.runs[self._run]
            count = min(rows, size - self._within)
            pieces.append((first + self._within, count))
            rows -= count
            self._within += count
            self.read += count
            if self._within == size:
                self._run, self._within = self._run + 1, 0
        return pieces or [(0, 0)]
