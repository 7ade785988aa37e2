"""Input fingerprints: what a snapshot read, as one SHA-256 hex string.

A dataset's ``fingerprint`` setting picks one of two kinds:

- ``metadata`` (the default): a SHA-256 over each file's resolved path, size
  and modification time (ns). Cheap (no byte is read), but ``touch`` changes
  it, and two identical copies of a file at two paths differ.
- ``content``: a SHA-256 over the SHA-256 of each file's bytes (the bytes as
  stored, compressed ones included: ``sha256sum FILE`` gives the same per-file
  digest). The per-file digests are sorted before they are hashed together, and
  neither the path nor the file name is part of them: the same bytes under
  another name, in another folder, or listed in another order give the same
  fingerprint; ``touch`` does not change it; one byte changed does.

Content digests are computed while the data is read where the reader reads a
file from its first byte to its last (CSV and JSON Lines: the reader gets the
file through :class:`HashingFile`, so no byte is read twice). A Parquet reader
reads the footer first and then the column chunks it needs, at their offsets,
possibly in several processes and skipping columns or row groups (a time
window): the bytes it reads are neither in order nor all of the file, so a
Parquet file (and a text file a pass did not read to its end) is hashed by
:func:`file_sha256`, one sequential read in blocks of :data:`HASH_BLOCK` bytes,
right after the pass, while its pages are likely still in the page cache
(``bench/fingerprint_bench.py`` measures what that costs).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from monitor.errors import SourceError
from monitor.sources.inputs import compressed, is_local, key_of

FINGERPRINT_KINDS = ("metadata", "content")
HASH_BLOCK = 1 << 20
"""Bytes read at a time by :func:`file_sha256`."""

Digests = dict[str, str]
"""File path (``os.fspath`` of the path as listed) -> SHA-256 hex of its bytes."""


class HashingFile(io.RawIOBase):
    """A file opened for reading that hashes every byte read from it, in order.

    :param path: the file.
    :raises OSError: when it cannot be opened.
    """

    def __init__(self, path: Any) -> None:
        super().__init__()
        self._raw = open(path, "rb", buffering=0) if is_local(path) else path.open(sequential=True)  # noqa: SIM115
        self._sha = hashlib.sha256()

    def readable(self) -> bool:
        """Always True."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` and hash what was read. :returns: bytes read (0 at the end)."""
        n = self._raw.readinto(buffer)
        if n:
            with memoryview(buffer) as view:
                self._sha.update(view[:n])
        return n or 0

    def finish(self) -> str:
        """Read (and hash) what the reader left, then give the file's SHA-256 hex."""
        while block := self._raw.read(HASH_BLOCK):
            self._sha.update(block)
        return self._sha.hexdigest()

    def close(self) -> None:
        """Close the file."""
        self._raw.close()
        super().close()


def hashed_input(path: Any) -> tuple[Any, HashingFile]:
    """A pyarrow input stream over ``path`` (a local file or an object) that
    hashes the bytes as the reader takes them (decompressed by extension as
    pyarrow does for a path), and the :class:`HashingFile` under it (close it
    when done)."""
    raw = HashingFile(path)
    return compressed(pa.PythonFile(raw, mode="r"), path), raw


def file_sha256(path: Any) -> str:
    """SHA-256 hex of a file's or object's bytes, read once in order in blocks
    of :data:`HASH_BLOCK`; a query's :func:`~monitor.sources.sql.query_fingerprint`.

    :raises SourceError: naming the file when it cannot be read.
    """
    if getattr(path, "format", None) == "sql":
        return _query_fingerprint(path)
    if getattr(path, "format", None) == "qdrant":
        from monitor.sources.qdrant import collection_fingerprint

        return collection_fingerprint(path)
    sha = hashlib.sha256()
    try:
        with (open(path, "rb", buffering=0) if is_local(path) else path.open(sequential=True)) as fh:
            while block := fh.read(HASH_BLOCK):
                sha.update(block)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read to fingerprint it: {exc}") from exc
    return sha.hexdigest()


def fingerprint(files: Sequence[Any]) -> str:
    """The ``metadata`` fingerprint: SHA-256 hex of each file's resolved path,
    size and mtime (ns), in the order given; of an object, its URL, size and
    ETag or last-modified time; of a query, its text, parameters, row count
    and checksum aggregate (:func:`~monitor.sources.sql.query_fingerprint`).

    :raises SourceError: when a query cannot be run.
    """
    digest = hashlib.sha256()
    for path in files:
        if getattr(path, "format", None) == "sql":
            digest.update(f"sql\0{_query_fingerprint(path)}\n".encode())
        elif not is_local(path):
            digest.update(path.fingerprint_line().encode())
        else:
            st = path.stat()
            digest.update(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _query_fingerprint(query: Any) -> str:
    from monitor.sources.sql import query_fingerprint

    return str(query_fingerprint(query))


def content_fingerprint(files: Sequence[Any], digests: Mapping[str, str] | None = None) -> str:
    """The ``content`` fingerprint: SHA-256 hex of the files' SHA-256 hex digests,
    sorted, one a line. A file missing from ``digests`` (the digests a reading
    pass computed) is hashed now with :func:`file_sha256`.

    :raises SourceError: naming a file that cannot be read.
    """
    known = digests or {}
    each = sorted(known.get(key_of(p)) or file_sha256(p) for p in files)
    return hashlib.sha256("".join(f"{d}\n" for d in each).encode()).hexdigest()


def input_fingerprint(kind: str, files: Sequence[Any], digests: Mapping[str, str] | None = None) -> str:
    """The fingerprint of ``kind`` (``metadata`` or ``content``) of ``files``.

    :raises ValueError: on another kind.
    :raises SourceError: naming a file that cannot be read (``content``).
    """
    if kind == "metadata":
        return fingerprint(files)
    if kind == "content":
        return content_fingerprint(files, digests)
    raise ValueError(f"unknown fingerprint kind {kind!r}: expected metadata or content")


def digests_for(kind: str) -> Digests | None:
    """An empty dict for a reading pass to collect digests into when ``kind`` is
    ``content``; ``None`` (collect nothing) for ``metadata``."""
    return {} if kind == "content" else None
