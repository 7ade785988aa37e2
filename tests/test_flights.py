"""The shipped example on the real NYC flights 2013 data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from monitor.cli import main
from monitor.example import prepare_flights
from monitor.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def flights_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped config, trimmed to February and July, run once on fresh data."""
    base = tmp_path_factory.mktemp("flights")
    prepare_flights(base / "example-data" / "flights")
    (base / "config").mkdir()
    config = yaml.safe_load((ROOT / "config" / "flights.yaml").read_text())
    config["monitors"] = {k: v for k, v in config["monitors"].items() if k in ("february_vs_january", "july_vs_january")}
    (base / "config" / "flights.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["run", "-c", str(base / "config" / "flights.yaml"), "--once"])
    assert result.exit_code == 0, result.output
    return base


def comparison(base: Path, monitor: str) -> dict[str, Any]:
    with Store(base / "example-store" / "monitor.db") as store:
        (record,) = store.list_comparisons(monitor=monitor)
        return record.result


def column(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in result["columns"] if c["column"] == name)


def metric(col: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in col["metrics"] if m["name"] == name)


def dep_delay(base: Path, month: int) -> Any:
    table = pq.read_table(base / "example-data" / "flights" / f"2013-{month:02d}.parquet", columns=["dep_delay"])
    return table.column(0).drop_null().to_numpy()


def test_july_vs_january_dep_delay_ks_matches_scipy_and_is_flagged(flights_run: Path) -> None:
    col = column(comparison(flights_run, "july_vs_january"), "dep_delay")
    ks = metric(col, "ks_statistic")
    expected = stats.ks_2samp(dep_delay(flights_run, 1), dep_delay(flights_run, 7)).statistic
    assert abs(ks["value"] - expected) <= 0.01, (ks["value"], expected)
    assert col["status"] == "drift" and col["severity"] in ("warning", "critical")


def test_february_vs_january_dep_delay_distribution_is_not_flagged(flights_run: Path) -> None:
    # February's distribution of delays did not move; its cancellations did (the 8-9 February
    # blizzard): only the missing rate of dep_delay, up 3 points, is flagged.
    col = column(comparison(flights_run, "february_vs_january"), "dep_delay")
    ks = metric(col, "ks_statistic")
    expected = stats.ks_2samp(dep_delay(flights_run, 1), dep_delay(flights_run, 2)).statistic
    assert abs(ks["value"] - expected) <= 0.01
    for name in ("ks_statistic", "psi", "mean_change"):
        assert metric(col, name)["decides"] and metric(col, name)["severity"] == "none", name
    assert {m["name"] for m in col["metrics"] if m["severity"] != "none"} == {"missing_rate_change"}
    assert col["missing_rate"]["change"] > 0.02


def test_reports_are_on_disk_with_an_index(flights_run: Path) -> None:
    reports = flights_run / "reports"
    index = (reports / "index.html").read_text()
    pages = sorted(p for p in reports.rglob("*.html") if p.name not in ("index.html", "history.html"))
    assert len(pages) == 2 and all("__vs__" in p.name for p in pages)
    for page in pages:
        assert page.relative_to(reports).as_posix() in index
        assert "dep_delay" in page.read_text()
    histories = sorted(p.relative_to(reports).as_posix() for p in reports.rglob("history.html"))
    assert histories == ["february_vs_january/history.html", "july_vs_january/history.html"]
    for history in histories:
        assert history in index
        assert "dep_delay" in (reports / history).read_text()
