"""Pinned baselines of monitors (the ``baselines`` table) and when a monitor
last ran."""

from __future__ import annotations

from datetime import datetime

from monitor.errors import StoreError
from monitor.store.codec import _from_db_time, _not_completed_message
from monitor.store.records import SnapshotRecord
from monitor.store.snapshots import SnapshotsMixin


class BaselinesMixin(SnapshotsMixin):
    """Pinning, unpinning and reading a monitor's baseline snapshot, and the time
    of its last run."""

    def set_baseline(self, monitor: str, snapshot: SnapshotRecord) -> None:
        """Pin ``snapshot`` as the baseline of ``monitor``, replacing any pin.

        :raises StoreError: the snapshot no longer exists or is not completed.
        """
        with self._transaction(f"pin the baseline of monitor '{monitor}'", write=True) as db:
            row = self._snapshot_row_by_id(snapshot.id)
            if row["status"] != "completed":
                raise StoreError(_not_completed_message(row))
            db.execute(
                "INSERT INTO baselines (monitor, snapshot_id, pinned_at) VALUES (?, ?, ?) "
                "ON CONFLICT (monitor) DO UPDATE SET snapshot_id = excluded.snapshot_id, "
                "pinned_at = excluded.pinned_at",
                [monitor, snapshot.id, self._now()],
            )

    def clear_baseline(self, monitor: str) -> bool:
        """Remove the pinned baseline of ``monitor``; ``True`` when there was one."""
        with self._transaction(f"unpin the baseline of monitor '{monitor}'", write=True) as db:
            cursor = db.execute("DELETE FROM baselines WHERE monitor = ?", [monitor])
            return cursor.rowcount > 0

    def get_pinned_baseline(self, monitor: str) -> SnapshotRecord | None:
        """The snapshot pinned as ``monitor``'s baseline, or ``None``."""
        with self._transaction(f"read the baseline of monitor '{monitor}'", write=False):
            pin = self._one("SELECT snapshot_id FROM baselines WHERE monitor = ?", [monitor])
            if pin is None:
                return None
            return self._snapshot_record(self._snapshot_row_by_id(pin["snapshot_id"]))

    def pinned_by(self, snapshot_id: int) -> list[str]:
        """The monitors whose pinned baseline is snapshot ``snapshot_id``, by name."""
        with self._transaction(f"read the pins of snapshot {snapshot_id}", write=False):
            rows = self._all(
                "SELECT monitor FROM baselines WHERE snapshot_id = ? ORDER BY monitor", [snapshot_id]
            )
        return [row["monitor"] for row in rows]

    def pins(self) -> dict[str, int]:
        """Every pinned baseline: monitor name -> the pinned snapshot's id."""
        with self._transaction("read the pinned baselines", write=False):
            rows = self._all("SELECT monitor, snapshot_id FROM baselines ORDER BY monitor", [])
        return {str(row["monitor"]): int(row["snapshot_id"]) for row in rows}

    def last_run_at(self, monitor: str) -> datetime | None:
        """``created_at`` of ``monitor``'s newest snapshot (any status), or ``None``
        when it has none (deleted snapshots do not count)."""
        with self._transaction(f"read the last run of monitor '{monitor}'", write=False):
            row = self._one(
                "SELECT MAX(created_at) AS at FROM snapshots WHERE monitor = ?", [monitor]
            )
        return None if row is None or row["at"] is None else _from_db_time(row["at"])
