"""Local files: CSV, Parquet and JSON Lines, one file, a folder or a glob.

A dataset is read as a stream of :class:`pyarrow.RecordBatch` (Parquet one row
group at a time, CSV and JSON Lines in blocks), never as a whole table, so memory
is bounded by a batch. Its fingerprint is a SHA-256 over each file's path, size
and modification time, so an unchanged input gives the same fingerprint.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from monitor.errors import SourceError

EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}
BLOCK_SIZE = 16 << 20  # bytes of text per CSV / JSON Lines block


def format_of(path: str | os.PathLike[str]) -> str:
    """The format of a file from its extension (``.gz`` etc. stripped).

    :raises SourceError: when the extension is not one of :data:`EXTENSIONS`.
    """
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() not in (".gz", ".bz2", ".zst", ".lz4")]
    if suffixes and suffixes[-1] in EXTENSIONS:
        return EXTENSIONS[suffixes[-1]]
    raise SourceError(f"{path}: cannot tell the format from the extension; set 'format' (csv, parquet or jsonl)")


def _has_format(path: Path, fmt: str | None) -> bool:
    try:
        return fmt is None or format_of(path) == fmt
    except SourceError:
        return False


def resolve_files(patterns: Sequence[str], fmt: str | None = None) -> list[Path]:
    """Expand files, folders (recursively, files of the format only) and globs.

    :returns: the files, sorted, without duplicates.
    :raises SourceError: naming each path or pattern that matches no file.
    """
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


def fingerprint(files: Sequence[Path]) -> str:
    """SHA-256 hex of each file's resolved path, size and mtime (ns)."""
    digest = hashlib.sha256()
    for path in files:
        st = path.stat()
        digest.update(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class FileSource:
    """A dataset made of local files.

    :param patterns: files, folders or globs.
    :param format: csv, parquet or jsonl; None infers it per file from the extension.
    :param columns: the columns to read (None: all).
    :param exclude: columns to leave out.
    """

    patterns: tuple[str, ...]
    format: str | None = None
    columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()

    def files(self) -> list[Path]:
        """The files the dataset is made of now. :raises SourceError: see :func:`resolve_files`."""
        return resolve_files(self.patterns, self.format)

    def fingerprint(self) -> str:
        """Fingerprint of the current input files."""
        return fingerprint(self.files())

    def iter_batches(self, files: Sequence[Path] | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of every file in turn.

        :raises SourceError: naming the file when it cannot be read or parsed, or
            when a selected column is missing from it.
        """
        for path in files if files is not None else self.files():
            for batch in read_file(path, self.format or format_of(path), self.columns):
                yield _drop(batch, self.exclude) if self.exclude else batch


def _drop(batch: pa.RecordBatch, exclude: Sequence[str]) -> pa.RecordBatch:
    keep = [n for n in batch.schema.names if n not in exclude]
    return batch.select(keep)


def read_file(path: Path, fmt: str, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Stream one file's record batches.

    :raises SourceError: naming the file at fault.
    """
    try:
        for batch in _READERS[fmt](path, columns):
            if columns is not None:
                batch = _select(batch, columns, path)
            yield batch
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read as {fmt}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _select(batch: pa.RecordBatch, columns: Sequence[str], path: Path) -> pa.RecordBatch:
    missing = [c for c in columns if c not in batch.schema.names]
    if missing:
        raise SourceError(f"{path}: column(s) not found: {', '.join(missing)}")
    return batch.select(list(columns))


def _read_parquet(path: Path, columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
    pf = pq.ParquetFile(path)
    if columns is not None:
        missing = [c for c in columns if c not in pf.schema_arrow.names]
        if missing:
            raise SourceError(f"{path}: column(s) not found: {', '.join(missing)}")
    for i in range(pf.num_row_groups):
        table = pf.read_row_group(i, columns=list(columns) if columns is not None else None)
        yield from table.to_batches()


def _read_csv(path: Path, columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=BLOCK_SIZE),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter),
        convert_options=pa_csv.ConvertOptions(include_columns=list(columns) if columns else None),
    )
    yield from reader


def _read_jsonl(path: Path, columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
    yield from pa_json.open_json(path, read_options=pa_json.ReadOptions(block_size=BLOCK_SIZE))


_READERS = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl}
