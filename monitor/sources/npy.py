"""NumPy ``.npy`` arrays: a 2-D array of ``N`` vectors of length ``D`` read as a
table of one vector column.

A file ``X.npy`` holding a 2-D array (``N x D``, floating point or integer)
is read as ``N`` rows of one column named :data:`COLUMN` (``vector``, whatever
the file is called, so that the parts of a dataset split over several files
are one column), of Arrow type ``fixed_size_list<D>`` of the array's element
type (``float16`` is widened to ``float32``). Rows are read
:data:`BATCH_ROWS` at a time: a local file is memory-mapped
(``numpy.load(mmap_mode="r")``) and each batch copied out of the map, an object
of a datastore is read sequentially after its header, so the whole array is
never in memory at once. A 1-D array, an array of more than two dimensions, or
one of another element type (objects, strings, complex numbers) is a
:class:`~monitor.errors.SourceError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from monitor.errors import SourceError
from monitor.sources.inputs import Input, is_local

__all__ = ["BATCH_ROWS", "COLUMN", "npy_schema", "read_npy", "vector_batch"]

COLUMN = "vector"
"""The name of the vector column of a ``.npy`` file."""
BATCH_ROWS = 4096
"""Vectors per record batch."""


def vector_batch(values: np.ndarray, name: str = COLUMN) -> pa.RecordBatch:
    """A record batch of one ``fixed_size_list`` column from a 2-D array.

    :param values: shape ``(rows, dim)``, floating point or integer.
    :param name: the column's name.
    """
    flat = pa.array(np.ascontiguousarray(values).reshape(-1))
    return pa.RecordBatch.from_arrays([pa.FixedSizeListArray.from_arrays(flat, values.shape[1])], [name])


def _check(path: Input, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    if len(shape) != 2:
        raise SourceError(f"{path}: a .npy dataset is a 2-D array (vectors x dimensions), not of shape {shape}")
    if dtype.kind not in "fiu":
        raise SourceError(f"{path}: a .npy dataset holds numbers, not {dtype}")


def _element(dtype: np.dtype[Any]) -> np.dtype[Any]:
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def npy_schema(path: Input) -> pa.Schema:
    """The schema a ``.npy`` file is read with (its header only is read).

    :raises SourceError: naming the file when it is not a 2-D array of numbers.
    """
    with _open(path) as f:
        shape, _, dtype = _header(path, f)
    _check(path, shape, dtype)
    value = pa.from_numpy_dtype(_element(dtype))
    return pa.schema([pa.field(COLUMN, pa.list_(value, shape[1]))])


def read_npy(path: Input, columns: Sequence[str] | None = None, digests: Any = None) -> Iterator[pa.RecordBatch]:
    """Stream a ``.npy`` file's vectors, :data:`BATCH_ROWS` at a time.

    :param columns: unused (the file has one column; selection is done by the caller).
    :param digests: unused (a ``content`` fingerprint hashes the file after the pass).
    :raises SourceError: naming the file when it is not a 2-D array of numbers
        or cannot be read.
    """
    if is_local(path):
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SourceError(f"{path}: cannot read as npy: {exc}") from exc
        _check(path, array.shape, array.dtype)
        for start in range(0, array.shape[0], BATCH_ROWS):
            yield vector_batch(np.asarray(array[start:start + BATCH_ROWS], dtype=_element(array.dtype)))
        return
    yield from _read_stream(path)


def _read_stream(path: Input) -> Iterator[pa.RecordBatch]:
    with _open(path) as f:
        shape, fortran, dtype = _header(path, f)
        _check(path, shape, dtype)
        if fortran and shape[0] > 1 and shape[1] > 1:
            raise SourceError(f"{path}: a Fortran-ordered array cannot be streamed from a datastore")
        rows, dim = shape
        row_bytes = dim * dtype.itemsize
        for start in range(0, rows, BATCH_ROWS):
            count = min(BATCH_ROWS, rows - start)
            data = f.read(count * row_bytes)
            if len(data) != count * row_bytes:
                raise SourceError(f"{path}: the array ends after {start + len(data) // max(row_bytes, 1)} of {rows} rows")
            yield vector_batch(np.frombuffer(data, dtype=dtype).reshape(count, dim).astype(_element(dtype)))


def _open(path: Input) -> Any:
    try:
        return open(path, "rb") if is_local(path) else path.open(sequential=True)  # noqa: SIM115
    except OSError as exc:
        raise SourceError(f"{path}: cannot open: {exc}") from exc


def _header(path: Input, f: Any) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: not a .npy file: {exc}") from exc
    return tuple(shape), bool(fortran), np.dtype(dtype)
