"""Baselines over time (previous, offset, trailing, version), what a comparison
records of its baseline, protected baselines and concurrent snapshot names:
real monitor runs on real Parquet files and a real SQLite store under tmp_path."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from monitor import Dataset, Workspace
from monitor.cli import main
from monitor.config import BaselineOffset, BaselineTrailing, BaselineVersion, Config, DatasetConfig, parse_config
from monitor.errors import ConfigError
from monitor.profile import QUANTILE_RANKS, profile_source
from monitor.service.baselines import baseline_profile, snapshot_time
from monitor.service.payload import slack_message
from monitor.service.runner import choose_baseline, run_all, run_isolated, run_monitor, take_snapshot
from monitor.sources.files import FileSource
from monitor.store import Store

T0 = datetime(2030, 3, 4, 6, 0, tzinfo=timezone.utc)


def frame(seed: int, rows: int = 1500, shift: float = 0.0) -> pd.DataFrame:
    """Continuous ``amount`` (5% missing), a wide-range integer ``items`` and a
    ``colour`` string column with six categories."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(100 + shift, 10, rows)
    amount[rng.random(rows) < 0.05] = np.nan
    colours = np.array(["red", "green", "blue", "black", "white", "grey"])
    return pd.DataFrame({
        "amount": amount,
        "items": rng.integers(0, 1_000_000, rows),
        "colour": colours[rng.integers(0, 6, rows)],
    })


def write(tmp_path: Path, data: pd.DataFrame, name: str = "data.parquet") -> Path:
    path = tmp_path / name
    data.to_parquet(path, index=False)
    return path


def config_for(tmp_path: Path, monitors: dict[str, dict[str, Any]], **dataset: Any) -> Config:
    data = {
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"shop": {"path": "data.parquet", **dataset}},
        "monitors": {name: {"dataset": "shop", "schedule": {"every": "1h"}, **mon} for name, mon in monitors.items()},
        "webhooks": {"ops": {"url": "http://127.0.0.1:9/hook"}},
    }
    return parse_config(data, tmp_path)


class Clock:
    """The store's clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# --------------------------------------------------------------------------- configuration


def test_baseline_forms_parse_into_their_models(tmp_path: Path) -> None:
    config = config_for(tmp_path, {
        "o": {"baseline": {"offset": "7d"}}, "t": {"baseline": {"trailing": 4}}, "v": {"baseline": {"version": 2}},
        "p": {"baseline": "previous"},
    })
    assert config.monitors["o"].baseline == BaselineOffset(offset="7d")
    assert config.monitors["o"].baseline.delta == timedelta(days=7)  # type: ignore[union-attr]
    assert config.monitors["t"].baseline == BaselineTrailing(trailing=4)
    assert config.monitors["v"].baseline == BaselineVersion(version=2)
    assert config.monitors["p"].baseline == "previous"


@pytest.mark.parametrize(("baseline", "problem"), [
    ({"offset": "7 days"}, "monitors.m.baseline.offset: expected a positive duration"),
    ({"offset": "0d"}, "monitors.m.baseline.offset: expected a positive duration"),
    ({"trailing": 0}, "monitors.m.baseline.trailing: Input should be greater than or equal to 1"),
    ({"trailing": "many"}, "monitors.m.baseline.trailing: Input should be a valid integer"),
    ({"version": 0}, "monitors.m.baseline.version: Input should be greater than or equal to 1"),
    ({"trailing": 2, "colour": "red"}, "monitors.m.baseline.colour: unknown key"),
    ({"trailing": 2, "offset": "1d"}, "monitors.m.baseline: expected first, previous, a snapshot name, or a mapping"),
    ({"last": 3}, "monitors.m.baseline: expected first, previous, a snapshot name, or a mapping"),
    (7, "monitors.m.baseline: expected first, previous, a snapshot name, or a mapping"),
])
def test_a_bad_baseline_is_one_problem_naming_its_key_path(tmp_path: Path, baseline: Any, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_for(tmp_path, {"m": {"baseline": baseline}})
    problems = [line.strip() for line in str(caught.value).splitlines()[1:]]
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems


# --------------------------------------------------------------------------- previous


def test_three_monitors_on_one_dataset_each_compare_with_their_own_previous_snapshot(tmp_path: Path) -> None:
    config = config_for(tmp_path, {name: {"baseline": "previous"} for name in ("a", "b", "c")})
    with Store(config.store) as store:
        for run in range(3):
            write(tmp_path, frame(run))
            results = run_all(config, store)
            assert [r.status for r in results] == ["completed"] * 3
        comparisons = store.list_comparisons("shop")
        assert len(comparisons) == 6  # runs 2 and 3 of each monitor
        for comp in comparisons:
            base = store.get_snapshot_by_id(comp.baseline_snapshot_id)
            target = store.get_snapshot_by_id(comp.target_snapshot_id)
            own = [s.id for s in store.list_snapshots("shop", monitor=comp.monitor)]
            assert base.monitor == target.monitor == comp.monitor
            assert own.index(base.id) == own.index(target.id) - 1
            assert comp.baseline_spec is not None
            assert (comp.baseline_spec["kind"], comp.baseline_spec["snapshots"]) == ("previous", [base.name])


def test_snapshots_without_a_monitor_are_no_monitors_previous(tmp_path: Path) -> None:
    config = config_for(tmp_path, {"a": {"baseline": "previous"}})
    write(tmp_path, frame(0))
    with Store(config.store) as store:
        take_snapshot(store, "shop", config.datasets["shop"], name="by-hand")
        first = run_monitor(config, "a", store)
        assert (first.comparison_id, first.reason) == (None, "baseline established")
        second = run_monitor(config, "a", store)
        assert second.baseline is not None and second.baseline.id == first.target.id  # type: ignore[union-attr]


# --------------------------------------------------------------------------- trailing


class Names(HTMLParser):
    """The text of the elements with class ``name`` inside ``baseline-snapshots``."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.names: list[str] = []
        self._in_name = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self.depth:
            self.depth += 1
            self._in_name = "name" in classes
        elif "baseline-snapshots" in classes:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            self._in_name = False

    def handle_data(self, data: str) -> None:
        if self._in_name:
            self.names.append(data)


def test_trailing_four_merges_the_monitors_last_four_snapshots(tmp_path: Path) -> None:
    frames = [frame(seed) for seed in range(4)] + [frame(9, shift=8.0)]
    config = config_for(tmp_path, {"t4": {"baseline": {"trailing": 4}, "webhooks": ["ops"]},
                                   "other": {"baseline": "previous"}})
    with Store(config.store) as store:
        results = []
        for data in frames:
            write(tmp_path, data)
            results.append(run_monitor(config, "t4", store))
            run_monitor(config, "other", store)  # snapshots of the same dataset that t4 must not merge
        names = [r.target.name for r in results]  # type: ignore[union-attr]

        assert (results[0].comparison_id, results[0].reason) == (None, "baseline established")
        assert results[2].baseline_spec is not None
        assert results[2].baseline_spec["snapshots"] == names[:2]
        assert results[2].baseline_spec["note"].startswith("2 of 4:")

        last = store.get_comparison(results[4].comparison_id)  # type: ignore[arg-type]
        assert last.baseline_spec is not None
        assert last.baseline_spec["kind"] == "trailing" and last.baseline_spec["snapshots"] == names[:4]
        assert last.baseline_spec["requested"] == 4 and last.baseline_spec["note"] is None
        assert last.baseline_snapshot_id == results[3].target.id  # type: ignore[union-attr]
        assert last.result["row_count"]["baseline"] == sum(len(f) for f in frames[:4])

        merged = baseline_profile(store, choose_baseline(store, config, "t4", results[4].target))  # type: ignore[arg-type]
        [alert] = store.list_alerts()
    concatenated = pd.concat(frames[:4], ignore_index=True)
    oracle = profile_source(FileSource((str(write(tmp_path, concatenated, "all.parquet")),), "parquet"))

    # the exact parts equal pandas on the concatenated rows, and the profile of those rows
    assert merged.row_count == oracle.row_count == len(concatenated)
    for name in ("amount", "items"):
        col, values = merged.columns[name], concatenated[name].dropna().to_numpy(dtype=np.float64)
        assert (col.count, col.missing) == (len(concatenated), int(concatenated[name].isna().sum()))
        assert (col.count, col.missing) == (oracle.columns[name].count, oracle.columns[name].missing)
        num = col.numeric
        assert num is not None and (num.min, num.max) == (values.min(), values.max())
        assert num.mean == pytest.approx(values.mean(), rel=1e-9)
        assert num.std == pytest.approx(values.std(ddof=1), rel=1e-9)
        # quantiles: the rank of each merged quantile is within the sketch's bound (+ one value)
        quantiles = num.quantiles(QUANTILE_RANKS)
        ranks = np.searchsorted(np.sort(values), quantiles, side="right") / values.size
        bound = num.rank_error + 1 / values.size
        assert np.all(ranks >= np.array(QUANTILE_RANKS) - bound - 1e-12)
        assert np.all(ranks - 1 / values.size <= np.array(QUANTILE_RANKS) + bound + 1e-12)
    colours = merged.columns["colour"].categories
    assert colours is not None and colours.error == 0
    assert colours.counts == concatenated["colour"].value_counts().to_dict()

    # the report lists the four snapshots, the alert carries them
    html = Path(results[4].report_path).read_text(encoding="utf-8")  # type: ignore[arg-type]
    parser = Names()
    parser.feed(html)
    assert parser.names == names[:4]
    assert alert.payload["baseline_kind"] == "trailing"
    assert alert.payload["baseline_snapshots"] == names[:4]
    assert alert.payload["baseline_snapshot"] == names[3]
    snapshots_field = slack_message(alert.payload)["blocks"][1]["fields"][3]["text"]
    assert snapshots_field == f"*Snapshots*\n`{names[3]}` (merge of 4) → `{names[4]}`"


# --------------------------------------------------------------------------- offset


def test_offset_takes_the_monitors_latest_snapshot_old_enough_across_a_gap(tmp_path: Path) -> None:
    config = config_for(tmp_path, {"weekly": {"baseline": {"offset": "7d"}}, "other": {"baseline": "previous"}})
    write(tmp_path, frame(0))
    clock = Clock(T0)
    taken: dict[str, Any] = {}
    with Store(config.store, clock=clock) as store:
        def run(day: float, name: str = "weekly") -> Any:
            clock.now = T0 + timedelta(days=day)
            result = run_monitor(config, name, store)
            assert result.status == "completed", result.reason
            taken[f"{name}@{day:g}"] = result.target.name
            return result

        for day in (0, 1, 2):
            early = run(day)
            assert early.comparison_id is None and early.reason.startswith("no baseline yet")
        run(5, "other")  # another monitor's snapshot, 5 days in: never weekly's baseline
        assert run(10).baseline.name == taken["weekly@2"]  # cutoff day 3, across the gap
        assert run(12).baseline.name == taken["weekly@2"]  # cutoff day 5: other's snapshot is not weekly's
        seventeen = run(17)  # cutoff day 10, exactly 7 days: at least that much older
        assert seventeen.baseline.name == taken["weekly@10"]
        spec = store.get_comparison(seventeen.comparison_id).baseline_spec
    assert spec is not None
    assert (spec["kind"], spec["configured"], spec["snapshots"]) == ("offset", {"offset": "7d"}, [taken["weekly@10"]])


def test_snapshot_time_is_the_window_start_when_there_is_one() -> None:
    created = T0 + timedelta(days=3)
    assert snapshot_time(SimpleNamespace(created_at=created, name="s")) == created  # type: ignore[arg-type]
    start = datetime(2030, 3, 1, tzinfo=timezone.utc)
    for window_start in (start, "2030-03-01T00:00:00+00:00", datetime(2030, 3, 1)):
        record = SimpleNamespace(created_at=created, window_start=window_start, name="s")
        assert snapshot_time(record) == start  # type: ignore[arg-type]
    assert snapshot_time(SimpleNamespace(created_at=created, window_start=None, name="s")) == created  # type: ignore[arg-type]


# --------------------------------------------------------------------------- version


def test_version_takes_the_latest_snapshot_of_that_dataset_version(tmp_path: Path) -> None:
    write(tmp_path, frame(0))
    v1 = config_for(tmp_path, {"m": {"baseline": "previous"}}, columns={"include": ["amount", "colour"]})
    v2 = config_for(tmp_path, {"m": {"baseline": {"version": 1}}, "n": {"baseline": {"version": 2}},
                               "bad": {"baseline": {"version": 5}}})
    with Store(v1.store) as store:
        old = [run_monitor(v1, "m", store).target for _ in range(2)]
        assert [s.dataset_version for s in old] == [1, 1]  # type: ignore[union-attr]
        first_v2 = run_monitor(v2, "m", store)
        assert first_v2.target.dataset_version == 2  # type: ignore[union-attr]
        assert first_v2.baseline.id == old[1].id  # type: ignore[union-attr]
        again = run_monitor(v2, "m", store)  # the v2 snapshots in between are not version 1
        assert again.baseline.id == old[1].id  # type: ignore[union-attr]
        spec = store.get_comparison(again.comparison_id).baseline_spec  # type: ignore[arg-type]
        assert spec is not None and (spec["kind"], spec["snapshots"]) == ("version", [old[1].name])  # type: ignore[union-attr]
        latest_v2 = run_monitor(v2, "n", store)
        assert latest_v2.baseline.id == again.target.id  # type: ignore[union-attr]
        failed = run_isolated(v2, "bad", store)
    assert failed.status == "failed" and "has no version 5" in str(failed.reason)


def test_version_of_the_targets_own_version_without_snapshots_establishes_it(tmp_path: Path) -> None:
    write(tmp_path, frame(0))
    config = config_for(tmp_path, {"m": {"baseline": {"version": 1}}})
    with Store(config.store) as store:
        first = run_monitor(config, "m", store)
        second = run_monitor(config, "m", store)
    assert (first.comparison_id, first.reason) == (None, "baseline established")
    assert second.baseline.id == first.target.id  # type: ignore[union-attr]


# --------------------------------------------------------------------------- protection


def test_a_monitors_baseline_is_deleted_only_with_force(tmp_path: Path) -> None:
    write(tmp_path, frame(0))
    config_path = tmp_path / "monitors.yaml"
    config_path.write_text(yaml.safe_dump({
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"shop": {"path": "data.parquet"}},
        "monitors": {
            "firsts": {"dataset": "shop", "schedule": {"every": "1h"}, "baseline": "first"},
            "named": {"dataset": "shop", "schedule": {"every": "1h"}, "baseline": "golden"},
            "pinned": {"dataset": "shop", "schedule": {"every": "1h"}, "baseline": "previous"},
        },
    }))
    cli = CliRunner()

    def invoke(*args: str) -> Any:
        return cli.invoke(main, [*args, "-c", str(config_path)])

    for name in ("s0", "golden", "pin", "free"):
        assert invoke("snapshot", "create", "shop", "--name", name).exit_code == 0
    assert invoke("baseline", "set", "pinned", "pin").exit_code == 0

    assert invoke("snapshot", "delete", "shop", "free").exit_code == 0
    refused = {name: invoke("snapshot", "delete", "shop", name) for name in ("s0", "golden", "pin")}
    assert all(r.exit_code == 1 for r in refused.values()), {n: r.output for n, r in refused.items()}
    assert "monitor 'firsts' (baseline: first)" in refused["s0"].output
    assert "monitor 'named' (baseline: golden)" in refused["golden"].output
    assert "monitor 'pinned' (pinned with 'baseline set')" in refused["pin"].output
    assert "--force" in refused["pin"].output

    assert invoke("snapshot", "delete", "shop", "pin", "--force").exit_code == 0
    assert invoke("snapshot", "delete", "shop", "s0", "--force").exit_code == 0
    now_first = invoke("snapshot", "delete", "shop", "golden")  # first moved to golden: both monitors use it
    assert now_first.exit_code == 1
    assert "monitor 'firsts' (baseline: first), monitor 'named' (baseline: golden)" in now_first.output
    with Store(tmp_path / "store" / "monitor.db") as store:
        assert store.get_pinned_baseline("pinned") is None
        assert [s.name for s in store.list_snapshots("shop")] == ["golden"]

    compared = invoke("compare", "shop", "golden", "golden", "--format", "json")
    assert compared.exit_code == 0, compared.output
    assert json.loads(compared.output)["baseline_snapshots"] == ["golden"]

    with Workspace(config_path) as ws:  # the Python surface applies the same rule
        shop = Dataset.get_by_name(ws, "shop")
        with pytest.raises(Exception, match="monitor 'named'"):
            shop.delete_snapshot("golden")
        shop.delete_snapshot("golden", force=True)
        assert shop.get_all_snapshots() == []


# --------------------------------------------------------------------------- names


def test_two_monitors_starting_in_the_same_second_never_race_for_a_name(tmp_path: Path) -> None:
    write(tmp_path, frame(0, rows=50))
    dataset = DatasetConfig(path=str(tmp_path / "data.parquet"))
    path = tmp_path / "store" / "monitor.db"
    Store(path).close()
    failures: list[BaseException] = []
    rounds = 8
    for _ in range(rounds):
        barrier = threading.Barrier(2)

        def start(monitor: str) -> None:
            with Store(path) as store:  # one connection each, as two processes would have
                barrier.wait()
                try:
                    take_snapshot(store, "shop", dataset, monitor=monitor, now=T0)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    failures.append(exc)

        threads = [threading.Thread(target=start, args=(m,)) for m in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    with Store(path) as store:
        snaps = store.list_snapshots("shop", status="completed")
    assert len(snaps) == 2 * rounds
    assert len({s.name for s in snaps}) == 2 * rounds
    assert {s.name for s in snaps} >= {"snapshot_20300304T060000Z", "snapshot_20300304T060000Z_2"}


# --------------------------------------------------------------------------- store


def test_the_store_keeps_a_comparisons_baseline_spec_and_who_pinned_a_snapshot(tmp_path: Path) -> None:
    with Store(tmp_path / "monitor.db") as store:
        store.register_dataset("shop", {"path": "x"})
        a, b = (store.complete_snapshot(store.begin_snapshot("shop", name).id, profile={"format_version": 2},
                                        columns=[], row_count=0, fingerprint="f") for name in ("a", "b"))
        spec = {"kind": "trailing", "snapshots": ["a", "b"], "snapshot_ids": [a.id, b.id]}
        with_spec = store.record_comparison(monitor="m", dataset="shop", baseline=b, target=b, drifted=False,
                                            severity="none", result={}, baseline_spec=spec)
        without = store.record_comparison(monitor="m", dataset="shop", baseline=a, target=b, drifted=False,
                                          severity="none", result={})
        assert store.get_comparison(with_spec.id).baseline_spec == spec
        assert store.get_comparison(without.id).baseline_spec is None
        store.set_baseline("m2", a)
        store.set_baseline("m1", a)
        assert store.pinned_by(a.id) == ["m1", "m2"] and store.pinned_by(b.id) == []
