""".npy arrays beside a table (monitor.sources.beside, the ``arrays`` key of a dataset).

The oracle is the same table with the vectors stored as a ``fixed_size_list``
column (written by pyarrow from the same numpy arrays), and numpy itself for
the vector summary's mean and sums of squares.
"""

from __future__ import annotations

import json
from datetime import timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from monitor import Dataset, Workspace
from monitor.cli import main
from monitor.config import DatasetConfig, parse_config
from monitor.errors import ConfigError, SourceError
from monitor.profile import DatasetProfile, parallel, profile_source
from monitor.service.runner import load_profile
from monitor.sources import files, text
from monitor.sources.datastores import dataset_source
from monitor.sources.files import FileSource

DIM = 6
SIZES = (2500, 1700, 900)
ROW_GROUP = 400


def vectors_column(v: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), v.shape[1])


def write_parts(base: Path, sizes: tuple[int, ...] = SIZES, fmt: str = "parquet", seed: int = 1,
                ) -> tuple[pd.DataFrame, np.ndarray]:
    """Table files ``base/t`` (columns ``i``: the row's number in the dataset,
    ``x``, ``c``, ``t``), arrays ``base/a`` (``emb``: row i's first element is
    ``i``) and the same rows with the vectors as a column in ``base/w``."""
    rng = np.random.default_rng(seed)
    for sub in ("t", "a", "w"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    frames, arrays, first = [], [], 0
    for k, n in enumerate(sizes):
        frame = pd.DataFrame({
            "i": np.arange(first, first + n),
            "x": rng.lognormal(size=n),
            "c": rng.choice(["a", "bb", "ccc"], n),
            "t": pd.to_datetime(1.7e9 + np.arange(first, first + n) * 60.0, unit="s", utc=True),
        })
        v = rng.normal(loc=1.5, size=(n, DIM))
        v[:, 0] = frame["i"]
        name = f"part-{k}"
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), base / "t" / f"{name}.parquet",
                           row_group_size=ROW_GROUP)
        elif fmt == "csv":
            frame.to_csv(base / "t" / f"{name}.csv", index=False)
        else:
            frame.to_json(base / "t" / f"{name}.jsonl", orient="records", lines=True, date_format="iso")
        np.save(base / "a" / f"{name}.npy", v)
        wide = pa.Table.from_pandas(frame, preserve_index=False).append_column("emb", vectors_column(v))
        pq.write_table(wide, base / "w" / f"{name}.parquet", row_group_size=ROW_GROUP)
        frames.append(frame)
        arrays.append(v)
        first += n
    return pd.concat(frames, ignore_index=True), np.concatenate(arrays)


def beside(base: Path, **kwargs: Any) -> FileSource:
    return FileSource((str(base / "t"),), arrays=(("emb", (str(base / "a"),)),), **kwargs)


def assert_same_vector_profile(got: DatasetProfile, want: DatasetProfile, v: np.ndarray, same_sample: bool) -> None:
    assert got.row_count == want.row_count == len(v)
    assert list(got.columns) == list(want.columns)
    a, b = got.columns["emb"], want.columns["emb"]
    assert (a.kind, a.count, a.missing, a.errors) == (b.kind, b.count, b.missing, b.errors) == ("vector", len(v), 0, 0)
    va, vb = a.vector, b.vector
    assert va is not None and vb is not None
    assert (va.n, va.dim) == (vb.n, vb.dim) == (len(v), DIM)
    mean = v.mean(axis=0)
    np.testing.assert_allclose(va.mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(va.m2, ((v - mean) ** 2).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(va.mean, vb.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(va.m2, vb.m2, rtol=1e-12)
    norms = np.linalg.norm(v, axis=1)
    assert va.norms.n == vb.norms.n == len(v)
    assert va.norms.get_min_value() == pytest.approx(norms.min(), rel=1e-12)
    assert va.norms.get_max_value() == pytest.approx(norms.max(), rel=1e-12)
    for q in (0.1, 0.5, 0.9):  # within the KLL sketch's rank bound (k=200: about 1.3%), + slack
        rank = np.mean(norms <= va.norms.get_quantile(q))
        assert abs(rank - q) < 0.04
    if same_sample:  # the same rows in the same batches: the sample's keys are seeded by the batches' bytes
        assert np.array_equal(va.sample, vb.sample) and np.array_equal(va.keys, vb.keys)
    rows = {tuple(r) for r in v.astype(np.float32)}
    assert len(va.sample) == min(len(v), va.size) and all(tuple(r) in rows for r in va.sample)
    for name in ("i", "x", "c", "t"):
        ca, cb = got.columns[name], want.columns[name]
        assert (ca.kind, ca.count, ca.missing, ca.errors) == (cb.kind, cb.count, cb.missing, cb.errors)
        if ca.numeric is not None and cb.numeric is not None:
            assert ca.numeric.mean == pytest.approx(cb.numeric.mean, rel=1e-12)
            assert (ca.numeric.min, ca.numeric.max) == (cb.numeric.min, cb.numeric.max)


# --------------------------------------------------------------------------- Parquet


@pytest.mark.parametrize("workers", [1, 2])
def test_parquet_with_arrays_beside_profiles_as_the_table_with_a_vector_column(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    _, v = write_parts(tmp_path)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_CELLS", 0)  # worker processes even for these small files
    monkeypatch.setattr(files, "TASK_ROWS", 1000)  # read tasks of runs of row groups, from row offsets
    got = profile_source(beside(tmp_path), workers=workers, progress=False)
    want = profile_source(FileSource((str(tmp_path / "w"),)), workers=workers, progress=False)
    assert_same_vector_profile(got, want, v, same_sample=True)


def test_every_read_task_joins_row_i_of_the_array_to_row_i_of_the_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_parts(tmp_path)
    monkeypatch.setattr(files, "TASK_ROWS", 1000)
    tasks = beside(tmp_path).plan(split=3)  # runs of row groups, split by columns too
    assert len({t.row_groups for t in tasks if t.path.name == "part-0.parquet"}) > 1
    assert any(t.arrays and t.columns == () for t in tasks)  # a column group of the array alone
    seen = 0
    for task in tasks:
        if task.arrays:
            task = files.ReadTask(task.path, task.format, task.row_groups, None, (), task.rows, 1.0, True,
                                  (), task.arrays)
            for batch in task.batches():
                first = batch.column("emb").flatten().to_numpy().reshape(-1, DIM)[:, 0]
                assert np.array_equal(first, batch.column("i").to_numpy())
                seen += batch.num_rows
            table_rows = 0
            for rows, columns in task.column_chunks():
                pieces = dict(columns)
                assert len(pieces["emb"]) == rows
                assert np.array_equal(pieces["emb"].flatten().to_numpy().reshape(-1, DIM)[:, 0], pieces["i"])
                table_rows += rows
            assert table_rows == task.rows
    assert seen == sum(SIZES) * 1  # each run read once by the task holding the array


def test_include_and_exclude_select_the_array_columns_too(tmp_path: Path) -> None:
    write_parts(tmp_path, sizes=(300,))
    ds = DatasetConfig.model_validate({"path": str(tmp_path / "t"), "arrays": {"emb": str(tmp_path / "a")}})
    only = profile_source(dataset_source(ds, ("x", "emb")), workers=1)
    assert list(only.columns) == ["x", "emb"]
    without = profile_source(dataset_source(ds, None, ("emb",)), workers=1)
    assert "emb" not in without.columns and without.row_count == 300


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_read_in_blocks_gets_each_blocks_rows_of_the_arrays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 fmt: str) -> None:
    frame, v = write_parts(tmp_path, fmt=fmt)
    monkeypatch.setattr(text, "BLOCK_SIZE", 16 << 10)  # many blocks per file
    source = beside(tmp_path)
    batches = list(source.iter_batches())
    assert len(batches) > 2 * len(SIZES)
    for batch in batches:
        first = batch.column("emb").flatten().to_numpy().reshape(-1, DIM)[:, 0]
        assert np.array_equal(first, np.asarray(batch.column("i").to_pylist(), dtype=float))
    got = profile_source(source, workers=1, progress=False)
    assert got.columns["i"].kind == "integer" and got.columns["x"].kind == "decimal"
    mean = v.mean(axis=0)
    vec = got.columns["emb"].vector
    assert vec is not None and vec.n == len(frame) == got.row_count
    np.testing.assert_allclose(vec.mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vec.m2, ((v - mean) ** 2).sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("workers", [1, 2])
def test_csv_with_arrays_equals_its_profile_with_the_vectors_joined_by_hand(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    _, v = write_parts(tmp_path, fmt="csv")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_CELLS", 0)
    got = profile_source(beside(tmp_path), workers=workers, progress=False)
    want = profile_source(FileSource((str(tmp_path / "w"),)), workers=1, progress=False)
    assert_same_vector_profile(got, want, v, same_sample=False)  # CSV blocks are not Parquet's row groups


# --------------------------------------------------------------------------- mismatches


def test_a_missing_array_file_names_the_column_and_the_table_file(tmp_path: Path) -> None:
    write_parts(tmp_path)
    (tmp_path / "a" / "part-2.npy").unlink()
    with pytest.raises(SourceError, match=r"column 'emb': 2 .npy file\(s\) for 3 table file\(s\).*part-2.parquet "
                                          r"has no array file"):
        beside(tmp_path).plan()


def test_an_array_of_other_rows_names_both_files_and_the_column(tmp_path: Path) -> None:
    write_parts(tmp_path)
    np.save(tmp_path / "a" / "part-1.npy", np.zeros((SIZES[1] - 1, DIM)))
    pattern = r"part-1.npy \(column 'emb'.*part-1.parquet\): 1699 rows, but the table file has 1700 rows"
    with pytest.raises(SourceError, match=pattern):
        beside(tmp_path).plan()
    with pytest.raises(SourceError, match=pattern):
        list(beside(tmp_path).iter_batches())


@pytest.mark.parametrize("rows", [SIZES[0] - 5, SIZES[0] + 5])
def test_a_csv_file_and_an_array_of_other_rows_name_both_files(tmp_path: Path, rows: int) -> None:
    write_parts(tmp_path, fmt="csv")
    np.save(tmp_path / "a" / "part-0.npy", np.zeros((rows, DIM)))
    with pytest.raises(SourceError, match=r"part-0.npy \(column 'emb' beside .*part-0.csv\)"):
        profile_source(beside(tmp_path), workers=1)


def test_a_1d_array_names_both_files_and_the_column(tmp_path: Path) -> None:
    write_parts(tmp_path)
    np.save(tmp_path / "a" / "part-0.npy", np.zeros(SIZES[0]))
    with pytest.raises(SourceError, match=r"part-0.npy \(column 'emb' beside .*part-0.parquet\): .*2-D"):
        profile_source(beside(tmp_path), workers=1)


def test_a_column_the_table_has_names_both_files(tmp_path: Path) -> None:
    write_parts(tmp_path, fmt="csv")
    source = FileSource((str(tmp_path / "t"),), arrays=(("x", (str(tmp_path / "a"),)),))
    with pytest.raises(SourceError, match=r"part-0.csv: column 'x' is in the table and in arrays \(.*part-0.npy\)"):
        profile_source(source, workers=1)
    write_parts(tmp_path / "p")
    source = FileSource((str(tmp_path / "p" / "t"),), arrays=(("x", (str(tmp_path / "p" / "a"),)),))
    with pytest.raises(SourceError, match=r"part-0.parquet: column 'x' is in the table and in arrays"):
        source.plan()


def test_arrays_go_with_files_and_change_the_version(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="datasets.q: arrays go with files"):
        parse_config({"datastores": {"db": {"kind": "sql", "url": "sqlite://"}},
                      "datasets": {"q": {"datastore": "db", "query": "SELECT 1", "arrays": {"e": "a.npy"}}}})
    config = parse_config({"datasets": {"d": {"path": "t", "arrays": {"emb": "a/*.npy"}}}}, tmp_path)
    assert config.datasets["d"].arrays == {"emb": (str(tmp_path / "a" / "*.npy"),)}  # resolved as paths are
    plain = DatasetConfig.model_validate({"path": "/data/x.parquet"})
    assert set(plain.definition()) == {"path", "format", "columns", "types"}  # no new version on upgrade
    write_parts(tmp_path / "data", sizes=(50, 60))
    data = tmp_path / "data"
    with Workspace(tmp_path / "store.db") as ws:
        def version(**kw: Any) -> int:
            return Dataset.from_files(str(data / "t"), **kw).register(ws, "d", create_new_version=True).version
        assert version() == 1
        assert version(arrays={"emb": str(data / "a")}) == 2
        assert version(arrays={"emb": str(data / "a")}) == 2
        assert version(arrays={"vec": str(data / "a")}) == 3


# --------------------------------------------------------------------------- snapshots


def test_api_snapshots_fingerprint_the_arrays_and_keep_a_data_copy(tmp_path: Path) -> None:
    _, v = write_parts(tmp_path, sizes=(500, 300))
    with Workspace(tmp_path / "store.db") as ws:
        for kind in ("metadata", "content"):
            ds = Dataset.from_files(str(tmp_path / "t"), arrays={"emb": str(tmp_path / "a")}, fingerprint=kind)
            ds = ds.register(ws, f"d-{kind}", create_new_version=True)
            first = ds.create_snapshot(f"{kind}-1", create_data_snapshot=True)
            assert first.record.row_count == 800
            copy = pq.read_table(first.record.data_copy)
            now = np.concatenate([np.load(p) for p in sorted((tmp_path / "a").glob("*.npy"))])
            assert np.array_equal(copy.column("emb").combine_chunks().flatten().to_numpy().reshape(-1, DIM), now)
            assert np.array_equal(now[:, 0], np.arange(800)) and np.array_equal(now[:7], v[:7])
            same = ds.create_snapshot(f"{kind}-2").record.fingerprint
            changed = np.load(tmp_path / "a" / "part-1.npy")
            changed[7, 3] += 1.0
            np.save(tmp_path / "a" / "part-1.npy", changed)
            after = ds.create_snapshot(f"{kind}-3").record.fingerprint
            assert first.record.fingerprint == same != after  # a changed array is new data
            vec = load_profile(ws.store, ds.create_snapshot(f"{kind}-4").record).columns["emb"].vector
            assert vec is not None and vec.n == 800


def test_cli_snapshot_of_a_dataset_with_arrays(tmp_path: Path) -> None:
    _, v = write_parts(tmp_path / "data", sizes=(400, 350))
    config = {"store": "store/monitor.db", "reports_dir": "reports",
              "datasets": {"d": {"path": "data/t", "arrays": {"emb": "data/a/*.npy"}}}}
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["snapshot", "create", "d", "-c", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert made["rows"] == 750 and made["status"] == "completed"
    with Workspace(path) as ws:
        record = Dataset.get_by_name(ws, "d").get_snapshot(made["name"]).record
        vec = load_profile(ws.store, record).columns["emb"].vector
    assert vec is not None
    np.testing.assert_allclose(vec.mean, v.mean(axis=0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_time_window_profiles_the_arrays_rows_of_the_window(tmp_path: Path, jobs: int) -> None:
    from monitor.service.windowed import profile_windows
    from monitor.service.windows import Window

    frame, v = write_parts(tmp_path)
    ds = DatasetConfig.model_validate({"path": str(tmp_path / "t"), "arrays": {"emb": str(tmp_path / "a")},
                                       "timestamp_column": "t"})
    start, end = frame["t"].iloc[1000].to_pydatetime(), frame["t"].iloc[3700].to_pydatetime()
    window = Window(start.astimezone(timezone.utc), end.astimezone(timezone.utc))
    result = profile_windows(ds, [window], jobs=jobs)
    (one,) = result.windows
    assert one.reason is None and one.profile is not None
    rows = v[1000:3700]
    vec = one.profile.columns["emb"].vector
    assert vec is not None and vec.n == len(rows) == one.profile.row_count
    np.testing.assert_allclose(vec.mean, rows.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vec.m2, ((rows - rows.mean(axis=0)) ** 2).sum(axis=0), rtol=1e-12)
    assert result.fingerprint  # covers the arrays too (see the snapshots' test)


# --------------------------------------------------------------------------- datastores and Dask


@pytest.mark.parametrize("workers", [1, 2])
def test_arrays_in_an_s3_datastore_profile_as_the_local_files(
        s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    _, v = write_parts(tmp_path, fmt="parquet")
    bucket = s3_server.new_bucket("beside")
    s3_server.put_folder(bucket, "t", tmp_path / "t")
    s3_server.put_folder(bucket, "a", tmp_path / "a")
    store = {"kind": "s3", "bucket": bucket, "endpoint_url": s3_server.endpoint_url, "region": s3_server.region,
             "access_key_id": s3_server.key, "secret_access_key": s3_server.secret}
    config = parse_config({"datastores": {"lake": store},
                           "datasets": {"d": {"datastore": "lake", "path": "t/*.parquet", "arrays": {"emb": "a/"}}}},
                          tmp_path)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_CELLS", 0)
    monkeypatch.setattr(files, "TASK_ROWS", 1000)  # tasks starting inside the objects: seeks after the header
    source = dataset_source(config.datasets["d"])
    assert [str(a) for _, a in source.paired(source.files())[str(source.files()[1])]] == [
        f"datastore 'lake': s3://{bucket}/a/part-1.npy"]
    got = profile_source(source, workers=workers, progress=False)
    want = profile_source(beside(tmp_path), workers=workers, progress=False)
    assert_same_vector_profile(got, want, v, same_sample=True)


def test_datastore_check_lists_the_arrays_as_they_pair_and_a_missing_one(
        s3_server: Any, tmp_path: Path) -> None:
    write_parts(tmp_path, fmt="parquet")
    bucket = s3_server.new_bucket("checked")
    s3_server.put_folder(bucket, "t", tmp_path / "t")
    s3_server.put_folder(bucket, "a", tmp_path / "a")
    store = {"kind": "s3", "bucket": bucket, "endpoint_url": s3_server.endpoint_url, "region": s3_server.region,
             "access_key_id": s3_server.key, "secret_access_key": s3_server.secret}
    config = {"datastores": {"lake": store},
              "datasets": {"d": {"datastore": "lake", "path": "t/*.parquet", "arrays": {"emb": "a/"}}}}
    path = tmp_path / "check.yaml"
    path.write_text(yaml.safe_dump(config))
    run = CliRunner().invoke(main, ["datastore", "check", "lake", "-c", str(path), "--format", "json"])
    assert run.exit_code == 0, run.output
    entry = json.loads(run.output)["datasets"][0]
    parts = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert [(a["table"].rsplit("/", 1)[1], a["column"], a["input"].rsplit("/", 1)[1]) for a in entry["arrays"]] == [
        (f"part-{k}.parquet", "emb", name) for k, name in enumerate(parts)]
    assert [a["size"] for a in entry["arrays"]] == [(tmp_path / "a" / n).stat().st_size for n in parts]
    text = CliRunner().invoke(main, ["datastore", "check", "lake", "-c", str(path)])
    assert f"emb beside s3://{bucket}/t/part-0.parquet: s3://{bucket}/a/part-0.npy" in text.output
    # an array file missing from the bucket: the check fails naming the column and the unpaired file
    s3_server.client().delete_object(Bucket=bucket, Key=f"a/{parts[-1]}")
    run = CliRunner().invoke(main, ["datastore", "check", "lake", "-c", str(path), "--format", "json"])
    assert run.exit_code == 1
    error = json.loads(run.output)["datasets"][0]["error"]
    assert "'emb'" in error and f"part-{len(parts) - 1}.parquet has no array file" in error, error


def test_dask_engine_profiles_arrays_beside_as_the_local_engine(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from monitor.profile.dask_engine import DaskSettings

    _, v = write_parts(tmp_path)
    got = profile_source(beside(tmp_path), dask=DaskSettings(workers=1), progress=False)
    want = profile_source(FileSource((str(tmp_path / "w"),)), workers=1, progress=False)
    assert_same_vector_profile(got, want, v, same_sample=True)


def test_a_window_snapshot_keeps_the_windows_vectors_in_its_data_copy(tmp_path: Path) -> None:
    from monitor.service.runner import take_snapshot
    from monitor.service.windows import Window
    from monitor.store import Store

    frame, v = write_parts(tmp_path)
    ds = DatasetConfig.model_validate({"path": str(tmp_path / "t"), "arrays": {"emb": str(tmp_path / "a")},
                                       "timestamp_column": "t"})
    window = Window(frame["t"].iloc[2400].to_pydatetime(), frame["t"].iloc[2600].to_pydatetime())
    with Store(tmp_path / "store.db") as store:
        snap = take_snapshot(store, "d", ds, window=window, data_copy=True)
        copy = pq.read_table(snap.data_copy)
    assert snap.row_count == 200
    assert np.array_equal(copy.column("emb").combine_chunks().flatten().to_numpy().reshape(-1, DIM), v[2400:2600])
    assert copy.column("i").to_pylist() == list(range(2400, 2600))


def test_segments_get_the_vectors_of_their_rows(tmp_path: Path) -> None:
    from monitor.config.monitors import SegmentsConfig
    from monitor.service.segments import profile_segments

    frame, v = write_parts(tmp_path)
    ds = DatasetConfig.model_validate({"path": str(tmp_path / "t"), "arrays": {"emb": str(tmp_path / "a")}})
    result = profile_segments(ds, SegmentsConfig(column="c"))
    for value, profile in result.segments.items():
        rows = v[(frame["c"] == value).to_numpy()]
        vec = profile.columns["emb"].vector
        assert vec is not None and vec.n == len(rows) > 0
        np.testing.assert_allclose(vec.mean, rows.mean(axis=0), rtol=1e-12, atol=1e-12)
