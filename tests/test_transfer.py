"""Snapshot files: ``snapshot export`` / ``snapshot import`` / ``snapshot verify``
and ``compare`` of any two snapshots, on the real NYC flights 2013 data.

The oracle of a round trip is the source store itself: the comparison
computed there before export, its stored profile records (sketch bytes
included) and its Parquet data copy's bytes. A damaged file must change
nothing in the target store: every table's row count and every file under
the store folder are compared before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from monitor import Dataset, Workspace
from monitor.cli import main
from monitor.config import SegmentsConfig
from monitor.errors import SnapshotFileError, StoreError
from monitor.service.archive import MANIFEST, MANIFEST_SUM
from monitor.service.runner import take_snapshot
from monitor.service.transfer import export_snapshot
from monitor.store import IMPORTING_REASON, Store

ROOT = Path(__file__).resolve().parents[1]
JANUARY, JULY_WEEK = "january_20130101", "weekly_vs_january_20130708"
EXCLUDE = ["year", "month", "day", "time_hour"]


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args])


def target_config(folder: Path) -> Path:
    """A configuration whose store is ``folder/store/monitor.db`` (no datasets)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "target.yaml"
    config.write_text("store: store/monitor.db\n")
    return config


def store_state(db: Path) -> tuple[dict[str, int], dict[str, str]]:
    """Every table's row count, and every file under the store folder (the
    database files by name, the others by SHA-256 of their content)."""
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    con.close()
    files = {}
    for path in sorted(db.parent.rglob("*")):
        if path.is_file():
            digest = "db" if path.name.startswith(db.name) else hashlib.sha256(path.read_bytes()).hexdigest()
            files[str(path.relative_to(db.parent))] = digest
    return counts, files


def member_span(path: Path, name: str) -> tuple[int, int]:
    """(offset, length) of member ``name``'s stored bytes in the zip file."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def flipped(source: Path, dest: Path, member: str) -> Path:
    """A copy of ``source`` with one bit flipped in the middle of ``member``'s bytes."""
    start, length = member_span(source, member)
    raw = bytearray(source.read_bytes())
    raw[start + length // 2] ^= 0x01
    dest.write_bytes(bytes(raw))
    return dest


def rewritten(source: Path, dest: Path, change: dict[str, bytes], manifest: Any = None) -> Path:
    """A copy of ``source`` with members replaced by ``change`` (zip CRCs
    recomputed, so only the manifest's SHA-256 can catch it); with
    ``manifest``, a new manifest (and a matching ``manifest.json.sha256``)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            data = change.get(info.filename, zin.read(info.filename))
            if manifest is not None and info.filename == MANIFEST:
                data = json.dumps(manifest).encode()
            if manifest is not None and info.filename == MANIFEST_SUM:
                data = f"{hashlib.sha256(json.dumps(manifest).encode()).hexdigest()}  {MANIFEST}\n".encode()
            zout.writestr(info, data)
    return dest


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def exported(flights_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """January and the July week of the backfilled flights example, exported
    with the CLI (the example's store is only read)."""
    out = tmp_path_factory.mktemp("exported")
    config = flights_run / "config" / "flights.yaml"
    files = {}
    for name in (JANUARY, JULY_WEEK):
        files[name] = out / f"{name}.dmsnap"
        result = invoke("snapshot", "export", "flights", name, "-o", files[name], "-c", config)
        assert result.exit_code == 0, result.output
        assert f"wrote {files[name]}" in result.output
    return files


@pytest.fixture(scope="module")
def with_copies(flights_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with January and July 2013 taken with data copies, and January
    again with segment profiles by carrier."""
    folder = tmp_path_factory.mktemp("copies")
    data = flights_run / "example-data" / "flights"
    with Workspace(folder / "store" / "monitor.db") as ws:
        jan = Dataset.from_files(str(data / "2013-01.parquet"), exclude=EXCLUDE).register(ws, "flights")
        jan.create_snapshot("jan", create_data_snapshot=True)
        jul = Dataset.from_files(str(data / "2013-07.parquet"), exclude=EXCLUDE)
        jul.register(ws, "flights", create_new_version=True).create_snapshot("jul", create_data_snapshot=True)
        take_snapshot(ws.store, "flights", jan.definition, name="jan_by_carrier",
                      segments=SegmentsConfig(column="carrier", max=5))
    return folder / "store" / "monitor.db"


# ------------------------------------------------------------------ round trips


def test_export_then_import_gives_the_same_snapshot_and_the_same_comparison(
        flights_run: Path, exported: dict[str, Path], tmp_path: Path) -> None:
    source = flights_run / "example-store" / "monitor.db"
    with Workspace(source) as ws:
        before = ws.compare("flights", JANUARY, JULY_WEEK).to_dict()
        originals = {n: ws.store.get_snapshot("flights", n) for n in (JANUARY, JULY_WEEK)}
        records = {n: ws.store.load_profile(s.id) for n, s in originals.items()}
        definition = ws.store.get_dataset("flights", originals[JANUARY].dataset_version).definition
    config = target_config(tmp_path)
    for name in (JANUARY, JULY_WEEK):
        result = invoke("snapshot", "import", exported[name], "-c", config)
        assert result.exit_code == 0, result.output
        assert f"imported flights/{name}" in result.output

    with Workspace(tmp_path / "store" / "monitor.db") as ws:
        after = ws.compare("flights", JANUARY, JULY_WEEK).to_dict()
        for name, original in originals.items():
            copy = ws.store.get_snapshot("flights", name)
            for key in ("name", "monitor", "created_at", "completed_at", "window_start", "window_end",
                        "row_count", "fingerprint", "profile_version", "status"):
                assert getattr(copy, key) == getattr(original, key), key
            assert ws.store.load_profile(copy.id) == records[name]  # stats and sketch bytes
        assert ws.store.get_dataset("flights").definition == definition
    assert after == before
    assert before["verdict"]["drifted"]  # a July week against January: a comparison with something in it


def test_a_data_copy_comes_back_byte_identical(with_copies: Path, tmp_path: Path) -> None:
    with Workspace(with_copies) as ws:
        jan, jul = ws.store.get_snapshot("flights", "jan"), ws.store.get_snapshot("flights", "jul")
        exact_before = ws.compare("flights", "jan", "jul", exact=True).to_dict()
        frames = {s.name: Dataset.get_by_name(ws, "flights").get_snapshot(s.name).to_pandas_dataframe()
                  for s in (jan, jul)}
        files = [Dataset.get_by_name(ws, "flights").get_snapshot(n).export(tmp_path / f"{n}.dmsnap")
                 for n in ("jan", "jul")]
    with Workspace(tmp_path / "target" / "monitor.db") as target:
        imported = [target.import_snapshot(f) for f in files]
        for original, copy in zip((jan, jul), imported, strict=True):
            assert copy.record.data_copy == str(tmp_path / "target" / "data" / "flights" / f"{original.name}.parquet")
            assert Path(copy.record.data_copy).read_bytes() == Path(str(original.data_copy)).read_bytes()
            pd.testing.assert_frame_equal(copy.to_pandas_dataframe(), frames[original.name])
            assert copy.record.dataset_version == original.dataset_version  # jan: version 1, jul: version 2
        assert target.compare("flights", "jan", "jul", exact=True).to_dict() == exact_before
        leftovers = [p.name for p in (tmp_path / "target" / "data" / "flights").iterdir()]
        assert sorted(leftovers) == ["jan.parquet", "jul.parquet"]


def test_segment_profiles_travel_with_their_snapshot(with_copies: Path, tmp_path: Path) -> None:
    with Store(with_copies) as store:
        original = store.get_snapshot("flights", "jan_by_carrier")
        segments = store.load_segment_profiles(original.id)
    assert segments[0] == "carrier" and len(segments[1]) >= 5
    path = tmp_path / "seg.dmsnap"
    assert invoke("snapshot", "export", "flights", "jan_by_carrier", "-o", path, "-c",
                  _config_for_store(with_copies, tmp_path)).exit_code == 0
    with Workspace(tmp_path / "target" / "monitor.db") as target:
        copy = target.import_snapshot(path)
        assert target.store.load_segment_profiles(copy.record.id) == segments
        assert copy.record.data_copy is None


def _config_for_store(db: Path, folder: Path) -> Path:
    config = folder / "source.yaml"
    config.write_text(f"store: {db}\n")
    return config


# ------------------------------------------------------------------ damaged files


@pytest.mark.parametrize("member", ["profile.json", "data.parquet"])
def test_one_flipped_byte_is_refused_naming_the_member_and_nothing_changes(
        with_copies: Path, tmp_path: Path, member: str) -> None:
    config = target_config(tmp_path / "target")
    good = tmp_path / "jan.dmsnap"
    assert invoke("snapshot", "export", "flights", "jan", "-o", good, "-c",
                  _config_for_store(with_copies, tmp_path)).exit_code == 0
    assert invoke("snapshot", "import", good, "-c", config, "--as", "already_here").exit_code == 0
    db = tmp_path / "target" / "store" / "monitor.db"
    before = store_state(db)

    bad = flipped(good, tmp_path / "bad.dmsnap", member)
    result = invoke("snapshot", "import", bad, "-c", config)
    assert result.exit_code == 1
    assert f"member '{member}'" in result.output and str(bad) in result.output
    with Workspace(db) as ws, pytest.raises(SnapshotFileError, match=f"member '{member}'"):
        ws.import_snapshot(bad)
    assert invoke("snapshot", "verify", bad).exit_code == 1
    assert store_state(db) == before


def test_a_file_cut_in_half_is_refused_as_truncated_and_nothing_changes(exported: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    config = target_config(tmp_path)
    assert invoke("snapshot", "import", exported[JANUARY], "-c", config).exit_code == 0
    db = tmp_path / "store" / "monitor.db"
    before = store_state(db)
    raw = exported[JULY_WEEK].read_bytes()
    cut = tmp_path / "cut.dmsnap"
    cut.write_bytes(raw[:len(raw) // 2])
    result = invoke("snapshot", "import", cut, "-c", config)
    assert result.exit_code == 1
    assert "truncated" in result.output and str(cut) in result.output
    assert store_state(db) == before


def test_a_member_changed_with_a_valid_zip_crc_fails_its_sha256(exported: dict[str, Path], tmp_path: Path) -> None:
    """A member rewritten whole (zip's CRC-32 matches it): only the manifest's SHA-256 can tell."""
    with zipfile.ZipFile(exported[JANUARY]) as zf:
        body = json.loads(zf.read("profile.json"))
    body["profile"]["row_count"] += 1
    forged = rewritten(exported[JANUARY], tmp_path / "forged.dmsnap", {"profile.json": json.dumps(body).encode()})
    with Workspace(tmp_path / "t.db") as ws, pytest.raises(SnapshotFileError,
                                                          match="member 'profile.json' fails its SHA-256 check"):
        ws.import_snapshot(forged)


def test_a_newer_format_version_is_refused_with_the_versions(exported: dict[str, Path], tmp_path: Path) -> None:
    with zipfile.ZipFile(exported[JANUARY]) as zf:
        manifest = json.loads(zf.read(MANIFEST))
    newer = rewritten(exported[JANUARY], tmp_path / "newer.dmsnap", {}, {**manifest, "format_version": 2})
    result = invoke("snapshot", "verify", newer)
    assert result.exit_code == 1
    assert "format version 2" in result.output and "up to 1" in result.output


# ------------------------------------------------------------------ names


def test_a_name_clash_is_an_error_unless_as_or_dataset(exported: dict[str, Path], tmp_path: Path) -> None:
    config = target_config(tmp_path)
    file = exported[JANUARY]
    assert invoke("snapshot", "import", file, "-c", config).exit_code == 0
    db = tmp_path / "store" / "monitor.db"
    before = store_state(db)
    clash = invoke("snapshot", "import", file, "-c", config)
    assert clash.exit_code == 1
    assert f"snapshot '{JANUARY}' of dataset 'flights' already exists" in clash.output and "--as" in clash.output
    assert store_state(db) == before

    renamed = invoke("snapshot", "import", file, "-c", config, "--as", "january_prod", "--format", "json")
    assert renamed.exit_code == 0, renamed.output
    assert json.loads(renamed.output)["name"] == "january_prod"
    moved = invoke("snapshot", "import", file, "-c", config, "--dataset", "flights_prod")
    assert moved.exit_code == 0, moved.output
    with Store(db) as store:
        assert [s.name for s in store.list_snapshots("flights")] == [JANUARY, "january_prod"]
        (other,) = store.list_snapshots("flights_prod")
        assert other.name == JANUARY and other.status == "completed"
        assert store.get_dataset("flights_prod").definition == store.get_dataset("flights").definition
        assert store.load_profile(other.id) == store.load_profile(store.get_snapshot("flights", JANUARY).id)
    with Workspace(db) as ws, pytest.raises(StoreError, match="cannot be used as a file name"):
        ws.import_snapshot(file, name="a/b")


def test_a_changed_definition_becomes_a_new_version_and_a_known_one_is_reused(
        with_copies: Path, tmp_path: Path) -> None:
    with Workspace(with_copies) as ws:
        jan = Dataset.get_by_name(ws, "flights").get_snapshot("jan").export(tmp_path / "jan.dmsnap")
        jul = Dataset.get_by_name(ws, "flights").get_snapshot("jul").export(tmp_path / "jul.dmsnap")
    with Workspace(tmp_path / "t" / "monitor.db") as ws:
        assert ws.import_snapshot(jul).record.dataset_version == 1
        assert ws.import_snapshot(jan).record.dataset_version == 2  # another definition: another version
        assert ws.import_snapshot(jul, name="jul_again").record.dataset_version == 1  # the same as version 1


# ------------------------------------------------------------------ compare anything


def test_compare_across_datasets_and_with_files_gives_the_one_dataset_result(
        flights_run: Path, exported: dict[str, Path], tmp_path: Path) -> None:
    config = flights_run / "config" / "flights.yaml"
    old = invoke("compare", "flights", JANUARY, JULY_WEEK, "-c", config, "--format", "json")
    assert old.exit_code == 0, old.output
    reference = json.loads(old.output)

    target = target_config(tmp_path)
    assert invoke("snapshot", "import", exported[JANUARY], "-c", target, "--dataset", "baseline_set").exit_code == 0
    assert invoke("snapshot", "import", exported[JULY_WEEK], "-c", target, "--dataset", "flights").exit_code == 0
    across = invoke("compare", f"baseline_set:{JANUARY}", f"flights:{JULY_WEEK}", "-c", target, "--format", "json")
    files = invoke("compare", f"file:{exported[JANUARY]}", exported[JULY_WEEK], "-c", tmp_path / "none.yaml",
                   "--format", "json", "--report", tmp_path / "files.html")
    mixed = invoke("compare", f"flights:{JANUARY}", exported[JULY_WEEK], "-c", config, "--format", "json")
    for result in (across, files, mixed):
        assert result.exit_code == 0, result.output
        # flights.yaml sets no thresholds: its monitors decide by the defaults, as a store with no config does
        assert _without_labels(json.loads(result.output)) == _without_labels(reference)
    got = json.loads(across.output)
    assert got["baseline"] == f"baseline_set:{JANUARY}" and got["baseline_dataset"] == "baseline_set"
    assert got["target"] == f"flights:{JULY_WEEK}" and got["dataset"] == "flights"
    assert json.loads(files.output)["baseline_kind"] == "file"
    assert f"{JULY_WEEK}.dmsnap" in (tmp_path / "files.html").read_text()
    assert reference["verdict"]["drifted"] and _values(got) == _values(reference)

    with Workspace(tmp_path / "store" / "monitor.db") as ws:
        assert _values(ws.compare(f"baseline_set:{JANUARY}", exported[JULY_WEEK]).to_dict()) == _values(reference)
        mine = Dataset.get_by_name(ws, "flights").get_snapshot(JULY_WEEK)
        assert _values(ws.compare(exported[JANUARY], mine).to_dict()) == _values(reference)


def _values(result: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """Every metric's value and p-value by (column, metric): what the data says, whatever the thresholds."""
    return {(c["column"], m["name"]): (m["value"], m["p_value"]) for c in result["columns"] for m in c["metrics"]}


def _without_labels(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("baseline", "target", "baseline_kind", "baseline_dataset",
                                                         "target_dataset", "baseline_snapshots", "conditions")}


def test_compare_refuses_a_malformed_reference_and_three_names_still_work(flights_run: Path) -> None:
    config = flights_run / "config" / "flights.yaml"
    bad = invoke("compare", "flights", "nope", "-c", config)
    assert bad.exit_code == 2 and "DATASET:SNAPSHOT" in bad.output
    for count in (1, 4):
        wrong = invoke("compare", *["flights"] * count, "-c", config)
        assert wrong.exit_code == 2 and "DATASET BASELINE TARGET" in wrong.output
    three = invoke("compare", "flights", JANUARY, JULY_WEEK, "-c", config)
    assert three.exit_code == 0 and f"flights: {JULY_WEEK} vs baseline {JANUARY}" in three.output
    missing = invoke("compare", f"flights:{JANUARY}", "flights:nope", "-c", config)
    assert missing.exit_code == 1 and "snapshot 'nope' of dataset 'flights' not found" in missing.output


# ------------------------------------------------------------------ crashes


CRASH = """
import os, signal, sys
from monitor.service import transfer
from monitor.store import Store
from monitor.store.transfer import TransferMixin

point = sys.argv[3]
if point == "writing":
    def write(self, dest):
        dest.write_bytes(b"half a parquet file")
        os.kill(os.getpid(), signal.SIGKILL)
    transfer.SnapshotFile.write_data_copy = write
else:
    def complete(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    TransferMixin._complete_import = complete
with Store(sys.argv[1]) as store:
    transfer.import_snapshot(store, sys.argv[2])
"""


@pytest.mark.parametrize("point", ["writing", "renamed"])
def test_a_crash_during_an_import_leaves_no_half_snapshot_once_recovered(
        with_copies: Path, tmp_path: Path, point: str) -> None:
    """Killed while writing the data copy, or after renaming it into place but
    before the snapshot completes: the next recovery removes row and files."""
    with Workspace(with_copies) as ws:
        file = Dataset.get_by_name(ws, "flights").get_snapshot("jan").export(tmp_path / "jan.dmsnap")
    db = tmp_path / "target" / "monitor.db"
    with Workspace(db) as ws:
        ws.import_snapshot(file, name="kept")
    before = store_state(db)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CRASH, str(db), str(file), point], env=env, check=False)
    assert done.returncode == -signal.SIGKILL
    with Store(db) as store:
        (running,) = store.list_snapshots("flights", status="running")
        assert running.name == "jan" and running.reason == IMPORTING_REASON
        leftovers = sorted(p.name for p in (tmp_path / "target" / "data" / "flights").iterdir())
        assert leftovers[1:] == ["kept.parquet"]
        assert leftovers[0] == "jan.parquet" if point == "renamed" else leftovers[0].startswith("jan.parquet.tmp-")
        assert store.recover_interrupted() == []
        assert [s.name for s in store.list_snapshots("flights")] == ["kept"]
    assert store_state(db) == before
    with Workspace(db) as ws:  # and the file imports cleanly afterwards
        assert ws.import_snapshot(file).status == "completed"


# ------------------------------------------------------------------ export and verify


def test_verify_prints_the_manifest_and_export_refuses_what_it_cannot_write(
        flights_run: Path, exported: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = invoke("snapshot", "verify", exported[JANUARY], "--format", "json")
    assert shown.exit_code == 0, shown.output
    manifest = json.loads(shown.output)
    with zipfile.ZipFile(exported[JANUARY]) as zf:
        assert manifest == json.loads(zf.read(MANIFEST))
        for member, info in manifest["members"].items():
            assert hashlib.sha256(zf.read(member)).hexdigest() == info["sha256"]
    assert sorted(manifest["members"]) == ["profile.json"]  # the example keeps no data copies
    assert manifest["snapshot"]["monitor"] == "january" and manifest["snapshot"]["window_start"]
    text = invoke("snapshot", "verify", exported[JANUARY])
    assert text.exit_code == 0 and text.output.startswith(f"{exported[JANUARY]}: ok (format version 1")

    config = flights_run / "config" / "flights.yaml"
    monkeypatch.chdir(tmp_path)
    default = invoke("snapshot", "export", "flights", JANUARY, "-c", config)
    assert default.exit_code == 0 and (tmp_path / f"flights-{JANUARY}.dmsnap").is_file()
    missing = invoke("snapshot", "export", "flights", "nope", "-c", config)
    assert missing.exit_code == 1 and "snapshot 'nope' of dataset 'flights' not found" in missing.output
    with Store(tmp_path / "s" / "monitor.db") as store:
        store.register_dataset("d", {"path": ["x"]})
        running = store.begin_snapshot("d", "r")
        with pytest.raises(StoreError, match="'r' of dataset 'd' is running, not completed"):
            export_snapshot(store, "d", "r", tmp_path / "r.dmsnap")
        assert not (tmp_path / "r.dmsnap").exists() and running.status == "running"
    assert sorted(p.name for p in tmp_path.iterdir() if ".tmp-" in p.name) == []
