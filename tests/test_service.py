"""End to end: YAML → snapshot → compare → report → webhook, through the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import Schedule, load_config
from monitor.service.runner import load_profile
from monitor.service.scheduler import build_scheduler, is_due
from monitor.store import Store


def shifted_frames(rows: int = 2000, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current data: `amount` shifts by one standard deviation and
    `colour` changes its mix; `stable` keeps its distribution."""
    rng = np.random.default_rng(seed)
    colours = np.array(["red", "green", "blue"])
    ref = pd.DataFrame({
        "amount": rng.normal(100, 10, rows),
        "stable": rng.normal(0, 1, rows),
        "colour": colours[rng.choice(3, rows, p=[0.6, 0.3, 0.1])],
    })
    cur = pd.DataFrame({
        "amount": rng.normal(110, 10, rows),
        "stable": rng.normal(0, 1, rows),
        "colour": colours[rng.choice(3, rows, p=[0.2, 0.3, 0.5])],
    })
    return ref, cur


def write_config(tmp_path: Path, *, url: str | None, ref: str = "ref.csv", cur: str = "cur.csv", **monitor: Any) -> Path:
    config: dict[str, Any] = {
        "store": "store/monitor.db",
        "reports_dir": "reports",
        "datasets": {"reference": {"path": ref}, "current": {"path": cur}},
        "monitors": {"shop": {
            "dataset": "current", "schedule": {"every": "1h"},
            "baseline": {"dataset": "reference"}, **monitor,
        }},
    }
    if url:
        config["webhooks"] = {"ops": {"url": url, "timeout": 2}}
        config["monitors"]["shop"]["webhooks"] = ["ops"]
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def shop_data(tmp_path: Path) -> Path:
    ref, cur = shifted_frames()
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    return tmp_path


def run_once(config: Path) -> Any:
    return CliRunner().invoke(main, ["run", "-c", str(config), "--once"])


def test_run_once_sends_webhook_naming_drifted_columns(shop_data: Path, serve: Callable[..., Any]) -> None:
    receiver = serve([])
    result = run_once(write_config(shop_data, url=receiver.url))
    assert result.exit_code == 0, result.output
    assert len(receiver.requests) == 1
    payload = json.loads(receiver.requests[0].body)
    drifted = {c["column"] for c in payload["drifted_columns"]}
    assert {"amount", "colour"} <= drifted
    assert "stable" not in drifted
    assert payload["dataset"] == "current" and payload["monitor"] == "shop"
    assert payload["event"] == "drift.detected" and payload["episode_id"]
    assert not Path(payload["report_path"]).is_absolute()  # relative to reports_dir
    assert (shop_data / "reports" / payload["report_path"]).is_file()
    assert (shop_data / "reports" / "index.html").is_file()


def test_webhook_500_twice_then_200_is_one_delivery_after_three_attempts(shop_data: Path, serve: Callable[..., Any]) -> None:
    receiver = serve([500, 500, 200])
    config = write_config(shop_data, url=receiver.url)
    store_path = shop_data / "store" / "monitor.db"
    for attempt in (1, 2, 3):  # each run attempts what is due once; it never waits for a retry
        result = run_once(config)
        assert result.exit_code == 0, result.output
        assert len(receiver.requests) == attempt
        with Store(store_path) as store:
            [alert] = store.list_alerts()
        deadline = time.monotonic() + 10
        while alert.status == "pending" and datetime.now(timezone.utc) < alert.next_attempt_at:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    with Store(store_path) as store:
        alerts = store.list_alerts()
        assert len(alerts) == 1
        assert alerts[0].status == "delivered"
        assert alerts[0].attempts == 3
        assert [a.status_code for a in store.list_attempts(alerts[0].id)] == [500, 500, 200]
    keys = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and len(keys) == 1


def test_no_drift_sends_no_webhook(tmp_path: Path, serve: Callable[..., Any]) -> None:
    ref, _ = shifted_frames()
    ref.to_csv(tmp_path / "ref.csv", index=False)
    ref.sample(frac=1.0, random_state=1).to_csv(tmp_path / "cur.csv", index=False)
    receiver = serve([])
    result = run_once(write_config(tmp_path, url=receiver.url))
    assert result.exit_code == 0, result.output
    assert "severity none" in result.output
    assert receiver.requests == []


def completed(store_path: Path) -> list[Any]:
    with Store(store_path) as store:
        return [s for s in store.list_snapshots() if s.status == "completed"]


def test_missing_file_fails_the_snapshot_and_keeps_earlier_ones(shop_data: Path) -> None:
    config = write_config(shop_data, url=None)
    assert run_once(config).exit_code == 0
    store_path = shop_data / "store" / "monitor.db"
    before = completed(store_path)
    assert len(before) == 2
    (shop_data / "cur.csv").unlink()
    result = run_once(config)
    assert result.exit_code == 1
    assert f"{shop_data / 'cur.csv'}: file not found" in result.output
    with Store(store_path) as store:
        failed = store.list_snapshots("current", status="failed")
        assert len(failed) == 1 and "cur.csv: file not found" in (failed[0].reason or "")
        for snap in before:
            again = store.get_snapshot(snap.dataset, snap.name)
            assert again.status == "completed"
            assert load_profile(store, again).row_count == 2000


def test_malformed_csv_names_the_file(shop_data: Path) -> None:
    config = write_config(shop_data, url=None)
    assert run_once(config).exit_code == 0
    (shop_data / "cur.csv").write_text("amount,stable,colour\n1.0,2.0,red\n3.0,4.0,blue,extra,fields\n")
    result = run_once(config)
    assert result.exit_code == 1
    assert "cur.csv" in result.output
    with Store(shop_data / "store" / "monitor.db") as store:
        failed = store.list_snapshots("current", status="failed")
        assert len(failed) == 1 and "cur.csv" in (failed[0].reason or "")
    assert len(completed(shop_data / "store" / "monitor.db")) == 2


def test_unknown_key_is_exit_2_and_touches_nothing(shop_data: Path) -> None:
    config = write_config(shop_data, url=None)
    assert run_once(config).exit_code == 0
    before = completed(shop_data / "store" / "monitor.db")
    data = yaml.safe_load(config.read_text())
    data["monitors"]["shop"]["treshold"] = 0.2
    config.write_text(yaml.safe_dump(data))
    result = run_once(config)
    assert result.exit_code == 2
    assert "monitors.shop.treshold: unknown key" in result.output
    assert completed(shop_data / "store" / "monitor.db") == before


def test_one_failing_monitor_does_not_stop_the_others(shop_data: Path) -> None:
    config = write_config(shop_data, url=None)
    data = yaml.safe_load(config.read_text())
    data["datasets"]["gone"] = {"path": "gone/*.csv"}
    data["monitors"]["a_gone"] = {"dataset": "gone", "schedule": {"every": "1h"}}
    config.write_text(yaml.safe_dump(data))
    result = run_once(config)
    assert result.exit_code == 1
    assert "a_gone: failed" in result.output
    assert "shop: completed" in result.output


def test_snapshot_and_compare_commands(shop_data: Path) -> None:
    config = write_config(shop_data, url=None)
    assert run_once(config).exit_code == 0
    runner = CliRunner()
    listed = runner.invoke(main, ["snapshot", "list", "current", "-c", str(config), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    name = json.loads(listed.output)[0]["name"]
    shown = runner.invoke(main, ["snapshot", "show", "current", name, "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert "Percent missing" in shown.output and "amount" in shown.output
    missing = runner.invoke(main, ["compare", "current", "no-such-snapshot", name, "-c", str(config)])
    assert missing.exit_code == 1
    assert "snapshot 'no-such-snapshot' of dataset 'current' not found" in missing.output
    created = runner.invoke(main, ["snapshot", "create", "current", "--name", "again", "-c", str(config)])
    assert created.exit_code == 0, created.output
    compared = runner.invoke(main, ["compare", "current", name, "again", "-c", str(config), "--format", "json"])
    assert compared.exit_code == 0, compared.output
    assert json.loads(compared.output)["verdict"]["drifted"] is False
    deleted = runner.invoke(main, ["snapshot", "delete", "current", "again", "-c", str(config)])
    assert deleted.exit_code == 0 and "deleted current/again" in deleted.output


def test_catch_up_runs_monitors_whose_last_run_is_old() -> None:
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "flights.yaml")
    mon = config.monitors["weekly_vs_january"]  # cron: Mondays at 06:00 in New York (11:00 UTC in winter)
    now = datetime(2030, 1, 2, 12, tzinfo=timezone.utc)  # a Wednesday
    assert is_due(mon, None, now)
    assert is_due(mon, datetime(2029, 12, 31, 10, 59, tzinfo=timezone.utc), now)  # missed Monday's run
    assert not is_due(mon, datetime(2029, 12, 31, 11, 0, tzinfo=timezone.utc), now)  # Monday's run itself
    daily = mon.model_copy(update={"schedule": Schedule(every="1d")})
    assert is_due(daily, None, now)
    assert is_due(daily, now - timedelta(days=1, seconds=1), now)
    assert not is_due(daily, now - timedelta(hours=23), now)


def test_scheduler_jobs_have_stable_ids_and_catch_up(shop_data: Path) -> None:
    config = load_config(write_config(shop_data, url=None))
    now = datetime.now(timezone.utc)
    scheduler = build_scheduler(config, now=now)
    job = scheduler.get_job("monitor:shop")
    assert job is not None and job.max_instances == 1 and job.coalesce
    assert job.misfire_grace_time == 1800
    assert job.next_run_time == now  # never ran: catch-up now


def test_service_stops_on_sigterm_with_exit_0(shop_data: Path) -> None:
    config = write_config(shop_data, url=None)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "-c", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(completed(shop_data / "store" / "monitor.db")) < 2:
            time.sleep(0.2)
        assert len(completed(shop_data / "store" / "monitor.db")) == 2
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()
    assert b"stopped" in out


def test_a_missing_baseline_snapshot_fails_only_its_monitor(shop_data: Path) -> None:
    config = write_config(shop_data, url=None)
    data = yaml.safe_load(config.read_text())
    data["monitors"]["b_pinned"] = {"dataset": "reference", "schedule": {"every": "1h"}, "baseline": "no-such-snapshot"}
    config.write_text(yaml.safe_dump(data))
    result = run_once(config)
    assert result.exit_code == 1
    assert "b_pinned: failed" in result.output and "no-such-snapshot" in result.output
    assert "shop: completed" in result.output
