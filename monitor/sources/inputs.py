"""What a source's inputs are, and how a reader opens one.

An input of a dataset is a local file (:class:`pathlib.Path`), an object of an
object store (:class:`~monitor.sources.remote.RemoteFile`) or an SQL query
(:class:`~monitor.sources.sql.QueryFile`). The readers of
:mod:`monitor.sources.files` and :mod:`monitor.sources.text` take any of them:
a local path is given to pyarrow as a path (pyarrow's own file I/O and
decompression by extension); an object is opened through its filesystem, for
random access (Parquet) or as a stream (text, decompressed here by extension).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import pyarrow as pa

__all__ = ["CODECS", "Input", "InputStat", "chunk_bytes", "is_local", "key_of", "random_access", "stream"]

Input = Any
"""A local ``Path``, a ``RemoteFile`` or a ``QueryFile``."""

class InputStat(NamedTuple):
    """What ``stat()`` of an input that is not a local file tells: its size in
    bytes (0 when unknown before reading: a query, a collection) and no
    modification time (its fingerprint stands for it)."""

    st_size: int = 0
    st_mtime_ns: int = 0


CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}
"""Compressed text files by extension, as pyarrow detects them from a path."""


def is_local(path: Input) -> bool:
    """True for a local file (a path), False for an object or a query."""
    return isinstance(path, (str, os.PathLike))


def key_of(path: Input) -> str:
    """The key an input's content digest is kept under: ``os.fspath`` of a local
    path, the text of an object or a query."""
    return os.fspath(path) if is_local(path) else str(path)


def random_access(path: Input) -> Any:
    """What ``pyarrow.parquet.ParquetFile`` opens: a local path as it is, an
    object as a file that fetches only the byte ranges read.

    :raises SourceError: naming the object when it cannot be opened.
    """
    return path if is_local(path) else path.open(sequential=False)


def stream(path: Input) -> Any:
    """What pyarrow's CSV and JSON readers read: a local path as it is (pyarrow
    decompresses by extension), an object as a sequential stream, decompressed
    by its extension.

    :raises SourceError: naming the object when it cannot be opened.
    """
    if is_local(path):
        return path
    return compressed(pa.PythonFile(path.open(sequential=True), mode="r"), path)


def compressed(stream: Any, path: Input) -> Any:
    """``stream`` wrapped in a decompressing stream when ``path``'s extension
    names a codec (:data:`CODECS`), else ``stream``."""
    codec = CODECS.get(str(path.suffix).lower())
    return pa.CompressedInputStream(stream, codec) if codec is not None else stream


def chunk_bytes(md: Any, columns: Sequence[str] | None, row_groups: Sequence[int] | None) -> int:
    """Compressed bytes of the column chunks of ``columns`` in ``row_groups``
    (None: all) of a Parquet file, from its footer ``md`` (``pyarrow.parquet.FileMetaData``)."""
    wanted = None if columns is None else set(columns)
    total = 0
    for i in row_groups if row_groups is not None else range(md.num_row_groups):
        group = md.row_group(i)
        for j in range(group.num_columns):
            chunk = group.column(j)
            if wanted is None or chunk.path_in_schema.split(".")[0] in wanted:
                total += chunk.total_compressed_size
    return total
