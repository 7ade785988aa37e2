"""Decision rules beyond the metrics' values: missing rates from row counts, all-null
columns, the insufficient-data verdict, relative thresholds, removed columns, the
row-count metric and the magnitude's properties."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from monitor.drift import DriftSettings, compare_data, compare_profiles
from monitor.errors import ConfigError
from monitor.profile import compute_profile


def profile(table: pa.Table):  # type: ignore[no-untyped-def]
    return compute_profile(table.to_batches(), types=None)


def both(a: pa.Table, b: pa.Table, settings: DriftSettings | None = None):  # type: ignore[no-untyped-def]
    return compare_profiles(profile(a), profile(b), settings), compare_data(a, b, settings)


def with_nulls(values: np.ndarray, mask: np.ndarray) -> pa.Array:
    return pa.array(values, mask=mask)


# ---------------------------------------------------------------------------
# missing values and emptiness


@pytest.mark.parametrize("rows", [150, 5000])
def test_a_column_that_becomes_all_null_is_drift_not_insufficient_data(rows: int) -> None:
    rng = np.random.default_rng(rows)
    a = pa.table({"x": rng.normal(size=rows), "y": rng.normal(size=rows)})
    b = pa.table({"x": pa.nulls(rows, pa.float64()), "y": rng.normal(size=rows)})
    for result in both(a, b):
        col = result.column("x")
        missing = col.metric("missing_rate_change")
        assert col.status == "drift" and col.severity in ("warning", "critical")
        assert missing.detail["all_missing"] == "target" and missing.severity != "none"
        assert col.magnitude == 1.0 and result.verdict.magnitude == 1.0
        assert result.verdict.drifted and result.verdict.status == "drift"
        assert "entirely missing" in col.reason and "no values" in col.reason


def test_a_column_that_fills_up_after_being_all_null_is_drift() -> None:
    rng = np.random.default_rng(2)
    a = pa.table({"x": pa.nulls(400, pa.float64())})
    b = pa.table({"x": rng.normal(size=400)})
    for result in both(a, b):
        col = result.column("x")
        assert col.status == "drift" and col.metric("missing_rate_change").detail["all_missing"] == "baseline"
        assert col.magnitude == 1.0


def test_going_all_null_by_chance_in_a_tiny_mostly_null_sample_is_not_drift() -> None:
    # 98% missing: 100 rows with no value on one side is likely (13%), so not significant
    rng = np.random.default_rng(5)
    base = rng.normal(size=100)
    a = pa.table({"x": with_nulls(base, np.arange(100) >= 2)})  # 2 values of 100
    b = pa.table({"x": pa.nulls(100, pa.float64())})
    for result in both(a, b):
        assert result.column("x").status == "insufficient_data"
        assert not result.verdict.drifted and result.verdict.status == "insufficient_data"


def test_missing_rate_decides_from_rows_when_values_are_too_few() -> None:
    # 300 rows each side, 50 values then 250 values: too few values to compare distributions,
    # enough rows to see the missing rate fall from 83% to 17%
    rng = np.random.default_rng(6)
    a = pa.table({"x": with_nulls(rng.normal(size=300), np.arange(300) >= 50)})
    b = pa.table({"x": with_nulls(rng.normal(size=300), np.arange(300) >= 250)})
    for result in both(a, b):
        col = result.column("x")
        assert col.status == "drift" and "min_values" in col.reason
        assert col.metric("missing_rate_change").severity == "critical"
        assert not col.metric("ks_statistic").decides


def test_every_column_insufficient_is_its_own_verdict() -> None:
    rng = np.random.default_rng(7)
    a = pa.table({"x": rng.normal(size=40), "c": rng.choice(["a", "b"], 40)})
    b = pa.table({"x": rng.normal(size=40), "c": rng.choice(["a", "b"], 40)})
    for result in both(a, b):
        v = result.verdict
        assert v.status == "insufficient_data" and not v.drifted and v.insufficient_data == 2
        assert result.to_dict()["verdict"]["status"] == "insufficient_data"
    enough = compare_data(pa.table({"x": rng.normal(size=400)}), pa.table({"x": rng.normal(size=400)}))
    assert enough.verdict.status == "no_drift"


# ---------------------------------------------------------------------------
# relative thresholds and validation


def test_relative_threshold_flags_a_doubled_small_missing_rate() -> None:
    # 0.5% -> 1.0% missing at 100k rows: 0.005 absolute (below 0.02), 100% relative
    rows = 100_000
    rng = np.random.default_rng(8)
    a = pa.table({"x": with_nulls(rng.normal(size=rows), rng.random(rows) < 0.005)})
    b = pa.table({"x": with_nulls(rng.normal(size=rows), rng.random(rows) < 0.010)})
    plain = compare_profiles(profile(a), profile(b)).column("x")
    assert plain.metric("missing_rate_change").severity == "none"
    settings = DriftSettings.from_config({"missing_rate_change": {"relative_warning": 0.5}})
    flagged = compare_profiles(profile(a), profile(b), settings).column("x")
    metric = flagged.metric("missing_rate_change")
    assert metric.severity == "warning" and metric.relative_warning == 0.5
    assert metric.detail["decision_relative"] == pytest.approx(
        abs(b.column("x").null_count - a.column("x").null_count) / a.column("x").null_count, rel=1e-9)
    assert "relative change" in flagged.reason


def test_relative_keys_are_refused_where_a_metric_has_no_relative_form() -> None:
    with pytest.raises(ConfigError, match=r"thresholds\.psi\.relative_warning: unknown key"):
        DriftSettings.from_config({"psi": {"relative_warning": 0.5}})
    with pytest.raises(ConfigError, match=r"relative_critical: 0\.1 is below the relative_warning threshold 0\.5"):
        DriftSettings.from_config({"missing_rate_change": {"relative_warning": 0.5, "relative_critical": 0.1}})


# ---------------------------------------------------------------------------
# schema and volume


def test_a_removed_column_is_a_warning_unless_silenced() -> None:
    rng = np.random.default_rng(9)
    a = pa.table({"x": rng.normal(size=500), "gone": rng.normal(size=500)})
    b = pa.table({"x": rng.normal(size=500), "new": rng.normal(size=500)})
    result = compare_profiles(profile(a), profile(b))
    assert result.column("gone").status == "drift" and result.column("gone").severity == "warning"
    assert result.column("new").status == "added" and result.column("new").severity == "none"
    assert result.verdict.drifted and result.verdict.magnitude == 1.0
    quiet = compare_profiles(profile(a), profile(b), DriftSettings.from_config({"column_removed": {"warning": None}}))
    assert quiet.column("gone").status == "removed" and not quiet.verdict.drifted


def test_row_count_change_is_off_by_default_and_decides_when_set() -> None:
    rng = np.random.default_rng(10)
    a, b = pa.table({"x": rng.normal(size=1000)}), pa.table({"x": rng.normal(size=400)})
    default = compare_profiles(profile(a), profile(b))
    rows = default.metrics[0]
    assert rows.name == "row_count_change" and rows.value == 600 and not rows.decides
    assert not default.verdict.drifted
    settings = DriftSettings.from_config({"row_count_change": {"relative_warning": 0.5, "relative_critical": 0.9}})
    result = compare_profiles(profile(a), profile(b), settings)
    assert result.metrics[0].severity == "warning" and result.verdict.drifted
    assert result.verdict.severity == "warning" and result.verdict.drifted_columns == 0
    absolute = compare_profiles(profile(a), profile(b), DriftSettings.from_config({"row_count_change": {"warning": 500}}))
    assert absolute.metrics[0].severity == "warning"
    assert result.to_dict()["metrics"][0]["detail"]["signed"] == -600


# ---------------------------------------------------------------------------
# magnitude


def test_magnitude_is_one_for_disjoint_categories() -> None:
    a = pa.table({"c": pa.array([f"a{i % 20}" for i in range(2000)])})
    b = pa.table({"c": pa.array([f"b{i % 20}" for i in range(2000)])})
    for result in both(a, b):
        assert result.column("c").magnitude == 1.0 and result.verdict.magnitude == 1.0


def test_magnitude_does_not_depend_on_the_number_of_rows() -> None:
    # the same empirical distributions at 1k and 100k rows: one table repeated 100 times
    rng = np.random.default_rng(11)
    a = pa.table({"x": rng.normal(size=1000), "c": rng.choice(["a", "b", "c"], 1000, p=[0.5, 0.3, 0.2])})
    b = pa.table({"x": rng.normal(0.5, 1, 1000), "c": rng.choice(["a", "b", "c"], 1000, p=[0.3, 0.3, 0.4])})
    small = compare_data(a, b)
    big = compare_data(pa.concat_tables([a] * 100), pa.concat_tables([b] * 100))
    for name in ("x", "c"):
        assert small.column(name).magnitude == pytest.approx(big.column(name).magnitude, abs=0.01)
    assert small.verdict.drifted and big.verdict.drifted
    assert small.verdict.magnitude == pytest.approx(big.verdict.magnitude, abs=0.01)


def test_magnitude_ignores_columns_that_did_not_drift_and_grows_with_the_effect() -> None:
    rng = np.random.default_rng(12)
    base = {"x": rng.normal(size=3000)}
    steady = {f"s{i}": rng.normal(size=3000) for i in range(10)}
    mags = []
    for shift in (0.5, 1.0, 2.0):
        a = pa.table(base)
        b = pa.table({"x": base["x"] + shift})
        wide_a = pa.table({**base, **steady})
        wide_b = pa.table({"x": base["x"] + shift, **steady})
        narrow, wide = compare_data(a, b), compare_data(wide_a, wide_b)
        assert narrow.verdict.magnitude == pytest.approx(wide.verdict.magnitude)
        mags.append(narrow.verdict.magnitude)
    assert mags[0] < mags[1] < mags[2] <= 1.0


def test_magnitude_counts_a_missing_rate_change_and_a_type_change() -> None:
    rng = np.random.default_rng(13)
    values = rng.normal(size=2000)
    a = pa.table({"x": values, "t": values})
    b = pa.table({"x": with_nulls(values, np.arange(2000) < 600), "t": pa.array([f"v{v:.3f}" for v in values])})
    result = compare_data(a, b)
    assert result.column("x").magnitude == pytest.approx(0.3)
    assert result.column("t").magnitude == 1.0


def test_magnitude_is_one_when_a_high_cardinality_column_is_replaced_in_profile_mode() -> None:
    # 5,000 categories (beyond the profile's category cap: every cell is "other") replaced by 5,000 new ones
    a = pa.table({"c": pa.array([f"old{i % 5000}" for i in range(50_000)])})
    b = pa.table({"c": pa.array([f"new{i % 5000}" for i in range(50_000)])})
    for result in both(a, b):
        col = result.column("c")
        assert col.metric("new_values").value == pytest.approx(1.0, abs=0.02)
        assert col.status == "drift" and col.magnitude == pytest.approx(1.0, abs=0.02)
        assert result.verdict.magnitude == col.magnitude
