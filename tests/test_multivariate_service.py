"""Multivariate drift end to end, through the CLI, on flights rows: a monitor with
``multivariate: true`` keeps a row sample in its target's and its baseline
dataset's snapshots, compares them, records multivariate_auc in the result,
shows a Multivariate section in the HTML report, alerts on it (the webhook event
names it) and carries it into the history; a baseline taken without a row
sample gives the reason instead; a windowed backfill with --jobs 2 samples
every window."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.profile import ROW_SAMPLE_SIZE
from monitor.service.runner import load_profile
from monitor.store import Store

COLUMNS = ["dep_time", "sched_dep_time", "dep_delay", "arr_delay", "carrier", "origin", "distance", "time_hour"]


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """reference.parquet: half of January-February 2013's flights; current.parquet: the
    other half with arr_delay re-paired (shuffled among its rows)."""
    from monitor.example import read_flights

    table = read_flights()
    table = table.filter(pa.compute.less(table.column("month"), 3)).select(COLUMNS)
    rng = np.random.default_rng(21)
    order = rng.permutation(table.num_rows)
    half = table.num_rows // 2
    ref, cur = table.take(pa.array(order[:half])), table.take(pa.array(order[half:]))
    i = cur.schema.get_field_index("arr_delay")
    cur = cur.set_column(i, "arr_delay", cur.column(i).take(pa.array(rng.permutation(cur.num_rows))))
    base = tmp_path_factory.mktemp("mv")
    pq.write_table(ref, base / "reference.parquet")
    pq.write_table(cur, base / "current.parquet")
    return base


def _config(folder: Path, name: str, *, multivariate: bool, url: str | None = None) -> Path:
    monitor: dict[str, Any] = {"dataset": "current", "schedule": {"every": "1h"},
                               "baseline": {"dataset": "reference"}, "multivariate": multivariate}
    config: dict[str, Any] = {
        "store": f"{name}/monitor.db", "reports_dir": f"{name}/reports",
        "datasets": {"reference": {"path": "reference.parquet", "columns": {"exclude": ["time_hour"]}},
                     "current": {"path": "current.parquet", "columns": {"exclude": ["time_hour"]}}},
        "monitors": {"joint": monitor},
    }
    if url:
        config["webhooks"] = {"ops": {"url": url, "timeout": 2}}
        monitor["webhooks"] = ["ops"]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_once_flags_alerts_and_reports_multivariate_drift(halves: Path, serve: Callable[..., Any]) -> None:
    receiver = serve([])
    config = _config(halves, "flagged", multivariate=True, url=receiver.url)
    result = CliRunner().invoke(main, ["run", "-c", str(config), "--once"])
    assert result.exit_code == 0, result.output
    with Store(halves / "flagged" / "monitor.db") as store:
        [comparison] = store.list_comparisons()
        for dataset in ("reference", "current"):
            [snap] = store.list_snapshots(dataset)
            sample = load_profile(store, snap).row_sample
            assert sample is not None and sample.rows == ROW_SAMPLE_SIZE and "arr_delay" in sample.kinds
    joint = next(m for m in comparison.result["metrics"] if m["name"] == "multivariate_auc")
    assert joint["severity"] == "critical" and joint["value"] > 0.65
    assert {c["column"] for c in joint["detail"]["top_columns"][:2]} == {"arr_delay", "dep_delay"}
    assert comparison.result["verdict"]["drifted"] and comparison.result["verdict"]["drifted_columns"] == 0
    [request] = receiver.requests
    payload = json.loads(request.body)
    assert payload["event"] == "drift.detected" and payload["drifted_columns"] == []
    assert payload["multivariate"]["severity"] == "critical"
    assert payload["multivariate"]["value"] == pytest.approx(joint["value"])
    assert payload["multivariate"]["top_columns"] == joint["detail"]["top_columns"]
    page = (halves / "flagged" / "reports" / payload["report_path"]).read_text()
    assert '<section id="multivariate"' in page and "Drift detected in how the columns vary together" in page
    section = page[page.index('<section id="multivariate"'):page.index("</section>", page.index('id="multivariate"'))]
    assert "arr_delay" in section and "dep_delay" in section and "<svg" in section
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)  # no external request
    history = (halves / "flagged" / "reports" / "joint" / "history.html").read_text()
    assert "(multivariate)" in history


def test_baseline_without_row_sample_says_why(halves: Path) -> None:
    before = _config(halves, "late", multivariate=False)
    assert CliRunner().invoke(main, ["run", "-c", str(before), "--once"]).exit_code == 0
    after = _config(halves, "late", multivariate=True)
    result = CliRunner().invoke(main, ["run", "-c", str(after), "--once"])
    assert result.exit_code == 0, result.output
    with Store(halves / "late" / "monitor.db") as store:
        latest = store.list_comparisons()[0]
    joint = next(m for m in latest.result["metrics"] if m["name"] == "multivariate_auc")
    assert joint["value"] is None and not joint["decides"]
    assert "the baseline snapshot has no row sample" in joint["detail"]["reason"]
    page = Path(latest.report_path).read_text()
    assert "Not measured: the baseline snapshot has no row sample" in page


def test_windowed_backfill_with_jobs_samples_every_window(halves: Path) -> None:
    config = {
        "store": "windows/monitor.db", "reports_dir": "windows/reports",
        "datasets": {"flights": {"path": "reference.parquet", "timestamp_column": "time_hour"}},
        "monitors": {"weekly": {"dataset": "flights", "schedule": {"every": "1w"}, "baseline": "previous",
                                "window": {"size": "1w"}, "multivariate": True}},
    }
    path = halves / "windows.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["backfill", "weekly", "--from", "2013-01-07", "--to", "2013-01-28",
                                       "-c", str(path), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    with Store(halves / "windows" / "monitor.db") as store:
        snaps = store.list_snapshots("flights")
        assert len(snaps) == 3
        for snap in snaps:
            profile = load_profile(store, snap)
            assert profile.row_sample is not None
            assert profile.row_sample.rows == min(ROW_SAMPLE_SIZE, profile.row_count) > 1000
        comparisons = store.list_comparisons()
    assert len(comparisons) == 2
    for comparison in comparisons:
        joint = next(m for m in comparison.result["metrics"] if m["name"] == "multivariate_auc")
        assert joint["value"] is not None and joint["detail"]["baseline_rows"] > 1000


def test_api_background_and_segmented_snapshots_keep_a_row_sample(halves: Path) -> None:
    """create_snapshot in this process and in a detached one (wait=False), and a monitor
    with segments: the profile keeps a row sample because a multivariate monitor compares
    the dataset; another dataset's snapshot keeps none."""
    from monitor.api import Dataset, Workspace

    config = {
        "store": "api/monitor.db", "reports_dir": "api/reports",
        "datasets": {"current": {"path": "current.parquet"}, "other": {"path": "reference.parquet"}},
        "monitors": {"joint": {"dataset": "current", "schedule": {"every": "1h"}, "multivariate": True,
                               "baseline": "previous", "segments": {"column": "origin", "max": 3}}},
    }
    path = halves / "api.yaml"
    path.write_text(yaml.safe_dump(config))
    with Workspace(path) as ws:
        here = Dataset.get_by_name(ws, "current").create_snapshot("here")
        away = Dataset.get_by_name(ws, "current").create_snapshot("away", wait=False)
        away.wait_for_completion(status_update_frequency=0.2)
        other = Dataset.get_by_name(ws, "other").create_snapshot("other")
        for snap in (here, away):
            sample = load_profile(ws.store, snap.record).row_sample
            assert sample is not None and sample.rows == ROW_SAMPLE_SIZE
        assert load_profile(ws.store, other.record).row_sample is None
    for _ in range(2):  # the first run's snapshot is the second's baseline
        result = CliRunner().invoke(main, ["run", "-c", str(path), "--once"])
        assert result.exit_code == 0, result.output
    with Store(halves / "api" / "monitor.db") as store:
        [comparison] = store.list_comparisons()
    joint = next(m for m in comparison.result["metrics"] if m["name"] == "multivariate_auc")
    assert joint["value"] is not None and joint["detail"]["baseline_rows"] == ROW_SAMPLE_SIZE
    assert joint["severity"] == "none"  # the same rows on both sides
    assert comparison.result["segments"]  # the segments compared, without the multivariate test
    for entry in comparison.result["segments"].values():
        if entry.get("result"):
            assert all(m["name"] != "multivariate_auc" for m in entry["result"]["metrics"])
