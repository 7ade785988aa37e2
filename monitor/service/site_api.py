"""The JSON API of ``drift-monitor serve``, read from the store (opened
read-only for the request):

- ``/api/monitors``: ``{"monitors": [{"name", "dataset", "configured",
  "enabled", "latest", "history"}]}``, every monitor of the configuration or
  with comparisons in the store, by name; ``latest`` is its newest comparison
  (the summary below) or ``null``, ``history`` the URL path of its history page
  or ``null`` when it has no comparison.
- ``/api/comparisons?monitor=&dataset=&limit=``: ``{"comparisons": [...],
  "limit": N}``, newest first, each a summary: ``id``, ``monitor``,
  ``dataset``, ``baseline``, ``target``, ``baseline_snapshot_id``,
  ``target_snapshot_id``, ``created_at``, ``drifted``, ``severity``,
  ``status``, ``drifted_columns``, ``columns_compared``, ``magnitude``,
  ``report`` (URL path of its report, or ``null``) and ``url`` (its API URL).
  ``limit`` is 1 to :data:`MAX_LIMIT` (default :data:`DEFAULT_LIMIT`).
- ``/api/comparisons/<id>``: the stored comparison whole: the summary's
  fields, ``result`` (the drift result as recorded) and ``baseline_spec``.
- ``/api/snapshots/<dataset>``: ``{"dataset", "snapshots": [...]}``, oldest
  first, each ``id``, ``name``, ``monitor``, ``status``, ``reason``,
  ``created_at``, ``completed_at``, ``row_count``, ``window_start``,
  ``window_end``, ``dataset_version``, ``fingerprint``, ``has_data_copy``.

Times are ISO 8601 in UTC. Errors are ``{"error": message, "status": code}``:
``400`` for a bad query, ``404`` for an unknown path, comparison or dataset.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from monitor import report
from monitor.errors import StoreError
from monitor.service.pages import PageSource
from monitor.store import ComparisonRecord, ComparisonSummary, SnapshotRecord

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "answer"]

DEFAULT_LIMIT = 50
"""Comparisons ``/api/comparisons`` lists when no ``limit`` is given."""
MAX_LIMIT = 1000
"""The largest ``limit`` of ``/api/comparisons``."""

_COMPARISON = re.compile(r"/api/comparisons/(?P<id>[0-9]{1,18})")
_SNAPSHOTS = re.compile(r"/api/snapshots/(?P<dataset>[^/]+)")


class BadRequest(Exception):
    """A request the API refuses: its status code and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def answer(path: str, query: str, source: PageSource) -> tuple[int, dict[str, Any]]:
    """The answer to ``GET path?query`` below ``/api``: its status code and JSON body.

    :raises StoreError: when the store cannot be read (the caller answers 503).
    """
    try:
        return 200, _route(path, query, source)
    except BadRequest as exc:
        return exc.status, {"error": str(exc), "status": exc.status}


def _route(path: str, query: str, source: PageSource) -> dict[str, Any]:
    params = _params(query, {"/api/comparisons": {"monitor", "dataset", "limit"}}.get(path, set()))
    if path == "/api/monitors":
        return monitors(source)
    if path == "/api/comparisons":
        return comparisons(source, params)
    if found := _COMPARISON.fullmatch(path):
        return comparison(source, int(found["id"]))
    if found := _SNAPSHOTS.fullmatch(path):
        return snapshots(source, unquote(found["dataset"]))
    raise BadRequest(404, f"no such API path: {path} (try /api/monitors, /api/comparisons, "
                          "/api/comparisons/ID, /api/snapshots/DATASET)")


def _params(query: str, allowed: set[str]) -> dict[str, str]:
    """The query's parameters (the last value of each); an unknown one is a 400."""
    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(400, "the query is not UTF-8") from None
    unknown = sorted(set(parsed) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise BadRequest(400, f"unknown query parameter {unknown[0]!r} (known: {known})")
    return {key: values[-1] for key, values in parsed.items()}


def monitors(source: PageSource) -> dict[str, Any]:
    """The body of ``/api/monitors``."""
    store, config = source.store, source.config
    out = []
    for name in source.monitors():
        latest = store.list_comparison_summaries(monitor=name, limit=1)
        mon = config.monitors.get(name)
        out.append({
            "name": name,
            "dataset": mon.dataset if mon else (latest[0].dataset if latest else None),
            "configured": mon is not None,
            "enabled": bool(mon and mon.enabled),
            "latest": summary(latest[0], source.reports_dir) if latest else None,
            "history": "/" + quote(f"{report.safe_name(name)}/history.html") if latest else None,
        })
    return {"monitors": out}


def comparisons(source: PageSource, params: dict[str, str]) -> dict[str, Any]:
    """The body of ``/api/comparisons``."""
    raw = params.get("limit", str(DEFAULT_LIMIT))
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(400, f"limit must be a whole number from 1 to {MAX_LIMIT}, not {raw!r}")
    found = source.store.list_comparison_summaries(
        dataset=params.get("dataset") or None, monitor=params.get("monitor") or None, limit=int(raw))
    return {"comparisons": [summary(s, source.reports_dir) for s in found], "limit": int(raw)}


def comparison(source: PageSource, comparison_id: int) -> dict[str, Any]:
    """The body of ``/api/comparisons/<id>``."""
    try:
        record: ComparisonRecord = source.store.get_comparison(comparison_id)
    except StoreError as exc:
        if "not found" in str(exc):
            raise BadRequest(404, f"comparison {comparison_id} not found") from None
        raise
    raw = record.result.get("verdict")
    verdict: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return {
        **_summary_fields(record, verdict, source.reports_dir),
        "result": record.result,
        "baseline_spec": record.baseline_spec,
    }


def snapshots(source: PageSource, dataset: str) -> dict[str, Any]:
    """The body of ``/api/snapshots/<dataset>``."""
    found = source.store.list_snapshots(dataset)
    if not found and dataset not in source.datasets():
        raise BadRequest(404, f"no such dataset: {dataset!r}")
    return {"dataset": dataset, "snapshots": [_snapshot(s) for s in found]}


def summary(record: ComparisonSummary, reports_dir: Path) -> dict[str, Any]:
    """The summary of a comparison a listing shows (see the module's docstring)."""
    return _summary_fields(record, record.verdict, reports_dir)


def _summary_fields(record: ComparisonSummary | ComparisonRecord, verdict: dict[str, Any],
                    reports_dir: Path) -> dict[str, Any]:
    return {
        "id": record.id, "monitor": record.monitor, "dataset": record.dataset,
        "baseline": record.baseline_name, "target": record.target_name,
        "baseline_snapshot_id": record.baseline_snapshot_id, "target_snapshot_id": record.target_snapshot_id,
        "created_at": _iso(record.created_at), "drifted": record.drifted, "severity": record.severity,
        "status": verdict.get("status"), "drifted_columns": verdict.get("drifted_columns"),
        "columns_compared": verdict.get("columns_compared"), "magnitude": verdict.get("magnitude"),
        "report": report_url(record.report_path, reports_dir), "url": f"/api/comparisons/{record.id}",
    }


def report_url(report_path: str | None, reports_dir: Path) -> str | None:
    """The URL path of a report written at ``report_path``, or ``None`` when it
    lies outside the reports folder (or none was written)."""
    if report_path is None:
        return None
    try:
        relative = Path(report_path).resolve().relative_to(reports_dir.resolve())
    except ValueError:
        return None
    return "/" + quote(relative.as_posix())


def _snapshot(snap: SnapshotRecord) -> dict[str, Any]:
    return {
        "id": snap.id, "name": snap.name, "monitor": snap.monitor, "status": snap.status, "reason": snap.reason,
        "created_at": _iso(snap.created_at), "completed_at": _iso(snap.completed_at), "row_count": snap.row_count,
        "window_start": _iso(snap.window_start), "window_end": _iso(snap.window_end),
        "dataset_version": snap.dataset_version, "fingerprint": snap.fingerprint,
        "has_data_copy": snap.data_copy is not None,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
