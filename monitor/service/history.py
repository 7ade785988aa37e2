"""A monitor's history page from the store: its comparisons (oldest first), the
time of each target snapshot and its drift episodes, handed to
:func:`monitor.report.history_context` and written next to the reports.

The runner rewrites the page after each compared run of the monitor
(:func:`refresh_history`); ``drift-monitor report history MONITOR`` rewrites it
on demand (:func:`write_history`); ``drift-monitor serve`` renders it without
writing when it is missing (:func:`history_html`). The data comes from the
store, never from re-reading the reports.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from monitor import report
from monitor.errors import MonitorError
from monitor.store import ComparisonRecord, SnapshotRecord, Store

log = logging.getLogger(__name__)

__all__ = ["HISTORY_RUNS", "history_html", "history_page", "history_runs", "history_summary", "refresh_history",
           "target_time", "write_history"]

HISTORY_RUNS = 400
"""How many of a monitor's newest comparisons its history page shows: more than
a year of daily runs; reading and drawing stay under about a second (see
``bench/history_bench.py``) however long the monitor has run."""


_SUMMARY_METRIC_KEYS = ("name", "direction", "value", "p_value", "warning", "critical", "decides", "severity")


MULTIVARIATE = "(multivariate)"
"""The name the multivariate test goes by among a history's columns."""


def history_summary(result: dict[str, Any]) -> dict[str, Any]:
    """What a history page reads of a drift result, stored beside it
    (``comparisons.summary``): the verdict, and per column its name, kind,
    status, severity and deciding metrics (name, direction, value, p-value,
    thresholds, severity); per segment the same of its result; and, when the
    monitor tests it, ``multivariate``: the dataset-level ``multivariate_auc`` read
    as one more column (``column`` ``(multivariate)``, kind ``multivariate``, its
    status, severity, metric and top columns). A few percent of the full
    result's size (no statistics, histograms or notes)."""
    def trim(part: dict[str, Any]) -> dict[str, Any]:
        return {"verdict": part.get("verdict"), "columns": [
            {"column": c.get("column"), "kind": c.get("kind"), "status": c.get("status"), "severity": c.get("severity"),
             "metrics": [{k: m.get(k) for k in _SUMMARY_METRIC_KEYS} for m in c.get("metrics") or () if m.get("decides")]}
            for c in part.get("columns") or ()]}

    out = trim(result)
    joint = next((m for m in result.get("metrics") or () if m.get("name") == "multivariate_auc"), None)
    if joint is not None:
        severity = joint.get("severity") or "none"
        out["multivariate"] = {
            "column": MULTIVARIATE, "kind": "multivariate", "severity": severity,
            "status": "drift" if severity != "none" else ("ok" if joint.get("value") is not None else "not_measured"),
            "metrics": [{k: joint.get(k) for k in _SUMMARY_METRIC_KEYS}] if joint.get("decides") else [],
            "top_columns": (joint.get("detail") or {}).get("top_columns") or []}
    if isinstance(result.get("segments"), dict):
        out["segments"] = {name: {**{k: v for k, v in entry.items() if k != "result"},
                                  "result": trim(entry["result"]) if entry.get("result") else None}
                           for name, entry in result["segments"].items()}
    return out


def target_time(snapshot: SnapshotRecord | None, fallback: datetime) -> datetime:
    """The time a target snapshot stands for: the start of its data window when
    the snapshot records one (``window_start``), else its creation time;
    ``fallback`` when the snapshot is unknown (removed by retention: the
    comparison's recorded ``target_time`` is passed)."""
    if snapshot is None:
        return fallback
    start = getattr(snapshot, "window_start", None)
    return start if isinstance(start, datetime) else snapshot.created_at


def history_runs(store: Store, monitor: str, limit: int | None = None) -> list[report.HistoryRun]:
    """The monitor's comparisons as history runs, oldest first (by the time they
    were recorded); only the newest ``limit`` when it is given.

    :raises StoreError: when the store cannot be read.
    """
    comparisons: list[ComparisonRecord] = store.list_comparisons(monitor=monitor, limit=limit, summaries=True)[::-1]
    snapshots: dict[int, SnapshotRecord] = {}
    for dataset in sorted({c.dataset for c in comparisons}):
        snapshots.update((s.id, s) for s in store.list_snapshots(dataset))
    return [
        report.HistoryRun(
            comparison_id=c.id, dataset=c.dataset, target_name=c.target_name,
            at=target_time(snapshots.get(c.target_snapshot_id), c.target_time or c.created_at), run_at=c.created_at,
            result=c.result, report_path=c.report_path,
        )
        for c in comparisons
    ]


def history_page(
    store: Store, reports_dir: str | Path, monitor: str, *, last: int = HISTORY_RUNS, now: datetime | None = None,
    segment: str | None = None,
) -> report.HistoryPage:
    """The context of ``monitor``'s history page (of ``segment``, when given), read from the store.

    :param last: how many of the newest comparisons the page shows (at least 1).
    :param now: the page's generation time; now if ``None``.
    :raises StoreError: when the store cannot be read.
    :raises MonitorError: when a stored result is malformed, or the segment was not compared in those runs.
    """
    for page in history_pages(store, reports_dir, monitor, last=last, now=now):
        if page.segment == segment:
            return page
    raise MonitorError(f"monitor {monitor!r}: no segment {segment!r} in its comparisons")


def history_html(
    store: Store, reports_dir: str | Path, monitor: str, *, last: int = HISTORY_RUNS, now: datetime | None = None,
) -> str:
    """``monitor``'s history page as :func:`write_history` would write it, as
    HTML text; nothing is written (the store may be opened read-only).

    :raises StoreError: when the store cannot be read.
    :raises MonitorError: when a stored result is malformed.
    """
    return report.history_html(history_page(store, reports_dir, monitor, last=last, now=now))


def write_history(
    store: Store, reports_dir: str | Path, monitor: str, *, last: int = HISTORY_RUNS, now: datetime | None = None,
) -> Path:
    """Write ``<reports_dir>/<monitor>/history.html`` from the store (and the
    index, when the page is new).

    :param last: how many of the newest comparisons the page shows (at least 1).
    :param now: the page's generation time; now if ``None``.
    :returns: the page's path.
    :raises StoreError: when the store cannot be read.
    :raises MonitorError: when the page cannot be written or a stored result is malformed.
    """
    folder = Path(reports_dir)
    pages = history_pages(store, folder, monitor, last=last, now=now)
    path = report.write_history(folder, pages[0])
    for page in pages[1:]:
        report.write_history(folder, page)
    return path


def history_pages(
    store: Store, reports_dir: str | Path, monitor: str, *, last: int = HISTORY_RUNS, now: datetime | None = None,
) -> list[report.HistoryPage]:
    """The contexts of ``monitor``'s history pages, read from the store: the
    whole dataset's, then one per segment compared in the runs shown (a
    monitor with ``segments``), each with the segment selector.

    :raises StoreError: when the store cannot be read.
    :raises MonitorError: when a stored result is malformed.
    """
    folder = Path(reports_dir)
    runs = history_runs(store, monitor, limit=max(last, 1) + 1)
    older = runs[: max(len(runs) - max(last, 1), 0)]
    shown = runs[len(older):]
    episodes = [
        report.HistoryEpisode(e.opened_at, e.resolved_at, e.severity, e.runs) for e in store.list_episodes(monitor)
    ]
    page_dir = report.history_path(folder, monitor).parent
    segments = _segments(shown)
    links = _segment_links(shown, segments)
    pages = [report.history_context(monitor, shown, episodes, page_dir=page_dir, generated_at=now,
                                    older_runs=bool(older), segment_links=links(None))]
    for segment in segments:
        seg_runs = [replace(r, result=r.result["segments"][segment]["result"]) for r in shown
                    if (r.result.get("segments") or {}).get(segment, {}).get("result")]
        pages.append(report.history_context(monitor, seg_runs, episodes, page_dir=page_dir, generated_at=now,
                                            older_runs=bool(older), segment=segment, segment_links=links(segment)))
    return pages


def _segments(runs: list[report.HistoryRun]) -> list[str]:
    """The segments compared in ``runs``, those of the newest run first."""
    seen: dict[str, None] = {}
    for run in reversed(runs):
        for name, entry in (run.result.get("segments") or {}).items():
            if isinstance(entry, dict) and entry.get("result"):
                seen.setdefault(str(name), None)
    return list(seen)


def _segment_links(runs: list[report.HistoryRun], segments: list[str]) -> Any:
    """A function giving the selector of the page of a segment (``None``: the
    whole dataset); no selector when the monitor has no segments."""
    def drifted(segment: str | None) -> int:
        if segment is None:
            return sum(bool(r.result.get("verdict", {}).get("drifted")) for r in runs)
        return sum(bool(((r.result.get("segments") or {}).get(segment) or {}).get("drifted")) for r in runs)

    counts = {s: drifted(s) for s in [None, *segments]} if segments else {}

    def links(current: str | None) -> list[report.SegmentLink]:
        return [report.SegmentLink("whole dataset" if s is None else s,
                                   quote(report.HISTORY_NAME if s is None else report.segment_history_name(s)),
                                   s == current, n) for s, n in counts.items()]
    return links


def refresh_history(store: Store, reports_dir: str | Path, monitor: str) -> Path | None:
    """:func:`write_history` after a run. Any failure is logged (the message at
    error level, the traceback at debug level) and gives ``None``: the run's
    comparison, report and alerts stand, and the next run writes the page again."""
    try:
        return write_history(store, reports_dir, monitor)
    except Exception as exc:  # noqa: BLE001 - the page must not fail a completed run
        reason = str(exc) if isinstance(exc, MonitorError) else f"{type(exc).__name__}: {exc}"
        log.error("monitor %s: history page not written: %s", monitor, reason)
        log.debug("monitor %s: history page not written", monitor, exc_info=exc)
        return None
