"""Drift episodes and their notification state (the ``episodes`` table).

An episode is the stretch of runs during which a monitor drifts. The store
keeps, per episode, what was last notified (when, with which severity and
columns): this is the notification log the service reads to decide whether a
run sends ``drift.detected``, ``drift.repeated``, ``drift.resolved`` or nothing.
The decision and the alerts it queues are applied in one transaction, so two
runs never both open an episode or both send its event.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.errors import StoreError
from monitor.store.alerts import AlertsMixin
from monitor.store.codec import _episode_record, _to_json
from monitor.store.records import AlertRecord, EpisodeRecord, EpisodeStep

_OPEN = "SELECT * FROM episodes WHERE monitor = ? AND kind = ? AND status = 'open'"

EpisodePlan = Callable[[EpisodeRecord | None], EpisodeStep]
"""Decides a run's step from the monitor's open episode (``None`` when none)."""


class EpisodesMixin(AlertsMixin):
    """Opening, continuing and resolving drift episodes; an episode's events go
    to the outbox, so this builds on :class:`AlertsMixin`."""

    def open_episode(self, monitor: str, kind: str = "drift") -> EpisodeRecord | None:
        """The open episode of ``monitor`` of ``kind`` (``drift``, ``data.stale``,
        ``volume``), or ``None``."""
        with self._transaction(f"read the open episode of monitor '{monitor}'", write=False):
            row = self._one(_OPEN, [monitor, kind])
        return None if row is None else _episode_record(row)

    def list_episodes(self, monitor: str | None = None, kind: str | None = None) -> list[EpisodeRecord]:
        """Every episode (of one monitor, of one kind when given), oldest first."""
        used = {key: value for key, value in (("monitor", monitor), ("kind", kind)) if value is not None}
        where, params = " AND ".join(f"{key} = ?" for key in used) or "1", list(used.values())
        with self._transaction("list episodes", write=False):
            rows = self._all(f"SELECT * FROM episodes WHERE {where} ORDER BY opened_at, id", params)
        return [_episode_record(row) for row in rows]

    def step_episode(
        self, monitor: str, dataset: str, comparison_id: int, plan: EpisodePlan, *, kind: str = "drift"
    ) -> tuple[EpisodeRecord | None, list[AlertRecord]]:
        """Apply one run to ``monitor``'s episode of ``kind``, in one write transaction.

        ``plan`` is called with the open episode (or ``None``) read inside the
        transaction and returns the :class:`EpisodeStep`: open a new episode
        (``status="open"`` with none open), continue the open one, resolve it
        (``status="resolved"``), or nothing (``status=None``). When the step has
        an ``event``, the episode's notification state becomes now, the step's
        severity and columns, and the step's alerts are queued with the episode.

        :returns: the episode after the step (``None`` when there is none) and
            the alerts queued.
        :raises StoreError: ``"comparison 7 not found"``; the plan resolves an
            episode that is not open.
        """
        with self._transaction(f"record the episode step of monitor '{monitor}'", write=True):
            row = self._one(_OPEN, [monitor, kind])
            current = None if row is None else _episode_record(row)
            step = plan(current)
            if step.status is None:
                return current, []
            self._comparison_row(comparison_id)
            episode_id = self._write_step(monitor, dataset, comparison_id, current, step, kind)
            alerts = [
                self._enqueue(comparison_id, webhook, payload, key, episode_id, step.event)
                for webhook, payload, key in step.alerts
                if step.event is not None
            ]
            episode = self._one("SELECT * FROM episodes WHERE id = ?", [episode_id])
            assert episode is not None
            return _episode_record(episode), alerts

    def _write_step(
        self, monitor: str, dataset: str, comparison_id: int, current: EpisodeRecord | None, step: EpisodeStep,
        kind: str = "drift",
    ) -> int:
        """Insert or update the episode row for ``step``; returns its id."""
        now, columns = self._now(), _to_json(step.columns, "the drifted columns")
        if current is None:
            if step.status != "open":
                raise StoreError(f"monitor '{monitor}' has no open episode to resolve")
            episode_id = self._insert("episodes", {
                "key": step.key, "monitor": monitor, "dataset": dataset, "status": "open",
                "opened_at": now, "severity": step.severity, "columns": columns, "runs": 1,
                "last_comparison_id": comparison_id, "kind": kind,
            })
        else:
            episode_id = current.id
            self._db.execute(
                "UPDATE episodes SET status = ?, resolved_at = ?, severity = ?, columns = ?, runs = runs + ?, "
                "last_comparison_id = ? WHERE id = ?",
                [step.status, now if step.status == "resolved" else None, step.severity, columns,
                 int(step.status == "open"), comparison_id, episode_id],
            )
        if step.event is not None:
            self._db.execute(
                "UPDATE episodes SET notified_at = ?, notified_severity = ?, notified_columns = ? WHERE id = ?",
                [now, step.severity, columns, episode_id],
            )
        return episode_id
