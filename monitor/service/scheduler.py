"""When monitors run: one APScheduler 3.x job per monitor, catch-up, shutdown.

Each job has the stable id ``monitor:<name>``, ``max_instances=1`` (one run at a
time per monitor), ``coalesce=True`` (missed runs collapse into one) and a
misfire grace of half the interval (at most one hour). On start, a monitor whose
last run is older than its interval (or that never ran) runs at once: the
catch-up is logged. A job ``outbox`` retries undelivered alerts every 30 s.

SIGTERM and SIGINT stop the scheduler; a running job finishes first (its snapshot
is completed or marked failed), then :func:`serve_forever` returns and the
process exits 0.
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
OUTBOX_EVERY = timedelta(seconds=30)


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


def run_job(config: Config, name: str) -> None:
    """The scheduled job: open the store in this thread and run the monitor.

    Any exception of the run (or of opening the store) fails this run only: it
    is logged once at error level with the traceback at debug level, and the
    other monitors' jobs keep their schedule (see
    :func:`~monitor.service.runner.run_isolated`).
    """
    from monitor.service.runner import failure_reason, run_isolated

    try:
        with Store(config.store) as store:
            result = run_isolated(config, name, store)
    except Exception as exc:  # noqa: BLE001 - a job must not take the daemon down
        log.error("monitor %s failed: %s", name, failure_reason(config.monitors[name].dataset, exc))
        log.debug("monitor %s failed", name, exc_info=exc)
        return
    log.info("monitor %s: run %s%s", name, result.status, f" ({result.reason})" if result.reason else "")


def flush_job(config: Config) -> None:
    """The outbox job: deliver every alert whose retry time has come."""
    from monitor.service.alert import flush_outbox

    with Store(config.store) as store:
        flush_outbox(store, config.webhooks)


def build_scheduler(config: Config, now: datetime | None = None) -> BackgroundScheduler:
    """A scheduler with one job per enabled monitor and the outbox job (not started)."""
    now = now or datetime.now(timezone.utc)
    scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={"max_instances": 1, "coalesce": True})
    with Store(config.store) as store:
        recovered = store.recover_interrupted()
        if recovered:
            log.warning("recovered %d interrupted snapshot(s) of stopped processes", len(recovered))
        last_runs = {name: store.last_run_at(name) for name in config.monitors}
    for name, mon in sorted(config.monitors.items()):
        if not mon.enabled:
            continue
        due = is_due(mon, last_runs[name], now)
        if due:
            log.info("monitor %s: last run %s is older than its schedule: running now (catch-up)", name, last_runs[name])
        scheduler.add_job(
            run_job, trigger_for(mon), args=(config, name), id=f"monitor:{name}", name=name,
            max_instances=1, coalesce=True, misfire_grace_time=misfire_grace(mon), replace_existing=True,
            **({"next_run_time": now} if due else {}),
        )
    scheduler.add_job(flush_job, IntervalTrigger(seconds=OUTBOX_EVERY.total_seconds()), args=(config,),
                      id="outbox", name="outbox", next_run_time=now)
    return scheduler


def serve_forever(config: Config, stop: threading.Event | None = None,
                  on_start: Callable[[BackgroundScheduler], Any] | None = None) -> None:
    """Run the scheduler until SIGTERM/SIGINT (or ``stop`` is set), then shut down
    cleanly, waiting for a running job to finish."""
    stop = stop or threading.Event()
    scheduler = build_scheduler(config)
    previous = _install_signals(stop)
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
