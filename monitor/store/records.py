"""The frozen records the store hands to callers, and the status values they carry.

Callers get these, never database rows; :mod:`monitor.store.codec` builds them
from rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SnapshotStatus = Literal["running", "completed", "failed"]
AlertStatus = Literal["pending", "delivered", "failed"]
EpisodeStatus = Literal["open", "resolved"]
FingerprintKind = Literal["metadata", "content"]

INTERRUPTED_REASON = "interrupted: the process stopped before the snapshot completed"
"""The reason :meth:`Store.recover_interrupted` gives the snapshots it fails."""

IMPORTING_REASON = "importing: the snapshot is being imported from a snapshot file"
"""The reason a running snapshot carries while :meth:`Store.import_snapshot`
inserts it; recovery deletes such a snapshot (and its data-copy files) when its
owner is gone, instead of failing it."""

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """One version of a dataset definition.

    :ivar id: row id.
    :ivar name: the dataset's name, unique together with ``version``.
    :ivar version: 1 for the first registration, +1 for each changed definition.
    :ivar definition: the JSON-able definition dict as registered (keys sorted).
    :ivar description: free text given at registration ("" when none).
    :ivar created_at: when this version was registered (UTC).
    :ivar definition_hash: SHA-256 hex of the definition's canonical JSON (keys
        sorted, no spaces); no two versions of a name have the same.
    :ivar settings: the JSON-able settings that are not part of the version
        (e.g. ``{"fingerprint": "content"}``), as last registered with it.
    """

    id: int
    name: str
    version: int
    definition: JsonDict
    description: str
    created_at: datetime
    definition_hash: str = ""
    settings: JsonDict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """A snapshot: a profile of a dataset at a moment, plus an optional data copy.

    :ivar status: ``"running"`` until :meth:`Store.complete_snapshot` or
        :meth:`Store.fail_snapshot`; only a completed snapshot has a profile.
    :ivar reason: why a failed snapshot failed; ``None`` otherwise.
    :ivar completed_at: when it completed (UTC); ``None`` unless completed.
    :ivar row_count: number of rows profiled; ``None`` unless completed.
    :ivar fingerprint: the source's input fingerprint; ``None`` unless completed.
    :ivar fingerprint_kind: what ``fingerprint`` is made of: ``"metadata"`` (each
        file's path, size and modification time) or ``"content"`` (each file's
        bytes); ``None`` unless completed.
    :ivar data_copy: absolute path of the Parquet data copy, or ``None``.
    :ivar profile_version: the profile's ``"format_version"``; ``None`` unless
        completed.
    :ivar window_start: for a snapshot of a time window, its start (UTC): the
        rows with ``window_start <= time < window_end``; ``None`` for a
        snapshot of the whole dataset.
    :ivar window_end: the window's end (UTC, excluded); ``None`` likewise.
    """

    id: int
    dataset: str
    dataset_version: int
    name: str
    monitor: str | None
    created_at: datetime
    completed_at: datetime | None
    status: SnapshotStatus
    reason: str | None
    row_count: int | None
    fingerprint: str | None
    data_copy: str | None
    profile_version: int | None
    window_start: datetime | None = None
    window_end: datetime | None = None
    fingerprint_kind: str | None = None


@dataclass(frozen=True, slots=True)
class ComparisonRecord:
    """The stored result of comparing a target snapshot with a baseline snapshot.

    :ivar drifted: the dataset verdict.
    :ivar severity: the worst severity found (e.g. ``"none"``, ``"warning"``,
        ``"critical"``; the store does not interpret it).
    :ivar result: the JSON-able result dict as recorded.
    :ivar report_path: where the HTML report was written, or ``None``.
    :ivar baseline_spec: what the baseline was, as the caller recorded it (the
        runner: ``{"kind", "config", "snapshots", "snapshot_ids", ...}``, see
        :mod:`monitor.service.baselines`); ``None`` when not recorded. With
        several baseline snapshots, ``baseline_snapshot_id``/``baseline_name``
        name one of them (the runner: the newest).
    :ivar baseline_snapshot_id: the id of the baseline snapshot;
        ``target_snapshot_id`` the target's. A snapshot removed by retention
        (:meth:`Store.prune <monitor.store.Store.prune>`) leaves its
        comparisons, whose ids then name no snapshot (ids are never reused).
    :ivar target_time: the time the target stands for, as it was recorded:
        its data window's start, else when it was taken (UTC); ``None`` only
        for a comparison whose target was gone before schema migration 9.
    """

    id: int
    monitor: str | None
    dataset: str
    baseline_snapshot_id: int
    target_snapshot_id: int
    baseline_name: str
    target_name: str
    created_at: datetime
    drifted: bool
    severity: str
    result: JsonDict
    report_path: str | None
    baseline_spec: JsonDict | None = None
    target_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ComparisonSummary:
    """A comparison without its full result: what a listing shows.

    :ivar verdict: the result's ``verdict`` object as recorded (``drifted``,
        ``severity``, ``status``, ``drifted_columns``, ``columns_compared``,
        ``magnitude``, ...); ``{}`` when the result has none.
    The other fields are those of :class:`ComparisonRecord`.
    """

    id: int
    monitor: str | None
    dataset: str
    baseline_snapshot_id: int
    target_snapshot_id: int
    baseline_name: str
    target_name: str
    created_at: datetime
    drifted: bool
    severity: str
    verdict: JsonDict
    report_path: str | None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert in the outbox: one event of a drift episode for one webhook.

    The outbox names the webhook only; its URL, headers and secret are read
    from the configuration at each attempt.

    :ivar comparison_id: the comparison whose run raised the event.
    :ivar episode_id: the row id of the episode (``None`` for alerts queued
        before episodes existed).
    :ivar event: ``"drift.detected"``, ``"drift.repeated"`` or ``"drift.resolved"``.
    :ivar status: ``"pending"`` until delivered, or ``"failed"`` once given up.
    :ivar attempts: number of delivery attempts made so far.
    :ivar next_attempt_at: when the next attempt is due (UTC); while an attempt
        is in flight, when its lease ends.
    :ivar idempotency_key: the message id (``webhook-id``), the same on every
        attempt; unique per webhook.
    """

    id: int
    comparison_id: int
    webhook: str
    payload: JsonDict
    idempotency_key: str
    status: AlertStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    episode_id: int | None = None
    event: str = "drift.detected"


@dataclass(frozen=True, slots=True)
class EpisodeRecord:
    """A drift episode: the runs of one monitor from the first that reached its
    ``min_severity`` to the first that did not.

    :ivar key: the episode's id in payloads (``episode_id``), 32 hex characters.
    :ivar status: ``"open"`` or ``"resolved"``; a monitor has at most one open.
    :ivar severity: the severity of the latest run in the episode.
    :ivar columns: the drifted column names of the latest run.
    :ivar runs: how many runs the episode has lasted.
    :ivar notified_at: when an event of this episode was last queued (UTC).
    :ivar notified_severity: the severity that event carried.
    :ivar notified_columns: the drifted columns that event carried.
    :ivar kind: what the episode is of: ``"drift"``, or a condition
        (``"data.stale"``, ``"volume"``, see :mod:`monitor.service.conditions`);
        a monitor has at most one open episode of each kind.
    """

    id: int
    key: str
    monitor: str
    dataset: str
    status: EpisodeStatus
    opened_at: datetime
    resolved_at: datetime | None
    severity: str
    columns: list[str]
    runs: int
    last_comparison_id: int | None
    notified_at: datetime | None
    notified_severity: str | None
    notified_columns: list[str]
    kind: str = "drift"


@dataclass(frozen=True, slots=True)
class EpisodeStep:
    """What one run does to its monitor's episode, decided from the stored state.

    :ivar status: the episode's status after the run (``"open"``/``"resolved"``);
        ``None`` when there is no episode (nothing drifted, none open).
    :ivar key: the episode key to create when the run opens an episode.
    :ivar severity: the run's severity; ``columns`` its drifted columns.
    :ivar event: the event to queue, or ``None`` to queue nothing.
    :ivar alerts: ``(webhook, payload, message id)`` for each alert to queue.
    """

    status: EpisodeStatus | None
    key: str
    severity: str
    columns: list[str]
    event: str | None = None
    alerts: tuple[tuple[str, JsonDict, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One delivery attempt of an alert, numbered from 1.

    :ivar status_code: the HTTP status answered, or ``None`` when no answer came.
    :ivar error: what went wrong, or ``None``.
    """

    alert_id: int
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    delivered: bool


@dataclass(frozen=True, slots=True)
class WebhookState:
    """A webhook disabled (by an HTTP 410) until its configuration changes.

    :ivar config_digest: the salted digest of the configuration it was disabled
        with, as the caller gave it.
    """

    webhook: str
    disabled_at: datetime
    reason: str
    config_digest: str
