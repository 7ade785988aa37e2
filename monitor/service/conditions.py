"""Conditions on a monitor's data besides drift: stale data and an unusual volume.

A monitor's ``expect`` setting (:class:`~monitor.config.ExpectConfig`) names
what it expects of each run's snapshot (the target); a run that falls short has
a *condition*:

* ``data.stale``: the target is an empty window (a windowed monitor whose
  newest complete window has no rows; every windowed monitor checks this), or
  the dataset's input fingerprint (the resolved path, size and modification
  time of every file, recorded with each snapshot) is the one the monitor's
  earlier snapshots had for longer than ``new_data_within``: the span runs from
  the oldest snapshot of the unbroken run of snapshots of this monitor with the
  target's fingerprint to the target, both by the time they were taken.
* ``volume``: the target has fewer rows than ``rows.min``, or
  ``|rows - baseline rows| / baseline rows`` is above ``rows.relative_change``,
  the baseline rows being the mean row count of the run's baseline snapshots
  (one, or the ``N`` of a ``trailing`` baseline). A baseline of no rows gives no
  relative change.

Conditions are judged when a run is compared (a run that only establishes the
baseline has none). Each kind has its own episodes, kept by the same rules as
drift episodes (:mod:`monitor.service.episodes`; the monitor's ``alert``
settings apply): ``<kind>.detected`` when a run first has the condition,
``<kind>.repeated`` after ``alert.repeat_interval``, ``<kind>.resolved`` on the
first run without it. A monitor only keeps episodes of the kinds it checks
(:func:`checked_kinds`), so a monitor without ``expect`` and ``window`` only
has drift episodes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from monitor.config import Config, MonitorConfig
from monitor.service.episodes import RunFinding, decide
from monitor.service.payload import build_payload, message_id_for

if TYPE_CHECKING:
    from monitor.store import AlertRecord, EpisodeRecord, EpisodeStep, SnapshotRecord, Store

__all__ = ["CONDITION_KINDS", "Condition", "checked_kinds", "evaluate", "record_conditions", "stale", "volume"]

CONDITION_KINDS = ("data.stale", "volume")
"""The condition kinds, in the order a report lists them."""

CONDITION_SEVERITY = "warning"
"""The severity a condition episode records (conditions have no grades)."""


@dataclass(frozen=True)
class Condition:
    """One condition a run has.

    :ivar kind: one of :data:`CONDITION_KINDS`.
    :ivar detail: what was found, in words (the numbers and the expectation).
    """

    kind: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        """``{"kind", "detail"}``, as the comparison result and the payload carry it."""
        return {"kind": self.kind, "detail": self.detail}


def checked_kinds(mon: MonitorConfig) -> tuple[str, ...]:
    """The condition kinds monitor ``mon`` checks: ``data.stale`` when it is
    windowed or sets ``expect.new_data_within``; ``volume`` when it sets
    ``expect.rows.min`` or ``expect.rows.relative_change``."""
    rows = mon.expect.rows
    kinds = []
    if mon.window is not None or mon.expect.new_data_within is not None:
        kinds.append("data.stale")
    if rows.min is not None or rows.relative_change is not None:
        kinds.append("volume")
    return tuple(kinds)


def evaluate(
    store: Store, mon: MonitorConfig, name: str, target: SnapshotRecord, baseline: Sequence[SnapshotRecord]
) -> list[Condition]:
    """The conditions run ``target`` of monitor ``name`` has, in :data:`CONDITION_KINDS` order.

    :param baseline: the run's baseline snapshots (several for ``trailing``).
    :raises StoreError: when the monitor's snapshots cannot be read.
    """
    found = [stale(store, mon, name, target), volume(mon, target, baseline)]
    return [c for c in found if c is not None]


def stale(store: Store, mon: MonitorConfig, name: str, target: SnapshotRecord) -> Condition | None:
    """The ``data.stale`` condition of ``target``, or ``None`` (see the module docstring)."""
    if target.window_start is not None and target.row_count == 0:
        return Condition("data.stale", f"the window {target.window_start.isoformat()} to "
                                       f"{_iso(target.window_end)} has no rows")
    within, limit = mon.expect.new_data_within, mon.expect.stale_after
    if within is None or limit is None or not target.fingerprint:
        return None
    earlier = [s for s in store.list_snapshots(target.dataset, status="completed", monitor=name)
               if (s.created_at, s.id) < (target.created_at, target.id)]
    since = target.created_at
    for snap in reversed(earlier):
        if snap.fingerprint != target.fingerprint:
            break
        since = snap.created_at
    unchanged = target.created_at - since
    if unchanged <= limit:
        return None
    return Condition("data.stale", f"the input files have not changed since {since.isoformat(timespec='seconds')} "
                                   f"({_hours(unchanged)}; expected new data within {within})")


def volume(mon: MonitorConfig, target: SnapshotRecord, baseline: Sequence[SnapshotRecord]) -> Condition | None:
    """The ``volume`` condition of ``target``, or ``None`` (see the module docstring)."""
    rows, expect = target.row_count, mon.expect.rows
    if rows is None:
        return None
    if expect.min is not None and rows < expect.min:
        return Condition("volume", f"{rows} rows, fewer than the {expect.min} expected")
    counts = [s.row_count for s in baseline if s.row_count is not None]
    if expect.relative_change is None or not counts:
        return None
    usual = sum(counts) / len(counts)
    if usual <= 0:
        return None
    change = abs(rows - usual) / usual
    if change <= expect.relative_change:
        return None
    return Condition("volume", f"{rows} rows against {usual:g} in the baseline: a change of {change:.0%}, "
                               f"more than the {expect.relative_change:.0%} allowed")


def record_conditions(
    store: Store, config: Config, finding: RunFinding, conditions: Sequence[Condition], *, now: datetime | None = None,
) -> list[AlertRecord]:
    """Apply a compared run's conditions to the monitor's condition episodes and
    queue the events they send (one alert per webhook, in the same transaction
    as the episode's new state, as for drift).

    :param conditions: :func:`evaluate` of the run.
    :returns: the alerts queued, of every kind.
    :raises StoreError: when the store cannot be read or written.
    """
    mon = config.monitors[finding.monitor]
    webhooks = [w for w in dict.fromkeys(mon.webhooks) if w in config.webhooks]
    by_kind = {c.kind: c for c in conditions}
    queued: list[AlertRecord] = []
    for kind in checked_kinds(mon):
        condition = by_kind.get(kind)

        def plan(current: EpisodeRecord | None, kind: str = kind, condition: Condition | None = condition
                 ) -> EpisodeStep:
            return _plan(current, kind, condition, finding, mon, webhooks, now or datetime.now(timezone.utc))

        _, alerts = store.step_episode(finding.monitor, finding.dataset, finding.comparison_id, plan, kind=kind)
        queued.extend(alerts)
    return queued


def _plan(
    current: EpisodeRecord | None, kind: str, condition: Condition | None, finding: RunFinding,
    mon: MonitorConfig, webhooks: Sequence[str], now: datetime,
) -> EpisodeStep:
    from monitor.store import EpisodeStep

    status, event = decide(current, condition is not None, CONDITION_SEVERITY, mon.alert, now, kind=kind)
    key = current.key if current is not None else uuid.uuid4().hex
    if event is None or status is None:
        return EpisodeStep(status, key, CONDITION_SEVERITY, [])
    detail: dict[str, Any] = condition.to_dict() if condition is not None else {
        "kind": kind, "detail": "the condition no longer holds"}
    message_id = message_id_for(key, event, finding.comparison_id)
    payload = build_payload(
        event=event, episode_id=key, episode_started_at=current.opened_at if current is not None else now,
        dataset=finding.dataset, monitor=finding.monitor, baseline=finding.baseline, target=finding.target,
        baseline_kind=finding.baseline_kind, baseline_snapshots=finding.baseline_snapshots or None,
        verdict=finding.verdict, columns=finding.columns, changes=None, report_path=finding.report_path,
        report_url=finding.report_url, created_at=finding.created_at, message_id=message_id, condition=detail,
    )
    alerts = tuple((name, payload, message_id) for name in webhooks)
    return EpisodeStep(status, key, CONDITION_SEVERITY, [], event, alerts)


def _iso(moment: datetime | None) -> str:
    return "?" if moment is None else moment.isoformat()


def _hours(span: Any) -> str:
    """A span as ``"26.0 h"``."""
    return f"{span.total_seconds() / 3600:.1f} h"
