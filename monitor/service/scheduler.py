"""When monitors run: one APScheduler 3.x job per monitor, catch-up, skipped runs,
and applying a re-read configuration.

Each job has the stable id ``monitor:<name>``, ``max_instances=1`` (one run at a
time per monitor), ``coalesce=True`` (missed runs collapse into one) and a
misfire grace of half the interval (at most one hour). On start, a monitor whose
last run is older than its schedule (or that never ran) runs at once: the
catch-up is logged. Jobs only queue alerts; a
:class:`~monitor.service.delivery.DeliveryWorker` thread sends them (and the
alerts left pending before a restart), so a slow endpoint delays no job.

A run that does not start is never silent: when the previous run of the monitor
is still going as the next one is due (APScheduler's ``EVENT_JOB_MAX_INSTANCES``)
or a run starts later than its misfire grace (``EVENT_JOB_MISSED``), it is
logged as a warning and counted in ``drift_monitor_skipped_runs_total``.

Cron lines are read in the monitor's ``schedule.timezone`` (an IANA name, UTC by
default), for the trigger and for the catch-up alike.

The jobs of one daemon share a :class:`Runtime`: the configuration in force
(swapped on SIGHUP by :func:`apply_config`), the metrics, the stop event, the
jobs and snapshots in flight. The signal handling and the main loop are in
:mod:`monitor.service.daemon`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config, MonitorConfig, crontab_line, zone_of
from monitor.errors import StoppedError
from monitor.service.logs import monitor_context
from monitor.service.metrics import ServiceMetrics
from monitor.store import SnapshotRecord, Store

log = logging.getLogger(__name__)
DELIVERY_STOP_TIMEOUT = 5.0
"""Seconds shutdown waits for an attempt in flight; its alert is sent again after a restart."""
STOPPED = "stopped"
T = TypeVar("T")
JOB_THREADS = 10


def job_id(name: str) -> str:
    """The stable APScheduler job id of a monitor: ``monitor:<name>``."""
    return f"monitor:{name}"


def trigger_for(mon: MonitorConfig) -> IntervalTrigger | CronTrigger:
    """The APScheduler trigger of a monitor's schedule (a cron line in its ``schedule.timezone``)."""
    interval = mon.schedule.interval
    if interval is not None:
        return IntervalTrigger(seconds=interval.total_seconds(), timezone=timezone.utc)
    assert mon.schedule.cron is not None
    return CronTrigger.from_crontab(crontab_line(mon.schedule.cron), timezone=zone_of(mon.schedule.timezone))


def describe_schedule(mon: MonitorConfig) -> str:
    """The schedule as a log message shows it: ``every 10m`` or ``cron '0 6 * * *' (Europe/Paris)``."""
    if mon.schedule.every:
        return f"every {mon.schedule.every}"
    return f"cron {mon.schedule.cron!r} ({mon.schedule.timezone})"


def misfire_grace(mon: MonitorConfig) -> int:
    """Seconds a late run may still start: half the interval, 1 s to 1 h."""
    interval = mon.schedule.interval or timedelta(hours=1)
    return int(min(max(interval.total_seconds() / 2, 1), 3600))


def is_due(mon: MonitorConfig, last_run: datetime | None, now: datetime) -> bool:
    """True when a monitor missed its schedule while the service was down.

    :param last_run: timezone-aware time of its last run, or None when it never ran.
    :param now: timezone-aware current time.
    """
    if last_run is None:
        return True
    interval = mon.schedule.interval
    if interval is not None:
        return now - last_run >= interval
    trigger = trigger_for(mon)
    # the first fire time strictly after the last run (a run at 06:00:00 is the 06:00 run)
    next_fire = trigger.get_next_fire_time(None, last_run + timedelta(microseconds=1))
    return next_fire is not None and next_fire <= now


class Runtime:
    """What the jobs of one daemon share.

    :ivar config: the configuration in force; a job reads it once when it starts.
    :ivar metrics: the daemon's :class:`ServiceMetrics`.
    :ivar stopping: set when the daemon stops; waits inside jobs wake up and raise
        :class:`StoppedError`, and jobs not started yet do not start.
    :ivar snapshots: running snapshot id -> monitor, for snapshots begun by jobs
        of this process and not yet completed or failed.
    :ivar wake_delivery: called after a run queued alerts (wakes the delivery worker).
    """

    def __init__(self, config: Config, metrics: ServiceMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or ServiceMetrics()
        self.stopping = threading.Event()
        self.snapshots: dict[int, str] = {}
        self.wake_delivery: Callable[[], None] | None = None
        self.last_outcomes: dict[str, str] = {}
        self._scheduled: dict[str, datetime] = {}
        self._active: dict[str, int] = {}
        self._idle = threading.Condition()

    def checked(self, items: Iterable[T]) -> Iterator[T]:
        """``items``, raising :class:`StoppedError` before each one once the daemon stops."""
        for item in items:
            if self.stopping.is_set():
                raise StoppedError(STOPPED)
            yield item

    def note_submitted(self, jid: str, run_time: datetime) -> None:
        """Remember when the run just handed to the thread pool was scheduled."""
        with self._idle:
            self._scheduled[jid] = run_time

    def begin(self, name: str) -> float | None:
        """Count a job as running. :returns: seconds since its scheduled time, if known."""
        with self._idle:
            self._active[name] = self._active.get(name, 0) + 1
            scheduled = self._scheduled.pop(name, None)
        return None if scheduled is None else max(0.0, (datetime.now(timezone.utc) - scheduled).total_seconds())

    def end(self, name: str) -> None:
        """Count a job as finished and wake :meth:`wait_idle`."""
        with self._idle:
            self._active[name] -= 1
            if not self._active[name]:
                del self._active[name]
            self._idle.notify_all()

    def running_jobs(self) -> list[str]:
        """Names of the jobs running now."""
        with self._idle:
            return sorted(self._active)

    def wait_idle(self, deadline: float, give_up: Callable[[], bool] = lambda: False) -> bool:
        """Wait until no job runs, until ``time.monotonic()`` passes ``deadline``, or
        until ``give_up()`` is true. :returns: True when no job runs."""
        with self._idle:
            while self._active and time.monotonic() < deadline and not give_up():
                self._idle.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            return not self._active


class TrackingStore(Store):
    """A :class:`Store` that records, in a :class:`Runtime`, the snapshots its
    job begins and has not finished, so a stopping daemon can fail them."""

    def __init__(self, path: str, runtime: Runtime, monitor: str) -> None:
        super().__init__(path)
        self._runtime = runtime
        self._monitor = monitor

    def begin_snapshot(self, dataset: str, name: str, **kwargs: Any) -> SnapshotRecord:
        """See :meth:`Store.begin_snapshot`; the snapshot is tracked until it ends."""
        snap = super().begin_snapshot(dataset, name, **kwargs)
        self._runtime.snapshots[snap.id] = self._monitor
        return snap

    def write_data_copy(self, dataset: str, name: str, batches: Iterable[pa.RecordBatch],
                        schema: pa.Schema) -> Path:
        """See :meth:`Store.write_data_copy`; gives up between record batches once
        the daemon stops (the temporary file is removed, :class:`StoppedError` raised)."""
        if self._runtime.stopping.is_set():
            raise StoppedError(STOPPED)
        return super().write_data_copy(dataset, name, self._runtime.checked(batches), schema)

    def complete_snapshot(self, snapshot_id: int, **kwargs: Any) -> SnapshotRecord:
        """See :meth:`Store.complete_snapshot`."""
        try:
            return super().complete_snapshot(snapshot_id, **kwargs)
        finally:
            self._runtime.snapshots.pop(snapshot_id, None)

    def fail_snapshot(self, snapshot_id: int, reason: str) -> SnapshotRecord:
        """See :meth:`Store.fail_snapshot`."""
        try:
            return super().fail_snapshot(snapshot_id, reason)
        finally:
            self._runtime.snapshots.pop(snapshot_id, None)


def run_job(runtime: Runtime, name: str) -> None:
    """The scheduled job of monitor ``name``: run it, log the outcome and count it.

    Never raises: a failing run is logged and counted as ``failed``; a run the
    daemon stopped (:class:`StoppedError`) as ``stopped``.
    """
    lateness = runtime.begin(job_id(name))
    try:
        with monitor_context(name):
            if runtime.stopping.is_set():
                log.info("monitor %s: run not started: the service is stopping", name)
                return
            if lateness is not None:
                runtime.metrics.lateness.observe(lateness)
            _run_and_count(runtime, name, lateness)
    finally:
        runtime.end(job_id(name))


def _run_and_count(runtime: Runtime, name: str, lateness: float | None) -> None:
    """Run the monitor and count the run. Any exception of the run (or of opening
    the store) fails this run only: it is logged once at error level with the
    traceback at debug level, and the other monitors' jobs keep their schedule
    (see :func:`~monitor.service.runner.run_isolated`)."""
    from monitor.service.runner import RunResult, failed_run, run_isolated

    config = runtime.config
    started = time.monotonic()
    comparison: dict[str, Any] | None = None
    try:
        with TrackingStore(config.store, runtime, name) as store:
            result = run_isolated(config, name, store, on_queued=runtime.wake_delivery)
            if result.comparison_id is not None:
                comparison = store.get_comparison(result.comparison_id).result
    except StoppedError as exc:
        result = RunResult(name, "stopped", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - a job must not take the daemon down
        result = failed_run(config, name, exc)
    _count_run(runtime, name, result, comparison, time.monotonic() - started, lateness)


def _count_run(runtime: Runtime, name: str, result: Any, comparison: dict[str, Any] | None,
               duration: float, lateness: float | None) -> None:
    target = result.target
    runtime.metrics.observe_run(
        name, result.status, duration, dataset=target.dataset if target else None,
        rows=target.row_count if target and target.status == "completed" else None, finished_at=time.time(),
    )
    if comparison is not None:
        runtime.metrics.observe_comparison(name, comparison)
    runtime.last_outcomes[name] = result.status
    extra = {"monitor": name, "outcome": result.status, "duration_seconds": round(duration, 3),
             "lateness_seconds": None if lateness is None else round(lateness, 3),
             "snapshot": target.name if target else None}
    reason = f" ({result.reason})" if result.reason and result.reason != result.status else ""
    log.info("monitor %s: run %s%s in %.2fs", name, result.status, reason, duration, extra=extra)


class _Executor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler is untyped
    """APScheduler's thread pool, telling the runtime when each run was scheduled."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(JOB_THREADS)
        self._runtime = runtime

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self._runtime.note_submitted(job.id, run_times[-1])
        super()._do_submit_job(job, run_times)


def build_scheduler(config: Config, now: datetime | None = None, runtime: Runtime | None = None) -> BackgroundScheduler:
    """A scheduler with one job per enabled monitor (not started).

    Snapshots a stopped process left ``running`` are failed first.

    :param now: timezone-aware time the catch-up is computed for (default: now).
    :param runtime: shared by the jobs (default: a new one over ``config``).
    :raises StoreError: when the store cannot be opened.
    """
    now = now or datetime.now(timezone.utc)
    runtime = runtime or Runtime(config)
    scheduler = BackgroundScheduler(timezone=timezone.utc, executors={"default": _Executor(runtime)},
                                    job_defaults={"max_instances": 1, "coalesce": True})
    with Store(config.store) as store:
        recovered = store.recover_interrupted()
        if recovered:
            log.warning("recovered %d interrupted snapshot(s) of stopped processes", len(recovered))
        last_runs = {name: store.last_run_at(name) for name in config.monitors}
    for name, mon in sorted(config.monitors.items()):
        if mon.enabled:
            add_monitor_job(scheduler, runtime, name, mon, last_runs[name], now)
    scheduler.add_listener(functools.partial(on_skipped_run, runtime), EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    return scheduler


def add_monitor_job(scheduler: BackgroundScheduler, runtime: Runtime, name: str, mon: MonitorConfig,
                    last_run: datetime | None, now: datetime) -> None:
    """Schedule monitor ``name``; it runs at once when :func:`is_due` (catch-up, logged)."""
    due = is_due(mon, last_run, now)
    if due:
        log.info("monitor %s: last run %s is older than its schedule: running now (catch-up)", name, last_run,
                 extra={"monitor": name})
    scheduler.add_job(
        run_job, trigger_for(mon), args=(runtime, name), id=job_id(name), name=name,
        max_instances=1, coalesce=True, misfire_grace_time=misfire_grace(mon), replace_existing=True,
        **({"next_run_time": now} if due else {}),
    )


def on_skipped_run(runtime: Runtime, event: Any) -> None:
    """Log and count a run that did not start (APScheduler listener)."""
    name = event.job_id.removeprefix("monitor:")
    if event.code == EVENT_JOB_MAX_INSTANCES:
        when, why = event.scheduled_run_times[-1], "the previous run is still going"
    else:
        when, why = event.scheduled_run_time, "it could not start within its misfire grace time"
    if event.job_id == job_id(name):
        runtime.metrics.skipped.labels(name).inc()
    log.warning("%s: run scheduled at %s skipped: %s", f"monitor {name}" if event.job_id == job_id(name) else name,
                when.isoformat(), why, extra={"monitor": name, "scheduled_at": when.isoformat()})


# ----------------------------------------------------------------------- reload


def apply_config(scheduler: BackgroundScheduler, runtime: Runtime, new: Config,
                 now: datetime | None = None) -> list[str]:
    """Make ``new`` the configuration in force: add, remove and reschedule monitor
    jobs; log every change. ``store`` and ``service.http`` only change on restart:
    a change to them is logged and the running values are kept.

    :returns: the changes, one line each (as logged).
    :raises StoreError: when the store cannot be read (nothing changed then).
    """
    now = now or datetime.now(timezone.utc)
    old = runtime.config
    new, changes = _keep_restart_only(old, new)
    before = {n: m for n, m in old.monitors.items() if m.enabled}
    after = {n: m for n, m in new.monitors.items() if m.enabled}
    added = sorted(after.keys() - before.keys())
    with Store(old.store) as store:
        last_runs = {name: store.last_run_at(name) for name in added}
    runtime.config = new
    for name in sorted(before.keys() - after.keys()):
        scheduler.remove_job(job_id(name))
        runtime.metrics.forget_monitor(name)
        changes.append(f"monitor {name} removed")
    for name in added:
        add_monitor_job(scheduler, runtime, name, after[name], last_runs[name], now)
        changes.append(f"monitor {name} added ({describe_schedule(after[name])})")
    for name in sorted(after.keys() & before.keys()):
        changes += _monitor_changes(scheduler, name, before[name], after[name], old, new)
    changes += _section_changes("dataset", old.datasets, new.datasets)
    changes += _section_changes("webhook", old.webhooks, new.webhooks)
    for line in changes:
        log.info("reload: %s", line)
    return changes


def _keep_restart_only(old: Config, new: Config) -> tuple[Config, list[str]]:
    changes = []
    if new.store != old.store:
        changes.append(f"store changed to {new.store}: takes effect on restart; still using {old.store}")
    if new.service.http != old.service.http:
        changes.append(f"service.http changed to {new.service.http}: takes effect on restart")
    service = new.service.model_copy(update={"http": old.service.http})
    return new.model_copy(update={"store": old.store, "service": service}), changes


def _monitor_changes(scheduler: BackgroundScheduler, name: str, old: MonitorConfig, new: MonitorConfig,
                     old_config: Config, new_config: Config) -> list[str]:
    changes = []
    if new.schedule != old.schedule:
        scheduler.reschedule_job(job_id(name), trigger=trigger_for(new))
        scheduler.modify_job(job_id(name), misfire_grace_time=misfire_grace(new))
        changes.append(f"monitor {name} rescheduled: {describe_schedule(old)} -> {describe_schedule(new)}")
    settings = [key for key in type(new).model_fields if key != "schedule" and getattr(new, key) != getattr(old, key)]
    if settings:
        changes.append(f"monitor {name} changed: {', '.join(settings)} (from its next run)")
    return changes


def _section_changes(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changes = [f"{kind} {n} added" for n in sorted(new.keys() - old.keys())]
    changes += [f"{kind} {n} removed" for n in sorted(old.keys() - new.keys())]
    changes += [f"{kind} {n} changed" for n in sorted(new.keys() & old.keys()) if new[n] != old[n]]
    return changes
