"""Drift episodes: which runs send an alert, as Alertmanager groups and repeats.

An episode of a monitor opens with the first run whose severity reaches the
monitor's ``alert.min_severity`` and lasts while later runs do; its identity is
the monitor (the drifted columns and the severity may change inside it). The
events:

* ``drift.detected``: the run opened the episode;
* ``drift.repeated``: the episode is still open and ``alert.repeat_interval``
  has passed since its last event, or the severity rose above the one last
  sent (then at once);
* ``drift.resolved``: the first run below ``min_severity`` (when
  ``alert.send_resolved``); the episode is closed either way.

Other runs send nothing. The conditions of :mod:`monitor.service.conditions`
(``data.stale``, ``volume``) keep episodes of their own kind by the same rules
(:func:`decide` with ``kind``), their events named ``<kind>.detected`` and so on. The decision is taken from the notification state the
store keeps with the episode (when the last event was queued, with which
severity and columns), read and written in the same transaction as the alerts
it queues (:meth:`Store.step_episode`), never from state the caller holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from monitor.config import AlertConfig, Config
from monitor.service.payload import build_payload, message_id_for

if TYPE_CHECKING:
    from monitor.store import AlertRecord, EpisodeRecord, EpisodeStep, Store

__all__ = ["SEVERITY_RANK", "RunFinding", "decide", "is_active", "record_run"]

SEVERITY_RANK = {"none": 0, "warning": 1, "critical": 2}
"""Severities from least to most severe; unknown severities rank as ``none``."""

Now = Callable[[], datetime]
Status = Literal["open", "resolved"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class RunFinding:
    """What one compared run of a monitor found, as the alert needs it.

    :ivar verdict: the drift result's verdict dict (``drifted``, ``severity``, ...).
    :ivar columns: :func:`monitor.service.payload.drifted_columns` of the result.
    :ivar report_path: the report's path relative to ``reports_dir``.
    :ivar report_url: its URL when ``report_url_base`` is set.
    :ivar baseline_kind: the kind of baseline (``first``, ``previous``,
        ``trailing``, ...; see :mod:`monitor.service.baselines`), ``None`` when unknown.
    :ivar baseline_snapshots: every baseline snapshot, oldest first (``baseline``
        is the newest); empty means ``(baseline,)``.
    """

    monitor: str
    dataset: str
    comparison_id: int
    baseline: str
    target: str
    verdict: dict[str, Any]
    columns: list[dict[str, Any]]
    report_path: str | None
    report_url: str | None
    created_at: datetime
    baseline_kind: str | None = None
    baseline_snapshots: tuple[str, ...] = ()
    segments: list[dict[str, Any]] | None = None
    """The drifted segments (:func:`monitor.service.segments.drifted_segments`);
    ``None`` for a monitor without segments."""
    multivariate: dict[str, Any] | None = None
    """The multivariate test (:func:`monitor.service.payload.multivariate_entry`);
    ``None`` for a monitor without ``multivariate``."""

    @property
    def severity(self) -> str:
        """The run's severity (``none``, ``warning`` or ``critical``)."""
        return str(self.verdict.get("severity") or "none")

    @property
    def column_names(self) -> list[str]:
        """The drifted column names, worst first."""
        return [str(c["column"]) for c in self.columns]


def is_active(verdict: dict[str, Any], policy: AlertConfig) -> bool:
    """True when a run's verdict keeps (or opens) an episode: drifted at
    ``policy.min_severity`` or worse."""
    severity = SEVERITY_RANK.get(str(verdict.get("severity")), 0)
    return bool(verdict.get("drifted")) and severity >= SEVERITY_RANK[policy.min_severity]


def decide(
    current: EpisodeRecord | None, active: bool, severity: str, policy: AlertConfig, now: datetime,
    kind: str = "drift",
) -> tuple[Status | None, str | None]:
    """The episode status after a run and the event it sends.

    :param current: the monitor's open episode of ``kind``, or ``None``.
    :param active: :func:`is_active` of the run (for a condition: whether the
        run has it).
    :param kind: ``drift`` or a condition kind; the events are named
        ``<kind>.detected``, ``<kind>.repeated`` and ``<kind>.resolved``.
    :returns: ``(status, event)``: status ``"open"``, ``"resolved"`` or ``None``
        (no episode); event one of the three or ``None``.
    """
    if current is None:
        return ("open", f"{kind}.detected") if active else (None, None)
    if not active:
        return "resolved", f"{kind}.resolved" if policy.send_resolved else None
    rose = SEVERITY_RANK.get(severity, 0) > SEVERITY_RANK.get(current.notified_severity or "none", 0)
    due = current.notified_at is None or now - current.notified_at >= policy.repeat_after
    return "open", f"{kind}.repeated" if rose or due else None


def record_run(
    store: Store, config: Config, finding: RunFinding, *, now: Now = _utcnow
) -> tuple[EpisodeRecord | None, list[AlertRecord]]:
    """Apply a compared run to its monitor's episode and queue the event it sends.

    One alert is queued per webhook of the monitor, in the same transaction as
    the episode's new state.

    :returns: the episode after the run (``None`` when there is none) and the
        alerts queued (empty when the run sends nothing).
    :raises StoreError: when the store cannot be read or written.
    """
    mon = config.monitors[finding.monitor]
    active = is_active(finding.verdict, mon.alert)
    webhooks = [w for w in dict.fromkeys(mon.webhooks) if w in config.webhooks]

    def plan(current: EpisodeRecord | None) -> EpisodeStep:
        return _plan_step(current, finding, active, mon.alert, webhooks, now())

    return store.step_episode(finding.monitor, finding.dataset, finding.comparison_id, plan)


def _plan_step(
    current: EpisodeRecord | None, finding: RunFinding, active: bool, policy: AlertConfig,
    webhooks: Sequence[str], now: datetime,
) -> EpisodeStep:
    from monitor.store import EpisodeStep

    status, event = decide(current, active, finding.severity, policy, now)
    key = current.key if current is not None else uuid.uuid4().hex
    step = EpisodeStep(status, key, finding.severity, finding.column_names)
    if event is None or status is None:
        return step
    started = current.opened_at if current is not None else now
    message_id = message_id_for(key, event, finding.comparison_id)
    payload = build_payload(
        event=event, episode_id=key, episode_started_at=started, dataset=finding.dataset,
        monitor=finding.monitor, baseline=finding.baseline, target=finding.target,
        baseline_kind=finding.baseline_kind, baseline_snapshots=finding.baseline_snapshots or None,
        verdict=finding.verdict, columns=finding.columns, changes=_changes(current, finding),
        report_path=finding.report_path, report_url=finding.report_url,
        created_at=finding.created_at, message_id=message_id, drifted_segments=finding.segments,
        multivariate=finding.multivariate,
    )
    alerts = tuple((name, payload, message_id) for name in webhooks)
    return EpisodeStep(step.status, key, step.severity, step.columns, event, alerts)


def _changes(current: EpisodeRecord | None, finding: RunFinding) -> dict[str, Any] | None:
    """How the run differs from the episode's last event (``None`` for a new episode)."""
    if current is None:
        return None
    before, now_ = current.notified_columns, finding.column_names
    return {
        "previous_severity": current.notified_severity,
        "new_columns": [c for c in now_ if c not in before],
        "cleared_columns": [c for c in before if c not in now_],
    }
