"""Tests of monitor.report: rendering, escaping, self-containment, the index."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

import monitor
from monitor import report
from monitor.errors import MonitorError
from monitor.report import format as report_format
from monitor.report import render

SCRIPT_COLUMN = "<script>alert('column')</script>"
SCRIPT_LABEL = "</svg><script>alert(\"label\")</script>"
BASELINE_AT = datetime(2024, 5, 1, 6, 0, tzinfo=timezone.utc)
TARGET_AT = datetime(2024, 6, 1, 6, 0, tzinfo=timezone.utc)
GENERATED_AT = datetime(2024, 6, 1, 6, 5, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- #
# a realistic drift engine result, written by hand


def _stats(count: int, missing: int, mean: float, std: float, low: float, high: float) -> dict[str, Any]:
    """Summary statistics of one column in one snapshot."""
    return {
        "count": count, "missing": missing, "mean": mean, "std": std, "min": low, "max": high,
        "p01": low + 0.01 * (high - low), "p50": mean, "p99": high - 0.01 * (high - low),
    }


def _metric(name: str, value: float | None, *, p_value: float | None = None, direction: str = "higher",
            warning: float | None = 0.1, critical: float | None = 0.25, severity: str = "none",
            decides: bool = False, **detail: Any) -> dict[str, Any]:
    """One metric entry of a column."""
    return {
        "name": name, "value": value, "p_value": p_value, "direction": direction, "warning": warning,
        "critical": critical, "severity": severity, "decides": decides, "detail": detail,
    }


def _missing(baseline: float, target: float) -> dict[str, Any]:
    """The missing-rate block of a column."""
    relative = None if baseline == 0 else (target - baseline) / baseline
    return {"baseline": baseline, "target": target, "change": target - baseline, "relative_change": relative}


def _numeric_column(name: str, status: str, severity: str, metrics: list[dict[str, Any]],
                    target_shift: float) -> dict[str, Any]:
    """A numeric column with ten quantile bins plus two outside-range bins."""
    base = [0.0] + [0.1] * 10 + [0.0]
    targ = [0.0] + [max(0.1 - target_shift * (5 - i) / 5, 0.0) for i in range(10)] + [0.0]
    total = sum(targ)
    targ = [t / total for t in targ]
    edges: list[float | None] = [None] + [float(i * 10) for i in range(11)] + [None]
    return {
        "column": name, "kind": "numeric", "status": status, "severity": severity, "reason": None,
        "metrics": metrics, "missing_rate": _missing(0.01, 0.015),
        "baseline": _stats(10_000, 100, 50.0, 28.9, 0.0, 100.0),
        "target": _stats(12_500, 190, 50.0 + 100 * target_shift, 30.1, 0.0, 100.0),
        "histogram": {"edges": edges, "baseline": base, "target": targ},
        "categories": None, "new_categories": [], "vanished_categories": [],
    }


def _fare_column() -> dict[str, Any]:
    """Numeric, critically drifted."""
    metrics = [
        _metric("ks_statistic", 0.31, p_value=1.2e-40, warning=0.1, critical=0.2, severity="critical",
                decides=True, n_baseline=9_900, n_target=12_310),
        _metric("psi", 0.42, severity="critical", decides=True, bins=12, epsilon=1e-4),
        _metric("wasserstein_normalised", 0.35, warning=0.2, critical=0.5, severity="warning"),
        _metric("jensen_shannon", 0.18, warning=0.1, critical=0.2, severity="warning", base=2),
        _metric("mean_shift_std", 0.52, warning=0.25, critical=0.5, severity="critical"),
    ]
    return _numeric_column("fare_amount", "drift", "critical", metrics, 0.08)


def _payment_column() -> dict[str, Any]:
    """Categorical, drifted at warning, with a new and a vanished category."""
    labels = ["card", "cash", "voucher", SCRIPT_LABEL, "crypto"]
    metrics = [
        _metric("psi", 0.14, severity="warning", decides=True),
        _metric("chi_square", 812.5, p_value=3e-4, direction="p_value", warning=0.01, critical=1e-6,
                severity="warning", decides=True, dof=4),
        _metric("l_infinity", 0.07, warning=0.1, critical=0.2),
    ]
    return {
        "column": "payment_type", "kind": "categorical", "status": "drift", "severity": "warning",
        "reason": None, "metrics": metrics, "missing_rate": _missing(0.0, 0.0),
        "baseline": None, "target": None, "histogram": None,
        "categories": {"labels": labels, "baseline": [0.6, 0.3, 0.1, 0.0, 0.0],
                       "target": [0.62, 0.25, 0.0, 0.05, 0.08]},
        "new_categories": [{"name": SCRIPT_LABEL, "share": 0.05}, {"name": "crypto", "share": 0.08}],
        "vanished_categories": [{"name": "voucher", "share": 0.1}],
    }


def _plain_column(name: str, kind: str, status: str, reason: str | None, *,
                  baseline: dict[str, Any] | None, target: dict[str, Any] | None) -> dict[str, Any]:
    """A column without metrics or charts (insufficient data, added, removed...)."""
    return {
        "column": name, "kind": kind, "status": status, "severity": "none", "reason": reason,
        "metrics": [], "missing_rate": None, "baseline": baseline, "target": target,
        "histogram": None, "categories": None, "new_categories": [], "vanished_categories": [],
    }


def make_result() -> dict[str, Any]:
    """A comparison result as the drift engine returns it."""
    ok_metrics = [_metric("ks_statistic", 0.02, p_value=0.41, warning=0.1, critical=0.2, decides=True),
                  _metric("psi", 0.01, decides=True)]
    columns = [
        _numeric_column("trip_distance", "ok", "none", ok_metrics, 0.0),
        _plain_column("tip_rate", "numeric", "insufficient_data",
                      "only 12 non-missing values in the target snapshot (needs 100)",
                      baseline=_stats(4000, 0, 0.15, 0.05, 0.0, 0.5), target=_stats(12, 0, 0.2, 0.1, 0.0, 0.4)),
        _fare_column(),
        _numeric_column(SCRIPT_COLUMN, "ok", "none", ok_metrics, 0.01),
        _plain_column("driver_rating", "numeric", "added", None,
                      baseline=None, target=_stats(12_500, 0, 4.7, 0.3, 1.0, 5.0)),
        _plain_column("legacy_code", "string", "removed", None, baseline=_stats(10_000, 0, 0, 0, 0, 0),
                      target=None),
        _payment_column(),
    ]
    return {
        "mode": "profile",
        "verdict": {"drifted": True, "severity": "critical", "drifted_columns": 2, "columns_compared": 4,
                    "share_drifted": 0.5, "magnitude": 0.4123, "insufficient_data": 1},
        "schema": {"added": ["driver_rating"], "removed": ["legacy_code"],
                   "retyped": [{"column": "vendor_id", "baseline": "int64", "target": "string"}]},
        "row_count": {"baseline": 10_000, "target": 12_500, "change": 0.25},
        "settings": {"min_values": 100, "fdr": 0.05, "bins": 10, "bh_applied": True,
                     "notes": ["p-values decide nothing at these sample sizes; effect sizes decide"]},
        "columns": columns,
    }


CHART_COLUMNS = {"trip_distance", "fare_amount", SCRIPT_COLUMN, "payment_type"}


def make_page(**overrides: Any) -> report.ComparisonPage:
    """The context of the sample report; keyword arguments override metadata."""
    meta: dict[str, Any] = dict(
        dataset="taxi trips", monitor="taxi-daily", baseline_name="2024-05-01",
        baseline_created=BASELINE_AT, target_name="2024-06-01", target_created=TARGET_AT,
        generated_at=GENERATED_AT,
    )
    meta.update(overrides)
    return report.comparison_context(make_result(), **meta)


@pytest.fixture()
def written(tmp_path: Path) -> tuple[Path, str]:
    """The sample report written to a reports folder: (path, html)."""
    path = report.write_comparison_report(tmp_path, make_page())
    return path, path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- #
# an HTML checker


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class TreeChecker(HTMLParser):
    """Checks that every element is closed in order; collects sections and SVGs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.column_svgs: dict[str, int] = {}
        self.column_rects: dict[str, int] = {}
        self.column_names: dict[str, str] = {}
        self.hrefs: list[str] = []
        self._section: str | None = None
        self._in_h3 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "section" and "column" in (values.get("class") or "").split():
            self._section = values.get("id")
            self.column_svgs[self._section or ""] = 0
            self.column_rects[self._section or ""] = 0
        if self._section and tag == "svg":
            self.column_svgs[self._section] += 1
        if self._section and tag == "rect":
            self.column_rects[self._section] += 1
        self._in_h3 = tag == "h3"
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()
        if tag == "section" and "section" not in self.stack:
            self._section = None
        if tag == "h3":
            self._in_h3 = False

    def handle_data(self, data: str) -> None:
        if self._in_h3 and self._section:
            self.column_names[self._section] = self.column_names.get(self._section, "") + data


def check_tree(html: str) -> TreeChecker:
    """Parse ``html`` and fail on unbalanced tags."""
    checker = TreeChecker()
    checker.feed(html)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


# --------------------------------------------------------------------------- #
# the comparison report


def test_report_is_written_where_the_design_says(written: tuple[Path, str], tmp_path: Path) -> None:
    path, html = written
    assert path.parent.parent == tmp_path
    assert path.parent.name.startswith("taxi_trips-")
    assert path.name == "2024-06-01__vs__2024-05-01.html"
    assert path.is_file() and html.startswith("<!doctype html>")
    assert (tmp_path / "index.html").is_file()
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_report_loads_nothing_from_the_network(written: tuple[Path, str]) -> None:
    _, html = written
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "@import" not in html
    assert not re.search(r"url\(", html, re.I)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "default-src 'none'" in html


def test_html_is_balanced(written: tuple[Path, str]) -> None:
    _, html = written
    check_tree(html)
    for tag in ("html", "head", "body", "main", "table", "svg", "section"):
        assert len(re.findall(rf"<{tag}[\s>]", html)) == html.count(f"</{tag}>"), tag


def test_every_column_has_a_section_and_a_summary_row(written: tuple[Path, str]) -> None:
    _, html = written
    checker = check_tree(html)
    names = set(checker.column_names.values())
    assert names == {c["column"] for c in make_result()["columns"]}
    for anchor in checker.column_names:
        assert f'href="#{anchor}"' in html


def test_verdict_banner(written: tuple[Path, str]) -> None:
    _, html = written
    assert "Drift detected in 2 of 4 columns" in html
    assert 'class="banner sev-critical"' in html
    assert "2 of 4 (50%)" in html
    assert "10,000 → 12,500 (+25%)" in html
    assert "0.4123" in html
    assert "Benjamini-Hochberg correction applied at FDR 0.05." in html
    assert "effect sizes decide" in html
    assert "profile (computed from the snapshot profiles)" in html
    assert "31 days later" in html
    assert "2024-05-01 06:00 UTC" in html and "2024-06-01 06:00 UTC" in html


def test_no_drift_verdict_and_no_correction() -> None:
    result = make_result()
    result["verdict"].update(drifted=False, severity="none", drifted_columns=0, share_drifted=0.0)
    result["settings"]["bh_applied"] = False
    page = report.comparison_context(
        result, dataset="d", monitor=None, baseline_name="a", baseline_created=BASELINE_AT,
        target_name="b", target_created=TARGET_AT, generated_at=GENERATED_AT,
    )
    html = report.render_comparison(page)
    assert "No drift detected across 4 columns" in html
    assert "Benjamini-Hochberg" not in html
    assert "Monitor" not in html


def test_schema_changes_are_listed(written: tuple[Path, str]) -> None:
    _, html = written
    section = html.split('id="schema"', 1)[1].split("</section>", 1)[0]
    for text in ("driver_rating", "legacy_code", "vendor_id", "int64", "string"):
        assert text in section


def test_names_and_labels_are_escaped(written: tuple[Path, str]) -> None:
    _, html = written
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;column&#39;)&lt;/script&gt;" in html
    assert "&lt;/svg&gt;&lt;script&gt;alert(&#34;label&#34;)&lt;/script&gt;" in html
    assert html.count("<svg") == html.count("</svg>") == len(CHART_COLUMNS)


def test_one_chart_per_column_with_a_distribution(written: tuple[Path, str]) -> None:
    _, html = written
    checker = check_tree(html)
    by_name = {name: anchor for anchor, name in checker.column_names.items()}
    for name, anchor in by_name.items():
        assert checker.column_svgs[anchor] == (1 if name in CHART_COLUMNS else 0), name
    assert checker.column_rects[by_name["fare_amount"]] == 2 * 12
    assert checker.column_rects[by_name["payment_type"]] == 2 * 5
    assert 'class="chart chart-histogram"' in html and 'class="chart chart-categories"' in html


def test_columns_are_sorted_worst_first() -> None:
    names = [c.name for c in make_page().columns]
    assert names[:2] == ["fare_amount", "payment_type"]
    assert names[2] == "tip_rate"
    assert names.index("driver_rating") < names.index("trip_distance")


def test_metric_table_shows_thresholds_and_categories(written: tuple[Path, str]) -> None:
    _, html = written
    fare = html.split('<h3 class="name">fare_amount</h3>', 1)[1].split("</section>", 1)[0]
    assert "ks_statistic" in fare and "≥ 0.1" in fare and "≥ 0.2" in fare
    assert "&lt; 0.000001" in fare and "1.2e-40" not in fare  # p-values below 1e-6 read "< 0.000001"
    assert "<tr><th>n baseline</th><td>9,900</td></tr>" in fare  # details as a two-column table
    payment = html.split('<h3 class="name">payment_type</h3>', 1)[1].split("</section>", 1)[0]
    assert "p ≤ 0.01" in payment and "p ≤ 1e-6" in payment and "0.0003" in payment
    assert "New in target" in payment and "Vanished from target" in payment
    assert "crypto</span> 8%" in payment and "voucher</span> 10%" in payment


def test_missing_rate_and_statistics(written: tuple[Path, str]) -> None:
    _, html = written
    fare = html.split('<h3 class="name">fare_amount</h3>', 1)[1].split("</section>", 1)[0]
    assert "1% → 1.5%" in fare and "+0.5 pp" in fare and "relative +50%" in fare
    assert "<th scope=\"row\">median</th>" in fare and "58" in fare
    added = html.split('<h3 class="name">driver_rating</h3>', 1)[1].split("</section>", 1)[0]
    assert "exists only in the target snapshot" in added
    short = html.split('<h3 class="name">tip_rate</h3>', 1)[1].split("</section>", 1)[0]
    assert "only 12 non-missing values" in short


def test_unknown_severity_and_missing_optional_parts_render() -> None:
    result = make_result()
    del result["schema"], result["settings"]
    result["columns"] = [{"column": "x", "status": "not_comparable"}]
    page = report.comparison_context(
        result, dataset="d", monitor=None, baseline_name="a", baseline_created=BASELINE_AT,
        target_name="b", target_created=TARGET_AT,
    )
    check_tree(report.render_comparison(page))


def test_malformed_result_is_a_monitor_error() -> None:
    result = make_result()
    del result["verdict"]["severity"]
    with pytest.raises(MonitorError, match="malformed comparison result: KeyError\\('severity'\\)"):
        make_page_from(result)


def make_page_from(result: dict[str, Any]) -> report.ComparisonPage:
    """A page from an arbitrary result with the sample metadata."""
    return report.comparison_context(
        result, dataset="d", monitor=None, baseline_name="a", baseline_created=BASELINE_AT,
        target_name="b", target_created=TARGET_AT, generated_at=GENERATED_AT,
    )


def test_naive_datetimes_are_taken_as_utc() -> None:
    page = make_page(baseline_created=datetime(2024, 5, 1, 6, 0))
    assert page.baseline_created == BASELINE_AT


# --------------------------------------------------------------------------- #
# strictness


def test_a_context_missing_a_field_fails_loudly() -> None:
    page = make_page()
    fields = {name: getattr(page, name) for name in page.__dataclass_fields__ if name != "verdict"}
    fields.update(title=page.title, gap=page.gap, mode_label=page.mode_label, meta_json=page.meta_json)
    template = report.environment().get_template("comparison.html")
    with pytest.raises(jinja2.UndefinedError, match="verdict"):
        template.render(page=SimpleNamespace(**fields))


def test_a_column_missing_a_field_fails_loudly() -> None:
    page = make_page()
    column = page.columns[0]
    fields = {name: getattr(column, name) for name in column.__dataclass_fields__ if name != "stats"}
    broken = replace(page, columns=(SimpleNamespace(**fields, deciding=column.deciding),))  # type: ignore[arg-type]
    with pytest.raises(jinja2.UndefinedError):
        report.render_comparison(broken)


def test_environment_is_strict_and_escapes() -> None:
    env = report.environment()
    assert env.autoescape is True
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{% if page.nope %}x{% endif %}").render(page=make_page())
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


# --------------------------------------------------------------------------- #
# the index


def test_index_lists_reports_newest_first_with_relative_links(tmp_path: Path) -> None:
    older = report.write_comparison_report(tmp_path, make_page())
    newer_page = make_page(
        dataset="weather", monitor=None, target_name="2024-07-01", target_created=TARGET_AT + timedelta(days=30),
        generated_at=GENERATED_AT + timedelta(days=30),
    )
    newer = report.write_comparison_report(tmp_path, newer_page)
    index = tmp_path / "index.html"
    html = index.read_text(encoding="utf-8")
    checker = check_tree(html)
    links = [h for h in checker.hrefs if h.endswith(".html")]
    expected = [p.relative_to(tmp_path).as_posix() for p in (newer, older)]
    all_reports = html.split("All reports", 1)[1]
    assert all_reports.index(expected[0]) < all_reports.index(expected[1])
    for link in links:
        assert not link.startswith(("/", "http:", "https:", "file:"))
        assert (index.parent / link).is_file()
    assert "2 reports, newest first" in html
    assert "weather" in html and "taxi trips" in html
    assert "drift in 2 of 4 columns" in html
    assert 'href="../index.html"' in newer.read_text(encoding="utf-8")


def test_rewriting_a_report_replaces_it(tmp_path: Path) -> None:
    report.write_comparison_report(tmp_path, make_page())
    report.write_comparison_report(tmp_path, make_page(generated_at=GENERATED_AT + timedelta(hours=1)))
    page = report.index_context(tmp_path)
    assert len(page.reports) == 1
    assert page.reports[0].generated_at == GENERATED_AT + timedelta(hours=1)


def test_index_reads_only_new_or_replaced_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.report import index

    first = report.write_comparison_report(tmp_path, make_page())
    read: list[Path] = []
    real = index.read_report_metadata
    monkeypatch.setattr(index, "read_report_metadata", lambda path: read.append(path) or real(path))
    assert len(report.index_context(tmp_path).reports) == 1 and read == []  # remembered from the write
    second = report.write_comparison_report(tmp_path, make_page(dataset="weather"))
    assert read == [second]  # the index the write rebuilt read the new report only
    report.write_comparison_report(tmp_path, make_page(generated_at=GENERATED_AT + timedelta(hours=1)))
    assert read[-1] == first  # replaced by rename: read again
    assert {e.generated_at for e in report.index_context(tmp_path).reports} == {
        GENERATED_AT, GENERATED_AT + timedelta(hours=1)}
    second.unlink()
    assert [e.dataset for e in report.index_context(tmp_path).reports] == ["taxi trips"]


def test_index_skips_files_that_are_not_reports(tmp_path: Path) -> None:
    report.write_comparison_report(tmp_path, make_page())
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.html").write_text("<p>hello</p>", encoding="utf-8")
    (tmp_path / "notes" / "broken.html").write_text(
        '<meta name="drift-monitor-report" content="{not json">', encoding="utf-8"
    )
    assert len(report.index_context(tmp_path).reports) == 1


def test_empty_index(tmp_path: Path) -> None:
    html = report.write_index(tmp_path).read_text(encoding="utf-8")
    assert "No reports yet." in html
    check_tree(html)


def test_metadata_round_trips_through_the_report(written: tuple[Path, str]) -> None:
    path, _ = written
    meta = report.read_report_metadata(path)
    assert meta is not None
    assert meta["dataset"] == "taxi trips" and meta["severity"] == "critical"
    assert datetime.fromisoformat(meta["target_created"]) == TARGET_AT


def test_unwritable_reports_dir_is_a_monitor_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(MonitorError, match="cannot write report"):
        report.write_comparison_report(blocker, make_page())


# --------------------------------------------------------------------------- #
# helpers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(None, "—", id="none"),
        pytest.param(1234567, "1,234,567", id="int"),
        pytest.param(0.0123456, "0.01235", id="small"),
        pytest.param(12345.6, "12,346", id="large"),
        pytest.param(0.5, "0.5", id="trailing-zeros"),
        pytest.param(1.2e-40, "1.2e-40", id="tiny"),
        pytest.param(0.0, "0", id="zero"),
        pytest.param(-3.14159, "-3.142", id="negative"),
        pytest.param(float("nan"), "NaN", id="nan"),
        pytest.param(float("inf"), "∞", id="inf"),
        pytest.param(True, "yes", id="bool"),
        pytest.param("text", "text", id="str"),
    ],
)
def test_fmt(value: object, text: str) -> None:
    assert report.fmt(value) == text


def test_percent_filters() -> None:
    assert report_format.pct(0.1234) == "12.3%"
    assert report_format.signed_pct(0.25) == "+25%"
    assert report_format.signed_pct(-0.5) == "-50%"
    assert report_format.pp(0.021) == "+2.1 pp"
    assert report_format.pct(None) == "—"


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        pytest.param("2024-05-01", r"^2024-05-01$", id="unchanged"),
        pytest.param("2024-05-01T06:00:00Z", r"^2024-05-01T06_00_00Z-[0-9a-f]{8}$", id="colons"),
        pytest.param("../../etc/passwd", r"^_\.\._etc_passwd-[0-9a-f]{8}$", id="traversal"),
        pytest.param("", r"^_-[0-9a-f]{8}$", id="empty"),
        pytest.param("..", r"^_-[0-9a-f]{8}$", id="dots"),
    ],
)
def test_safe_name(name: str, pattern: str) -> None:
    safe = report.safe_name(name)
    assert re.match(pattern, safe)
    assert "/" not in safe and safe not in {".", ".."}


def test_safe_names_do_not_collide() -> None:
    assert report.safe_name("a:b") != report.safe_name("a;b")


def test_template_dir_holds_every_template() -> None:
    folder = report.template_dir()
    for name in ("base.html", "comparison.html", "index.html", "_macros.html", "_column.html", "_verdict.html"):
        assert (folder / name).is_file()


def test_template_dir_prefers_the_installed_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "base.html").write_text("", encoding="utf-8")
    monkeypatch.setattr(render.resources, "files", lambda package: tmp_path)
    assert report.template_dir() == tmp_path / "templates"


def test_template_dir_falls_back_to_the_source_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render.resources, "files", lambda package: tmp_path)
    assert report.template_dir() == Path(monitor.__file__).resolve().parent.parent / "templates"


# --------------------------------------------------------------------------- #
# a real browser, when one is installed


@pytest.mark.slow
def test_report_renders_in_a_headless_browser(written: tuple[Path, str], tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no chromium or google-chrome on PATH; the screenshot check needs a headless browser")
    path, _ = written
    shot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             f"--screenshot={shot}", "--window-size=1200,1600", path.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    assert shot.stat().st_size > 10_000


def test_p_values_read_in_plain_decimals_and_below_one_in_a_million() -> None:
    from monitor.report import format as report_format

    assert report_format.p_value(0.0) == "< 0.000001"  # underflowed: below 1e-308, so below 1e-6 too
    assert report_format.p_value(3.2e-40) == report_format.p_value(9.9e-7) == "< 0.000001"
    assert report_format.p_value(1e-6) == "0.000001"
    assert report_format.p_value(3e-4) == "0.0003"
    assert report_format.p_value(0.04123) == "0.041"
    assert report_format.p_value(None) == "—"
    row = report.MetricRow("ks_test", 0.98, 0.0, "p_value", 0.05, None, "critical", True, ())
    assert row.short == "ks_test p < 0.000001"
