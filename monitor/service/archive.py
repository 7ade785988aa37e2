"""The snapshot file's container: a zip archive whose members are checked by
SHA-256, written atomically and read only once every member checks out.

Members (see docs/operations.md, "Snapshot files"):

- ``manifest.json``: ``format``, ``format_version``, the dataset and snapshot
  metadata, and ``members``: ``{name: {"sha256", "bytes"}}`` for every other
  member but its own checksum;
- ``manifest.json.sha256``: the SHA-256 of ``manifest.json`` in ``sha256sum``
  form (``<hex>  manifest.json``), so ``sha256sum -c`` checks it too;
- the payload members the manifest lists (``profile.json``, ``segments.json``,
  ``data.parquet``), JSON deflated, Parquet stored as it is.

:func:`write_archive` writes ``<path>.tmp-<pid>``, flushes it and renames it over
``path``. :func:`open_archive` checks the zip directory (a cut file has none:
"truncated"), the manifest's checksum, its format and version, that the members
present are those listed, and every member's size and SHA-256 (zip's own CRC-32
as well), before anything is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from monitor.errors import SnapshotFileError

FORMAT = "drift-monitor snapshot"
"""The manifest's ``format``."""
FORMAT_VERSION = 1
"""The manifest's ``format_version`` this code writes, and the newest it reads."""
EXTENSION = ".dmsnap"
"""The suffix of snapshot files (any name is read; ``compare`` knows a file by it)."""
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.json.sha256"
_CHUNK = 1 << 20
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Member:
    """One payload member to write: ``data`` (bytes) or the file at ``source``.

    :ivar compress: deflate it (JSON); ``False`` stores it as it is (Parquet).
    """

    name: str
    data: bytes | None = None
    source: Path | None = None
    compress: bool = True


@dataclass(frozen=True)
class Written:
    """A snapshot file written: its path, size in bytes, SHA-256 (hex) of the
    whole file, and the manifest stored in it."""

    path: Path
    size: int
    sha256: str
    manifest: dict[str, Any]


def write_archive(path: str | os.PathLike[str], head: Mapping[str, Any], members: list[Member]) -> Written:
    """Write a snapshot file at ``path``: ``members``, then the manifest (``head``
    plus ``format``, ``format_version`` and ``members``) and its checksum.

    :raises SnapshotFileError: the file or a source cannot be read or written
        (the temporary file is removed; ``path`` is left as it was).
    """
    final = Path(os.path.abspath(os.fspath(path)))
    temporary = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(temporary, "w", allowZip64=True) as zf:
            sums = {m.name: _write_member(zf, m) for m in members}
            manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **head, "members": sums}
            text = json.dumps(manifest, indent=2).encode()
            zf.writestr(_info(MANIFEST, True), text)
            zf.writestr(_info(MANIFEST_SUM, False), f"{hashlib.sha256(text).hexdigest()}  {MANIFEST}\n")
        with temporary.open("rb") as fh:
            whole, size = _digest(fh)
            os.fsync(fh.fileno())
        os.replace(temporary, final)
    except OSError as exc:
        raise SnapshotFileError(f"cannot write snapshot file {final}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
    return Written(final, size, whole, manifest)


def _info(name: str, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _write_member(zf: zipfile.ZipFile, member: Member) -> dict[str, Any]:
    """Write one member, hashing it on the way; ``{"sha256", "bytes"}``."""
    digest, size = hashlib.sha256(), 0
    with zf.open(_info(member.name, member.compress), "w", force_zip64=True) as out:
        for chunk in _chunks(member):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _chunks(member: Member) -> Iterator[bytes]:
    if member.data is not None:
        yield member.data
        return
    assert member.source is not None
    with member.source.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def _digest(fh: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := fh.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


# --------------------------------------------------------------------------- reading


class Archive:
    """An open snapshot file whose manifest and members all checked out.

    Use as a context manager; :meth:`read` returns a member's bytes and
    :meth:`copy` streams one to a file, checking its SHA-256 again on the way.

    :ivar path: the file.
    :ivar manifest: the manifest, as JSON gives it.
    """

    def __init__(self, path: Path, zf: zipfile.ZipFile, manifest: dict[str, Any]) -> None:
        self.path, self._zf, self.manifest = path, zf, manifest

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._zf.close()

    def has(self, name: str) -> bool:
        """Whether the manifest lists member ``name``."""
        return name in self.manifest["members"]

    def read(self, name: str) -> bytes:
        """Member ``name``'s bytes, checked.

        :raises SnapshotFileError: it is missing or fails its checksum.
        """
        chunks: list[bytes] = []
        self._stream(name, chunks.append)
        return b"".join(chunks)

    def copy(self, name: str, dest: Path) -> None:
        """Write member ``name`` to ``dest``, checked.

        :raises SnapshotFileError: it is missing or fails its checksum (``dest``
            then holds what was written; the caller removes it).
        :raises OSError: ``dest`` cannot be written.
        """
        with dest.open("wb") as out:
            self._stream(name, out.write)

    def _stream(self, name: str, sink: Any) -> None:
        expected = self.manifest["members"].get(name)
        if expected is None:
            raise SnapshotFileError(f"snapshot file {self.path} has no member {name!r}")
        digest, size = hashlib.sha256(), 0
        try:
            with self._zf.open(name) as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    sink(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as exc:
            raise SnapshotFileError(f"snapshot file {self.path}: member {name!r} fails its checksum, "
                                    f"the file is damaged ({exc})") from exc
        if size != expected["bytes"] or digest.hexdigest() != expected["sha256"]:
            raise SnapshotFileError(
                f"snapshot file {self.path}: member {name!r} fails its SHA-256 check "
                f"({size} bytes, sha256 {digest.hexdigest()}; the manifest says {expected['bytes']} bytes, "
                f"sha256 {expected['sha256']}): the file is damaged")


def open_archive(path: str | os.PathLike[str]) -> Archive:
    """Open a snapshot file and check all of it (see the module docstring).

    :raises SnapshotFileError: the file is missing, not a zip archive, truncated
        (no zip directory), has no or a damaged manifest, is of another format or
        a newer ``format_version``, lacks a listed member or holds an unlisted
        one, or a member fails its checksum; the message names the member at fault.
    """
    file = Path(os.fspath(path))
    zf = _open_zip(file)
    try:
        manifest = _manifest(file, zf)
        archive = Archive(file, zf, manifest)
        for name in manifest["members"]:
            archive._stream(name, lambda chunk: None)
    except BaseException:
        zf.close()
        raise
    return archive


def _open_zip(file: Path) -> zipfile.ZipFile:
    if not file.is_file():
        raise SnapshotFileError(f"snapshot file {file} does not exist")
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        try:
            with file.open("rb") as fh:
                starts_as_zip = fh.read(4) == _ZIP_MAGIC
        except OSError:
            starts_as_zip = False
        if starts_as_zip:
            raise SnapshotFileError(f"snapshot file {file} is truncated or damaged: its zip directory "
                                    f"is missing or unreadable ({exc})") from exc
        raise SnapshotFileError(f"{file} is not a snapshot file: it is not a zip archive ({exc})") from exc


def _manifest(file: Path, zf: zipfile.ZipFile) -> dict[str, Any]:
    """The manifest, checked against its checksum, format, version and the members present."""
    names = zf.namelist()
    if MANIFEST not in names or MANIFEST_SUM not in names:
        raise SnapshotFileError(f"{file} is not a snapshot file: it has no {MANIFEST} and {MANIFEST_SUM}")
    try:
        text, sums = zf.read(MANIFEST), zf.read(MANIFEST_SUM).decode("ascii")
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError) as exc:
        raise SnapshotFileError(f"snapshot file {file}: member {MANIFEST!r} or {MANIFEST_SUM!r} is damaged "
                                f"({exc})") from exc
    if sums.split() != [hashlib.sha256(text).hexdigest(), MANIFEST]:
        raise SnapshotFileError(f"snapshot file {file}: member {MANIFEST!r} fails its SHA-256 check "
                                f"against {MANIFEST_SUM!r}: the file is damaged")
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise SnapshotFileError(f"snapshot file {file}: {MANIFEST} is not JSON: {exc}") from exc
    _check_format(file, manifest)
    _check_members(file, names, manifest["members"])
    return dict(manifest)


def _check_format(file: Path, manifest: Any) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotFileError(f"{file} is not a snapshot file: its manifest's format is not {FORMAT!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SnapshotFileError(f"snapshot file {file}: format_version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise SnapshotFileError(
            f"snapshot file {file} has format version {version}; this drift-monitor reads versions up to "
            f"{FORMAT_VERSION}: upgrade drift-monitor to import it")
    members = manifest.get("members")
    if not isinstance(members, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("bytes"), int)
            for v in members.values()):
        raise SnapshotFileError(f"snapshot file {file}: the manifest's members are not "
                                "{name: {sha256, bytes}}")


def _check_members(file: Path, names: list[str], listed: dict[str, Any]) -> None:
    present = [n for n in names if n not in (MANIFEST, MANIFEST_SUM)]
    if len(set(names)) != len(names):
        raise SnapshotFileError(f"snapshot file {file} holds a member twice")
    for name in listed:
        if name not in present:
            raise SnapshotFileError(f"snapshot file {file}: member {name!r} listed in the manifest is missing")
    for name in present:
        if name not in listed:
            raise SnapshotFileError(f"snapshot file {file}: member {name!r} is not listed in the manifest")
