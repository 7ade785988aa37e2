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
        retention: {keep_last: 90, data_copies: {max_age: 7d}}   # else every snapshot is kept
    webhooks:
      ops: {url: "https://hooks.example.com/${HOOK_TOKEN}", secret: "${HOOK_SECRET}"}
      team: {url: "https://hooks.slack.com/services/${SLACK_PATH}", format: slack}
    service: {http: "127.0.0.1:9100", stop_timeout: 10}
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.durations import crontab_line as crontab_line
from monitor.durations import parse_duration as parse_duration
from monitor.durations import parse_lag as parse_lag
from monitor.durations import parse_window_size as parse_window_size
from monitor.durations import zone_of as zone_of
from monitor.config.datasets import _ENV, FORMATS, KINDS, ColumnSelection, DatasetConfig
from monitor.config.datastores import (
    AzureBlobDatastore, DatastoreConfig, HttpDatastore, S3Datastore, SqlDatastore,
)
from monitor.config.monitors import (
    _BASELINE_TAG, AlertConfig, BaselineDataset, BaselineOffset, BaselineTrailing, BaselineVersion, DataCopyRetention,
    DaskConfig, ExpectConfig, MonitorConfig, RetentionConfig, RowsExpectation, Schedule, SegmentsConfig, ThresholdConfig,
    WindowConfig, check_scheduler,
)
from monitor.config.service import Config, ServiceConfig, WebhookConfig, parse_address
from monitor.errors import ConfigError

__all__ = [
    "FORMATS", "KINDS", "AlertConfig", "BaselineDataset", "BaselineOffset", "BaselineTrailing", "BaselineVersion",
    "AzureBlobDatastore", "ColumnSelection", "Config", "DatastoreConfig", "HttpDatastore", "S3Datastore",
    "SqlDatastore", "is_url", "DaskConfig", "DataCopyRetention", "DatasetConfig", "ExpectConfig", "MonitorConfig",
    "RetentionConfig", "RowsExpectation", "Schedule",
    "SegmentsConfig", "ServiceConfig", "ThresholdConfig", "WebhookConfig", "WindowConfig", "interpolate",
    "check_scheduler", "crontab_line", "load_config", "parse_address", "parse_config", "parse_duration", "parse_lag", "parse_window_size", "zone_of",
]


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


def is_url(path: str) -> bool:
    """True for ``scheme://...`` (an object or HTTP URL), not a local path."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", path) is not None


def _resolve_paths(config: Config, base: Path) -> Config:
    """Resolve relative local paths against ``base`` (not keys of a datastore,
    nor URLs) and attach each dataset's datastore configuration."""
    stores = {name: store.resolved(base) for name, store in config.datastores.items()}
    datasets = {}
    for name, ds in config.datasets.items():
        if ds.datastore is None and ds.path is not None:
            ds = ds.model_copy(update={"path": tuple(p if is_url(p) else _resolve(base, p) for p in ds.paths)})
        if ds.datastore is None and ds.arrays:
            ds = ds.model_copy(update={"arrays": {c: tuple(p if is_url(p) else _resolve(base, p) for p in ps)
                                                  for c, ps in ds.array_paths()}})
        datasets[name] = ds.with_store(stores.get(ds.datastore)) if ds.datastore is not None else ds
    return config.model_copy(
        update={
            "store": _resolve(base, config.store),
            "reports_dir": _resolve(base, config.reports_dir),
            "datastores": stores,
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
