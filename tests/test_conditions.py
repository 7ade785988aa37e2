"""Freshness and volume conditions end to end: real data files, a real SQLite
store, ``run_monitor`` called directly, time moved with time-machine, and the
webhooks received by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import time_machine
import yaml
from click.testing import CliRunner
from conftest import Receiver

from monitor.cli import main
from monitor.config import MonitorConfig, load_config
from monitor.service import conditions
from monitor.service.alert import flush_outbox
from monitor.service.runner import run_monitor
from monitor.store import Store

START = datetime(2030, 5, 1, 12, tzinfo=timezone.utc)


def write_table(path: Path, seed: int, rows: int = 2000) -> None:
    rng = np.random.default_rng(seed)
    pd.DataFrame({"amount": rng.normal(100, 10, rows), "stable": rng.normal(0, 1, rows)}).to_csv(path, index=False)


def write_config(folder: Path, url: str, monitor: dict[str, Any], dataset: dict[str, Any]) -> Path:
    data = {
        "store": "store/monitor.db", "reports_dir": "reports", "datasets": {"current": dataset},
        "monitors": {"shop": {"dataset": "current", "schedule": {"every": "1h"}, "webhooks": ["ops"], **monitor}},
        "webhooks": {"ops": {"url": url, "timeout": 5}},
    }
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_at(config_path: Path, moment: datetime, receiver: Receiver) -> tuple[Any, list[dict[str, Any]]]:
    """Run the monitor once at ``moment`` and deliver; returns the result and
    every event received so far."""
    config = load_config(config_path)
    with time_machine.travel(moment, tick=False), Store(config.store) as store:
        result = run_monitor(config, "shop", store)
        assert result.status == "completed", result.reason
        flush_outbox(store, config.webhooks)
    return result, [json.loads(r.body) for r in receiver.requests]


def test_unchanged_files_raise_data_stale_once_and_resolve_when_a_file_changes(
        tmp_path: Path, serve: Callable[..., Receiver]) -> None:
    receiver = serve([])
    write_table(tmp_path / "cur.csv", seed=7)
    path = write_config(tmp_path, receiver.url, {"baseline": "previous", "expect": {"new_data_within": "2h"},
                                                 "alert": {"repeat_interval": "4h"}}, {"path": "cur.csv"})
    # hours after START: the files last changed before the run at 0 h, so they are
    # unchanged for 3 h at the run at 3 h (> 2 h): stale from there on
    for hours in (0, 1, 2):
        result, events = run_at(path, START + timedelta(hours=hours), receiver)
        assert result.conditions == [] and events == []
    for hours in (3, 4, 5, 6):  # within alert.repeat_interval of the detection: one event
        result, events = run_at(path, START + timedelta(hours=hours), receiver)
        assert [c["kind"] for c in result.conditions] == ["data.stale"]
        assert [e["event"] for e in events] == ["data.stale.detected"]
    detected = events[0]
    assert detected["condition"]["kind"] == "data.stale"
    assert START.isoformat() in detected["condition"]["detail"]
    assert "drifted_columns" in detected and detected["verdict"]["drifted"] is False

    write_table(tmp_path / "cur.csv", seed=8)  # new data: a new size/modification time
    result, events = run_at(path, START + timedelta(hours=7), receiver)
    assert result.conditions == []
    assert [e["event"] for e in events] == ["data.stale.detected", "data.stale.resolved"]
    assert events[1]["episode_id"] == detected["episode_id"]
    with Store(tmp_path / "store" / "monitor.db") as store:
        [episode] = store.list_episodes("shop", kind="data.stale")
        assert (episode.status, episode.runs, episode.kind) == ("resolved", 4, "data.stale")
        assert store.list_episodes("shop", kind="drift") == []
        [latest, *_] = store.list_comparisons(monitor="shop")
        assert latest.result["conditions"] == []
        stale_run = [c for c in store.list_comparisons(monitor="shop")][1]
        assert [c["kind"] for c in stale_run.result["conditions"]] == ["data.stale"]
        assert stale_run.report_path is not None
        html = Path(stale_run.report_path).read_text(encoding="utf-8")
        assert 'id="conditions"' in html and "data.stale" in html
        assert 'id="conditions"' not in Path(latest.report_path or "").read_text(encoding="utf-8")


def write_days(folder: Path, counts: list[int]) -> None:
    """One row per ``1 / count`` of day ``i`` (from 2030-05-01) for each ``count``."""
    rng = np.random.default_rng(3)
    frames = []
    for day, count in enumerate(counts):
        start = pd.Timestamp("2030-05-01", tz="UTC") + pd.Timedelta(days=day)
        times = start + pd.to_timedelta(np.arange(count) * (86_400 / count), unit="s")
        frames.append(pd.DataFrame({"at": times, "amount": rng.normal(100, 10, count)}))
    pd.concat(frames).to_parquet(folder / "days.parquet", index=False)


def test_a_window_with_a_tenth_of_the_usual_rows_raises_volume(tmp_path: Path,
                                                              serve: Callable[..., Receiver]) -> None:
    receiver = serve([])
    counts = [1000, 900, 1000, 1100, 100]  # days 1 to 5; day 6 has no rows
    write_days(tmp_path, counts)
    path = write_config(
        tmp_path, receiver.url,
        {"baseline": {"trailing": 3}, "window": {"size": "1d"}, "alert": {"repeat_interval": "1w"},
         "expect": {"rows": {"relative_change": 0.5}}},
        {"path": "days.parquet", "timestamp_column": "at", "columns": {"exclude": ["at"]}},
    )
    day = datetime(2030, 5, 1, 1, tzinfo=timezone.utc)
    for i in range(1, 5):  # windows of days 1 to 4: 900..1100 rows, within 50% of the baseline's mean
        result, events = run_at(path, day + timedelta(days=i), receiver)
        assert result.conditions == [] and events == []
    result, events = run_at(path, day + timedelta(days=5), receiver)  # day 5: 100 rows
    assert result.target.row_count == 100
    usual = np.mean(counts[1:4])  # the trailing baseline: days 2 to 4
    assert usual == 1000 and abs(100 - usual) / usual == pytest.approx(0.9)
    assert [c["kind"] for c in result.conditions] == ["volume"]
    assert "1000" in result.conditions[0]["detail"] and "90%" in result.conditions[0]["detail"]
    assert [e["event"] for e in events] == ["volume.detected"]
    assert events[0]["condition"] == result.conditions[0]

    # day 6 has no rows: an empty window is stale, and the volume episode goes on without a new event
    result, events = run_at(path, day + timedelta(days=6), receiver)
    assert result.target.row_count == 0
    assert [c["kind"] for c in result.conditions] == ["data.stale", "volume"]
    assert [e["event"] for e in events] == ["volume.detected", "data.stale.detected"]


def test_volume_below_rows_min_and_the_compare_json(tmp_path: Path) -> None:
    write_table(tmp_path / "cur.csv", seed=7, rows=300)
    path = write_config(tmp_path, "http://127.0.0.1:9/", {"expect": {"rows": {"min": 500}}}, {"path": "cur.csv"})
    config = load_config(path)
    with Store(config.store) as store:
        run_monitor(config, "shop", store)
        result = run_monitor(config, "shop", store)
        base, target = result.baseline, result.target
    assert result.conditions == [{"kind": "volume", "detail": "300 rows, fewer than the 500 expected"}]
    out = CliRunner().invoke(main, ["compare", "current", base.name, target.name, "-c", str(path),
                                    "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["conditions"] == result.conditions
    out = CliRunner().invoke(main, ["snapshot", "show", "current", target.name, "-c", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["snapshot"]["conditions"] == result.conditions


def test_checked_kinds_follow_the_configuration() -> None:
    plain = MonitorConfig(dataset="d", schedule={"every": "1h"})
    assert conditions.checked_kinds(plain) == ()
    both = MonitorConfig(dataset="d", schedule={"every": "1h"},
                         expect={"new_data_within": "1d", "rows": {"relative_change": 0.5}})
    assert conditions.checked_kinds(both) == ("data.stale", "volume")
    with pytest.raises(ValueError, match="positive duration"):
        MonitorConfig(dataset="d", schedule={"every": "1h"}, expect={"new_data_within": "soon"})


def test_condition_payloads_and_their_slack_message() -> None:
    from monitor.service.payload import build_payload, slack_message

    common: dict[str, Any] = dict(
        episode_id="e" * 32, episode_started_at=START, dataset="d", monitor="m", baseline="s1", target="s2",
        verdict={"drifted": False, "severity": "none", "drifted_columns": 0, "columns_compared": 2},
        columns=[], changes=None, report_path=None, report_url=None, created_at=START, message_id="msg_1")
    condition = {"kind": "volume", "detail": "300 rows, fewer than the 500 expected"}
    payload = build_payload(event="volume.detected", condition=condition, **common)
    assert payload["condition"] == condition and payload["event"] == "volume.detected"
    assert "condition" not in build_payload(event="drift.detected", **common)
    with pytest.raises(ValueError, match="unknown event"):
        build_payload(event="volume.detected", **common)  # a condition event needs its condition
    with pytest.raises(ValueError, match="unknown event"):
        build_payload(event="drift.detected", condition=condition, **common)
    message = slack_message(payload)
    assert message["text"] == "Unusual row count: dataset d (monitor m): 300 rows, fewer than the 500 expected"
    assert any("*volume*" in block.get("text", {}).get("text", "") for block in message["blocks"])
