"""Ad-hoc commands that need no configuration: profile, compare-files, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.drift import METRICS


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 1000), "c": rng.choice(["a", "b", "c"], 1000)})
    same = pd.DataFrame({"x": rng.normal(0, 1, 1000), "c": rng.choice(["a", "b", "c"], 1000)})
    moved = pd.DataFrame({"x": rng.normal(1, 1, 1000), "c": rng.choice(["a", "b", "c"], 1000)})
    ref.to_csv(tmp_path / "ref.csv", index=False)
    same.to_parquet(tmp_path / "same.parquet", index=False)
    moved.to_json(tmp_path / "moved.jsonl", orient="records", lines=True)
    return tmp_path / "ref.csv", tmp_path / "same.parquet", tmp_path / "moved.jsonl"


def invoke(*args: str) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def test_compare_files_gates_a_pipeline_with_exit_3(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    ref, same, moved = files
    drift = invoke("compare-files", ref, moved, "--fail-on-drift", "--report", tmp_path / "out.html")
    assert drift.exit_code == 3, drift.output
    assert "DRIFT" in drift.output and (tmp_path / "out.html").is_file()
    assert invoke("compare-files", ref, moved).exit_code == 0
    calm = invoke("compare-files", ref, same, "--fail-on-drift")
    assert calm.exit_code == 0, calm.output
    assert "no drift" in calm.output


def test_compare_files_json_is_strict_json(files: tuple[Path, Path, Path]) -> None:
    ref, _, moved = files
    result = invoke("compare-files", ref, moved, "--format", "json")
    data = json.loads(result.output, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    x = next(c for c in data["columns"] if c["column"] == "x")
    assert x["status"] == "drift"
    assert data["verdict"]["drifted"] is True


def test_compare_files_exact_mode_matches_profile_mode(files: tuple[Path, Path, Path]) -> None:
    ref, _, moved = files
    exact = json.loads(invoke("compare-files", ref, moved, "--format", "json", "--exact").output)
    approx = json.loads(invoke("compare-files", ref, moved, "--format", "json").output)
    assert exact["mode"] == "exact" and approx["mode"] == "profile"

    def ks(data: dict) -> float:
        x = next(c for c in data["columns"] if c["column"] == "x")
        return next(m["value"] for m in x["metrics"] if m["name"] == "ks_statistic")

    assert abs(ks(exact) - ks(approx)) < 1e-12  # 1000 rows: the sketch is exact


def test_profile_command(files: tuple[Path, Path, Path]) -> None:
    ref, _, _ = files
    table = invoke("profile", ref)
    assert table.exit_code == 0, table.output
    assert "Standard Deviation" in table.output and "99.9% Quantile" in table.output
    data = json.loads(invoke("profile", ref, "--format", "json").output)
    assert data["profile"]["row_count"] == 1000


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("compare-files", tmp_path / "nope.csv", tmp_path / "nope2.csv")
    assert result.exit_code == 2
    assert "nope.csv" in result.output


def test_metrics_lists_the_registry() -> None:
    result = invoke("metrics")
    assert result.exit_code == 0
    for name in METRICS:
        assert name in result.output
    rows = json.loads(invoke("metrics", "--format", "json").output)
    assert {r["name"] for r in rows} == set(METRICS)
    assert all(r["direction"] in ("higher", "p_value") for r in rows)


@pytest.mark.parametrize("sides", ["empty-empty", "full-empty", "empty-full"])
def test_compare_files_exact_on_a_zero_row_parquet_file_names_the_reason(
    files: tuple[Path, Path, Path], tmp_path: Path, sides: str
) -> None:
    _, same, _ = files
    empty = tmp_path / "empty.parquet"
    pd.read_parquet(same).iloc[:0].to_parquet(empty, index=False)
    paths = {"empty": empty, "full": same}
    reference, current = (paths[s] for s in sides.split("-"))
    for mode in (["--exact"], []):
        out = invoke("compare-files", reference, current, "--format", "json", "--fail-on-drift", *mode)
        assert out.exit_code == 0, out.output
        result = json.loads(out.output)
        assert not result["verdict"]["drifted"]
        columns = {c["column"]: c for c in result["columns"]}
        assert set(columns) == {"x", "c"}
        assert all(c["status"] == "insufficient_data" and "no rows" in c["reason"] for c in columns.values())
        assert result["verdict"]["status"] == "insufficient_data"
    text = invoke("compare-files", reference, current, "--exact")
    assert text.exit_code == 0 and "verdict: insufficient data" in text.output
