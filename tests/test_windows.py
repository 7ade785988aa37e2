"""Time windows: their arithmetic, the configuration keys, the store's window
columns, a scheduled run of a windowed monitor at a frozen time, and failures."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import time_machine
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import DatasetConfig, WindowConfig, load_config, parse_config
from monitor.errors import ConfigError, StoreError
from monitor.service.runner import run_monitor
from monitor.service.windowed import profile_windows
from monitor.service.windows import Window, latest_complete_window, window_name, windows_between
from monitor.store import Store

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


# ---------------------------------------------------------------- arithmetic


def test_a_day_window_is_yesterday_and_a_lag_moves_it_back_while_it_covers_midnight() -> None:
    day = WindowConfig(size="1d")
    assert latest_complete_window(utc(2024, 1, 5, 12), day, UTC) == Window(utc(2024, 1, 4), utc(2024, 1, 5))
    assert latest_complete_window(utc(2024, 1, 5), day, UTC) == Window(utc(2024, 1, 4), utc(2024, 1, 5))
    lagged = WindowConfig(size="1d", lag="2h")
    assert latest_complete_window(utc(2024, 1, 5, 1), lagged, UTC) == Window(utc(2024, 1, 3), utc(2024, 1, 4))
    assert latest_complete_window(utc(2024, 1, 5, 2), lagged, UTC) == Window(utc(2024, 1, 4), utc(2024, 1, 5))


def test_weeks_start_on_monday_and_months_on_the_first_in_the_schedule_zone() -> None:
    week = latest_complete_window(utc(2024, 1, 10, 12), WindowConfig(size="1w"), UTC)  # a Wednesday
    assert week == Window(utc(2024, 1, 1), utc(2024, 1, 8)) and week.start.weekday() == 0
    month = latest_complete_window(utc(2024, 3, 15), WindowConfig(size="1M"), PARIS)
    assert month == Window(utc(2024, 1, 31, 23), utc(2024, 2, 29, 23))  # February in Paris (UTC+1)
    assert window_name("m", month, PARIS) == "m_20240201"
    december = latest_complete_window(utc(2024, 1, 2), WindowConfig(size="1M"), UTC)
    assert december == Window(utc(2023, 12, 1), utc(2024, 1, 1))


def test_hour_windows_tile_the_day_and_are_named_with_their_time() -> None:
    six = windows_between(utc(2024, 1, 1, 5), utc(2024, 1, 2), WindowConfig(size="6h"), UTC)
    assert [(w.start.hour, w.full) for w in six] == [(5, False), (6, True), (12, True), (18, True)]
    assert [window_name("m", w, UTC) for w in six] == [
        "m_20240101T0500-20240101T0600", "m_20240101T0600", "m_20240101T1200", "m_20240101T1800"]


def test_daylight_saving_days_last_23_and_25_hours_and_a_skipped_hour_is_left_out() -> None:
    spring = windows_between(utc(2024, 3, 30, 23), utc(2024, 3, 31, 22), WindowConfig(size="1d"), PARIS)
    assert [w.end - w.start for w in spring] == [timedelta(hours=23)]
    autumn = windows_between(utc(2024, 10, 26, 22), utc(2024, 10, 27, 23), WindowConfig(size="1d"), PARIS)
    assert [w.end - w.start for w in autumn] == [timedelta(hours=25)]
    hours = windows_between(utc(2024, 3, 30, 23), utc(2024, 3, 31, 22), WindowConfig(size="1h"), PARIS)
    assert len(hours) == 23 and all(w.end - w.start == timedelta(hours=1) for w in hours)
    names = [window_name("m", w, PARIS) for w in hours]
    assert "m_20240331T0100" in names and "m_20240331T0200" not in names and "m_20240331T0300" in names
    assert all(a.end == b.start for a, b in zip(hours, hours[1:]))


# ---------------------------------------------------------------- configuration


def config_tree(**window: Any) -> dict[str, Any]:
    return {"datasets": {"d": {"path": "x.parquet"}},
            "monitors": {"m": {"dataset": "d", "schedule": {"every": "1d"}, "window": window}}}


def test_a_window_without_the_datasets_timestamp_column_names_both_keys() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(config_tree(size="1d"))
    assert "monitors.m.window" in str(err.value) and "datasets.d.timestamp_column" in str(err.value)


@pytest.mark.parametrize("window, key", [({"size": "7h"}, "size"), ({"size": "2d"}, "size"),
                                         ({"size": "1d", "lag": "soon"}, "lag")])
def test_bad_window_sizes_and_lags_are_configuration_errors(window: dict[str, str], key: str) -> None:
    tree = config_tree(**window)
    tree["datasets"]["d"]["timestamp_column"] = "t"
    with pytest.raises(ConfigError) as err:
        parse_config(tree)
    assert f"monitors.m.window.{key}" in str(err.value)


def test_a_dataset_without_timestamp_column_keeps_its_registered_definition() -> None:
    plain = DatasetConfig(path="x.parquet")
    assert "timestamp_column" not in plain.model_dump(mode="json")
    assert DatasetConfig(path="x.parquet", timestamp_column="t").model_dump(mode="json")["timestamp_column"] == "t"


# ---------------------------------------------------------------- store


def test_old_snapshots_have_no_window_after_the_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.store import base

    db = tmp_path / "old.db"
    monkeypatch.setattr(base, "MIGRATIONS", base.MIGRATIONS[:3])
    monkeypatch.setattr(base, "SCHEMA_VERSION", 3)
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO datasets (name, version, definition, created_at) VALUES ('d', 1, '{}', "
                     "'2024-01-01T00:00:00.000000+00:00')")
        conn.execute("INSERT INTO snapshots (dataset, dataset_version, name, created_at, status) VALUES "
                     "('d', 1, 'old', '2024-01-01T00:00:00.000000+00:00', 'failed')")
    monkeypatch.undo()
    with Store(db) as store:
        (old,) = store.list_snapshots("d")
        assert (old.window_start, old.window_end) == (None, None)
        new = store.begin_snapshot("d", "new", window_start=utc(2024, 1, 1), window_end=utc(2024, 1, 2))
        assert (new.window_start, new.window_end) == (utc(2024, 1, 1), utc(2024, 1, 2))
        with pytest.raises(StoreError, match="both"):
            store.begin_snapshot("d", "half", window_start=utc(2024, 1, 1))
        with pytest.raises(StoreError, match="end after"):
            store.begin_snapshot("d", "empty", window_start=utc(2024, 1, 2), window_end=utc(2024, 1, 1))


# ---------------------------------------------------------------- a scheduled run at a frozen time


@pytest.fixture()
def days(tmp_path: Path) -> pd.DataFrame:
    """Five days of rows at random seconds, 20,000 a day (enough for the KLL
    sketch), in two Parquet files with tz-aware UTC times."""
    rng = np.random.default_rng(7)
    n = 100_000
    at = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 5 * 86_400, n), unit="s")
    frame = pd.DataFrame({"at": at, "x": rng.lognormal(size=n), "shop": rng.choice(["a", "b", "c"], n)})
    frame.iloc[: n // 2].to_parquet(tmp_path / "part-1.parquet")
    frame.iloc[n // 2:].to_parquet(tmp_path / "part-2.parquet")
    return frame


def windowed_config(tmp_path: Path, window: dict[str, str], data_copy: bool = False) -> Path:
    config = {"store": "store.db", "reports_dir": "reports",
              "datasets": {"shop": {"path": ["part-1.parquet", "part-2.parquet"], "timestamp_column": "at",
                                    "columns": {"include": ["x", "shop"]}}},
              "monitors": {"daily": {"dataset": "shop", "schedule": {"every": "1h"}, "window": window,
                                     "data_copy": data_copy}}}
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def assert_profile_of(store: Store, snap: Any, rows: pd.DataFrame) -> None:
    from monitor.service.runner import load_profile

    profile = load_profile(store, snap)
    x = profile.columns["x"].numeric
    assert profile.row_count == snap.row_count == len(rows)
    assert x is not None and (x.min, x.max) == (rows.x.min(), rows.x.max())
    assert x.moments.mean == pytest.approx(rows.x.mean(), rel=1e-9)
    assert not x.is_exact  # 20,000 distinct values: the KLL sketch
    for rank, value in zip((0.1, 0.5, 0.9), x.quantiles([0.1, 0.5, 0.9])):
        assert abs(np.mean(rows.x.to_numpy() <= value) - rank) <= x.rank_error + 1 / len(rows)
    assert profile.columns["shop"].categories.counts == rows["shop"].value_counts().to_dict()  # type: ignore[union-attr]


def test_a_scheduled_day_window_profiles_exactly_yesterdays_rows(tmp_path: Path, days: pd.DataFrame) -> None:
    config = load_config(windowed_config(tmp_path, {"size": "1d"}, data_copy=True))
    with Store(config.store) as store, time_machine.travel(utc(2024, 1, 4, 12, 30), tick=False):
        result = run_monitor(config, "daily", store)
        again = run_monitor(config, "daily", store)
        snaps = store.list_snapshots("shop")
        yesterday = days[(days["at"] >= "2024-01-03") & (days["at"] < "2024-01-04")]
        assert result.status == "completed" and result.target is not None
        assert (result.target.name, result.target.window_start, result.target.window_end) == (
            "daily_20240103", utc(2024, 1, 3), utc(2024, 1, 4))
        assert_profile_of(store, result.target, yesterday)
        copy = pq.read_table(result.target.data_copy).to_pandas()
        assert len(copy) == len(yesterday) and list(copy.columns) == ["x", "shop"]
        assert sorted(copy.x) == sorted(yesterday.x)
    assert again.status == "completed" and again.target is None and "already snapshot daily_20240103" in str(again.reason)
    assert len(snaps) == 1


def test_with_a_lag_of_2h_at_1am_the_run_takes_the_day_before_yesterday(tmp_path: Path, days: pd.DataFrame) -> None:
    config = load_config(windowed_config(tmp_path, {"size": "1d", "lag": "2h"}))
    with Store(config.store) as store, time_machine.travel(utc(2024, 1, 5, 1, 0), tick=False):
        first = run_monitor(config, "daily", store)
        rows = days[(days["at"] >= "2024-01-03") & (days["at"] < "2024-01-04")]
        assert first.target is not None and first.target.window_start == utc(2024, 1, 3)
        assert_profile_of(store, first.target, rows)
    with Store(config.store) as store, time_machine.travel(utc(2024, 1, 5, 2, 0), tick=False):
        second = run_monitor(config, "daily", store)
        assert second.target is not None and second.target.window_start == utc(2024, 1, 4)
        assert second.comparison_id is not None  # compared with the first window, its baseline
        assert store.get_comparison(second.comparison_id).baseline_name == "daily_20240103"


# ---------------------------------------------------------------- times and their edges


def test_window_bounds_are_exact_in_every_time_unit(tmp_path: Path) -> None:
    ns = pd.to_datetime(["2024-01-01T23:59:59.999999999", "2024-01-02T00:00:00", "2024-01-02T12:00:00",
                         "2024-01-02T23:59:59.999999999", "2024-01-03T00:00:00", None], format="ISO8601")
    table = pa.table({"t": pa.array(ns, type=pa.timestamp("ns")), "x": pa.array([1.0, 2, 3, 4, 5, 6])})
    pq.write_table(table, tmp_path / "ns.parquet")
    pq.write_table(table.set_column(0, "t", table.column("t").cast(pa.timestamp("s"), safe=False)),
                   tmp_path / "s.parquet")
    window = Window(utc(2024, 1, 2), utc(2024, 1, 3))
    for name, inside in (("ns", [2.0, 3, 4]), ("s", [2.0, 3, 4])):
        ds = DatasetConfig(path=str(tmp_path / f"{name}.parquet"), timestamp_column="t")
        result = profile_windows(ds, [window])
        (got,) = result.windows
        assert got.profile is not None and result.rows_without_time == 1
        num = got.profile.columns["x"].numeric
        assert num is not None and num.exact_values().tolist() == inside, name


def test_csv_text_times_are_read_in_utc_and_windows_in_the_schedule_zone(tmp_path: Path) -> None:
    text = "at,x\n2024-01-02 04:59:59,1\n2024-01-02 05:00:00,2\n2024-01-03 04:59:59,3\n2024-01-03 05:00:00,4\n,5\n"
    (tmp_path / "t.csv").write_text(text)
    ds = DatasetConfig(path=str(tmp_path / "t.csv"), timestamp_column="at", columns={"exclude": ["at"]})
    new_york = ZoneInfo("America/New_York")
    window = latest_complete_window(utc(2024, 1, 3, 12), WindowConfig(size="1d"), new_york)
    assert window == Window(utc(2024, 1, 2, 5), utc(2024, 1, 3, 5))
    result = profile_windows(ds, [window])
    profile = result.windows[0].profile
    assert profile is not None and list(profile.columns) == ["x"] and result.rows_without_time == 1
    num = profile.columns["x"].numeric
    assert num is not None and num.exact_values().tolist() == [2.0, 3.0]


# ---------------------------------------------------------------- failures


def write_days(tmp_path: Path, bad_day: int | None = None) -> None:
    """One Parquet file per day of 2024-01-01 .. 2024-01-04, 200 rows each;
    ``bad_day``'s file has ``x`` as lists, which no window can profile."""
    rng = np.random.default_rng(3)
    for day in range(1, 5):
        at = pd.Timestamp(f"2024-01-0{day}", tz="UTC") + pd.to_timedelta(rng.integers(0, 86_400, 200), unit="s")
        x: Any = rng.normal(size=200)
        column = pa.array([[v] for v in x]) if day == bad_day else pa.array(x)
        (tmp_path / "days").mkdir(exist_ok=True)
        pq.write_table(pa.table({"at": pa.array(at), "x": column}), tmp_path / "days" / f"day-{day}.parquet")


def daily_cli_config(tmp_path: Path) -> Path:
    config = {"store": "store.db", "reports_dir": "reports",
              "datasets": {"days": {"path": "days", "format": "parquet", "timestamp_column": "at"}},
              "monitors": {"daily": {"dataset": "days", "schedule": {"every": "1d"}, "window": {"size": "1d"},
                                     "data_copy": True}}}
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_window_of_bad_data_fails_alone_and_is_retaken_once_fixed(tmp_path: Path) -> None:
    write_days(tmp_path, bad_day=3)
    config = daily_cli_config(tmp_path)
    args = ["backfill", "daily", "--from", "2024-01-01", "--to", "2024-01-05", "-c", str(config)]
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["written"], summary["skipped"], summary["failed"]) == (3, 0, 1)
    bad = summary["windows"][2]
    assert bad["status"] == "failed" and "day-3.parquet" in bad["reason"] and "list" in bad["reason"]
    assert "daily_20240103: failed" in result.stderr and "daily_20240104: written" in result.stderr
    with Store(tmp_path / "store.db") as store:
        snap = store.get_snapshot("days", "daily_20240103")
        assert snap.status == "failed" and snap.reason == bad["reason"] and snap.data_copy is None
        fourth = store.get_snapshot("days", "daily_20240104")
        assert fourth.status == "completed" and fourth.data_copy is not None
        copy = pq.read_table(fourth.data_copy)
        assert copy.num_rows == 200 and copy.column_names == ["at", "x"]
        assert pc.min(copy["at"]).as_py() >= utc(2024, 1, 4) and pc.max(copy["at"]).as_py() < utc(2024, 1, 5)
    write_days(tmp_path)
    fixed = CliRunner().invoke(main, args)
    assert fixed.exit_code == 0, fixed.output
    assert "daily: 1 written, 3 skipped, 0 failed" in fixed.stdout
    with Store(tmp_path / "store.db") as store:
        assert store.get_snapshot("days", "daily_20240103").row_count == 200


def test_an_unreadable_time_column_fails_every_window_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "days").mkdir()
    pq.write_table(pa.table({"at": pa.array([1, 2, 3]), "x": pa.array([1.0, 2, 3])}), tmp_path / "days" / "day-1.parquet")
    config = daily_cli_config(tmp_path)
    result = CliRunner().invoke(main, ["backfill", "daily", "--from", "2024-01-01", "--to", "2024-01-03",
                                       "-c", str(config), "--format", "json"])
    summary = json.loads(result.stdout)
    assert result.exit_code == 1 and summary["failed"] == 2
    assert all("timestamp_column 'at' is int64" in w["reason"] for w in summary["windows"])


def test_backfill_of_a_monitor_without_window_is_a_configuration_error(tmp_path: Path) -> None:
    config = daily_cli_config(tmp_path)
    tree = yaml.safe_load(config.read_text())
    del tree["monitors"]["daily"]["window"]
    config.write_text(yaml.safe_dump(tree))
    result = CliRunner().invoke(main, ["backfill", "daily", "--from", "2024-01-01", "--to", "2024-01-03",
                                       "-c", str(config)])
    assert result.exit_code == 2 and "monitors.daily.window" in result.output
    bad_date = CliRunner().invoke(main, ["backfill", "daily", "--from", "soon", "--to", "2024-01-03",
                                         "-c", str(config)])
    assert bad_date.exit_code == 2 and "--from" in bad_date.output


def test_parquet_row_groups_outside_the_windows_are_not_read(tmp_path: Path) -> None:
    write_days(tmp_path, bad_day=4)  # the bad file's times are outside the window: it is skipped unread
    ds = DatasetConfig(path=str(tmp_path / "days"), format="parquet", timestamp_column="at")
    result = profile_windows(ds, [Window(utc(2024, 1, 2), utc(2024, 1, 3))])
    (day,) = result.windows
    assert day.reason is None and day.profile is not None and day.profile.row_count == 200
    assert result.rows_read == 200
    both = profile_windows(ds, [Window(utc(2024, 1, 2), utc(2024, 1, 3)), Window(utc(2024, 1, 3), utc(2024, 1, 4))])
    assert both.rows_read == 400 and [w.profile.row_count for w in both.windows if w.profile] == [200, 200]


def test_a_backfill_longer_than_one_pass_writes_every_window_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.api import Workspace
    from monitor.service import backfill

    write_days(tmp_path)
    monkeypatch.setattr(backfill, "WINDOWS_PER_PASS", 3)
    with Workspace(daily_cli_config(tmp_path)) as ws:
        ws.backfill("daily", "2024-01-02", "2024-01-03")
        summary = ws.backfill("daily", "2023-12-31", "2024-01-06")
    assert [w.name for w in summary.windows] == ["daily_20231231"] + [f"daily_2024010{d}" for d in range(1, 6)]
    assert [w.status for w in summary.windows] == ["written", "written", "skipped", "written", "written", "written"]
    assert [w.rows for w in summary.windows] == [0, 200, 200, 200, 200, 0]  # two passes: 3 windows, then 2


def test_force_retakes_a_baseline_window_in_place_keeping_what_refers_to_it(tmp_path: Path) -> None:
    from monitor.api import Workspace

    write_days(tmp_path)
    with Workspace(daily_cli_config(tmp_path)) as ws:
        ws.backfill("daily", "2024-01-01", "2024-01-04")
        store = ws.store
        first = store.get_snapshot("days", "daily_20240101")
        store.set_baseline("daily", first)
        kept = sorted(c.id for c in store.list_comparisons(monitor="daily"))
        assert len(kept) == 2 and all(c.baseline_snapshot_id == first.id for c in store.list_comparisons())
        again = ws.backfill("daily", "2024-01-01", "2024-01-02", force=True)
        assert (again.written, again.windows[0].reason) == (1, "baseline established")
        retaken = store.get_snapshot("days", "daily_20240101")
        assert (retaken.id, retaken.status, retaken.row_count) == (first.id, "completed", 200)
        assert retaken.data_copy is not None and pq.read_table(retaken.data_copy).num_rows == 200
        pinned = store.get_pinned_baseline("daily")
        assert pinned is not None and pinned.id == first.id
        assert sorted(c.id for c in store.list_comparisons(monitor="daily")) == kept
