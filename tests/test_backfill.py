"""Backfill on the real NYC flights 2013 data: one snapshot per ISO week of 2013,
each the profile of that week's rows alone, checked against pandas."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from monitor.api import Workspace
from monitor.cli import main
from monitor.example import prepare_flights
from monitor.profile import DatasetProfile, profile_from_records
from monitor.store import Store

FROM = pd.Timestamp("2013-01-01", tz="UTC")
TO = pd.Timestamp("2014-01-01", tz="UTC")


def write_config(base: Path, monitors: dict[str, Any] | None = None) -> Path:
    config = {
        "store": "store/monitor.db",
        "reports_dir": "reports",
        "datasets": {"flights": {"path": "data", "columns": {"include": ["dep_delay", "carrier"]},
                                 "timestamp_column": "time_hour"}},
        "monitors": monitors or {"weekly": {"dataset": "flights", "schedule": {"every": "1w"},
                                            "window": {"size": "1w"}}},
    }
    path = base / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The 12 monthly files, and their rows as pandas reads them (times in UTC)."""
    base = tmp_path_factory.mktemp("flights")
    prepare_flights(base / "data")
    frame = pd.concat(pq.read_table(p, columns=["time_hour", "dep_delay", "carrier"]).to_pandas()
                      for p in sorted((base / "data").glob("*.parquet")))
    frame["time_hour"] = frame["time_hour"].dt.tz_convert("UTC")
    return base, frame


@pytest.fixture(scope="module")
def backfilled(flights: tuple[Path, pd.DataFrame]) -> tuple[Path, Any]:
    """2013 backfilled in weekly windows through the CLI."""
    base, _ = flights
    config = write_config(base)
    result = CliRunner().invoke(main, ["backfill", "weekly", "--from", "2013-01-01", "--to", "2014-01-01",
                                       "-c", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    return config, json.loads(result.stdout)


def week_groups(frame: pd.DataFrame) -> pd.Series:
    """Rows of [FROM, TO) per window start: the ISO week's Monday, or FROM for the
    week the range cuts."""
    rows = frame[(frame.time_hour >= FROM) & (frame.time_hour < TO)]
    day = rows.time_hour.dt.floor("D")
    monday = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return rows.groupby(monday.where(monday >= FROM, FROM)).size()


def stored_profile(store: Store, dataset: str, name: str) -> DatasetProfile:
    meta, columns = store.load_profile(store.get_snapshot(dataset, name).id)
    return profile_from_records(meta, columns)


def test_one_snapshot_per_iso_week_with_the_rows_of_pandas_groupby(
        flights: tuple[Path, pd.DataFrame], backfilled: tuple[Path, Any]) -> None:
    _, frame = flights
    config, summary = backfilled
    expected = week_groups(frame)
    assert len(expected) == 53  # 2013-01-01 is a Tuesday: a cut first week, 51 whole ones, a cut last one
    assert (summary["written"], summary["skipped"], summary["failed"]) == (53, 0, 0)
    with Store(Path(config).parent / "store" / "monitor.db") as store:
        snaps = store.list_snapshots("flights", monitor="weekly")
    assert [s.window_start for s in snaps] == [t.to_pydatetime() for t in expected.index]
    assert [s.row_count for s in snaps] == expected.tolist()
    mondays = [s.window_start for s in snaps[1:]]
    assert all(m.weekday() == 0 and m.time() == datetime.min.time() for m in mondays)
    ends = [s.window_end for s in snaps]
    assert ends[:-1] == [s.window_start for s in snaps[1:]] and ends[-1] == TO.to_pydatetime()
    assert snaps[0].name == "weekly_20130101-20130107" and snaps[1].name == "weekly_20130107"
    assert snaps[-1].name == "weekly_20131230-20140101"
    # the last week is cut at 2014-01-01 00:00 UTC: the evening of 31 December in New York is left out
    assert len(frame[frame.time_hour >= TO]) > 0


@pytest.mark.parametrize("start", ["2013-01-01", "2013-07-01", "2013-12-30"])
def test_a_window_profile_equals_the_profile_of_its_rows_alone(
        flights: tuple[Path, pd.DataFrame], backfilled: tuple[Path, Any], start: str) -> None:
    _, frame = flights
    config, summary = backfilled
    window = next(w for w in summary["windows"] if w["window_start"].startswith(start))
    lo, hi = pd.Timestamp(window["window_start"]), pd.Timestamp(window["window_end"])
    rows = frame[(frame.time_hour >= lo) & (frame.time_hour < hi)]
    with Store(Path(config).parent / "store" / "monitor.db") as store:
        profile = stored_profile(store, "flights", window["name"])
    assert list(profile.columns) == ["dep_delay", "carrier"]
    assert profile.row_count == len(rows)
    delay = profile.columns["dep_delay"]
    values = rows.dep_delay.dropna().to_numpy(dtype=float)
    assert (delay.count, delay.missing) == (len(rows), int(rows.dep_delay.isna().sum()))
    assert delay.numeric is not None
    assert (delay.numeric.min, delay.numeric.max) == (values.min(), values.max())
    assert delay.numeric.moments.mean == pytest.approx(values.mean(), rel=1e-9)
    assert delay.numeric.moments.variance == pytest.approx(values.var(ddof=1), rel=1e-9)
    ranks = [0.05, 0.25, 0.5, 0.75, 0.95]
    got = delay.numeric.quantiles(ranks)
    bound = delay.numeric.rank_error
    for rank, value in zip(ranks, got):  # the empirical rank of each quantile is within the sketch's bound
        below, at_most = np.mean(values < value), np.mean(values <= value)
        assert below - bound - 1 / values.size <= rank <= at_most + bound + 1 / values.size, (rank, value)
    carrier = profile.columns["carrier"]
    assert carrier.categories is not None and (carrier.categories.error, carrier.categories.other) == (0, 0)
    assert carrier.categories.counts == rows.carrier.value_counts().to_dict()


def test_second_backfill_writes_nothing_and_force_retakes_in_place(
        flights: tuple[Path, pd.DataFrame], backfilled: tuple[Path, Any]) -> None:
    config, _ = backfilled
    db = Path(config).parent / "store" / "monitor.db"
    with Workspace(config) as ws:
        again = ws.backfill("weekly", "2013-01-01", "2014-01-01")
    assert (again.written, again.skipped, again.failed) == (0, 53, 0)
    with Store(db) as store:
        before = {s.name: s for s in store.list_snapshots("flights")}
        comparisons = {c.target_name: c for c in store.list_comparisons(monitor="weekly")}
    assert len(before) == 53 and len(comparisons) == 52  # the first window is the baseline
    with Workspace(config) as ws:
        forced = ws.backfill("weekly", datetime(2013, 3, 4, tzinfo=timezone.utc), "2013-03-18", force=True)
    assert [w.name for w in forced.windows] == ["weekly_20130304", "weekly_20130311"]
    assert (forced.written, forced.skipped, forced.failed) == (2, 0, 0)
    with Store(db) as store:
        after = {s.name: s for s in store.list_snapshots("flights")}
        retaken = {c.target_name: c for c in store.list_comparisons(monitor="weekly")}
        for name in ("weekly_20130304", "weekly_20130311"):
            old, new = before[name], after[name]
            assert (new.id, new.created_at, new.row_count, new.window_start) == (
                old.id, old.created_at, old.row_count, old.window_start)
            assert new.completed_at is not None and old.completed_at is not None
            assert new.completed_at > old.completed_at
            assert retaken[name].id != comparisons[name].id
            assert retaken[name].result["verdict"] == comparisons[name].result["verdict"]
    assert set(after) == set(before)
    untouched = set(before) - {"weekly_20130304", "weekly_20130311"}
    assert all(after[n].completed_at == before[n].completed_at for n in untouched)
    assert {n: c.id for n, c in retaken.items() if n in untouched} == {
        n: c.id for n, c in comparisons.items() if n in untouched}


def test_snapshot_list_and_show_print_the_window(backfilled: tuple[Path, Any]) -> None:
    config, _ = backfilled
    runner = CliRunner()
    listed = json.loads(runner.invoke(main, ["snapshot", "list", "flights", "-c", str(config), "--format", "json"]).stdout)
    assert (listed[1]["window_start"], listed[1]["window_end"]) == ("2013-01-07T00:00:00+00:00",
                                                                    "2013-01-14T00:00:00+00:00")
    table = runner.invoke(main, ["snapshot", "list", "flights", "-c", str(config)]).stdout
    assert "window_start" in table.splitlines()[0] and "2013-01-07T00:00:00+00:00" in table
    shown = runner.invoke(main, ["snapshot", "show", "flights", "weekly_20130107", "-c", str(config)]).stdout
    assert "window: 2013-01-07T00:00:00+00:00 to 2013-01-14T00:00:00+00:00" in shown
    shown_json = json.loads(runner.invoke(main, ["snapshot", "show", "flights", "weekly_20130107", "-c", str(config),
                                                 "--format", "json"]).stdout)
    assert shown_json["snapshot"]["window_end"] == "2013-01-14T00:00:00+00:00"


def test_jobs_merge_the_workers_windows_into_the_one_pass_profiles(
        flights: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    """Two worker processes, each reading six of the monthly files: every week's
    exact parts equal those of one pass (a week across a month's end is merged
    from both workers), and its data copy holds the same rows in the same order."""
    from monitor.config import DatasetConfig
    from monitor.service.windowed import profile_windows
    from monitor.service.windows import Window

    base, frame = flights
    ds = DatasetConfig.model_validate({"path": [str(p) for p in sorted((base / "data").glob("*.parquet"))],
                                       "columns": {"include": ["dep_delay", "carrier"]},
                                       "timestamp_column": "time_hour"})
    weeks = [Window(datetime(2013, 6, 3, tzinfo=timezone.utc) + pd.Timedelta(days=7 * i),
                    datetime(2013, 6, 10, tzinfo=timezone.utc) + pd.Timedelta(days=7 * i)) for i in range(8)]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = profile_windows(ds, weeks, copy_dir=tmp_path / "one")
    two = profile_windows(ds, weeks, copy_dir=tmp_path / "two", jobs=2)
    assert (two.rows_read, two.rows_without_time, two.fingerprint) == (one.rows_read, one.rows_without_time,
                                                                        one.fingerprint)
    for a, b in zip(one.windows, two.windows):
        assert a.reason is None and b.reason is None and a.profile is not None and b.profile is not None
        lo, hi = pd.Timestamp(a.window.start), pd.Timestamp(a.window.end)
        rows = frame[(frame.time_hour >= lo) & (frame.time_hour < hi)]
        assert b.profile.row_count == a.profile.row_count == len(rows)
        x, y = a.profile.columns["dep_delay"].numeric, b.profile.columns["dep_delay"].numeric
        assert x is not None and y is not None
        assert (y.min, y.max, y.moments.n) == (x.min, x.max, x.moments.n)
        assert y.moments.mean == pytest.approx(rows.dep_delay.mean(), rel=1e-9)
        assert y.moments.variance == pytest.approx(rows.dep_delay.var(ddof=1), rel=1e-9)
        assert b.profile.columns["carrier"].categories.counts == rows.carrier.value_counts().to_dict()
        copied = [pq.read_table(p) for p in (a.copy or [])], [pq.read_table(p) for p in (b.copy or [])]
        assert pd.concat(t.to_pandas() for t in copied[1]).reset_index(drop=True).equals(
            pd.concat(t.to_pandas() for t in copied[0]).reset_index(drop=True))
    # the first of July falls in a week read by both workers
    assert any(w.window.start.month == 6 and w.window.end.month == 7 for w in two.windows)


def test_backfill_with_jobs_through_the_cli(flights: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    base, frame = flights
    (tmp_path / "data").symlink_to(base / "data")
    config = write_config(tmp_path)
    result = CliRunner().invoke(main, ["backfill", "weekly", "--from", "2013-03-01", "--to", "2013-05-01",
                                       "--jobs", "2", "-c", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # Friday 1 March to Wednesday 1 May: two cut weeks around eight whole ones
    assert (summary["written"], summary["failed"]) == (10, 0)
    rows = frame[(frame.time_hour >= pd.Timestamp("2013-03-01", tz="UTC"))
                 & (frame.time_hour < pd.Timestamp("2013-05-01", tz="UTC"))]
    assert sum(w["rows"] for w in summary["windows"]) == len(rows)
