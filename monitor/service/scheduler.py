"""When monitors run: one APScheduler 3.x job per monitor, catch-up, shutdown.

Each job has the stable id ``monitor:<name>``, ``max_instances=1`` (one run at a
time per monitor), ``coalesce=True`` (missed runs collapse into one) and a
misfire grace of half the interval (at most one hour). On start, a monitor whose
last run is older than its interval (or that never ran) runs at once: the
catch-up is logged. Jobs only queue alerts; a :class:`DeliveryWorker` thread
sends them (and the alerts left pending before a restart), so a slow endpoint
delays no job.

SIGTERM and SIGINT stop the scheduler; a running job finishes first (its snapshot
is completed or marked failed), the delivery worker gets :data:`DELIVERY_STOP_TIMEOUT`
seconds to finish its attempt in flight, then :func:`serve_forever` returns and
the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config, MonitorConfig
from monitor.store import Store

log = logging.getLogger(__name__)
DELIVERY_STOP_TIMEOUT = 5.0
"""Seconds shutdown waits for an attempt in flight; its alert is sent again after a restart."""


def trigger_for(mon: MonitorConfig) -> IntervalTrigger | CronTrigger:
    """The APScheduler trigger of a monitor's schedule (cron in UTC)."""
    interval = mon.schedule.interval
    if interval is not None:
        return IntervalTrigger(seconds=interval.total_seconds(), timezone=timezone.utc)
    assert mon.schedule.cron is not None
    return CronTrigger.from_crontab(mon.schedule.cron, timezone=timezone.utc)


def misfire_grace(mon: MonitorConfig) -> int:
    """Seconds a late run may still start: half the interval, 1 s to 1 h."""
    interval = mon.schedule.interval or timedelta(hours=1)
    return int(min(max(interval.total_seconds() / 2, 1), 3600))


def is_due(mon: MonitorConfig, last_run: datetime | None, now: datetime) -> bool:
    """True when a monitor missed its schedule while the service was down."""
    if last_run is None:
        return True
    interval = mon.schedule.interval
    if interval is not None:
        return now - last_run >= interval
    trigger = trigger_for(mon)
    next_fire = trigger.get_next_fire_time(None, last_run)
    return next_fire is not None and next_fire <= now


def run_job(config: Config, name: str, on_queued: Callable[[], Any] | None = None) -> None:
    """The scheduled job: open the store in this thread and run the monitor.

    :param on_queued: called after the run queued alerts (wakes the delivery worker).
    """
    from monitor.service.runner import run_monitor

    with Store(config.store) as store:
        result = run_monitor(config, name, store, on_queued=on_queued)
    log.info("monitor %s: run %s%s", name, result.status, f" ({result.reason})" if result.reason else "")


def build_scheduler(
    config: Config, now: datetime | None = None, on_queued: Callable[[], Any] | None = None
) -> BackgroundScheduler:
    """A scheduler with one job per enabled monitor (not started).

    :param on_queued: passed to every job (see :func:`run_job`).
    """
    now = now or datetime.now(timezone.utc)
    scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={"max_instances": 1, "coalesce": True})
    with Store(config.store) as store:
        store.recover_interrupted()
        last_runs = {name: store.last_run_at(name) for name in config.monitors}
    for name, mon in sorted(config.monitors.items()):
        if not mon.enabled:
            continue
        due = is_due(mon, last_runs[name], now)
        if due:
            log.info("monitor %s: last run %s is older than its schedule: running now (catch-up)", name, last_runs[name])
        scheduler.add_job(
            run_job, trigger_for(mon), args=(config, name, on_queued), id=f"monitor:{name}", name=name,
            max_instances=1, coalesce=True, misfire_grace_time=misfire_grace(mon), replace_existing=True,
            **({"next_run_time": now} if due else {}),
        )
    return scheduler


def serve_forever(config: Config, stop: threading.Event | None = None,
                  on_start: Callable[[BackgroundScheduler], Any] | None = None) -> None:
    """Run the scheduler and the delivery worker until SIGTERM/SIGINT (or ``stop``
    is set), then shut down cleanly, waiting for a running job to finish and at
    most :data:`DELIVERY_STOP_TIMEOUT` seconds for a delivery in flight."""
    from monitor.service.delivery import DeliveryWorker

    stop = stop or threading.Event()
    worker = DeliveryWorker(config.store, lambda: config.webhooks)
    scheduler = build_scheduler(config, on_queued=worker.wake)
    previous = _install_signals(stop)
    worker.start()
    scheduler.start()
    log.info("drift-monitor running %d monitor(s); stop with SIGTERM or Ctrl-C", len(config.monitors))
    if on_start:
        on_start(scheduler)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping: waiting for running jobs to finish")
        scheduler.shutdown(wait=True)
        if not worker.stop(DELIVERY_STOP_TIMEOUT):
            log.warning("a webhook delivery was still in flight; its alert is sent again after a restart")
        _restore_signals(previous)
        log.info("stopped")


def _install_signals(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
