"""Parquet data copies under ``<store folder>/data``, and the snapshot operations
that keep rows and files together: deleting a snapshot and failing the ones a
stopped process left running."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from monitor.errors import MonitorError, StoreError
from monitor.store.codec import Row, _check_path_part
from monitor.store.records import INTERRUPTED_REASON, SnapshotRecord
from monitor.store.schema import _SNAPSHOT_ORDER
from monitor.store.snapshots import SnapshotsMixin


def _fsync_path(path: Path) -> None:
    """Flush a file or folder to disk; a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class DataCopiesMixin(SnapshotsMixin):
    """Writing, locating and removing data copies, and the snapshot deletion and
    recovery that move or remove them."""

    def delete_snapshot(self, dataset: str, name: str) -> SnapshotRecord:
        """Delete snapshot ``name`` of ``dataset`` and its data copy; return it.

        Also deleted, in the same transaction: its column profiles, every
        comparison that used it as baseline or target with those comparisons'
        alerts and attempts, and a baseline pin on it (the monitor then falls
        back to its configured baseline). HTML report files are not touched.
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
                db.execute("DELETE FROM snapshots WHERE id = ?", [row["id"]])
        except BaseException:
            self._restore_copies(moved)
            raise
        self._remove_files([aside for _, aside in moved], what)
        return self._snapshot_record(row)

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

    def recover_interrupted(self) -> list[SnapshotRecord]:
        """Fail every snapshot left ``"running"`` by a process that stopped.

        Each gets reason :data:`INTERRUPTED_REASON`; their leftover temporary
        data-copy files are removed. Call it on start, before any snapshot of
        this process begins, and only when no other process is writing
        snapshots to this store.

        :returns: the snapshots it failed, oldest first.
        """
        with self._transaction("recover interrupted snapshots", write=True) as db:
            rows = self._all(
                f"SELECT id FROM snapshots WHERE status = 'running' {_SNAPSHOT_ORDER}", []
            )
            db.execute(
                "UPDATE snapshots SET status = 'failed', reason = ? WHERE status = 'running'",
                [INTERRUPTED_REASON],
            )
            failed = [self._snapshot_record(self._snapshot_row_by_id(r["id"])) for r in rows]
        for snapshot in failed:
            self._remove_files(
                self._temporary_copies(snapshot),
                f"remove the temporary data copy of snapshot {snapshot.id}",
            )
        return failed

    def abandon_snapshot(self, snapshot_id: int, reason: str) -> SnapshotRecord:
        """Fail a running snapshot whose job will not finish (the process is
        stopping) and remove its temporary data-copy files.

        :returns: the snapshot, failed (with its first reason if it had failed already).
        :raises StoreError: the snapshot is missing or completed meanwhile.
        """
        snapshot = self.fail_snapshot(snapshot_id, reason)
        self._remove_files(
            self._temporary_copies(snapshot),
            f"remove the temporary data copy of snapshot {snapshot.id}",
        )
        return snapshot

    def _temporary_copies(self, snapshot: SnapshotRecord) -> list[Path]:
        final = self.data_copy_path(snapshot.dataset, snapshot.name)
        if not final.parent.is_dir():
            return []
        prefix = f"{final.name}.tmp-"
        return [path for path in final.parent.iterdir() if path.name.startswith(prefix)]

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
