"""One JSON type per field: every command that prints JSON, and the webhook
payload, on edge cases (infinities and NaN, an all-null column, a file with no
rows, a constant column, values near 1e308, datetime, boolean and string
columns). A non-finite number is ``null``, never a string; the only fields whose
type follows the column's kind are the documented timestamps of datetime
columns (``docs/profile.md``, "JSON")."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.service.payload import build_payload, drifted_columns, encode_payload

ROWS = 240
DATETIME_FIELDS = re.compile(r"^(profile|snapshot show)\.profile\.columns\[\]\.(min|max|mean|quantiles\..+)$")
"""Paths whose type is a string for datetime columns and a number for the others."""


def edge_table(rows: int, shift: float = 0.0, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    specials = np.array([np.inf, -np.inf, np.nan, 1.5])
    return pa.table({
        "specials": pa.array(np.where(np.arange(rows) % 7 < 4, specials[np.arange(rows) % 4],
                                      rng.normal(shift, 1.0, rows))),
        "all_null": pa.array([None] * rows, type=pa.float64()),
        "constant": pa.array(np.full(rows, 7.0 + shift)),
        "huge": pa.array(rng.uniform(1e307, 1.7e308, rows) * (1.0 - 0.05 * shift)),
        "both_ends": pa.array([-1.7e308, 1.7e308] + [None] * (rows - 2), type=pa.float64()),
        "count": pa.array(rng.integers(0, 1000, rows) + int(100 * shift)),
        "when": pa.array((1.7e15 + rng.random(rows) * 1e12 * (1 + shift)).astype("int64")).cast(
            pa.timestamp("us", tz="UTC")),
        "flag": pa.array(rng.random(rows) < 0.5 + 0.3 * shift),
        "label": pa.array(rng.choice(["a", "b", "", "long label"], rows)),
        "code": pa.array(rng.choice(["x", "y", "z"], rows)).dictionary_encode(),
        "text": pa.array([f"note {i} {seed}" if i % 5 else None for i in range(rows)]),
    })


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("edge")
    tables = {"edge": edge_table(ROWS), "shifted": edge_table(ROWS, shift=1.0, seed=1),
              "empty": edge_table(ROWS).slice(0, 0)}
    paths = {}
    for name, table in tables.items():
        paths[name] = root / f"{name}.parquet"
        pq.write_table(table, paths[name])
    csv_table = tables["edge"].drop_columns(["code"])
    pacsv.write_csv(csv_table, root / "edge.csv")
    paths["csv"] = root / "edge.csv"
    return paths


def cli(*args: object) -> Any:
    """Run a command; its output parsed as strict JSON (NaN or Infinity fail)."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def walk(value: Any, path: str, kind: str | None, out: dict[tuple[str, str | None], set[str]]) -> None:
    """Record the JSON type of every field under ``path``: list items as ``[]``,
    category labels as ``*``; each value is recorded with the kind of the column
    it belongs to (None outside columns)."""
    out[(path, kind)].add(json_type(value))
    if isinstance(value, dict):
        if isinstance(value.get("kind"), str) and ("name" in value or "column" in value):
            kind = value["kind"]
        for key, item in value.items():
            label = "*" if path.endswith(".counts") else key
            walk(item, f"{path}.{label}" if path else label, kind, out)
    elif isinstance(value, list):
        for item in value:
            walk(item, f"{path}[]", kind, out)


@pytest.fixture(scope="module")
def outputs(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON of every command that prints it, over the edge cases."""
    out: dict[str, Any] = {}
    for name in ("edge", "shifted", "empty", "csv"):
        out[f"profile|{name}"] = cli("profile", files[name], "--format", "json")
    for base, target in (("edge", "shifted"), ("empty", "edge"), ("edge", "empty"), ("empty", "empty")):
        for mode in ((), ("--exact",)):
            out[f"compare-files|{base} {target} {mode}"] = cli(
                "compare-files", files[base], files[target], "--format", "json", *mode)
    out["compare-files|csv shifted"] = cli("compare-files", files["csv"], files["shifted"], "--format", "json")

    root = tmp_path_factory.mktemp("store")
    data = root / "data.parquet"
    config = root / "monitors.yaml"
    config.write_text(yaml.safe_dump({"store": "monitor.db", "reports_dir": "reports",
                                      "datasets": {"edge": {"path": "data.parquet"}}}))
    for snap, source in (("a", "edge"), ("b", "shifted"), ("c", "empty")):
        data.write_bytes(files[source].read_bytes())
        created = CliRunner().invoke(main, ["snapshot", "create", "edge", "--name", snap, "-c", str(config)])
        assert created.exit_code == 0, created.output
        out[f"snapshot show|{snap}"] = cli("snapshot", "show", "edge", snap, "-c", config, "--format", "json")
    out["snapshot list|edge"] = cli("snapshot", "list", "edge", "-c", config, "--format", "json")
    for base, target in (("a", "b"), ("c", "a"), ("a", "c")):
        out[f"compare|{base} {target}"] = cli("compare", "edge", base, target, "-c", config, "--format", "json")

    for name in [k for k in out if k.startswith("compare")]:
        result = out[name]
        payload = build_payload(
            event="drift.detected", episode_id="e1", episode_started_at=datetime(2030, 5, 1, tzinfo=timezone.utc),
            dataset="edge", monitor="m", baseline="a", target="b", verdict=result["verdict"],
            columns=drifted_columns(result), changes=None, report_path=None, report_url=None,
            created_at=datetime(2030, 5, 1, 12, tzinfo=timezone.utc), message_id="msg_1")
        out[f"payload|{name}"] = json.loads(encode_payload(payload))
    return out


def test_every_field_keeps_one_json_type(outputs: dict[str, Any]) -> None:
    types: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    for name, data in outputs.items():
        walk(data, name.split("|")[0], None, types)
    by_kind = {key: found - {"null"} for key, found in types.items()}
    mixed = {key: sorted(found) for key, found in by_kind.items() if len(found) > 1}
    assert not mixed, f"fields with more than one JSON type within a column kind: {mixed}"

    across: dict[str, set[str]] = defaultdict(set)
    for (path, _), found in by_kind.items():
        across[path] |= found
    mixed_paths = {path for path, found in across.items() if len(found) > 1}
    assert all(DATETIME_FIELDS.match(p) for p in mixed_paths), sorted(mixed_paths)
    for path in mixed_paths:
        assert by_kind[(path, "datetime")] == {"string"}
        assert all(found <= {"number"} for (p, kind), found in by_kind.items() if p == path and kind != "datetime")


def test_the_edge_cases_are_there(outputs: dict[str, Any]) -> None:
    """The walk saw what it is meant to check: infinite bounds, an infinite std,
    an overflowing variance, undefined statistics and every kind, as null or numbers."""
    cols = {c["name"]: c for c in outputs["profile|edge"]["profile"]["columns"]}
    specials = cols["specials"]
    assert specials["min"] is None and specials["neg_inf"] > 0 and specials["max"] is None and specials["pos_inf"] > 0
    assert specials["missing"] > 0 and isinstance(specials["mean"], float)
    assert cols["all_null"]["n_finite"] == 0 and cols["all_null"]["mean"] is None and cols["all_null"]["min"] is None
    assert cols["constant"]["std"] == 0.0 and cols["constant"]["skewness"] == 0.0
    assert isinstance(cols["huge"]["std"], float) and cols["huge"]["variance"] is None
    assert cols["both_ends"]["std"] is None and cols["both_ends"]["n_finite"] == 2  # true std 2.4e308
    assert cols["when"]["min"].endswith("Z") and isinstance(cols["when"]["std_seconds"], float)
    assert {c["kind"] for c in cols.values()} == {"decimal", "integer", "datetime", "boolean", "string", "categorical"}
    assert outputs["profile|empty"]["profile"]["row_count"] == 0
    compared = outputs["compare-files|edge shifted ()"]
    assert compared["verdict"]["drifted"] is True
    assert outputs["payload|compare-files|edge shifted ()"]["drifted_columns"]
    huge = next(c for c in compared["columns"] if c["column"] == "huge")
    assert isinstance(huge["baseline"]["mean"], float) and isinstance(huge["baseline"]["std"], float)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_stored_statistics_hold_no_strings_for_numbers(value: float) -> None:
    """The stored form follows the rule too (format version 3): a non-finite
    minimum or maximum is null, told apart by the infinity counts."""
    from monitor.profile import compute_profile, profile_from_records, profile_to_records

    prof = compute_profile([pa.record_batch({"x": [1.0, value, 2.0]})])
    meta, columns = profile_to_records(prof)
    stats = json.loads(json.dumps(columns[0]["stats"], allow_nan=False))
    types: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    walk(stats, "", None, types)
    assert "string" not in types[("numeric.min", None)] | types[("numeric.max", None)]
    back = profile_from_records(meta, [{**columns[0], "stats": stats}]).columns["x"].numeric
    num = prof.columns["x"].numeric
    assert back is not None and num is not None
    assert (back.min, back.max, back.pos_inf, back.neg_inf) == (num.min, num.max, num.pos_inf, num.neg_inf)
