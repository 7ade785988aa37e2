"""What every command shares: error handling, the config and format options,
JSON output, loading the configuration and opening the store."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from monitor.errors import ConfigError, MonitorError

F = TypeVar("F", bound=Callable[..., Any])
EXIT_DRIFT = 3
CONTEXT = {"help_option_names": ["-h", "--help"]}


class MonitorException(click.ClickException):
    """A library error shown as ``Error: message`` (exit code 1)."""


class ConfigException(MonitorException):
    """A configuration error shown as ``Error: message`` (exit code 2)."""

    exit_code = 2


def handle_errors(func: F) -> F:
    """Turn a MonitorError raised by a command into a message and exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MonitorError as exc:
            kind = ConfigException if isinstance(exc, ConfigError) else MonitorException
            raise kind(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def config_option(func: F) -> F:
    """``-c/--config FILE``, default ``$DRIFT_MONITOR_CONFIG`` or ``monitors.yaml``."""
    return click.option(
        "-c", "--config", "config_path", type=click.Path(dir_okay=False),
        default=lambda: os.environ.get("DRIFT_MONITOR_CONFIG", "monitors.yaml"),
        show_default="$DRIFT_MONITOR_CONFIG or monitors.yaml", help="YAML configuration file.",
    )(func)


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format`` with the given choices, the first the default."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True,
                        help="Output format.")


def echo_json(data: Any) -> None:
    """Print JSON, indented, keys in order."""
    click.echo(json.dumps(data, indent=2, default=str, allow_nan=False))


def load(config_path: str) -> Any:
    """Load and validate the configuration (ConfigError → exit 2)."""
    from monitor.config import load_config

    return load_config(config_path)


def open_store(config: Any) -> Any:
    """Open the configured store."""
    from monitor.store import Store

    return Store(config.store)


def text_table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    cells = [[("" if r.get(k) is None else str(r.get(k))) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)




def engine_options(default_help: str) -> Callable[[F], F]:
    """``--engine local|dask`` and ``--scheduler tcp://HOST:PORT`` (a command's
    function gets ``engine`` and ``scheduler``; ``None`` when not given)."""

    def add(func: F) -> F:
        func = click.option(
            "--scheduler", default=None, metavar="tcp://HOST:PORT",
            help="With --engine dask: the address of a running Dask scheduler (default: "
                 + default_help + ").")(func)
        return click.option(
            "--engine", type=click.Choice(["local", "dask"]), default=None,
            help="Profile with this machine's processes (local) or on a Dask cluster's workers (dask; "
                 "pip install 'drift-monitor[dask]').")(func)

    return add


def datastore_options(func: F) -> F:
    """``--datastore NAME`` and ``-c/--config FILE`` (only read with ``--datastore``)."""
    func = click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
                        help="YAML configuration holding the --datastore (default $DRIFT_MONITOR_CONFIG "
                             "or monitors.yaml).")(func)
    return click.option("--datastore", default=None,
                        help="Read the path inside this datastore of the configuration.")(func)


def cli_source(path: str, datastore: str | None, config_path: str | None) -> Any:
    """The source of a path given on the command line: a local path (which must
    exist), a URL, or a path inside ``datastore`` of the configuration.

    :raises ConfigError: when a local path does not exist or the datastore is unknown.
    """
    from monitor.config import is_url
    from monitor.service.datastores import path_source

    if datastore is None:
        if not is_url(path) and not os.path.exists(path) and not _has_magic(path):
            raise ConfigError([f"{path}: no such file or folder"])
        return path_source(path)
    config = load(config_path or os.environ.get("DRIFT_MONITOR_CONFIG", "monitors.yaml"))
    return path_source(path, None, config, datastore)


def _has_magic(path: str) -> bool:
    return any(c in path for c in "*?[")
