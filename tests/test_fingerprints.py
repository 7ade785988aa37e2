"""Input fingerprints: ``metadata`` (paths, sizes, modification times) and
``content`` (the files' bytes, hashed while text files are read), for plain,
windowed, backfilled and segmented snapshots, checked against hashlib."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from monitor import Dataset, Workspace
from monitor.cli import main
from monitor.profile import parallel, profile_source
from monitor.service.runner import run_monitor
from monitor.sources import digest
from monitor.sources.files import FileSource
from monitor.store import Store


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def content_oracle(paths: list[Path]) -> str:
    """The documented definition: SHA-256 of the files' SHA-256 hex digests, sorted, one a line."""
    return hashlib.sha256("".join(sorted(f"{sha256(p)}\n" for p in paths)).encode()).hexdigest()


def frame(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(0, 1, n), "c": rng.choice(["a", "b", "c"], n),
                         "t": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 3 * 86400, n),
                                                                                      unit="s")})


@pytest.fixture
def hashed_apart(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files hashed by a read of their own (not while the data was read)."""
    calls: list[str] = []
    real = digest.file_sha256

    def spy(path: str | os.PathLike[str]) -> str:
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(digest, "file_sha256", spy)
    return calls


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_touch_keeps_a_content_fingerprint_and_changes_a_metadata_one(tmp_path: Path, fmt: str,
                                                                      hashed_apart: list[str]) -> None:
    data = tmp_path / f"part.{fmt}"
    write = {"csv": lambda f, p: f.to_csv(p, index=False), "parquet": lambda f, p: f.to_parquet(p),
             "jsonl": lambda f, p: f.to_json(p, orient="records", lines=True, date_format="iso")}[fmt]
    write(frame(1), data)
    with Workspace(tmp_path / "store.db") as ws:
        by_content = Dataset.from_files(str(data), fingerprint="content").register(ws, "d", create_new_version=True)
        by_metadata = Dataset.from_files(str(data)).register(ws, "d", create_new_version=True)
        assert by_content.version == by_metadata.version == 1  # a setting, not a new version
        c1, m1 = by_content.create_snapshot("c1").record, by_metadata.create_snapshot("m1").record
        st = data.stat()
        os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touch
        c2, m2 = by_content.create_snapshot("c2").record, by_metadata.create_snapshot("m2").record
    assert (c1.fingerprint_kind, m1.fingerprint_kind) == ("content", "metadata")
    assert c1.fingerprint == c2.fingerprint == content_oracle([data])
    assert m1.fingerprint != m2.fingerprint
    # text files are hashed as the snapshot reads them; Parquet by a read of its own
    assert hashed_apart == ([] if fmt != "parquet" else ["part.parquet", "part.parquet"])
    write(frame(2), data)  # other bytes
    with Workspace(tmp_path / "store.db") as ws:
        assert Dataset.get_by_name(ws, "d").definition.fingerprint == "metadata"  # as last registered
        changed = Dataset.from_files(str(data), fingerprint="content").register(ws, "d").create_snapshot("c3")
    assert changed.record.fingerprint == content_oracle([data]) != c1.fingerprint


def test_the_same_bytes_under_another_name_have_the_same_content_fingerprint(tmp_path: Path) -> None:
    """The path is not part of a content fingerprint: copies elsewhere, renamed
    files and another file order give the same; a metadata one differs."""
    first, second = tmp_path / "a" / "jan.csv", tmp_path / "a" / "feb.csv"
    first.parent.mkdir()
    frame(1).to_csv(first, index=False)
    frame(2).to_csv(second, index=False)
    copies = tmp_path / "elsewhere"
    copies.mkdir()
    shutil.copy(first, copies / "z-first.csv")  # renamed: now sorts after the other
    shutil.copy(second, copies / "a-second.csv")
    with Workspace(tmp_path / "store.db") as ws:
        prints = {}
        for name, folder in (("original", first.parent), ("copy", copies)):
            for kind in ("content", "metadata"):
                ds = Dataset.from_files(str(folder), fingerprint=kind).register(ws, name, create_new_version=True)
                prints[name, kind] = ds.create_snapshot(f"{kind}-1").record.fingerprint
    assert prints["original", "content"] == prints["copy", "content"] == content_oracle([first, second])
    assert prints["original", "metadata"] != prints["copy", "metadata"]


def test_parallel_profiling_hashes_each_text_file_in_the_worker_that_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"part-{i}.csv")
        frame(i, 3000).to_csv(paths[-1], index=False)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_CELLS", 0)  # workers even for these small files
    found: dict[str, str] = {}
    profile = profile_source(FileSource((str(tmp_path),), "csv"), workers=2, digests=found)
    assert profile.row_count == 9000
    assert found == {str(p): sha256(p) for p in paths}


def test_a_file_read_only_in_part_is_not_taken_as_hashed(tmp_path: Path) -> None:
    path = tmp_path / "part.csv"
    frame(1, 5000).to_csv(path, index=False)
    found: dict[str, str] = {}
    batches = FileSource((str(path),)).iter_batches(digests=found)
    next(batches)
    batches.close()  # stopped early
    assert found == {}
    assert digest.content_fingerprint([path], found) == content_oracle([path])  # hashed apart instead


# --------------------------------------------------------------------------- windows, backfill, segments


def write_config(folder: Path, monitors: dict[str, Any], **dataset: Any) -> Path:
    config = {"store": "store/monitor.db", "reports_dir": "reports",
              "datasets": {"d": {"path": "data", "fingerprint": "content", "timestamp_column": "t", **dataset}},
              "monitors": monitors}
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("jobs", [1, 2])
def test_windowed_snapshots_and_backfill_record_the_content_fingerprint(
    tmp_path: Path, jobs: int, hashed_apart: list[str],
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    files = [data / "one.csv", data / "two.csv"]
    for i, path in enumerate(files):
        frame(i, 600).to_csv(path, index=False)
    config = write_config(tmp_path, {"daily": {"dataset": "d", "schedule": {"every": "1d"},
                                               "window": {"size": "1d"}}})
    with Workspace(config) as ws:
        summary = ws.backfill("daily", "2024-01-01", "2024-01-04", jobs=jobs)
        assert summary.written == 3
        snaps = ws.store.list_snapshots("d")
    assert [s.fingerprint_kind for s in snaps] == ["content"] * 3
    assert {s.fingerprint for s in snaps} == {content_oracle(files)}
    assert hashed_apart == []  # each CSV hashed as the pass read it (in its worker with jobs=2)
    result = CliRunner().invoke(main, ["snapshot", "show", "d", snaps[0].name, "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert f"fingerprint: {content_oracle(files)} (content), dataset version 1" in result.output


def test_a_segmented_snapshot_records_the_content_fingerprint(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    frame(3).to_parquet(data / "part.parquet")
    config = write_config(tmp_path, {"seg": {"dataset": "d", "schedule": {"every": "1d"},
                                             "segments": {"column": "c"}}})
    from monitor.config import load_config

    loaded = load_config(config)
    with Store(loaded.store) as store:
        target = run_monitor(loaded, "seg", store).target
    assert target is not None
    assert (target.fingerprint_kind, target.fingerprint) == ("content", content_oracle([data / "part.parquet"]))


def test_a_content_fingerprint_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown fingerprint kind 'bytes'"):
        digest.input_fingerprint("bytes", [])
    bad = tmp_path / "monitors.yaml"
    bad.write_text(yaml.safe_dump({"datasets": {"d": {"path": "x.csv", "fingerprint": "bytes"}}, "monitors": {}}))
    result = CliRunner().invoke(main, ["validate", "-c", str(bad)])
    assert result.exit_code == 2
    assert "datasets.d.fingerprint" in result.output
