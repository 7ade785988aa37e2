"""The Azure ML snapshot flow through the Python API: register, create a snapshot
in a background process, wait, read its profile and data copy, list, delete;
dataset versions that a Dataset object keeps; snapshots that outlive the
process that asked for them (API and ``snapshot create --no-wait``)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from monitor import Dataset, StoreError, Workspace
from monitor.cli import main
from monitor.example import prepare_flights
from monitor.service import runner
from monitor.store import INTERRUPTED_REASON, Store

ROOT = Path(__file__).resolve().parents[1]
WAIT = 300  # seconds: a guard against a hung test, never a measured time
AZURE_PROFILE_COLUMNS = [
    "Type", "Min", "Max", "Count", "Missing Count", "Not Missing Count", "Percent missing", "Error Count",
    "Empty count", "0.1% Quantile", "1% Quantile", "5% Quantile", "25% Quantile", "50% Quantile",
    "75% Quantile", "95% Quantile", "99% Quantile", "99.9% Quantile", "Mean", "Standard Deviation",
    "Variance", "Skewness", "Kurtosis",
]
"""The profile table's columns on Azure ML's "Create Dataset snapshots" page, in its order."""


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """January and February 2013 of the shipped example (two Parquet files)."""
    folder = tmp_path_factory.mktemp("flights")
    written = prepare_flights(folder)
    return [p for p in written if p.name in ("2013-01.parquet", "2013-02.parquet")]


def test_the_snapshot_flow_on_the_flights_data(tmp_path: Path, flights: list[Path]) -> None:
    expected = pd.concat([pd.read_parquet(p) for p in flights], ignore_index=True)
    with Workspace(tmp_path / "store.db") as ws:
        ds = Dataset.from_files([str(p) for p in flights]).register(
            ws, "flights", description="NYC departures, January and February 2013", create_new_version=True)
        snap = ds.create_snapshot(snapshot_name="before-retrain", create_data_snapshot=True, wait=False)
        assert snap.record.status == "running"  # as returned: the process has only just started
        assert snap.wait_for_completion() == "completed"
        assert snap.status == "completed" and snap.version == 1

        profile = snap.get_profile()
        assert list(profile.columns[:len(AZURE_PROFILE_COLUMNS)]) == AZURE_PROFILE_COLUMNS
        assert list(profile.index) == list(expected.columns)
        delay = expected["dep_delay"]
        assert profile.loc["dep_delay", "Count"] == len(expected)
        assert profile.loc["dep_delay", "Missing Count"] == delay.isna().sum()
        assert (profile.loc["dep_delay", "Min"], profile.loc["dep_delay", "Max"]) == (delay.min(), delay.max())
        assert profile.loc["dep_delay", "Mean"] == pytest.approx(delay.mean(), rel=1e-9)
        assert profile.loc["dep_delay", "Standard Deviation"] == pytest.approx(delay.std(), rel=1e-9)

        frame = snap.to_pandas_dataframe()
        pd.testing.assert_frame_equal(frame, expected)  # values, column order and dtypes (time zone too)

        plain = ds.create_snapshot("profile-only", wait=False)
        assert plain.wait_for_completion() == "completed"
        with pytest.raises(StoreError, match="snapshot 'profile-only' of dataset 'flights' has no data copy"):
            plain.to_pandas_dataframe()
        assert [s.name for s in ds.get_all_snapshots()] == ["before-retrain", "profile-only"]
        copy = Path(str(snap.record.data_copy))
        assert copy.is_file()
        ds.delete_snapshot("before-retrain")
        assert [s.name for s in ds.get_all_snapshots()] == ["profile-only"]
        assert not copy.exists()
        with pytest.raises(StoreError, match="snapshot 'before-retrain' of dataset 'flights' not found"):
            ds.get_snapshot("before-retrain")


def test_a_csv_data_copy_comes_back_typed_like_its_source(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 500
    source = pd.DataFrame({
        "id": np.arange(10**15, 10**15 + n, dtype=np.int64),  # beyond 2**53: exact, not through a float
        "amount": np.where(rng.random(n) < 0.1, np.nan, rng.normal(100, 15, n)).round(6),
        "colour": rng.choice(np.array(["red", "green", "blue", None], dtype=object), n),
        "flag": rng.random(n) < 0.3,
        "at": (pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"))
        .astype("datetime64[us, UTC]"),
    })
    source.to_csv(tmp_path / "sales.csv", index=False)
    with Workspace(tmp_path / "store.db") as ws:
        ds = Dataset.from_files(str(tmp_path / "sales.csv")).register(ws, "sales", create_new_version=True)
        snap = ds.create_snapshot("s", create_data_snapshot=True, wait=False)
        snap.wait_for_completion()
        frame = snap.to_pandas_dataframe()
    pd.testing.assert_frame_equal(frame, source)


def test_a_failing_background_snapshot_raises_naming_it_and_the_file(tmp_path: Path) -> None:
    good = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    good.to_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_bytes(b"this is not a parquet file at all")
    with Workspace(tmp_path / "store.db") as ws:
        ds = Dataset.from_files(str(tmp_path / "*.parquet")).register(ws, "parts", create_new_version=True)
        snap = ds.create_snapshot("broken", wait=False)
        with pytest.raises(StoreError) as info:
            snap.wait_for_completion()
        message = str(info.value)
        assert message.startswith("snapshot 'broken' of dataset 'parts' failed: ")
        assert f"{tmp_path / 'b.parquet'}: cannot read as parquet" in message
        assert snap.status == "failed"
        assert ws.store.get_snapshot("parts", "broken").reason == message.split("failed: ", 1)[1]


def test_a_snapshot_whose_process_was_killed_fails_as_interrupted(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(tmp_path / "a.parquet")
    with Workspace(tmp_path / "store.db") as ws:
        ds = Dataset.from_files(str(tmp_path / "a.parquet")).register(ws, "d", create_new_version=True)
        snap = ds.create_snapshot("doomed", wait=False)
        with sqlite3.connect(ws.store.path) as conn:
            (pid,) = conn.execute("SELECT owner_pid FROM snapshots WHERE id = ?", [snap.record.id]).fetchone()
        assert pid != os.getpid()  # handed over to its own process
        os.kill(pid, signal.SIGSTOP)  # still importing: it cannot have finished yet
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(StoreError, match="snapshot 'doomed' of dataset 'd' failed: interrupted"):
            snap.wait_for_completion(timeout=WAIT)
        assert snap.record.reason == INTERRUPTED_REASON


def test_wait_for_completion_prints_azure_style_statuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"x": np.arange(1000.0)}).to_parquet(tmp_path / "a.parquet")
    with Workspace(tmp_path / "store.db") as ws:
        ds = Dataset.from_files(str(tmp_path / "a.parquet")).register(ws, "d", create_new_version=True)
        snap = ds.create_snapshot("s", wait=False)
        assert snap.wait_for_completion(show_output=True, status_update_frequency=0.2) == "completed"
        lines = capsys.readouterr().out.splitlines()
        assert lines[-1] == "Action status: Completed"
        assert set(lines[:-1]) <= {"Action status: Running"}
        with pytest.raises(ValueError, match="status_update_frequency must be a positive number"):
            snap.wait_for_completion(status_update_frequency=0)


# --------------------------------------------------------------------------- versions


def canonical_hash(definition: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_a_dataset_object_keeps_its_version_and_registers_nothing(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(50.0), "c": ["a", "b"] * 25})
    frame.to_parquet(tmp_path / "part.parquet")
    path = str(tmp_path / "part.parquet")
    with Workspace(tmp_path / "store.db") as ws:
        v1 = Dataset.from_files(path).register(ws, "parts", create_new_version=True)
        v2 = Dataset.from_files(path, exclude=["c"]).register(ws, "parts", create_new_version=True)
        assert (v1.version, v2.version) == (1, 2)
        waited = v1.create_snapshot("through-v1")
        background = v1.create_snapshot("through-v1-later", wait=False)
        background.wait_for_completion()
        assert (waited.version, background.version) == (1, 1)
        assert list(background.get_profile().index) == ["x", "c"]  # version 1's columns
        assert [r.version for r in ws.store.list_dataset_versions("parts")] == [1, 2]
        from_v1 = Dataset.get_by_name(ws, "parts", version=1).create_snapshot("by-name")
        assert from_v1.version == 1
        assert Dataset.get_by_name(ws, "parts").create_snapshot("latest").version == 2
        # the same definition again is its version, whatever description it comes with
        again = Dataset.from_files(path).register(ws, "parts", description="new words", create_new_version=True)
        assert again.version == 1
        # the runner (a monitor whose configuration went back to version 1's definition) too
        taken = runner.take_snapshot(ws.store, "parts", v1.definition)
        assert taken.dataset_version == 1
        assert [r.version for r in ws.store.list_dataset_versions("parts")] == [1, 2]
        v1.definition = v2.definition  # an object whose definition is not its version's
        with pytest.raises(StoreError, match="dataset 'parts' version 1 has another definition"):
            v1.create_snapshot("mismatch")


def test_dataset_versions_lists_each_version_with_its_definition_hash(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0], "c": ["a"]}).to_parquet(tmp_path / "part.parquet")
    config = {"store": "store.db", "datasets": {"parts": {"path": "part.parquet"}},
              "monitors": {"m": {"dataset": "parts", "schedule": {"every": "1d"}}}}
    (tmp_path / "monitors.yaml").write_text(yaml.safe_dump(config))
    with Workspace(tmp_path / "monitors.yaml") as ws:
        Dataset.get_by_name(ws, "parts").create_snapshot("one")
        Dataset.from_files(str(tmp_path / "part.parquet"), exclude=["c"]).register(ws, "parts",
                                                                                   create_new_version=True)
    result = CliRunner().invoke(main, ["dataset", "versions", "parts", "-c", str(tmp_path / "monitors.yaml"),
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["version"] for r in rows] == [1, 2]
    assert [r["definition_hash"] for r in rows] == [canonical_hash(r["definition"]) for r in rows]
    assert rows[0]["definition"]["path"] == [str(tmp_path / "part.parquet")]
    assert rows[1]["definition"]["columns"]["exclude"] == ["c"]
    table = CliRunner().invoke(main, ["dataset", "versions", "parts", "-c", str(tmp_path / "monitors.yaml")])
    assert table.exit_code == 0, table.output
    assert table.output.split("\n")[0].split() == ["version", "created_at", "definition_hash", "description"]
    assert rows[1]["definition_hash"] in table.output
    missing = CliRunner().invoke(main, ["dataset", "versions", "nope", "-c", str(tmp_path / "monitors.yaml")])
    assert missing.exit_code == 1 and "dataset 'nope' not found" in missing.output


def test_a_store_from_before_keeps_its_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Definitions written before migration 9 carried the description: the
    migration takes it out, so the same dataset registers no new version."""
    from monitor.config import DatasetConfig
    from monitor.store import base

    ds = DatasetConfig(path=str(tmp_path / "part.parquet"), description="parts of things")
    db = tmp_path / "old.db"
    monkeypatch.setattr(base, "MIGRATIONS", base.MIGRATIONS[:8])
    monkeypatch.setattr(base, "SCHEMA_VERSION", 8)
    Store(db).close()
    old_definition = {**ds.definition(), "description": ds.description}  # as release 0.2 wrote it
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO datasets (name, version, definition, description, created_at) VALUES "
                     "('parts', 1, ?, ?, '2024-01-01T00:00:00.000000+00:00')",
                     [json.dumps(old_definition), ds.description])
        conn.execute("INSERT INTO snapshots (dataset, dataset_version, name, created_at, status, fingerprint) "
                     "VALUES ('parts', 1, 'old', '2024-01-01T00:00:00.000000+00:00', 'completed', 'abc')")
    monkeypatch.undo()
    with Store(db) as store:
        assert runner.register(store, "parts", ds) == 1
        (version,) = store.list_dataset_versions("parts")
        assert version.definition == ds.definition()
        assert version.definition_hash == canonical_hash(ds.definition())
        assert version.description == "parts of things"
        assert store.get_snapshot("parts", "old").fingerprint_kind == "metadata"


# --------------------------------------------------------------------------- outliving the caller


def write_config(folder: Path) -> Path:
    pd.DataFrame({"x": np.arange(2000.0), "c": ["a", "b", "c", "d"] * 500}).to_parquet(folder / "part.parquet")
    config = {"store": "store/monitor.db", "reports_dir": "reports",
              "datasets": {"parts": {"path": "part.parquet", "fingerprint": "content"}},
              "monitors": {"m": {"dataset": "parts", "schedule": {"every": "1d"}}}}
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_snapshot_create_no_wait_returns_and_the_snapshot_completes_after(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = subprocess.run([sys.executable, "-m", "monitor", "snapshot", "create", "parts", "-c", str(config),
                           "--name", "nightly", "--data-copy", "--no-wait"],
                          capture_output=True, text=True, timeout=WAIT, env=env())
    assert done.returncode == 0, done.stderr
    assert done.stdout == "nightly\n"  # the command has exited; the snapshot may still run
    with Workspace(config) as ws:
        snap = Dataset.get_by_name(ws, "parts").get_snapshot("nightly")
        assert snap.wait_for_completion(timeout=WAIT) == "completed"
        assert snap.record.row_count == 2000 and snap.record.fingerprint_kind == "content"
        assert len(snap.to_pandas_dataframe()) == 2000


def test_a_snapshot_started_from_python_outlives_the_interpreter(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    script = ("import sys\nfrom monitor import Dataset, Workspace\n"
              f"ws = Workspace({str(config)!r})\n"
              "snap = Dataset.get_by_name(ws, 'parts').create_snapshot(create_data_snapshot=True, wait=False)\n"
              "print(snap.name, snap.record.status)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT, env=env())
    assert done.returncode == 0, done.stderr
    name, status = done.stdout.split()
    assert status == "running" and name.startswith("snapshot_")
    with Store(tmp_path / "store" / "monitor.db") as store:
        snap = store.get_snapshot("parts", name)
        deadline = time.monotonic() + WAIT  # a guard against a hang
        while snap.status == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
            snap = store.recover_snapshot(snap.id)
        assert (snap.status, snap.row_count) == ("completed", 2000)
        assert pq.read_table(str(snap.data_copy)).num_rows == 2000
