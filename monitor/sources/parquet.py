"""Parquet files and objects: their footers, schemas and row groups.

A local file is opened by path; an object of an object store through ranged
reads (:func:`~monitor.sources.inputs.random_access`), its footer kept per
version so that a snapshot that opens it several times fetches it once, and
a dense read (most of its bytes) by read-ahead blocks. The read tasks that
cover runs of row groups are planned in :mod:`monitor.sources.files`, with
the costs and dictionary-encoded columns judged here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from monitor.errors import SourceError
from monitor.sources.digest import Digests
from monitor.sources.inputs import Input, chunk_bytes, is_local, random_access
from monitor.sources.names import check_unique_names, selected, short

__all__ = ["ARROW_ERRORS", "balanced_groups", "column_cost", "dictionary_columns", "parquet_batches",
           "parquet_file", "parquet_metadata", "parquet_schema", "read_parquet"]

ARROW_ERRORS = (pa.ArrowException, OSError, UnicodeDecodeError)
"""The exceptions a reader turns into a :class:`~monitor.errors.SourceError` naming the file."""
DICTIONARY_BYTES_PER_ROW = 4.0
"""See :func:`dictionary_columns`."""


_FOOTERS: dict[tuple[str, str, int], pq.FileMetaData] = {}
"""Parquet footers of objects by (URL, version, size), so a snapshot that opens
an object several times (types, read tasks, reading) fetches its footer once."""
FOOTERS_KEPT = 256


DENSE_SHARE = 0.5
"""An object whose selected column chunks make up at least this share of its
bytes is read with read-ahead blocks (:data:`~monitor.sources.remote.SEQUENTIAL_BLOCK`),
one request per block; a sparser read fetches each column chunk by itself."""


def parquet_file(path: Input, reading: tuple[Sequence[str] | None, Sequence[int] | None] | None = None,
                  **kwargs: Any) -> pq.ParquetFile:
    """A ``ParquetFile`` over a local file or an object (ranged reads, coalesced;
    the footer of an object read once per version).

    :param reading: the columns and row groups about to be read (None: all),
        for an object: a dense read goes by read-ahead blocks.
    """
    if is_local(path):
        return pq.ParquetFile(path, **kwargs)
    key = (path.url, path.version, path.size)
    md = _FOOTERS.get(key)
    dense = md is not None and reading is not None and chunk_bytes(md, *reading) >= DENSE_SHARE * max(path.size, 1)
    source = path.open(sequential=True) if dense else random_access(path)
    pf = pq.ParquetFile(source, metadata=md, pre_buffer=True, **kwargs)
    if key not in _FOOTERS and path.version:
        if len(_FOOTERS) >= FOOTERS_KEPT:
            _FOOTERS.pop(next(iter(_FOOTERS)))
        _FOOTERS[key] = pf.metadata
    return pf


def parquet_metadata(path: Input) -> pq.FileMetaData:
    """The footer metadata of a Parquet file or object.

    :raises OSError, pyarrow.ArrowException: when it is not readable Parquet.
    :raises SourceError: when an object cannot be opened.
    """
    return parquet_file(path).metadata


def parquet_schema(path: Input) -> pa.Schema:
    """The Arrow schema of a Parquet file (from its footer).

    :raises SourceError: when the file is not readable Parquet or two of its
        columns have the same name.
    """
    try:
        schema = parquet_file(path).schema_arrow
    except ARROW_ERRORS as exc:
        raise SourceError(f"{path}: cannot read as parquet: {short(exc)}") from exc
    check_unique_names(path, schema.names)
    return schema


def read_parquet(path: Input, columns: Sequence[str] | None, digests: Digests | None) -> Iterator[pa.RecordBatch]:
    yield from parquet_batches(path, None, columns, None)


def parquet_batches(
    path: Input, row_groups: Sequence[int] | None, columns: Sequence[str] | None, dictionary: Sequence[str] | None,
) -> Iterator[pa.RecordBatch]:
    """Batches of some row groups of a Parquet file, one row group at a time.

    :param dictionary: columns to read dictionary-encoded, in one thread (None:
        plain, with Arrow's threads).
    """
    pf = parquet_file(path, (columns, row_groups))
    check_unique_names(path, pf.schema_arrow.names)
    names = selected(path, pf.schema_arrow.names, columns, ())
    encoded = [n for n in dictionary or () if n in names]
    if encoded:
        pf = parquet_file(path, (columns, row_groups), read_dictionary=encoded)
    for i in row_groups if row_groups is not None else range(pf.num_row_groups):
        table = pf.read_row_group(i, columns=names, use_threads=dictionary is None)
        yield from table.to_batches()


def _is_string(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def dictionary_columns(md: pq.FileMetaData, schema: pa.Schema, names: Sequence[str]) -> tuple[str, ...]:
    """String columns of a Parquet file worth reading dictionary-encoded.

    Writers dictionary-encode string columns and fall back to plain pages when
    the dictionary grows too large. A column chunk whose pages after the
    dictionary take at most :data:`DICTIONARY_BYTES_PER_ROW` bytes per row holds
    dictionary indices only (few distinct values): reading it as a dictionary
    saves decoding and counting every string. Judged on the first row group.
    """
    if md.num_row_groups == 0:
        return ()
    rg = md.row_group(0)
    out = []
    for name in names:
        if not _is_string(schema.field(name).type):
            continue
        chunk = rg.column(schema.get_field_index(name))
        if not chunk.has_dictionary_page or rg.num_rows == 0:
            continue
        data = chunk.total_compressed_size - (chunk.data_page_offset - chunk.dictionary_page_offset)
        if data <= DICTIONARY_BYTES_PER_ROW * rg.num_rows:
            out.append(name)
    return tuple(out)


def column_cost(md: pq.RowGroupMetaData, index: int, field: pa.Field, dictionary: bool) -> float:
    """Estimated time to read and profile one column chunk, in nanoseconds: about
    0.5 ns per uncompressed byte to decode, and per row 30 ns for a number or
    timestamp, 150 ns for a string with many distinct values, 8 for one read
    dictionary-encoded, 3 for a boolean."""
    t = field.type
    if pa.types.is_boolean(t):
        per_row = 3.0
    elif _is_string(t) or pa.types.is_dictionary(t):
        per_row = 8.0 if dictionary else 150.0
    else:
        per_row = 30.0
    return float(0.5 * md.column(index).total_uncompressed_size + per_row * md.num_rows)


def balanced_groups(costs: dict[str, float], parts: int) -> list[tuple[str, ...]]:
    """Split columns into up to ``parts`` groups of similar total cost (LPT greedy),
    each group in schema order."""
    order = {name: i for i, name in enumerate(costs)}
    bins: list[list[str]] = [[] for _ in range(max(1, min(parts, len(costs))))]
    loads = [0.0] * len(bins)
    for name in sorted(costs, key=lambda n: -costs[n]):
        j = loads.index(min(loads))
        bins[j].append(name)
        loads[j] += costs[name]
    return [tuple(sorted(b, key=order.__getitem__)) for b in bins if b]
