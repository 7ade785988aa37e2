"""Backfill: snapshot (and compare) every complete window of a time range.

:func:`backfill` takes, for windowed monitor ``M`` and the range ``[start,
end)``, one snapshot per complete window that meets the range (see
:mod:`monitor.service.windows`; the first and last windows are cut to the
range), reading the dataset's files once (:mod:`monitor.service.windowed`).
Then, in window order, each new snapshot is completed and compared with the
monitor's baseline by the code path of a run
(:func:`~monitor.service.runner.compare_with_baseline`): the comparison is
recorded and its report written, as is the snapshot's profile page
(:mod:`monitor.service.profile_page`). A backfill queues no alerts: its windows are
history, and the monitor's drift episodes follow its scheduled runs. Once every
window is compared, the monitor's retention is applied
(:mod:`monitor.service.retention`).

It is idempotent: a window that already has a completed snapshot of the monitor
is skipped, unless ``force``; then that snapshot is retaken in place
(:meth:`~monitor.store.Store.reopen_snapshot`: its comparison as target is
replaced; comparisons that used it as baseline and a pin on it are kept). A
failed snapshot of a window is replaced. A window that cannot be profiled fails
its snapshot with the reason and the backfill goes on.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from monitor.config import Config
from monitor.errors import ConfigError, MonitorError, SourceError, StoreError
from monitor.profile.dask_engine import DaskSession
from monitor.service import runner
from monitor.service.engines import check_engine, dask_settings
from monitor.service.sampling import row_sample_for
from monitor.service.windowed import WindowProfile, complete_window_snapshot, copy_folder, profile_windows
from monitor.service.windows import Window, check_claim, monitor_zone, window_name, windows_between
from monitor.store import SnapshotRecord, Store

__all__ = ["WINDOWS_PER_PASS", "BackfillSummary", "WindowOutcome", "backfill"]

log = logging.getLogger(__name__)

WINDOWS_PER_PASS = 366
"""Windows profiled in one pass over the data (a year of days). Each holds a
profile in progress, so this bounds memory; a backfill of more windows reads
the data once per this many (Parquet row groups outside them are skipped)."""


@dataclass
class WindowOutcome:
    """What a backfill did with one window.

    :ivar status: ``"written"`` (snapshot taken), ``"skipped"`` (it had one) or
        ``"failed"`` (the snapshot failed, or the comparison could not be made).
    :ivar rows: rows profiled (written windows).
    :ivar severity: the comparison's severity; ``None`` when there was none
        (the window is the baseline, or it was not written).
    """

    name: str
    window_start: datetime
    window_end: datetime
    status: str
    reason: str | None = None
    rows: int | None = None
    severity: str | None = None
    comparison_id: int | None = None
    report_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, times as ISO 8601 UTC."""
        out = asdict(self)
        out["window_start"], out["window_end"] = self.window_start.isoformat(), self.window_end.isoformat()
        return out


@dataclass
class BackfillSummary:
    """The result of :func:`backfill`.

    :ivar start: the range's start (UTC); ``end`` its end.
    :ivar windows: one outcome per complete window, in time order.
    :ivar not_complete: windows of the range that have not ended ``lag``
        before now; left out.
    :ivar rows_without_time: rows read whose time was missing or unreadable.
    """

    monitor: str
    dataset: str
    start: datetime
    end: datetime
    windows: list[WindowOutcome] = field(default_factory=list)
    not_complete: int = 0
    rows_without_time: int = 0
    pruned: list[Any] = field(default_factory=list)
    """What the monitor's retention removed after the backfill
    (:class:`~monitor.service.retention.Removal` each)."""

    def count(self, status: str) -> int:
        """Windows with outcome ``status``."""
        return sum(1 for w in self.windows if w.status == status)

    @property
    def written(self) -> int:
        """Windows snapshotted."""
        return self.count("written")

    @property
    def skipped(self) -> int:
        """Windows that already had a snapshot."""
        return self.count("skipped")

    @property
    def failed(self) -> int:
        """Windows that failed."""
        return self.count("failed")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "monitor": self.monitor, "dataset": self.dataset,
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "written": self.written, "skipped": self.skipped, "failed": self.failed,
            "not_complete": self.not_complete, "rows_without_time": self.rows_without_time,
            "windows": [w.to_dict() for w in self.windows],
            "pruned": [r.to_dict() for r in self.pruned],
        }


def backfill(
    config: Config,
    name: str,
    store: Store,
    start: datetime,
    end: datetime,
    *,
    force: bool = False,
    jobs: int = 1,
    now: datetime | None = None,
    on_file: Callable[[int, int], None] | None = None,
    on_window: Callable[[WindowOutcome], None] | None = None,
    engine: str | None = None,
    scheduler: str | None = None,
) -> BackfillSummary:
    """Snapshot and compare every complete window of monitor ``name`` in ``[start, end)``.

    Running snapshots of processes that are gone are failed first (as
    ``snapshot create`` does).

    :param start: timezone-aware; ``end`` likewise, after it.
    :param force: retake windows that already have a completed snapshot.
    :param jobs: worker processes reading the files (see
        :func:`~monitor.service.windowed.profile_windows`); the comparisons
        run in this process, in window order.
    :param now: the time windows must have ended ``lag`` before (default: now).
    :param on_file: called with (files read, files) while the data is read.
    :param on_window: called with each window's outcome, in window order.
    :param engine: ``local`` or ``dask`` over the monitor's ``engine``: with
        ``dask`` the files are read on the monitor's Dask cluster (a unit per
        file; see :func:`~monitor.service.windowed.profile_windows`) and
        ``jobs`` is not used.
    :param scheduler: a Dask scheduler address over the monitor's ``dask.scheduler``.
    :raises ConfigError: ``name`` is not a monitor, has no ``window``, the
        range ends before it starts, or the engine is dask for a monitor that
        keeps data copies (see :func:`~monitor.service.engines.dask_settings`).
    :raises SourceError: when the Dask cluster cannot be reached.
    :raises StoreError: when the store cannot be read or written.
    """
    mon = config.monitors.get(name)
    if mon is None:
        raise ConfigError([f"monitors.{name}: no such monitor"])
    if mon.window is None:
        raise ConfigError([f"monitors.{name}.window: backfill needs a windowed monitor (window: {{size: 1d}})"])
    dask = dask_settings(mon, engine, scheduler)
    check_engine(dask, data_copy=mon.data_copy)
    zone = monitor_zone(mon)
    try:
        every = windows_between(start, end, mon.window, zone)
    except ValueError as exc:
        raise ConfigError([f"backfill: {exc}"]) from None
    cutoff = (now or runner.utcnow()) - mon.window.lag_delta
    complete = [w for w in every if w.end <= cutoff]
    summary = BackfillSummary(name, mon.dataset, every[0].start, every[-1].end, not_complete=len(every) - len(complete))
    store.recover_interrupted()
    existing = {s.name: s for s in store.list_snapshots(mon.dataset)}
    todo: list[tuple[Window, str, SnapshotRecord | None]] = []
    outcomes: dict[str, WindowOutcome] = {}
    for window in complete:
        snap_name = window_name(name, window, zone)
        outcome, old = _plan(existing.get(snap_name), snap_name, name, window, force)
        if outcome is not None:
            outcomes[snap_name] = outcome
        else:
            todo.append((window, snap_name, old))
    ds = config.datasets[mon.dataset]
    version = runner.register(store, mon.dataset, ds)
    chunks = [todo[i:i + WINDOWS_PER_PASS] for i in range(0, len(todo), WINDOWS_PER_PASS)] or [[]]
    pending = deque(complete)  # in time order; each told once its chunk is written
    with contextlib.ExitStack() as stack:  # one Dask session for every chunk
        session = stack.enter_context(DaskSession(dask)) if dask is not None and todo else None
        for k, chunk in enumerate(chunks):
            _backfill_chunk(config, name, store, version, summary, chunk, k == len(chunks) - 1, pending, outcomes,
                            on_file=on_file, on_window=on_window, jobs=jobs, session=session)
    log.info("backfill of %s: %d written, %d skipped, %d failed", name, summary.written, summary.skipped,
             summary.failed)
    if summary.written and store.list_comparisons(monitor=name, limit=1):  # a baseline-only monitor has no history
        from monitor.service.history import refresh_history

        refresh_history(store, config.reports_dir, name)  # once, after every window is compared
    if summary.written:
        from monitor.service.retention import after_run

        summary.pruned = after_run(store, config, name)  # after the comparisons, which needed the baselines
    return summary


def _backfill_chunk(
    config: Config, name: str, store: Store, version: int, summary: BackfillSummary,
    chunk: list[tuple[Window, str, SnapshotRecord | None]], last: bool, pending: deque[Window],
    outcomes: dict[str, WindowOutcome], *, on_file: Callable[[int, int], None] | None,
    on_window: Callable[[WindowOutcome], None] | None, jobs: int, session: DaskSession | None,
) -> None:
    """Profile one chunk of windows in one pass, then write and compare each
    window of ``pending`` up to the chunk's last (every one when ``last``), in
    time order, reporting each outcome (the skipped windows' too)."""
    mon = config.monitors[name]
    zone = monitor_zone(mon)
    with copy_folder(store, mon.data_copy) as folder:
        result = profile_windows(config.datasets[mon.dataset], [w for w, _, _ in chunk], copy_dir=folder,
                                 on_file=on_file, jobs=jobs, dask=session,
                                 row_sample=row_sample_for(config, mon.dataset))
        summary.rows_without_time += result.rows_without_time
        taken = {snap_name: (old, profiled) for (_, snap_name, old), profiled in zip(chunk, result.windows)}
        while pending and (last or pending[0].start <= chunk[-1][0].start):
            snap_name = window_name(name, pending.popleft(), zone)
            if snap_name not in outcomes:
                old, profiled = taken[snap_name]
                outcomes[snap_name] = _write(config, name, store, version, snap_name, old, profiled,
                                             result.fingerprint)
            summary.windows.append(outcomes[snap_name])
            if on_window is not None:
                on_window(outcomes[snap_name])


def _plan(old: SnapshotRecord | None, snap_name: str, monitor: str, window: Window,
          force: bool) -> tuple[WindowOutcome | None, SnapshotRecord | None]:
    """What to do with a window: an outcome when it is not taken, else the
    snapshot it replaces (``None``: a new one)."""
    if old is None:
        return None, None
    try:
        check_claim(old, monitor, window)
    except StoreError as exc:
        return WindowOutcome(snap_name, window.start, window.end, "failed", str(exc)), None
    if old.status == "running":
        return WindowOutcome(snap_name, window.start, window.end, "skipped",
                             "being taken by another process"), None
    if old.status == "completed" and not force:
        return WindowOutcome(snap_name, window.start, window.end, "skipped", "already taken",
                             rows=old.row_count), None
    return None, old


def _write(config: Config, name: str, store: Store, version: int, snap_name: str, old: SnapshotRecord | None,
           profiled: WindowProfile, digest: str) -> WindowOutcome:
    """Record one profiled window's snapshot (``digest``: its input fingerprint,
    of the dataset's ``fingerprint`` kind) and compare it with the baseline."""
    mon = config.monitors[name]
    window = profiled.window
    outcome = WindowOutcome(snap_name, window.start, window.end, "failed")
    try:  # another process may have taken or changed the window meanwhile
        if old is not None and old.status == "failed":
            store.delete_snapshot(mon.dataset, snap_name)
            old = None
        if old is None:
            snap = store.begin_snapshot(mon.dataset, snap_name, monitor=name, dataset_version=version,
                                        window_start=window.start, window_end=window.end)
        else:
            snap = store.reopen_snapshot(old.id)
    except StoreError as exc:
        outcome.reason = str(exc)
        return outcome
    try:
        target = complete_window_snapshot(store, snap, profiled, digest, config.datasets[mon.dataset].fingerprint)
    except (SourceError, StoreError) as exc:
        store.fail_snapshot(snap.id, str(exc))
        outcome.reason = str(exc)
        log.warning("backfill of %s: window %s failed: %s", name, window, exc)
        return outcome
    except BaseException as exc:
        store.fail_snapshot(snap.id, runner.failure_reason(mon.dataset, exc))
        raise
    outcome.rows = target.row_count
    from monitor.service.profile_page import refresh_profile_page

    refresh_profile_page(store, config.reports_dir, target)  # logged, never fails the window
    try:
        run = runner.compare_with_baseline(config, name, store, target, alert=False)
    except MonitorError as exc:
        outcome.reason = f"snapshot taken, but not compared: {exc}"
        return outcome
    outcome.status, outcome.reason = "written", run.reason
    outcome.severity = run.severity if run.comparison_id is not None else None
    outcome.comparison_id, outcome.report_path = run.comparison_id, run.report_path
    return outcome
