"""A snapshot's profile page: its numbers against pandas on the real NYC flights
data, the `report profile` command, the page a run writes, hostile names.

Tolerances: counts, min and max exact; mean, standard deviation, variance,
skewness and kurtosis 1e-9 relative (docs/profile.md); quantiles and bin shares
1e-12 relative where the column is held exactly, else within the rank error the
row states (``data-rank-error``, at most the documented 0.00045): a quantile
``q`` at rank ``r`` has ``P(X < q) <= r + e`` and ``P(X <= q) >= r - e``, and a
bin's share is the difference of two CDF values, so within ``2 e``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from monitor import report
from monitor.cli import main
from monitor.config import DatasetConfig, load_config
from monitor.errors import MonitorError
from monitor.example import prepare_flights
from monitor.profile.summary import TAIL_RATIO
from monitor.service import profile_page as service_page
from monitor.service.runner import run_monitor, take_snapshot
from monitor.store import Store

RANKS = {"p0.1": 0.001, "p1": 0.01, "p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99,
         "p99.9": 0.999}
MOMENTS = ("mean", "std", "variance", "skewness", "kurtosis")
DOCUMENTED_RANK_ERROR = 0.00045
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</svg><script>alert(2)</script>",
           "{{7*7}}"]


# --------------------------------------------------------------------------- #
# reading a page


@dataclass
class Row:
    attrs: dict[str, str | None]
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)
    bars: list[dict[str, str | None]] = field(default_factory=list)
    svgs: int = 0
    svg_classes: list[str | None] = field(default_factory=list)
    note: str = ""


class Page(HTMLParser):
    """The profile table's rows, the header's facts, and every element seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.rows: dict[str, Row] = {}
        self.tables: list[str | None] = []
        self.facts: dict[str, str] = {}
        self._row: Row | None = None
        self._cell: dict[str, Any] | None = None
        self._fact: str | None = None
        self._note = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.elements.append((tag, values))
        if tag == "table":
            self.tables.append(values.get("id"))
        if tag == "tr" and "data-column" in values:
            self._row = self.rows.setdefault(values["data-column"] or "", Row(values))
        if tag == "div" and "data-fact" in values:
            self._fact = values["data-fact"]
            self.facts[self._fact or ""] = ""
        if self._row is None:
            return
        if tag == "td" and "data-stat" in values:
            self._cell = {"text": "", **values}
            self._row.cells[values["data-stat"] or ""] = self._cell
        elif tag == "svg":
            self._row.svgs += 1
            self._row.svg_classes.append(values.get("class"))
        elif tag == "rect":
            self._row.bars.append(values)
        elif tag == "span" and values.get("class") == "spark-note":
            self._note = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "div":
            self._fact = None
        elif tag == "span":
            self._note = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
        if self._fact is not None:
            self.facts[self._fact] += data
        if self._note and self._row is not None:
            self._row.note += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def number(row: Row, stat: str) -> float:
    value = row.cells[stat].get("data-value")
    assert value is not None, f"{stat} has no value"
    return float(value)


def assert_safe(page: Page, html: str) -> None:
    """No script element, no event handler attribute, no element a name could have injected."""
    tags = {tag for tag, _ in page.elements}
    assert "script" not in tags and "img" not in tags
    for tag, attrs in page.elements:
        assert not [a for a in attrs if a.lower().startswith("on")], (tag, attrs)
    assert "<script" not in html.lower()
    assert "default-src 'none'" in html


# --------------------------------------------------------------------------- #
# the flights data, snapshotted by a monitor's run


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every 2013 flight as one snapshot of monitor ``whole`` (its page written by
    the run), the config path, the store and the data as pandas."""
    base = tmp_path_factory.mktemp("profile-page")
    prepare_flights(base / "data")
    config_path = base / "monitors.yaml"
    config_path.write_text(yaml.safe_dump({
        "store": "store/monitor.db", "reports_dir": "reports",
        "datasets": {"flights": {"path": "data/", "timestamp_column": "time_hour"}},
        "monitors": {"whole": {"dataset": "flights", "schedule": {"every": "1d"}}},
    }))
    config = load_config(config_path)
    with Store(config.store) as store:
        result = run_monitor(config, "whole", store)
        snap = store.get_snapshot("flights", result.target.name)  # type: ignore[union-attr]
    frame = pq.read_table(base / "data").to_pandas()
    path = Path(config.reports_dir) / "flights" / report.safe_name(snap.name) / "profile.html"
    return {"base": base, "config": config, "config_path": config_path, "result": result, "snap": snap,
            "frame": frame, "path": path}


@pytest.fixture(scope="module")
def page(flights: dict[str, Any]) -> Page:
    return parse(flights["path"].read_text(encoding="utf-8"))


def test_a_run_writes_the_page_and_it_is_self_contained(flights: dict[str, Any], page: Page) -> None:
    assert flights["result"].status == "completed"
    html = flights["path"].read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert_safe(page, html)
    assert not [p for p in flights["path"].parent.rglob("*.tmp")]
    assert not any(tag == "link" for tag, _ in page.elements)
    assert not [v for _, attrs in page.elements for k, v in attrs.items() if k in ("src", "href") and v and "//" in v]
    assert "profile" in page.tables
    meta = report.read_profile_metadata(flights["path"])
    assert meta is not None and meta["snapshot"] == flights["snap"].name and meta["rows"] == len(flights["frame"])


def test_one_row_per_column_each_with_one_sparkline(flights: dict[str, Any], page: Page) -> None:
    assert list(page.rows) == list(flights["frame"].columns)
    for name, row in page.rows.items():
        assert row.svg_classes == ["sparkline"], name


def test_the_header_names_the_snapshot(flights: dict[str, Any], page: Page) -> None:
    snap = flights["snap"]
    assert page.facts["dataset"].endswith("flights")
    assert page.facts["snapshot"].endswith(snap.name)
    assert page.facts["version"].endswith("1")
    assert page.facts["monitor"].endswith("whole")
    assert page.facts["rows"].endswith(f"{len(flights['frame']):,}")
    assert page.facts["fingerprint"].endswith(snap.fingerprint)
    assert snap.created_at.strftime("%Y-%m-%d %H:%M") in page.facts["created"]
    assert "window" not in page.facts  # a snapshot of the whole dataset has none


def _series(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column as numbers: datetimes as seconds since the epoch, UTC."""
    s = frame[name]
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return (s - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return s.astype(float)


def test_counts_are_exact(flights: dict[str, Any], page: Page) -> None:
    frame = flights["frame"]
    for name, row in page.rows.items():
        s = frame[name]
        assert number(row, "count") == len(s), name
        assert number(row, "missing") == s.isna().sum(), name
        assert number(row, "not_missing") == s.notna().sum(), name
        assert number(row, "percent_missing") == pytest.approx(100 * s.isna().mean(), rel=1e-12), name
        assert number(row, "errors") == 0 and number(row, "empty") == 0, name


def test_min_max_and_moments_match_pandas(flights: dict[str, Any], page: Page) -> None:
    frame = flights["frame"]
    checked = 0
    for name, row in page.rows.items():
        if "data-value" not in row.cells["mean"]:
            assert not pd.api.types.is_numeric_dtype(frame[name]), name  # text columns only have no mean
            continue
        s = _series(frame, name).dropna()
        assert (number(row, "min"), number(row, "max")) == (s.min(), s.max()), name
        expected = {"mean": s.mean(), "std": s.std(), "variance": s.var(), "skewness": s.skew(),
                    "kurtosis": s.kurt()}
        for stat in MOMENTS:
            if row.attrs.get("data-column") == "time_hour" and stat not in ("mean", "std"):
                assert row.cells[stat]["text"] == "—"  # a datetime's variance and shape are not shown
                continue
            value = expected[stat] if s.nunique() > 1 or stat in ("mean", "std", "variance") else 0.0
            assert number(row, stat) == pytest.approx(value, rel=1e-9, abs=1e-12), (name, stat)
        checked += 1
    assert checked == 15  # every numeric column: 14 integer ones and time_hour


def test_quantiles_match_pandas_within_the_stated_rank_error(flights: dict[str, Any], page: Page) -> None:
    frame = flights["frame"]
    estimated = []
    for name, row in page.rows.items():
        if "data-value" not in row.cells["p50"]:
            continue
        s = _series(frame, name).dropna().to_numpy()
        values = np.sort(s)
        bound = row.attrs.get("data-rank-error")
        for stat, rank in RANKS.items():
            q = number(row, stat)
            if bound is None:
                assert q == pytest.approx(float(np.quantile(values, rank)), rel=1e-12), (name, stat)
                assert "est" not in (row.cells[stat].get("class") or "").split()
                continue
            e = float(bound)
            assert 0 < e <= DOCUMENTED_RANK_ERROR
            below = np.searchsorted(values, q, side="left") / values.size
            at_most = np.searchsorted(values, q, side="right") / values.size
            assert below <= rank + e and at_most >= rank - e, (name, stat, below, at_most)
            assert "est" in (row.cells[stat].get("class") or "").split()
        if bound is not None:
            estimated.append(name)
    assert estimated == ["time_hour"]  # 6,936 distinct hours: beyond the exact counts, in the sketch


def test_distinct_counts(flights: dict[str, Any], page: Page) -> None:
    frame = flights["frame"]
    for name, row in page.rows.items():
        exact = frame[name].nunique()
        cell = row.cells["distinct"]
        if exact <= 4096:
            assert number(row, "distinct") == exact and not cell["text"].startswith("≈"), name
        else:  # the theta sketch's estimate: 4 relative standard errors (1.6% each, k = 4,096)
            assert cell["text"].startswith("≈") and cell.get("title")
            assert number(row, "distinct") == pytest.approx(exact, rel=4 * 0.016), name


def _bins(row: Row) -> tuple[np.ndarray, np.ndarray]:
    low = np.array([float(b["data-low"] or "nan") for b in row.bars])
    high = np.array([float(b["data-high"] or "nan") for b in row.bars])
    return np.append(low, high[-1]), np.array([float(b["data-share"] or "nan") for b in row.bars])


def test_histograms_match_numpy_on_the_same_edges(flights: dict[str, Any], page: Page) -> None:
    frame = flights["frame"]
    drawn = 0
    for name, row in page.rows.items():
        if not row.bars or row.bars[0].get("data-low") is None:
            continue
        values = np.sort(_series(frame, name).dropna().to_numpy())
        edges, shares = _bins(row)
        widths = np.diff(edges)
        assert widths == pytest.approx(np.full(widths.size, widths[0]), rel=1e-9), name  # equal width
        assert 1 <= shares.size <= 20
        # bins [e0, e1], (e1, e2], ...: the counts of values <= each edge, differenced
        cum = np.searchsorted(values, edges, side="right").astype(float)
        cum[0] = np.searchsorted(values, edges[0], side="left")
        expected = np.diff(cum) / values.size
        bound = row.attrs.get("data-rank-error")
        tolerance = 1e-12 if bound is None else 2 * float(bound)
        assert np.abs(shares - expected).max() <= tolerance, name
        span, inner = values[-1] - values[0], np.quantile(values, 0.999) - np.quantile(values, 0.001)
        clipped = row.note == "p0.1–p99.9"
        assert clipped == (span > TAIL_RATIO * inner), name  # long tails: stated, and only then
        if not clipped:
            assert shares.sum() == pytest.approx(1.0, abs=tolerance * shares.size)
        drawn += 1
    assert drawn == 12  # 11 integer columns and time_hour; the integer-categorical ones get category bars


def test_categorical_bars_are_the_top_shares(flights: dict[str, Any], page: Page) -> None:
    frame = flights["frame"]
    for name in ("carrier", "origin", "dest", "tailnum", "month", "hour"):
        row = page.rows[name]
        counts = frame[name].dropna().astype(str).value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
        labels = [b["data-label"] for b in row.bars if "category" in (b.get("class") or "")]
        assert labels == [label for label, _ in ranked], name
        shares = [float(b["data-share"] or "nan") for b in row.bars]
        total = counts.sum()
        expected = [n / total for _, n in ranked]
        if len(counts) > 8:
            expected.append(1 - sum(n for _, n in ranked) / total)
            assert "other" in (row.bars[-1].get("class") or "")
        assert shares == pytest.approx(expected, rel=1e-12), name


# --------------------------------------------------------------------------- #
# the command and the Python functions


def test_report_profile_writes_the_page_and_prints_its_path(flights: dict[str, Any]) -> None:
    path: Path = flights["path"]
    path.unlink()
    result = CliRunner().invoke(main, ["report", "profile", "flights", flights["snap"].name,
                                       "-c", str(flights["config_path"])])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(path)
    assert list(parse(path.read_text(encoding="utf-8")).rows) == list(flights["frame"].columns)


def test_report_profile_of_an_unknown_snapshot_is_an_error(flights: dict[str, Any]) -> None:
    result = CliRunner().invoke(main, ["report", "profile", "flights", "no-such-snapshot",
                                       "-c", str(flights["config_path"])])
    assert result.exit_code == 1
    assert "no-such-snapshot" in result.output and "not found" in result.output


def test_render_without_writing(flights: dict[str, Any]) -> None:
    config, name, now = flights["config"], flights["snap"].name, datetime(2024, 5, 1, tzinfo=timezone.utc)
    with Store(config.store) as store:
        html = service_page.render_profile_page(store, "flights", name)
        assert list(parse(html).rows) == list(flights["frame"].columns)
        assert "../../index.html" not in html  # where it will be served is not known
        placed = service_page.render_profile_page(store, "flights", name, reports_dir=config.reports_dir, now=now)
        path = service_page.write_profile_page(store, config.reports_dir, "flights", name, now=now)
    assert placed == path.read_text(encoding="utf-8")  # the page as written, links included
    assert 'href="../../index.html"' in placed


# --------------------------------------------------------------------------- #
# hostile names, a failing write


def hostile_csv(tmp_path: Path) -> Path:
    rows = 40
    frame = pd.DataFrame({
        HOSTILE[0]: [HOSTILE[i % 4] for i in range(rows)],  # category values too
        HOSTILE[1]: np.arange(rows, dtype=float) * 1.5,
        HOSTILE[2]: [i % 2 == 0 for i in range(rows)],
        HOSTILE[3]: [HOSTILE[(i + 1) % 4] if i % 5 else None for i in range(rows)],
    })
    path = tmp_path / "hostile.csv"
    frame.to_csv(path, index=False)
    return path


def test_hostile_names_and_values_render_as_text(tmp_path: Path) -> None:
    dataset, name = HOSTILE[1], "{{7*7}}<b onmouseover=alert(3)>"  # a store's names hold no '/'
    with Store(tmp_path / "store.db") as store:
        snap = take_snapshot(store, dataset, DatasetConfig(path=str(hostile_csv(tmp_path))), name=name)
        path = service_page.write_profile_page(store, tmp_path / "reports", dataset, snap.name)
    html = path.read_text(encoding="utf-8")
    page = parse(html)
    assert_safe(page, html)
    assert list(page.rows) == HOSTILE  # each name reads back as it was, from its attribute
    labels = {b.get("data-label") for row in page.rows.values() for b in row.bars}
    assert set(HOSTILE) <= labels  # so does each category value
    assert "{{7*7}}" in html.replace("<wbr/>", "") and ">49<" not in html and "<b " not in html
    assert page.facts["dataset"].endswith(dataset) and page.facts["snapshot"].endswith(name)
    assert path.parent.parent.name == report.safe_name(dataset) and path.parent.name == report.safe_name(name)
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert_safe(parse(index), index)


def test_a_page_that_cannot_be_written_never_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    data = tmp_path / "data.csv"
    pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50}).to_csv(data, index=False)
    config_path = tmp_path / "monitors.yaml"
    config_path.write_text(yaml.safe_dump({
        "store": "store.db", "reports_dir": "reports", "datasets": {"d": {"path": "data.csv"}},
        "monitors": {"m": {"dataset": "d", "schedule": {"every": "1d"}}},
    }))
    config = load_config(config_path)

    def broken(*args: Any, **kwargs: Any) -> Path:
        raise failure

    monkeypatch.setattr(report, "write_profile", broken)
    with Store(config.store) as store, caplog.at_level(logging.ERROR):
        for failure in (MonitorError("cannot write report x: disk full"), RuntimeError("a bug")):
            result = run_monitor(config, "m", store)
            assert result.status == "completed", result.reason
            assert result.target is not None and result.target.status == "completed"
        assert result.report_path is not None and Path(result.report_path).is_file()  # the second run compared
    messages = [r.getMessage() for r in caplog.records if "profile page not written" in r.getMessage()]
    assert len(messages) == 2
    assert "disk full" in messages[0] and "RuntimeError: a bug" in messages[1]
    assert not list((tmp_path / "reports").rglob("profile.html"))


def test_an_unfinished_snapshot_has_no_page(tmp_path: Path) -> None:
    with Store(tmp_path / "store.db") as store:
        store.register_dataset("d", {"path": "x"})
        snap = store.begin_snapshot("d", "s1")
        with pytest.raises(MonitorError, match="s1"):
            service_page.write_profile_page(store, tmp_path / "reports", "d", "s1")
        assert service_page.refresh_profile_page(store, tmp_path / "reports", snap) is None
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").rglob("profile.html"))


def test_constant_and_empty_columns_draw_what_they_have(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    pd.DataFrame({"const": [7.0] * 10, "empty": [math.nan] * 10, "n": np.arange(10.0)}).to_csv(data, index=False)
    with Store(tmp_path / "store.db") as store:
        snap = take_snapshot(store, "d", DatasetConfig(path=str(data), types={"empty": "decimal"}))
        page = parse(service_page.render_profile_page(store, "d", snap))
    const, empty = page.rows["const"], page.rows["empty"]
    assert [b["data-share"] for b in const.bars] == ["1.0"]
    assert empty.bars == [] and empty.note == "no values" and empty.svgs == 1
    assert empty.cells["mean"]["text"] == "—" and "data-value" not in empty.cells["p50"]


def test_a_long_tailed_sketched_column_is_binned_between_p0_1_and_p99_9() -> None:
    import pyarrow as pa

    from monitor.profile import compute_profile
    from monitor.profile.summary import summarize_profile

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.lognormal(0.0, 1.5, 300_000), [np.inf, -np.inf, np.inf]])
    (col,) = summarize_profile(compute_profile([pa.record_batch({"x": values})]))
    finite = np.sort(values[np.isfinite(values)])
    assert not col.is_exact and 0 < col.rank_error <= DOCUMENTED_RANK_ERROR
    assert (col.min, col.max, col.pos_inf, col.neg_inf) == (-np.inf, np.inf, 2, 1)
    hist = col.histogram
    assert hist is not None and hist.clipped and not hist.exact and len(hist.shares) == 20
    e = col.rank_error
    for rank, edge in ((0.001, hist.edges[0]), (0.999, hist.edges[-1])):  # the edges are the sketch's quantiles
        assert np.searchsorted(finite, edge, "left") / finite.size <= rank + e
        assert np.searchsorted(finite, edge, "right") / finite.size >= rank - e
    cum = np.searchsorted(finite, np.array(hist.edges), side="right").astype(float)
    cum[0] = np.searchsorted(finite, hist.edges[0], side="left")
    assert np.abs(np.array(hist.shares) - np.diff(cum) / finite.size).max() <= 2 * e
    assert abs(hist.below - cum[0] / finite.size) <= e and abs(hist.above - (1 - cum[-1] / finite.size)) <= e
    chart = report.profile_page.spark_chart(col)
    assert chart.note == "p0.1–p99.9" and "0.1% to 99.9% quantiles" in chart.title
    cells = {c.stat: c for c in report.profile_page_context(
        [col], dataset="d", snapshot="s", version=1, created_at=datetime(2024, 1, 1, tzinfo=timezone.utc), rows=1,
    ).columns[0].cells}
    assert (cells["min"].text, cells["max"].text) == ("-∞", "∞")
    assert cells["mean"].value is not None and float(cells["mean"].value) == pytest.approx(finite.mean(), rel=1e-9)
