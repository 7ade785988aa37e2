"""Retention (monitors.NAME.retention) and drift-monitor prune: real monitor runs
on real Parquet files and a real SQLite store under tmp_path, the store's clock
frozen by the test, one run a day."""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
from types import SimpleNamespace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import Config, parse_config
from monitor.service import retention
from monitor.service.backfill import backfill
from monitor.service.history import history_runs
from monitor.service.metrics import ServiceMetrics, activate
from monitor.service.runner import RunResult, run_monitor
from monitor.errors import StoreError
from monitor.store import Store

T0 = datetime(2030, 3, 4, 6, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


class Clock:
    """The store's clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_data(folder: Path, seed: int = 1, rows: int = 800) -> None:
    rng = np.random.default_rng(seed)
    pd.DataFrame({"amount": rng.normal(100, 10, rows), "colour": rng.choice(["red", "blue", "green"], rows)}
                 ).to_parquet(folder / "data.parquet", index=False)


def monitors_config(tmp_path: Path, monitors: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"shop": {"path": "data.parquet"}},
        "monitors": {name: {"dataset": "shop", "schedule": {"every": "1d"}, **mon} for name, mon in monitors.items()},
    }


def make_config(tmp_path: Path, monitors: dict[str, dict[str, Any]]) -> Config:
    write_data(tmp_path)
    return parse_config(monitors_config(tmp_path, monitors), tmp_path)


def day_name(i: int) -> str:
    """The name of the snapshot of the run on day ``i`` (its time is the store's clock)."""
    return "snapshot_" + (T0 + i * DAY).strftime("%Y%m%dT%H%M%SZ")


def run_days(config: Config, store: Store, clock: Clock, days: range, name: str = "m") -> list[RunResult]:
    results = []
    for i in days:
        clock.now = T0 + i * DAY
        result = run_monitor(config, name, store)
        assert result.status == "completed", result.reason
        results.append(result)
    return results


def names(store: Store) -> list[str]:
    return [s.name for s in store.list_snapshots("shop")]


def copy_files(config: Config) -> set[str]:
    folder = Path(config.store).parent / "data" / "shop"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


# --------------------------------------------------------------------------- acceptance


def test_keep_last_3_after_10_runs_leaves_3_snapshots_plus_the_pinned_baseline(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous", "data_copy": True,
                                          "retention": {"keep_last": 3, "data_copies": {"keep_last": 1}}}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        (first,) = run_days(config, store, clock, range(1))
        store.set_baseline("m", first.target)  # type: ignore[arg-type]
        results = first_and_rest = [first, *run_days(config, store, clock, range(1, 10))]
        assert names(store) == [day_name(0), day_name(7), day_name(8), day_name(9)]
        # data copies: the newest snapshot's, and the pinned baseline's (kept with it)
        assert copy_files(config) == {f"{day_name(0)}.parquet", f"{day_name(9)}.parquet"}
        with_copy = {s.name for s in store.list_snapshots("shop") if s.data_copy}
        assert with_copy == {day_name(0), day_name(9)}
        # a snapshot whose copy went keeps its profile
        meta, columns = store.load_profile(store.get_snapshot("shop", day_name(8)).id)
        assert meta["row_count"] == 800 and [c["column"] for c in columns] == ["amount", "colour"]
        # every comparison stays, with its result and report, also those of removed snapshots
        comparisons = store.list_comparisons(monitor="m")
        assert sorted(c.target_name for c in comparisons) == [day_name(i) for i in range(1, 10)]
        for c in comparisons:
            assert c.baseline_name == day_name(0) and c.result["verdict"]["severity"] == c.severity
            assert c.report_path is not None and Path(c.report_path).is_file()
        removed = {(r.snapshot, r.what, r.reason) for result in results for r in result.pruned}
        assert {(day_name(i), "snapshot", "keep_last") for i in range(1, 7)} <= removed
        assert all(r.monitor == "m" for result in first_and_rest for r in result.pruned)
    history = (Path(config.reports_dir) / "m" / "history.html").read_text()
    for c in comparisons:  # the history page still links every run's report
        assert Path(c.report_path).name in history  # type: ignore[arg-type]


def test_data_copies_past_max_age_are_gone_the_snapshots_and_reports_stay(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous", "data_copy": True,
                                          "retention": {"data_copies": {"max_age": "2d"}}}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(6))
        # on day 5, the copies of days 0 to 2 are more than 2 days old
        assert names(store) == [day_name(i) for i in range(6)]
        assert copy_files(config) == {f"{day_name(i)}.parquet" for i in (3, 4, 5)}
        for snap in store.list_snapshots("shop"):
            assert (snap.data_copy is not None) == (snap.name >= day_name(3))
            assert snap.data_copy is None or Path(snap.data_copy).is_file()
        assert len(store.list_comparisons(monitor="m")) == 5
        assert all(Path(c.report_path).is_file() for c in store.list_comparisons())  # type: ignore[arg-type]
        for i in range(3):
            profile_page = Path(config.reports_dir) / "shop" / day_name(i) / "profile.html"
            assert profile_page.is_file()


def test_trailing_window_members_are_kept(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": {"trailing": 4}, "retention": {"keep_last": 1}}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(8))
        # the next run merges the newest four: they stay, older ones go
        assert names(store) == [day_name(i) for i in range(4, 8)]
        (nine,) = run_days(config, store, clock, range(8, 9))
        assert nine.baseline_spec is not None
        assert nine.baseline_spec["snapshots"] == [day_name(i) for i in range(4, 8)]
        assert nine.baseline_spec["note"] is None  # all four were there
        assert names(store) == [day_name(i) for i in range(5, 9)]


def test_offset_keeps_the_snapshot_the_next_run_picks_and_every_newer_one(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": {"offset": "3d"}, "retention": {"keep_last": 1}}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(8))
        # newest is day 7: day 4 is 3 days older, and days 5-7 are what later runs pick
        assert names(store) == [day_name(i) for i in range(4, 8)]
        (eight,) = run_days(config, store, clock, range(8, 9))
        assert eight.baseline is not None and eight.baseline.name == day_name(5)


def test_first_and_named_baselines_are_never_removed(tmp_path: Path) -> None:
    config = make_config(tmp_path, {
        "m": {"retention": {"keep_last": 2}},  # baseline: first
        "other": {"baseline": day_name(2), "enabled": False},  # names one of m's snapshots
    })
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(7))
        assert names(store) == [day_name(0), day_name(2), day_name(5), day_name(6)]
        keep = retention.protected(store, config)
        by_name = {s.name: keep.get(s.id) for s in store.list_snapshots("shop")}
        assert by_name[day_name(0)] == "baseline first of monitor 'm'"
        assert by_name[day_name(2)] == f"baseline {day_name(2)} of monitor 'other'"


def test_the_newest_snapshot_is_kept_and_running_ones_are_never_touched(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous", "retention": {"max_age": "1d"}}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(3))
        running = store.begin_snapshot("shop", "in-progress", monitor="m")  # on day 2, by this process
        assert names(store) == [day_name(1), day_name(2), "in-progress"]  # day 0 was 2 days old on day 2
        clock.now = T0 + 30 * DAY  # everything is older than max_age
        assert [(r.snapshot, r.reason) for r in retention.apply(store, config)] == [(day_name(1), "max_age")]
        assert names(store) == [day_name(2), "in-progress"]  # the newest completed one, and the running one
        assert store.get_snapshot_by_id(running.id).status == "running"
        # the store itself refuses to remove a running snapshot, whoever asks
        removed, _ = store.prune([running.id])
        assert removed == [] and store.get_snapshot_by_id(running.id).status == "running"


def test_max_age_with_a_frozen_clock(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous", "retention": {"max_age": "3d"}}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        results = run_days(config, store, clock, range(10))
        # after each run, the snapshots more than 3 days older than the clock went
        assert names(store) == [day_name(i) for i in range(6, 10)]
        assert [(r.snapshot, r.reason) for r in results[4].pruned] == [(day_name(0), "max_age")]
        clock.now = T0 + 10 * DAY  # day 7 is exactly 3 days old: kept
        assert [r.snapshot for r in retention.plan(store, config)] == [day_name(6)]
        clock.now = T0 + 10 * DAY + timedelta(seconds=1)  # now it is older
        planned = retention.plan(store, config)
        assert [(r.snapshot, r.what, r.reason) for r in planned] == [
            (day_name(6), "snapshot", "max_age"), (day_name(7), "snapshot", "max_age")]
        assert names(store) == [day_name(i) for i in range(6, 10)]  # planning removes nothing
        assert retention.apply(store, config) == planned
        assert names(store) == [day_name(8), day_name(9)]


def test_keep_last_counts_completed_snapshots_and_a_failed_one_goes_with_its_age_group(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous", "retention": {"keep_last": 2}}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(2))
        clock.now = T0 + 2 * DAY
        failed = store.begin_snapshot("shop", "broken", monitor="m")
        store.fail_snapshot(failed.id, "unreadable file")
        run_days(config, store, clock, range(3, 4))
        # completed: days 0, 1, 3; the failed one of day 2 is newer than day 1, which is kept
        assert names(store) == [day_name(1), "broken", day_name(3)]
        run_days(config, store, clock, range(4, 5))
        assert names(store) == [day_name(3), day_name(4)]


# --------------------------------------------------------------------------- prune


def write_config_file(tmp_path: Path, monitors: dict[str, dict[str, Any]]) -> Path:
    write_data(tmp_path)
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(monitors_config(tmp_path, monitors)))
    return path


def test_prune_dry_run_lists_what_would_go_and_removes_nothing(tmp_path: Path) -> None:
    path = write_config_file(tmp_path, {"m": {"baseline": "previous", "data_copy": True}})
    config = parse_config(yaml.safe_load(path.read_text()), tmp_path)
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(6))
    # the policy comes later: prune applies it to what the store holds
    tree = yaml.safe_load(path.read_text())
    tree["monitors"]["m"]["retention"] = {"keep_last": 2, "data_copies": {"keep_last": 1}}
    path.write_text(yaml.safe_dump(tree))
    before = (files_under(tmp_path), sqlite3_dump(config.store))
    runner = CliRunner()
    dry = runner.invoke(main, ["prune", "-c", str(path), "--dry-run", "--format", "json"])
    assert dry.exit_code == 0, dry.output
    listed = json.loads(dry.stdout)
    assert listed["dry_run"] is True and (listed["snapshots"], listed["data_copies"]) == (4, 1)
    assert [(r["snapshot"], r["what"], r["reason"]) for r in listed["removed"]] == [
        *[(day_name(i), "snapshot", "keep_last") for i in range(4)], (day_name(4), "data_copy", "keep_last")]
    assert (files_under(tmp_path), sqlite3_dump(config.store)) == before
    text = runner.invoke(main, ["prune", "-c", str(path), "--dry-run"])
    assert text.exit_code == 0 and "would remove 4 snapshot(s) and 1 data copy" in text.output
    for i in range(4):
        assert day_name(i) in text.output

    done = runner.invoke(main, ["prune", "-c", str(path), "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["removed"] == listed["removed"] and not json.loads(done.stdout)["dry_run"]
    with Store(config.store) as store:
        assert names(store) == [day_name(4), day_name(5)]
        assert [s.name for s in store.list_snapshots("shop") if s.data_copy] == [day_name(5)]
        assert len(store.list_comparisons()) == 5
    assert copy_files(config) == {f"{day_name(5)}.parquet"}
    again = runner.invoke(main, ["prune", "-c", str(path), "--format", "json"])
    assert json.loads(again.stdout)["removed"] == []


def files_under(folder: Path) -> list[str]:
    """Every file under ``folder`` but SQLite's own (the WAL and its index come with opening the store)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not p.name.endswith(("-wal", "-shm")))


def sqlite3_dump(path: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def test_prune_says_when_no_monitor_has_retention(tmp_path: Path) -> None:
    path = write_config_file(tmp_path, {"m": {}})
    result = CliRunner().invoke(main, ["prune", "-c", str(path)])
    assert result.exit_code == 0 and "no monitor has a retention policy" in result.output


def test_each_removal_is_logged_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous", "data_copy": True,
                                          "retention": {"keep_last": 1, "data_copies": {"max_age": "1d"}}}})
    clock = Clock(T0)
    metrics = ServiceMetrics()
    activate(metrics)
    try:
        with Store(config.store, clock=clock) as store, caplog.at_level(logging.INFO, "monitor.service.retention"):
            run_days(config, store, clock, range(3))
    finally:
        activate(None)
    lines = [r for r in caplog.records if r.name == "monitor.service.retention"]
    assert [(r.monitor, r.snapshot, r.removed, r.reason) for r in lines] == [  # type: ignore[attr-defined]
        ("m", day_name(0), "snapshot", "keep_last"), ("m", day_name(1), "snapshot", "keep_last")]
    assert all("retention of monitor m: removed snapshot" in r.getMessage() for r in lines)
    text = metrics.render().decode()
    assert 'drift_monitor_pruned_total{monitor="m",reason="keep_last",what="snapshot"} 2.0' in text


def test_a_backfill_applies_the_retention_after_its_comparisons(tmp_path: Path) -> None:
    hours = pd.date_range("2024-05-01", "2024-05-11", freq="1h", inclusive="left", tz="UTC")
    rng = np.random.default_rng(3)
    pd.DataFrame({"t": hours, "x": rng.normal(0, 1, len(hours))}).to_parquet(tmp_path / "data.parquet")
    config = parse_config({
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"d": {"path": "data.parquet", "timestamp_column": "t"}},
        "monitors": {"daily": {"dataset": "d", "schedule": {"every": "1d"}, "window": {"size": "1d"},
                               "baseline": "previous", "min_values": 10, "retention": {"keep_last": 3}}},
    }, tmp_path)
    with Store(config.store) as store:
        summary = backfill(config, "daily", store, datetime(2024, 5, 1, tzinfo=timezone.utc),
                           datetime(2024, 5, 11, tzinfo=timezone.utc))
        assert summary.written == 10 and summary.failed == 0
        assert len(store.list_comparisons(monitor="daily")) == 9  # every window was compared first
        assert [s.name for s in store.list_snapshots("d")] == [f"daily_2024050{d}" for d in (8, 9)] + ["daily_20240510"]
        assert [(r.snapshot, r.reason) for r in summary.pruned] == [
            (f"daily_2024050{d}", "keep_last") for d in range(1, 8)]
        assert summary.to_dict()["pruned"][0]["what"] == "snapshot"
        # the history page still places each comparison at its window's start, also those whose window is gone
        runs = history_runs(store, "daily")
        assert [run.at for run in runs] == [datetime(2024, 5, d, tzinfo=timezone.utc) for d in range(2, 11)]
        assert all(c.target_time == run.at for c, run in zip(store.list_comparisons(monitor="daily")[::-1], runs))


# --------------------------------------------------------------------------- the store


def test_store_prune_keeps_comparisons_and_alerts_and_deletes_files_after_the_commit(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous", "data_copy": True}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(3))
        (c1, c2) = sorted(store.list_comparisons(), key=lambda c: c.id)
        one = store.get_snapshot("shop", day_name(1))
        removed, uncopied = store.prune([one.id], [store.get_snapshot("shop", day_name(2)).id])
        assert [s.name for s in removed] == [day_name(1)] and [s.name for s in uncopied] == [day_name(2)]
        assert names(store) == [day_name(0), day_name(2)]
        # both comparisons that used day 1 (as target, then as baseline) keep their rows
        assert store.get_comparison(c1.id) == c1 and store.get_comparison(c2.id) == c2
        assert c1.target_snapshot_id == one.id and c2.baseline_snapshot_id == one.id
        with pytest.raises(StoreError, match=f"snapshot {one.id} not found"):
            store.get_snapshot_by_id(one.id)
        assert store.load_profile(store.get_snapshot("shop", day_name(2)).id)[0]["row_count"] == 800
    assert copy_files(config) == {f"{day_name(0)}.parquet"}


def test_a_failed_prune_removes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous", "data_copy": True}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(3))
        ids = [s.id for s in store.list_snapshots("shop")][:2]
        before, files = sqlite3_dump(config.store), copy_files(config)
        calls = {"n": 0}
        real = store._snapshot_record

        def fail_on_second(row: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                raise sqlite3.OperationalError("disk I/O error")
            return real(row)

        monkeypatch.setattr(store, "_snapshot_record", fail_on_second)
        with pytest.raises(StoreError, match="remove snapshots and data copies"):
            store.prune(ids)
        monkeypatch.undo()
        assert sqlite3_dump(config.store) == before and copy_files(config) == files


def test_a_data_copy_that_cannot_be_deleted_is_logged_and_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous", "data_copy": True}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(2))
        first = store.get_snapshot("shop", day_name(0))
        real_unlink = Path.unlink

        def refuse(self: Path, missing_ok: bool = False) -> None:
            if self.suffix == ".parquet":
                raise PermissionError(13, "Permission denied")
            real_unlink(self, missing_ok=missing_ok)

        monkeypatch.setattr(Path, "unlink", refuse)
        with caplog.at_level(logging.WARNING, "monitor.store.retention"):
            removed, _ = store.prune([first.id])
        monkeypatch.undo()
        assert [s.name for s in removed] == [day_name(0)] and names(store) == [day_name(1)]
        assert "cannot be deleted" in caplog.text and f"{day_name(0)}.parquet" in caplog.text
        assert f"{day_name(0)}.parquet" in copy_files(config)  # left behind, and harmless:
        assert store.prune([first.id]) == ([], [])


def test_pinned_snapshots_are_left_by_the_store_too(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous"}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        (r,) = run_days(config, store, clock, range(1))
        assert r.target is not None
        store.set_baseline("m", r.target)
        assert store.prune([r.target.id]) == ([], [])
        assert names(store) == [day_name(0)]


def test_snapshot_delete_still_deletes_the_comparisons_of_the_snapshot(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"m": {"baseline": "previous"}})
    clock = Clock(T0)
    with Store(config.store, clock=clock) as store:
        run_days(config, store, clock, range(3))
        store.delete_snapshot("shop", day_name(1))
        assert store.list_comparisons() == []  # day 1 was the target of one and the baseline of the other


def test_migration_9_keeps_comparisons_alerts_and_their_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.store import base

    db = tmp_path / "old.db"
    monkeypatch.setattr(base, "MIGRATIONS", base.MIGRATIONS[:8])
    monkeypatch.setattr(base, "SCHEMA_VERSION", 8)
    with Store(db):  # a store at schema 8; its rows written as the code of schema 8 wrote them
        pass
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("INSERT INTO datasets (name, version, definition, created_at) "
                     "VALUES ('d', 1, '{\"path\":\"x\"}', '2030-01-01T00:00:00.000000+00:00')")
        for i, name in enumerate(("a", "b", "c")):
            conn.execute("INSERT INTO snapshots (dataset, dataset_version, name, created_at, completed_at, status, "
                         "row_count, fingerprint, profile, profile_version) VALUES ('d', 1, ?, ?, ?, 'completed', 1, "
                         "'f', '{\"format_version\": 1}', 1)",
                         [name, f"2030-01-0{i + 1}T00:00:00.000000+00:00", f"2030-01-0{i + 1}T00:00:01.000000+00:00"])
    with sqlite3.connect(db) as conn:  # comparisons as the code of schema 8 wrote them
        conn.execute("PRAGMA foreign_keys=ON")
        ids = [row[0] for row in conn.execute("SELECT id FROM snapshots ORDER BY id")]
        old_snaps = [SimpleNamespace(id=i, name=n) for i, n in zip(ids, ("a", "b", "c"))]
        for target in old_snaps[1:]:
            conn.execute("INSERT INTO comparisons (monitor, dataset, baseline_snapshot_id, target_snapshot_id, "
                         "baseline_name, target_name, created_at, drifted, severity, result) VALUES "
                         "('m', 'd', ?, ?, 'a', ?, '2030-01-01T00:00:00.000000+00:00', 0, 'none', '{}')",
                         [old_snaps[0].id, target.id, target.name])
    with Store(db) as old:
        made = sorted(old.list_comparisons(), key=lambda c: c.id)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        for comparison in made:
            conn.execute("INSERT INTO alerts (comparison_id, webhook, payload, idempotency_key, status, "
                         "next_attempt_at, created_at) VALUES (?, 'ops', '{}', ?, 'pending', "
                         "'2030-01-01T00:00:00.000000+00:00', '2030-01-01T00:00:00.000000+00:00')",
                         [comparison.id, f"k{comparison.id}"])
        conn.execute("DELETE FROM comparisons WHERE id = ?", [made[1].id])  # the newest id is free again
        conn.execute("DELETE FROM alerts WHERE comparison_id = ?", [made[1].id])
    monkeypatch.undo()
    with Store(db) as store:
        snaps = [store.get_snapshot("d", name) for name in ("a", "b", "c")]
        assert store.schema_version() >= 9  # and later migrations after it
        assert [c.id for c in store.list_comparisons()] == [made[0].id]
        assert store.list_comparisons()[0].target_time == snaps[1].created_at  # filled from its target
        assert [a.comparison_id for a in store.list_alerts()] == [made[0].id]
        removed, _ = store.prune([snaps[0].id, snaps[1].id])
        assert len(removed) == 2
        assert store.get_comparison(made[0].id) == dataclasses.replace(made[0], target_time=snaps[1].created_at)
        new = store.record_comparison(monitor="m", dataset="d", baseline=snaps[2], target=snaps[2], drifted=False,
                                      severity="none", result={})
        assert new.id > made[1].id  # ids of comparisons are not reused after the rebuild
    with sqlite3.connect(db) as conn:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'comparisons'").fetchone()[0]
        assert "REFERENCES" not in sql
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'comparisons' "
                                                  "AND type = 'index'")}
        assert {"comparisons_by_baseline", "comparisons_by_target"} <= indexes
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
