"""``engine: dask`` on a ``dask.distributed.LocalCluster`` of worker processes
(2 workers of 1 thread, started once for this module).

The Dask snapshot of the NYC flights data, one Parquet file per month, is the
local engine's: the same counts, minimum and maximum, category counts and
distinct-value sketches (their retained hashes); moments to 1e-12 relative;
quantiles equal where both are exact, else within the sketch's stated rank
error of numpy's on the data. A corrupt partition fails the snapshot naming
its file; a worker lost while it profiles is replaced and the profile is the
same. A property test does the same comparison on random partitionings of a
small table, against the local profile of the same files and of the whole
table as one file.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from distributed import Client, LocalCluster, WorkerPlugin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import main
from monitor.config import load_config
from monitor.errors import ConfigError, MonitorError, SourceError
from monitor.example import prepare_flights
from monitor.profile import QUANTILE_RANKS, ColumnProfile, DatasetProfile, profile_from_records, profile_source
from monitor.profile import dask_engine
from monitor.profile.dask_engine import DaskSession, DaskSettings
from monitor.service.runner import run_monitor, take_snapshot
from monitor.sources.files import FileSource
from monitor.store import Store

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the worker plugin below travels by value

MOMENTS_RTOL = 1e-12


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


@pytest.fixture(scope="module")
def address(cluster: LocalCluster) -> str:
    return str(cluster.scheduler_address)


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The 12 monthly files, and every row as pandas reads them."""
    base = tmp_path_factory.mktemp("flights")
    files = prepare_flights(base / "data")
    return base / "data", pd.concat(pq.read_table(p).to_pandas() for p in files)


def write_config(base: Path, data: Path, address: str, **dataset: Any) -> Path:
    config = {
        "store": "store/monitor.db",
        "reports_dir": "reports",
        "datasets": {"flights": {"path": str(data), **dataset}},
        "monitors": {"on_dask": {"dataset": "flights", "schedule": {"every": "1d"}, "engine": "dask",
                                 "dask": {"scheduler": address}}},
    }
    path = base / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def stored(store: Store, snap: Any) -> DatasetProfile:
    return profile_from_records(*store.load_profile(snap.id))


# ---------------------------------------------------------------------------
# the comparison


def oracle_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column's finite values as the profile reads them (datetimes in epoch seconds), sorted."""
    column = frame[name]
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(column):
        seconds = (pd.to_datetime(column, utc=True) - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
        values = seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.sort(values[np.isfinite(values)])


def assert_within_rank_error(col: ColumnProfile, values: np.ndarray) -> None:
    num = col.numeric
    assert num is not None and num.n == values.size
    eps = num.rank_error + 1e-12
    ranks = np.array(QUANTILE_RANKS)
    q = num.quantiles(ranks)
    lo = np.searchsorted(values, q, side="left") / values.size
    hi = np.searchsorted(values, q, side="right") / values.size
    assert np.all(lo <= ranks + eps) and np.all(hi >= ranks - eps), (col.name, ranks, lo, hi, eps)


def assert_same_profile(local: DatasetProfile, dask: DatasetProfile, frame: pd.DataFrame, *,
                        same_files: bool = True) -> None:
    """The Dask profile is the local one: exact parts equal, moments to
    :data:`MOMENTS_RTOL`, quantiles equal when exact, else both within the
    rank error of numpy's on ``frame``; categories equal when exact, else
    within their stated error of pandas' counts. With ``same_files`` (both
    read the same files) the Arrow type each column was read as is the same
    too (a small file's strings may be read plain where a large one's are read
    dictionary-encoded)."""
    assert dask.row_count == local.row_count == len(frame)
    assert list(dask.columns) == list(local.columns)
    for name, a in local.columns.items():
        b = dask.columns[name]
        assert (b.kind, b.count, b.missing, b.empty, b.errors) == (a.kind, a.count, a.missing, a.empty, a.errors), name
        assert b.arrow_type == a.arrow_type or not same_files, name
        assert (b.length_min, b.length_max, b.length_sum) == (a.length_min, a.length_max, a.length_sum), name
        assert b.distinct == a.distinct, name
        np.testing.assert_array_equal(b.distinct_sketch.hashes, a.distinct_sketch.hashes)
        assert a.missing == int(frame[name].isna().sum()), name
        if a.numeric is not None:
            assert_same_numeric(a, b, frame)
        assert (a.categories is None) == (b.categories is None), name
        if a.categories is not None and b.categories is not None:
            assert_same_categories(a, b, frame)


def assert_same_numeric(a: ColumnProfile, b: ColumnProfile, frame: pd.DataFrame) -> None:
    x, y = a.numeric, b.numeric
    assert x is not None and y is not None
    for attr in ("n", "min", "max", "zeros", "pos_inf", "neg_inf"):
        assert getattr(y, attr) == getattr(x, attr), (a.name, attr)
    for attr in ("mean", "variance", "skewness", "kurtosis"):
        assert getattr(y, attr) == pytest.approx(getattr(x, attr), rel=MOMENTS_RTOL, nan_ok=True), (a.name, attr)
    if x.is_exact and y.is_exact:
        np.testing.assert_array_equal(y.quantiles(QUANTILE_RANKS), x.quantiles(QUANTILE_RANKS))
    else:
        values = oracle_values(frame, a.name)
        assert_within_rank_error(a, values)
        assert_within_rank_error(b, values)


def assert_same_categories(a: ColumnProfile, b: ColumnProfile, frame: pd.DataFrame) -> None:
    x, y = a.categories, b.categories
    assert x is not None and y is not None
    if x.error == 0 and y.error == 0:
        assert (y.counts, y.other) == (x.counts, x.other), a.name
        return
    truth = frame[a.name].dropna().astype(str).value_counts()
    for summary in (x, y):
        for label, n in summary.counts.items():
            assert truth[label] - summary.error <= n <= truth[label], (a.name, label)


# ---------------------------------------------------------------------------
# the flights data by month


def test_dask_snapshot_of_flights_by_month_equals_the_local_one(
        flights: tuple[Path, pd.DataFrame], address: str, tmp_path: Path) -> None:
    data, frame = flights
    config = load_config(write_config(tmp_path, data, address, fingerprint="content"))
    with Store(config.store) as store:
        local = take_snapshot(store, "flights", config.datasets["flights"], name="local")
        run = run_monitor(config, "on_dask", store)
        assert run.status == "completed" and run.target is not None
        on_dask = store.get_snapshot("flights", run.target.name)
        assert (on_dask.status, on_dask.row_count) == ("completed", len(frame))
        assert (on_dask.fingerprint, on_dask.fingerprint_kind) == (local.fingerprint, "content")
        assert_same_profile(stored(store, local), stored(store, on_dask), frame)


def test_each_month_is_a_unit_and_their_partials_come_back_merged(
        flights: tuple[Path, pd.DataFrame], address: str) -> None:
    data, frame = flights
    source = FileSource((str(data),))
    with DaskSession(DaskSettings(address)) as session:
        state, order, stats = session.accumulate(source, source.files(), {}, k=8192, category_cap=50)
    assert state.rows == len(frame) and order == list(frame.columns)
    assert (stats.units, stats.workers) == (12, 2)
    assert 0 < stats.largest_unit_bytes <= stats.unit_bytes
    assert stats.client_bytes < stats.unit_bytes  # 12 partials merged 8 at a time: 2 reached the client


def test_the_row_sample_on_dask_is_the_local_one(flights: tuple[Path, pd.DataFrame], address: str) -> None:
    """A profile asked for a row sample (multivariate monitors): the sample the cluster's
    partials give, merged, is the one of two local worker processes; every row a row of the data."""
    data, frame = flights
    source = FileSource((str(data),))
    on_dask = profile_source(source, dask=DaskSettings(address), progress=False, row_sample=3000)
    local = profile_source(source, workers=2, progress=False, row_sample=3000)
    assert on_dask.row_sample is not None and on_dask.row_sample.rows == 3000
    assert on_dask.row_sample == local.row_sample
    columns = ["month", "day", "flight", "dep_time", "dep_delay", "arr_delay", "distance"]

    def clean(values: Any) -> tuple[Any, ...]:
        return tuple(None if pd.isna(v) else float(v) for v in values)

    data_rows = {clean(r) for r in frame[columns].itertuples(index=False)}
    sampled = zip(*(on_dask.row_sample.values[c] for c in columns))
    assert all(clean(r) in data_rows for r in sampled)


def damage_page(path: Path) -> None:
    """Overwrite the page header of the first column chunk of a Parquet file
    (its footer stays readable)."""
    md = pq.ParquetFile(path).metadata
    offset = md.row_group(0).column(0).data_page_offset
    raw = bytearray(path.read_bytes())
    raw[offset:offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["not parquet", "damaged page"])
def test_a_corrupt_partition_fails_the_snapshot_naming_its_file(
        flights: tuple[Path, pd.DataFrame], address: str, tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(flights[0], data)
    bad = data / "2013-06.parquet"
    if damage == "not parquet":
        bad.write_bytes(b"PAR1 this is not a Parquet file PAR1")
    else:
        damage_page(bad)
        with pytest.raises(SourceError, match="2013-06.parquet"):  # the local engine's failure, for reference
            profile_source(FileSource((str(data),)), workers=1, progress=False)
    config = load_config(write_config(tmp_path, data, address))
    with Store(config.store) as store:
        with pytest.raises(SourceError, match="2013-06.parquet"):
            take_snapshot(store, "flights", config.datasets["flights"], name="broken",
                          dask=DaskSettings(address))
        snap = store.get_snapshot("flights", "broken")
        assert snap.status == "failed" and "2013-06.parquet" in (snap.reason or "")


class KillOnce(WorkerPlugin):
    """Kills the worker that starts a profiling unit, the first time one starts
    (a marker file says it happened)."""

    name = "kill-once"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "executing" and str(key).startswith("drift-unit-") and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(key))
            os._exit(1)


def test_a_lost_worker_is_replaced_and_the_profile_is_the_same(
        flights: tuple[Path, pd.DataFrame], cluster: LocalCluster, address: str, tmp_path: Path) -> None:
    data, frame = flights
    marker = tmp_path / "killed"
    source = FileSource((str(data),))
    with Client(cluster, set_as_default=False) as client:
        client.register_plugin(KillOnce(str(marker)))
        try:
            on_dask = profile_source(source, dask=DaskSettings(address), progress=False)
        finally:
            client.unregister_worker_plugin(KillOnce.name)
        client.wait_for_workers(2, timeout=60)
    assert marker.read_text().startswith("drift-unit-")  # a worker died running a unit
    assert_same_profile(profile_source(source, workers=1, progress=False), on_dask, frame)


# ---------------------------------------------------------------------------
# random partitionings


def small_table(n: int = 12_000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(1.0, 1.2, n)),
        "small": pd.array(rng.integers(0, 9, n), dtype="Int64"),
        "label": pd.array(np.where(rng.random(n) < 0.03, None, rng.choice(["a", "bb", "", "ccc"], n)),
                          dtype="string"),
        "id": pd.array([f"id{v}" for v in rng.integers(0, 9_000, n)], dtype="string"),
        "flag": pd.array(rng.random(n) < 0.3, dtype="boolean"),
        "when": pd.to_datetime(1.6e9 + rng.random(n) * 3e7, unit="s", utc=True),
    })


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, DatasetProfile]:
    """The small table, and the local profile of it as one file."""
    frame = small_table()
    path = tmp_path_factory.mktemp("whole") / "whole.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return frame, profile_source(FileSource((str(path),)), workers=1, progress=False)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=0, max_value=12_000), min_size=0, max_size=6),
       group=st.integers(min_value=300, max_value=12_000))
def test_dask_on_a_random_partitioning_equals_the_local_profile(
        cuts: list[int], group: int, whole: tuple[pd.DataFrame, DatasetProfile], address: str,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    frame, local = whole
    folder = tmp_path_factory.mktemp("parts")
    bounds = [0, *sorted(cuts), len(frame)]
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        part = pa.Table.from_pandas(frame.iloc[a:b], preserve_index=False)
        pq.write_table(part, folder / f"part-{i:02d}.parquet", row_group_size=group)
    source = FileSource((str(folder),))
    on_dask = profile_source(source, dask=DaskSettings(address), progress=False)
    assert_same_profile(profile_source(source, workers=1, progress=False), on_dask, frame)
    assert_same_profile(local, on_dask, frame, same_files=False)


# ---------------------------------------------------------------------------
# the command line, backfill and the LocalCluster the engine starts


def exact_summary(profile: dict[str, Any]) -> dict[str, Any]:
    return {c["name"]: {k: c.get(k) for k in ("kind", "count", "missing", "min", "max", "distinct", "categories")}
            for c in profile["columns"]}


def test_profile_and_snapshot_create_with_engine_dask(
        flights: tuple[Path, pd.DataFrame], address: str, tmp_path: Path) -> None:
    import json

    data, frame = flights
    runner = CliRunner()
    local = runner.invoke(main, ["profile", str(data), "--format", "json"])
    remote = runner.invoke(main, ["profile", str(data), "--format", "json", "--engine", "dask",
                                  "--scheduler", address])
    assert local.exit_code == 0 and remote.exit_code == 0, remote.output
    assert exact_summary(json.loads(remote.stdout)["profile"]) == exact_summary(json.loads(local.stdout)["profile"])
    config = write_config(tmp_path, data, address)
    made = runner.invoke(main, ["snapshot", "create", "flights", "-c", str(config), "--engine", "dask",
                                "--scheduler", address, "--format", "json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["rows"] == len(frame)
    refused = runner.invoke(main, ["snapshot", "create", "flights", "-c", str(config), "--engine", "dask",
                                   "--data-copy"])
    assert refused.exit_code == 2 and "data copy" in refused.output
    wrong = runner.invoke(main, ["profile", str(data), "--scheduler", address])
    assert wrong.exit_code == 2 and "--engine dask" in wrong.output


def test_backfill_on_dask_writes_the_windows_of_the_local_engine(
        flights: tuple[Path, pd.DataFrame], address: str, tmp_path: Path) -> None:
    data, _ = flights
    outcomes = {}
    for engine in ("local", "dask"):
        base = tmp_path / engine
        base.mkdir()
        config = {
            "store": "store/monitor.db", "reports_dir": "reports",
            "datasets": {"flights": {"path": str(data), "timestamp_column": "time_hour",
                                     "columns": {"include": ["dep_delay", "carrier", "distance"]}}},
            "monitors": {"weekly": {"dataset": "flights", "schedule": {"every": "1w"}, "window": {"size": "1w"},
                                    "engine": engine, "dask": {"scheduler": address}}},
        }
        (base / "monitors.yaml").write_text(yaml.safe_dump(config))
        result = CliRunner().invoke(main, ["backfill", "weekly", "--from", "2013-01-01", "--to", "2013-03-01",
                                           "-c", str(base / "monitors.yaml")])
        assert result.exit_code == 0, result.output
        with Store(base / "store" / "monitor.db") as store:
            outcomes[engine] = {s.name: stored(store, s) for s in store.list_snapshots("flights")}
    assert len(outcomes["dask"]) == 9 and outcomes["dask"].keys() == outcomes["local"].keys()
    for name, local in outcomes["local"].items():
        remote = outcomes["dask"][name]
        assert remote.row_count == local.row_count
        for column, a in local.columns.items():
            b = remote.columns[column]
            assert (b.count, b.missing, b.distinct) == (a.count, a.missing, a.distinct), (name, column)
            if a.numeric is not None and b.numeric is not None:
                assert (b.numeric.min, b.numeric.max) == (a.numeric.min, a.numeric.max)
                assert b.numeric.mean == pytest.approx(a.numeric.mean, rel=MOMENTS_RTOL)
            if a.categories is not None and b.categories is not None:
                assert b.categories.counts == a.categories.counts


def test_without_a_scheduler_the_engine_starts_a_local_cluster(flights: tuple[Path, pd.DataFrame]) -> None:
    data, frame = flights
    source = FileSource((str(data / "2013-02.parquet"),))
    on_dask = profile_source(source, dask=DaskSettings(workers=1), progress=False)
    month = frame[frame["month"] == 2]
    assert_same_profile(profile_source(source, workers=1, progress=False), on_dask, month)


# ---------------------------------------------------------------------------
# errors


def test_without_dask_installed_the_error_names_the_extra(
        flights: tuple[Path, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    source = FileSource((str(flights[0]),))
    with pytest.raises(MonitorError, match=r"pip install 'drift-monitor\[dask\]'"):
        profile_source(source, dask=DaskSettings())
    result = CliRunner().invoke(main, ["profile", str(flights[0]), "--engine", "dask"])
    assert result.exit_code == 1 and "drift-monitor[dask]" in result.output
    assert profile_source(source, workers=1, progress=False).row_count == len(flights[1])  # local still works


def test_a_scheduler_that_does_not_answer_is_named(
        flights: tuple[Path, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT", 2.0)
    with pytest.raises(SourceError, match=f"tcp://127.0.0.1:{port}"):
        profile_source(FileSource((str(flights[0]),)), dask=DaskSettings(f"tcp://127.0.0.1:{port}"))


@pytest.mark.parametrize(("monitor", "problem"), [
    ({"engine": "dask", "dask": {"scheduler": "10.0.0.5:8786"}}, "monitors.m.dask.scheduler"),
    ({"engine": "dask", "dask": {"scheduler": "tcp://10.0.0.5:8786", "workers": 2}}, "monitors.m.dask"),
    ({"engine": "dask", "data_copy": True}, "data_copy"),
    ({"engine": "spark"}, "monitors.m.engine"),
])
def test_engine_settings_are_checked_when_the_file_is_read(tmp_path: Path, monitor: dict[str, Any],
                                                           problem: str) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump({
        "store": "s.db", "datasets": {"d": {"path": "x.parquet"}},
        "monitors": {"m": {"dataset": "d", "schedule": {"every": "1d"}, **monitor}},
    }))
    with pytest.raises(ConfigError, match=problem.replace(".", r"\.")):
        load_config(path)


class WithoutMonitor(WorkerPlugin):
    """Makes drift-monitor's Dask engine unimportable on the workers (as where it is not installed)."""

    name = "without-monitor"

    def setup(self, worker: Any) -> None:
        self.saved = sys.modules.get("monitor.profile.dask_engine")
        sys.modules["monitor.profile.dask_engine"] = None  # type: ignore[assignment]

    def teardown(self, worker: Any) -> None:
        if self.saved is None:
            del sys.modules["monitor.profile.dask_engine"]
        else:
            sys.modules["monitor.profile.dask_engine"] = self.saved


def test_workers_without_drift_monitor_are_named(
        flights: tuple[Path, pd.DataFrame], cluster: LocalCluster, address: str) -> None:
    with Client(cluster, set_as_default=False) as client:
        client.register_plugin(WithoutMonitor())
        try:
            with pytest.raises(MonitorError, match=f"workers of Dask scheduler {address} cannot import drift-monitor"):
                profile_source(FileSource((str(flights[0]),)), dask=DaskSettings(address))
        finally:
            client.unregister_worker_plugin(WithoutMonitor.name)
    assert profile_source(FileSource((str(flights[0]),)), dask=DaskSettings(address)).row_count == len(flights[1])


def test_python_snapshots_on_dask_in_this_process_and_in_the_background(
        flights: tuple[Path, pd.DataFrame], address: str, tmp_path: Path) -> None:
    from monitor.api import Dataset, Workspace

    data, frame = flights
    with Workspace(tmp_path / "store.db") as ws:
        ds = Dataset.from_files(str(data / "2013-0[1-3].parquet")).register(ws, "q1")
        local = ds.create_snapshot("local")
        here = ds.create_snapshot("here", engine="dask", scheduler=address)
        away = ds.create_snapshot("away", engine="dask", scheduler=address, wait=False)
        assert away.wait_for_completion(timeout=120) == "completed"
        tables = [s.get_profile() for s in (local, here, away)]
        assert int(tables[0].loc["dep_delay", "Count"]) == int((frame["month"] <= 3).sum())
        for table in tables[1:]:
            for column in ("Count", "Missing Count", "Min", "Max", "Distinct count", "50% Quantile"):
                assert table[column].tolist() == tables[0][column].tolist(), column
        with pytest.raises(ConfigError, match="data copy"):
            ds.create_snapshot("copy", create_data_snapshot=True, engine="dask")
        assert [s.name for s in ds.get_all_snapshots()] == ["local", "here", "away"]
