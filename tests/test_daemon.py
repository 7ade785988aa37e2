"""The daemon as a real process: signals, reload, /healthz, /metrics, JSON logs, skipped runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from monitor.store import Store
from conftest import free_port
from test_service import shifted_frames

PORT_LINE = re.compile(r"serving /healthz and /metrics on http://127\.0\.0\.1:(\d+)")


class DaemonProcess:
    """``python -m monitor run`` in a subprocess; its output lines are collected
    by a thread so tests can wait for one."""

    def __init__(self, config: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(config), "--http", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        found = PORT_LINE.search(self.wait_for(PORT_LINE.search))
        assert found is not None
        self.port = int(found.group(1))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, match: Callable[[str], Any], timeout: float = 60, count: int = 1) -> str:
        """The ``count``-th output line for which ``match`` is truthy (fails after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if match(line)]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError("no such line; output so far:\n" + "\n".join(self.lines))
                self._changed.wait(min(left, 0.5))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, text = self.get("/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int, float]:
        """Send ``sig``; :returns: the exit code and the seconds until the process ended."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        elapsed = time.monotonic() - started
        self._reader.join(10)
        return code, elapsed

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start() -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def run(config: Path, *args: str) -> DaemonProcess:
        daemon = DaemonProcess(config, *args)
        started.append(daemon)
        return daemon

    yield run
    for daemon in started:
        daemon.kill()


def value(metrics: dict[Any, float], name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    ref, cur = shifted_frames(rows=500)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    return tmp_path


def base_config(**monitors: dict[str, Any]) -> dict[str, Any]:
    return {
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"reference": {"path": "ref.csv"}, "current": {"path": "cur.csv"}},
        "monitors": monitors or {"shop": {"dataset": "current", "schedule": {"every": "1h"},
                                          "baseline": {"dataset": "reference"}}},
    }


def snapshots(store_path: Path, **filters: Any) -> list[Any]:
    with Store(store_path) as store:
        return store.list_snapshots(**filters)


def run_done(name: str, outcome: str = "completed") -> Callable[[str], bool]:
    return lambda line: f"monitor {name}: run {outcome}" in line


# ---------------------------------------------------------------------- SIGHUP


def test_sighup_with_a_valid_config_adds_a_monitor_without_restarting(data: Path, start: Callable[..., DaemonProcess]) -> None:
    config = base_config()
    path = write(data / "monitors.yaml", config)
    daemon = start(path)
    daemon.wait_for(run_done("shop"))
    config["monitors"]["extra"] = {"dataset": "reference", "schedule": {"every": "1h"}}
    write(path, config)
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_for(run_done("extra"))
    assert daemon.proc.poll() is None
    assert any("reload: monitor extra added (every 1h)" in line for line in daemon.lines)
    assert sum(f"(pid {daemon.proc.pid})" in line for line in daemon.lines) == 1  # started once
    assert [s.status for s in snapshots(data / "store" / "monitor.db", dataset="reference") if s.monitor == "extra"] == ["completed"]
    assert value(daemon.metrics(), "drift_monitor_config_reloads_total", outcome="applied") == 1
    assert daemon.stop()[0] == 0


def test_sighup_with_an_invalid_config_keeps_the_old_one_and_logs_each_problem(
    data: Path, start: Callable[..., DaemonProcess]
) -> None:
    config = base_config()
    path = write(data / "monitors.yaml", config)
    daemon = start(path)
    daemon.wait_for(run_done("shop"))
    config["monitors"]["shop"]["treshold"] = 0.2
    config["monitors"]["late"] = {"dataset": "current", "schedule": {"cron": "0 6 * * *", "timezone": "Mars/Base"}}
    write(path, config)
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_for(lambda line: "reload failed" in line)
    assert any("reload: monitors.shop.treshold: unknown key" in line for line in daemon.lines)
    assert any("reload: monitors.late.schedule.timezone: unknown time zone 'Mars/Base'" in line for line in daemon.lines)
    assert daemon.proc.poll() is None
    status, body = daemon.get("/healthz")
    assert status == 200 and json.loads(body)["monitors"] == 1
    assert value(daemon.metrics(), "drift_monitor_config_reloads_total", outcome="failed") == 1
    assert daemon.stop()[0] == 0


# --------------------------------------------------------------------- SIGTERM


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 3000 small CSV files: profiling it takes seconds (per-file work)."""
    folder = tmp_path_factory.mktemp("many") / "parts"
    folder.mkdir()
    for i in range(3000):
        (folder / f"part{i:05d}.csv").write_text(f"amount,colour\n{i},red\n{i * 2},blue\n")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("data_copy", [True, False], ids=["copying", "profiling"])
def test_sigterm_during_a_long_snapshot_exits_0_within_the_stop_timeout(
    tmp_path: Path, many_files: Path, start: Callable[..., DaemonProcess], data_copy: bool
) -> None:
    """Writing a data copy stops between record batches; profiling does not stop,
    so the snapshot is failed from the main thread and the process leaves."""
    config = {"store": "store/monitor.db", "reports_dir": "reports",
              "datasets": {"parts": {"path": str(many_files)}},
              "monitors": {"slow": {"dataset": "parts", "schedule": {"every": "1h"}, "data_copy": data_copy}}}
    daemon = start(write(tmp_path / "monitors.yaml", config), "--stop-timeout", "1")
    store = tmp_path / "store" / "monitor.db"
    deadline = time.monotonic() + 60
    while not snapshots(store, status="running") and time.monotonic() < deadline:
        time.sleep(0.05)
    code, elapsed = daemon.stop()
    assert code == 0, "\n".join(daemon.lines)
    assert elapsed < 1 + 2
    (snap,) = snapshots(store)
    assert snap.status == "completed" or (snap.status == "failed" and snap.reason == "stopped")
    assert not [p for p in (tmp_path / "store").rglob("*") if ".tmp-" in p.name]


@pytest.mark.parametrize("endpoint", ["refused", "hanging"])
def test_sigterm_while_the_webhook_is_down_exits_0_within_the_stop_timeout(
    data: Path, start: Callable[..., DaemonProcess], serve: Callable[..., Any], endpoint: str
) -> None:
    receiver = serve([(60, 200)]) if endpoint == "hanging" else None
    url = receiver.url if receiver else f"http://127.0.0.1:{free_port()}/hook"
    config = base_config()
    config["webhooks"] = {"ops": {"url": url, "timeout": 30}}
    config["monitors"]["shop"]["webhooks"] = ["ops"]
    daemon = start(write(data / "monitors.yaml", config), "--stop-timeout", "2")
    store = data / "store" / "monitor.db"
    if receiver:
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    else:
        daemon.wait_for(lambda line: "to webhook 'ops' (attempt 2) failed" in line)
        deadline = time.monotonic() + 30  # each attempt is stored, then counted: poll until they agree
        while True:
            with Store(store) as opened:
                attempts = len(opened.list_attempts(opened.list_alerts()[0].id))
            m = daemon.metrics()
            if value(m, "drift_monitor_webhook_deliveries_total", webhook="ops", outcome="retrying") == attempts:
                break
            assert time.monotonic() < deadline, (m, attempts)
            time.sleep(0.05)
        assert attempts >= 2 and value(m, "drift_monitor_outbox_pending") == 1
    code, elapsed = daemon.stop()
    assert code == 0, "\n".join(daemon.lines)
    assert elapsed < 2 + 2
    with Store(store) as opened:
        (alert,) = opened.list_alerts()
        assert alert.status == "pending"  # kept in the outbox for the next start
    assert all(s.status == "completed" for s in snapshots(store))


# --------------------------------------------------------------------- metrics


def test_metrics_parse_and_match_what_happened(data: Path, start: Callable[..., DaemonProcess]) -> None:
    config = base_config(
        good={"dataset": "current", "schedule": {"every": "1s"}, "baseline": {"dataset": "reference"}},
        bad={"dataset": "gone", "schedule": {"every": "1s"}},
    )
    config["datasets"]["gone"] = {"path": "gone.csv"}
    daemon = start(write(data / "monitors.yaml", config))
    daemon.wait_for(run_done("good"), count=3)
    daemon.wait_for(run_done("bad", "failed"), count=3)
    store = data / "store" / "monitor.db"

    def observed() -> tuple[Any, ...]:
        m = daemon.metrics()
        return (value(m, "drift_monitor_runs_total", monitor="good", outcome="completed"),
                value(m, "drift_monitor_runs_total", monitor="bad", outcome="failed"),
                value(m, "drift_monitor_rows_profiled_total", dataset="current"))

    def stored() -> tuple[Any, ...]:
        good = [s for s in snapshots(store, dataset="current") if s.monitor == "good" and s.status == "completed"]
        bad = [s for s in snapshots(store, dataset="gone") if s.status == "failed"]
        return float(len(good)), float(len(bad)), float(sum(s.row_count for s in good))

    deadline = time.monotonic() + 30  # a run may be between its snapshot and its count: poll until they agree
    while (seen := observed()) != (kept := stored()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == kept and seen[0] >= 3 and seen[1] >= 3
    status, text = daemon.get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for family in families.values():
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
    m = daemon.metrics()
    assert value(m, "drift_monitor_columns_drifted", monitor="good") == 2  # amount and colour
    assert value(m, "drift_monitor_drift_score", monitor="good", column="amount", metric="psi") > 0.25
    assert value(m, "drift_monitor_last_success_timestamp_seconds", monitor="good") > time.time() - 60
    assert value(m, "drift_monitor_outbox_pending") == 0
    assert ("drift_monitor_run_duration_seconds_count", (("monitor", "good"),)) in m
    # a run that overruns its 1 s interval (a loaded machine) skips the next one: counted as often as
    # logged (the listener counts, then logs; the log line reaches us a moment later)
    def skips_logged() -> int:
        return sum("monitor good: run scheduled at" in line and "skipped" in line for line in list(daemon.lines))

    before = skips_logged()
    counted = value(daemon.metrics(), "drift_monitor_skipped_runs_total", monitor="good")
    deadline = time.monotonic() + 10
    while skips_logged() < counted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert before <= counted <= skips_logged(), (before, counted, skips_logged())
    assert daemon.stop()[0] == 0


@pytest.mark.slow
def test_runs_that_overrun_their_interval_are_skipped_logged_and_counted(
    tmp_path: Path, many_files: Path, start: Callable[..., DaemonProcess]
) -> None:
    config = {"store": "store/monitor.db", "reports_dir": "reports",
              "datasets": {"parts": {"path": str(many_files)}},
              "monitors": {"slow": {"dataset": "parts", "schedule": {"every": "1s"}}}}
    daemon = start(write(tmp_path / "monitors.yaml", config))
    daemon.wait_for(run_done("slow"))
    deadline = time.monotonic() + 60
    while not value(m := daemon.metrics(), "drift_monitor_skipped_runs_total", monitor="slow") and time.monotonic() < deadline:
        time.sleep(0.1)
    skipped = value(m, "drift_monitor_skipped_runs_total", monitor="slow")
    assert skipped >= 1
    assert value(m, "drift_monitor_runs_total", monitor="slow", outcome="completed") >= 1
    assert daemon.stop()[0] == 0
    logged = [line for line in daemon.lines if "monitor slow: run scheduled at" in line
              and "skipped: the previous run is still going" in line]
    assert len(logged) >= skipped


# ---------------------------------------------------------------------- healthz


def test_healthz_is_200_while_running_and_503_when_the_store_is_gone(data: Path, start: Callable[..., DaemonProcess]) -> None:
    daemon = start(write(data / "monitors.yaml", base_config()))
    daemon.wait_for(run_done("shop"))
    status, body = daemon.get("/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok"
    assert health["monitors"] == 1 and health["outbox_pending"] == 0
    assert health["last_runs"]["shop"]["outcome"] == "completed" and health["last_runs"]["shop"]["at"]
    # the same server serves the reports and their API, as drift-monitor serve does
    status, body = daemon.get("/api/monitors")
    assert status == 200 and [m["name"] for m in json.loads(body)["monitors"]] == ["shop"]
    status, body = daemon.get("/")
    assert status == 200 and body.startswith("<!doctype html>")
    shutil.rmtree(data / "store")
    status, body = daemon.get("/healthz")
    health = json.loads(body)
    assert status == 503 and health["status"] == "unavailable"
    assert any("does not exist" in p for p in health["problems"])
    assert daemon.get("/nothing")[0] == 404
    assert daemon.stop()[0] == 0


# ------------------------------------------------------------------------- logs


def test_json_log_lines_parse_and_carry_the_monitor(data: Path, start: Callable[..., DaemonProcess]) -> None:
    daemon = start(write(data / "monitors.yaml", base_config()), "--log-format", "json")
    daemon.wait_for(run_done("shop"))
    assert daemon.stop()[0] == 0
    entries = [json.loads(line) for line in daemon.lines]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    done = [e for e in entries if e["message"].startswith("monitor shop: run completed")]
    assert len(done) == 1 and done[0]["monitor"] == "shop" and done[0]["snapshot"]
    # lines logged by the job body carry the monitor without passing it
    assert any(e["logger"] == "monitor.service.runner" and e.get("monitor") == "shop" for e in entries)
