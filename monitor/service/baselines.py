"""What a monitor's run compares with: its baseline, and the snapshots that are
some monitor's baseline and so are not deleted by accident.

A baseline is one or more completed snapshots (:class:`Baseline`), chosen by
the monitor's ``baseline`` setting unless one was pinned with ``baseline set``:

==================  ==========================================================
``first``           the dataset's first completed snapshot (any monitor's)
``previous``        this monitor's previous completed snapshot
snapshot name       that snapshot of the monitor's dataset
``{dataset: D}``    the latest completed snapshot of dataset ``D``
``{offset: 7d}``    this monitor's latest completed snapshot at least 7 days
                    older than the target
``{trailing: N}``   the merge of this monitor's last ``N`` completed snapshots
                    before the target (fewer when it has fewer)
``{version: K}``    the latest completed snapshot of version ``K`` of the
                    monitor's dataset (any monitor's, or ``snapshot create``)
==================  ==========================================================

"This monitor's" snapshots are those its runs took (the store's ``monitor``
column) of its current dataset, so several monitors on one dataset never
compare with each other's snapshots. They are ordered by
:func:`snapshot_time`, then by when they were taken and their id; "before the
target" means earlier in that order.

A ``trailing`` baseline is the merge of the snapshots' profiles
(:meth:`monitor.profile.DatasetProfile.merge`): counts, missing values,
moments, minimum and maximum are those of the snapshots' rows put together,
exactly; quantiles and distinct counts are within the error of their sketches
(see ``docs/profile.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from monitor.config import (
    BaselineDataset,
    BaselineOffset,
    BaselineTrailing,
    BaselineVersion,
    Config,
    MonitorConfig,
)
from monitor.errors import MonitorError, StoreError
from monitor.profile import DatasetProfile, profile_from_records
from monitor.store import SnapshotRecord, Store

log = logging.getLogger(__name__)

BaselineKind = Literal["pinned", "first", "previous", "snapshot", "dataset", "offset", "trailing", "version"]

__all__ = [
    "Baseline", "BaselineKind", "baseline_profile", "baseline_uses", "compare_with", "configured_form",
    "delete_snapshot", "monitor_history", "order_key", "resolve", "snapshot_profile", "snapshot_time",
]


def snapshot_time(record: SnapshotRecord) -> datetime:
    """The time a snapshot stands for: the start of its data window when it has
    one (a ``window_start`` attribute that is not ``None``: a datetime, or ISO
    8601 text; naive means UTC), else when it was taken (``created_at``).

    :returns: a timezone-aware UTC datetime.
    """
    start: Any = getattr(record, "window_start", None)
    if start is None:
        return record.created_at
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    if not isinstance(start, datetime):
        raise TypeError(f"snapshot {record.name!r}: window_start {start!r} is not a time")
    return start.replace(tzinfo=timezone.utc) if start.tzinfo is None else start.astimezone(timezone.utc)


def order_key(record: SnapshotRecord) -> tuple[datetime, datetime, int]:
    """The order of snapshots in a monitor's history: ``(snapshot_time,
    created_at, id)``, oldest first."""
    return snapshot_time(record), record.created_at, record.id


def configured_form(choice: Any) -> Any:
    """A monitor's ``baseline`` setting as JSON: the string (``"first"``,
    ``"previous"``, a snapshot name) or the mapping (``{"trailing": 4}``)."""
    if isinstance(choice, str):
        return choice
    return choice.model_dump(mode="json")


@dataclass(frozen=True)
class Baseline:
    """The baseline of one run: its kind and the snapshots it is made of.

    :ivar kind: ``pinned`` (``baseline set`` wins over the configuration),
        ``first``, ``previous``, ``snapshot`` (a configured name), ``dataset``,
        ``offset``, ``trailing`` or ``version``.
    :ivar snapshots: completed snapshots, oldest first; empty when there is no
        baseline yet (the target is the first, or nothing is old enough).
    :ivar configured: the monitor's ``baseline`` setting (:func:`configured_form`).
    :ivar requested: how many snapshots the kind asks for (``N`` of
        ``trailing``, else 1).
    :ivar note: why there are fewer snapshots than requested, or none.
    """

    kind: BaselineKind
    snapshots: tuple[SnapshotRecord, ...]
    configured: Any
    requested: int = 1
    note: str | None = None

    @property
    def empty(self) -> bool:
        """True when there is no baseline snapshot (nothing to compare with)."""
        return not self.snapshots

    @property
    def newest(self) -> SnapshotRecord:
        """The newest snapshot (the comparison row points at it).

        :raises ValueError: when the baseline is empty.
        """
        if not self.snapshots:
            raise ValueError(f"the {self.kind} baseline has no snapshot")
        return self.snapshots[-1]

    @property
    def names(self) -> list[str]:
        """The snapshot names, oldest first."""
        return [s.name for s in self.snapshots]

    def spec(self) -> dict[str, Any]:
        """What is recorded with the comparison (``baseline_spec``): ``kind``,
        ``configured``, ``dataset`` (of the snapshots; ``None`` when empty),
        ``snapshots`` (names, oldest first), ``snapshot_ids``, ``requested``,
        ``note``."""
        return {
            "kind": self.kind, "configured": self.configured,
            "dataset": self.snapshots[-1].dataset if self.snapshots else None,
            "snapshots": self.names, "snapshot_ids": [s.id for s in self.snapshots],
            "requested": self.requested, "note": self.note,
        }

    def describe(self) -> str:
        """One line saying what the baseline is, for reports and logs, e.g.
        ``"merge of this monitor's last 4 snapshots"``."""
        count = len(self.snapshots)
        text = {
            "pinned": "pinned with 'baseline set'",
            "first": "the dataset's first snapshot",
            "previous": "this monitor's previous snapshot",
            "snapshot": "the configured snapshot",
            "dataset": f"the latest snapshot of dataset {self.snapshots[-1].dataset if count else '?'}",
            "offset": f"this monitor's latest snapshot {_setting(self.configured, 'offset')} or more "
                      "older than the target",
            "trailing": f"merge of this monitor's last {count} snapshot{'s' if count != 1 else ''}",
            "version": f"the latest snapshot of dataset version {_setting(self.configured, 'version')}",
        }[self.kind]
        return f"{text} ({self.note})" if self.note and count else text


def _setting(configured: Any, key: str) -> Any:
    return configured.get(key) if isinstance(configured, dict) else configured


def monitor_history(store: Store, dataset: str, monitor: str, target: SnapshotRecord) -> list[SnapshotRecord]:
    """The completed snapshots ``monitor``'s runs took of ``dataset`` before
    ``target`` (:func:`order_key`), oldest first; never ``target`` itself.

    :raises StoreError: when the store cannot be read.
    """
    key = order_key(target)
    snaps = store.list_snapshots(dataset, status="completed", monitor=monitor)
    return sorted((s for s in snaps if s.id != target.id and order_key(s) < key), key=order_key)


def resolve(
    store: Store, config: Config, name: str, target: SnapshotRecord, *,
    other_dataset: Callable[[str], SnapshotRecord],
) -> Baseline:
    """The baseline of a run of monitor ``name`` whose snapshot is ``target``.

    :param other_dataset: gives the baseline snapshot of ``{dataset: D}`` (the
        runner takes one when ``D`` has none yet).
    :returns: a :class:`Baseline`; empty when the target is the monitor's
        first snapshot, or (``offset``) no snapshot is old enough yet.
    :raises StoreError: a configured snapshot name does not exist; ``{version:
        K}`` names a version the dataset does not have, or one without a
        completed snapshot (while the target is of another version).
    """
    mon = config.monitors[name]
    configured = configured_form(mon.baseline)
    pinned = store.get_pinned_baseline(name)
    if pinned is not None:
        return Baseline("pinned", (pinned,), configured)
    choice = mon.baseline
    if isinstance(choice, BaselineDataset):
        return Baseline("dataset", (other_dataset(choice.dataset),), configured)
    if isinstance(choice, BaselineOffset):
        return _offset(store, mon, name, target, choice)
    if isinstance(choice, BaselineTrailing):
        return _trailing(store, mon, name, target, choice)
    if isinstance(choice, BaselineVersion):
        return _version(store, mon, name, target, choice)
    if choice == "first":
        first = store.first_snapshot(mon.dataset)
        return Baseline("first", () if first is None or first.id == target.id else (first,), configured)
    if choice == "previous":
        return Baseline("previous", tuple(monitor_history(store, mon.dataset, name, target)[-1:]), configured)
    return Baseline("snapshot", (store.get_snapshot(mon.dataset, choice),), configured)


def _offset(store: Store, mon: MonitorConfig, name: str, target: SnapshotRecord, choice: BaselineOffset) -> Baseline:
    cutoff = snapshot_time(target) - choice.delta
    older = [s for s in monitor_history(store, mon.dataset, name, target) if snapshot_time(s) <= cutoff]
    if older:
        return Baseline("offset", (older[-1],), configured_form(choice))
    note = (f"no baseline yet: monitor {name!r} has no completed snapshot {choice.offset} or more "
            f"older than {target.name} ({cutoff.isoformat(timespec='seconds')} or before)")
    return Baseline("offset", (), configured_form(choice), note=note)


def _trailing(store: Store, mon: MonitorConfig, name: str, target: SnapshotRecord,
              choice: BaselineTrailing) -> Baseline:
    chosen = tuple(monitor_history(store, mon.dataset, name, target)[-choice.trailing:])
    note = None
    if 0 < len(chosen) < choice.trailing:
        note = f"{len(chosen)} of {choice.trailing}: monitor {name!r} has no more snapshots before {target.name}"
        log.info("monitor %s: trailing baseline of %s: %s", name, target.name, note)
    return Baseline("trailing", chosen, configured_form(choice), requested=choice.trailing, note=note)


def _version(store: Store, mon: MonitorConfig, name: str, target: SnapshotRecord, choice: BaselineVersion) -> Baseline:
    store.get_dataset(mon.dataset, choice.version)  # "dataset 'x' has no version K"
    key = order_key(target)
    snaps = [s for s in store.list_snapshots(mon.dataset, status="completed")
             if s.dataset_version == choice.version and s.id != target.id and order_key(s) < key]
    if snaps:
        return Baseline("version", (max(snaps, key=order_key),), configured_form(choice))
    if target.dataset_version == choice.version:  # the first snapshot of that version
        return Baseline("version", (), configured_form(choice))
    raise StoreError(
        f"monitor {name!r}: baseline {{version: {choice.version}}}: dataset {mon.dataset!r} version "
        f"{choice.version} has no completed snapshot"
    )


# --------------------------------------------------------------------------- profiles


def snapshot_profile(store: Store, snap: SnapshotRecord) -> DatasetProfile:
    """The stored profile of a completed snapshot.

    :raises StoreError: when the snapshot is not completed or its profile is unreadable.
    """
    meta, columns = store.load_profile(snap.id)
    try:
        return profile_from_records(meta, columns)
    except (ValueError, KeyError) as exc:
        raise StoreError(f"snapshot {snap.name!r}: unreadable profile: {exc}") from exc


def baseline_profile(store: Store, baseline: Baseline) -> DatasetProfile:
    """The profile a run compares with: the one snapshot's, or the merge of the
    snapshots' profiles, oldest first (:meth:`DatasetProfile.merge`; a column
    missing from a snapshot counts that snapshot's rows as missing).

    :raises ValueError: when the baseline is empty.
    :raises StoreError: when a profile cannot be loaded.
    :raises MonitorError: when a column's kinds cannot be merged (e.g. integer
        in one snapshot, string in another); the message names the snapshots.
    """
    if baseline.empty:
        raise ValueError(f"the {baseline.kind} baseline has no snapshot")
    merged = snapshot_profile(store, baseline.snapshots[0])
    for snap in baseline.snapshots[1:]:
        try:
            merged = merged.merge(snapshot_profile(store, snap))
        except ValueError as exc:
            raise MonitorError(
                f"cannot merge the {baseline.kind} baseline ({', '.join(baseline.names)}) of dataset "
                f"{snap.dataset!r}: {exc}"
            ) from exc
    return merged


def compare_with(store: Store, baseline: Baseline, target: SnapshotRecord, settings: Any) -> Any:
    """Compare ``target``'s profile with the baseline's (:func:`baseline_profile`).

    :param settings: a :class:`monitor.drift.DriftSettings`.
    :returns: a :class:`monitor.drift.DatasetDrift`.
    :raises StoreError, MonitorError: as :func:`baseline_profile`.
    """
    from monitor.drift import compare_profiles

    return compare_profiles(baseline_profile(store, baseline), snapshot_profile(store, target), settings)


# --------------------------------------------------------------------------- protection


def baseline_uses(store: Store, config: Config | None, snapshot: SnapshotRecord) -> list[str]:
    """Why ``snapshot`` must not be deleted: one phrase per monitor using it as
    its baseline, e.g. ``"monitor 'daily' (pinned with 'baseline set')"``.

    A snapshot is in use when a monitor pinned it, when a monitor of its dataset
    names it as ``baseline``, or when it is the first completed snapshot of the
    dataset of a monitor with ``baseline: first``. Baselines that move with
    each run (``previous``, ``offset``, ``trailing``, ...) protect nothing.

    :param config: the configuration; ``None`` checks pins only.
    """
    uses = [f"monitor {m!r} (pinned with 'baseline set')" for m in store.pinned_by(snapshot.id)]
    first: SnapshotRecord | None = None
    for name, mon in sorted(config.monitors.items()) if config is not None else []:
        if mon.dataset != snapshot.dataset or not isinstance(mon.baseline, str):
            continue
        if mon.baseline == "first":
            first = first or store.first_snapshot(snapshot.dataset)
            if first is not None and first.id == snapshot.id:
                uses.append(f"monitor {name!r} (baseline: first)")
        elif mon.baseline != "previous" and mon.baseline == snapshot.name:
            uses.append(f"monitor {name!r} (baseline: {snapshot.name})")
    return uses


def delete_snapshot(store: Store, config: Config | None, dataset: str, name: str, *,
                    force: bool = False) -> SnapshotRecord:
    """Delete a snapshot (:meth:`Store.delete_snapshot`) unless it is some
    monitor's baseline (:func:`baseline_uses`); ``force`` deletes it anyway.

    After a forced deletion a pin on it is gone (the monitor uses its configured
    baseline again), ``first`` moves to the next snapshot and a configured name
    fails that monitor's runs until the configuration changes.

    :returns: the deleted snapshot.
    :raises StoreError: ``"snapshot 's' of dataset 'd' is the baseline of
        monitor 'm' (baseline: first); ..."`` when in use and not ``force``; the
        snapshot does not exist.
    """
    snap = store.get_snapshot(dataset, name)
    uses = baseline_uses(store, config, snap)
    if uses and not force:
        raise StoreError(
            f"snapshot {name!r} of dataset {dataset!r} is the baseline of {', '.join(uses)}; "
            "delete it with --force (force=True) to do so anyway"
        )
    if uses:
        log.warning("deleting snapshot %s of dataset %s, the baseline of %s", name, dataset, ", ".join(uses))
    return store.delete_snapshot(dataset, name)
