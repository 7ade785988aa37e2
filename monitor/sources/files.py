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

``.npy`` arrays beside the files (a dataset's ``arrays``) add vector columns:
the arrays pair with the files in sorted order (:meth:`FileSource.paired`),
and every batch and column piece a task reads gets the arrays' rows of the
same rows of its file (:mod:`monitor.sources.beside`).
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
from monitor.sources.beside import (
    ArrayFile, ArrayInputs, array_field, attach, check_arrays, group_starts, pair_arrays,
)
from monitor.sources.csv_types import TextKind
from monitor.sources.digest import Digests, fingerprint
from monitor.sources.inputs import Input, is_local, key_of
from monitor.sources.names import check_unique_names, selected, short
from monitor.sources.parquet import (
    ARROW_ERRORS, balanced_groups, column_cost, dictionary_columns, parquet_batches, parquet_file, parquet_metadata,
    parquet_schema, read_parquet,
)
from monitor.sources.remote import ObjectStore, is_url, object_store
from monitor.sources.text import BLOCK_SIZE, TEXT_METADATA, csv_header, read_csv, read_jsonl

__all__ = ["BLOCK_SIZE", "TEXT_METADATA", "FileSource", "ReadTask", "check_unique_names", "csv_header",
           "dictionary_columns", "fingerprint", "parquet_metadata", "parquet_schema", "read_file", "resolve_files"]

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

_ARROW_ERRORS = ARROW_ERRORS


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
    :ivar arrays: the ``.npy`` arrays beside the file whose rows the task
        adds as columns (:mod:`monitor.sources.beside`): those of its rows.
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
    arrays: ArrayInputs = ()

    def batches(self, *, dictionary: bool = False, digests: Digests | None = None,
                kinds: Callable[[pa.RecordBatch], Mapping[str, TextKind]] | None = None,
                ) -> Iterator[pa.RecordBatch]:
        """The task's record batches.

        :param dictionary: read the :attr:`dictionary` columns dictionary-encoded
            (the dictionary's values are the column's values), one thread.
        :param digests: a CSV or JSON Lines file read to its end gets its
            SHA-256 here (see :func:`read_file`).
        :param kinds: for a CSV file, the kinds its columns are profiled as,
            asked for with the first block's text: the batches come typed where
            that gives what their text would (see :func:`read_file`).
        :raises SourceError: naming the file when it cannot be read or parsed.
        """
        try:
            if self.format == "parquet":
                encoded = self.dictionary if dictionary else None
                batches = parquet_batches(self.path, self.row_groups, self.columns, encoded)
                runs = group_starts(parquet_metadata(self.path), self.row_groups) if self.arrays else None
            else:
                batches = (_drop(b, self.exclude) if self.exclude else b
                           for b in read_file(self.path, self.format, self.columns, digests, kinds))
                runs = None
            yield from attach(batches, self.path, self.arrays, runs) if self.arrays else batches
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
            pf = parquet_file(self.path, (self.columns, self.row_groups),
                               read_dictionary=list(self.dictionary) or None)
            check_unique_names(self.path, pf.schema_arrow.names)
            names = selected(self.path, pf.schema_arrow.names, self.columns, self.exclude)
            groups = self.row_groups if self.row_groups is not None else range(pf.num_row_groups)
        except _ARROW_ERRORS as exc:
            raise SourceError(f"{self.path}: cannot read as parquet: {short(exc)}") from exc
        leaves = _leaves(pf.metadata)
        arrays = [ArrayFile(column, path, self.path) for column, path in self.arrays]
        try:
            for i, run in zip(groups, group_starts(pf.metadata, list(groups))):
                yield pf.metadata.row_group(i).num_rows, self._columns_of(pf, i, names, leaves, arrays, run)
        finally:
            for array in arrays:
                array.close()

    def row_batches(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """A Parquet task's whole rows, of those of ``columns`` the file has; :raises SourceError:."""
        try:
            pf = parquet_file(self.path, (columns, self.row_groups))
            names = [n for n in columns if n in pf.schema_arrow.names and n not in self.exclude]
            groups = list(self.row_groups if self.row_groups is not None else range(pf.num_row_groups))
            yield from pf.iter_batches(65_536, row_groups=groups, columns=names, use_threads=False)
        except _ARROW_ERRORS as exc:
            raise SourceError(f"{self.path}: cannot read as parquet: {short(exc)}") from exc

    def _columns_of(
        self, pf: pq.ParquetFile, group: int, names: Sequence[str], leaves: dict[str, list[int]],
        arrays: Sequence[ArrayFile] = (), run: tuple[int, int] = (0, 0),
    ) -> Iterator[tuple[str, pa.Array]]:
        md = pf.metadata.row_group(group)
        for name in names:
            rows = piece_rows(md, leaves.get(name, []), pf.schema_arrow.field(name).type)
            try:
                for piece in pf.iter_batches(rows, row_groups=[group], columns=[name], use_threads=False):
                    yield name, piece.column(0)
            except _ARROW_ERRORS as exc:
                raise SourceError(f"{self.path}: cannot read as parquet: {short(exc)}") from exc
        first, rows = run
        for array in arrays:  # the rows of the arrays beside the file, in pieces as a column's
            step = rows_per_piece(array.dim * array.element.itemsize)
            for start in range(first, first + rows, step):
                yield array.column, array.take(start, min(step, first + rows - start))


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
    return rows_per_piece(max(width, size / max(md.num_rows, 1)))


def rows_per_piece(per_row: float) -> int:
    """Rows per piece of a column of ``per_row`` bytes a row (see :func:`piece_rows`)."""
    per_row = max(per_row, 1e-3)
    exponent = round(math.log2(PIECE_BYTES / per_row))
    return int(min(PIECE_ROWS_MAX, max(PIECE_ROWS_MIN, 1 << max(exponent, 0))))


@dataclass(frozen=True)
class FileSource:
    """A dataset made of local files.

    :param patterns: files, folders or globs.
    :param format: csv, parquet, jsonl or npy; None infers it per file from the extension.
    :param columns: the columns to read (None: all).
    :param exclude: columns to leave out.
    :param arrays: ``(column, patterns)`` each: ``.npy`` arrays beside the
        files, one per file in sorted order, read as one more vector column
        (:mod:`monitor.sources.beside`; ``columns`` and ``exclude`` name the
        table's columns only).
    """

    patterns: tuple[str, ...]
    format: str | None = None
    columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    store: ObjectStore | None = None
    query: Any = None
    arrays: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def files(self) -> list[Input]:
        """The files the dataset is made of now (a query: the query itself).
        :raises SourceError: see :func:`resolve_files`."""
        if self.query is not None:
            return [self.query]
        return resolve_files(self.patterns, self.format, self.store)

    def fingerprint(self) -> str:
        """Fingerprint of the current input files (and the arrays beside them)."""
        return fingerprint(self.inputs(self.files()))

    def paired(self, files: Sequence[Input]) -> dict[str, ArrayInputs]:
        """The arrays beside each of ``files`` (all or some of the dataset's
        files), by :func:`~monitor.sources.inputs.key_of` the file; ``{}``
        without ``arrays``. The arrays pair with the dataset's files in sorted
        order: with ``files`` when there are as many array files, else with
        the dataset's files listed now.

        :raises SourceError: naming the column and the files when the counts
            differ, or the column's pattern when it matches no file.
        """
        if not self.arrays:
            return {}
        found: dict[str, list[Input]] = {}
        for column, patterns in self.arrays:
            try:
                found[column] = resolve_files(patterns, "npy", self.store)
            except SourceError as exc:
                raise SourceError(f"arrays of column {column!r}: {exc}") from exc
        tables = list(files)
        if any(len(f) != len(tables) for f in found.values()):
            tables = self.files()
        pairs = pair_arrays(tables, found)
        missing = [str(f) for f in files if key_of(f) not in pairs]
        if missing:
            raise SourceError(f"{missing[0]}: not a file of the dataset; its arrays are unknown")
        return {key_of(f): pairs[key_of(f)] for f in files}

    def inputs(self, files: Sequence[Input]) -> list[Input]:
        """``files`` and, after them, the arrays beside them: what the
        dataset's fingerprint covers (a changed array is new data).

        :raises SourceError: as :meth:`paired`.
        """
        pairs = self.paired(files)
        return [*files, *(array for f in files for _, array in pairs.get(key_of(f), ()))]

    def array_fields(self, files: Sequence[Input]) -> list[pa.Field]:
        """The vector columns the arrays add, typed from the first file's arrays.

        :raises SourceError: as :meth:`paired`, or naming an array that is not
            a 2-D array of numbers.
        """
        if not self.arrays or not files:
            return []
        return [array_field(column, path, files[0]) for column, path in self.paired(files)[key_of(files[0])]]

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
        paths = files if files is not None else self.files()
        pairs = self.paired(paths)
        for path in paths:
            arrays = pairs.get(key_of(path))
            if arrays and self.format_of(path) == "parquet":  # row counts checked before reading
                check_arrays(path, parquet_metadata(path).num_rows, (), arrays)
            batches = (_drop(b, self.exclude) if self.exclude else b
                       for b in read_file(path, self.format_of(path), self.columns, digests))
            yield from attach(batches, path, arrays) if arrays else batches

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
        fields.update({f.name: f for f in self.array_fields(paths)})
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
        paths = files if files is not None else self.files()
        pairs = self.paired(paths)
        for path in paths:
            fmt = self.format_of(path)
            arrays = pairs.get(key_of(path), ())
            if fmt == "parquet":
                tasks.extend(_parquet_tasks(path, self.columns, self.exclude, split, arrays))
            else:
                tasks.append(ReadTask(path, fmt, None, self.columns, self.exclude, arrays=arrays))
        return tasks


def _drop(batch: pa.RecordBatch, exclude: Sequence[str]) -> pa.RecordBatch:
    keep = [n for n in batch.schema.names if n not in exclude]
    return batch.select(keep)


def read_file(path: Input, fmt: str, columns: Sequence[str] | None = None,
              digests: Digests | None = None,
              kinds: Callable[[pa.RecordBatch], Mapping[str, TextKind]] | None = None,
              ) -> Iterator[pa.RecordBatch]:
    """Stream one file's record batches.

    :param digests: when given, a CSV or JSON Lines file read to its end gets
        the SHA-256 of its bytes (hashed as they are read) under
        :func:`~monitor.sources.inputs.key_of` the path; Parquet files are not hashed here.
    :param kinds: for CSV, called with the first block read as text (every
        column a string; not yielded): the kind of each column (integer,
        decimal, boolean, datetime, string, categorical); the batches hold
        Arrow's typed columns where they equal what the profile would make of
        the text, text elsewhere
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


def _parquet_tasks(path: Input, columns: Sequence[str] | None, exclude: Sequence[str], split: int,
                   arrays: ArrayInputs = ()) -> list[ReadTask]:
    try:
        md = parquet_file(path).metadata
        schema = md.schema.to_arrow_schema()
    except _ARROW_ERRORS as exc:
        raise SourceError(f"{path}: cannot read as parquet: {short(exc)}") from exc
    check_unique_names(path, schema.names)
    names = selected(path, schema.names, columns, exclude)
    index = {n: schema.get_field_index(n) for n in names}
    encoded = dictionary_columns(md, schema, names)
    beside = check_arrays(path, md.num_rows, names, arrays) if arrays else {}
    tasks: list[ReadTask] = []
    for groups in _row_group_runs(md):
        rows = sum(md.row_group(i).num_rows for i in groups)
        costs = {n: sum(column_cost(md.row_group(i), index[n], schema.field(n), n in encoded) for i in groups)
                 for n in names}
        costs.update({n: _array_cost(f, rows) for n, f in beside.items()})
        parts = balanced_groups(costs, split) if costs else [()]
        for j, part in enumerate(parts):
            share = len(part) / len(costs) if costs else 1.0
            dictionary = tuple(n for n in part if n in encoded)
            table = tuple(n for n in part if n not in beside)
            mine = tuple((c, a) for c, a in arrays if c in part)
            tasks.append(ReadTask(path, "parquet", groups, table, (), rows, share, j == 0, dictionary, mine))
    return tasks


def _array_cost(field: pa.Field, rows: int) -> float:
    """Estimated time to read and profile ``rows`` rows of an array beside a
    file, in nanoseconds: 0.5 ns per byte copied and 4 ns per element summarised."""
    width = field.type.value_type.bit_width / 8.0
    return float(rows * field.type.list_size * (0.5 * width + 4.0))


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


_READERS = {"csv": read_csv, "parquet": read_parquet, "jsonl": read_jsonl, "sql": _read_query, "npy": _read_npy,
            "qdrant": _read_collection}
