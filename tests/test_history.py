"""A monitor's history page and the index's monitor list, built by the real
runner on small generated files in a real store, checked by parsing the HTML."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from monitor import report
from monitor.cli import main
from monitor.config import load_config
from monitor.errors import MonitorError, StoreError
from monitor.report.format import when
from monitor.service.history import history_runs, target_time, write_history
from monitor.service.runner import run_monitor
from monitor.store import Store

HOSTILE = '<script>alert("x")</script> & "q"'
MONITOR = "shop-daily"
T0 = datetime(2024, 3, 1, 6, 0, tzinfo=timezone.utc)
RUNS = 7
"""Runs of the monitor: the first takes the baseline, the six others compare."""
AMOUNT_SHIFTED = {3, 4}
"""Runs whose ``amount`` is shifted by one standard deviation (an episode: runs 3-4)."""
COLOUR_SHIFTED = {4}
"""Runs whose ``colour`` mix changes."""


def frame(run: int, rows: int = 3000) -> pd.DataFrame:
    """The data of run ``run``: ``amount`` N(100, 10) (N(110, 10) when shifted),
    ``colour`` 60/30/10 (20/30/50 when shifted), and two stable columns, one
    of them with a hostile name."""
    rng = np.random.default_rng(1000 + run)
    colours = np.array(["red", "green", "blue"])
    mix = [0.2, 0.3, 0.5] if run in COLOUR_SHIFTED else [0.6, 0.3, 0.1]
    return pd.DataFrame({
        "amount": rng.normal(110 if run in AMOUNT_SHIFTED else 100, 10, rows),
        "colour": colours[rng.choice(3, rows, p=mix)],
        "stable": rng.normal(0, 1, rows),
        HOSTILE: rng.normal(5, 2, rows),
    })


@dataclass
class Workspace:
    root: Path
    config_path: Path
    reports: Path
    store_path: Path
    comparisons: list[Any] = field(default_factory=list)
    """Stored comparisons, oldest first."""
    episodes: list[Any] = field(default_factory=list)

    @property
    def history(self) -> Path:
        return self.reports / MONITOR / "history.html"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Seven daily runs of one monitor through :func:`run_monitor`, the store's
    clock a day further each run (so every target has its own time)."""
    root = tmp_path_factory.mktemp("history")
    config_path = root / "monitors.yaml"
    config_path.write_text(yaml.safe_dump({
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"shop": {"path": "data/today.parquet"}},
        "monitors": {MONITOR: {"dataset": "shop", "schedule": {"every": "1d"}, "baseline": "first"}},
    }))
    (root / "data").mkdir()
    config = load_config(config_path)
    clock = {"now": T0}
    with Store(config.store, clock=lambda: clock["now"]) as store:
        for run in range(RUNS):
            clock["now"] = T0 + timedelta(days=run)
            frame(run).to_parquet(root / "data" / "today.parquet")
            result = run_monitor(config, MONITOR, store)
            assert result.status == "completed", result.reason
        comparisons = store.list_comparisons(monitor=MONITOR)[::-1]
        episodes = store.list_episodes(MONITOR)
    yield Workspace(root, config_path, Path(config.reports_dir), Path(config.store), comparisons, episodes)


# --------------------------------------------------------------------------- #
# reading the page back


@dataclass
class Panel:
    """One column's panel of the history chart, as parsed."""

    anchor: str
    heading: str = ""
    summary: str = ""
    plot: tuple[float, float] = (0.0, 0.0)
    """(top, bottom) of the plot area."""
    bands: list[tuple[float, float]] = field(default_factory=list)
    rules: dict[str, float] = field(default_factory=dict)
    y_ticks: dict[str, float] = field(default_factory=dict)
    marks: list[dict[str, Any]] = field(default_factory=list)


class HistoryParser(HTMLParser):
    """Collects the history chart: its panels (heading, summary, plot frame,
    bands, threshold lines, y ticks), its links and its dots (given to the
    panel whose plot holds them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.panels: list[Panel] = []
        self.links: list[str] = []
        self.chart_links: list[str] = []
        self.marks: list[dict[str, Any]] = []
        self.scripts = 0
        self._svg = False
        self._href: str | None = None
        self._text: tuple[str, float] | None = None
        self._buffer = ""
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
            if self._svg:
                self.chart_links.append(str(a["href"]))
                self._href = a["href"]
        if tag == "svg" and "history" in str(a.get("class")):
            self._svg = True
        if not self._svg:
            return
        if tag == "g" and str(a.get("id") or "").startswith("col-"):
            self.panels.append(Panel(str(a["id"])))
        elif tag == "circle":
            self.marks.append({"cx": float(a["cx"] or 0), "cy": float(a["cy"] or 0), "href": self._href,
                               "css": a.get("class") or ""})
        elif tag == "rect" and a.get("class") == "episode-lane":
            top = float(a["y"] or 0)
            self.panels[-1].plot = (top, top + float(a["height"] or 0))
        elif tag == "rect" and a.get("class") == "episode":
            x = float(a["x"] or 0)
            self.panels[-1].bands.append((x, x + float(a["width"] or 0)))
        elif tag == "line" and str(a.get("class")).startswith("rule-"):
            self.panels[-1].rules.setdefault(str(a["class"]), float(a["y1"] or 0))
        elif tag == "text":
            self._text, self._buffer = (str(a.get("class") or ""), float(a["y"] or 0)), ""
        elif tag == "title" and self._text is not None:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = False
        if tag == "a":
            self._href = None
        if tag == "title" and self._skip:
            self._skip -= 1
        if tag == "text" and self._text is not None and self.panels:
            kind, y = self._text
            panel = self.panels[-1]
            if kind == "col-name":
                panel.heading = self._buffer
            elif kind == "col-summary":
                panel.summary = self._buffer
            elif kind == "" and self._buffer.endswith("×"):
                panel.y_ticks[self._buffer] = y - 4
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None and not self._skip:
            self._buffer += data

    def close(self) -> None:
        super().close()
        for mark in self.marks:
            holders = [p for p in self.panels if p.plot[0] - 0.01 <= mark["cy"] <= p.plot[1] + 0.01]
            assert len(holders) == 1, mark
            holders[0].marks.append(mark)


def parse_history(path: Path) -> HistoryParser:
    parser = HistoryParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def ratio(column: dict[str, Any]) -> float | None:
    """Oracle: the largest deciding metric of a stored column as a multiple of its
    warning threshold (value / warning; ln p / ln warning for p-values)."""
    ratios = []
    for m in column["metrics"]:
        if not m["decides"] or m["warning"] is None:
            continue
        if m["direction"] == "p_value":
            if m["p_value"] is not None:
                ratios.append(math.inf if m["p_value"] == 0 else math.log(m["p_value"]) / math.log(m["warning"]))
        elif m["value"] is not None:
            ratios.append(m["value"] / m["warning"])
    return max(ratios, default=None)


def columns_of(comparison: Any) -> dict[str, dict[str, Any]]:
    return {c["column"]: c for c in comparison.result["columns"]}


# --------------------------------------------------------------------------- #
# the history page


def test_one_link_per_comparison_to_its_report(workspace: Workspace) -> None:
    page = parse_history(workspace.history)
    assert len(workspace.comparisons) == RUNS - 1
    expected = {Path(c.report_path).resolve() for c in workspace.comparisons}
    assert all(p.is_file() for p in expected) and len(expected) == RUNS - 1
    linked = [(workspace.history.parent / unquote(h)).resolve() for h in page.chart_links]
    assert len(linked) == RUNS - 1 and set(linked) == expected
    assert len(page.panels) == 4
    for panel in page.panels:  # every column's dot of every run sits inside that run's link
        assert len(panel.marks) == RUNS - 1, panel.heading
        assert {(workspace.history.parent / unquote(m["href"])).resolve() for m in panel.marks} == expected
    for href in page.links:
        assert not href.startswith(("/", "http:", "https:", "file:"))
    assert page.scripts == 0


def test_points_sit_at_their_ratio_to_the_warning_threshold(workspace: Workspace) -> None:
    page = parse_history(workspace.history)
    order = sorted(workspace.comparisons, key=lambda c: c.created_at)
    for panel in page.panels:
        zero, one = panel.y_ticks["0×"], panel.y_ticks["1×"]
        assert panel.rules["rule-warning"] == pytest.approx(one, abs=0.01)  # the 1.0 line
        assert zero == pytest.approx(panel.plot[1], abs=0.01)
        top = max(float(label.rstrip("×").replace(",", "")) for label in panel.y_ticks)
        marks = sorted(panel.marks, key=lambda m: m["cx"])
        for comparison, mark in zip(order, marks):
            value = ratio(columns_of(comparison)[panel.heading])
            assert value is not None
            expected_y = zero + (one - zero) * min(value, top)
            assert mark["cy"] == pytest.approx(expected_y, abs=0.11), (panel.heading, comparison.target_name)
            assert ("over" in mark["css"]) == (value > top)


def test_critical_ratio_line_per_distinct_critical_threshold(workspace: Workspace) -> None:
    html = workspace.history.read_text(encoding="utf-8")
    page = parse_history(workspace.history)
    amount = columns_of(workspace.comparisons[-1])["amount"]
    ratios = {m["name"]: m["critical"] / m["warning"] for m in amount["metrics"]
              if m["decides"] and m["critical"] is not None and m["direction"] == "higher"}
    assert ratios  # ks_statistic, psi, mean_change, missing_rate_change by default
    for name, value in ratios.items():
        assert re.search(rf"critical {re.escape(report.fmt(value, 3))}× \([^)]*{name}", html), name
    assert all("rule-critical" in p.rules for p in page.panels)


def test_episode_is_shaded_over_its_runs(workspace: Workspace) -> None:
    assert len(workspace.episodes) == 1 and workspace.episodes[0].resolved_at is not None
    page = parse_history(workspace.history)
    order = sorted(workspace.comparisons, key=lambda c: c.created_at)
    drifted = {i for i, c in enumerate(order, start=1) if c.drifted}
    assert drifted == AMOUNT_SHIFTED  # runs 3 and 4 drifted, run 5 resolved the episode
    for panel in page.panels:
        assert len(panel.bands) == 1
        low, high = panel.bands[0]
        xs = sorted(m["cx"] for m in panel.marks)
        inside = {run for run, x in enumerate(xs, start=1) if low <= x <= high}
        assert inside == AMOUNT_SHIFTED, panel.heading


def test_no_band_without_an_episode(tmp_path: Path) -> None:
    run = _run(1, T0, {"columns": [_col("x", 0.05)], "verdict": {"drifted": False}}, None)
    page = report.history_context("m", [run], [], page_dir=tmp_path)
    assert page.chart is not None and page.chart.bands == ()


def test_columns_that_drifted_most_often_come_first(workspace: Workspace) -> None:
    page = parse_history(workspace.history)
    counts: dict[str, int] = {}
    for comparison in workspace.comparisons:
        for name, column in columns_of(comparison).items():
            counts[name] = counts.get(name, 0) + (column["status"] == "drift")
    assert counts["amount"] == len(AMOUNT_SHIFTED) and counts["colour"] == len(COLOUR_SHIFTED)
    headings = [p.heading for p in page.panels]
    assert headings[:2] == ["amount", "colour"]
    assert sorted(headings[2:]) == sorted([HOSTILE, "stable"])
    assert [counts[h] for h in headings] == sorted(counts.values(), reverse=True)


def test_each_column_has_a_line_of_text(workspace: Workspace) -> None:
    page = parse_history(workspace.history)
    order = sorted(workspace.comparisons, key=lambda c: c.created_at)
    last_amount = order[max(AMOUNT_SHIFTED) - 1]
    summaries = [p.summary for p in page.panels]
    kind = columns_of(last_amount)["amount"]["kind"]
    assert summaries[0] == f"{kind} · drifted in 2 of {RUNS - 1} runs; last drift {when(last_amount.created_at)}"
    assert summaries[-1].endswith("never drifted")
    html = workspace.history.read_text(encoding="utf-8")
    assert f"2 of {RUNS - 1}" in html  # the columns table


def test_hostile_column_name_renders_as_text(workspace: Workspace) -> None:
    html = workspace.history.read_text(encoding="utf-8")
    page = parse_history(workspace.history)
    assert HOSTILE in [p.heading for p in page.panels]
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;q&#34;" in html
    assert 'http-equiv="Content-Security-Policy"' in html


class Balance(HTMLParser):
    """Fails on a closing tag that does not close the innermost open element."""

    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


@pytest.mark.parametrize("page", ["history", "index"])
def test_pages_are_balanced_and_load_nothing(workspace: Workspace, page: str) -> None:
    path = workspace.history if page == "history" else workspace.reports / "index.html"
    html = path.read_text(encoding="utf-8")
    checker = Balance()
    checker.feed(html)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert "<script" not in html.lower() and "url(" not in html and "<link" not in html.lower()
    assert "default-src 'none'" in html


def test_hostile_monitor_name_renders_as_text(tmp_path: Path) -> None:
    name = '<img src=x onerror="1">&'
    run = _run(1, T0, {"columns": [_col(HOSTILE, 0.2)], "verdict": {"drifted": True}}, None)
    path = report.write_history(tmp_path, report.history_context(name, [run], [], page_dir=tmp_path))
    html = path.read_text(encoding="utf-8")
    assert "<img" not in html and "<script>" not in html
    assert path.parent.name == report.safe_name(name)


def test_target_time_prefers_the_data_window(workspace: Workspace) -> None:
    with Store(workspace.store_path) as store:
        snap = store.list_snapshots("shop")[-1]
        runs = history_runs(store, MONITOR)
    assert target_time(snap, T0) == snap.created_at
    windowed = type("Windowed", (), {"window_start": T0 - timedelta(days=30), "created_at": snap.created_at})()
    assert target_time(windowed, T0) == T0 - timedelta(days=30)  # type: ignore[arg-type]
    assert target_time(None, T0) == T0
    assert [r.comparison_id for r in runs] == [c.id for c in workspace.comparisons]


def test_missing_reports_are_not_linked(tmp_path: Path) -> None:
    present = tmp_path / "shop" / "b__vs__a.html"
    present.parent.mkdir()
    present.write_text("<p>report</p>", encoding="utf-8")
    runs = [_run(1, T0, {"columns": [_col("x", 0.05)], "verdict": {"drifted": False}}, str(present)),
            _run(2, T0 + timedelta(days=1), {"columns": [_col("x", 0.05)], "verdict": {"drifted": False}},
                 str(tmp_path / "shop" / "gone.html"))]
    page = report.history_context("shop", runs, [], page_dir=tmp_path / "shop")
    assert page.chart is not None and [r.href for r in page.chart.runs] == ["b__vs__a.html", None]


def test_p_value_metrics_use_the_log_ratio(tmp_path: Path) -> None:
    metric = {"name": "chi_square", "value": 50.0, "p_value": 1e-4, "direction": "p_value",
              "warning": 0.01, "critical": 1e-6, "decides": True}
    column = {"column": "c", "kind": "categorical", "status": "drift", "severity": "warning", "metrics": [metric]}
    page = report.history_context("m", [_run(1, T0, {"columns": [column], "verdict": {"drifted": True}}, None)],
                                  [], page_dir=tmp_path)
    assert page.chart is not None
    labels = {r.label for r in page.chart.panels[0].rules}
    assert "critical 3× (chi_square)" in labels  # ln 1e-6 / ln 0.01
    assert page.chart.runs[0].marks[0].tooltip.endswith(": 2× chi_square (warning)")  # ln 1e-4 / ln 0.01


def test_malformed_stored_result_is_a_monitor_error(tmp_path: Path) -> None:
    with pytest.raises(MonitorError, match="malformed"):
        report.history_context("m", [_run(1, T0, {"columns": [{"kind": "x"}]}, None)], [], page_dir=tmp_path)


# --------------------------------------------------------------------------- #
# the index and the command


class IndexParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.sparklines = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        if tag == "svg" and a.get("class") == "spark":
            self.sparklines += 1


def test_index_lists_the_monitor_with_a_sparkline_and_its_history(workspace: Workspace) -> None:
    index = workspace.reports / "index.html"
    html = index.read_text(encoding="utf-8")
    parser = IndexParser()
    parser.feed(html)
    assert f"{MONITOR}/history.html" in parser.links
    assert (index.parent / f"{MONITOR}/history.html").is_file()
    assert parser.sparklines == 1
    page = report.index_context(workspace.reports)
    assert [m.monitor for m in page.monitors] == [MONITOR]
    entry = page.monitors[0]
    latest = workspace.comparisons[-1]
    assert entry.reports == RUNS - 1 and entry.latest.target == latest.target_name
    points = [tuple(map(float, p.split(","))) for p in entry.sparkline.points.split()]
    magnitudes = [c.result["verdict"]["magnitude"] for c in sorted(workspace.comparisons, key=lambda c: c.created_at)]
    assert len(points) == RUNS - 1 and max(magnitudes) > 0
    # 3 units of padding, 22 of height; y grows downwards; oldest target first
    assert [y for _, y in points] == pytest.approx([3 + 22 * (1 - m) for m in magnitudes], abs=0.051)
    assert [x for x, _ in points] == sorted(x for x, _ in points)
    assert "All reports" in html and len([h for h in parser.links if "__vs__" in h]) >= RUNS - 1


def test_a_comparison_report_links_its_monitor_history(workspace: Workspace) -> None:
    html = Path(workspace.comparisons[-1].report_path).read_text(encoding="utf-8")
    assert f'href="../{MONITOR}/history.html"' in html


def test_report_history_command_rewrites_the_page(workspace: Workspace) -> None:
    workspace.history.unlink()
    result = CliRunner().invoke(main, ["report", "history", MONITOR, "-c", str(workspace.config_path)])
    assert result.exit_code == 0, result.output
    assert workspace.history.is_file() and len(parse_history(workspace.history).panels) == 4
    unknown = CliRunner().invoke(main, ["report", "history", "nope", "-c", str(workspace.config_path)])
    assert unknown.exit_code == 2 and "no such monitor" in unknown.output


def test_the_page_shows_the_newest_comparisons_only(workspace: Workspace, tmp_path: Path) -> None:
    with Store(workspace.store_path) as store:
        newest = store.list_comparisons(monitor=MONITOR, limit=2)
        assert [c.id for c in newest] == [c.id for c in workspace.comparisons[::-1][:2]]
        assert store.list_comparisons(monitor=MONITOR, limit=0) == []
        with pytest.raises(StoreError):
            store.list_comparisons(limit=-1)
        path = write_history(store, tmp_path / "reports", MONITOR, last=2)
    html = path.read_text(encoding="utf-8")
    page = parse_history(path)
    assert len(page.chart_links) == 2 and "The newest 2 comparisons are shown" in html
    with Store(workspace.store_path) as store:
        everything = write_history(store, tmp_path / "all", MONITOR, last=RUNS)
    assert "are shown" not in everything.read_text(encoding="utf-8")


def test_write_history_without_comparisons(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        path = write_history(store, tmp_path / "reports", "idle")
    assert "No comparisons yet." in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- #
# helpers for the context-level tests


def _col(name: str, value: float) -> dict[str, Any]:
    metric = {"name": "psi", "value": value, "p_value": None, "direction": "higher", "warning": 0.1,
              "critical": 0.25, "decides": True}
    status = "drift" if value >= 0.1 else "ok"
    return {"column": name, "kind": "numeric", "status": status,
            "severity": "warning" if status == "drift" else "none", "metrics": [metric]}


def _run(cid: int, at: datetime, result: dict[str, Any], path: str | None) -> report.HistoryRun:
    return report.HistoryRun(comparison_id=cid, dataset="shop", target_name=f"t{cid}", at=at, run_at=at,
                             result=result, report_path=path)


def test_the_page_from_stored_summaries_equals_the_page_from_full_results(workspace: Workspace) -> None:
    """history_runs reads each comparison's summary (comparisons.summary), a
    small part of its result: the page built from it is the page built from
    the full results, field for field."""
    from dataclasses import replace

    config = load_config(workspace.config_path)
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    page_dir = report.history_path(Path(config.reports_dir), MONITOR).parent
    with Store(config.store) as store:
        summarised = history_runs(store, MONITOR)
        full = {c.id: c.result for c in store.list_comparisons(monitor=MONITOR)}
        sizes = [(len(str(r.result)), len(str(full[r.comparison_id]))) for r in summarised]
    assert len(summarised) == RUNS - 1 and all(small * 3 < big for small, big in sizes), sizes
    from_full = [replace(r, result=full[r.comparison_id]) for r in summarised]
    assert (report.history_context(MONITOR, summarised, page_dir=page_dir, generated_at=now)
            == report.history_context(MONITOR, from_full, page_dir=page_dir, generated_at=now))
