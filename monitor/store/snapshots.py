"""Snapshots and their profiles (the ``snapshots`` and ``column_profiles``
tables): beginning, completing and failing them, and reading them back."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.errors import StoreError
from monitor.store.codec import (
    Row,
    _check_choice,
    _check_path_part,
    _column_profile,
    _column_row,
    _format_version,
    _from_db_time,
    _from_json,
    _not_completed_message,
    _optional_time,
    _to_db_time,
    _to_json,
)
from monitor.store.datasets import DatasetsMixin
from monitor.store.owner import current_owner
from monitor.store.records import FingerprintKind, JsonDict, SnapshotRecord, SnapshotStatus
from monitor.store.schema import _SNAPSHOT_COLUMNS, _SNAPSHOT_ORDER


class SnapshotsMixin(DatasetsMixin):
    """The lifecycle and reads of snapshots; a snapshot belongs to a registered
    dataset version, so this builds on :class:`DatasetsMixin`."""

    def _snapshot_record(self, row: Row) -> SnapshotRecord:
        return SnapshotRecord(
            id=row["id"],
            dataset=row["dataset"],
            dataset_version=row["dataset_version"],
            name=row["name"],
            monitor=row["monitor"],
            created_at=_from_db_time(row["created_at"]),
            completed_at=_optional_time(row["completed_at"]),
            status=row["status"],
            reason=row["reason"],
            row_count=row["row_count"],
            fingerprint=row["fingerprint"],
            data_copy=self._absolute_copy(row["data_copy"]),
            profile_version=row["profile_version"],
            window_start=_optional_time(row["window_start"]),
            window_end=_optional_time(row["window_end"]),
            fingerprint_kind=row["fingerprint_kind"],
        )

    def _absolute_copy(self, stored: str | None) -> str | None:
        """Data copies under the store folder are stored relative to it, so the
        folder can be moved; this turns them back into absolute paths."""
        return None if stored is None else str(self.root / stored)

    def _snapshot_row_by_id(self, snapshot_id: int) -> Row:
        row = self._one(f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE id = ?", [snapshot_id])
        if row is None:
            raise StoreError(f"snapshot {snapshot_id} not found")
        return row

    def _snapshot_row(self, dataset: str, name: str) -> Row:
        row = self._one(
            f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE dataset = ? AND name = ?",
            [dataset, name],
        )
        if row is None:
            raise StoreError(f"snapshot '{name}' of dataset '{dataset}' not found")
        return row

    def begin_snapshot(
        self,
        dataset: str,
        name: str,
        *,
        monitor: str | None = None,
        dataset_version: int | None = None,
        unique: bool = False,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
    ) -> SnapshotRecord:
        """Record a new snapshot ``name`` of ``dataset`` with status ``"running"``,
        owned by this process (see :mod:`monitor.store.owner`), its heartbeat now.

        :param dataset_version: the registered version profiled; ``None`` means
            the dataset's latest version.
        :param unique: when ``name`` is taken, use the first free one of
            ``name_2``, ``name_3``, ... instead of failing; the name is picked in
            the transaction that inserts the row, so two processes never get the
            same one.
        :param window_start: for a snapshot of a time window, its start and
            ``window_end`` its end (timezone-aware; stored as UTC); both or neither.
        :raises StoreError: the dataset (version) is not registered; the name is
            taken and not ``unique`` (``"snapshot 'n' of dataset 'd' already
            exists"``); the name or dataset contains ``/``, ``\\`` or NUL or is
            ``.``/``..``; only one of the window's ends is given, one is naive, or
            the window does not end after it starts.
        """
        _check_path_part(dataset, "dataset name")
        _check_path_part(name, "snapshot name")
        window = _window_times(window_start, window_end)
        owner = current_owner()
        with self._transaction(f"begin snapshot '{name}' of dataset '{dataset}'", write=True):
            version = self._dataset_row(dataset, dataset_version)["version"]
            name = self._free_name(dataset, name, unique)
            now = self._now()
            snapshot_id = self._insert(
                "snapshots",
                {
                    "dataset": dataset,
                    "dataset_version": version,
                    "name": name,
                    "monitor": monitor,
                    "created_at": now,
                    "status": "running",
                    "owner_host": owner.host,
                    "owner_pid": owner.pid,
                    "owner_started": owner.started,
                    "heartbeat_at": now,
                    "window_start": window[0],
                    "window_end": window[1],
                },
            )
            return self._snapshot_record(self._snapshot_row_by_id(snapshot_id))

    def _free_name(self, dataset: str, name: str, unique: bool) -> str:
        """``name`` when free; else with ``unique`` the first free ``name_<i>``
        (i >= 2), without it a StoreError."""
        taken = {
            row["name"]
            for row in self._all(
                "SELECT name FROM snapshots WHERE dataset = ? "
                "AND (name = ? OR substr(name, 1, ?) = ?)",
                [dataset, name, len(name) + 1, f"{name}_"],
            )
        }
        if name in taken and not unique:
            raise StoreError(f"snapshot '{name}' of dataset '{dataset}' already exists")
        candidate, i = name, 1
        while candidate in taken:
            i += 1
            candidate = f"{name}_{i}"
        return candidate

    def _running_row(self, snapshot_id: int, action: str) -> Row:
        row = self._snapshot_row_by_id(snapshot_id)
        if row["status"] != "running":
            raise StoreError(
                f"cannot {action} snapshot '{row['name']}' of dataset "
                f"'{row['dataset']}': it is {row['status']}, not running"
            )
        return row

    def complete_snapshot(
        self,
        snapshot_id: int,
        *,
        profile: JsonDict,
        columns: list[JsonDict],
        row_count: int,
        fingerprint: str,
        data_copy: str | os.PathLike[str] | None = None,
        fingerprint_kind: str = "metadata",
    ) -> SnapshotRecord:
        """Store a running snapshot's profile and mark it completed, in one transaction.

        :param profile: the JSON-able dataset-level profile; must hold an integer
            ``"format_version"`` (stored as ``profile_version``).
        :param columns: one dict per column: ``column`` (str), ``position`` (int,
            unique), ``kind`` (str), ``stats`` (JSON-able dict), ``sketch``
            (bytes or ``None``; optional).
        :param row_count: rows profiled.
        :param fingerprint: the source's input fingerprint.
        :param data_copy: path of an existing Parquet copy (see
            :meth:`write_data_copy`), or ``None``.
        :param fingerprint_kind: ``"metadata"`` or ``"content"``: what
            ``fingerprint`` is made of.
        :raises StoreError: the snapshot is missing or not running, the data copy
            does not exist, a column dict is malformed or a value is not
            JSON-serialisable; an unknown ``fingerprint_kind``.
        """
        _check_choice(fingerprint_kind, FingerprintKind, "fingerprint kind")
        profile_json = _to_json(profile, f"the profile of snapshot {snapshot_id}")
        profile_version = _format_version(profile)
        rows = [_column_row(snapshot_id, i, column) for i, column in enumerate(columns)]
        stored_copy = None if data_copy is None else _stored_copy(self.root, data_copy)
        with self._transaction(f"complete snapshot {snapshot_id}", write=True) as db:
            self._running_row(snapshot_id, "complete")
            db.execute("DELETE FROM column_profiles WHERE snapshot_id = ?", [snapshot_id])
            db.table("column_profiles").insert_all(rows)
            db.execute(
                "UPDATE snapshots SET status = 'completed', completed_at = ?, "
                "row_count = ?, fingerprint = ?, data_copy = ?, profile = ?, "
                "profile_version = ?, fingerprint_kind = ? WHERE id = ?",
                [self._now(), row_count, fingerprint, stored_copy, profile_json,
                 profile_version, fingerprint_kind, snapshot_id],
            )
            return self._snapshot_record(self._snapshot_row_by_id(snapshot_id))

    def fail_snapshot(self, snapshot_id: int, reason: str) -> SnapshotRecord:
        """Mark a running snapshot failed with ``reason``.

        A snapshot that already failed is returned unchanged (its first reason
        kept), so error handlers may call this twice.

        :raises StoreError: the snapshot is missing or completed.
        """
        with self._transaction(f"fail snapshot {snapshot_id}", write=True) as db:
            row = self._snapshot_row_by_id(snapshot_id)
            if row["status"] != "failed":
                self._running_row(snapshot_id, "fail")
                db.execute(
                    "UPDATE snapshots SET status = 'failed', reason = ? WHERE id = ?",
                    [reason, snapshot_id],
                )
            return self._snapshot_record(self._snapshot_row_by_id(snapshot_id))

    def get_snapshot(self, dataset: str, name: str) -> SnapshotRecord:
        """Snapshot ``name`` of ``dataset``, whatever its status.

        :raises StoreError: ``"snapshot 'n' of dataset 'd' not found"``.
        """
        with self._transaction(f"read snapshot '{name}' of dataset '{dataset}'", write=False):
            return self._snapshot_record(self._snapshot_row(dataset, name))

    def get_snapshot_by_id(self, snapshot_id: int) -> SnapshotRecord:
        """The snapshot with row id ``snapshot_id``.

        :raises StoreError: ``"snapshot 7 not found"``.
        """
        with self._transaction(f"read snapshot {snapshot_id}", write=False):
            return self._snapshot_record(self._snapshot_row_by_id(snapshot_id))

    def list_snapshots(
        self,
        dataset: str | None = None,
        *,
        status: SnapshotStatus | None = None,
        monitor: str | None = None,
    ) -> list[SnapshotRecord]:
        """Snapshots matching every filter given, oldest first by (created_at, id).

        :raises StoreError: ``status`` is not running, completed or failed.
        """
        _check_choice(status, SnapshotStatus, "snapshot status")
        filters = {"dataset": dataset, "status": status, "monitor": monitor}
        used = {key: value for key, value in filters.items() if value is not None}
        where = " AND ".join(f"{key} = ?" for key in used) or "1"
        with self._transaction("list snapshots", write=False):
            rows = self._all(
                f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE {where} {_SNAPSHOT_ORDER}",
                list(used.values()),
            )
        return [self._snapshot_record(row) for row in rows]

    def latest_snapshot(
        self,
        dataset: str,
        *,
        status: SnapshotStatus | None = "completed",
        before_id: int | None = None,
    ) -> SnapshotRecord | None:
        """The newest snapshot of ``dataset`` by (created_at, id), or ``None``.

        :param status: only snapshots with this status; ``None`` for any.
        :param before_id: only snapshots ordered before snapshot ``before_id``
            (e.g. the previous run of a target).
        :raises StoreError: ``before_id`` does not exist; unknown ``status``.
        """
        return self._edge_snapshot(dataset, status, before_id, newest=True)

    def first_snapshot(
        self, dataset: str, status: SnapshotStatus | None = "completed"
    ) -> SnapshotRecord | None:
        """The oldest snapshot of ``dataset`` with ``status`` (any when ``None``),
        or ``None``."""
        return self._edge_snapshot(dataset, status, None, newest=False)

    def _edge_snapshot(
        self,
        dataset: str,
        status: SnapshotStatus | None,
        before_id: int | None,
        *,
        newest: bool,
    ) -> SnapshotRecord | None:
        _check_choice(status, SnapshotStatus, "snapshot status")
        sql = f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE dataset = ?"
        params: list[Any] = [dataset]
        if status is not None:
            sql, params = sql + " AND status = ?", [*params, status]
        order = "ORDER BY created_at DESC, id DESC" if newest else _SNAPSHOT_ORDER
        with self._transaction(f"find a snapshot of dataset '{dataset}'", write=False):
            if before_id is not None:
                edge = self._snapshot_row_by_id(before_id)
                sql += " AND (created_at, id) < (?, ?)"
                params += [edge["created_at"], edge["id"]]
            row = self._one(f"{sql} {order} LIMIT 1", params)
        return None if row is None else self._snapshot_record(row)

    def load_profile(self, snapshot_id: int) -> tuple[JsonDict, list[JsonDict]]:
        """What :meth:`complete_snapshot` stored: ``(profile, columns)``, the
        columns ordered by position, each ``{"column", "position", "kind",
        "stats", "sketch"}`` with ``sketch`` as bytes or ``None``.

        :raises StoreError: ``"snapshot 7 not found"``; the snapshot is not
            completed (``"snapshot 'n' of dataset 'd' is running, not completed"``
            or ``"snapshot 'n' of dataset 'd' failed: <reason>"``).
        """
        with self._transaction(f"load the profile of snapshot {snapshot_id}", write=False):
            row = self._one("SELECT * FROM snapshots WHERE id = ?", [snapshot_id])
            if row is None:
                raise StoreError(f"snapshot {snapshot_id} not found")
            if row["status"] != "completed":
                raise StoreError(_not_completed_message(row))
            columns = self._all(
                "SELECT * FROM column_profiles WHERE snapshot_id = ? ORDER BY position",
                [snapshot_id],
            )
        return _from_json(row["profile"]), [_column_profile(c) for c in columns]


def _stored_copy(root: Path, data_copy: str | os.PathLike[str]) -> str:
    """A data copy's path as stored: relative to the store folder ``root`` when
    under it (so the folder can be moved), else absolute.

    :raises StoreError: the file does not exist.
    """
    path = Path(os.path.abspath(os.fspath(data_copy)))
    if not path.is_file():
        raise StoreError(f"data copy {path} does not exist")
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    return str(path)


def _window_times(start: datetime | None, end: datetime | None) -> tuple[str | None, str | None]:
    """A snapshot's window as stored: two UTC times, or two NULLs.

    :raises StoreError: one end only, a naive time, or ``end <= start``.
    """
    if start is None and end is None:
        return None, None
    if start is None or end is None:
        raise StoreError("a snapshot's window needs both window_start and window_end")
    first, last = _to_db_time(start, "window_start"), _to_db_time(end, "window_end")
    if end <= start:
        raise StoreError(f"a snapshot's window must end after it starts: {first} to {last}")
    return first, last
