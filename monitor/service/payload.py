"""What an alert says: the JSON event of a drift episode, its encoding, and the
Slack message made from it.

The event (``format: standard``)::

    {"event": "drift.detected" | "drift.repeated" | "drift.resolved",
     "episode_id": "9f1c...", "episode_started_at": "2030-05-01T12:00:00+00:00",
     "dataset": "flights", "monitor": "flights-daily",
     "baseline_snapshot": "s1", "target_snapshot": "s2",
     "baseline_kind": "previous", "baseline_snapshots": ["s1"],
     "verdict": {"drifted": true, "severity": "critical", ...},
     "drifted_columns": [{"column": "dep_delay", "severity": "critical",
                          "metrics": {"psi": 0.31},
                          "metric": "psi", "value": 0.31, "threshold": 0.25}],
     "changes": {"previous_severity": "warning", "new_columns": [...],
                 "cleared_columns": [...]} | null,
     "report_path": "flights-daily/report.html", "report_url": "https://..." | null,
     "created_at": "...", "idempotency_key": "msg_..."}

``baseline_snapshot`` is the baseline (the newest snapshot, when a ``trailing``
baseline merges several); ``baseline_snapshots`` lists every snapshot of the
baseline, oldest first, and ``baseline_kind`` says how it was chosen (``first``,
``previous``, ``snapshot``, ``dataset``, ``offset``, ``trailing``, ``version``,
``pinned``; ``null`` when not known).
``report_path`` is relative to ``reports_dir`` (never a local absolute path);
``report_url`` is ``report_url_base`` + that path when ``report_url_base`` is
configured. ``changes`` compares the run with the episode's last notified event
(``null`` for ``drift.detected``). ``idempotency_key`` equals the ``webhook-id``
header. A monitor with ``segments`` adds ``"drifted_segments": [{"segment":
"UA", "severity": "critical", "columns": ["dep_delay"], "magnitude": 0.4}, ...]``
(worst first; empty when only the whole dataset drifted). A monitor with
``multivariate: true`` adds ``"multivariate": {"metric": "multivariate_auc",
"value": 0.74, "p_value": ..., "severity": "critical", "threshold": 0.65,
"top_columns": [{"column", "importance", "share"}, ...], "reason": null}``
(``value`` null and ``reason`` set when it was not measured).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = [
    "CONDITION_EVENTS",
    "EVENTS",
    "build_payload",
    "drifted_columns",
    "encode_payload",
    "message_id_for",
    "multivariate_entry",
    "report_location",
    "slack_message",
]

EVENTS = ("drift.detected", "drift.repeated", "drift.resolved")
CONDITION_EVENTS = tuple(f"{kind}.{phase}" for kind in ("data.stale", "volume")
                         for phase in ("detected", "repeated", "resolved"))
"""The events of condition episodes (:mod:`monitor.service.conditions`): their
payload has the drift event's keys and ``condition: {kind, detail}``."""
SLACK_TOP_COLUMNS = 5
_TITLES = {"drift.detected": "Drift detected", "drift.repeated": "Drift continues",
           "drift.resolved": "Drift resolved", "data.stale.detected": "Data stale",
           "data.stale.repeated": "Data still stale", "data.stale.resolved": "Fresh data again",
           "volume.detected": "Unusual row count", "volume.repeated": "Row count still unusual",
           "volume.resolved": "Row count back to usual"}


def message_id_for(episode_key: str, event: str, comparison_id: int) -> str:
    """The message id of one event of an episode (``webhook-id``, ``idempotency_key``).

    :returns: ``"msg_"`` + the first 32 hex characters of SHA-256 over
        ``"{episode_key}|{event}|{comparison_id}"``; the same event always gets
        the same id, on every attempt and after a restart.
    """
    text = f"{episode_key}|{event}|{comparison_id}"
    return "msg_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def report_location(report_path: str | None, reports_dir: str, url_base: str | None) -> tuple[str | None, str | None]:
    """The report's path relative to ``reports_dir`` (POSIX separators) and its URL.

    :param report_path: where the report was written (absolute or relative).
    :param url_base: the URL ``reports_dir`` is served at, or ``None``.
    :returns: ``(relative path, url)``; the URL is ``None`` without
        ``url_base``; both are ``None`` without a report. A report outside
        ``reports_dir`` is named by its file name only.
    """
    if not report_path:
        return None, None
    path, root = Path(report_path).resolve(), Path(reports_dir).resolve()
    relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    url = f"{url_base.rstrip('/')}/{quote(relative)}" if url_base else None
    return relative, url


def drifted_columns(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The drifted columns of a drift result (``DatasetDrift.to_dict()``), worst first.

    :returns: one dict per column with ``status == "drift"``: ``column``,
        ``severity``, ``metrics`` (name -> value of the metrics that decide) and
        the metric that set its severity: ``metric``, ``value``, ``threshold``
        (the threshold of that severity).
    """
    rank = {"critical": 0, "warning": 1}
    out = [_column_entry(c) for c in result.get("columns", []) if c.get("status") == "drift"]
    return sorted(out, key=lambda c: rank.get(str(c["severity"]), 2))


def multivariate_entry(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``multivariate`` entry of an event from a drift result, or None when the
    result has no ``multivariate_auc`` (see the module docstring)."""
    raw = next((m for m in result.get("metrics") or () if m.get("name") == "multivariate_auc"), None)
    if raw is None:
        return None
    detail, severity = raw.get("detail") or {}, raw.get("severity") or "none"
    return {"metric": "multivariate_auc", "value": raw.get("value"), "p_value": raw.get("p_value"),
            "severity": severity, "threshold": raw.get(severity) if severity != "none" else raw.get("warning"),
            "top_columns": list(detail.get("top_columns") or ()), "reason": detail.get("reason")}


def _column_entry(column: Mapping[str, Any]) -> dict[str, Any]:
    deciding = [m for m in column.get("metrics", []) if m.get("decides")]
    severity = column.get("severity")
    worst = next((m for m in deciding if m.get("severity") == severity), None)
    return {
        "column": column["column"],
        "severity": severity,
        "metrics": {m["name"]: m["value"] for m in deciding},
        "metric": worst["name"] if worst else None,
        "value": worst["value"] if worst else None,
        "threshold": worst.get(str(severity)) if worst else None,
    }


def build_payload(
    *,
    event: str,
    episode_id: str,
    episode_started_at: datetime,
    dataset: str,
    monitor: str,
    baseline: str,
    target: str,
    verdict: Mapping[str, Any],
    columns: Sequence[Mapping[str, Any]],
    changes: Mapping[str, Any] | None,
    report_path: str | None,
    report_url: str | None,
    created_at: datetime,
    message_id: str,
    baseline_kind: str | None = None,
    baseline_snapshots: Sequence[str] | None = None,
    condition: Mapping[str, Any] | None = None,
    drifted_segments: Sequence[Mapping[str, Any]] | None = None,
    multivariate: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of one episode event (see the module docstring).

    :param event: one of :data:`EVENTS`, or of :data:`CONDITION_EVENTS` with ``condition``.
    :param condition: ``{"kind", "detail"}`` of a condition event; the payload
        then has it under ``condition`` (drift events have no such key).
    :param baseline_snapshots: every baseline snapshot, oldest first; default
        ``[baseline]``.
    :param columns: :func:`drifted_columns` of the run.
    :param drifted_segments: the drifted segments of a monitor with
        ``segments`` (``{segment, severity, columns, magnitude}`` each); the
        payload has ``drifted_segments`` only when given.
    :param multivariate: :func:`multivariate_entry` of the run; the payload has
        ``multivariate`` only when given.
    :param report_path: relative to ``reports_dir`` (:func:`report_location`).
    :param created_at: when the run compared; a naive datetime is taken as UTC.
    :returns: a JSON-able dict: NaN and infinity become ``None``, numpy scalars
        Python numbers, times ISO 8601 in UTC.
    :raises ValueError: when ``event`` is not one of :data:`EVENTS`.
    """
    if event not in (CONDITION_EVENTS if condition is not None else EVENTS):
        known = ", ".join(CONDITION_EVENTS if condition is not None else EVENTS)
        raise ValueError(f"unknown event {event!r}; expected one of {known}")
    payload = {
        "event": event, "episode_id": episode_id, "episode_started_at": episode_started_at,
        "dataset": dataset, "monitor": monitor, "baseline_snapshot": baseline, "target_snapshot": target,
        "baseline_kind": baseline_kind,
        "baseline_snapshots": list(baseline_snapshots) if baseline_snapshots else [baseline],
        "verdict": dict(verdict), "drifted_columns": [dict(c) for c in columns],
        "changes": dict(changes) if changes is not None else None,
        "report_path": report_path, "report_url": report_url, "created_at": created_at,
        "idempotency_key": message_id,
    }
    if condition is not None:
        payload["condition"] = dict(condition)
    if drifted_segments is not None:
        payload["drifted_segments"] = [dict(s) for s in drifted_segments]
    if multivariate is not None:
        payload["multivariate"] = dict(multivariate)
    result: dict[str, Any] = _jsonable(payload)
    return result


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _jsonable(value: Any) -> Any:
    """``value`` with every part turned into a JSON type (NaN/inf -> None)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return str(value)


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """The request body: compact JSON with sorted keys, UTF-8.

    Non-JSON values are converted as in :func:`build_payload`, so this never
    fails on NaN or numpy scalars.
    """
    text = json.dumps(_jsonable(payload), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.encode("utf-8")


# ------------------------------------------------------------------------ Slack


def slack_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook body for an event payload.

    :returns: ``{"text": one-line summary, "blocks": [...]}``: a header, the
        dataset, monitor and verdict, the top :data:`SLACK_TOP_COLUMNS` drifted
        columns with their metric, value and threshold, and a link to the report
        when the payload has a ``report_url``.
    """
    verdict = payload.get("verdict") or {}
    title = _TITLES.get(str(payload.get("event")), str(payload.get("event")))
    text = (f"{title}: dataset {payload.get('dataset')} (monitor {payload.get('monitor')}), "
            f"severity {verdict.get('severity')}, {verdict.get('drifted_columns', 0)} drifted column(s)")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "fields": [
            _mrkdwn(f"*Dataset*\n`{payload.get('dataset')}`"),
            _mrkdwn(f"*Monitor*\n`{payload.get('monitor')}`"),
            _mrkdwn(f"*Verdict*\n{verdict.get('severity')}, {verdict.get('drifted_columns', 0)} of "
                    f"{verdict.get('columns_compared', '?')} columns drifted"),
            _mrkdwn(f"*Snapshots*\n`{payload.get('baseline_snapshot')}`{_merged(payload)} → "
                    f"`{payload.get('target_snapshot')}`"),
        ]},
    ]
    if isinstance(payload.get("condition"), Mapping):
        text = f"{title}: dataset {payload.get('dataset')} (monitor {payload.get('monitor')}): " \
               f"{payload['condition'].get('detail')}"
        blocks.append({"type": "section", "text": _mrkdwn(f"*{payload['condition'].get('kind')}*\n"
                                                             f"{payload['condition'].get('detail')}")})
    lines = [_slack_column(c) for c in list(payload.get("drifted_columns") or [])[:SLACK_TOP_COLUMNS]]
    joint = payload.get("multivariate") or {}
    if joint.get("severity", "none") != "none":
        top = ", ".join(str(c["column"]) for c in joint.get("top_columns") or [])
        blocks.append({"type": "section", "text": _mrkdwn(
            f"*Multivariate* {joint['severity']}: multivariate_auc {_number(joint.get('value'))} "
            f">= {_number(joint.get('threshold'))}, most through {top or '?'}")})
    if lines:
        blocks.append({"type": "section", "text": _mrkdwn("*Top drifted columns*\n" + "\n".join(lines))})
    if payload.get("report_url"):
        blocks.append({"type": "section", "text": _mrkdwn(f"<{payload['report_url']}|Open the drift report>")})
    return {"text": text, "blocks": blocks}


def _merged(payload: Mapping[str, Any]) -> str:
    """`` (merge of N)`` when the baseline merges several snapshots, else ``""``."""
    count = len(payload.get("baseline_snapshots") or ())
    return f" (merge of {count})" if count > 1 else ""


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _slack_column(column: Mapping[str, Any]) -> str:
    line = f"• `{column.get('column')}` ({column.get('severity')})"
    if column.get("metric"):
        line += f": {column['metric']} {_number(column.get('value'))} (threshold {_number(column.get('threshold'))})"
    return line


def _number(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) else "n/a"
