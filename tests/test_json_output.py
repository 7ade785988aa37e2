"""--format json on every command that prints data or a result: each prints one
JSON document (json.loads of its whole standard output), found by walking the
click command tree, so a new command without the option fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result

from monitor.cli import main
from conftest import free_port
from monitor.store import Store

EXCEPTIONS = {
    "serve": "serves HTTP until stopped; its answers under /api are JSON",
}
"""Commands without --format json, and why."""


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, cmd in group.commands.items():
        path = (*prefix, name)
        out.update(leaf_commands(cmd, path) if isinstance(cmd, click.Group) else {" ".join(path): cmd})
    return out


def format_choices(cmd: click.Command) -> list[str]:
    for param in cmd.params:
        if isinstance(param, click.Option) and "--format" in param.opts and isinstance(param.type, click.Choice):
            return list(param.type.choices)
    return []


def test_every_command_but_the_listed_ones_takes_format_json() -> None:
    commands = leaf_commands(main)
    assert set(EXCEPTIONS) <= set(commands), "an exception names a command that no longer exists"
    without = sorted(name for name, cmd in commands.items() if "json" not in format_choices(cmd))
    assert without == sorted(EXCEPTIONS), f"commands without --format json: {without}"


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    """A dataset of ten days of hourly rows, a monitor that runs on it and a
    windowed one (disabled, for backfill), and two ad-hoc files."""
    rng = np.random.default_rng(5)
    hours = pd.date_range("2024-05-01", "2024-05-11", freq="1h", inclusive="left", tz="UTC")
    frame = pd.DataFrame({"t": hours, "amount": rng.normal(100, 10, len(hours)),
                          "colour": rng.choice(["red", "blue", "green"], len(hours))})
    frame.to_parquet(tmp_path / "data.parquet", index=False)
    frame.assign(amount=frame.amount + 5).to_csv(tmp_path / "moved.csv", index=False)
    config = {
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"shop": {"path": "data.parquet", "timestamp_column": "t"}},
        "datastores": {"web": {"kind": "http", "base_url": f"http://127.0.0.1:{free_port()}/"}},
        "monitors": {
            "m": {"dataset": "shop", "schedule": {"every": "1d"}, "baseline": "previous", "data_copy": True,
                  "min_values": 10, "retention": {"keep_last": 5}},
            "w": {"dataset": "shop", "schedule": {"every": "1d"}, "window": {"size": "1d"}, "baseline": "previous",
                  "min_values": 10, "enabled": False},
        },
    }
    (tmp_path / "monitors.yaml").write_text(yaml.safe_dump(config))
    config["monitors"]["m"]["treshold"] = 1
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(config))
    return {"config": tmp_path / "monitors.yaml", "broken": tmp_path / "broken.yaml",
            "data": tmp_path / "data.parquet", "moved": tmp_path / "moved.csv"}


def test_each_command_prints_one_json_document(workspace: dict[str, Path]) -> None:
    runner = CliRunner()
    config = str(workspace["config"])
    seen: dict[str, Any] = {}

    def json_of(command: str, *args: str, exit_code: int = 0) -> Any:
        result: Result = runner.invoke(main, [*command.split(), *args, "--format", "json"])
        assert result.exit_code == exit_code, f"{command}: {result.output}"
        data = json.loads(result.stdout)  # the whole output is one document
        assert isinstance(data, dict | list)
        seen[command] = data
        return data

    assert json_of("validate", "-c", config) == {"ok": True, "file": config, "datasets": 1, "monitors": 2,
                                                  "webhooks": 0}
    broken = json_of("validate", "-c", str(workspace["broken"]), exit_code=2)
    assert broken["ok"] is False and broken["problems"] == [{"path": "monitors.m.treshold", "message": "unknown key"}]

    first = json_of("run", "-c", config, "--once")
    assert [(r["monitor"], r["outcome"], r["comparison_id"]) for r in first["monitors"]] == [("m", "completed", None)]
    second = json_of("run", "-c", config, "--once")
    (run,) = second["monitors"]
    assert run["outcome"] == "completed" and run["verdict"]["severity"] == run["severity"]
    assert Path(run["report_path"]).is_file() and run["baseline"] == first["monitors"][0]["target"]
    assert run["alerts"] == [] and run["pruned"] == [] and second["alerts"] == []

    created = json_of("snapshot create", "shop", "-c", config, "--name", "manual", "--data-copy")
    assert (created["name"], created["status"], created["rows"], created["data_copy"]) == ("manual", "completed",
                                                                                           240, True)
    listed = json_of("snapshot list", "shop", "-c", config)
    assert [s["name"] for s in listed][-1] == "manual"
    assert json_of("snapshot show", "shop", "manual", "-c", config)["snapshot"]["name"] == "manual"
    compared = json_of("compare", "shop", listed[0]["name"], "manual", "-c", config)
    assert compared["target"] == "manual" and "verdict" in compared
    with Store(workspace["config"].parent / "store" / "monitor.db") as store:
        manual_id = store.get_snapshot("shop", "manual").id
    assert json_of("baseline set", "m", "manual", "-c", config) == {
        "monitor": "m", "dataset": "shop", "baseline": "manual", "snapshot_id": manual_id}
    history = json_of("report history", "m", "-c", config)
    assert history["monitor"] == "m" and Path(history["path"]).is_file()
    page = json_of("report profile", "shop", "manual", "-c", config)
    assert page["snapshot"] == "manual" and Path(page["path"]).name == "profile.html" and Path(page["path"]).is_file()
    filled = json_of("backfill", "w", "--from", "2024-05-01", "--to", "2024-05-04", "-c", config)
    assert (filled["written"], filled["failed"]) == (3, 0)
    assert json_of("prune", "-c", config, "--dry-run") == {"dry_run": True, "snapshots": 0, "data_copies": 0,
                                                          "removed": []}
    versions = json_of("dataset versions", "shop", "-c", config)
    assert [v["version"] for v in versions] == [1] and len(versions[0]["definition_hash"]) == 64
    exported = json_of("snapshot export", "shop", "manual", "-c", config, "-o",
                       str(workspace["config"].parent / "manual.dmsnap"))
    assert Path(exported["path"]).is_file()
    assert json_of("snapshot verify", exported["path"])["snapshot"]["name"] == "manual"
    dead = json_of("datastore check", "web", "-c", config, exit_code=1)  # nothing listens on its port
    assert dead["ok"] is False and dead["error"].startswith("datastore 'web' (http): cannot reach")
    imported = json_of("snapshot import", exported["path"], "--as", "manual_again", "-c", config)
    assert imported["name"] == "manual_again"
    deleted = json_of("snapshot delete", "shop", listed[0]["name"], "-c", config)
    assert deleted["deleted"]["name"] == listed[0]["name"]
    assert json_of("profile", str(workspace["data"]))["profile"]
    assert "verdict" in json_of("compare-files", str(workspace["data"]), str(workspace["moved"]))
    assert json_of("metrics")
    assert json_of("schema")["$schema"].startswith("https://json-schema.org/")

    missing = sorted(set(leaf_commands(main)) - set(seen) - set(EXCEPTIONS))
    assert missing == [], f"commands not checked here: {missing}"


def test_run_without_once_refuses_format_json(workspace: dict[str, Path]) -> None:
    result = CliRunner().invoke(main, ["run", "-c", str(workspace["config"]), "--format", "json"])
    assert result.exit_code == 2 and "--format json needs --once" in result.output


def test_run_once_json_keeps_the_exit_code_of_a_failed_run(workspace: dict[str, Path]) -> None:
    workspace["data"].unlink()  # the monitor cannot read its dataset: the run fails, exit 1
    result = CliRunner().invoke(main, ["run", "-c", str(workspace["config"]), "--once", "--format", "json"])
    assert result.exit_code == 1, result.output
    (run,) = json.loads(result.stdout)["monitors"]
    assert run["outcome"] == "failed" and "data.parquet" in run["reason"] and run["verdict"] is None
