"""Local files: CSV, Parquet and JSON Lines, one file, a folder or a glob.

A dataset is read as a stream of :class:`pyarrow.RecordBatch` (Parquet one row
group at a time, CSV and JSON Lines in blocks of :data:`BLOCK_SIZE` bytes), never
as a whole table, so memory is bounded by a batch. Its fingerprint
(:mod:`monitor.sources.digest`) is a SHA-256 over each file's path, size and
modification time, or over each file's bytes; the readers of CSV and JSON Lines
hash the bytes as they read them when given a ``digests`` dict to fill.

CSV fields arrive as text: every CSV column is read as a string column, and the
batch's schema metadata carries :data:`TEXT_METADATA` so the profile types the
columns itself (:mod:`monitor.sources.csv_types`), counting values that do not
parse as errors instead of failing on them. An unquoted empty field and pandas'
missing markers (``NA``, ``NULL``, ``NaN``, ... :data:`~monitor.sources.csv_types.MISSING_TEXT`)
are missing; a quoted empty field ``""`` is an empty string. The profile reads
CSV files faster, with the same result: after the first block, Arrow converts
the columns whose values it reads exactly as the profile would
(:mod:`monitor.sources.csv_blocks`; ``kinds`` of :func:`read_file`).

For parallel reading a source splits into :class:`ReadTask`\\ s (:meth:`FileSource.plan`):
a CSV or JSON Lines file is one task; a Parquet file is one task per group of
row groups, optionally split further by columns, so that a single large file
still spreads over several processes and each task holds only part of a row group.
"""

from __future__ import annotations

import glob
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from monitor.errors import SourceError
from monitor.sources.csv_types import TextKind
from monitor.sources.digest import Digests, fingerprint
from monitor.sources.inputs import Input, chunk_bytes, is_local, random_access
from monitor.sources.names import check_unique_names, selected, short
from monitor.sources.remote import ObjectStore, is_url, object_store
from monitor.sources.text import BLOCK_SIZE, TEXT_METADATA, csv_header, read_csv, read_jsonl

__all__ = ["BLOCK_SIZE", "TEXT_METADATA", "FileSource", "ReadTask", "check_unique_names", "csv_header",
           "fingerprint", "read_file", "resolve_files"]

EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".npy": "npy",
}
TASK_ROWS = 500_000  # Parquet rows per read task (at least one row group)
PIECE_BYTES = 4 << 20
"""About this many bytes of a column are read at a time from Parquet
(:meth:`ReadTask.column_chunks`): pieces of a power of two rows, from
:data:`PIECE_ROWS_MIN` to :data:`PIECE_ROWS_MAX`."""
PIECE_ROWS_MIN = 1 << 14
PIECE_ROWS_MAX = 1 << 19
DICTIONARY_BYTES_PER_ROW = 4.0

_ARROW_ERRORS = (pa.ArrowException, OSError, UnicodeDecodeError)


def format_of(path: Input) -> str:
    """The format of a file or object from its extension (``.gz`` etc.
    stripped); ``sql`` for a query.

    :raises SourceError: when the extension is not one of :data:`EXTENSIONS`.
    """
    if getattr(path, "format", None) in ("sql", "qdrant"):
        return str(path.format)
    suffixes = [s.lower() for s in (Path(path).suffixes if is_local(path) else path.suffixes) if s.lower() not in (".gz", ".bz2", ".zst", ".lz4")]
    if suffixes and suffixes[-1] in EXTENSIONS:
        return EXTENSIONS[suffixes[-1]]
    raise SourceError(f"{path}: cannot tell the format from the extension; set 'format' (csv, parquet, jsonl or npy)")


def is_text(schema: pa.Schema) -> bool:
    """True when a batch's columns are raw text to be typed by the profile (CSV)."""
    meta = schema.metadata or {}
    return all(meta.get(k) == v for k, v in TEXT_METADATA.items())


def _has_format(path: Input, fmt: str | None) -> bool:
    """True when a file found in a folder is data: of ``fmt``, or of any known format."""
    try:
        found = format_of(path)
    except SourceError:
        return False
    return fmt is None or found == fmt


def resolve_files(patterns: Sequence[str], fmt: str | None = None, store: ObjectStore | None = None) -> list[Input]:
    """Expand files, folders (recursively, files of the format only) and globs;
    in ``store`` when given (keys, prefixes and globs of a datastore), and URLs
    (``s3://``, ``az://``, ``https://``) with the environment's configuration.

    :returns: the files (local paths first, then objects by URL), sorted, without duplicates.
    :raises SourceError: naming each path or pattern that matches no file, or
        the datastore and the client's error.
    """
    if store is not None:
        return list(store.files(patterns, fmt, lambda key, f: _has_format(Path(key), f)))
    remote = [p for p in patterns if is_url(p)]
    local: list[Input] = list(_local_files([p for p in patterns if not is_url(p)], fmt))
    for pattern in remote:
        local.extend(object_store(None, url=pattern).files([pattern], fmt, lambda key, f: _has_format(Path(key), f)))
    return local


def _local_files(patterns: Sequence[str], fmt: str | None) -> list[Path]:
    found: dict[str, Path] = {}
    for pattern in patterns:
        matches = _expand(pattern, fmt)
        if not matches:
            what = "folder has no data files" if os.path.isdir(pattern) else (
                "pattern matches no file" if glob.has_magic(pattern) else "file not found")
            raise SourceError(f"{pattern}: {what}")
        for m in matches:
            found.setdefault(str(m.resolve()), m)
    return [found[k] for k in sorted(found)]


def _expand(pattern: str, fmt: str | None) -> list[Path]:
    if glob.has_magic(pattern):
        return [Path(p) for p in sorted(glob.glob(pattern, recursive=True)) if os.path.isfile(p)]
    path = Path(pattern)
    if path.is_dir():
        return [p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".") and _has_format(p, fmt)]
    return [path] if path.is_file() else []


@dataclass(frozen=True)
class ReadTask:
    """An independently readable part of a dataset: a file, or some row groups and
    columns of a Parquet file.

    :ivar columns: the dataset columns this task reads (None: every column the
        source selects in the file).
    :ivar rows: rows the task covers (0 when unknown before reading, e.g. CSV).
    :ivar share: fraction of the file's selected columns the task reads.
    :ivar primary: True for exactly one task per row: the one that counts the rows
        and the columns missing from the file.
    :ivar dictionary: Parquet string columns with few distinct values, read
        dictionary-encoded when :meth:`batches` is asked to.
    """

    path: Input
    format: str
    row_groups: tuple[int, ...] | None = None
    columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    rows: int = 0
    share: float = 1.0
    primary: bool = True
    dictionary: tuple[str, ...] = ()

    def batches(self, *, dictionary: bool = False, digests: Digests | None = None,
                kinds: Callable[[], Mapping[str, TextKind]] | None = None) -> Iterator[pa.RecordBatch]:
        """The task's record batches.

        :param dictionary: read the :attr:`dictionary` columns dictionary-encoded
            (the dictionary's values are the column's values), one thread.
        :param digests: a CSV or JSON Lines file read to its end gets its
            SHA-256 here (see :func:`read_file`).
        :param kinds: for a CSV file, the kinds its columns are profiled as,
            asked for after the first batch: the later batches come typed where
            that gives what their text would (see :func:`read_file`).
        :raises SourceError: naming the file when it cannot be read or parsed.
        """
        try:
            if self.format == "parquet":
                encoded = self.dictionary if dictionary else None
                yield from _parquet_batches(self.path, self.row_groups, self.columns, encoded)
                return
            for batch in read_file(self.path, self.format, self.columns, digests, kinds):
                yield _drop(batch, self.exclude) if self.exclude else batch
        except _ARROW_ERRORS as exc:
            raise SourceError(f"{self.path}: cannot read as {self.format}: {short(exc)}") from exc

    def column_chunks(self) -> Iterator[tuple[int, Iterator[tuple[str, pa.Array]]]]:
        """A Parquet task's data one row group and one column at a time, each column
        in pieces of about :data:`PIECE_BYTES` (the least memory): for each row
        group, its row count and its column pieces as ``(name, values)``, a
        column's pieces in row order, the :attr:`dictionary` columns
        dictionary-encoded.

        :raises ValueError: for a task that is not a Parquet one.
        :raises SourceError: naming the file when it cannot be read.
        """
        if self.format != "parquet":
            raise ValueError("column_chunks reads Parquet tasks only")
        try:
            pf = _parquet_file(self.path, (self.columns, self.row_groups),
                               read_dictionary=list(self.dictionary) or None)
            check_unique_names(self.path, pf.schema_arrow.names)
            names = selected(self.path, pf.schema_arrow.names, self.columns, self.exclude)
            groups = self.row_groups if self.row_groups is not None else range(pf.num_row_groups)
        except _ARROW_ERRORS as exc:
            raise SourceError(f"{self.path}: cannot read as parquet: {short(exc)}") from exc
        leaves = _leaves(pf.metadata)
        for i in groups:
            yield pf.metadata.row_group(i).num_rows, self._columns_of(pf, i, names, leaves)

    def row_batches(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """A Parquet task's whole rows, of those of ``columns`` the file has; :raises SourceError:."""
        try:
            pf = _parquet_file(self.path, (columns, self.row_groups))
            names = [n for n in columns if n in pf.schema_arrow.names and n not in self.exclude]
            groups = list(self.row_groups if self.row_groups is not None else range(pf.num_row_groups))
            yield from pf.iter_batches(65_536, row_groups=groups, columns=names, use_threads=False)
        except _ARROW_ERRORS as exc:
            raise SourceError(f"{self.path}: cannot read as parquet: {short(exc)}") from exc

    def _columns_of(
        self, pf: pq.ParquetFile, group: int, names: Sequence[str], leaves: dict[str, list[int]],
    ) -> Iterator[tuple[str, pa.Array]]:
        md = pf.metadata.row_group(group)
        for name in names:
            rows = piece_rows(md, leaves.get(name, []), pf.schema_arrow.field(name).type)
            try:
                for piece in pf.iter_batches(rows, row_groups=[group], columns=[name], use_threads=False):
                    yield name, piece.column(0)
            except _ARROW_ERRORS as exc:
                raise SourceError(f"{self.path}: cannot read as parquet: {short(exc)}") from exc


def _leaves(md: pq.FileMetaData) -> dict[str, list[int]]:
    """Top-level column name -> indices of its Parquet leaf columns."""
    out: dict[str, list[int]] = {}
    for j in range(md.num_columns):
        out.setdefault(md.schema.column(j).path.split(".")[0], []).append(j)
    return out


def piece_rows(md: pq.RowGroupMetaData, leaves: Sequence[int], arrow_type: pa.DataType) -> int:
    """Rows per piece of a Parquet column chunk: the power of two nearest to
    :data:`PIECE_BYTES` / bytes per row, within [:data:`PIECE_ROWS_MIN`,
    :data:`PIECE_ROWS_MAX`]. Bytes per row: the larger of the Arrow type's width
    and the uncompressed Parquet size per row of the column's ``leaves``."""
    try:
        width = arrow_type.bit_width / 8.0
    except ValueError:
        width = 0.0
    size = sum(md.column(j).total_uncompressed_size for j in leaves)
    per_row = max(width, size / max(md.num_rows, 1), 1e-3)
    exponent = round(math.log2(PIECE_BYTES / per_row))
    return int(min(PIECE_ROWS_MAX, max(PIECE_ROWS_MIN, 1 << max(exponent, 0))))


@dataclass(frozen=True)
class FileSource:
    """A dataset made of local files.

    :param patterns: files, folders or globs.
    :param format: csv, parquet, jsonl or npy; None infers it per file from the extension.
    :param columns: the columns to read (None: all).
    :param exclude: columns to leave out.
    """

    patterns: tuple[str, ...]
    format: str | None = None
    columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    store: ObjectStore | None = None
    query: Any = None

    def files(self) -> list[Input]:
        """The files the dataset is made of now (a query: the query itself).
        :raises SourceError: see :func:`resolve_files`."""
        if self.query is not None:
            return [self.query]
        return resolve_files(self.patterns, self.format, self.store)

    def fingerprint(self) -> str:
        """Fingerprint of the current input files."""
        return fingerprint(self.files())

    def format_of(self, path: Input) -> str:
        """The format a file is read as."""
        own = getattr(path, "format", None)
        return str(own) if own in ("sql", "qdrant") else self.format or format_of(path)

    def iter_batches(self, files: Sequence[Path] | None = None, *,
                     digests: Digests | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of every file in turn.

        :param digests: CSV and JSON Lines files get their SHA-256 here (see :func:`read_file`).
        :raises SourceError: naming the file when it cannot be read or parsed, or
            when a selected column is missing from it.
        """
        for path in files if files is not None else self.files():
            for batch in read_file(path, self.format_of(path), self.columns, digests):
                yield _drop(batch, self.exclude) if self.exclude else batch

    def read_table(self, files: Sequence[Path] | None = None) -> pa.Table:
        """Every row as one Arrow table (exact mode). With no rows, a 0-row table
        with the columns the files declare (a Parquet schema, a CSV header as
        text columns), so the columns are compared and reported as empty.

        :raises SourceError: as :meth:`iter_batches`.
        """
        paths = files if files is not None else self.files()
        batches = list(self.iter_batches(paths))
        if batches:
            return pa.Table.from_batches(batches)
        fields: dict[str, pa.Field] = {}
        for path in paths:
            fmt = self.format_of(path)
            if fmt in ("sql", "qdrant"):
                continue
            schema = parquet_schema(path) if fmt == "parquet" else _npy_schema(path) if fmt == "npy" else pa.schema(
                [pa.field(n, pa.string()) for n in csv_header(path)] if fmt == "csv" else [])
            wanted = selected(path, schema.names, self.columns, self.exclude)
            fields.update({n: schema.field(n) for n in wanted if n not in fields})
        metadata = TEXT_METADATA if paths and all(self.format_of(p) == "csv" for p in paths) else None
        return pa.schema(list(fields.values()), metadata=metadata).empty_table()

    def plan(self, files: Sequence[Path] | None = None, *, split: int = 1) -> list[ReadTask]:
        """Split the dataset into read tasks, in file and row order.

        :param split: split each Parquet task into up to this many column groups
            (balanced by an estimate of their profiling cost).
        :raises SourceError: naming a file whose metadata cannot be read or that
            lacks a selected column.
        """
        tasks: list[ReadTask] = []
        for path in files if files is not None else self.files():
            fmt = self.format_of(path)
            if fmt == "parquet":
                tasks.extend(_parquet_tasks(path, self.columns, self.exclude, split))
            else:
                tasks.append(ReadTask(path, fmt, None, self.columns, self.exclude))
        return tasks


def _drop(batch: pa.RecordBatch, exclude: Sequence[str]) -> pa.RecordBatch:
    keep = [n for n in batch.schema.names if n not in exclude]
    return batch.select(keep)


def read_file(path: Input, fmt: str, columns: Sequence[str] | None = None,
              digests: Digests | None = None,
              kinds: Callable[[], Mapping[str, TextKind]] | None = None) -> Iterator[pa.RecordBatch]:
    """Stream one file's record batches.

    :param digests: when given, a CSV or JSON Lines file read to its end gets
        the SHA-256 of its bytes (hashed as they are read) under
        :func:`~monitor.sources.inputs.key_of` the path; Parquet files are not hashed here.
    :param kinds: for CSV, called after the first batch (text) was consumed:
        the kind of each column (integer, decimal, boolean, datetime, string,
        categorical); the later batches hold Arrow's typed columns where they
        equal what the profile would make of the text, text elsewhere
        (:mod:`monitor.sources.csv_blocks`). Ignored for other formats.
    :raises SourceError: naming the file at fault.
    """
    reader = _READERS[fmt]
    try:
        for batch in (read_csv(path, columns, digests, kinds) if fmt == "csv" and kinds is not None
                      else reader(path, columns, digests)):
            check_unique_names(path, batch.schema.names)
            if columns is not None:
                batch = _select(batch, columns, path)
            yield batch
    except _ARROW_ERRORS as exc:
        duplicate = _json_duplicate(path, exc) if fmt == "jsonl" else None
        if duplicate is not None:
            raise duplicate from exc
        raise SourceError(f"{path}: cannot read as {fmt}: {short(exc)}") from exc


_JSON_DUPLICATE = re.compile(r"Column\((?:/)?(.*)\) was specified twice")


def _json_duplicate(path: Input, exc: BaseException) -> SourceError | None:
    """The SourceError of a JSON Lines object with a key given twice, else None."""
    match = _JSON_DUPLICATE.search(str(exc))
    if match is None:
        return None
    return SourceError(f"{path}: duplicate column name {match.group(1)!r} in a JSON object")


def _select(batch: pa.RecordBatch, columns: Sequence[str], path: Input) -> pa.RecordBatch:
    missing = [c for c in columns if c not in batch.schema.names]
    if missing:
        raise SourceError(f"{path}: column(s) not found: {', '.join(missing)}")
    return batch.select(list(columns))


# ---------------------------------------------------------------------------
# Parquet


_FOOTERS: dict[tuple[str, str, int], pq.FileMetaData] = {}
"""Parquet footers of objects by (URL, version, size), so a snapshot that opens
an object several times (types, read tasks, reading) fetches its footer once."""
FOOTERS_KEPT = 256


DENSE_SHARE = 0.5
"""An object whose selected column chunks make up at least this share of its
bytes is read with read-ahead blocks (:data:`~monitor.sources.remote.SEQUENTIAL_BLOCK`),
one request per block; a sparser read fetches each column chunk by itself."""


def _parquet_file(path: Input, reading: tuple[Sequence[str] | None, Sequence[int] | None] | None = None,
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
    return _parquet_file(path).metadata


def parquet_schema(path: Input) -> pa.Schema:
    """The Arrow schema of a Parquet file (from its footer).

    :raises SourceError: when the file is not readable Parquet or two of its
        columns have the same name.
    """
    try:
        schema = _parquet_file(path).schema_arrow
    except _ARROW_ERRORS as exc:
        raise SourceError(f"{path}: cannot read as parquet: {short(exc)}") from exc
    check_unique_names(path, schema.names)
    return schema


def _read_parquet(path: Input, columns: Sequence[str] | None, digests: Digests | None) -> Iterator[pa.RecordBatch]:
    yield from _parquet_batches(path, None, columns, None)


def _parquet_batches(
    path: Input, row_groups: Sequence[int] | None, columns: Sequence[str] | None, dictionary: Sequence[str] | None,
) -> Iterator[pa.RecordBatch]:
    """Batches of some row groups of a Parquet file, one row group at a time.

    :param dictionary: columns to read dictionary-encoded, in one thread (None:
        plain, with Arrow's threads).
    """
    pf = _parquet_file(path, (columns, row_groups))
    check_unique_names(path, pf.schema_arrow.names)
    names = selected(path, pf.schema_arrow.names, columns, ())
    encoded = [n for n in dictionary or () if n in names]
    if encoded:
        pf = _parquet_file(path, (columns, row_groups), read_dictionary=encoded)
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


def _column_cost(md: pq.RowGroupMetaData, index: int, field: pa.Field, dictionary: bool) -> float:
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


def _balanced_groups(costs: dict[str, float], parts: int) -> list[tuple[str, ...]]:
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


def _parquet_tasks(path: Input, columns: Sequence[str] | None, exclude: Sequence[str], split: int) -> list[ReadTask]:
    try:
        md = _parquet_file(path).metadata
        schema = md.schema.to_arrow_schema()
    except _ARROW_ERRORS as exc:
        raise SourceError(f"{path}: cannot read as parquet: {short(exc)}") from exc
    check_unique_names(path, schema.names)
    names = selected(path, schema.names, columns, exclude)
    index = {n: schema.get_field_index(n) for n in names}
    encoded = dictionary_columns(md, schema, names)
    tasks: list[ReadTask] = []
    for groups in _row_group_runs(md):
        rows = sum(md.row_group(i).num_rows for i in groups)
        costs = {n: sum(_column_cost(md.row_group(i), index[n], schema.field(n), n in encoded) for i in groups)
                 for n in names}
        parts = _balanced_groups(costs, split) if names else [()]
        for j, part in enumerate(parts):
            share = len(part) / len(names) if names else 1.0
            dictionary = tuple(n for n in part if n in encoded)
            tasks.append(ReadTask(path, "parquet", groups, part, (), rows, share, j == 0, dictionary))
    return tasks


def _row_group_runs(md: pq.FileMetaData) -> list[tuple[int, ...]]:
    """Consecutive row groups gathered into runs of at least :data:`TASK_ROWS` rows."""
    runs: list[tuple[int, ...]] = []
    current: list[int] = []
    rows = 0
    for i in range(md.num_row_groups):
        current.append(i)
        rows += md.row_group(i).num_rows
        if rows >= TASK_ROWS:
            runs.append(tuple(current))
            current, rows = [], 0
    if current or not runs:
        runs.append(tuple(current))
    return runs


def _read_query(path: Any, columns: Sequence[str] | None, digests: Digests | None) -> Iterator[pa.RecordBatch]:
    from monitor.sources.sql import read_query

    yield from read_query(path, columns)


def _read_npy(path: Any, columns: Sequence[str] | None, digests: Digests | None) -> Iterator[pa.RecordBatch]:
    from monitor.sources.npy import read_npy

    yield from read_npy(path, columns, digests)


def _npy_schema(path: Input) -> pa.Schema:
    from monitor.sources.npy import npy_schema

    return npy_schema(path)


def _read_collection(path: Any, columns: Sequence[str] | None, digests: Digests | None) -> Iterator[pa.RecordBatch]:
    from monitor.sources.qdrant import read_collection

    yield from read_collection(path, columns)


_READERS = {"csv": read_csv, "parquet": _read_parquet, "jsonl": read_jsonl, "sql": _read_query, "npy": _read_npy,
            "qdrant": _read_collection}
