"""The reports index: each monitor's latest verdict with its drifted columns
named, links to its history page and its latest snapshot's profile page,
monitors that only took a baseline, identifiers that never break mid-word,
hostile names."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from monitor import report
from monitor.config import load_config
from monitor.report import pages
from monitor.service.runner import run_monitor
from monitor.store import Store

DRIFTING = [f"col_{i:02d}" for i in range(12)]
HOSTILE_MONITOR = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
LONG_MONITOR = "m" * 70


class Index(HTMLParser):
    """The monitors table's rows: their cells' text, markup and links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[str | None] = []
        self.rows: dict[str, dict[str, Any]] = {}
        self._row: dict[str, Any] | None = None
        self._td: dict[str, Any] | None = None
        self._in_monitors = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.elements.append((tag, values))
        if tag == "table":
            self.tables.append(values.get("id"))
            self._in_monitors = values.get("id") == "monitors"
        if not self._in_monitors:
            return
        if tag == "tr" and "data-monitor" in values:
            self._row = {"cells": [], "links": [], "drifted": None}
            self.rows[values["data-monitor"] or ""] = self._row
        elif self._row is not None and tag == "td":
            self._td = {"text": "", "class": values.get("class"), "spans": []}
            self._row["cells"].append(self._td)
            if values.get("class") == "drifted-columns":
                self._row["drifted"] = self._td
        elif self._row is not None and tag == "a":
            self._row["links"].append(values)
        elif self._td is not None and tag == "span":
            self._td["spans"].append(values)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if self._td is not None and tag == "wbr":
            self._td["text"] += "|"  # where a line may break

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_monitors = False
        elif tag == "td":
            self._td = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._td is not None:
            self._td["text"] += data


def parse(html: str) -> Index:
    index = Index()
    index.feed(html)
    index.close()
    return index


def write_data(path: Path, shift: float) -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({name: rng.normal(0.0, 1.0, 2000) + shift for name in DRIFTING})
    frame["stable"] = rng.permutation(np.arange(2000.0))
    frame["shop_id"] = [f"s{i % 5}" for i in range(2000)]
    frame.to_csv(path, index=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two runs of ``shop-daily.v2`` (the second with 12 columns shifted), one run
    each of a baseline-only monitor, a monitor with a hostile name and one with a
    70-character name."""
    base = tmp_path_factory.mktemp("index")
    write_data(base / "shop.csv", 0.0)
    (base / "other.csv").write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(50)))
    config_path = base / "monitors.yaml"
    daily = {"schedule": {"every": "1d"}, "baseline": "previous"}
    config_path.write_text(yaml.safe_dump({
        "store": "store.db", "reports_dir": "reports",
        "datasets": {"shop": {"path": "shop.csv"}, "other": {"path": "other.csv"}},
        "monitors": {"shop-daily.v2": {"dataset": "shop", **daily}, "only_baseline": {"dataset": "other", **daily},
                     HOSTILE_MONITOR: {"dataset": "other", **daily}, LONG_MONITOR: {"dataset": "other", **daily}},
    }))
    config = load_config(config_path)
    with Store(config.store) as store:
        first = run_monitor(config, "shop-daily.v2", store)
        write_data(base / "shop.csv", 3.0)
        second = run_monitor(config, "shop-daily.v2", store)
        for name in ("only_baseline", HOSTILE_MONITOR, LONG_MONITOR):
            run_monitor(config, name, store)
        (record,) = [c for c in store.list_comparisons(monitor="shop-daily.v2") if c.id == second.comparison_id]
    reports = Path(config.reports_dir)
    return {"reports": reports, "first": first, "second": second, "record": record, "config": config}


@pytest.fixture(scope="module")
def index(site: dict[str, Any]) -> tuple[str, Index]:
    html = (site["reports"] / "index.html").read_text(encoding="utf-8")
    return html, parse(html)


def test_every_monitor_has_a_row_with_a_drifted_columns_cell(index: tuple[str, Index]) -> None:
    _, page = index
    assert "monitors" in page.tables
    assert set(page.rows) == {"shop-daily.v2", "only_baseline", HOSTILE_MONITOR, LONG_MONITOR}
    for name, row in page.rows.items():
        assert row["drifted"] is not None, name


def test_the_drifted_columns_are_named_as_the_report_has_them(site: dict[str, Any], index: tuple[str, Index]) -> None:
    _, page = index
    result = site["record"].result
    drifted = [c["column"] for c in result["columns"] if c["status"] == "drift"]
    assert set(drifted) == set(DRIFTING)  # the shift drifts every shifted column, not the others
    cell = page.rows["shop-daily.v2"]["drifted"]
    shown = [name.replace("|", "") for name in re.findall(r"col\|?_\|?\d\d", cell["text"])]
    assert len(shown) == report.index.DRIFTED_NAMES_SHOWN and set(shown) <= set(drifted)
    meta = report.read_report_metadata(Path(site["second"].report_path))
    assert meta is not None and shown == meta["drifted_column_names"][:8]  # worst first, as the report
    assert cell["text"].rstrip().endswith("and 4 more")


def test_links_to_history_report_and_the_latest_profile(site: dict[str, Any], index: tuple[str, Index]) -> None:
    _, page = index
    reports: Path = site["reports"]
    links = {a.get("href") for a in page.rows["shop-daily.v2"]["links"]}
    for href in links:
        assert href and not href.startswith(("/", "http")) and (reports / href).is_file(), href
    target = site["second"].target.name
    assert f"shop/{report.safe_name(target)}/profile.html" in links  # the latest snapshot's page
    assert f"{report.safe_name('shop-daily.v2')}/history.html" in links
    assert Path(site["second"].report_path).relative_to(reports).as_posix() in links


def test_a_monitor_that_only_took_a_baseline_links_its_profile(site: dict[str, Any], index: tuple[str, Index]) -> None:
    html, page = index
    row = page.rows["only_baseline"]
    assert row["drifted"]["text"].strip() == "—"
    (link,) = row["links"]
    assert link["href"] and link["href"].startswith("other/") and (site["reports"] / link["href"]).is_file()
    assert "history.html" not in (link["href"] or "")
    assert "No reports yet." not in html


def test_identifiers_wrap_only_at_separators(index: tuple[str, Index]) -> None:
    html, page = index
    assert re.search(r"\.ident \{ overflow-wrap: normal; word-break: keep-all; \}", html)
    first = page.rows["shop-daily.v2"]["cells"][0]
    assert first["text"] == "shop-|daily.|v2"  # a break allowed after '-' and '.', nowhere else
    long_cell = page.rows[LONG_MONITOR]["cells"][0]
    (span,) = long_cell["spans"]
    assert span["title"] == LONG_MONITOR and long_cell["text"].endswith("…")
    assert len(long_cell["text"]) <= report.format.IDENT_LIMIT


def test_hostile_names_render_as_text(index: tuple[str, Index]) -> None:
    html, page = index
    assert HOSTILE_MONITOR in page.rows  # the attribute reads back as the name
    tags = {tag for tag, _ in page.elements}
    assert "script" not in tags and "img" not in tags
    for tag, attrs in page.elements:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
    text = page.rows[HOSTILE_MONITOR]["cells"][0]["text"].replace("|", "")
    assert text == HOSTILE_MONITOR[: report.format.IDENT_LIMIT - 1] + "…"


def test_a_report_written_before_names_were_kept_shows_the_count(
    tmp_path: Path, site: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = pages._page_summary
    monkeypatch.setattr(pages, "_page_summary",
                        lambda page: {k: v for k, v in real(page).items() if k != "drifted_column_names"})
    record = site["record"]
    page = report.comparison_context(
        record.result, dataset="shop", monitor="old", baseline_name="a", baseline_created=record.created_at,
        target_name="b", target_created=record.created_at,
    )
    report.write_comparison_report(tmp_path, page)
    row = parse((tmp_path / "index.html").read_text(encoding="utf-8")).rows["old"]
    assert row["drifted"]["text"].strip() == "12 columns"
    assert row["drifted"]["spans"][0]["title"].startswith("the report was written before")


def test_a_deleted_profile_page_is_no_longer_linked(site: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    reports = tmp_path / "reports"
    shutil.copytree(site["reports"], reports)
    before = report.index_context(reports)
    assert before.profiles == 5  # two of shop-daily.v2, one of each other monitor
    (row,) = [m for m in before.monitors if m.monitor == "shop-daily.v2"]
    assert row.profile is not None and row.profile.snapshot == site["second"].target.name
    (reports / row.profile.href).unlink()
    after = report.index_context(reports)
    (row,) = [m for m in after.monitors if m.monitor == "shop-daily.v2"]
    assert row.profile is not None and row.profile.snapshot == site["first"].target.name  # the one left
    assert after.profiles == 4


def test_profile_metadata_of_other_files_is_none(tmp_path: Path) -> None:
    page = tmp_path / "profile.html"
    page.write_text('<meta name="drift-monitor-report" content="{}">', encoding="utf-8")
    assert report.read_profile_metadata(page) is None
    assert report.read_profile_metadata(tmp_path / "missing.html") is None
