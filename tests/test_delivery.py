"""Webhook delivery with real processes: ``drift-monitor run`` as a daemon and
``run --once`` as subprocesses, a real SQLite store and real HTTP receivers on
127.0.0.1."""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import Receiver, free_port
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from monitor.config import load_config
from monitor.service.alert import flush_outbox
from monitor.service.delivery import DeliveryWorker
from monitor.service.runner import run_monitor
from monitor.service.scheduler import DELIVERY_STOP_TIMEOUT
from monitor.store import Store

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
TOKEN_A, TOKEN_B, HEADER_TOKEN = "tokA-5b1e0c9d7f", "tokB-8a2f6e4c1d", "hdr-0c3b9e7a52"
ROWS = 2000


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    for name, shift in (("ref.csv", 0.0), ("cur.csv", 10.0), ("cur2.csv", 10.0)):
        frame = pd.DataFrame({"amount": rng.normal(100 + shift, 10, ROWS), "stable": rng.normal(0, 1, ROWS)})
        frame.to_csv(tmp_path / name, index=False)
    return tmp_path


def configure(folder: Path, webhook: dict[str, Any], monitors: int = 1, **top: Any) -> Path:
    """A config with ``monitors`` drifting monitors (``shop``, ``shop2``) alerting webhook ``ops``."""
    mons = {name: {"dataset": ds, "schedule": {"every": "1h"}, "baseline": {"dataset": "reference"},
                   "webhooks": ["ops"]}
            for name, ds in [("shop", "current"), ("shop2", "current2")][:monitors]}
    data = {"store": "store/monitor.db", "reports_dir": "reports", **top,
            "datasets": {"reference": {"path": "ref.csv"}, "current": {"path": "cur.csv"},
                         "current2": {"path": "cur2.csv"}},
            "monitors": mons, "webhooks": {"ops": {"timeout": 5, **webhook}}}
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


class Daemon:
    """``drift-monitor -vv run -c CONFIG`` in a subprocess, its output in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "-vv", "run", "-c", str(config)],
                                         stdout=out, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM; returns the seconds until the process exited (asserts exit 0)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        assert code == 0, self.log.read_text()
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[[Path], Daemon]]:
    started: list[Daemon] = []

    def start(config: Path) -> Daemon:
        daemon = Daemon(config, tmp_path / "daemon.log")
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


def alerts_of(folder: Path) -> list[Any]:
    with Store(folder / "store" / "monitor.db") as store:
        return store.list_alerts()


def wait_until_due(folder: Path) -> None:
    """Poll until every pending alert's retry time has passed (at most 10 s)."""
    deadline = time.monotonic() + 10
    while any(a.status == "pending" and a.next_attempt_at > datetime.now(timezone.utc) for a in alerts_of(folder)):
        assert time.monotonic() < deadline
        time.sleep(0.05)


# -------------------------------------------------------------------- retries


@pytest.mark.slow
def test_503_retry_after_and_a_restart_deliver_once_with_one_webhook_id(
    folder: Path, serve: Callable[..., Receiver], daemons: Callable[[Path], Daemon]
) -> None:
    receiver = serve([503, {"status": 503, "headers": {"Retry-After": "3"}}, 200])
    config = configure(folder, {"url": receiver.url, "secret": SECRET})
    first = daemons(config)
    receiver.wait_for(2)
    first.stop()
    assert len(receiver.requests) == 2
    second = daemons(config)  # schedule 1h: no catch-up run, only the pending alert
    [*_, delivered] = receiver.wait_for(3)
    second.stop()

    assert [r.status for r in receiver.requests] == [503, 503, 200]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert delivered.at - receiver.requests[1].answered_at >= 3.0  # not before Retry-After
    [alert] = alerts_of(folder)
    assert (alert.status, alert.attempts, alert.idempotency_key) == ("delivered", 3, delivered.headers["webhook-id"])

    webhook = Webhook(SECRET)
    assert webhook.verify(delivered.body, delivered.headers)["event"] == "drift.detected"
    with pytest.raises(WebhookVerificationError):
        webhook.verify(delivered.body.replace(b'"shop"', b'"sh0p"'), delivered.headers)
    old = datetime.now(timezone.utc) - timedelta(minutes=10)
    stale = {**delivered.headers, "webhook-timestamp": str(int(old.timestamp())),
             "webhook-signature": webhook.sign(delivered.headers["webhook-id"], old, delivered.body.decode())}
    with pytest.raises(WebhookVerificationError, match="too old"):
        webhook.verify(delivered.body, stale)


def test_a_400_fails_at_once_and_run_once_exits_1(folder: Path, serve: Callable[..., Receiver]) -> None:
    receiver = serve([400])
    config = configure(folder, {"url": receiver.url})
    result = cli("run", "-c", str(config), "--once")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "to webhook ops: failed (HTTP 400" in result.stdout
    [alert] = alerts_of(folder)
    assert (alert.status, alert.attempts) == ("failed", 1)
    with Store(folder / "store" / "monitor.db") as store:
        later = datetime.now(timezone.utc) + timedelta(days=1)
        assert flush_outbox(store, load_config(config).webhooks, now=lambda: later) == []
    assert len(receiver.requests) == 1


def test_a_410_disables_the_webhook_until_its_config_changes(
    folder: Path, serve: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    receiver = serve([410])
    config = configure(folder, {"url": receiver.url}, monitors=2)
    result = cli("-v", "run", "-c", str(config), "--once")
    assert result.returncode == 1
    assert "webhook 'ops' answered 410 Gone: disabled until its configuration changes" in result.stderr
    assert sorted(a.status for a in alerts_of(folder)) == ["failed", "pending"]
    with Store(folder / "store" / "monitor.db") as store:  # a later pass, as after a restart
        assert flush_outbox(store, load_config(config).webhooks) == []
        assert len(receiver.requests) == 1  # the other alert waits while the webhook is disabled

        changed = load_config(configure(folder, {"url": receiver.url, "headers": {"X-Team": "data"}}, monitors=2))
        with caplog.at_level(logging.WARNING, logger="monitor.service.delivery"):
            [delivered] = flush_outbox(store, changed.webhooks)
    assert "webhook 'ops': its configuration changed; enabled again" in caplog.text
    assert delivered.status == "delivered"
    assert sorted(a.status for a in alerts_of(folder)) == ["delivered", "failed"]
    assert [r.status for r in receiver.requests] == [410, 200]


# -------------------------------------------------- the config, not the outbox


def test_a_pending_alert_goes_to_the_new_url_and_no_token_is_stored_or_logged(
    folder: Path, serve: Callable[..., Receiver]
) -> None:
    env = {"HOOK_SECRET": SECRET, "HOOK_HEADER": f"Bearer {HEADER_TOKEN}"}
    hook = {"secret": "${HOOK_SECRET}", "headers": {"Authorization": "${HOOK_HEADER}"}}
    config = configure(folder, {"url": f"http://127.0.0.1:{free_port()}/hook/{TOKEN_A}", **hook})
    store_dir = folder / "store"
    reader: sqlite3.Connection | None = None
    logs = []
    try:
        first = cli("-vv", "run", "-c", str(config), "--once", env=env)
        logs.append(first.stdout + first.stderr)
        assert first.returncode == 0, logs[-1]
        [alert] = alerts_of(folder)
        assert (alert.status, alert.attempts) == ("pending", 1)
        reader = sqlite3.connect(store_dir / "monitor.db")  # an open reader keeps the -wal file on disk
        reader.execute("SELECT COUNT(*) FROM alerts").fetchone()

        receiver = serve([])
        configure(folder, {"url": f"{receiver.url}/{TOKEN_B}", **hook})  # the token was rotated
        wait_until_due(folder)
        second = cli("-vv", "run", "-c", str(config), "--once", env=env)
        logs.append(second.stdout + second.stderr)
        assert second.returncode == 0, logs[-1]
        [request] = receiver.requests
        assert request.path == f"/hook/{TOKEN_B}"
        assert request.headers["authorization"] == f"Bearer {HEADER_TOKEN}"
        assert Webhook(SECRET).verify(request.body, request.headers)["idempotency_key"] == alert.idempotency_key
        assert [a.status for a in alerts_of(folder)] == ["delivered"]
        files = {p.name: p.read_bytes() for p in store_dir.iterdir() if p.is_file()}
    finally:
        if reader is not None:
            reader.close()
    assert "monitor.db-wal" in files and "monitor.db" in files
    reports = {str(p): p.read_bytes() for p in (folder / "reports").rglob("*") if p.is_file()}
    assert reports
    secrets = (TOKEN_A, TOKEN_B, HEADER_TOKEN, SECRET, SECRET.removeprefix("whsec_"))
    for secret in secrets:
        for name, data in {**files, **reports}.items():
            assert secret.encode() not in data, (secret, name)
        assert all(secret not in log for log in logs), secret
    assert "WARNING monitor.service.delivery: alert 1 (drift.detected) to webhook 'ops'" in logs[0]  # named, no URL


def test_slack_format_end_to_end_links_the_report(folder: Path, serve: Callable[..., Receiver]) -> None:
    receiver = serve([])
    config = configure(folder, {"url": receiver.url, "format": "slack"},
                       report_url_base="https://reports.example.com/drift")
    loaded = load_config(config)
    with Store(loaded.store) as store:
        assert run_monitor(loaded, "shop", store).drifted
        [record] = flush_outbox(store, loaded.webhooks)
    assert record.status == "delivered"
    [request] = receiver.requests
    body = json.loads(request.body)
    assert set(body) == {"text", "blocks"}
    assert "current" in body["text"]
    blocks = json.dumps(body["blocks"])
    assert "`current`" in blocks and "`amount`" in blocks and "threshold" in blocks
    [alert] = alerts_of(folder)
    link = alert.payload["report_url"]
    assert link == "https://reports.example.com/drift/" + alert.payload["report_path"]
    assert f"<{link}|Open the drift report>" in blocks
    assert (folder / "reports" / alert.payload["report_path"]).is_file()


# ---------------------------------------------- delivery is outside the job


def test_the_job_returns_while_the_endpoint_hangs(folder: Path, serve: Callable[..., Receiver]) -> None:
    receiver = serve([(60.0, 200)])
    config = load_config(configure(folder, {"url": receiver.url, "timeout": 30}))
    woken: list[bool] = []
    with Store(config.store) as store:
        result = run_monitor(config, "shop", store, on_queued=lambda: woken.append(True))
        assert result.status == "completed" and result.drifted
        assert [a.status for a in result.alerts] == ["pending"] and woken == [True]
        worker = DeliveryWorker(config.store, lambda: config.webhooks)
        worker.start()
        worker.wake()
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.requests) == 1  # the worker is now stuck on the endpoint
        second = run_monitor(config, "shop", store)  # a run is not held up by it
        assert second.status == "completed"
        assert worker.stop(timeout=0.5) is False  # the attempt is abandoned, not waited for


@pytest.mark.slow
def test_sigterm_while_the_endpoint_hangs_exits_within_the_stop_timeout(
    folder: Path, serve: Callable[..., Receiver], daemons: Callable[[Path], Daemon]
) -> None:
    receiver = serve([(60.0, 200)])
    daemon = daemons(configure(folder, {"url": receiver.url, "timeout": 30}))
    deadline = time.monotonic() + 60
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.requests, daemon.log.read_text()
    assert daemon.stop() <= DELIVERY_STOP_TIMEOUT + 2
    assert "was still in flight" in daemon.log.read_text()


def test_two_workers_never_send_one_alert_twice(folder: Path, serve: Callable[..., Receiver]) -> None:
    receiver = serve([(1.0, 200)])
    config = load_config(configure(folder, {"url": receiver.url}))
    with Store(config.store) as store:
        assert run_monitor(config, "shop", store).alerts
    workers = [DeliveryWorker(config.store, lambda: config.webhooks) for _ in range(2)]
    for worker in workers:
        worker.start()
    receiver.wait_for(1)
    deadline = time.monotonic() + 10
    while alerts_of(folder)[0].status != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    for worker in workers:
        assert worker.stop()
    assert alerts_of(folder)[0].status == "delivered"
    assert len(receiver.requests) == 1


def test_sighup_sends_a_pending_alert_to_the_rotated_url_without_a_restart(
    folder: Path, serve: Callable[..., Receiver], daemons: Callable[[Path], Daemon]
) -> None:
    config = configure(folder, {"url": f"http://127.0.0.1:{free_port()}/hook/{TOKEN_A}"})  # nothing listens
    daemon = daemons(config)
    deadline = time.monotonic() + 60
    while not any(a.attempts for a in alerts_of(folder)):  # the catch-up run drifted; the first attempt failed
        assert time.monotonic() < deadline and daemon.proc.poll() is None, daemon.log.read_text()
        time.sleep(0.1)
    receiver = serve([])
    configure(folder, {"url": f"{receiver.url}/{TOKEN_B}"})  # the token was rotated
    daemon.proc.send_signal(signal.SIGHUP)
    receiver.wait_for(1)
    [request] = receiver.requests
    assert request.path == f"/hook/{TOKEN_B}"
    assert daemon.proc.poll() is None  # the same process: no restart
    assert daemon.stop() < 15
    [alert] = alerts_of(folder)
    assert alert.status == "delivered" and alert.attempts >= 2


def test_json_log_lines_of_a_delivery_carry_the_webhook_id(folder: Path, serve: Callable[..., Receiver]) -> None:
    receiver = serve([])
    config = configure(folder, {"url": receiver.url, "secret": SECRET})
    done = cli("-v", "run", "-c", str(config), "--once", "--log-format", "json")
    assert done.returncode == 0, done.stderr
    [request] = receiver.requests
    entries = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    [delivered] = [e for e in entries if e["message"].endswith("delivered: HTTP 200")]
    assert delivered["webhook_id"] == request.headers["webhook-id"]
    assert (delivered["webhook"], delivered["event"], delivered["status_code"]) == ("ops", "drift.detected", 200)
