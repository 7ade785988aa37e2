"""The monitor section: schedule, baseline, thresholds, alerts, window, expect,
segments, retention and the engine that profiles."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from monitor.config.datasets import _Model
from monitor.durations import crontab_line, parse_duration, parse_lag, parse_window_size, zone_of


class Schedule(_Model):
    """When a monitor runs: exactly one of ``every`` (a duration such as ``10m``) or
    ``cron`` (five fields, read in ``timezone``, an IANA name, default UTC)."""

    every: str | None = Field(default=None, description="run every this long: 30s, 10m, 1h, 1d or 1w")
    cron: str | None = Field(default=None, description="run at the times of a five-field cron line, e.g. '0 6 * * mon'")
    timezone: str = Field(default="UTC", description="IANA time zone a cron line is read in, e.g. Europe/Paris")

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        zone_of(value)
        return value

    @field_validator("every")
    @classmethod
    def _check_every(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(crontab_line(value), timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' or 'cron'")
        return self

    @property
    def interval(self) -> timedelta | None:
        """The interval of an ``every`` schedule, else ``None``."""
        return parse_duration(self.every) if self.every else None


class ThresholdConfig(_Model):
    """The two severities of one metric's threshold; either may be omitted."""

    warning: float | None = None
    critical: float | None = None


class BaselineDataset(_Model):
    """Baseline taken from another dataset's latest completed snapshot (e.g. the
    training data), as Azure ML dataset monitors do."""

    dataset: str = Field(description="the dataset whose latest completed snapshot is the baseline")


class BaselineOffset(_Model):
    """Baseline: the monitor's latest completed snapshot taken at least ``offset``
    before the target (by the snapshot's time: its data window's start when it
    has one, else when it was taken), e.g. ``{offset: 7d}`` for week-over-week."""

    offset: str = Field(description="how much older than the target (30s, 10m, 1h, 1d, 1w)")

    @field_validator("offset")
    @classmethod
    def _check_offset(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def delta(self) -> timedelta:
        """``offset`` as a timedelta."""
        return parse_duration(self.offset)


class BaselineTrailing(_Model):
    """Baseline: the merge of the monitor's last ``trailing`` completed snapshots
    before the target (fewer at the start; none on the first run)."""

    trailing: int = Field(ge=1, description="how many of the monitor's previous snapshots are merged")


class BaselineVersion(_Model):
    """Baseline: the latest completed snapshot of version ``version`` of the
    monitor's dataset (the definition as it was registered then)."""

    version: int = Field(ge=1, description="the dataset version (1 = its first definition)")


_BASELINE_FORMS = {"dataset": BaselineDataset, "offset": BaselineOffset, "trailing": BaselineTrailing,
                   "version": BaselineVersion}
_BASELINE_TAG = "baseline-form:"  # dropped from error key paths by _flatten


def _baseline_form(value: Any) -> str | None:
    """The tag of the baseline form ``value`` has: ``name`` for a string, else
    the one key of :data:`_BASELINE_FORMS` it holds (``None``: not one form)."""
    if isinstance(value, str):
        return _BASELINE_TAG + "name"
    if isinstance(value, BaseModel):
        keys = [key for key, model in _BASELINE_FORMS.items() if isinstance(value, model)]
    elif isinstance(value, dict):
        keys = [key for key in _BASELINE_FORMS if key in value]
    else:
        keys = []
    return _BASELINE_TAG + keys[0] if len(keys) == 1 else None


BaselineChoice = Annotated[
    Annotated[str, Tag(_BASELINE_TAG + "name")] | Annotated[BaselineDataset, Tag(_BASELINE_TAG + "dataset")] | Annotated[BaselineOffset, Tag(_BASELINE_TAG + "offset")] | Annotated[BaselineTrailing, Tag(_BASELINE_TAG + "trailing")] | Annotated[BaselineVersion, Tag(_BASELINE_TAG + "version")],
    Discriminator(
        _baseline_form, custom_error_type="baseline_form",
        custom_error_message="expected first, previous, a snapshot name, or a mapping with exactly one of "
                             "dataset, offset, trailing, version (e.g. {trailing: 4})",
    ),
]
"""What ``monitors.NAME.baseline`` accepts: ``first``, ``previous`` or a snapshot
name (strings), or one of the mappings :class:`BaselineDataset`,
:class:`BaselineOffset`, :class:`BaselineTrailing`, :class:`BaselineVersion`."""


class AlertConfig(_Model):
    """When a monitor's drift episodes are notified (the lifecycle Alertmanager uses).

    An episode opens when a run's severity reaches ``min_severity`` and lasts
    until the first run below it: ``drift.detected`` when it opens,
    ``drift.repeated`` every ``repeat_interval`` while it lasts (and at once when
    the severity rises), ``drift.resolved`` when it ends if ``send_resolved``.
    """

    min_severity: Literal["warning", "critical"] = Field(
        default="warning", description="the severity that opens an episode"
    )
    repeat_interval: str = Field(default="4h", description="resend an open episode after this long (30s, 10m, 4h, 1d)")
    send_resolved: bool = Field(default=True, description="send drift.resolved when the episode ends")

    @field_validator("repeat_interval")
    @classmethod
    def _check_repeat(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def repeat_after(self) -> timedelta:
        """``repeat_interval`` as a timedelta."""
        return parse_duration(self.repeat_interval)


class WindowConfig(_Model):
    """The time window each run profiles: the newest complete one, cut on the
    dataset's ``timestamp_column`` (``window_start <= time < window_end``).

    Windows are aligned to the day, the ISO week (Monday) or the calendar month
    in the schedule's ``timezone`` (UTC by default); a window of hours or
    minutes tiles the day from midnight. A window is complete once it ended at
    least ``lag`` ago.
    """

    size: str = Field(description="1d, 1w (ISO week), 1M (calendar month), or a duration dividing a day (6h, 30m)")
    lag: str = Field(default="0", description="a window counts as complete this long after it ends (late data)")

    @field_validator("size")
    @classmethod
    def _check_size(cls, value: str) -> str:
        parse_window_size(value)
        return value

    @field_validator("lag")
    @classmethod
    def _check_lag(cls, value: str) -> str:
        parse_lag(value)
        return value

    @property
    def lag_delta(self) -> timedelta:
        """``lag`` as a timedelta."""
        return parse_lag(self.lag)


class RowsExpectation(_Model):
    """How many rows a run's snapshot is expected to have (the ``volume`` condition)."""

    min: int | None = Field(default=None, ge=0, description="fewer rows than this raises 'volume'")
    relative_change: float | None = Field(
        default=None, gt=0, description="|rows - baseline rows| / baseline rows above this raises 'volume'")


class ExpectConfig(_Model):
    """Fresh data (``data.stale``) and a usual row count (``volume``); see
    :mod:`monitor.service.conditions`."""

    new_data_within: str | None = Field(default=None, description="the input files change at least this often")
    rows: RowsExpectation = Field(default=RowsExpectation(), description="the volume condition: {min, relative_change}")

    @field_validator("new_data_within")
    @classmethod
    def _check_within(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def stale_after(self) -> timedelta | None:
        """``new_data_within`` as a timedelta, ``None`` when not set."""
        return None if self.new_data_within is None else parse_duration(self.new_data_within)


class SegmentsConfig(_Model):
    """Profile and compare each value of a column separately (see
    :mod:`monitor.service.segments`): the ``max`` values with the most rows in
    the target are compared one by one, the rest together as ``(other)``."""

    column: str = Field(description="the column whose values are the segments, e.g. carrier")
    max: int = Field(default=20, ge=1, le=200, description="segments compared one by one; the rest are '(other)'")


def _check_age(value: str | None) -> str | None:
    if value is not None:
        parse_duration(value)
    return value


class DataCopyRetention(_Model):
    """How long a monitor's snapshots keep their data copies (the Parquet
    files): past it the copy is deleted, the snapshot and its profile stay."""

    keep_last: int | None = Field(
        default=None, ge=1, description="keep the data copies of this many of the monitor's newest snapshots")
    max_age: str | None = Field(
        default=None, description="delete the data copies of snapshots older than this (30s, 10m, 1h, 7d, 1w)")

    _check_max_age = field_validator("max_age")(_check_age)

    @property
    def age_limit(self) -> timedelta | None:
        """``max_age`` as a timedelta, ``None`` when not set."""
        return None if self.max_age is None else parse_duration(self.max_age)


class RetentionConfig(_Model):
    """Which of a monitor's snapshots are kept: a snapshot goes when it is
    outside the newest ``keep_last`` or older than ``max_age`` (either rule is
    enough), unless something still needs it (see
    :mod:`monitor.service.retention`). Applied after each run and backfill of
    the monitor, and by ``drift-monitor prune``."""

    keep_last: int | None = Field(default=None, ge=1, description="keep this many of the monitor's newest snapshots")
    max_age: str | None = Field(
        default=None, description="remove snapshots older than this (30s, 10m, 1h, 90d, 1w), by their time")
    data_copies: DataCopyRetention = Field(
        default=DataCopyRetention(), description="how long the snapshots keep their data copies: {keep_last, max_age}")

    _check_max_age = field_validator("max_age")(_check_age)

    @property
    def age_limit(self) -> timedelta | None:
        """``max_age`` as a timedelta, ``None`` when not set."""
        return None if self.max_age is None else parse_duration(self.max_age)


SCHEDULER_SCHEMES = ("tcp", "tls")
_SCHEDULER = re.compile(r"^(?P<scheme>[a-z]+)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})/?$")


def check_scheduler(value: str) -> str:
    """A Dask scheduler address ``tcp://HOST:PORT`` (or ``tls://``), as given.

    :raises ValueError: when it is not one.
    """
    match = _SCHEDULER.match(value)
    if match is None or match["scheme"] not in SCHEDULER_SCHEMES or not 0 < int(match["port"]) <= 65535:
        raise ValueError(f"expected a Dask scheduler address such as tcp://10.0.0.5:8786, got {value!r}")
    return value


def _check_optional_scheduler(value: str | None) -> str | None:
    return None if value is None else check_scheduler(value)


class DaskConfig(_Model):
    """The Dask cluster of a monitor with ``engine: dask``: a running
    scheduler's address, or (none given) a ``LocalCluster`` of worker
    processes started on this machine for each snapshot or backfill."""

    scheduler: str | None = Field(
        default=None, description="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786; "
                                  "omitted: a LocalCluster on this machine")
    workers: int | None = Field(
        default=None, ge=1, description="worker processes of the LocalCluster (default: the CPUs); "
                                        "not with scheduler")

    _check_scheduler = field_validator("scheduler")(_check_optional_scheduler)

    @model_validator(mode="after")
    def _workers_local(self) -> DaskConfig:
        if self.scheduler is not None and self.workers is not None:
            raise ValueError("workers sizes the LocalCluster started when no scheduler is given; "
                             "a running scheduler has its own workers")
        return self


class MonitorConfig(_Model):
    """A scheduled comparison of a dataset's new snapshot with its baseline."""

    dataset: str = Field(description="the dataset snapshotted (the target), a key of datasets")
    schedule: Schedule = Field(description="when the monitor runs: {every: 1d} or {cron: '0 6 * * *', timezone: UTC}")
    baseline: BaselineChoice = Field(
        default="first",
        description="'first' (the dataset's first snapshot), 'previous' (this monitor's previous snapshot), "
                    "a snapshot name, {dataset: NAME}, {offset: 7d}, {trailing: N} or {version: K}",
    )
    data_copy: bool = Field(default=False, description="store a Parquet copy of the data with each snapshot")
    thresholds: dict[str, Any] = Field(
        default_factory=dict,
        description="metric -> {warning, critical}; 'columns' -> column -> metric -> {warning, critical}",
    )
    min_values: int = Field(default=100, ge=1, description="fewer values on either side: 'insufficient data'")
    fdr: float = Field(default=0.05, gt=0, lt=1, description="Benjamini-Hochberg false-discovery rate")
    false_alarm_rate: float = Field(
        default=0.01, gt=0, lt=1,
        description="probability that a comparison without drift raises any alarm (split over the deciding pairs)",
    )
    webhooks: tuple[str, ...] = Field(default=(), description="names of the webhooks alerted, keys of webhooks")
    alert: AlertConfig = Field(
        default=AlertConfig(),
        description="when drift episodes are notified: {min_severity, repeat_interval, send_resolved}",
    )
    window: WindowConfig | None = Field(
        default=None, description="profile the newest complete time window of the dataset instead of all its rows",
    )
    expect: ExpectConfig = Field(default=ExpectConfig(), description="freshness and volume conditions")
    segments: SegmentsConfig | None = Field(
        default=None, description="also profile and compare each value of a column: {column: carrier, max: 20}",
    )
    retention: RetentionConfig | None = Field(
        default=None, description="remove old snapshots and data copies: {keep_last, max_age, data_copies}; "
                                  "default: keep everything",
    )
    enabled: bool = Field(default=True, description="false keeps the monitor in the file but never runs it")
    multivariate: bool = Field(
        default=False, description="also test drift across columns: a domain classifier on a sample of whole rows "
                                   "(numeric and categorical columns; multivariate_auc), kept in every snapshot "
                                   "of the dataset")
    engine: Literal["local", "dask"] = Field(
        default="local", description="where snapshots are profiled: local (this machine's processes) or dask "
                                     "(the workers of a Dask cluster, partial profiles merged)")
    dask: DaskConfig = Field(
        default=DaskConfig(), description="the Dask cluster of engine dask: {scheduler: tcp://HOST:PORT} or "
                                          "{workers: N} for a LocalCluster")

    @model_validator(mode="after")
    def _segments_alone(self) -> MonitorConfig:
        if self.segments is not None and (self.window is not None or self.data_copy):
            raise ValueError("segments cannot be combined with window or data_copy yet")
        return self

    @model_validator(mode="after")
    def _dask_profiles_only(self) -> MonitorConfig:
        if self.engine == "dask" and (self.data_copy or self.segments is not None):
            raise ValueError("engine dask profiles on the cluster's workers; it cannot be combined with "
                             "data_copy or segments (use engine: local)")
        return self
