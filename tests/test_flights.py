"""The shipped example on the real NYC flights 2013 data: weeks of 2013 against
January, and against the four weeks before them, through `drift-monitor backfill`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from scipy import stats

from monitor.store import Store

# flights_run (tests/conftest.py): the shipped config backfilled over a few weeks, once per test session
NEW_YORK = "America/New_York"


def comparison(base: Path, monitor: str, target: str) -> Any:
    with Store(base / "example-store" / "monitor.db") as store:
        (record,) = [r for r in store.list_comparisons(monitor=monitor) if r.target_name == target]
        return record


def column(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in result["columns"] if c["column"] == name)


def metric(col: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in col["metrics"] if m["name"] == name)


def rows(base: Path, first: str, last: str) -> pd.Series:
    """dep_delay of the flights whose time_hour is in [first, last), New York wall-clock dates."""
    table = pq.read_table(base / "example-data" / "flights", columns=["dep_delay", "time_hour"]).to_pandas()
    start, end = (pd.Timestamp(d).tz_localize(NEW_YORK) for d in (first, last))
    return table["dep_delay"][(table["time_hour"] >= start) & (table["time_hour"] < end)]


def ks(base: Path, baseline: tuple[str, str], target: tuple[str, str]) -> float:
    return float(stats.ks_2samp(rows(base, *baseline).dropna(), rows(base, *target).dropna()).statistic)


JANUARY = ("2013-01-01", "2013-02-01")


def test_a_july_week_vs_january_flags_dep_delay_with_the_ks_of_scipy(flights_run: Path) -> None:
    record = comparison(flights_run, "weekly_vs_january", "weekly_vs_january_20130708")
    assert record.baseline_name == "january_20130101"
    col = column(record.result, "dep_delay")
    expected = ks(flights_run, JANUARY, ("2013-07-08", "2013-07-15"))
    assert abs(metric(col, "ks_statistic")["value"] - expected) <= 0.01, (metric(col, "ks_statistic"), expected)
    assert expected > 0.15  # the summer's delays, against January's
    assert col["status"] == "drift" and col["severity"] in ("warning", "critical")
    assert metric(col, "ks_statistic")["severity"] in ("warning", "critical")


def test_a_january_week_vs_january_flags_nothing_in_dep_delay_distribution(flights_run: Path) -> None:
    record = comparison(flights_run, "weekly_vs_january", "weekly_vs_january_20130114")
    col = column(record.result, "dep_delay")
    expected = ks(flights_run, JANUARY, ("2013-01-14", "2013-01-21"))
    assert abs(metric(col, "ks_statistic")["value"] - expected) <= 0.01, (metric(col, "ks_statistic"), expected)
    for name in ("ks_statistic", "psi", "mean_change"):
        assert metric(col, name)["decides"] and metric(col, name)["severity"] == "none", name


def test_the_blizzard_week_flags_the_missing_rate_of_dep_delay(flights_run: Path) -> None:
    # 8-9 February 2013: a blizzard closed the airports; cancelled flights have no dep_delay.
    col = column(comparison(flights_run, "weekly_vs_january", "weekly_vs_january_20130204").result, "dep_delay")
    week, january = rows(flights_run, "2013-02-04", "2013-02-11"), rows(flights_run, *JANUARY)
    expected = week.isna().mean() - january.isna().mean()
    assert abs(col["missing_rate"]["change"] - expected) <= 1e-9, (col["missing_rate"], expected)
    assert expected > 0.05
    assert metric(col, "missing_rate_change")["severity"] in ("warning", "critical")
    assert abs(metric(col, "ks_statistic")["value"] - ks(flights_run, JANUARY, ("2013-02-04", "2013-02-11"))) <= 0.01


def test_a_week_vs_its_trailing_four_weeks_is_the_merge_of_their_rows(flights_run: Path) -> None:
    record = comparison(flights_run, "weekly_vs_trailing", "weekly_vs_trailing_20130708")
    assert record.baseline_spec["kind"] == "trailing"
    assert record.baseline_spec["snapshots"] == [f"weekly_vs_trailing_2013{d}" for d in ("0610", "0617", "0624", "0701")]
    col = column(record.result, "dep_delay")
    four_weeks = rows(flights_run, "2013-06-10", "2013-07-08")
    # counts of the merged profile are exact: those of the four weeks' rows put together
    assert (col["baseline"]["count"], col["baseline"]["missing"]) == (len(four_weeks), int(four_weeks.isna().sum()))
    expected = ks(flights_run, ("2013-06-10", "2013-07-08"), ("2013-07-08", "2013-07-15"))
    assert abs(metric(col, "ks_statistic")["value"] - expected) <= 0.01, (metric(col, "ks_statistic"), expected)


def test_reports_are_on_disk_with_an_index(flights_run: Path) -> None:
    reports = flights_run / "reports"
    index = (reports / "index.html").read_text()
    pages = sorted(p for p in reports.rglob("*.html") if p.name not in ("index.html", "history.html", "profile.html"))
    # three weeks against January; five weeks of the trailing monitor, the first without a baseline
    assert len(pages) == 3 + 4 and all("__vs__" in p.name for p in pages)
    for page in pages:
        assert page.relative_to(reports).as_posix() in index
        assert "dep_delay" in page.read_text()
    # a profile page per snapshot taken: January, three weeks, five weeks
    profiles = sorted(p.parent.name for p in reports.rglob("profile.html"))
    assert len(profiles) == 1 + 3 + 5 and all(p.parent.parent == reports / "flights" for p in reports.rglob("profile.html"))
    assert "january_20130101" in profiles and "flights/january_20130101/profile.html" in index
    histories = sorted(p.relative_to(reports).as_posix() for p in reports.rglob("history.html"))
    # the January monitor only takes the baseline: it compares nothing and has no history
    assert histories == ["weekly_vs_january/history.html", "weekly_vs_trailing/history.html"]
    for history in histories:
        assert history in index
        assert "dep_delay" in (reports / history).read_text()
