"""The webhook and service sections, and the whole file's model."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from monitor.config.datasets import _ENV, DatasetConfig, _Model
from monitor.config.datastores import DatastoreConfig
from monitor.config.monitors import BaselineDataset, MonitorConfig
from monitor.durations import parse_duration


class WebhookConfig(_Model):
    """An HTTP endpoint that receives a JSON POST for each drift episode event.

    The outbox stores the webhook's name only: ``url``, ``headers`` and
    ``secret`` are read from the current configuration at every attempt.
    """

    url: str = Field(description="the http:// or https:// endpoint receiving a JSON POST per event")
    secret: str | None = Field(
        default=None, description="Standard Webhooks secret 'whsec_<base64>'; requests are signed when set"
    )
    format: Literal["standard", "slack"] = Field(
        default="standard", description="'standard': the JSON event, signed; 'slack': an incoming-webhook message"
    )
    timeout: float = Field(default=10.0, gt=0, description="seconds per attempt")
    give_up_after: str = Field(default="24h", description="retry a failing alert for this long after it was queued")
    headers: dict[str, str] = Field(default_factory=dict, description="extra HTTP headers of every request")

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
        default=None, description="HOST:PORT serving /healthz, /metrics, the reports and /api (port 0: any free port)"
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
    datastores: dict[str, DatastoreConfig] = Field(
        default_factory=dict,
        description="datastore name -> an object store, HTTP server or SQL database datasets read from")
    datasets: dict[str, DatasetConfig] = Field(
        default_factory=dict, description="dataset name -> where its files are and how to read them")
    monitors: dict[str, MonitorConfig] = Field(
        default_factory=dict, description="monitor name -> a scheduled comparison of a dataset with its baseline")
    webhooks: dict[str, WebhookConfig] = Field(
        default_factory=dict, description="webhook name -> an endpoint alerted on drift episodes")
    service: ServiceConfig = Field(default=ServiceConfig(), description="the daemon's HTTP endpoint and stop timeout")

    def reference_problems(self) -> list[str]:
        """Problems that span sections: unknown datasets and webhooks, bad thresholds."""
        problems: list[str] = self._datastore_problems()
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


    def _datastore_problems(self) -> list[str]:
        problems = []
        for name, ds in self.datasets.items():
            if ds.datastore is None:
                continue
            store = self.datastores.get(ds.datastore)
            if store is None:
                problems.append(f"datasets.{name}.datastore: unknown datastore {ds.datastore!r}")
            elif ds.query is not None and store.kind != "sql":
                problems.append(f"datasets.{name}.query: datastore {ds.datastore!r} is {store.kind}, "
                                "not sql: give a path")
            elif ds.collection is not None and store.kind != "qdrant":
                problems.append(f"datasets.{name}.collection: datastore {ds.datastore!r} is {store.kind}, "
                                "not qdrant")
            elif ds.query is None and store.kind == "sql":
                problems.append(f"datasets.{name}.path: datastore {ds.datastore!r} is sql: give a query")
            elif ds.collection is None and store.kind == "qdrant":
                problems.append(f"datasets.{name}.path: datastore {ds.datastore!r} is qdrant: give a collection")
        return problems


def _threshold_problems(path: str, thresholds: dict[str, Any]) -> list[str]:
    from monitor.drift import threshold_problems

    return threshold_problems(path, thresholds)
