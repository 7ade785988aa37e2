"""The pages in a real browser: Debian's chromium driven by Playwright, one
browser for the session, every request routed and recorded.

On the flights example (tests/conftest.py), opened as files and through
`drift-monitor serve`: the comparison report, a history page and the index log
no console error, load nothing but themselves, and show every drifted column's
charts; a screenshot of each is saved in the test's folder (and, with
UPDATE_SCREENSHOTS=1, the comparison report's as docs/report.png). Hostile
names (markup, template syntax) as dataset, monitor and column names and as
category values render as visible text and fire no dialog.

Without /usr/bin/chromium (scripts/install-browser installs it) the tests skip
with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, serving
from monitor.config import load_config
from monitor.service.runner import run_monitor
from monitor.store import Store

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</svg><script>alert(2)</script>",
           "{{7*7}}"]
DATASET = f"ds {HOSTILE[1]}"
MONITOR = f"mon {HOSTILE[3]}"
COLUMNS = [f"col {h}" for h in HOSTILE]
"""Numeric and shifted; numeric and shifted; categorical (its values change); numeric and stable."""
CATEGORIES = [f"cat {h}" for h in HOSTILE]
"""Values of the categorical column that only the second run has."""


def absent(reason: str) -> None:
    """Skip for ``reason``; under CI=true, fail: CI must prove the browser tests."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One chromium for the session (a persistent context on a new, empty profile)."""
    if not CHROMIUM.is_file():
        absent(f"{CHROMIUM} is missing (scripts/install-browser installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        absent("playwright is not installed (it is in the test extra: pip install -e '.[test]')")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), args=ARGS,
            viewport=VIEWPORT,
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class Visit:
    """A page opened with every request routed: only the page itself is let through."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def check_clean(self) -> None:
        """No console error, no script error, no dialog, no request but the page's."""
        assert self.errors == [], self.errors
        assert self.dialogs == [], self.dialogs
        assert self.requests == [self.url], self.requests


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    """``visit(url)`` opens ``url`` in a new tab of the session's browser."""
    pages: list[Any] = []

    def open_page(url: str) -> Visit:
        page = browser.new_page()
        pages.append(page)
        seen = Visit(page, url)

        def route(route: Any) -> None:
            seen.requests.append(route.request.url)
            route.continue_() if route.request.url == url else route.abort()

        def dialog(d: Any) -> None:
            seen.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.route("**/*", route)
        page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: seen.errors.append(str(e)))
        page.on("dialog", dialog)
        page.goto(url, wait_until="load")
        return seen

    yield open_page
    for page in pages:
        page.close()


# ------------------------------------------------------------------ in the page

_CHARTS = """
element => {
  const svgs = element instanceof SVGElement ? [element] : [...element.querySelectorAll('svg')];
  return svgs.map(svg => {
    const box = svg.getBoundingClientRect();
    return {width: box.width, height: box.height, visible: svg.checkVisibility({visibilityProperty: true})};
  });
}
"""
_SECTION_OF_HEADING = """
name => [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]
  .filter(h => h.textContent.trim() === name).map(h => h.closest('section')).filter(s => s !== null)
"""
_TARGET_OF_LINK = """
name => [...document.querySelectorAll('a[href^="#"]')].filter(a => a.textContent.trim() === name)
  .map(a => document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))))
  .filter(e => e !== null)
"""
_VISIBLE_TEXT = """
text => document.body.innerText.replace(/\\s+/g, ' ').includes(text)
"""


def charts_of(visit: Visit, finder: str, name: str) -> list[dict[str, Any]]:
    """The charts (size and visibility) of the elements ``finder`` finds for ``name``."""
    handle = visit.page.evaluate_handle(finder, name)
    elements = [p.as_element() for p in handle.get_properties().values()]
    assert elements, f"no element for {name!r}"
    return [chart for element in elements for chart in element.evaluate(_CHARTS)]


def check_charts(visit: Visit, finder: str, columns: set[str]) -> None:
    """Each column has at least one chart, every one visible and not empty."""
    assert columns
    for name in sorted(columns):
        charts = charts_of(visit, finder, name)
        assert charts, f"no chart for column {name!r}"
        for chart in charts:
            assert chart["visible"] and chart["width"] > 0 and chart["height"] > 0, (name, chart)


def shows_text(visit: Visit, text: str) -> bool:
    """Whether ``text`` is in the page's rendered text (``innerText``: what is
    visible, a name split by ``<wbr/>`` joined again)."""
    return bool(visit.page.evaluate(_VISIBLE_TEXT, text))


def check_inert(visit: Visit) -> None:
    """No script, image or event handler made it into the page."""
    assert visit.page.locator("script, img, [onerror], [onload]").count() == 0


# ------------------------------------------------------------------- flights


def drifted(results: list[dict[str, Any]]) -> set[str]:
    return {c["column"] for r in results for c in r["columns"] if c["status"] == "drift"}


def flights_page(flights_run: Path, kind: str) -> tuple[str, set[str]]:
    """The page of ``kind`` (its path below the reports folder) and the columns
    whose charts it must show."""
    with Store(flights_run / "example-store" / "monitor.db") as store:
        if kind == "comparison":
            (record,) = [r for r in store.list_comparisons(monitor="weekly_vs_january")
                         if r.target_name == "weekly_vs_january_20130708"]
            path = Path(record.report_path or "").relative_to(flights_run / "reports").as_posix()
            return path, drifted([record.result])
        if kind == "history":
            return "weekly_vs_january/history.html", drifted([r.result for r in
                                                             store.list_comparisons(monitor="weekly_vs_january")])
    return "index.html", set()


def url_of(kind_source: str, flights_run: Path, flights_url: str, path: str) -> str:
    return (flights_run / "reports" / path).as_uri() if kind_source == "file" else f"{flights_url}/{path}"


@pytest.mark.parametrize("source", ["file", "serve"])
@pytest.mark.parametrize("kind", ["comparison", "history", "index"])
def test_flights_pages_load_clean_and_show_the_drifted_columns_charts(
    flights_run: Path, flights_url: str, visit: Any, tmp_path: Path, kind: str, source: str,
) -> None:
    path, columns = flights_page(flights_run, kind)
    seen = visit(url_of(source, flights_run, flights_url, path))
    seen.check_clean()
    check_inert(seen)
    if kind == "comparison":
        check_charts(seen, _SECTION_OF_HEADING, columns)
    elif kind == "history":
        check_charts(seen, _TARGET_OF_LINK, columns)
    else:  # the index: a sparkline per monitor with comparisons
        charts = seen.page.locator("body").evaluate(_CHARTS)
        assert len(charts) >= 2 and all(c["visible"] and c["width"] > 0 and c["height"] > 0 for c in charts)
    if source == "serve":  # a screenshot of each kind of page (the files look the same)
        seen.page.screenshot(path=tmp_path / f"{kind}.png", full_page=True)
        assert (tmp_path / f"{kind}.png").stat().st_size > 10_000
        if kind == "comparison" and os.environ.get("UPDATE_SCREENSHOTS") == "1":
            seen.page.screenshot(path=ROOT / "docs" / "report.png")


def test_the_comparison_report_has_its_findings_and_value_axis_charts(
        flights_run: Path, flights_url: str, visit: Any) -> None:
    """One finding per drifted column, visible; each drifted numeric column's
    histogram and CDF drawn with a non-zero size."""
    path, columns = flights_page(flights_run, "comparison")
    seen = visit(f"{flights_url}/{path}")
    findings = seen.page.locator("#findings")
    assert findings.is_visible()
    items = seen.page.locator("#findings li.finding")
    assert sorted(items.nth(i).get_attribute("data-column") or "" for i in range(items.count())) == sorted(columns)
    numeric = 0
    for column in columns:
        for kind in ("histogram", "cdf"):
            chart = seen.page.locator(f'svg.chart.{kind}[data-column="{column}"]')
            if chart.count():
                box = chart.first.bounding_box()
                assert chart.first.is_visible() and box and box["width"] > 0 and box["height"] > 0, (column, kind)
                numeric += kind == "histogram"
    assert numeric >= 3  # dep_delay, arr_delay and air_time drifted that week


def test_profile_pages_load_clean_with_a_sparkline_per_column(
        flights_run: Path, flights_url: str, visit: Any, tmp_path: Path) -> None:
    pages = sorted((flights_run / "reports").rglob("profile.html"))
    assert pages, "no profile.html under the reports folder"
    for page in pages[:1]:
        for url in (page.as_uri(), f"{flights_url}/{page.relative_to(flights_run / 'reports').as_posix()}"):
            seen = visit(url)
            seen.check_clean()
            check_inert(seen)
            rows = seen.page.locator("table#profile tr[data-column]")
            assert rows.count() >= 10
            for i in range(rows.count()):
                box = rows.nth(i).locator("svg.sparkline").bounding_box()
                assert box and box["width"] > 0 and box["height"] > 0, rows.nth(i).get_attribute("data-column")
        seen.page.screenshot(path=tmp_path / "profile.png", full_page=True)
        assert (tmp_path / "profile.png").stat().st_size > 10_000


# ------------------------------------------------------------------- hostile


def hostile_frame(run: int, rows: int = 2000) -> pd.DataFrame:
    """Run 0: the baseline; run 1: two numeric columns shift and the categorical
    one gains the hostile categories."""
    rng = np.random.default_rng(7 + run)
    values = np.array(["plain", "other"] + (CATEGORIES if run else []))
    mix = [0.5, 0.5] if run == 0 else [0.1, 0.1, 0.2, 0.2, 0.2, 0.2]
    return pd.DataFrame({
        COLUMNS[0]: rng.normal(3.0 * run, 1, rows),
        COLUMNS[1]: rng.normal(2.0 * run, 1, rows),
        COLUMNS[2]: values[rng.choice(len(values), rows, p=mix)],
        COLUMNS[3]: rng.normal(5, 1, rows),
    })


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Two runs of a monitor whose dataset, monitor, columns and categories
    carry hostile names; yields the config path and a server's URL over it."""
    root = tmp_path_factory.mktemp("hostile")
    config_path = root / "monitors.yaml"
    config_path.write_text(yaml.safe_dump({
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {DATASET: {"path": "data/today.parquet"}},
        "monitors": {MONITOR: {"dataset": DATASET, "schedule": {"every": "1d"}, "baseline": "first"}},
    }))
    (root / "data").mkdir()
    config = load_config(config_path)
    clock = {"now": datetime(2024, 3, 1, 6, tzinfo=timezone.utc)}
    with Store(config.store, clock=lambda: clock["now"]) as store:
        for run in range(2):
            clock["now"] += timedelta(days=run)
            hostile_frame(run).to_parquet(root / "data" / "today.parquet")
            assert run_monitor(config, MONITOR, store).status == "completed"
    with serving(config_path) as url:
        yield config_path, url


def hostile_pages(config_path: Path) -> dict[str, tuple[Path, list[str]]]:
    """Each page of the hostile run, and the names it must show as text."""
    config = load_config(config_path)
    with Store(config.store) as store:
        (record,) = store.list_comparisons()
    assert {c["column"] for c in record.result["columns"] if c["status"] == "drift"} >= {COLUMNS[0], COLUMNS[1]}
    reports = Path(config.reports_dir)
    return {
        "comparison": (Path(record.report_path or ""), [DATASET, *COLUMNS, *CATEGORIES]),
        "history": (next(reports.glob("*/history.html")), [MONITOR, *COLUMNS]),
        "index": (reports / "index.html", [DATASET, MONITOR]),
        # categories show as bars of the columns' sparklines (their names in tooltips), not as text
        "profile": (sorted(reports.rglob("profile.html"))[-1], [DATASET, *COLUMNS]),
    }


@pytest.mark.parametrize("source", ["file", "serve"])
@pytest.mark.parametrize("kind", ["comparison", "history", "index", "profile"])
def test_hostile_names_render_as_text_and_fire_nothing(
    hostile: tuple[Path, str], visit: Any, kind: str, source: str,
) -> None:
    config_path, base = hostile
    page, names = hostile_pages(config_path)[kind]
    reports = Path(load_config(config_path).reports_dir)
    url = page.as_uri() if source == "file" else f"{base}/{quote(page.relative_to(reports).as_posix())}"
    seen = visit(url)
    seen.check_clean()
    check_inert(seen)
    missing = [name for name in names if not shows_text(seen, name)]
    assert missing == [], f"not shown as text on the {kind} page: {missing}"
