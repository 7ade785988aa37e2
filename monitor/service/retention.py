"""Retention: which of a monitor's snapshots and data copies are removed.

A monitor with ``retention`` keeps, of the snapshots **its runs took** (the
store's ``monitor`` column; ``snapshot create`` snapshots belong to no monitor
and are never removed), ordered as baselines order them
(:func:`~monitor.service.baselines.order_key`: by their time, the start of
their data window when they have one, else when they were taken):

``keep_last: N``
    the ``N`` newest completed snapshots, and the failed ones newer than the
    oldest of them; older ones are removed (reason ``keep_last``).
``max_age: 90d``
    the snapshots whose time is within ``max_age`` of now (the store's clock);
    older ones are removed (reason ``max_age``). A backfilled window older than
    ``max_age`` is removed right after its backfill.
``data_copies: {keep_last: N, max_age: 7d}``
    the same rules over the snapshots that have a data copy; past them only the
    copy goes (the Parquet file and the snapshot's reference to it), the
    snapshot and its profile stay.

Either rule is enough to remove a snapshot (``keep_last`` is named when both
apply). Never removed, whatever the rules, and their data copies kept
(:func:`protected`):

- a snapshot pinned with ``baseline set`` (any monitor's pin);
- a snapshot a monitor names as its ``baseline``, the dataset's first completed
  snapshot for a monitor with ``baseline: first``, the latest completed
  snapshot of ``{dataset: D}`` and of ``{version: K}``;
- what the next run's moving baseline will need: ``previous``'s newest
  snapshot, ``{trailing: N}``'s newest ``N``, and for ``{offset: 7d}`` the one
  it picks now and every newer one (a later run picks one of them);
- the monitor's newest snapshot, and its newest completed one;
- running snapshots (the store never touches them).

A removed snapshot's comparisons stay (their results, summaries and reports;
:meth:`~monitor.store.Store.prune`), so history pages keep their points. Each
removal is logged at info level (monitor, snapshot, what, why) and counted in
``drift_monitor_pruned_total`` when the daemon's metrics are active.

:func:`apply` runs after each run of a monitor that took a snapshot
(:func:`after_run`, from :func:`~monitor.service.runner.run_monitor`), after a
backfill, and for ``drift-monitor prune`` (``dry_run``: only :func:`plan`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from monitor.config import (
    BaselineDataset,
    BaselineOffset,
    BaselineTrailing,
    BaselineVersion,
    Config,
    DataCopyRetention,
    MonitorConfig,
    RetentionConfig,
)
from monitor.errors import MonitorError
from monitor.service.baselines import order_key, snapshot_time
from monitor.store import SnapshotRecord, Store

__all__ = ["Removal", "after_run", "apply", "plan", "protected"]

log = logging.getLogger(__name__)

Reason = Literal["keep_last", "max_age"]


@dataclass(frozen=True)
class Removal:
    """One thing retention removes (or, in a dry run, would remove).

    :ivar what: ``"snapshot"`` (the snapshot, its profile and data copy) or
        ``"data_copy"`` (only the data copy).
    :ivar reason: the rule that removes it: ``"keep_last"`` or ``"max_age"``.
    :ivar snapshot_time: the snapshot's time (:func:`snapshot_time`), UTC.
    """

    monitor: str
    dataset: str
    snapshot: str
    snapshot_id: int
    what: Literal["snapshot", "data_copy"]
    reason: Reason
    snapshot_time: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, the time as ISO 8601."""
        return {"monitor": self.monitor, "dataset": self.dataset, "snapshot": self.snapshot,
                "snapshot_id": self.snapshot_id, "what": self.what, "reason": self.reason,
                "snapshot_time": self.snapshot_time.isoformat()}


# --------------------------------------------------------------------------- what is kept


def protected(store: Store, config: Config, monitors: Iterable[str] | None = None) -> dict[int, str]:
    """The snapshots no retention removes, by id, each with why (the first
    reason found), e.g. ``{7: "pinned baseline of monitor 'daily'"}``: pins
    and every monitor's configured baselines, and for the given monitors
    (default: all) what their next runs' baselines need and their newest
    snapshots (see the module's list). The latter only concern a monitor's
    own snapshots, so they are left out for the monitors whose snapshots are
    not being pruned.

    :raises StoreError: when the store cannot be read.
    """
    keep: dict[int, str] = {}
    for monitor, snapshot_id in store.pins().items():
        keep.setdefault(snapshot_id, f"pinned baseline of monitor {monitor!r}")
    pruned = set(config.monitors if monitors is None else monitors)
    for name, mon in sorted(config.monitors.items()):
        for snap, why in _configured_needs(store, mon):
            keep.setdefault(snap.id, f"{why} of monitor {name!r}")
        if name not in pruned:
            continue
        own = _own_snapshots(store, name)
        completed = [s for s in own if s.status == "completed"]
        for snap in own[-1:] + completed[-1:]:
            keep.setdefault(snap.id, f"newest snapshot of monitor {name!r}")
        for snap, why in _next_run_needs(mon, completed):
            keep.setdefault(snap.id, f"{why} of monitor {name!r}")
    return keep


def _own_snapshots(store: Store, monitor: str) -> list[SnapshotRecord]:
    """The monitor's snapshots that are not running, oldest first by :func:`order_key`."""
    return sorted((s for s in store.list_snapshots(monitor=monitor) if s.status != "running"), key=order_key)


def _configured_needs(store: Store, mon: MonitorConfig) -> list[tuple[SnapshotRecord, str]]:
    """The snapshots a monitor's configured baseline names whoever took them:
    a snapshot name, ``first``, ``{dataset: D}``, ``{version: K}``."""
    choice = mon.baseline
    if isinstance(choice, BaselineDataset):
        latest = store.latest_snapshot(choice.dataset)
        return [] if latest is None else [(latest, f"baseline {{dataset: {choice.dataset}}}")]
    if isinstance(choice, BaselineVersion):
        versions = [s for s in store.list_snapshots(mon.dataset, status="completed")
                    if s.dataset_version == choice.version]
        return [(max(versions, key=order_key), f"baseline {{version: {choice.version}}}")] if versions else []
    if choice == "first":
        first = store.first_snapshot(mon.dataset)
        return [] if first is None else [(first, "baseline first")]
    if isinstance(choice, str) and choice != "previous":
        return [(s, f"baseline {choice}") for s in store.list_snapshots(mon.dataset) if s.name == choice]
    return []


def _next_run_needs(mon: MonitorConfig, completed: list[SnapshotRecord]) -> list[tuple[SnapshotRecord, str]]:
    """The monitor's own snapshots (``completed``, oldest first) that its next
    runs' moving baseline will need: ``previous``, ``trailing``, ``offset``."""
    choice = mon.baseline
    if isinstance(choice, BaselineTrailing):
        return [(s, f"baseline {{trailing: {choice.trailing}}}") for s in completed[-choice.trailing:]]
    if isinstance(choice, BaselineOffset):
        return [(s, f"baseline {{offset: {choice.offset}}}") for s in _offset_needs(completed, choice.delta)]
    if choice == "previous":
        return [(s, "baseline previous") for s in completed[-1:]]
    return []


def _offset_needs(completed: list[SnapshotRecord], offset: timedelta) -> list[SnapshotRecord]:
    """What ``{offset}`` baselines of the next runs may pick: the newest
    snapshot at least ``offset`` older than the monitor's newest one (a next
    target is newer still), and every snapshot after it."""
    if not completed:
        return []
    cutoff = snapshot_time(completed[-1]) - offset
    older = [i for i, s in enumerate(completed) if snapshot_time(s) <= cutoff]
    return completed[older[-1] if older else 0:]


# --------------------------------------------------------------------------- what goes


def plan(store: Store, config: Config, monitors: Iterable[str] | None = None) -> list[Removal]:
    """What retention removes now from the given monitors (default: every
    configured monitor with ``retention``), by the store's clock; nothing is
    removed.

    :returns: removals in monitor name order, oldest snapshot first; a snapshot
        removed whole is not listed again for its data copy.
    :raises ConfigError: never; a name that is not a configured monitor, or
        one without ``retention``, plans nothing.
    :raises StoreError: when the store cannot be read.
    """
    names = sorted(config.monitors) if monitors is None else sorted(set(monitors))
    names = [n for n in names if n in config.monitors and config.monitors[n].retention is not None]
    if not names:
        return []
    keep = protected(store, config, names)
    now = store.now()
    removals: list[Removal] = []
    for name in names:
        rules = config.monitors[name].retention
        assert rules is not None
        removals += _monitor_plan(name, _own_snapshots(store, name), rules, keep, now)
    return removals


def _monitor_plan(name: str, own: list[SnapshotRecord], rules: RetentionConfig, keep: dict[int, str],
                  now: datetime) -> list[Removal]:
    """The removals of one monitor's snapshots (``own``, oldest first)."""
    out: list[Removal] = []
    gone: set[int] = set()
    for snap, reason in _past(own, rules.keep_last, rules.age_limit, now):
        if snap.id not in keep:
            gone.add(snap.id)
            out.append(Removal(name, snap.dataset, snap.name, snap.id, "snapshot", reason, snapshot_time(snap)))
    copies: DataCopyRetention = rules.data_copies
    with_copy = [s for s in own if s.data_copy and s.id not in gone]
    for snap, reason in _past(with_copy, copies.keep_last, copies.age_limit, now):
        if snap.id not in keep:
            out.append(Removal(name, snap.dataset, snap.name, snap.id, "data_copy", reason, snapshot_time(snap)))
    return sorted(out, key=lambda r: (r.snapshot_time, r.snapshot_id, r.what))


def _past(snaps: list[SnapshotRecord], keep_last: int | None, max_age: timedelta | None,
          now: datetime) -> list[tuple[SnapshotRecord, Reason]]:
    """The snapshots (oldest first) outside the newest ``keep_last`` completed
    ones (a failed one counts by the completed ones newer than it), or older
    than ``max_age``; each with the first rule it breaks."""
    out: list[tuple[SnapshotRecord, Reason]] = []
    newer_completed = 0
    for snap in reversed(snaps):
        if keep_last is not None and newer_completed >= keep_last:
            out.append((snap, "keep_last"))
        elif max_age is not None and now - snapshot_time(snap) > max_age:
            out.append((snap, "max_age"))
        newer_completed += snap.status == "completed"
    return out[::-1]


# --------------------------------------------------------------------------- removing


def apply(store: Store, config: Config, monitors: Iterable[str] | None = None, *,
          dry_run: bool = False) -> list[Removal]:
    """Remove what :func:`plan` lists, in one store transaction
    (:meth:`~monitor.store.Store.prune`; the files after it commits); log and
    count each removal. A snapshot that became running or pinned, or was
    removed by another process, since the plan is left out.

    :param dry_run: only plan: nothing is removed, logged or counted.
    :returns: what was removed (with ``dry_run``: what would be).
    :raises StoreError: when the store cannot be read or written (then
        nothing is removed).
    """
    planned = plan(store, config, monitors)
    if dry_run or not planned:
        return planned
    removed, uncopied = store.prune((r.snapshot_id for r in planned if r.what == "snapshot"),
                                    (r.snapshot_id for r in planned if r.what == "data_copy"))
    done = {("snapshot", s.id) for s in removed} | {("data_copy", s.id) for s in uncopied}
    applied = [r for r in planned if (r.what, r.snapshot_id) in done]
    from monitor.service.metrics import count_pruned

    for r in applied:
        log.info("retention of monitor %s: removed %s %s of dataset %s (%s)", r.monitor,
                 "snapshot" if r.what == "snapshot" else "the data copy of snapshot", r.snapshot, r.dataset,
                 r.reason, extra={"monitor": r.monitor, "snapshot": r.snapshot, "removed": r.what,
                                  "reason": r.reason})
        count_pruned(r.monitor, r.what, r.reason)
    return applied


def after_run(store: Store, config: Config, name: str) -> list[Removal]:
    """:func:`apply` for monitor ``name`` after its run or backfill; a failure is
    logged (the message at error level, the traceback at debug level) and
    gives ``[]``: the run stands, and the next one tries again."""
    if name not in config.monitors or config.monitors[name].retention is None:
        return []
    try:
        return apply(store, config, [name])
    except Exception as exc:  # noqa: BLE001 - retention must not fail a run that completed
        reason = str(exc) if isinstance(exc, MonitorError) else f"{type(exc).__name__}: {exc}"
        log.error("retention of monitor %s failed: %s", name, reason)
        log.debug("retention of monitor %s failed", name, exc_info=exc)
        return []
