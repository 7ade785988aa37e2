"""YAML configuration → validated, frozen models.

The file is read with ``yaml.safe_load``; ``${NAME}`` anywhere in a string value is
replaced by the environment variable ``NAME`` (``${NAME:-default}`` gives a
default). A variable that is not set is an error, never an empty string. Every
model forbids unknown keys, and :func:`load_config` raises one
:class:`~monitor.errors.ConfigError` listing every problem with its key path, e.g.
``monitors.flights.schedule.every: expected a duration like 10m, 1h or 1d``.

Relative paths in the file are resolved against the folder of the file, so a
config works from any working directory.

Example::

    store: ./store/monitor.db
    reports_dir: ./reports
    datasets:
      flights:
        path: ./data/flights/          # a file, a folder or a glob; or a list
        format: parquet                # csv | parquet | jsonl; else from the extension
        columns: {exclude: [tailnum]}
        types: {flight: string}
        timestamp_column: time_hour    # needed by a monitor's window
    monitors:
      flights-daily:
        dataset: flights
        schedule: {every: 1d}          # or {cron: "0 6 * * *", timezone: Europe/Paris}
        baseline: first                # first | previous | a snapshot name | {dataset: other}
                                       # | {offset: 7d} | {trailing: 4} | {version: 2}
        data_copy: false
        window: {size: 1d, lag: 2h}    # profile yesterday's rows (1d | 1w | 1M | 6h ...)
        thresholds:
          psi: {warning: 0.1, critical: 0.25}
          columns:
            dep_delay: {ks_statistic: {warning: 0.15}}
        webhooks: [ops]
    webhooks:
      ops: {url: "https://hooks.example.com/${HOOK_TOKEN}", secret: "${HOOK_SECRET}"}
      team: {url: "https://hooks.slack.com/services/${SLACK_PATH}", format: slack}
    service: {http: "127.0.0.1:9100", stop_timeout: 10}
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from monitor.durations import parse_duration as parse_duration
from monitor.durations import parse_lag as parse_lag
from monitor.durations import parse_window_size as parse_window_size
from monitor.durations import zone_of as zone_of
from monitor.errors import ConfigError

FORMATS = ("csv", "parquet", "jsonl")
KINDS = ("integer", "decimal", "string", "boolean", "datetime", "categorical")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSelection(_Model):
    """Which columns of a dataset are profiled: ``include`` (only these) and/or
    ``exclude`` (all but these)."""

    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()


class DatasetConfig(_Model):
    """A dataset definition: where its files are and how to read them."""

    path: str | tuple[str, ...] = Field(
        description="a file, a folder (every file of the format inside, recursively) or a glob; or a list of them"
    )
    format: Literal["csv", "parquet", "jsonl"] | None = Field(
        default=None, description="file format; inferred from the file extension when omitted"
    )
    columns: ColumnSelection = ColumnSelection()
    types: dict[str, Literal["integer", "decimal", "string", "boolean", "datetime", "categorical"]] = Field(
        default_factory=dict, description="column type overrides, column name -> kind"
    )
    description: str = ""
    timestamp_column: str | None = Field(
        default=None,
        description="a datetime column; a monitor with a window profiles the rows whose time falls in it",
    )

    @property
    def paths(self) -> tuple[str, ...]:
        """The ``path`` entry as a tuple of strings."""
        return (self.path,) if isinstance(self.path, str) else self.path

    @model_serializer(mode="wrap")
    def _without_unset_timestamp(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave ``timestamp_column`` out while it is not set, so the definition
        of a dataset without one stays equal to the one registered before the
        key existed (no new dataset version on upgrade)."""
        data = handler(self)
        if isinstance(data, dict) and data.get("timestamp_column") is None:
            data.pop("timestamp_column", None)
        return data


class Schedule(_Model):
    """When a monitor runs: exactly one of ``every`` (a duration such as ``10m``) or
    ``cron`` (five fields, read in ``timezone``, an IANA name, default UTC)."""

    every: str | None = None
    cron: str | None = None
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
                CronTrigger.from_crontab(value, timezone="UTC")
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

    dataset: str


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
    Union[
        Annotated[str, Tag(_BASELINE_TAG + "name")],
        Annotated[BaselineDataset, Tag(_BASELINE_TAG + "dataset")],
        Annotated[BaselineOffset, Tag(_BASELINE_TAG + "offset")],
        Annotated[BaselineTrailing, Tag(_BASELINE_TAG + "trailing")],
        Annotated[BaselineVersion, Tag(_BASELINE_TAG + "version")],
    ],
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
    rows: RowsExpectation = RowsExpectation()

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


class MonitorConfig(_Model):
    """A scheduled comparison of a dataset's new snapshot with its baseline."""

    dataset: str
    schedule: Schedule
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
    webhooks: tuple[str, ...] = ()
    alert: AlertConfig = AlertConfig()
    window: WindowConfig | None = Field(
        default=None, description="profile the newest complete time window of the dataset instead of all its rows",
    )
    expect: ExpectConfig = Field(default=ExpectConfig(), description="freshness and volume conditions")
    segments: SegmentsConfig | None = Field(
        default=None, description="also profile and compare each value of a column: {column: carrier, max: 20}",
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _segments_alone(self) -> MonitorConfig:
        if self.segments is not None and (self.window is not None or self.data_copy):
            raise ValueError("segments cannot be combined with window or data_copy yet")
        return self


class WebhookConfig(_Model):
    """An HTTP endpoint that receives a JSON POST for each drift episode event.

    The outbox stores the webhook's name only: ``url``, ``headers`` and
    ``secret`` are read from the current configuration at every attempt.
    """

    url: str
    secret: str | None = Field(
        default=None, description="Standard Webhooks secret 'whsec_<base64>'; requests are signed when set"
    )
    format: Literal["standard", "slack"] = Field(
        default="standard", description="'standard': the JSON event, signed; 'slack': an incoming-webhook message"
    )
    timeout: float = Field(default=10.0, gt=0, description="seconds per attempt")
    give_up_after: str = Field(default="24h", description="retry a failing alert for this long after it was queued")
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_attempts" in data:
            raise ValueError("max_attempts was replaced by give_up_after (retries are bounded by time, e.g. 24h)")
        return data

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value is not None and not _ENV.search(value) and not _is_whsec(value):  # unset ${VAR}: reported once
            raise ValueError("expected a Standard Webhooks secret: 'whsec_' followed by base64 (24 to 64 bytes)")
        return value

    @field_validator("give_up_after")
    @classmethod
    def _check_give_up(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def give_up_delta(self) -> timedelta:
        """``give_up_after`` as a timedelta."""
        return parse_duration(self.give_up_after)


def _is_whsec(value: str) -> bool:
    """True for ``whsec_`` + base64 of 24 to 64 bytes (the Standard Webhooks secret form)."""
    if not value.startswith("whsec_"):
        return False
    text = value[len("whsec_"):]
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(key) <= 64


class ServiceConfig(_Model):
    """How the daemon (``drift-monitor run``) serves: its HTTP endpoint and stop timeout."""

    http: str | None = Field(
        default=None, description="HOST:PORT serving /healthz and /metrics (port 0: any free port)"
    )
    stop_timeout: float = Field(
        default=10.0, gt=0, description="seconds a running snapshot may take to finish after SIGTERM"
    )

    @field_validator("http")
    @classmethod
    def _check_http(cls, value: str | None) -> str | None:
        if value is not None:
            parse_address(value)
        return value


def parse_address(text: str) -> tuple[str, int]:
    """Split ``"HOST:PORT"`` (``"[::1]:9100"`` for IPv6) into host and port.

    :raises ValueError: when there is no host, or the port is not 0 to 65535.
    """
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:9100, got {text!r}")
    return host, int(port)


class Config(_Model):
    """The whole configuration file."""

    store: str = Field(default="./drift-monitor.db", description="path of the SQLite store; data copies beside it")
    reports_dir: str = Field(default="./reports", description="folder the HTML reports are written to")
    report_url_base: str | None = Field(
        default=None, description="URL the reports folder is served at; alerts then carry report_url"
    )
    datasets: dict[str, DatasetConfig] = Field(default_factory=dict)
    monitors: dict[str, MonitorConfig] = Field(default_factory=dict)
    webhooks: dict[str, WebhookConfig] = Field(default_factory=dict)
    service: ServiceConfig = ServiceConfig()

    def reference_problems(self) -> list[str]:
        """Problems that span sections: unknown datasets and webhooks, bad thresholds."""
        problems: list[str] = []
        for name, mon in self.monitors.items():
            if mon.dataset not in self.datasets:
                problems.append(f"monitors.{name}.dataset: unknown dataset {mon.dataset!r}")
            if isinstance(mon.baseline, BaselineDataset) and mon.baseline.dataset not in self.datasets:
                problems.append(f"monitors.{name}.baseline.dataset: unknown dataset {mon.baseline.dataset!r}")
            for i, hook in enumerate(mon.webhooks):
                if hook not in self.webhooks:
                    problems.append(f"monitors.{name}.webhooks.{i}: unknown webhook {hook!r}")
            problems.extend(_threshold_problems(f"monitors.{name}.thresholds", mon.thresholds))
            ds = self.datasets.get(mon.dataset)
            if mon.window is not None and ds is not None and ds.timestamp_column is None:
                problems.append(
                    f"monitors.{name}.window: needs datasets.{mon.dataset}.timestamp_column, "
                    "the column the windows are cut on"
                )
        return problems


def _threshold_problems(path: str, thresholds: dict[str, Any]) -> list[str]:
    from monitor.drift import threshold_problems

    return threshold_problems(path, thresholds)


def interpolate(value: Any, path: str, problems: list[str]) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string of a parsed YAML tree.

    A missing variable without a default appends ``"path: environment variable
    NAME is not set"`` to ``problems`` and leaves the text as it was.
    """
    if isinstance(value, dict):
        return {k: interpolate(v, f"{path}.{k}" if path else str(k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}.{i}", problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problems.append(f"{path}: environment variable {name} is not set")
        return match.group(0)

    return _ENV.sub(repl, value)


def _flatten(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "union[", _BASELINE_TAG)))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        msg = msg.removeprefix("Value error, ")
        out.append(f"{loc}: {msg}" if loc else msg)
    return out


def parse_config(data: Any, base_dir: Path | None = None, source: str | None = None) -> Config:
    """Validate a parsed YAML tree into a :class:`Config`.

    :param data: the mapping ``yaml.safe_load`` returned.
    :param base_dir: folder relative paths are resolved against (default: cwd).
    :raises ConfigError: listing every problem with its key path.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["(top level): expected a mapping of sections"], source)
    problems: list[str] = []
    data = interpolate(data, "", problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems + _flatten(exc), source) from None
    problems.extend(config.reference_problems())
    if problems:
        raise ConfigError(problems, source)
    return _resolve_paths(config, base_dir or Path.cwd())


def _resolve(base: Path, path: str) -> str:
    p = Path(os.path.expanduser(path))
    return os.path.normpath(p if p.is_absolute() else (base / p))


def _resolve_paths(config: Config, base: Path) -> Config:
    datasets = {
        name: ds.model_copy(update={"path": tuple(_resolve(base, p) for p in ds.paths)})
        for name, ds in config.datasets.items()
    }
    return config.model_copy(
        update={
            "store": _resolve(base, config.store),
            "reports_dir": _resolve(base, config.reports_dir),
            "datasets": datasets,
        }
    )


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a YAML configuration file.

    :raises ConfigError: when the file cannot be read, is not valid YAML, or any
        key is unknown, missing or has a bad value (all problems in one error).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror or exc}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], str(path)) from exc
    return parse_config(data, path.resolve().parent, str(path))
