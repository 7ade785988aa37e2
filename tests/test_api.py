"""The Python surface with Azure ML's dataset and snapshot verbs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor import Dataset, StoreError, Workspace


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(0, 1, 300), "c": rng.choice(["a", "b", "c"], 300)})
    frame.to_parquet(tmp_path / "part-1.parquet", index=False)
    return tmp_path


def test_register_snapshot_profile_and_data_copy(data: Path) -> None:
    with Workspace(data / "store.db") as ws:
        ds = Dataset.from_files(str(data / "*.parquet")).register(ws, "parts", create_new_version=True)
        assert ds.version == 1
        snap = ds.create_snapshot("first", create_data_snapshot=True)
        assert snap.wait_for_completion() == "completed"
        profile = snap.get_profile()
        assert list(profile.index) == ["x", "c"]
        assert profile.loc["x", "Count"] == 300
        frame = snap.to_pandas_dataframe()
        expected = pd.read_parquet(data / "part-1.parquet")
        pd.testing.assert_frame_equal(frame, expected)
        plain = ds.create_snapshot("second")
        with pytest.raises(StoreError, match="has no data copy"):
            plain.to_pandas_dataframe()
        assert [s.name for s in ds.get_all_snapshots()] == ["first", "second"]
        assert ws.compare("parts", "first", "second").to_dict()["verdict"]["drifted"] is False
        ds.delete_snapshot("second")
        assert [s.name for s in ds.get_all_snapshots()] == ["first"]
        with pytest.raises(StoreError, match="snapshot 'second' of dataset 'parts' not found"):
            ds.get_snapshot("second")


def test_versions_grow_when_the_definition_changes(data: Path) -> None:
    with Workspace(data / "store.db") as ws:
        v1 = Dataset.from_files(str(data / "*.parquet")).register(ws, "parts", create_new_version=True)
        same = Dataset.from_files(str(data / "*.parquet")).register(ws, "parts", create_new_version=True)
        v2 = Dataset.from_files(str(data / "*.parquet"), exclude=["c"]).register(ws, "parts", create_new_version=True)
        assert (v1.version, same.version, v2.version) == (1, 1, 2)
        assert Dataset.get_by_name(ws, "parts", version=1).definition.columns.exclude == ()
        assert Dataset.get_by_name(ws, "parts").definition.columns.exclude == ("c",)
        snap = Dataset.get_by_name(ws, "parts").create_snapshot("only-x")
        assert list(snap.get_profile().index) == ["x"]
        with pytest.raises(StoreError):
            Dataset.get_by_name(ws, "parts", version=7)


def test_compare_with_a_monitors_thresholds(data: Path) -> None:
    import yaml

    from monitor import ConfigError

    lenient = {"ks_statistic": {"warning": 0.95, "critical": 0.99}, "psi": {"warning": 50, "critical": 100},
               "mean_change": {"warning": 50, "critical": 100}}
    config = {"store": "store.db",
              "datasets": {"parts": {"path": "*.parquet"}},
              "monitors": {"lenient": {"dataset": "parts", "schedule": {"every": "1d"}, "thresholds": lenient},
                           "plain": {"dataset": "parts", "schedule": {"every": "1d"}}}}
    (data / "monitors.yaml").write_text(yaml.safe_dump(config))
    with Workspace(data / "monitors.yaml") as ws:
        ds = Dataset.get_by_name(ws, "parts")
        ds.create_snapshot("before")
        frame = pd.read_parquet(data / "part-1.parquet")
        frame.assign(x=frame["x"] + 1.0).to_parquet(data / "part-1.parquet", index=False)  # a 1 s.d. shift
        ds.create_snapshot("after")
        assert ws.compare("parts", "before", "after").drifted_columns()[0].column == "x"
        assert ws.compare("parts", "before", "after", monitor="plain").verdict.drifted
        assert not ws.compare("parts", "before", "after", monitor="lenient").verdict.drifted
        with pytest.raises(ConfigError, match=r"monitors\.nope: no such monitor \(configured: lenient, plain\)"):
            ws.compare("parts", "before", "after", monitor="nope")
    with Workspace(data / "store.db") as ws, pytest.raises(ConfigError, match="has no configuration"):
        ws.compare("parts", "before", "after", monitor="plain")
