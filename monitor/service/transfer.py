"""Portable snapshot files: :func:`export_snapshot` writes one completed snapshot
(dataset definition, metadata, profile with its sketches, segment profiles and
data copy) to one file; :func:`read_snapshot_file` checks and reads one;
:func:`import_snapshot` restores one into a store.

The container (a zip archive, every member checked by SHA-256) is
:mod:`monitor.service.archive`; the store's side of an import, which never
leaves half a snapshot, is :mod:`monitor.store.transfer`. The format is
documented in docs/operations.md, "Snapshot files".

Payload members:

- ``profile.json``: ``{"profile": <dataset-level profile>, "columns": [{"column",
  "position", "kind", "stats", "sketch"}]}`` as the store keeps them
  (:meth:`~monitor.store.Store.load_profile`), ``sketch`` base64 (or ``null``);
- ``segments.json`` (a snapshot with segment profiles): ``{"column", "segments":
  [{"name", "profile", "columns"}]}``, the columns as in ``profile.json``;
- ``data.parquet`` (a snapshot with a data copy): the Parquet file, byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from monitor.errors import SnapshotFileError, StoreError
from monitor.profile import DatasetProfile, profile_from_records
from monitor.profile.serialize import READABLE_VERSIONS
from monitor.service.archive import FORMAT_VERSION, Member, Written, open_archive, write_archive
from monitor.store import IncomingSnapshot, SnapshotRecord, Store

PROFILE = "profile.json"
SEGMENTS = "segments.json"
DATA = "data.parquet"

__all__ = ["DATA", "FORMAT_VERSION", "PROFILE", "SEGMENTS", "SnapshotFile", "Written", "export_snapshot",
           "import_snapshot", "read_snapshot_file"]


def export_snapshot(store: Store, dataset: str, name: str, path: str | os.PathLike[str]) -> Written:
    """Write completed snapshot ``name`` of ``dataset`` to the snapshot file ``path``
    (replaced atomically when it exists).

    :returns: the file written: path, size, SHA-256 and manifest.
    :raises StoreError: the snapshot is missing or not completed, or its data
        copy is gone; :class:`SnapshotFileError` when ``path`` cannot be written.
    """
    bundle = store.snapshot_bundle(dataset, name)
    snap, ds = bundle.snapshot, bundle.dataset
    members = [Member(PROFILE, _json_bytes({"profile": bundle.profile, "columns": _columns_out(bundle.columns)}))]
    if bundle.segment_column is not None:
        segments = [{"name": n, "profile": p, "columns": _columns_out(c)} for n, p, c in bundle.segments]
        members.append(Member(SEGMENTS, _json_bytes({"column": bundle.segment_column, "segments": segments})))
    if snap.data_copy is not None:
        copy = Path(snap.data_copy)
        if not copy.is_file():
            raise StoreError(f"snapshot {name!r} of dataset {dataset!r}: its data copy {copy} is missing")
        members.append(Member(DATA, source=copy, compress=False))
    head = {
        "exported_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "exported_by": f"drift-monitor {_version()}",
        "store_schema_version": store.schema_version(),
        "dataset": {"name": ds.name, "version": ds.version, "definition": ds.definition,
                    "description": ds.description, "created_at": ds.created_at.isoformat()},
        "snapshot": {
            "name": snap.name, "monitor": snap.monitor, "created_at": snap.created_at.isoformat(),
            "completed_at": _iso(snap.completed_at), "window_start": _iso(snap.window_start),
            "window_end": _iso(snap.window_end), "row_count": snap.row_count, "fingerprint": snap.fingerprint,
            "fingerprint_kind": snap.fingerprint_kind or "metadata",
            "profile_version": snap.profile_version, "data_copy": snap.data_copy is not None,
            "segment_column": bundle.segment_column,
        },
    }
    return write_archive(path, head, members)


@dataclass
class SnapshotFile:
    """A snapshot file read and checked (:func:`read_snapshot_file`).

    :ivar manifest: the manifest (``dataset``, ``snapshot``, ``members``, ...).
    :ivar profile: the dataset-level profile; ``columns`` its column dicts with
        ``sketch`` as bytes, as :meth:`~monitor.store.Store.load_profile` gives them.
    :ivar segment_column: the segment column (``None`` without segment
        profiles); ``segments`` ``(name, profile, columns)`` per segment.
    """

    path: Path
    manifest: dict[str, Any]
    profile: dict[str, Any]
    columns: list[dict[str, Any]]
    segment_column: str | None = None
    segments: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = field(default_factory=list)

    @property
    def dataset(self) -> str:
        """The dataset's name where it was exported."""
        return str(self.manifest["dataset"]["name"])

    @property
    def name(self) -> str:
        """The snapshot's name where it was exported."""
        return str(self.manifest["snapshot"]["name"])

    @property
    def created_at(self) -> datetime:
        """When the snapshot was taken (UTC)."""
        return _time(self.path, self.manifest["snapshot"]["created_at"], "created_at").astimezone(UTC)

    @property
    def has_data_copy(self) -> bool:
        """Whether the file holds the snapshot's data copy."""
        return DATA in self.manifest["members"]

    def dataset_profile(self) -> DatasetProfile:
        """The profile, decoded. :raises SnapshotFileError: it cannot be decoded."""
        return _decode(self.path, self.profile, self.columns, "the profile")

    def write_data_copy(self, dest: Path) -> None:
        """Write the data copy to ``dest``, checking its SHA-256 again.

        :raises SnapshotFileError: the file has no data copy, or it changed since
            it was checked.
        """
        with open_archive(self.path) as archive:
            archive.copy(DATA, dest)

    def data_table(self) -> pa.Table:
        """The data copy as an Arrow table.

        :raises StoreError: the file has no data copy; SnapshotFileError when it
            cannot be read.
        """
        if not self.has_data_copy:
            raise StoreError(f"snapshot file {self.path} has no data copy "
                             "(export a snapshot taken with a data copy)")
        with open_archive(self.path) as archive:
            raw = archive.read(DATA)
        try:
            return pq.read_table(io.BytesIO(raw))
        except (OSError, pa.ArrowException) as exc:
            raise SnapshotFileError(f"snapshot file {self.path}: {DATA} is not a readable Parquet file: {exc}") from exc


def read_snapshot_file(path: str | os.PathLike[str]) -> SnapshotFile:
    """Open, check and read a snapshot file: every member's checksum, the
    manifest's keys, and that its profiles (and segment profiles) decode.

    :raises SnapshotFileError: see :func:`monitor.service.archive.open_archive`;
        also a manifest key missing, a profile version this drift-monitor does not
        read, or a profile that does not decode.
    """
    with open_archive(path) as archive:
        file = archive.path
        manifest = archive.manifest
        _check_manifest(file, manifest)
        body = _json_member(file, archive.read(PROFILE), PROFILE)
        segments_body = _json_member(file, archive.read(SEGMENTS), SEGMENTS) if archive.has(SEGMENTS) else None
    try:
        result = SnapshotFile(file, manifest, dict(body["profile"]), _columns_in(body["columns"]))
        if segments_body is not None:
            result.segment_column = str(segments_body["column"])
            result.segments = [(str(s["name"]), dict(s["profile"]), _columns_in(s["columns"]))
                               for s in segments_body["segments"]]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise SnapshotFileError(f"snapshot file {file}: a profile member lacks a key or a sketch is not "
                                f"base64: {exc!r}") from exc
    version = result.profile.get("format_version")
    if version not in READABLE_VERSIONS:
        raise SnapshotFileError(f"snapshot file {file} holds a profile of format version {version!r}; this "
                                f"drift-monitor reads {', '.join(map(str, READABLE_VERSIONS))}: upgrade it")
    result.dataset_profile()
    for name, profile, columns in result.segments:
        _decode(file, profile, columns, f"the profile of segment {name!r}")
    return result


def import_snapshot(store: Store, path: str | os.PathLike[str] | SnapshotFile, *, name: str | None = None,
                    dataset: str | None = None) -> SnapshotRecord:
    """Restore a snapshot file into ``store``: the dataset definition (a new
    version of the dataset unless one of its versions has that definition), the
    snapshot with its original times, profile, segment profiles and data copy.

    The whole file is checked first, so a damaged one changes nothing; the store
    then inserts the snapshot so that no error or crash leaves half of it (see
    :mod:`monitor.store.transfer`).

    :param path: the file, or a :class:`SnapshotFile` read from it already.
    :param name: the snapshot's name in ``store``; default its name in the file.
    :param dataset: the dataset to file it under; default its dataset in the file.
    :returns: the completed snapshot.
    :raises SnapshotFileError: the file is damaged, truncated or of an unknown format.
    :raises StoreError: the name is taken in that dataset (import it ``--as``
        another name), a name cannot be a file name, or the store cannot be written.
    """
    file = path if isinstance(path, SnapshotFile) else read_snapshot_file(path)
    target, snapshot_name = dataset or file.dataset, name or file.name
    if store.has_snapshot(target, snapshot_name):
        raise StoreError(f"snapshot {snapshot_name!r} of dataset {target!r} already exists in {store.path}: "
                         "import it under another name (--as NAME; name= in Python) or into another dataset "
                         "(--dataset NAME)")
    meta, ds = file.manifest["snapshot"], file.manifest["dataset"]
    incoming = IncomingSnapshot(
        dataset=target, definition=dict(ds["definition"]), description=str(ds.get("description") or ""),
        name=snapshot_name, monitor=meta.get("monitor"), created_at=_time(file.path, meta["created_at"], "created_at"),
        completed_at=_time(file.path, meta["completed_at"], "completed_at"), row_count=int(meta["row_count"]),
        fingerprint=str(meta["fingerprint"]), fingerprint_kind=str(meta.get("fingerprint_kind") or "metadata"),
        profile=file.profile, columns=file.columns,
        window_start=_optional_time(file.path, meta.get("window_start"), "window_start"),
        window_end=_optional_time(file.path, meta.get("window_end"), "window_end"),
        segment_column=file.segment_column, segments=file.segments,
    )
    return store.import_snapshot(incoming, file.write_data_copy if file.has_data_copy else None)


# --------------------------------------------------------------------------- helpers


_SNAPSHOT_KEYS = ("name", "created_at", "completed_at", "row_count", "fingerprint")


def _check_manifest(file: Path, manifest: dict[str, Any]) -> None:
    snapshot, dataset = manifest.get("snapshot"), manifest.get("dataset")
    if not isinstance(snapshot, dict) or not isinstance(dataset, dict):
        raise SnapshotFileError(f"snapshot file {file}: the manifest has no 'snapshot' or 'dataset' object")
    missing = [f"snapshot.{k}" for k in _SNAPSHOT_KEYS if snapshot.get(k) is None]
    missing += [f"dataset.{k}" for k in ("name", "definition") if dataset.get(k) is None]
    if missing or PROFILE not in manifest["members"]:
        raise SnapshotFileError(f"snapshot file {file}: the manifest lacks {', '.join(missing) or PROFILE}")
    for key in ("created_at", "completed_at", "window_start", "window_end"):
        _optional_time(file, snapshot.get(key), key)
    if not isinstance(snapshot["row_count"], int) or not isinstance(dataset["definition"], dict):
        raise SnapshotFileError(f"snapshot file {file}: snapshot.row_count is not an integer or "
                                "dataset.definition not an object")


def _decode(file: Path, profile: dict[str, Any], columns: list[dict[str, Any]], what: str) -> DatasetProfile:
    try:
        return profile_from_records(profile, columns)
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotFileError(f"snapshot file {file}: {what} does not decode: {exc!r}") from exc


def _columns_out(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**c, "sketch": None if c["sketch"] is None else base64.b64encode(c["sketch"]).decode("ascii")}
            for c in columns]


def _columns_in(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"column": c["column"], "position": c["position"], "kind": c["kind"], "stats": c["stats"],
             "sketch": None if c["sketch"] is None else base64.b64decode(c["sketch"], validate=True)}
            for c in columns]


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _json_member(file: Path, raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise SnapshotFileError(f"snapshot file {file}: member {name!r} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise SnapshotFileError(f"snapshot file {file}: member {name!r} is not a JSON object")
    return value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(file: Path, text: Any, key: str) -> datetime:
    """A manifest time: ISO 8601 with its offset."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError as exc:
        raise SnapshotFileError(f"snapshot file {file}: snapshot.{key} {text!r} is not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise SnapshotFileError(f"snapshot file {file}: snapshot.{key} {text!r} has no UTC offset")
    return value


def _optional_time(file: Path, text: Any, key: str) -> datetime | None:
    return None if text is None else _time(file, text, key)


def _version() -> str:
    try:
        return metadata.version("drift-monitor")
    except metadata.PackageNotFoundError:
        return "unknown"
