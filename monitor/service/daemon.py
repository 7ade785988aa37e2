"""The daemon: signals, the main loop, the HTTP server and a stop with a deadline.

As uvicorn's ``handle_exit`` and gunicorn's arbiter do, a signal handler only
sets a flag; the main loop, in the main thread, acts on it:

- ``SIGTERM`` / ``SIGINT``: no new runs start; running jobs get
  ``stop_timeout`` seconds to finish (waits inside them, such as a webhook's
  retry backoff, end at once with :class:`~monitor.errors.StoppedError`). A
  snapshot still running after that is marked failed with reason ``stopped``
  from the main thread, with its own store connection, and its temporary data
  copy is removed. A second ``SIGINT`` (Ctrl-C twice) stops waiting at once.
  :meth:`Daemon.serve` then returns; the process exits 0 (through
  :func:`leave_now` when a job thread is still busy).
- ``SIGHUP``: the configuration file is read again. A valid file is applied
  (monitors added, removed, rescheduled or changed, each logged); an invalid one
  is logged problem by problem and the configuration in force is kept.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from apscheduler.schedulers.background import BackgroundScheduler

from monitor.config import Config, load_config, parse_address
from monitor.errors import ConfigError, MonitorError, StoreError
from monitor.service.delivery import DeliveryWorker
from monitor.service.http import StatusServer
from monitor.service.site import Site
from monitor.service.metrics import ServiceMetrics, activate
from monitor.service.scheduler import DELIVERY_STOP_TIMEOUT, STOPPED, Runtime, apply_config, build_scheduler
from monitor.store import Store

log = logging.getLogger(__name__)
_EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Daemon:
    """One running service over a configuration.

    :param config_path: the file SIGHUP re-reads (None: SIGHUP only logs).
    :param http: ``HOST:PORT`` for ``/healthz``, ``/metrics``, the reports and
        their ``/api`` (:mod:`monitor.service.site`); default ``service.http``
        of the configuration (None: no HTTP endpoint).
    :param stop_timeout: seconds running jobs get after SIGTERM; default
        ``service.stop_timeout`` (then a reload may change it).
    """

    def __init__(self, config: Config, *, config_path: str | os.PathLike[str] | None = None,
                 http: str | None = None, stop_timeout: float | None = None) -> None:
        self.runtime = Runtime(config, ServiceMetrics(pending=self.outbox_pending))
        self.config_path = config_path
        self.http = http or config.service.http
        self._stop_timeout = stop_timeout
        self.should_exit = False
        self.force_exit = False
        self.should_reload = False
        self.signal_name: str | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.server: StatusServer | None = None
        self.delivery: DeliveryWorker | None = None

    @property
    def config(self) -> Config:
        """The configuration in force."""
        return self.runtime.config

    @property
    def stop_timeout(self) -> float:
        """Seconds running jobs get to finish once the daemon stops."""
        return self._stop_timeout if self._stop_timeout is not None else self.config.service.stop_timeout

    # ------------------------------------------------------------------ signals

    def handle_exit(self, signum: int, _frame: Any) -> None:
        """SIGTERM/SIGINT handler: only sets flags (a second SIGINT forces the exit)."""
        if self.should_exit and signum == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True
        self.signal_name = signal.Signals(signum).name

    def handle_hup(self, _signum: int, _frame: Any) -> None:
        """SIGHUP handler: only asks the main loop to re-read the configuration."""
        self.should_reload = True

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {sig: signal.signal(sig, self.handle_exit) for sig in _EXIT_SIGNALS}
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self.handle_hup)
        return previous

    # --------------------------------------------------------------------- serve

    def serve(self, stop: threading.Event | None = None,
              on_start: Callable[[BackgroundScheduler], Any] | None = None) -> bool:
        """Run until SIGTERM/SIGINT (or ``stop`` is set), then stop within the timeout.

        :returns: True when every job finished; False when a job was left running
            (its snapshot marked failed): the caller should end the process with
            :func:`leave_now`, since that job's thread cannot be interrupted.
        :raises StoreError: when the store cannot be opened at start.
        :raises MonitorError: when the HTTP address cannot be bound.
        """
        previous = self._install_signals()
        activate(self.runtime.metrics)
        try:
            self.scheduler = build_scheduler(self.config, runtime=self.runtime)
            self.server = self._start_http()
            self._start_delivery()
            self.scheduler.start()
            log.info("drift-monitor running %d monitor(s) (pid %d); stop with SIGTERM or Ctrl-C, "
                     "reload with SIGHUP", len(self.config.monitors), os.getpid())
            if on_start:
                on_start(self.scheduler)
            self._loop(stop)
            return self._shutdown()
        finally:
            activate(None)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start_delivery(self) -> None:
        """Start the worker that sends queued alerts; it reads the webhooks of the
        configuration in force before every pass, so a reload applies to queued alerts."""
        self.delivery = DeliveryWorker(self.config.store, lambda: self.runtime.config.webhooks)
        self.runtime.wake_delivery = self.delivery.wake
        self.delivery.start()

    def _stop_delivery(self, deadline: float) -> None:
        """Stop the delivery worker, waiting for an attempt in flight until ``deadline``
        (``time.monotonic()``) and at most :data:`DELIVERY_STOP_TIMEOUT` seconds."""
        if self.delivery is None:
            return
        wait = min(DELIVERY_STOP_TIMEOUT, max(0.0, deadline - time.monotonic()))
        if not self.delivery.stop(wait):
            log.warning("a webhook delivery was still in flight; its alert is sent again after a restart")

    def _start_http(self) -> StatusServer | None:
        if not self.http:
            return None
        try:
            host, port = parse_address(self.http)
        except ValueError as exc:
            raise ConfigError([f"service.http: {exc}"]) from None
        server = StatusServer(host, port, self.health, self.runtime.metrics.render, Site(lambda: self.config))
        server.start()
        return server

    def _loop(self, stop: threading.Event | None) -> None:
        while not self.should_exit and not (stop is not None and stop.is_set()):
            if self.should_reload:
                self.should_reload = False
                self.reload()
            time.sleep(0.1)
        if self.signal_name:
            log.info("received %s", self.signal_name)

    def _shutdown(self) -> bool:
        timeout = self.stop_timeout
        running = self.runtime.running_jobs()
        log.info("stopping: no new runs; %s", f"waiting up to {timeout:g}s for {', '.join(running)}"
                 if running else "no job running")
        self.runtime.stopping.set()
        if self.delivery is not None:
            self.delivery.stop(0)  # no new attempts; one in flight may finish below
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + timeout
        clean = self.runtime.wait_idle(deadline, lambda: self.force_exit)
        if not clean:
            self._abandon_snapshots()
        self._stop_delivery(deadline)
        if self.server is not None:
            self.server.stop()
        log.info("stopped")
        return clean

    def _abandon_snapshots(self) -> None:
        left = self.runtime.running_jobs()
        log.warning("stop timeout (%gs) reached: leaving %s", self.stop_timeout, ", ".join(left))
        running = sorted(self.runtime.snapshots.items())
        if not running:
            return
        try:
            with Store(self.config.store) as store:
                for snapshot_id, monitor in running:
                    self._abandon(store, snapshot_id, monitor)
        except MonitorError as exc:  # the store is gone: the next start fails them as interrupted
            log.error("cannot mark the running snapshots failed: %s", exc)

    @staticmethod
    def _abandon(store: Store, snapshot_id: int, monitor: str) -> None:
        try:
            snap = store.abandon_snapshot(snapshot_id, STOPPED)
        except MonitorError as exc:
            log.warning("monitor %s: snapshot %s: %s", monitor, snapshot_id, exc, extra={"monitor": monitor})
            return
        log.warning("monitor %s: snapshot %s of %s marked failed (%s)", monitor, snap.name, snap.dataset,
                    STOPPED, extra={"monitor": monitor, "snapshot": snap.name})

    # -------------------------------------------------------------------- reload

    def reload(self) -> bool:
        """Re-read the configuration file and apply it; keep the old one when it is invalid.

        :returns: True when the new configuration is in force.
        """
        if self.config_path is None or self.scheduler is None:
            log.warning("SIGHUP: no configuration file to re-read")
            return False
        log.info("SIGHUP: re-reading %s", self.config_path)
        try:
            new = load_config(self.config_path)
            apply_config(self.scheduler, self.runtime, new)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload: %s", problem, extra={"config": str(self.config_path)})
            return self._reload_failed(f"{len(exc.problems)} problem(s) in {self.config_path}")
        except MonitorError as exc:
            return self._reload_failed(str(exc))
        self.runtime.metrics.reloads.labels("applied").inc()
        return True

    def _reload_failed(self, why: str) -> bool:
        log.error("reload failed (%s): keeping the configuration in force", why)
        self.runtime.metrics.reloads.labels("failed").inc()
        return False

    # -------------------------------------------------------------------- health

    def outbox_pending(self) -> int:
        """Alerts waiting in the outbox. :raises MonitorError: when the store is unusable."""
        with _open_existing(self.config.store) as store:
            return len(store.pending_alerts())

    def health(self) -> tuple[bool, dict[str, Any]]:
        """``(healthy, body)`` of ``/healthz``: healthy when the store opens and the
        scheduler runs; the body names each problem."""
        config = self.config
        problems: list[str] = []
        if self.scheduler is None or not self.scheduler.running or self.runtime.stopping.is_set():
            problems.append("the scheduler is not running")
        monitors = sorted(n for n, m in config.monitors.items() if m.enabled)
        last: dict[str, str | None] = {n: None for n in monitors}
        pending = None
        try:
            with _open_existing(config.store) as store:
                last = {n: _iso(store.last_run_at(n)) for n in monitors}
                pending = len(store.pending_alerts())
        except MonitorError as exc:
            problems.append(str(exc))
        body = {
            "status": "unavailable" if problems else "ok", "problems": problems, "monitors": len(monitors),
            "last_runs": {n: {"at": last[n], "outcome": self.runtime.last_outcomes.get(n)} for n in monitors},
            "outbox_pending": pending,
        }
        return not problems, body


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _open_existing(path: str) -> Store:
    """Open the store only if its file exists (a health check must not create one).

    :raises StoreError: when the file is missing or cannot be opened.
    """
    if not Path(path).is_file():
        raise StoreError(f"the store {path} does not exist")
    return Store(path)


def serve_forever(config: Config, stop: threading.Event | None = None,
                  on_start: Callable[[BackgroundScheduler], Any] | None = None) -> bool:
    """Run a :class:`Daemon` over ``config`` (no SIGHUP file, no HTTP unless
    ``service.http``) until SIGTERM/SIGINT or ``stop``; see :meth:`Daemon.serve`."""
    return Daemon(config).serve(stop, on_start)


def leave_now(code: int = 0) -> NoReturn:
    """End the process at once with ``code``, though job threads still run.

    Worker processes this process started (parallel profiling) are terminated
    first and the standard streams flushed; no other clean-up runs.
    """
    for child in multiprocessing.active_children():
        child.terminate()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
