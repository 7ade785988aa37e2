"""Drift episodes end to end: real data files, a real store, ``run_monitor``
called directly and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import time_machine
import yaml
from conftest import Receiver

from monitor.config import load_config
from monitor.service.alert import flush_outbox
from monitor.service.runner import run_monitor
from monitor.store import Store

ROWS = 2000


def write_current(folder: Path, shift: float, seed: int) -> None:
    """The current data: ``amount`` moved by ``shift`` (0 = like the reference;
    3.5 = warning; 10 = critical with the default thresholds)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"amount": rng.normal(100 + shift, 10, ROWS), "stable": rng.normal(0, 1, ROWS)})
    frame.to_csv(folder / "cur.csv", index=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    pd.DataFrame({"amount": rng.normal(100, 10, ROWS), "stable": rng.normal(0, 1, ROWS)}).to_csv(
        tmp_path / "ref.csv", index=False)
    return tmp_path


def configure(folder: Path, url: str, **alert: Any) -> Path:
    data = {
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"reference": {"path": "ref.csv"}, "current": {"path": "cur.csv"}},
        "monitors": {"shop": {"dataset": "current", "schedule": {"every": "1h"},
                              "baseline": {"dataset": "reference"}, "webhooks": ["ops"], "alert": alert}},
        "webhooks": {"ops": {"url": url, "timeout": 5}},
    }
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def runs(folder: Path, serve: Callable[..., Receiver]) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """``runs(n, shift=..., **alert)``: run the monitor ``n`` times, delivering
    after each run; returns every event the receiver got so far."""
    receiver = serve([])

    def run(n: int, shift: float, seed: int = 8, expect: str | None = None, **alert: Any) -> list[dict[str, Any]]:
        config = load_config(configure(folder, receiver.url, **alert))
        write_current(folder, shift, seed)
        with Store(config.store) as store:
            for _ in range(n):
                result = run_monitor(config, "shop", store)
                assert result.status == "completed", result.reason
                if expect is not None:
                    assert result.severity == expect
                flush_outbox(store, config.webhooks)
        return [json.loads(r.body) for r in receiver.requests]

    yield run


def test_five_drifted_runs_send_one_detected_then_one_resolved(runs: Callable[..., list[dict[str, Any]]],
                                                               folder: Path) -> None:
    runs(1, 0.0, expect="none")  # the first run sets the baseline from the reference dataset
    events = runs(5, 10.0, expect="critical")
    assert [e["event"] for e in events] == ["drift.detected"]
    events = runs(2, 0.0, expect="none")
    assert [e["event"] for e in events] == ["drift.detected", "drift.resolved"]
    detected, resolved = events
    assert detected["episode_id"] == resolved["episode_id"]
    assert resolved["changes"]["cleared_columns"] == ["amount"] and resolved["drifted_columns"] == []
    with Store(folder / "store" / "monitor.db") as store:
        [episode] = store.list_episodes("shop")
        assert (episode.key, episode.status, episode.runs) == (detected["episode_id"], "resolved", 5)
        assert len(store.list_alerts()) == 2
    events = runs(1, 10.0, expect="critical")  # drifting again is a new episode
    assert events[-1]["event"] == "drift.detected" and events[-1]["episode_id"] != detected["episode_id"]


def test_repeated_after_the_repeat_interval(runs: Callable[..., list[dict[str, Any]]]) -> None:
    start = datetime(2030, 5, 1, 12, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=True) as traveller:
        runs(1, 0.0)
        for hours in (0, 1, 2, 3):  # within 4h: nothing new
            traveller.move_to(start + timedelta(hours=hours, minutes=1))
            events = runs(1, 10.0, repeat_interval="4h")
        assert [e["event"] for e in events] == ["drift.detected"]
        traveller.move_to(start + timedelta(hours=4, minutes=2))
        events = runs(1, 10.0, repeat_interval="4h")
        traveller.move_to(start + timedelta(hours=5))
        events = runs(1, 10.0, repeat_interval="4h")
    assert [e["event"] for e in events] == ["drift.detected", "drift.repeated"]
    assert events[1]["episode_id"] == events[0]["episode_id"]
    assert events[1]["changes"] == {"previous_severity": "critical", "new_columns": [], "cleared_columns": []}


def test_a_severity_rise_repeats_at_once_and_a_fall_does_not(runs: Callable[..., list[dict[str, Any]]]) -> None:
    runs(1, 0.0)
    events = runs(2, 3.5, expect="warning")
    assert [e["event"] for e in events] == ["drift.detected"]
    events = runs(1, 10.0, expect="critical")
    assert [e["event"] for e in events] == ["drift.detected", "drift.repeated"]
    assert events[1]["episode_id"] == events[0]["episode_id"]
    assert events[1]["changes"]["previous_severity"] == "warning"
    assert events[1]["verdict"]["severity"] == "critical"
    assert len(runs(2, 3.5, expect="warning")) == 2  # back to warning: still the episode, nothing sent


def test_min_severity_critical_ignores_warnings_and_send_resolved_false(
    runs: Callable[..., list[dict[str, Any]]], folder: Path
) -> None:
    runs(1, 0.0)
    assert runs(2, 3.5, expect="warning", min_severity="critical") == []
    events = runs(1, 10.0, expect="critical", min_severity="critical", send_resolved=False)
    assert [e["event"] for e in events] == ["drift.detected"]
    assert len(runs(1, 3.5, expect="warning", min_severity="critical", send_resolved=False)) == 1
    with Store(folder / "store" / "monitor.db") as store:
        assert [e.status for e in store.list_episodes("shop")] == ["resolved"]
