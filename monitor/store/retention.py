"""Removals for retention: snapshots (their rows and profiles, while the
comparisons that used them stay) and data copies (the Parquet file and the
snapshot's reference to it), many in one transaction, the files after it
commits."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from monitor.store.codec import Row
from monitor.store.data_copies import DataCopiesMixin
from monitor.store.records import SnapshotRecord
from monitor.store.schema import _SNAPSHOT_COLUMNS

log = logging.getLogger(__name__)


class RetentionMixin(DataCopiesMixin):
    """:meth:`prune`: what a retention policy removes, removed together."""

    def prune(
        self, snapshots: Iterable[int] = (), data_copies: Iterable[int] = ()
    ) -> tuple[list[SnapshotRecord], list[SnapshotRecord]]:
        """Remove the snapshots whose ids are in ``snapshots`` and the data
        copies of those in ``data_copies``, in one transaction.

        A removed snapshot loses its row, its column profiles and its segment
        profiles; the comparisons that used it keep their rows (result,
        summary, report path, the snapshot's id and name), and so do their
        alerts. A removed data copy's reference (``data_copy``) is cleared; its
        snapshot and profile stay.

        Left alone, and out of the answer: ids that no longer exist, running
        snapshots, snapshots pinned as a monitor's baseline (also when pinned
        after the caller chose them), data copies of snapshots without one, and
        data copies of snapshots removed in the same call.

        The files are deleted after the transaction commits. A crash in between
        leaves files that no row refers to: nothing reads them, and a snapshot
        taken later under the same name writes its copy over them. A file that
        cannot be deleted is logged at warning level, not raised.

        :returns: ``(removed snapshots, snapshots whose data copy was removed)``
            as they were before, each oldest first by id.
        :raises StoreError: the store cannot be written; then nothing is removed.
        """
        snapshot_ids = sorted(set(snapshots))
        copy_ids = sorted(set(data_copies) - set(snapshot_ids))
        removed: list[SnapshotRecord] = []
        uncopied: list[SnapshotRecord] = []
        files: list[Path] = []
        with self._transaction("remove snapshots and data copies", write=True) as db:
            for snapshot_id in snapshot_ids:
                row = self._removable(snapshot_id)
                if row is not None:
                    files += self._copy_paths(row)
                    db.execute("DELETE FROM snapshots WHERE id = ?", [snapshot_id])
                    removed.append(self._snapshot_record(row))
            for snapshot_id in copy_ids:
                row = self._removable(snapshot_id)
                if row is not None and row["data_copy"] is not None:
                    files += self._copy_paths(row)
                    db.execute("UPDATE snapshots SET data_copy = NULL WHERE id = ?", [snapshot_id])
                    uncopied.append(self._snapshot_record(row))
        for path in files:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("data copy %s is no longer used but cannot be deleted: %s", path, exc)
        return removed, uncopied

    def _removable(self, snapshot_id: int) -> Row | None:
        """The row of a snapshot :meth:`prune` may change: it exists, is not
        running and is not pinned; else ``None``."""
        row = self._one(f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE id = ?", [snapshot_id])
        if row is None or row["status"] == "running":
            return None
        if self._one("SELECT 1 FROM baselines WHERE snapshot_id = ?", [snapshot_id]) is not None:
            return None
        return row
