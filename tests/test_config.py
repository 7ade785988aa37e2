"""Configuration: validation with key paths, ${ENV} interpolation, path resolution."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import load_config, parse_config, parse_duration
from monitor.errors import ConfigError

GOOD = {
    "store": "store/monitor.db",
    "reports_dir": "reports",
    "datasets": {"flights": {"path": "data/*.parquet"}},
    "monitors": {
        "flights": {"dataset": "flights", "schedule": {"every": "10m"}, "baseline": "first", "webhooks": ["ops"]}
    },
    "webhooks": {"ops": {"url": "http://127.0.0.1:9/hook"}},
}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def problems_of(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def with_(path: str, value: object) -> dict:
    """GOOD with one key (dotted path) replaced."""
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return data


def test_good_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.store == str(tmp_path / "store/monitor.db")
    assert config.datasets["flights"].paths == (str(tmp_path / "data/*.parquet"),)
    assert config.monitors["flights"].schedule.interval == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("monitors.flights.schedul", {"every": "1h"}, "monitors.flights.schedul: unknown key"),
        ("monitors.flights.schedule", {"every": "ten minutes"}, "monitors.flights.schedule.every: expected a positive duration"),
        ("monitors.flights.schedule", {"every": "1h", "cron": "0 6 * * *"}, "monitors.flights.schedule: give exactly one of"),
        ("monitors.flights.schedule", {"cron": "61 * * * *"}, "monitors.flights.schedule.cron: invalid cron expression"),
        ("monitors.flights.dataset", "nope", "monitors.flights.dataset: unknown dataset 'nope'"),
        ("monitors.flights.webhooks", ["pager"], "monitors.flights.webhooks.0: unknown webhook 'pager'"),
        ("datasets.flights.format", "xlsx", "datasets.flights.format: Input should be 'csv', 'parquet', 'jsonl' or 'npy'"),
        ("webhooks.ops.url", "ftp://x", "webhooks.ops.url: expected an http:// or https:// URL"),
    ],
    ids=["unknown-key", "bad-duration", "both-schedules", "bad-cron", "unknown-dataset", "unknown-webhook", "bad-format", "bad-url"],
)
def test_each_problem_names_its_key_path(path: str, value: object, expected: str) -> None:
    problems = problems_of(with_(path, value))
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_listed_at_once() -> None:
    data = with_("monitors.flights.schedul", {"every": "1h"})
    data["datasets"]["flights"]["colums"] = {}
    problems = problems_of(data)
    assert "monitors.flights.schedul: unknown key" in problems
    assert "datasets.flights.colums: unknown key" in problems


def test_env_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_HOST", "127.0.0.1:8080")
    config = parse_config(with_("webhooks.ops.url", "http://${HOOK_HOST}/x"))
    assert config.webhooks["ops"].url == "http://127.0.0.1:8080/x"
    config = parse_config(with_("webhooks.ops.url", "http://${NOT_SET_ANYWHERE:-localhost}/x"))
    assert config.webhooks["ops"].url == "http://localhost/x"


def test_missing_env_variable_is_an_error_not_an_empty_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOK_SECRET_X", raising=False)
    problems = problems_of(with_("webhooks.ops.secret", "${HOOK_SECRET_X}"))
    assert problems == ["webhooks.ops.secret: environment variable HOOK_SECRET_X is not set"]


@pytest.mark.parametrize("text", ["10m", "1h", "2d", "30s", "1w"])
def test_durations(text: str) -> None:
    assert parse_duration(text) > timedelta(0)


def test_cli_validate_ok_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", "-c", str(write(tmp_path, GOOD))])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("ok: 1 dataset(s), 1 monitor(s)")
    bad = runner.invoke(main, ["validate", "-c", str(write(tmp_path, with_("monitors.flights.every", "1h")))])
    assert bad.exit_code == 2
    assert "monitors.flights.every: unknown key" in bad.output


def test_cli_validate_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["validate", "-c", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2
    assert "cannot read" in missing.output and "nope.yaml" in missing.output
    path = tmp_path / "broken.yaml"
    path.write_text("datasets: [unclosed\n")
    broken = runner.invoke(main, ["validate", "-c", str(path)])
    assert broken.exit_code == 2
    assert "not valid YAML" in broken.output


def test_shipped_example_config_is_valid() -> None:
    root = Path(__file__).resolve().parents[1]
    config = load_config(root / "config" / "flights.yaml")
    assert set(config.monitors) == {"january", "weekly_vs_january", "weekly_vs_trailing"}
    assert config.datasets["flights"].paths[0].endswith("example-data/flights")
    assert config.datasets["flights"].timestamp_column == "time_hour"
    assert config.monitors["weekly_vs_january"].baseline == "january_20130101"
