"""Prometheus metrics of the daemon, in a registry of its own.

:class:`ServiceMetrics` holds one :class:`prometheus_client.CollectorRegistry`
(never the process-global one, so two daemons in one process, or two tests, do
not share counts) and the metrics below. Names carry base units (``_seconds``),
counters end in ``_total``, and every label value comes from a bounded set: a
configured monitor, dataset or webhook name, a column of the monitored data, a
metric of the drift registry, or a fixed outcome word.

========================================================  =========  ==========================
metric                                                    type       labels
========================================================  =========  ==========================
``drift_monitor_runs_total``                              counter    monitor, outcome
``drift_monitor_run_duration_seconds``                    histogram  monitor
``drift_monitor_run_start_lateness_seconds``              histogram
``drift_monitor_skipped_runs_total``                      counter    monitor
``drift_monitor_rows_profiled_total``                     counter    dataset
``drift_monitor_drift_score``                             gauge      monitor, column, metric
``drift_monitor_columns_drifted``                         gauge      monitor
``drift_monitor_webhook_deliveries_total``                counter    webhook, outcome
``drift_monitor_outbox_pending``                          gauge
``drift_monitor_last_success_timestamp_seconds``          gauge      monitor
``drift_monitor_config_reloads_total``                    counter    outcome
``drift_monitor_pruned_total``                            counter    monitor, what, reason
========================================================  =========  ==========================

Run outcomes are ``completed``, ``failed`` and ``stopped``; delivery outcomes
are ``delivered``, ``retrying`` (a retryable failure) and ``failed`` (permanent).
Retention (:mod:`monitor.service.retention`) counts what it removed: ``what``
is ``snapshot`` or ``data_copy``, ``reason`` ``keep_last`` or ``max_age``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

_active: ServiceMetrics | None = None
_active_lock = threading.Lock()


class ServiceMetrics:
    """The daemon's metrics and the registry they are exposed from.

    :param pending: returns the number of alerts waiting in the outbox, read at
        every scrape; ``None`` (or a function that raises) leaves the gauge NaN.
    """

    def __init__(self, pending: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs = Counter("drift_monitor_runs", "Monitor runs by outcome.", ["monitor", "outcome"], registry=r)
        self.duration = Histogram("drift_monitor_run_duration_seconds", "Wall time of one monitor run.",
                                  ["monitor"], buckets=RUN_BUCKETS, registry=r)
        self.lateness = Histogram("drift_monitor_run_start_lateness_seconds",
                                  "Seconds between a run's scheduled time and its start.",
                                  buckets=LATENESS_BUCKETS, registry=r)
        self.skipped = Counter("drift_monitor_skipped_runs", "Runs not started: the previous run was still going "
                               "or the run was too late (misfire).", ["monitor"], registry=r)
        self.rows = Counter("drift_monitor_rows_profiled", "Rows profiled by completed snapshots.", ["dataset"],
                            registry=r)
        self.score = Gauge("drift_monitor_drift_score", "Latest value of each drift metric per column.",
                           ["monitor", "column", "metric"], registry=r)
        self.drifted = Gauge("drift_monitor_columns_drifted", "Columns drifted in the latest comparison.",
                             ["monitor"], registry=r)
        self.deliveries = Counter("drift_monitor_webhook_deliveries", "Webhook delivery attempts by outcome.",
                                  ["webhook", "outcome"], registry=r)
        self.pending = Gauge("drift_monitor_outbox_pending", "Alerts waiting in the outbox.", registry=r)
        self.last_success = Gauge("drift_monitor_last_success_timestamp_seconds",
                                  "Unix time of the monitor's last completed run.", ["monitor"], registry=r)
        self.reloads = Counter("drift_monitor_config_reloads", "Configuration reloads (SIGHUP) by outcome.",
                               ["outcome"], registry=r)
        self.pruned = Counter("drift_monitor_pruned", "Snapshots and data copies removed by retention.",
                              ["monitor", "what", "reason"], registry=r)
        self._scores: dict[str, set[tuple[str, str]]] = {}
        self._lock = threading.Lock()
        self.pending.set_function(lambda: _safe_count(pending))

    def observe_run(self, monitor: str, outcome: str, duration: float, *, dataset: str | None = None,
                    rows: int | None = None, finished_at: float | None = None) -> None:
        """Count one finished run.

        :param outcome: ``completed``, ``failed`` or ``stopped``.
        :param duration: wall time of the run in seconds.
        :param rows: rows its completed snapshot profiled (counted for ``dataset``).
        :param finished_at: Unix time the run completed; sets the last-success gauge.
        """
        self.runs.labels(monitor, outcome).inc()
        self.duration.labels(monitor).observe(duration)
        if dataset is not None and rows is not None:
            self.rows.labels(dataset).inc(rows)
        if outcome == "completed" and finished_at is not None:
            self.last_success.labels(monitor).set(finished_at)

    def observe_comparison(self, monitor: str, result: Mapping[str, Any]) -> None:
        """Set the drift gauges from a stored comparison result (``DatasetDrift.to_dict()``).

        The previous comparison's series of this monitor are removed first, so a
        column that left the data does not keep its old score.
        """
        series = {(c["column"], m["name"]): m["value"] for c in result.get("columns", ())
                  for m in c.get("metrics", ()) if _is_number(m.get("value"))}
        with self._lock:
            for column, metric in self._scores.get(monitor, set()) - set(series):
                self.score.remove(monitor, column, metric)
            for (column, metric), value in series.items():
                self.score.labels(monitor, column, metric).set(float(value))
            self._scores[monitor] = set(series)
        self.drifted.labels(monitor).set(int(result.get("verdict", {}).get("drifted_columns", 0) or 0))

    def forget_monitor(self, monitor: str) -> None:
        """Drop the gauges of a monitor removed from the configuration."""
        with self._lock:
            for column, metric in self._scores.pop(monitor, set()):
                self.score.remove(monitor, column, metric)
        for gauge in (self.drifted, self.last_success):
            try:
                gauge.remove(monitor)
            except KeyError:
                pass

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format (version 0.0.4)."""
        return generate_latest(self.registry)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _safe_count(pending: Callable[[], int] | None) -> float:
    if pending is None:
        return math.nan
    try:
        return float(pending())
    except Exception:  # a scrape must never fail because the store is away
        return math.nan


def activate(metrics: ServiceMetrics | None) -> None:
    """Make ``metrics`` the target of :func:`count_delivery` and
    :func:`count_pruned` (``None``: nothing counts)."""
    global _active
    with _active_lock:
        _active = metrics


def count_delivery(webhook: str, outcome: str) -> None:
    """Count one webhook delivery attempt in the active metrics, if any.

    :param outcome: ``delivered``, ``retrying`` or ``failed``.
    """
    metrics = _active
    if metrics is not None:
        metrics.deliveries.labels(webhook, outcome).inc()


def count_pruned(monitor: str, what: str, reason: str) -> None:
    """Count one removal by retention in the active metrics, if any.

    :param what: ``snapshot`` or ``data_copy``.
    :param reason: ``keep_last`` or ``max_age``.
    """
    metrics = _active
    if metrics is not None:
        metrics.pruned.labels(monitor, what, reason).inc()
