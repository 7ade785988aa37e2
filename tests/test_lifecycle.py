"""The service's lifecycle with real processes: one daemon per store, recovery
that only touches snapshots of processes that are gone, profiling workers that
die with their parent, and ``kill -9`` at seeded moments."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
import yaml

from monitor.store import INTERRUPTED_REASON, Store

BIG_ROWS = 2_000_000
MARK = "DRIFT_MONITOR_TEST_MARK"


@pytest.fixture(scope="session")
def big_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded 2M-row Parquet file (4 columns, 8 row groups), made once per session."""
    rng = np.random.default_rng(20240607)
    colours = np.array(["red", "green", "blue", "grey"])
    table = pa.table({
        "amount": rng.normal(100, 10, BIG_ROWS),
        "count": rng.integers(0, 1000, BIG_ROWS),
        "colour": colours[rng.integers(0, 4, BIG_ROWS)],
        "score": rng.random(BIG_ROWS),
    })
    path = tmp_path_factory.mktemp("big") / "big.parquet"
    pq.write_table(table, path, row_group_size=250_000)
    return path


def write_config(folder: Path, datasets: dict[str, Any], monitors: dict[str, Any]) -> Path:
    config = {"store": "store/monitor.db", "reports_dir": "reports", "datasets": datasets, "monitors": monitors}
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def big_config(folder: Path, big: Path, **extra_datasets: Any) -> Path:
    """A daemon that snapshots the big file (with a data copy) continuously."""
    return write_config(
        folder, {"big": {"path": str(big)}, **extra_datasets},
        {"big": {"dataset": "big", "schedule": {"every": "1s"}, "data_copy": True}},
    )


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          timeout=120, env=env)


class Daemon:
    """``drift-monitor run`` in a real process; its log goes to a file. Every
    process it starts inherits a marker in its environment, so the test finds
    them even after they were re-parented."""

    def __init__(self, config: Path, log: Path) -> None:
        self.mark = uuid.uuid4().hex
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1", MARK: self.mark}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "-c", str(config)],
                                         stdout=out, stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_started(self, timeout: float = 60) -> None:
        """Until the daemon logs that it runs (after its recovery)."""
        poll(lambda: "drift-monitor running" in self.text() or self.proc.poll() is not None, timeout)
        assert self.proc.poll() is None, self.text()

    def marked(self) -> list[int]:
        """Live processes (zombies excluded) carrying this daemon's marker."""
        return marked_processes(self.mark)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def daemons() -> Iterator[Callable[[Path, Path], Daemon]]:
    started: list[Daemon] = []

    def start(config: Path, log: Path) -> Daemon:
        daemon = Daemon(config, log)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()
        for pid in daemon.marked():
            os.kill(pid, signal.SIGKILL)


def poll(condition: Callable[[], bool], timeout: float, every: float = 0.02) -> bool:
    """True once ``condition()`` holds; False when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def marked_processes(mark: str) -> list[int]:
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def describe(pids: list[int]) -> list[str]:
    """Each process's pid, parent, state and command line."""
    out = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        out.append(f"pid {pid} state {fields[0]} ppid {fields[1]}: {cmd}")
    return out


def rows(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(
            "SELECT id, dataset, name, status, reason, owner_pid, data_copy FROM snapshots ORDER BY id"))


def integrity(db: Path) -> str:
    with sqlite3.connect(db, timeout=10) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def copy_files(db: Path) -> set[str]:
    """Names of every file under the store's data folder."""
    data = db.parent / "data"
    return {p.name for p in data.rglob("*") if p.is_file()} if data.is_dir() else set()


# ------------------------------------------------------------ kill -9 at seeded moments


@pytest.mark.slow
def test_kill_9_at_50_seeded_moments_leaves_a_consistent_store(
    big_parquet: Path, tmp_path: Path, daemons: Callable[[Path, Path], Daemon],
) -> None:
    config = big_config(tmp_path, big_parquet)
    db = tmp_path / "store" / "monitor.db"
    rng = random.Random(1234)
    verified: dict[int, int] = {}  # completed snapshot id -> size of its data copy
    killed: list[int] = []
    start = time.monotonic()
    for i in range(50):
        daemon = daemons(config, tmp_path / f"daemon-{i}.log")
        daemon.wait_started()
        # the start recovered every snapshot the killed daemons left running
        assert [r["id"] for r in rows(db) if r["status"] == "running" and r["owner_pid"] in killed] == []
        # the seeded moment of the kill: mostly inside the first snapshot, some later
        time.sleep(rng.uniform(0.0, 2.5) if rng.random() < 0.8 else rng.uniform(2.5, 6.0))
        daemon.proc.kill()
        daemon.proc.wait()
        killed.append(daemon.pid)
        assert poll(lambda: not daemon.marked(), 2.0), f"iteration {i}: {describe(daemon.marked())} outlived the kill"
        check_store_after_kill(db, daemon.pid, verified)
    # one more start recovers the last kill; a clean stop leaves nothing running
    last = daemons(config, tmp_path / "daemon-last.log")
    last.wait_started()
    last.stop()
    assert last.proc.returncode == 0, last.text()
    final = rows(db)
    assert [r["name"] for r in final if r["status"] == "running"] == []
    assert copy_files(db) == {f"{r['name']}.parquet" for r in final if r["status"] == "completed"}
    interrupted = [r for r in final if r["status"] == "failed" and r["owner_pid"] != last.pid]
    assert all(r["reason"] == INTERRUPTED_REASON for r in interrupted)
    # the clean stop fails a data copy it interrupts between record batches as "stopped"
    assert all(r["reason"] == "stopped" for r in final if r["status"] == "failed" and r["owner_pid"] == last.pid)
    print(f"\n50 kills in {time.monotonic() - start:.0f} s: {len(verified)} snapshots completed, "
          f"{len(interrupted)} interrupted")
    assert verified and interrupted  # the moments hit both outcomes


def check_store_after_kill(db: Path, killed_pid: int, verified: dict[int, int]) -> None:
    """The store right after a kill: intact, completed snapshots whole, data-copy
    files only of completed snapshots or of the killed process's running one."""
    assert integrity(db) == "ok"
    now = rows(db)
    completed = {r["id"]: r for r in now if r["status"] == "completed"}
    assert set(verified) <= set(completed)
    running = [r for r in now if r["status"] == "running"]
    assert all(r["owner_pid"] == killed_pid for r in running), running
    allowed = {f"{r['name']}.parquet" for r in completed.values()}
    for r in running:
        allowed.add(f"{r['name']}.parquet")
        allowed |= {f for f in copy_files(db) if f.startswith(f"{r['name']}.parquet.tmp-")}
    assert copy_files(db) <= allowed
    with Store(db) as store:
        for snapshot_id, row in completed.items():
            path = Path(store.get_snapshot_by_id(snapshot_id).data_copy or "")
            if snapshot_id in verified:
                assert path.stat().st_size == verified[snapshot_id]
                continue
            store.load_profile(snapshot_id)
            assert pq.read_table(path, columns=["amount"]).num_rows == BIG_ROWS
            verified[snapshot_id] = path.stat().st_size


# ------------------------------------------------------------ one daemon per store


@pytest.mark.slow
def test_a_second_run_and_run_once_are_refused_while_a_daemon_holds_the_store(
    big_parquet: Path, tmp_path: Path, daemons: Callable[[Path, Path], Daemon],
) -> None:
    config = big_config(tmp_path, big_parquet)
    db = tmp_path / "store" / "monitor.db"
    daemon = daemons(config, tmp_path / "daemon.log")
    daemon.wait_started()
    assert poll(lambda: any(r["status"] == "running" for r in rows(db)), 60)
    running = next(r for r in rows(db) if r["status"] == "running")
    message = f"Error: store {db} is in use by drift-monitor run (pid {daemon.pid})"

    second = cli("run", "-c", str(config))
    once = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--once", "-c", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = once.communicate(timeout=120)
    listed = cli("snapshot", "list", "big", "-c", str(config))

    assert (second.returncode, second.stderr.strip()) == (1, message)
    assert (once.returncode, err.strip()) == (1, message)
    assert all(r["owner_pid"] != once.pid for r in rows(db))  # it took no snapshot
    assert listed.returncode == 0 and running["name"] in listed.stdout  # readers still work
    assert poll(lambda: next(r for r in rows(db) if r["id"] == running["id"])["status"] == "completed", 120)
    daemon.stop()
    assert daemon.proc.returncode == 0, daemon.text()
    assert cli("run", "--once", "-c", str(config)).returncode == 0  # the lock went with the daemon


# ------------------------------------------------------------ recovery touches only the dead


@pytest.mark.slow
def test_snapshot_create_from_a_second_process_leaves_the_daemons_running_snapshot_alone(
    big_parquet: Path, tmp_path: Path, daemons: Callable[[Path, Path], Daemon],
) -> None:
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0]}), tmp_path / "small.parquet")
    config = big_config(tmp_path, big_parquet, small={"path": "small.parquet"})
    db = tmp_path / "store" / "monitor.db"
    daemon = daemons(config, tmp_path / "daemon.log")
    daemon.wait_started()
    assert poll(lambda: any(r["status"] == "running" for r in rows(db)), 60)
    running = next(r for r in rows(db) if r["status"] == "running")
    assert running["owner_pid"] == daemon.pid

    created = cli("snapshot", "create", "small", "-c", str(config))

    assert created.returncode == 0, created.stderr
    assert next(r for r in rows(db) if r["id"] == running["id"])["status"] in ("running", "completed")
    assert poll(lambda: next(r for r in rows(db) if r["id"] == running["id"])["status"] == "completed", 120)
    daemon.stop()
    # nothing was failed by the second process's recovery; the clean stop may fail the
    # data copy it interrupts (the schedule is 1 s, so a next snapshot is often running)
    assert [r["reason"] for r in rows(db) if r["status"] == "failed" and r["reason"] != "stopped"] == []


def test_recovery_fails_a_snapshot_of_another_host_only_after_the_heartbeat_timeout(tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    with Store(db) as store:
        store.register_dataset("d", {"paths": ["x.parquet"]})
        fresh, stale = store.begin_snapshot("d", "fresh"), store.begin_snapshot("d", "stale")
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE snapshots SET owner_host = 'elsewhere', owner_pid = 1")
            conn.execute("UPDATE snapshots SET heartbeat_at = '2000-01-01T00:00:00.000000+00:00' "
                         "WHERE id = ?", [stale.id])
        assert [s.name for s in store.recover_interrupted()] == ["stale"]
        assert store.get_snapshot_by_id(fresh.id).status == "running"


# ------------------------------------------------------------ snapshot names


def test_two_processes_taking_the_same_snapshot_name_get_distinct_names(tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    with Store(db) as store:
        store.register_dataset("d", {"paths": ["x.parquet"]})
    code = ("import sys; from monitor.store import Store; s = Store(sys.argv[1]); "
            "print(s.begin_snapshot('d', 'snapshot_20250101T000000Z', unique=True).name)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    names = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert names == ["snapshot_20250101T000000Z"] + [f"snapshot_20250101T000000Z_{i}" for i in (2, 3, 4)]
    with Store(db) as store, pytest.raises(Exception, match="already exists"):
        store.begin_snapshot("d", "snapshot_20250101T000000Z")


# ------------------------------------------------------------ isolation


def test_a_file_with_duplicate_column_names_fails_its_monitor_alone(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1.0, 2.0]}), tmp_path / "good.parquet")
    pq.write_table(pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"]),
                   tmp_path / "dup.parquet")
    (tmp_path / "dup.csv").write_text("a,b,a\n1,2,3\n")
    (tmp_path / "dup.jsonl").write_text('{"a": 1, "b": 2, "a": 3}\n')
    every = {"schedule": {"every": "1h"}}
    config = write_config(
        tmp_path,
        {name: {"path": f"{name.split('_')[0]}.{name.split('_')[1]}"}
         for name in ("dup_parquet", "dup_csv", "dup_jsonl", "good_parquet")},
        {"a_dup_parquet": {"dataset": "dup_parquet", **every}, "b_dup_csv": {"dataset": "dup_csv", **every},
         "c_dup_jsonl": {"dataset": "dup_jsonl", **every}, "d_good": {"dataset": "good_parquet", **every}},
    )
    result = cli("run", "--once", "-c", str(config))
    assert result.returncode == 1
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert lines["d_good"].startswith("completed")
    for monitor, name in (("a_dup_parquet", "dup.parquet"), ("b_dup_csv", "dup.csv"), ("c_dup_jsonl", "dup.jsonl")):
        assert lines[monitor].startswith("failed") and str(tmp_path / name) in lines[monitor]
        assert "duplicate column name 'a'" in lines[monitor]
    assert result.stderr.count("ERROR") == 3 and "Traceback" not in result.stderr


def test_an_unexpected_exception_fails_one_monitor_in_run_all_and_in_the_daemons_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    from monitor.config import load_config
    from monitor.service import runner, scheduler

    pq.write_table(pa.table({"x": [1.0, 2.0]}), tmp_path / "good.parquet")
    pq.write_table(pa.table({"x": [1.0, 2.0]}), tmp_path / "odd.parquet")
    every = {"schedule": {"every": "1h"}}
    config = load_config(write_config(
        tmp_path, {"good": {"path": "good.parquet"}, "odd": {"path": "odd.parquet"}},
        {"a_odd": {"dataset": "odd", **every}, "b_good": {"dataset": "good", **every}},
    ))
    real = runner.profile_source

    def profile_source(source: Any, **kwargs: Any) -> Any:  # a library failing on one dataset
        if "odd" in str(source.patterns):
            raise IndexError("list index out of range")
        return real(source, **kwargs)

    monkeypatch.setattr(runner, "profile_source", profile_source)
    with Store(config.store) as store:
        results = {r.monitor: r for r in runner.run_all(config, store)}
    assert results["b_good"].status == "completed"
    assert (results["a_odd"].status, results["a_odd"].reason) == (
        "failed", "dataset 'odd': IndexError: list index out of range")
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == [
        "monitor a_odd failed: dataset 'odd': IndexError: list index out of range"]
    caplog.clear()
    runtime = scheduler.Runtime(config)
    scheduler.run_job(runtime, "a_odd")  # returns: the daemon's other jobs keep running
    scheduler.run_job(runtime, "b_good")
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "monitor a_odd failed: dataset 'odd': IndexError: list index out of range"]
    with Store(config.store) as store:
        assert [s.status for s in store.list_snapshots("good")] == ["completed", "completed"]
