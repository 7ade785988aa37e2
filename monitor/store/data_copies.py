"""Parquet data copies under ``<store folder>/data``, and the snapshot operations
that keep rows and files together: deleting a snapshot and failing the ones a
stopped process left running."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from monitor.errors import MonitorError, StoreError
from monitor.store.codec import Row, _check_path_part, _from_db_time
from monitor.store.owner import HEARTBEAT_TIMEOUT, SnapshotOwner, current_owner, owner_gone
from monitor.store.records import IMPORTING_REASON, INTERRUPTED_REASON, SnapshotRecord
from monitor.store.schema import _SNAPSHOT_ORDER
from monitor.store.snapshots import SnapshotsMixin

log = logging.getLogger(__name__)


def _fsync_path(path: Path) -> None:
    """Flush a file or folder to disk; a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _owner_of(row: Row) -> SnapshotOwner | None:
    """The recorded owner of a snapshot row; ``None`` for rows written before
    owners were recorded."""
    if row["owner_host"] is None or row["owner_pid"] is None:
        return None
    return SnapshotOwner(row["owner_host"], int(row["owner_pid"]), row["owner_started"])


class DataCopiesMixin(SnapshotsMixin):
    """Writing, locating and removing data copies, and the snapshot deletion and
    recovery that move or remove them."""

    def delete_snapshot(self, dataset: str, name: str) -> SnapshotRecord:
        """Delete snapshot ``name`` of ``dataset`` and its data copy; return it.

        Also deleted, in the same transaction: its column profiles, every
        comparison that used it as baseline or target with those comparisons'
        alerts and attempts, and a baseline pin on it (the monitor then falls
        back to its configured baseline). HTML report files are not touched.
        (Retention, :meth:`prune`, keeps the comparisons instead.)
        The data copy is moved aside before the transaction and put back if it
        fails, so rows and file go together.

        :raises StoreError: ``"snapshot 'n' of dataset 'd' not found"``, or the
            data copy cannot be removed.
        """
        what = f"delete snapshot '{name}' of dataset '{dataset}'"
        moved: list[tuple[Path, Path]] = []
        try:
            with self._transaction(what, write=True) as db:
                row = self._snapshot_row(dataset, name)
                moved = self._move_copies_aside(row)
                db.execute("DELETE FROM comparisons WHERE baseline_snapshot_id = ? OR target_snapshot_id = ?",
                           [row["id"], row["id"]])
                db.execute("DELETE FROM snapshots WHERE id = ?", [row["id"]])
        except BaseException:
            self._restore_copies(moved)
            raise
        self._remove_files([aside for _, aside in moved], what)
        return self._snapshot_record(row)

    def reopen_snapshot(self, snapshot_id: int) -> SnapshotRecord:
        """Put a completed or failed snapshot back to ``"running"`` to take it
        again (``backfill --force``), owned by this process, its heartbeat now.

        In one transaction its profile, its data copy and the comparisons that
        used it as target (with their alerts) are deleted. Its id, name, window
        and ``created_at`` are kept, so comparisons that used it as baseline and
        a baseline pin on it stay, and refer to the profile it is retaken with.

        :raises StoreError: ``"snapshot 7 not found"``; it is running; a data
            copy cannot be removed.
        """
        owner = current_owner()
        what = f"reopen snapshot {snapshot_id}"
        moved: list[tuple[Path, Path]] = []
        try:
            with self._transaction(what, write=True) as db:
                row = self._snapshot_row_by_id(snapshot_id)
                if row["status"] == "running":
                    raise StoreError(f"cannot reopen snapshot '{row['name']}' of dataset "
                                     f"'{row['dataset']}': it is running")
                moved = self._move_copies_aside(row)
                db.execute("DELETE FROM comparisons WHERE target_snapshot_id = ?", [snapshot_id])
                db.execute("DELETE FROM column_profiles WHERE snapshot_id = ?", [snapshot_id])
                db.execute(
                    "UPDATE snapshots SET status = 'running', completed_at = NULL, reason = NULL, "
                    "row_count = NULL, fingerprint = NULL, data_copy = NULL, profile = NULL, "
                    "profile_version = NULL, owner_host = ?, owner_pid = ?, owner_started = ?, "
                    "heartbeat_at = ? WHERE id = ?",
                    [owner.host, owner.pid, owner.started, self._now(), snapshot_id],
                )
                snapshot = self._snapshot_record(self._snapshot_row_by_id(snapshot_id))
        except BaseException:
            self._restore_copies(moved)
            raise
        self._remove_files([aside for _, aside in moved], what)
        return snapshot

    def _copy_paths(self, row: Row) -> set[Path]:
        paths = {self.data_copy_path(row["dataset"], row["name"])}
        stored = self._absolute_copy(row["data_copy"])
        if stored is not None:
            paths.add(Path(stored))
        return {path for path in paths if path.exists()}

    def _move_copies_aside(self, row: Row) -> list[tuple[Path, Path]]:
        moved: list[tuple[Path, Path]] = []
        for path in sorted(self._copy_paths(row)):
            aside = path.with_name(f"{path.name}.deleting-{os.getpid()}")
            try:
                os.replace(path, aside)
            except OSError as exc:
                self._restore_copies(moved)
                raise StoreError(f"cannot remove data copy {path}: {exc}") from exc
            moved.append((path, aside))
        return moved

    @staticmethod
    def _restore_copies(moved: list[tuple[Path, Path]]) -> None:
        for path, aside in moved:
            with contextlib.suppress(OSError):
                os.replace(aside, path)

    @staticmethod
    def _remove_files(paths: Iterable[Path], what: str) -> None:
        for path in paths:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise StoreError(f"{what}: the rows are deleted but {path} is left: {exc}") from exc

    def recover_interrupted(self, *, timeout: timedelta = HEARTBEAT_TIMEOUT) -> list[SnapshotRecord]:
        """Fail the ``"running"`` snapshots whose owner is gone (see
        :func:`~monitor.store.owner.owner_gone`); leave those of live processes.

        Each gets reason :data:`INTERRUPTED_REASON` and is logged at warning
        level; its data-copy files (temporary and final) are removed first, so a
        crash during recovery leaves it running, to be recovered again. A
        snapshot that was being imported (reason :data:`IMPORTING_REASON`, see
        :mod:`monitor.store.transfer`) is deleted instead, files first, and
        logged; it is not in the list returned. Safe to call while other
        processes write snapshots to this store.

        :param timeout: how old the heartbeat of a snapshot owned by another
            host (or recorded with no owner) must be for it to count as gone.
        :returns: the snapshots it failed, oldest first.
        :raises StoreError: the store cannot be written or a file not removed.
        """
        with self._transaction("find running snapshots", write=False):
            rows = self._all(
                f"SELECT * FROM snapshots WHERE status = 'running' {_SNAPSHOT_ORDER}", []
            )
        now = self._clock()
        failed = []
        for row in rows:
            heartbeat = _from_db_time(row["heartbeat_at"] or row["created_at"])
            if owner_gone(_owner_of(row), heartbeat, now, timeout):
                snapshot = self._fail_interrupted(row)
                if snapshot is not None:
                    failed.append(snapshot)
        return failed

    def recover_snapshot(self, snapshot_id: int, *, timeout: timedelta = HEARTBEAT_TIMEOUT) -> SnapshotRecord:
        """Snapshot ``snapshot_id`` as it stands, failed first (as
        :meth:`recover_interrupted` does) when it is running and its owner is gone:
        what a caller waiting for it reads.

        :raises StoreError: ``"snapshot 7 not found"``; the store cannot be written.
        """
        with self._transaction(f"read snapshot {snapshot_id}", write=False):
            row = self._one("SELECT * FROM snapshots WHERE id = ?", [snapshot_id])
        if row is None:
            raise StoreError(f"snapshot {snapshot_id} not found")
        if row["status"] == "running":
            heartbeat = _from_db_time(row["heartbeat_at"] or row["created_at"])
            if owner_gone(_owner_of(row), heartbeat, self._clock(), timeout):
                self._fail_interrupted(row)
        return self.get_snapshot_by_id(snapshot_id)

    def abandon_snapshot(self, snapshot_id: int, reason: str) -> SnapshotRecord:
        """Fail a running snapshot whose job will not finish (the process is
        stopping); its data-copy files are removed as :meth:`fail_snapshot` does.

        :returns: the snapshot, failed (with its first reason if it had failed already).
        :raises StoreError: the snapshot is missing or completed meanwhile.
        """
        return self.fail_snapshot(snapshot_id, reason)

    def _fail_interrupted(self, row: Row) -> SnapshotRecord | None:
        """Remove a dead owner's data copies, then fail its snapshot (delete it,
        when it was being imported); ``None`` when another process recovered it
        first or it was deleted."""
        self._remove_files(
            self._leftover_copies(row["dataset"], row["name"]),
            f"remove the data copy of interrupted snapshot {row['id']}",
        )
        if row["reason"] == IMPORTING_REASON:
            self._delete_interrupted_import(row)
            return None
        with self._transaction(f"fail interrupted snapshot {row['id']}", write=True) as db:
            changed = db.execute(
                "UPDATE snapshots SET status = 'failed', reason = ? "
                "WHERE id = ? AND status = 'running'",
                [INTERRUPTED_REASON, row["id"]],
            ).rowcount
            snapshot = self._snapshot_record(self._snapshot_row_by_id(row["id"]))
        if not changed:
            return None
        log.warning(
            "snapshot %r of dataset %r failed: its owner (pid %s on %s) is gone; "
            "its data copy files were removed", row["name"], row["dataset"],
            row["owner_pid"] or "unknown", row["owner_host"] or "unknown host",
        )
        return snapshot

    def _delete_interrupted_import(self, row: Row) -> None:
        with self._transaction(f"delete interrupted import {row['id']}", write=True) as db:
            deleted = db.execute("DELETE FROM snapshots WHERE id = ? AND status = 'running'", [row["id"]]).rowcount
        if deleted:
            log.warning("snapshot %r of dataset %r was being imported by pid %s on %s, which is gone: "
                        "it and its data copy files were removed", row["name"], row["dataset"],
                        row["owner_pid"] or "unknown", row["owner_host"] or "unknown host")

    def fail_snapshot(self, snapshot_id: int, reason: str) -> SnapshotRecord:
        """Mark a running snapshot failed with ``reason`` and remove its data-copy
        files (temporary and final), which no completed snapshot refers to.

        A snapshot that already failed is returned unchanged (its first reason
        kept), so error handlers may call this twice.

        :raises StoreError: the snapshot is missing or completed; a file cannot
            be removed.
        """
        with self._transaction(f"read snapshot {snapshot_id}", write=False):
            row = self._snapshot_row_by_id(snapshot_id)
        if row["status"] == "running":
            self._remove_files(
                self._leftover_copies(row["dataset"], row["name"]),
                f"remove the data copy of failed snapshot {snapshot_id}",
            )
        return super().fail_snapshot(snapshot_id, reason)

    def _leftover_copies(self, dataset: str, name: str) -> list[Path]:
        """The final and temporary data-copy files of a snapshot that is not
        completed (its name is unique in the dataset, so they are its own)."""
        final = self.data_copy_path(dataset, name)
        if not final.parent.is_dir():
            return []
        prefix = f"{final.name}.tmp-"
        return [path for path in final.parent.iterdir()
                if path.name == final.name or path.name.startswith(prefix)]

    # ---------------------------------------------------------------- data copies

    def data_copy_path(self, dataset: str, name: str) -> Path:
        """``root / "data" / dataset / f"{name}.parquet"``; the file may not exist.

        :raises StoreError: ``dataset`` or ``name`` cannot be a file name.
        """
        _check_path_part(dataset, "dataset name")
        _check_path_part(name, "snapshot name")
        return self.root / "data" / dataset / f"{name}.parquet"

    def write_data_copy(
        self,
        dataset: str,
        name: str,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
    ) -> Path:
        """Write ``batches`` (all of ``schema``) as the Parquet data copy of
        snapshot ``name`` and return its path.

        The file is written to ``<path>.tmp-<pid>``, flushed to disk, then renamed
        over ``<path>``, so ``<path>`` is either absent, the previous file, or
        complete. The database is not touched: pass the path to
        :meth:`complete_snapshot`.

        :raises StoreError: writing fails (the temporary file is removed). A
            :class:`~monitor.errors.MonitorError` raised by ``batches`` itself
            (e.g. a ``SourceError``) propagates unchanged, also after cleanup.
        """
        final = self.data_copy_path(dataset, name)
        temporary = final.with_name(f"{final.name}.tmp-{os.getpid()}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with pq.ParquetWriter(str(temporary), schema) as writer:
                for batch in batches:
                    writer.write_batch(batch)
            _fsync_path(temporary)
            os.replace(temporary, final)
            _fsync_path(final.parent)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            if isinstance(exc, MonitorError) or not isinstance(exc, Exception):
                raise
            raise StoreError(f"cannot write data copy {final}: {exc}") from exc
        return final
