"""Tests of monitor.store against a real SQLite file under tmp_path."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from monitor.errors import SourceError, StoreError
from monitor.store import (
    INTERRUPTED_REASON,
    SCHEMA_VERSION,
    ComparisonRecord,
    SnapshotRecord,
    Store,
    open_store,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
DEFINITION = {"paths": ["data/*.parquet"], "format": "parquet"}


class Clock:
    """A clock that starts at T0 and moves one second forward on every reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "monitor.db"


@pytest.fixture
def store(db_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(db_path, clock=clock) as opened:
        opened.register_dataset("flights", DEFINITION)
        yield opened


def profile_columns() -> list[dict[str, Any]]:
    return [
        {"column": "dep_delay", "position": 0, "kind": "numeric",
         "stats": {"count": 3, "mean": 1.5}, "sketch": b"\x00\x01\xffkll"},
        {"column": "carrier", "position": 1, "kind": "categorical",
         "stats": {"frequencies": {"UA": 2, "AA": 1}}, "sketch": None},
    ]


def completed(store: Store, name: str, *, monitor: str | None = None,
              data_copy: str | None = None) -> SnapshotRecord:
    snapshot = store.begin_snapshot("flights", name, monitor=monitor)
    return store.complete_snapshot(
        snapshot.id, profile={"format_version": 2, "row_count": 3},
        columns=profile_columns(), row_count=3, fingerprint="sha256:abc", data_copy=data_copy,
    )


def comparison(store: Store, baseline: SnapshotRecord, target: SnapshotRecord,
               monitor: str | None = "daily") -> ComparisonRecord:
    return store.record_comparison(
        monitor=monitor, dataset="flights", baseline=baseline, target=target,
        drifted=True, severity="critical", result={"columns": {"dep_delay": {"psi": 0.4}}},
        report_path=None,
    )


def raw(db_path: Path) -> contextlib.closing[sqlite3.Connection]:
    """A plain sqlite3 connection, in autocommit mode, closed after the block."""
    return contextlib.closing(sqlite3.connect(db_path, isolation_level=None))


def count(db_path: Path, table: str) -> int:
    with raw(db_path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def batches(n: int) -> Iterator[pa.RecordBatch]:
    for i in range(n):
        yield pa.record_batch({"x": [i, i + 1]})


SCHEMA = pa.schema([("x", pa.int64())])


# ------------------------------------------------------------------- opening


def test_opening_creates_the_parent_folder_and_sets_root(db_path: Path) -> None:
    with open_store(db_path) as store:
        assert db_path.is_file()
        assert store.root == db_path.parent


def test_migrations_are_applied_once_across_reopens(db_path: Path) -> None:
    for _ in range(3):
        Store(db_path).close()
    with raw(db_path) as conn:
        rows = conn.execute("SELECT version, COUNT(*) FROM migrations GROUP BY version").fetchall()
    assert rows == [(v, 1) for v in range(1, SCHEMA_VERSION + 1)]
    with Store(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_data_survives_a_reopen(db_path: Path) -> None:
    with Store(db_path) as store:
        store.register_dataset("flights", DEFINITION)
    with Store(db_path) as store:
        assert store.get_dataset("flights").version == 1


def test_journal_mode_is_wal_in_the_file(db_path: Path) -> None:
    Store(db_path).close()
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [("journal_mode", "wal"), ("busy_timeout", 5000), ("foreign_keys", 1)],
    ids=["wal", "busy-timeout-5s", "foreign-keys-on"],
)
def test_connection_pragmas(store: Store, pragma: str, expected: object) -> None:
    assert store._conn.execute(f"PRAGMA {pragma}").fetchone()[0] == expected


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    with raw(db_path) as conn:
        conn.execute("INSERT INTO migrations VALUES (99, 'future', '2030-01-01T00:00:00+00:00')")
    with pytest.raises(StoreError, match="has schema version 99, newer than"):
        Store(db_path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"cannot open the store .*monitor\.db: file is not a database"):
        Store(path)


def test_a_closed_store_raises_store_error(db_path: Path) -> None:
    store = Store(db_path)
    store.close()
    with pytest.raises(StoreError, match="cannot list datasets in"):
        store.list_datasets()


def test_two_stores_on_one_file_see_each_others_writes(db_path: Path) -> None:
    with Store(db_path) as first, Store(db_path) as second:
        first.register_dataset("flights", DEFINITION)
        snapshot = second.begin_snapshot("flights", "s1")
        assert first.get_snapshot_by_id(snapshot.id) == snapshot


def test_the_store_can_be_used_from_another_thread(store: Store) -> None:
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(store.get_dataset("flights").version))
    worker.start()
    worker.join()
    assert seen == [1]


# ------------------------------------------------------------------- datasets


@pytest.mark.parametrize(
    ("second", "expected_version"),
    [
        ({"format": "parquet", "paths": ["data/*.parquet"]}, 1),
        ({"paths": ["data/*.parquet"], "format": "csv"}, 2),
        ({"paths": ["data/*.parquet"], "format": "parquet", "extra": None}, 2),
    ],
    ids=["same-definition-other-key-order", "changed-value", "added-key"],
)
def test_a_version_is_added_only_when_the_definition_changes(
    store: Store, second: dict[str, Any], expected_version: int
) -> None:
    assert store.register_dataset("flights", second).version == expected_version
    assert store.get_dataset("flights").version == expected_version
    assert store.get_dataset("flights", 1).definition == DEFINITION


def test_create_new_version_false_refuses_a_changed_definition(store: Store) -> None:
    with pytest.raises(StoreError) as info:
        store.register_dataset("flights", {"format": "csv"}, create_new_version=False)
    assert str(info.value) == (
        "dataset 'flights' version 1 has a different definition; "
        "register with create_new_version=True to add version 2"
    )
    assert store.register_dataset("flights", DEFINITION, create_new_version=False).version == 1


def test_list_datasets_gives_the_latest_version_of_each(store: Store) -> None:
    store.register_dataset("flights", {"format": "csv"}, description="v2")
    store.register_dataset("airports", {"format": "csv"})
    listed = [(d.name, d.version, d.description) for d in store.list_datasets()]
    assert listed == [("airports", 1, ""), ("flights", 2, "v2")]


def test_a_definition_that_is_not_json_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="cannot store the definition of dataset 'bad'"):
        store.register_dataset("bad", {"when": object()})


# ------------------------------------------------------------------- error texts


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.get_dataset("nope"), "dataset 'nope' not found"),
        (lambda s: s.get_dataset("flights", 3), "dataset 'flights' has no version 3"),
        (lambda s: s.begin_snapshot("nope", "s1"), "dataset 'nope' not found"),
        (lambda s: s.begin_snapshot("flights", "s1", dataset_version=3),
         "dataset 'flights' has no version 3"),
        (lambda s: s.get_snapshot("flights", "nope"), "snapshot 'nope' of dataset 'flights' not found"),
        (lambda s: s.get_snapshot_by_id(42), "snapshot 42 not found"),
        (lambda s: s.load_profile(42), "snapshot 42 not found"),
        (lambda s: s.delete_snapshot("flights", "nope"),
         "snapshot 'nope' of dataset 'flights' not found"),
        (lambda s: s.latest_snapshot("flights", before_id=42), "snapshot 42 not found"),
        (lambda s: s.get_comparison(42), "comparison 42 not found"),
        (lambda s: s.set_report_path(42, "r.html"), "comparison 42 not found"),
        (lambda s: s.enqueue_alert(42, "slack", {}, "k"), "comparison 42 not found"),
        (lambda s: s.get_alert(42), "alert 42 not found"),
        (lambda s: s.list_snapshots(status="done"),
         "unknown snapshot status 'done'; expected one of running, completed, failed"),
    ],
    ids=[
        "missing-dataset", "missing-dataset-version", "snapshot-of-missing-dataset",
        "snapshot-of-missing-version", "missing-snapshot-by-name", "missing-snapshot-by-id",
        "profile-of-missing-snapshot", "delete-missing-snapshot", "before-missing-snapshot",
        "missing-comparison", "report-of-missing-comparison", "alert-of-missing-comparison",
        "missing-alert", "unknown-status",
    ],
)
def test_store_error_messages(store: Store, call: Callable[[Store], object], message: str) -> None:
    with pytest.raises(StoreError) as info:
        call(store)
    assert str(info.value) == message


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "a\x00b"],
                         ids=["empty", "dot", "dot-dot", "slash", "backslash", "nul"])
def test_names_that_cannot_be_file_names_are_refused(store: Store, name: str) -> None:
    with pytest.raises(StoreError, match="cannot be used as a file name"):
        store.begin_snapshot("flights", name)
    with pytest.raises(StoreError, match="cannot be used as a file name"):
        store.data_copy_path(name, "s1")


# ------------------------------------------------------------------- snapshots


def test_snapshot_lifecycle_running_to_completed(store: Store) -> None:
    running = store.begin_snapshot("flights", "s1", monitor="daily")
    assert (running.status, running.completed_at, running.row_count) == ("running", None, None)
    assert (running.dataset_version, running.monitor) == (1, "daily")
    done = store.complete_snapshot(
        running.id, profile={"format_version": 2}, columns=profile_columns(),
        row_count=3, fingerprint="sha256:abc",
    )
    assert done.status == "completed"
    assert (done.row_count, done.fingerprint, done.profile_version) == (3, "sha256:abc", 2)
    assert done.completed_at is not None and done.completed_at > done.created_at
    assert done.created_at.tzinfo is not None
    assert store.get_snapshot("flights", "s1") == done


def test_snapshot_lifecycle_running_to_failed(store: Store) -> None:
    running = store.begin_snapshot("flights", "s1")
    failed = store.fail_snapshot(running.id, "SourceError: no files")
    assert (failed.status, failed.reason, failed.completed_at) == ("failed", "SourceError: no files", None)
    again = store.fail_snapshot(running.id, "second reason")
    assert again.reason == "SourceError: no files"


@pytest.mark.parametrize(
    ("finish", "action", "state"),
    [
        (lambda s, i: s.fail_snapshot(i, "boom"), lambda s, i: s.complete_snapshot(
            i, profile={"format_version": 1}, columns=[], row_count=0, fingerprint="f"),
         "complete snapshot 's1' of dataset 'flights': it is failed, not running"),
        (lambda s, i: s.complete_snapshot(
            i, profile={"format_version": 1}, columns=[], row_count=0, fingerprint="f"),
         lambda s, i: s.fail_snapshot(i, "late"),
         "fail snapshot 's1' of dataset 'flights': it is completed, not running"),
    ],
    ids=["complete-after-fail", "fail-after-complete"],
)
def test_only_running_snapshots_change_state(
    store: Store, finish: Callable[[Store, int], object],
    action: Callable[[Store, int], object], state: str,
) -> None:
    snapshot = store.begin_snapshot("flights", "s1")
    finish(store, snapshot.id)
    with pytest.raises(StoreError) as info:
        action(store, snapshot.id)
    assert str(info.value) == f"cannot {state}"


def test_a_duplicate_snapshot_name_is_refused(store: Store) -> None:
    store.begin_snapshot("flights", "s1")
    with pytest.raises(StoreError) as info:
        store.begin_snapshot("flights", "s1")
    assert str(info.value) == "snapshot 's1' of dataset 'flights' already exists"
    store.register_dataset("airports", {"format": "csv"})
    assert store.begin_snapshot("airports", "s1").name == "s1"


def test_load_profile_round_trips_including_sketch_bytes(store: Store) -> None:
    snapshot = store.begin_snapshot("flights", "s1")
    columns = list(reversed(profile_columns()))
    profile = {"format_version": 2, "row_count": 3, "nested": {"a": [1, 2.5, None]}}
    store.complete_snapshot(snapshot.id, profile=profile, columns=columns,
                            row_count=3, fingerprint="sha256:abc")
    loaded_profile, loaded_columns = store.load_profile(snapshot.id)
    assert loaded_profile == profile
    assert loaded_columns == profile_columns()
    assert isinstance(loaded_columns[0]["sketch"], bytes)


def test_numpy_values_are_stored_as_plain_json(store: Store) -> None:
    snapshot = store.begin_snapshot("flights", "s1")
    store.complete_snapshot(
        snapshot.id, profile={"format_version": 1, "n": np.int64(3), "q": np.array([0.5, 1.0])},
        columns=[], row_count=3, fingerprint="f",
    )
    assert store.load_profile(snapshot.id)[0] == {"format_version": 1, "n": 3, "q": [0.5, 1.0]}


@pytest.mark.parametrize(
    ("finish", "message"),
    [
        (None, "snapshot 's1' of dataset 'flights' is running, not completed"),
        ("source vanished", "snapshot 's1' of dataset 'flights' failed: source vanished"),
    ],
    ids=["running", "failed"],
)
def test_load_profile_of_an_incomplete_snapshot(store: Store, finish: str | None, message: str) -> None:
    snapshot = store.begin_snapshot("flights", "s1")
    if finish is not None:
        store.fail_snapshot(snapshot.id, finish)
    with pytest.raises(StoreError) as info:
        store.load_profile(snapshot.id)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("profile", "columns", "message"),
    [
        ({}, [], "the profile must carry an integer 'format_version', got None"),
        ({"format_version": 1}, [{"column": "a", "position": 0, "stats": {}}],
         "column profile 0 has no 'kind' key"),
        ({"format_version": 1}, [{"column": "a", "position": 0, "kind": "numeric",
                                  "stats": {}, "sketch": "not bytes"}],
         "column profile 0 ('a'): 'sketch' must be bytes or None"),
    ],
    ids=["no-format-version", "column-without-kind", "sketch-not-bytes"],
)
def test_malformed_profiles_are_refused(
    store: Store, profile: dict[str, Any], columns: list[dict[str, Any]], message: str
) -> None:
    snapshot = store.begin_snapshot("flights", "s1")
    with pytest.raises(StoreError) as info:
        store.complete_snapshot(snapshot.id, profile=profile, columns=columns,
                                row_count=1, fingerprint="f")
    assert str(info.value) == message
    assert store.get_snapshot_by_id(snapshot.id).status == "running"


def add_trigger(db_path: Path, when: str, message: str) -> None:
    """Make every ``when`` statement on snapshots fail, as a full disk would."""
    with raw(db_path) as conn:
        conn.execute(
            f"CREATE TRIGGER refuse {when} ON snapshots BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def test_complete_snapshot_is_one_transaction(store: Store, db_path: Path) -> None:
    snapshot = store.begin_snapshot("flights", "s1")
    add_trigger(db_path, "BEFORE UPDATE", "disk full")
    with pytest.raises(StoreError, match=r"cannot complete snapshot \d+ in .*: disk full"):
        store.complete_snapshot(snapshot.id, profile={"format_version": 1},
                                columns=profile_columns(), row_count=3, fingerprint="f")
    assert count(db_path, "column_profiles") == 0
    assert store.get_snapshot_by_id(snapshot.id).status == "running"


def test_duplicate_column_positions_store_nothing(store: Store, db_path: Path) -> None:
    snapshot = store.begin_snapshot("flights", "s1")
    clash = profile_columns()
    clash[1]["position"] = 0
    with pytest.raises(StoreError, match="cannot complete snapshot .*UNIQUE constraint failed"):
        store.complete_snapshot(snapshot.id, profile={"format_version": 1}, columns=clash,
                                row_count=3, fingerprint="f")
    assert store.get_snapshot_by_id(snapshot.id).status == "running"
    assert count(db_path, "column_profiles") == 0


def test_a_failed_delete_keeps_rows_and_data_copy(store: Store, db_path: Path) -> None:
    path = store.write_data_copy("flights", "s1", batches(1), SCHEMA)
    snapshot = completed(store, "s1", data_copy=str(path))
    add_trigger(db_path, "BEFORE DELETE", "disk full")
    with pytest.raises(StoreError, match="cannot delete snapshot 's1' of dataset 'flights' in .*: disk full"):
        store.delete_snapshot("flights", "s1")
    assert store.get_snapshot("flights", "s1") == snapshot
    assert count(db_path, "column_profiles") == 2
    assert [p.name for p in path.parent.iterdir()] == ["s1.parquet"]


def test_list_latest_and_first_snapshots(store: Store) -> None:
    s1 = completed(store, "s1", monitor="daily")
    s2 = store.fail_snapshot(store.begin_snapshot("flights", "s2", monitor="daily").id, "x")
    s3 = completed(store, "s3", monitor="weekly")
    s4 = store.begin_snapshot("flights", "s4")
    assert [s.name for s in store.list_snapshots()] == ["s1", "s2", "s3", "s4"]
    assert [s.name for s in store.list_snapshots("flights", status="completed")] == ["s1", "s3"]
    assert [s.name for s in store.list_snapshots(monitor="daily")] == ["s1", "s2"]
    assert store.list_snapshots("airports") == []
    assert store.latest_snapshot("flights") == s3
    assert store.latest_snapshot("flights", status=None) == s4
    assert store.latest_snapshot("flights", before_id=s3.id) == s1
    assert store.latest_snapshot("flights", status="failed", before_id=s4.id) == s2
    assert store.latest_snapshot("flights", before_id=s1.id) is None
    assert store.first_snapshot("flights") == s1
    assert store.first_snapshot("flights", status="running") == s4
    assert store.latest_snapshot("airports") is None


def test_delete_removes_rows_and_the_data_copy(store: Store, db_path: Path) -> None:
    path = store.write_data_copy("flights", "s1", batches(2), SCHEMA)
    s1 = completed(store, "s1", data_copy=str(path))
    s2 = completed(store, "s2")
    store.set_baseline("daily", s1)
    compared = comparison(store, s1, s2)
    alert = store.enqueue_alert(compared.id, "slack", {"a": 1}, "key-1")
    store.record_attempt(alert.id, status_code=500, error="HTTP 500", delivered=False,
                         next_attempt_at=T0)

    deleted = store.delete_snapshot("flights", "s1")

    assert deleted == s1
    assert not path.exists()
    assert list(path.parent.iterdir()) == []
    for table, left in [("snapshots", 1), ("column_profiles", 2), ("comparisons", 0),
                        ("alerts", 0), ("alert_attempts", 0), ("baselines", 0)]:
        assert count(db_path, table) == left, table
    assert store.get_snapshot("flights", "s2") == s2
    assert store.get_pinned_baseline("daily") is None


def begin_in_child(db_path: Path, dataset: str, name: str) -> int:
    """Begin a running snapshot from another process that then exits: its owner is gone."""
    code = ("import sys; from monitor.store import Store; "
            "s = Store(sys.argv[1]); print(s.begin_snapshot(sys.argv[2], sys.argv[3]).id)")
    out = subprocess.run([sys.executable, "-c", code, str(db_path), dataset, name],
                         check=True, capture_output=True, text=True)
    return int(out.stdout)


def test_recover_interrupted_fails_running_snapshots(store: Store, db_path: Path) -> None:
    # recovery fails only snapshots whose owner is gone, so the running one is
    # begun by a process that has exited; its final and temporary copies go too
    done = completed(store, "s1")
    running_id = begin_in_child(db_path, "flights", "s2")
    final = store.data_copy_path("flights", "s2")
    leftover = final.with_name("s2.parquet.tmp-999999")
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a file")
    final.write_bytes(b"a whole file of a snapshot that never completed")

    recovered = store.recover_interrupted()

    assert [(s.id, s.status, s.reason) for s in recovered] == [
        (running_id, "failed", INTERRUPTED_REASON)
    ]
    assert INTERRUPTED_REASON == "interrupted: the process stopped before the snapshot completed"
    assert store.get_snapshot_by_id(done.id) == done
    assert not leftover.exists() and not final.exists()
    assert store.recover_interrupted() == []


# ------------------------------------------------------------------- data copies


def test_data_copy_path_is_under_the_store_folder(store: Store) -> None:
    assert store.data_copy_path("flights", "s1") == store.root / "data" / "flights" / "s1.parquet"


def test_write_data_copy_writes_a_readable_parquet_file(store: Store) -> None:
    path = store.write_data_copy("flights", "s1", batches(3), SCHEMA)
    assert path == store.data_copy_path("flights", "s1")
    assert pq.read_table(path).column("x").to_pylist() == [0, 1, 1, 2, 2, 3]
    assert [p.name for p in path.parent.iterdir()] == ["s1.parquet"]


def failing_batches(error: Exception) -> Iterator[pa.RecordBatch]:
    yield pa.record_batch({"x": [1, 2]})
    raise error


@pytest.mark.parametrize(
    ("error", "expected"),
    [(RuntimeError("disk on fire"), StoreError), (SourceError("data/a.csv: malformed"), SourceError)],
    ids=["foreign-error-becomes-store-error", "monitor-error-propagates"],
)
def test_a_failed_data_copy_leaves_no_file(
    store: Store, error: Exception, expected: type[Exception]
) -> None:
    final = store.data_copy_path("flights", "s1")
    with pytest.raises(expected, match="disk on fire|malformed"):
        store.write_data_copy("flights", "s1", failing_batches(error), SCHEMA)
    assert not final.exists()
    assert list(final.parent.iterdir()) == []


def test_a_failed_data_copy_keeps_the_previous_file(store: Store) -> None:
    path = store.write_data_copy("flights", "s1", batches(1), SCHEMA)
    with pytest.raises(StoreError, match=r"cannot write data copy .*s1\.parquet: disk on fire"):
        store.write_data_copy("flights", "s1", failing_batches(RuntimeError("disk on fire")), SCHEMA)
    assert pq.read_table(path).column("x").to_pylist() == [0, 1]
    assert [p.name for p in path.parent.iterdir()] == ["s1.parquet"]


def test_a_batch_of_the_wrong_schema_is_a_store_error(store: Store) -> None:
    wrong = iter([pa.record_batch({"y": ["a"]})])
    with pytest.raises(StoreError, match="cannot write data copy"):
        store.write_data_copy("flights", "s1", wrong, SCHEMA)
    assert not store.data_copy_path("flights", "s1").exists()


def test_complete_snapshot_refuses_a_missing_data_copy(store: Store, tmp_path: Path) -> None:
    snapshot = store.begin_snapshot("flights", "s1")
    with pytest.raises(StoreError, match=r"data copy .*gone\.parquet does not exist"):
        store.complete_snapshot(snapshot.id, profile={"format_version": 1}, columns=[],
                                row_count=0, fingerprint="f", data_copy=str(tmp_path / "gone.parquet"))


def test_data_copies_follow_a_moved_store_folder(tmp_path: Path) -> None:
    old = tmp_path / "old" / "monitor.db"
    with Store(old) as store:
        store.register_dataset("flights", DEFINITION)
        path = store.write_data_copy("flights", "s1", batches(1), SCHEMA)
        assert completed(store, "s1", data_copy=str(path)).data_copy == str(path)
    shutil.move(tmp_path / "old", tmp_path / "new")
    with Store(tmp_path / "new" / "monitor.db") as store:
        moved = store.get_snapshot("flights", "s1").data_copy
    assert moved == str(tmp_path / "new" / "data" / "flights" / "s1.parquet")
    assert Path(moved).is_file()


# ------------------------------------------------------------------- comparisons


def test_comparisons_are_recorded_listed_and_get_a_report(store: Store) -> None:
    s1, s2, s3 = (completed(store, n) for n in ("s1", "s2", "s3"))
    first = comparison(store, s1, s2)
    second = comparison(store, s1, s3, monitor=None)
    assert (first.baseline_name, first.target_name, first.drifted) == ("s1", "s2", True)
    assert first.result == {"columns": {"dep_delay": {"psi": 0.4}}}
    assert store.list_comparisons() == [second, first]
    assert store.list_comparisons(monitor="daily") == [first]
    assert store.list_comparisons(dataset="airports") == []
    updated = store.set_report_path(first.id, "reports/1.html")
    assert updated.report_path == "reports/1.html"
    assert store.get_comparison(first.id) == updated


def test_summaries_carry_the_verdict_of_each_comparison(store: Store) -> None:
    s1, s2, s3 = (completed(store, n) for n in ("s1", "s2", "s3"))
    verdict = {"drifted": True, "severity": "warning", "drifted_columns": 1, "magnitude": 0.25}
    first = store.record_comparison(monitor="daily", dataset="flights", baseline=s1, target=s2, drifted=True,
                                    severity="warning", result={"verdict": verdict, "columns": [{"c": 1}]})
    second = comparison(store, s1, s3, monitor="weekly")  # a result without a verdict
    summaries = store.list_comparison_summaries()
    assert [s.id for s in summaries] == [c.id for c in store.list_comparisons()] == [second.id, first.id]
    assert summaries[1].verdict == verdict and summaries[0].verdict == {}
    assert (summaries[1].monitor, summaries[1].target_name, summaries[1].severity) == ("daily", "s2", "warning")
    assert [s.id for s in store.list_comparison_summaries(monitor="daily", limit=1)] == [first.id]
    assert store.compared_monitors() == ["daily", "weekly"]
    with pytest.raises(StoreError, match="cannot list -1 comparisons"):
        store.list_comparison_summaries(limit=-1)


def test_a_read_only_store_reads_and_refuses_writes(store: Store, db_path: Path) -> None:
    completed(store, "s1")
    with Store(db_path, read_only=True) as reader:
        assert reader.read_only and [s.name for s in reader.list_snapshots("flights")] == ["s1"]
        with pytest.raises(StoreError, match="readonly"):
            reader.register_dataset("other", DEFINITION)
        completed(store, "s2")  # the writer goes on; the reader sees each committed write
        assert [s.name for s in reader.list_snapshots("flights")] == ["s1", "s2"]


def test_a_read_only_store_is_never_created(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "none" / "monitor.db", read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_store_needs_this_schema(db_path: Path) -> None:
    Store(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM migrations WHERE version = (SELECT MAX(version) FROM migrations)")
    conn.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION - 1}, not the {SCHEMA_VERSION}"):
        Store(db_path, read_only=True)


# ------------------------------------------------------------------- alert outbox


@pytest.fixture
def compared(store: Store) -> ComparisonRecord:
    return comparison(store, completed(store, "s1"), completed(store, "s2"))


def test_enqueue_is_idempotent_per_key_and_webhook(store: Store, compared: ComparisonRecord) -> None:
    first = store.enqueue_alert(compared.id, "slack", {"a": 1}, "key-1")
    again = store.enqueue_alert(compared.id, "slack", {"a": 2}, "key-1")
    other = store.enqueue_alert(compared.id, "pager", {"a": 1}, "key-1")
    assert again == first
    assert other.id != first.id
    assert (first.status, first.attempts, first.payload) == ("pending", 0, {"a": 1})
    assert store.list_alerts(compared.id) == [first, other]
    assert store.list_alerts() == [first, other]


def test_due_alerts_honour_next_attempt_at(store: Store, compared: ComparisonRecord) -> None:
    alert = store.enqueue_alert(compared.id, "slack", {}, "key-1")
    later = alert.next_attempt_at + timedelta(minutes=5)
    assert store.due_alerts(alert.next_attempt_at - timedelta(seconds=1)) == []
    assert store.due_alerts(alert.next_attempt_at) == [alert]
    store.record_attempt(alert.id, status_code=503, error="HTTP 503", delivered=False,
                         next_attempt_at=later)
    assert store.due_alerts(later - timedelta(seconds=1)) == []
    assert [a.id for a in store.due_alerts(later)] == [alert.id]
    assert [a.id for a in store.pending_alerts()] == [alert.id]


def test_attempts_are_numbered_until_delivered(store: Store, compared: ComparisonRecord) -> None:
    alert = store.enqueue_alert(compared.id, "slack", {}, "key-1")
    for code in (500, 502):
        pending = store.record_attempt(alert.id, status_code=code, error=f"HTTP {code}",
                                       delivered=False, next_attempt_at=T0)
    assert (pending.status, pending.attempts, pending.last_error) == ("pending", 2, "HTTP 502")
    done = store.record_attempt(alert.id, status_code=200, error=None, delivered=True,
                                next_attempt_at=None)
    assert (done.status, done.attempts, done.last_error) == ("delivered", 3, None)
    assert done.delivered_at is not None
    attempts = store.list_attempts(alert.id)
    assert [(a.attempt, a.status_code, a.delivered) for a in attempts] == [
        (1, 500, False), (2, 502, False), (3, 200, True)
    ]
    assert store.pending_alerts() == []
    assert store.due_alerts(T0 + timedelta(days=1)) == []
    with pytest.raises(StoreError) as info:
        store.record_attempt(alert.id, status_code=200, error=None, delivered=True,
                             next_attempt_at=None)
    assert str(info.value) == f"alert {alert.id} is delivered, not pending"


def test_giving_up_fails_the_alert(store: Store, compared: ComparisonRecord) -> None:
    alert = store.enqueue_alert(compared.id, "slack", {}, "key-1")
    failed = store.record_attempt(alert.id, status_code=404, error="HTTP 404", delivered=False,
                                  next_attempt_at=None, give_up=True)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, "HTTP 404")
    assert store.pending_alerts() == []


@pytest.mark.parametrize(
    ("next_attempt_at", "message"),
    [
        (None, "next_attempt_at is required when an alert stays pending"),
        (datetime(2024, 3, 1, 12, 0), "next_attempt_at must be a timezone-aware datetime"),
    ],
    ids=["missing", "naive"],
)
def test_a_pending_attempt_needs_an_aware_next_time(
    store: Store, compared: ComparisonRecord, next_attempt_at: datetime | None, message: str
) -> None:
    alert = store.enqueue_alert(compared.id, "slack", {}, "key-1")
    with pytest.raises(StoreError, match=message):
        store.record_attempt(alert.id, status_code=None, error="timeout", delivered=False,
                             next_attempt_at=next_attempt_at)
    assert store.list_attempts(alert.id) == []


# ------------------------------------------------------------------- baselines, runs


def test_baselines_are_pinned_replaced_and_cleared(store: Store) -> None:
    s1, s2 = completed(store, "s1"), completed(store, "s2")
    assert store.get_pinned_baseline("daily") is None
    store.set_baseline("daily", s1)
    assert store.get_pinned_baseline("daily") == s1
    store.set_baseline("daily", s2)
    assert store.get_pinned_baseline("daily") == s2
    assert store.clear_baseline("daily") is True
    assert store.get_pinned_baseline("daily") is None


def test_a_failed_snapshot_cannot_be_a_baseline(store: Store) -> None:
    failed = store.fail_snapshot(store.begin_snapshot("flights", "s1").id, "boom")
    with pytest.raises(StoreError) as info:
        store.set_baseline("daily", failed)
    assert str(info.value) == "snapshot 's1' of dataset 'flights' failed: boom"


def test_last_run_at_is_the_newest_snapshot_of_the_monitor(store: Store) -> None:
    assert store.last_run_at("daily") is None
    completed(store, "s1", monitor="daily")
    newest = store.fail_snapshot(store.begin_snapshot("flights", "s2", monitor="daily").id, "x")
    completed(store, "s3", monitor="weekly")
    assert store.last_run_at("daily") == newest.created_at


def test_comparisons_listed_with_summaries_give_the_summary_or_the_full_result(store: Store) -> None:
    """A comparison recorded with a summary lists it instead of its result when
    asked; one without (recorded before migration 8) lists its full result."""
    a, b = completed(store, "s1"), completed(store, "s2")
    old = comparison(store, a, b)
    new = store.record_comparison(monitor="daily", dataset="flights", baseline=a, target=b, drifted=False,
                                  severity="none", result={"big": list(range(100))}, summary={"small": 1})
    listed = {c.id: c.result for c in store.list_comparisons(monitor="daily", summaries=True)}
    assert listed == {old.id: {"columns": {"dep_delay": {"psi": 0.4}}}, new.id: {"small": 1}}
    assert store.get_comparison(new.id).result == {"big": list(range(100))}
    assert {c.id: c.result for c in store.list_comparisons(monitor="daily")}[new.id] == {"big": list(range(100))}
