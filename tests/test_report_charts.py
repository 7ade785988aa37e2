"""The comparison report as a reader sees it, from real comparisons: the findings
at the top, the value-axis histogram and CDF of numeric columns (checked
against numpy on the raw data), categories by change in share, decisions in
words, hostile names, the page size, and results stored before ``display``."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from monitor import report
from monitor.drift import compare_profiles
from monitor.drift.display import HISTOGRAM_BINS
from monitor.profile import DatasetProfile, compute_profile
from monitor.report.format import pct

BASELINE_AT = datetime(2024, 5, 1, 6, 0, tzinfo=timezone.utc)
TARGET_AT = datetime(2024, 6, 1, 6, 0, tzinfo=timezone.utc)
HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</svg><script>alert(2)</script>",
           "{{7*7}}")
ROUNDING = 1e-4
"""Shares and densities are rounded in the result (densities to 5 significant digits,
clipped shares and CDF values to 4-6 decimals); sums and comparisons allow this much."""


# --------------------------------------------------------------------------- #
# comparisons and pages


def profiles(base: dict[str, Any], target: dict[str, Any], k: int | None = None) -> list[DatasetProfile]:
    """The profiles of two column dicts (KLL sketches of size ``k`` when given)."""
    kwargs = {"k": k} if k else {}
    return [compute_profile([pa.record_batch(t)], **kwargs) for t in (base, target)]


def compared(base: dict[str, Any], target: dict[str, Any], k: int | None = None) -> dict[str, Any]:
    """The JSON result of comparing the profiles of two column dicts."""
    result: dict[str, Any] = compare_profiles(*profiles(base, target, k)).to_dict()
    return result


def rank_error(profile: DatasetProfile, column: str) -> float:
    """The normalised rank error of a profiled column's CDF (0 when exact)."""
    numeric = profile.columns[column].numeric
    assert numeric is not None
    return float(numeric.rank_error)


def render(result: dict[str, Any], dataset: str = "trips") -> str:
    page = report.comparison_context(
        result, dataset=dataset, monitor=None, baseline_name="base", baseline_created=BASELINE_AT,
        target_name="target", target_created=TARGET_AT, generated_at=TARGET_AT)
    return report.render_comparison(page)


class Page(HTMLParser):
    """What a test reads back from a report: the SVG charts with their data
    attributes, the findings, and anything that would run script."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.svgs: list[dict[str, Any]] = []
        self.findings: list[dict[str, str]] = []
        self.finding_none: list[str] = []
        self.scripts = 0
        self.handlers: list[tuple[str, str]] = []
        self.text: list[str] = []
        self._li: dict[str, str] | None = None
        self._none = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.handlers += [(tag, k) for k in values if k.lower().startswith("on")]
        self.scripts += tag == "script"
        if tag == "svg":
            self.svgs.append({"attrs": values, "children": []})
        elif self.svgs and tag in ("rect", "polyline", "g"):
            self.svgs[-1]["children"].append((tag, values))
        if tag == "li" and "finding" in values.get("class", "").split():
            self._li = {**values, "text": ""}
            self.findings.append(self._li)
        self._none = tag == "p" and values.get("class") == "finding-none"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self._li = None
        if tag == "p":
            self._none = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._li is not None:
            self._li["text"] += data
        if self._none:
            self.finding_none.append(data)

    def charts(self, kind: str) -> dict[str, dict[str, Any]]:
        """The SVGs of class ``chart <kind>`` by their ``data-column``."""
        return {s["attrs"]["data-column"]: s for s in self.svgs if s["attrs"].get("class") == f"chart {kind}"}


def bars(svg: dict[str, Any], side: str) -> list[tuple[float, float, float]]:
    """``(lo, hi, density)`` of one side's histogram bars, in value order."""
    out = [(float(a["data-lo"]), float(a["data-hi"]), float(a["data-density"]))
           for tag, a in svg["children"] if tag == "rect" and a.get("data-side") == side]
    return sorted(out)


def cdf_points(svg: dict[str, Any], side: str) -> list[tuple[float, float]]:
    [line] = [a for tag, a in svg["children"] if tag == "polyline" and a.get("data-side") == side]
    return [(float(x), float(f)) for x, f in (p.split(",") for p in line["data-points"].split())]


@pytest.fixture(scope="module")
def shifted() -> dict[str, Any]:
    """Raw data and report of a numeric column that moved right (exact profile: 3,000 distinct values)."""
    rng = np.random.default_rng(7)
    base = np.round(rng.normal(10.0, 4.0, 3000), 3)
    targ = np.round(np.concatenate([rng.normal(14.0, 5.0, 2900), rng.normal(60.0, 1.0, 100)]), 3)
    result = compared({"delay": base}, {"delay": targ})
    return {"base": base, "target": targ, "result": result, "page": Page(render(result))}


# --------------------------------------------------------------------------- #
# the histogram


def test_histogram_bins_are_equal_width_in_value_and_each_side_sums_to_one(shifted: dict[str, Any]) -> None:
    svg = shifted["page"].charts("histogram")["delay"]
    for side in ("baseline", "target"):
        drawn = bars(svg, side)
        assert drawn, side
        edges = sorted({e for lo, hi, _ in drawn for e in (lo, hi)})
        assert all(b > a for a, b in zip(edges, edges[1:]))
        widths = {round(hi - lo, 9) for lo, hi, _ in drawn}
        assert len(widths) == 1  # equal width in value, not quantile slots
        mass = sum(d * (hi - lo) for lo, hi, d in drawn)
        clipped = float(svg["attrs"][f"data-below-{side}"]) + float(svg["attrs"][f"data-above-{side}"])
        assert mass + clipped == pytest.approx(1.0, abs=ROUNDING)
    assert float(svg["attrs"]["data-lo"]) <= min(lo for lo, _, _ in bars(svg, "baseline") + bars(svg, "target"))


def test_histogram_axis_runs_between_the_sides_1st_and_99th_percentiles(shifted: dict[str, Any]) -> None:
    hist = shifted["result"]["columns"][0]["display"]["histogram"]
    edges = np.array(hist["edges"])
    lo = min(np.quantile(shifted["base"], 0.01, method="inverted_cdf"),
             np.quantile(shifted["target"], 0.01, method="inverted_cdf"))
    hi = max(np.quantile(shifted["base"], 0.99, method="inverted_cdf"),
             np.quantile(shifted["target"], 0.99, method="inverted_cdf"))
    assert hist["clip"] == pytest.approx([lo, hi], rel=1e-6)
    width = edges[1] - edges[0]
    assert edges[0] <= lo < edges[0] + width and edges[-1] - width <= hi < edges[-1]
    assert len(edges) - 1 <= HISTOGRAM_BINS + 1
    # the target's outliers near 60 are beyond its 99th percentile: stated as clipped mass
    above = np.mean(shifted["target"] >= edges[-1])
    assert hist["clipped"]["target"]["above"] == pytest.approx(above, abs=ROUNDING)
    caption = " ".join(shifted["page"].text)
    assert "of target outside the axis" in caption


@pytest.mark.parametrize("k", [None, 200])
def test_histogram_masses_match_numpy_within_the_sketch_rank_error(k: int | None) -> None:
    """Bin masses against numpy.histogram of the raw data: exact while the profile
    holds every value, within twice the sketch's rank error per bin beyond (each
    mass is a difference of two CDF values, each off by at most the rank error)."""
    rng = np.random.default_rng(11)
    base = rng.gamma(2.0, 3.0, 60_000)
    targ = rng.gamma(2.5, 3.0, 50_000)
    sides = profiles({"x": base}, {"x": targ}, k=k)
    assert all(rank_error(p, "x") > 0 for p in sides)  # beyond the exact counts: from the sketches
    hist = compare_profiles(*sides).to_dict()["columns"][0]["display"]["histogram"]
    edges = np.array(hist["edges"])
    for profile, side, values in ((sides[0], "baseline", base), (sides[1], "target", targ)):
        tolerance = 2 * rank_error(profile, "x") + ROUNDING
        counts, _ = np.histogram(values, bins=edges)
        expected = counts / values.size
        got = np.array(hist[f"{side}_density"]) * np.diff(edges)
        assert np.max(np.abs(got - expected)) <= tolerance, side
        assert hist["clipped"][side]["below"] == pytest.approx(np.mean(values < edges[0]), abs=tolerance)
        assert hist["clipped"][side]["above"] == pytest.approx(np.mean(values > edges[-1]), abs=tolerance)


def test_integer_columns_get_bins_centred_on_whole_numbers() -> None:
    rng = np.random.default_rng(3)
    result = compared({"n": rng.integers(0, 24, 2000)}, {"n": rng.integers(0, 24, 2000)})
    edges = result["columns"][0]["display"]["histogram"]["edges"]
    assert edges[0] == -0.5 and edges[-1] == 23.5 and np.allclose(np.diff(edges), 1.0)


def test_datetime_columns_get_calendar_bins_and_dated_ticks() -> None:
    rng = np.random.default_rng(14)
    start = np.datetime64("2024-03-01T00:00:00", "s").astype(np.int64)
    stamps = [pa.array((start + rng.uniform(0, 20 * 86400, 3000) + shift * 86400).astype("int64") * 1_000_000)
              .cast(pa.timestamp("us", tz="UTC")) for shift in (0, 5)]
    result = compared({"at": stamps[0]}, {"at": stamps[1]})
    hist = result["columns"][0]["display"]["histogram"]
    assert hist["kind"] == "datetime" and np.allclose(np.diff(hist["edges"]), 86400)  # one-day bins
    assert hist["edges"][0] % 86400 == 0  # at midnight UTC
    html = render(result)
    assert ">2024-03-" in html and "bins of 1 day" in html and "time (UTC)" in html


def test_a_constant_column_is_one_bin_holding_everything() -> None:
    result = compared({"c": np.full(500, 7.0)}, {"c": np.full(500, 7.0)})
    svg = Page(render(result)).charts("histogram")["c"]
    for side in ("baseline", "target"):
        [(lo, hi, density)] = bars(svg, side)
        assert lo <= 7.0 < hi and density * (hi - lo) == pytest.approx(1.0, abs=ROUNDING)


# --------------------------------------------------------------------------- #
# the CDF


def test_cdf_is_non_decreasing_ends_at_one_and_matches_the_data(shifted: dict[str, Any]) -> None:
    svg = shifted["page"].charts("cdf")["delay"]
    for side, values in (("baseline", shifted["base"]), ("target", shifted["target"])):
        points = cdf_points(svg, side)
        xs, fs = zip(*points)
        assert 20 <= len(points) <= 60
        assert all(b > a for a, b in zip(xs, xs[1:]))
        assert all(b >= a for a, b in zip(fs, fs[1:]))
        assert fs[-1] == 1.0 and xs[-1] == pytest.approx(max(shifted["base"].max(), shifted["target"].max()))
        empirical = [np.mean(values <= x) for x in xs]
        assert np.allclose(fs, empirical, atol=ROUNDING)


def test_cdf_from_a_sketch_is_within_its_rank_error() -> None:
    rng = np.random.default_rng(5)
    base, targ = rng.lognormal(0, 1, 80_000), rng.lognormal(0.2, 1, 80_000)
    sides = profiles({"x": base}, {"x": targ}, k=200)
    cdf = compare_profiles(*sides).to_dict()["columns"][0]["display"]["cdf"]
    for profile, side, values in ((sides[0], "baseline", base), (sides[1], "target", targ)):
        error = rank_error(profile, "x")
        assert error > 0
        empirical = np.searchsorted(np.sort(values), cdf["x"], side="right") / values.size
        assert np.max(np.abs(np.array(cdf[side]) - empirical)) <= error + ROUNDING
        assert np.all(np.diff(cdf[side]) >= 0) and cdf[side][-1] == 1.0


# --------------------------------------------------------------------------- #
# findings


def test_findings_name_each_drifted_column_in_words_most_severe_first() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    moved = rng.normal(0, 1, n)
    missing = rng.normal(0, 1, n)
    with_gaps = pa.array(np.where(rng.random(n) < 0.10, np.nan, missing), from_pandas=True)
    base = {"steady": rng.normal(0, 1, n), "small": rng.normal(0, 1, n), "big": moved,
            "gaps": pa.array(np.where(rng.random(n) < 0.02, np.nan, missing), from_pandas=True),
            "city": rng.choice(["paris", "rome", "oslo"], n, p=[0.5, 0.3, 0.2])}
    target = {"steady": rng.normal(0, 1, n), "small": rng.normal(0.3, 1, n), "big": moved + 2.0,
              "gaps": with_gaps, "city": rng.choice(["paris", "rome", "oslo"], n, p=[0.5, 0.2, 0.3])}
    result = compared(base, target)
    page = Page(render(result))
    columns = {c["column"]: c for c in result["columns"]}
    order = [f["data-column"] for f in page.findings]
    assert set(order) == {name for name, c in columns.items() if c["status"] == "drift"} == {
        "small", "big", "gaps", "city"}
    rank = {"critical": 2, "warning": 1}
    keys = [(-rank[columns[name]["severity"]], -columns[name]["magnitude"]) for name in order]
    assert keys == sorted(keys)  # severity, then effect size
    assert order[0] == "big"
    text = {f["data-column"]: f["text"] for f in page.findings}
    assert "distribution moved right" in text["big"] and "median" in text["big"] and "KS" in text["big"]
    assert "critical" in text["big"]
    rates = columns["gaps"]["missing_rate"]
    assert f"missing {pct(rates['baseline'])} → {pct(rates['target'])}" in text["gaps"]
    assert 0.015 < rates["baseline"] < 0.025 and 0.09 < rates["target"] < 0.11
    shares = {r["name"]: r for r in columns["city"]["display"]["categories"]["rows"]}
    oslo, rome = shares["oslo"], shares["rome"]
    assert f"“oslo” gained most ({pct(oslo['baseline'])} → {pct(oslo['target'])})" in text["city"]
    assert f"“rome” lost most ({pct(rome['baseline'])} → {pct(rome['target'])})" in text["city"]
    assert page.finding_none == []


def test_without_drift_one_sentence_says_so() -> None:
    rng = np.random.default_rng(2)
    result = compared({"x": rng.normal(0, 1, 5000)}, {"x": rng.normal(0, 1, 5000)})
    page = Page(render(result))
    assert page.findings == []
    assert "".join(page.finding_none).startswith("No column drifted: each of the 1 compared columns")


def test_insufficient_data_is_said_in_one_sentence() -> None:
    result = compared({"x": np.arange(10.0)}, {"x": np.arange(10.0) + 3})
    page = Page(render(result))
    assert page.findings == []
    assert "".join(page.finding_none).startswith("Insufficient data: none of the 1 columns")


def test_method_notes_come_last_folded() -> None:
    rng = np.random.default_rng(4)
    html = render(compared({"x": rng.normal(0, 1, 3000)}, {"x": rng.normal(0, 1, 3000)}))
    notes = html.index('<details id="method-notes">')
    assert notes > html.index('class="column"') > html.index('id="findings"')
    assert "Bonferroni" in html[notes:] and "Bonferroni" not in html[:notes]


# --------------------------------------------------------------------------- #
# categories and decisions


def test_categories_are_listed_by_change_in_share_with_new_and_vanished_marked() -> None:
    rng = np.random.default_rng(6)
    n = 20_000
    big = ["big"] * (n // 2)
    base_small = [f"c{i:02d}" for i in rng.integers(0, 30, n // 2 - 600)] + ["gone"] * 600
    targ_small = [f"c{i:02d}" for i in rng.integers(0, 30, n // 2 - 1500)] + ["fresh"] * 1500
    result = compared({"kind": big + base_small}, {"kind": big + targ_small})
    svg = Page(render(result)).charts("categories")["kind"]
    rows = [a for tag, a in svg["children"] if tag == "g"]
    names = [r["data-name"] for r in rows]
    assert names[:2] == ["fresh", "gone"]  # largest changes first; "big" (50% both sides) is not
    assert "big" not in names
    status = {r["data-name"]: r["data-status"] for r in rows}
    assert status["fresh"] == "new" and status["gone"] == "vanished"
    changes = [abs(float(r["data-target"]) - float(r["data-baseline"])) for r in rows]
    assert changes == sorted(changes, reverse=True)
    rest = result["columns"][0]["display"]["categories"]["rest"]
    html = render(result)
    assert f"{rest['categories']} more categories" in html and rest["baseline"] > 0.5


def test_each_metric_decision_is_written_out() -> None:
    rng = np.random.default_rng(8)
    # x: 150 values a side, shifted 0.4 sd: KS past 0.1 yet not significant at the per-test level
    n, small = 20_000, 150
    present = np.arange(n) < small
    x_base = pa.array(np.where(present, rng.normal(0, 1, n), np.nan), from_pandas=True)
    x_targ = pa.array(np.where(present, rng.normal(0.4, 1, n), np.nan), from_pandas=True)
    result = compared({"x": x_base, "y": rng.normal(0, 1, n)}, {"x": x_targ, "y": rng.normal(1.0, 1, n)})
    html = render(result)
    x = html.split('<h3 class="name">x</h3>', 1)[1].split("</section>", 1)[0]
    y = html.split('<h3 class="name">y</h3>', 1)[1].split("</section>", 1)[0]
    ks = next(m for m in result["columns"][0]["metrics"] if m["name"] == "ks_statistic")
    assert ks["value"] >= 0.1 and ks["detail"]["tested"] and not ks["detail"]["significant"]
    assert "reaches a threshold but is not significant at the per-test level" in x
    assert "below threshold" in x and "Also measured, no threshold set" in x and "JS distance" in x
    assert "≥ critical 0.2 and significant (p &lt; 0.000001; per-test level" in y and ": drift" in y
    assert '<table><tr><th>n</th><td>20,000</td></tr>' in y  # details as a two-column table


# --------------------------------------------------------------------------- #
# safety, size, old results


def test_hostile_names_render_as_text() -> None:
    rng = np.random.default_rng(9)
    n = 2000
    base = {name: rng.normal(0, 1, n) for name in HOSTILE}
    base["cat"] = rng.choice(list(HOSTILE), n)
    target = {name: rng.normal(1, 1, n) for name in HOSTILE}
    target["cat"] = rng.choice(list(HOSTILE[:2]), n)
    for dataset in HOSTILE:
        html = render(compared(base, target), dataset=dataset)
        page = Page(html)
        assert page.scripts == 0 and page.handlers == []
        text = "".join(page.text)
        for name in HOSTILE:
            assert name in text
        assert set(page.charts("histogram")) == set(HOSTILE) == {f["data-column"] for f in page.findings} - {"cat"}
        assert {a["data-name"] for t, a in page.charts("categories")["cat"]["children"] if t == "g"} == set(HOSTILE)
        assert "default-src 'none'" in html and "<script" not in html


def test_a_fifty_column_report_stays_under_one_megabyte() -> None:
    """Fifty numeric columns, the heaviest kind (a histogram and a CDF each), all drifted a little."""
    rng = np.random.default_rng(10)
    n = 20_000
    base: dict[str, Any] = {f"num_{i:02d}": rng.gamma(2.0 + i % 5, 10.0, n) for i in range(48)}
    target: dict[str, Any] = {f"num_{i:02d}": rng.gamma(2.0 + i % 5, 10.0 + (i % 3), n) for i in range(48)}
    base.update(flat=rng.uniform(0, 1, n), whole=rng.integers(0, 1000, n))
    target.update(flat=rng.uniform(0.1, 1.1, n), whole=rng.integers(0, 1100, n))
    html = render(compared(base, target))
    page = Page(html)
    assert len(page.charts("histogram")) == len(page.charts("cdf")) == 50
    assert len(html.encode("utf-8")) < 1_000_000


def test_results_stored_before_display_render_the_older_charts() -> None:
    rng = np.random.default_rng(12)
    result = compared({"x": rng.normal(0, 1, 3000), "c": rng.choice(["a", "b"], 3000)},
                      {"x": rng.normal(1, 1, 3000), "c": rng.choice(["a", "b"], 3000)})
    old = copy.deepcopy(result)
    for column in old["columns"]:
        del column["display"]
    page = Page(render(old))
    assert not page.charts("histogram") and not page.charts("cdf") and not page.charts("categories")
    assert {s["attrs"]["class"] for s in page.svgs} == {"chart chart-histogram", "chart chart-categories"}
    assert [f["data-column"] for f in page.findings] == ["x"]
    for column in old["columns"]:
        column["histogram"] = column["categories"] = None
    assert Page(render(old)).svgs == []


def test_display_keeps_the_result_json_compact() -> None:
    rng = np.random.default_rng(13)
    result = compared({"x": rng.normal(0, 1, 50_000)}, {"x": rng.normal(0.1, 1, 50_000)})
    shown = result["columns"][0]["display"]
    assert len(shown["histogram"]["edges"]) - 1 <= HISTOGRAM_BINS + 1 and len(shown["cdf"]["x"]) <= 60
    assert len(json.dumps(shown, separators=(",", ":"))) < 4000
