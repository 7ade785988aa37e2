"""Heartbeats of running snapshots: the SQL that refreshes one, a thread that
refreshes it until stopped, and handing a running snapshot to another process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Self

from monitor.errors import StoreError
from monitor.store.base import StoreBase
from monitor.store.owner import HEARTBEAT_EVERY, SnapshotOwner

log = logging.getLogger(__name__)


class Heartbeat:
    """Call ``beat()`` every ``every`` in a daemon thread while the context is open.

    A failing beat (e.g. the database is locked for a while) is logged at debug
    level and retried at the next beat: a missed beat only matters after
    :data:`~monitor.store.owner.HEARTBEAT_TIMEOUT`.

    :param beat: refreshes the heartbeat; may raise :class:`StoreError`.
    :param every: time between beats.
    :param what: names the thread and the log lines, e.g. ``"snapshot 7"``.
    """

    def __init__(self, beat: Callable[[], None], every: timedelta, what: str) -> None:
        self._beat, self._every, self._what = beat, every.total_seconds(), what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {what}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._beat()
            except StoreError as exc:
                log.debug("heartbeat of %s failed: %s", self._what, exc)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()


class HeartbeatsMixin(StoreBase):
    """Refreshing the heartbeat of a running snapshot (``snapshots.heartbeat_at``)."""

    def heartbeat(self, snapshot_id: int, every: timedelta = HEARTBEAT_EVERY) -> Heartbeat:
        """A context manager that refreshes the heartbeat of running snapshot
        ``snapshot_id`` every ``every`` from a thread while it is open::

            with store.heartbeat(snap.id):
                ...  # profile the data
        """
        return Heartbeat(lambda: self.touch_snapshot(snapshot_id), every, f"snapshot {snapshot_id}")

    def touch_snapshot(self, snapshot_id: int) -> None:
        """Refresh the heartbeat of a running snapshot (a no-op once it is no
        longer running).

        :raises StoreError: the store cannot be written.
        """
        with self._transaction(f"refresh the heartbeat of snapshot {snapshot_id}", write=True) as db:
            db.execute(
                "UPDATE snapshots SET heartbeat_at = ? WHERE id = ? AND status = 'running'",
                [self._now(), snapshot_id],
            )

    def hand_over_snapshot(self, snapshot_id: int, owner: SnapshotOwner) -> bool:
        """Record ``owner`` (e.g. a process started to finish the snapshot) as the
        owner of running snapshot ``snapshot_id``, its heartbeat now; recovery
        then judges the snapshot by that process.

        :returns: False when the snapshot is no longer running (nothing changed).
        :raises StoreError: the store cannot be written.
        """
        with self._transaction(f"hand over snapshot {snapshot_id}", write=True) as db:
            changed = db.execute(
                "UPDATE snapshots SET owner_host = ?, owner_pid = ?, owner_started = ?, heartbeat_at = ? "
                "WHERE id = ? AND status = 'running'",
                [owner.host, owner.pid, owner.started, self._now(), snapshot_id],
            ).rowcount
        return bool(changed)
