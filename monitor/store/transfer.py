"""Moving one snapshot between stores: everything a snapshot file holds read in
one transaction (:meth:`TransferMixin.snapshot_bundle`), and the import of one
(:meth:`TransferMixin.import_snapshot`).

An import never leaves half a snapshot. Without a data copy it is one
transaction. With one, three steps, the first and last of them transactions:

1. the dataset definition is registered (a version of its own when no version
   has that definition) and the snapshot row is inserted with status
   ``"running"``, owned by this process, its reason :data:`IMPORTING_REASON`;
2. the caller writes the data copy to ``<final>.tmp-<pid>``, which is flushed
   and renamed to ``<store>/data/<dataset>/<name>.parquet``;
3. the profile, segment profiles and the snapshot's metadata are stored and the
   snapshot completed.

A failure in step 2 or 3 deletes the files and the row. A crash leaves a
running row whose owner is gone, with the files of a snapshot that is not
completed: recovery (:meth:`~monitor.store.Store.recover_interrupted`) deletes
both, because the row's reason marks an import (a snapshot that was being
taken is failed instead). The registered definition stays.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from monitor.errors import StoreError
from monitor.store.codec import (
    _check_path_part,
    _column_row,
    _dataset_record,
    _format_version,
    _to_db_time,
    _to_json,
)
from monitor.store.data_copies import DataCopiesMixin, _fsync_path
from monitor.store.heartbeat import HeartbeatsMixin
from monitor.store.owner import current_owner
from monitor.store.records import IMPORTING_REASON, DatasetRecord, JsonDict, SnapshotRecord
from monitor.store.segments import SegmentRecords, SegmentsMixin
from monitor.store.snapshots import _stored_copy, _window_times


@dataclass(frozen=True, slots=True)
class SnapshotBundle:
    """A completed snapshot with everything that describes it, read in one transaction.

    :ivar dataset: the dataset version the snapshot profiled.
    :ivar snapshot: the snapshot (``data_copy`` is the absolute path of its
        Parquet file, or ``None``).
    :ivar profile: the dataset-level profile dict, and ``columns`` one dict per
        column, as :meth:`~monitor.store.Store.load_profile` returns them.
    :ivar segment_column: the column of the segment profiles, ``None`` without.
    :ivar segments: ``(name, profile, columns)`` per segment, as
        :meth:`~monitor.store.Store.load_segment_profiles` returns them.
    """

    dataset: DatasetRecord
    snapshot: SnapshotRecord
    profile: JsonDict
    columns: list[JsonDict]
    segment_column: str | None = None
    segments: list[SegmentRecords] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IncomingSnapshot:
    """A completed snapshot to insert into this store (see :meth:`TransferMixin.import_snapshot`).

    :ivar dataset: the name to file it under; ``definition`` and ``description``
        the dataset definition it profiled.
    :ivar name: the snapshot's name in this store.
    :ivar created_at: when it was taken and ``completed_at`` when it completed
        (aware datetimes, kept as they were).
    :ivar window_start: its time window, both ends or neither (``None``).
    :ivar profile: the dataset-level profile (with an integer ``format_version``)
        and ``columns`` the column dicts of
        :meth:`~monitor.store.Store.complete_snapshot`.
    :ivar segment_column: the segment column, ``segments`` its ``(name,
        profile, columns)``; ``None`` and empty without.
    """

    dataset: str
    definition: JsonDict
    description: str
    name: str
    monitor: str | None
    created_at: datetime
    completed_at: datetime
    row_count: int
    fingerprint: str
    profile: JsonDict
    columns: list[JsonDict]
    window_start: datetime | None = None
    window_end: datetime | None = None
    fingerprint_kind: str = "metadata"
    segment_column: str | None = None
    segments: Sequence[SegmentRecords] = ()


CopyWriter = Callable[[Path], None]
"""Writes a data copy to the (temporary) path it is given; raises to abandon the import."""


class TransferMixin(DataCopiesMixin, SegmentsMixin, HeartbeatsMixin):
    """Reading a snapshot whole for export, and importing one."""

    def snapshot_bundle(self, dataset: str, name: str) -> SnapshotBundle:
        """Snapshot ``name`` of ``dataset`` with its dataset version, profile and
        segment profiles, read in one transaction.

        :raises StoreError: ``"snapshot 'n' of dataset 'd' not found"``; the
            snapshot is running or failed (the message says which, and why).
        """
        with self._transaction(f"read snapshot '{name}' of dataset '{dataset}'", write=False):
            snapshot = self.get_snapshot(dataset, name)
            profile, columns = self.load_profile(snapshot.id)
            record = _dataset_record(self._dataset_row(dataset, snapshot.dataset_version))
            segment_column, segments = self.load_segment_profiles(snapshot.id)
        return SnapshotBundle(record, snapshot, profile, columns, segment_column, segments)

    def has_snapshot(self, dataset: str, name: str) -> bool:
        """Whether ``dataset`` has a snapshot called ``name`` (any status)."""
        with self._transaction(f"look for snapshot '{name}' of dataset '{dataset}'", write=False):
            return self._one("SELECT 1 FROM snapshots WHERE dataset = ? AND name = ?", [dataset, name]) is not None

    def import_snapshot(self, incoming: IncomingSnapshot, write_copy: CopyWriter | None = None) -> SnapshotRecord:
        """Insert a completed snapshot, its profile, segment profiles and data
        copy, so that no crash or error leaves half of it (see the module
        docstring for the steps).

        :param write_copy: writes the data copy to the path it is given (a
            temporary name beside ``data/<dataset>/<name>.parquet``); ``None``
            for a snapshot without one.
        :returns: the completed snapshot.
        :raises StoreError: the name is taken (``"snapshot 'n' of dataset 'd'
            already exists"``), a name cannot be a file name, the window (one
            end only, or not ending after it starts) or a column dict is malformed, a value is not JSON-serialisable, or the
            store or the data copy cannot be written (nothing of the snapshot is
            left). Whatever ``write_copy`` raises propagates, after the same cleanup.
        """
        checked = _checked(incoming)
        what = f"import snapshot '{incoming.name}' into dataset '{incoming.dataset}'"
        if write_copy is None:
            with self._transaction(what, write=True):
                snapshot_id = self._insert_importing(incoming, checked)
                return self._complete_import(snapshot_id, incoming, checked, None)
        with self._transaction(what, write=True):
            snapshot_id = self._insert_importing(incoming, checked)
        try:
            with self.heartbeat(snapshot_id):
                final = self._place_copy(incoming.dataset, incoming.name, write_copy)
                with self._transaction(what, write=True):
                    return self._complete_import(snapshot_id, incoming, checked, final)
        except BaseException:
            self._drop_import(snapshot_id, incoming.dataset, incoming.name)
            raise

    # ------------------------------------------------------------------ steps

    def _version_for(self, incoming: IncomingSnapshot) -> int:
        """The version of dataset ``incoming.dataset`` whose definition is the
        incoming one, else a new version registered for it (see
        :meth:`register_dataset`; a ``description`` in definitions exported
        before versions were found by definition is not part of it)."""
        definition = dict(incoming.definition)
        description = definition.pop("description", None)
        text = description if isinstance(description, str) and not incoming.description else incoming.description
        return self.register_dataset(incoming.dataset, definition, text or "").version

    def _insert_importing(self, incoming: IncomingSnapshot, checked: _Checked) -> int:
        """Step 1: the dataset version and the running row (within a transaction)."""
        version = self._version_for(incoming)
        self._free_name(incoming.dataset, incoming.name, False)
        owner = current_owner()
        return self._insert("snapshots", {
            "dataset": incoming.dataset, "dataset_version": version, "name": incoming.name,
            "monitor": incoming.monitor, "created_at": _to_db_time(incoming.created_at, "created_at"),
            "status": "running", "reason": IMPORTING_REASON, "owner_host": owner.host,
            "owner_pid": owner.pid, "owner_started": owner.started, "heartbeat_at": self._now(),
            "window_start": checked.window[0], "window_end": checked.window[1],
        })

    def _place_copy(self, dataset: str, name: str, write_copy: CopyWriter) -> Path:
        """Step 2: the data copy written to a temporary name, flushed, renamed into place."""
        final = self.data_copy_path(dataset, name)
        temporary = final.with_name(f"{final.name}.tmp-{os.getpid()}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            write_copy(temporary)
            _fsync_path(temporary)
            os.replace(temporary, final)
            _fsync_path(final.parent)
        except OSError as exc:
            raise StoreError(f"cannot write data copy {final}: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
        return final

    def _complete_import(self, snapshot_id: int, incoming: IncomingSnapshot, checked: _Checked,
                         data_copy: Path | None) -> SnapshotRecord:
        """Step 3: profile, segments and metadata; the snapshot completed (within a transaction)."""
        rows = [_column_row(snapshot_id, i, column) for i, column in enumerate(incoming.columns)]
        if incoming.segment_column is not None:
            self.save_segment_profiles(snapshot_id, incoming.segment_column, incoming.segments)
        self._db.table("column_profiles").insert_all(rows)
        self._db.execute(
            "UPDATE snapshots SET status = 'completed', reason = NULL, completed_at = ?, row_count = ?, "
            "fingerprint = ?, fingerprint_kind = ?, data_copy = ?, profile = ?, profile_version = ? "
            "WHERE id = ? AND status = 'running'",
            [checked.completed_at, incoming.row_count, incoming.fingerprint, incoming.fingerprint_kind,
             None if data_copy is None else _stored_copy(self.root, data_copy), checked.profile_json,
             checked.profile_version, snapshot_id],
        )
        return self._snapshot_record(self._snapshot_row_by_id(snapshot_id))

    def _drop_import(self, snapshot_id: int, dataset: str, name: str) -> None:
        """Undo steps 1 and 2: the data-copy files and the running row (nothing
        once the snapshot is completed)."""
        with self._transaction(f"read import {snapshot_id}", write=False):
            row = self._one("SELECT status FROM snapshots WHERE id = ?", [snapshot_id])
        if row is None or row["status"] != "running":
            return
        self._remove_files(self._leftover_copies(dataset, name), f"remove the data copy of import {snapshot_id}")
        with self._transaction(f"remove the unfinished import {snapshot_id}", write=True) as db:
            db.execute("DELETE FROM snapshots WHERE id = ? AND status = 'running'", [snapshot_id])


@dataclass(frozen=True, slots=True)
class _Checked:
    """What an incoming snapshot stores, checked before any write."""

    window: tuple[str | None, str | None]
    completed_at: str
    profile_json: str
    profile_version: int


def _checked(incoming: IncomingSnapshot) -> _Checked:
    """Check names, times and the profile before any write.

    :raises StoreError: as :meth:`TransferMixin.import_snapshot`.
    """
    _check_path_part(incoming.dataset, "dataset name")
    _check_path_part(incoming.name, "snapshot name")
    for i, column in enumerate(incoming.columns):
        _column_row(0, i, column)
    _to_db_time(incoming.created_at, "created_at")
    return _Checked(
        window=_window_times(incoming.window_start, incoming.window_end),
        completed_at=_to_db_time(incoming.completed_at, "completed_at"),
        profile_json=_to_json(incoming.profile, f"the profile of snapshot '{incoming.name}'"),
        profile_version=_format_version(incoming.profile),
    )
