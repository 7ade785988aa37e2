"""The JSON Schema of the configuration (drift-monitor schema, config/schema.json),
checked with the jsonschema library against the shipped configurations and
against what the models accept and reject."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import parse_config
from monitor.config.schema import config_schema
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "config" / "schema.json"
SHIPPED = sorted((ROOT / "config").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(COMMITTED.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, tree: Any) -> list[str]:
    """Every error with its key path, those under an anyOf/oneOf too (``context``)."""
    out: list[str] = []
    pending = list(validator.iter_errors(tree))
    while pending:
        error = pending.pop(0)
        out.append(f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}")
        pending += error.context or []
    return out


def test_the_committed_schema_is_what_drift_monitor_schema_prints() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == config_schema()
    assert json.loads(COMMITTED.read_text()) == config_schema(), (
        "config/schema.json is stale: regenerate it with drift-monitor schema > config/schema.json")
    assert COMMITTED.read_text() == result.stdout  # byte for byte: regenerating changes nothing


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_configurations_pass_the_schema(validator: jsonschema.Draft202012Validator, path: Path) -> None:
    assert SHIPPED, "no configuration under config/"
    assert errors(validator, yaml.safe_load(path.read_text())) == []
    assert path.read_text().startswith("# yaml-language-server: $schema=./schema.json\n")


FULL = {
    "store": "./store/monitor.db", "reports_dir": "./reports", "report_url_base": "https://reports.example.com",
    "datasets": {"flights": {"path": ["./a/", "./b/*.csv"], "format": "parquet", "columns": {"exclude": ["tailnum"]},
                             "types": {"flight": "string"}, "description": "d", "timestamp_column": "time_hour"}},
    "monitors": {
        "daily": {"dataset": "flights", "schedule": {"cron": "0 6 * * *", "timezone": "Europe/Paris"},
                  "baseline": {"trailing": 4}, "data_copy": True,
                  "thresholds": {"psi": {"warning": 0.1, "critical": 0.25},
                                 "columns": {"dep_delay": {"ks_statistic": {"warning": 0.15}}}},
                  "min_values": 50, "fdr": 0.1, "false_alarm_rate": 0.02, "webhooks": ["ops"],
                  "alert": {"min_severity": "critical", "repeat_interval": "1h", "send_resolved": False},
                  "window": {"size": "1d", "lag": "2h"},
                  "expect": {"new_data_within": "1d", "rows": {"min": 10, "relative_change": 0.5}},
                  "retention": {"keep_last": 30, "max_age": "90d", "data_copies": {"keep_last": 2, "max_age": "7d"}},
                  "enabled": True},
        "named": {"dataset": "flights", "schedule": {"every": "1h"}, "baseline": "before-retrain",
                  "segments": {"column": "carrier", "max": 5}},
        "other": {"dataset": "flights", "schedule": {"every": "1d"}, "baseline": {"dataset": "flights"}},
        "week": {"dataset": "flights", "schedule": {"every": "1d"}, "baseline": {"offset": "7d"}},
        "v1": {"dataset": "flights", "schedule": {"every": "1d"}, "baseline": {"version": 1}},
    },
    "webhooks": {"ops": {"url": "https://hooks.example.com/x", "secret": "${HOOK_SECRET}", "format": "slack",
                         "timeout": 5, "give_up_after": "1h", "headers": {"X-Team": "data"}}},
    "service": {"http": "127.0.0.1:9100", "stop_timeout": 10},
}


def test_a_configuration_with_every_key_passes_both(validator: jsonschema.Draft202012Validator,
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=")
    parse_config(copy.deepcopy(FULL), tmp_path)  # the models accept it
    assert errors(validator, FULL) == []


@pytest.mark.parametrize("where", [(), ("datasets", "flights"), ("monitors", "daily"), ("monitors", "daily", "alert"),
                                   ("monitors", "daily", "retention"), ("monitors", "daily", "retention", "data_copies"),
                                   ("monitors", "daily", "baseline"), ("webhooks", "ops"), ("service",)])
def test_an_unknown_key_is_rejected_by_both(validator: jsonschema.Draft202012Validator, where: tuple[str, ...],
                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=")
    tree = copy.deepcopy(FULL)
    node = tree
    for key in where:
        node = node[key]
    node["treshold"] = 1
    path = ".".join((*where, "treshold"))
    found = errors(validator, tree)
    assert any("'treshold' was unexpected" in e for e in found), found
    with pytest.raises(ConfigError) as err:
        parse_config(tree, tmp_path)
    assert f"{path}: unknown key" in err.value.problems


@pytest.mark.parametrize(("where", "value"), [
    (("service", "stop_timeout"), "${STOP_TIMEOUT}"),
    (("webhooks", "ops", "timeout"), "${HOOK_TIMEOUT:-5}"),
    (("monitors", "daily", "min_values"), "${MIN_VALUES}"),
    (("monitors", "daily", "data_copy"), "${COPY}"),
    (("monitors", "daily", "retention", "keep_last"), "${KEEP}"),
    (("webhooks", "ops", "format"), "${HOOK_FORMAT}"),
])
def test_environment_variables_stand_for_numbers_booleans_and_words(
        validator: jsonschema.Draft202012Validator, where: tuple[str, ...], value: str,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The schema checks the file as written: "${NAME}" where a number is taken
    passes it, and the models accept the file once the variable is set."""
    for name, setting in {"HOOK_SECRET": "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", "STOP_TIMEOUT": "12",
                          "MIN_VALUES": "40", "COPY": "false", "KEEP": "7", "HOOK_FORMAT": "standard"}.items():
        monkeypatch.setenv(name, setting)
    tree = copy.deepcopy(FULL)
    node = tree
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert errors(validator, tree) == []
    parse_config(copy.deepcopy(tree), tmp_path)
    node[where[-1]] = "twelve"  # a plain word is still not a number
    assert errors(validator, tree), f"{where} accepted 'twelve'"


@pytest.mark.parametrize(("where", "value"), [
    (("monitors", "daily", "min_values"), 0),
    (("monitors", "daily", "fdr"), 1.5),
    (("monitors", "daily", "retention", "keep_last"), 0),
    (("monitors", "daily", "alert", "min_severity"), "info"),
    (("datasets", "flights", "format"), "xlsx"),
    (("monitors", "daily", "baseline"), {"trailing": 4, "offset": "7d"}),
    (("monitors", "daily", "baseline"), {"trailing": 0}),
    (("monitors", "daily", "webhooks"), "ops"),
])
def test_bad_values_are_rejected_by_both(validator: jsonschema.Draft202012Validator, where: tuple[str, ...],
                                         value: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOOK_SECRET", "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=")
    tree = copy.deepcopy(FULL)
    node = tree
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert errors(validator, tree), f"the schema accepted {where} = {value!r}"
    with pytest.raises(ConfigError):
        parse_config(tree, tmp_path)


def test_every_key_has_a_description() -> None:
    schema = config_schema()
    missing = [f"{model}.{key}" for model, node in [("(top level)", schema), *schema["$defs"].items()]
               for key, prop in node.get("properties", {}).items() if not prop.get("description")]
    assert missing == []
    assert all(node.get("description") for node in schema["$defs"].values())
