"""Stored, JSON and tabular forms of a profile; coercion for exact comparisons."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import datasketches
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from monitor.profile import FORMAT_VERSION, QUANTILE_RANKS, DatasetProfile, compute_profile, profile_source
from monitor.profile import (
    TABLE_COLUMNS,
    coerce,
    finite_values,
    profile_from_records,
    profile_json,
    profile_table,
    profile_to_records,
    typed_batch,
    unpack_sketch,
)
from monitor.sources.files import FileSource


def mixed_profile() -> DatasetProfile:
    rng = np.random.default_rng(0)
    n = 120_000
    wide = rng.lognormal(0, 1, n)
    wide[:2] = [np.inf, -np.inf]
    batch = pa.record_batch({
        "wide": pa.array(wide, mask=rng.random(n) < 0.1),
        "small": pa.array(rng.integers(0, 50, n)),
        "label": pa.array(rng.choice(["a", "b", ""], n)),
        "flag": pa.array(rng.random(n) < 0.5),
        "when": pa.array((1.7e15 + rng.random(n) * 1e12).astype("int64")).cast(pa.timestamp("us", tz="UTC")),
    })
    return compute_profile([batch.slice(0, 70_000), batch.slice(70_000)])


@pytest.fixture(scope="module")
def profile() -> DatasetProfile:
    return mixed_profile()


def stored(profile: DatasetProfile) -> DatasetProfile:
    meta, columns = profile_to_records(profile)
    meta = json.loads(json.dumps(meta, allow_nan=False))
    columns = [{**c, "stats": json.loads(json.dumps(c["stats"], allow_nan=False))} for c in columns]
    return profile_from_records(meta, columns)


def test_records_are_strict_json_and_round_trip(profile: DatasetProfile) -> None:
    meta, columns = profile_to_records(profile)
    assert meta["format_version"] == FORMAT_VERSION == 3
    assert [c["column"] for c in columns] == list(profile.columns) and all(isinstance(c["sketch"], bytes) for c in columns)
    back = stored(profile)
    assert back.row_count == profile.row_count
    for name, a in profile.columns.items():
        b = back.columns[name]
        for attr in ("kind", "count", "missing", "empty", "errors", "distinct", "length_min", "length_max",
                     "length_sum", "timezone"):
            assert getattr(a, attr) == getattr(b, attr), (name, attr)
        da, db = a.distinct_sketch, b.distinct_sketch
        assert db.hashes.tolist() == da.hashes.tolist() and db.theta.theta64 == da.theta.theta64, name
        assert (db.counts is None) == (da.counts is None) == (a.numeric is not None), name
        assert da.counts is None or db.counts.tolist() == da.counts.tolist(), name  # type: ignore[union-attr]
        if a.numeric is not None:
            assert b.numeric is not None
            for attr in ("min", "max", "pos_inf", "neg_inf", "mean", "variance", "kurtosis", "is_exact", "rank_error"):
                assert getattr(a.numeric, attr) == getattr(b.numeric, attr), (name, attr)
            np.testing.assert_array_equal(a.numeric.quantiles(QUANTILE_RANKS), b.numeric.quantiles(QUANTILE_RANKS))
        if a.categories is not None:
            assert b.categories is not None
            for attr in ("counts", "other", "error"):
                assert getattr(a.categories, attr) == getattr(b.categories, attr), (name, attr)


def test_stored_profiles_still_merge(profile: DatasetProfile) -> None:
    merged = stored(profile).merge(stored(profile))
    assert merged.row_count == 2 * profile.row_count
    wide = merged.columns["wide"]
    assert wide.numeric is not None and wide.numeric.n == 2 * profile.columns["wide"].numeric.n  # type: ignore[union-attr]
    assert wide.distinct == pytest.approx(profile.columns["wide"].distinct, rel=0.05)
    small = merged.columns["small"]
    assert small.numeric is not None and small.numeric.is_exact


def test_unknown_version_is_rejected(profile: DatasetProfile) -> None:
    meta, columns = profile_to_records(profile)
    with pytest.raises(ValueError, match="format version 99"):
        profile_from_records({**meta, "format_version": 99}, columns)
    with pytest.raises(ValueError, match="sketch"):
        unpack_sketch(b"XXXX")


def version_1_records() -> tuple[dict[str, object], list[dict[str, object]]]:
    """A profile as format version 1 stored it: KLL and KMV in a ``DMS1`` blob."""
    values = np.arange(1.0, 501.0)
    kll = datasketches.kll_doubles_sketch(4096)
    kll.update(values)
    kll_bytes = kll.serialize()
    hashes = np.arange(500, dtype="<u8") * 1000
    blob = struct.pack("<4sII", b"DMS1", len(kll_bytes), 4096) + kll_bytes + hashes.tobytes()
    numeric = {"n": 500, "mean": 250.5, "m2": float(((values - 250.5) ** 2).sum()), "m3": 0.0,
               "m4": float(((values - 250.5) ** 4).sum()), "min": 1.0, "max": 500.0, "pos_inf": 0,
               "neg_inf": 0, "zeros": 0, "k": 4096}
    base = {"arrow_type": "double", "count": 510, "missing": 10, "empty": 0, "errors": 0,
            "length_min": None, "length_max": None, "length_sum": 0}
    cat_blob = struct.pack("<4sII", b"DMS1", 0, 4096) + (np.arange(2, dtype="<u8") + 7).tobytes()
    cats = {**base, "arrow_type": "string", "missing": 0, "length_min": 1, "length_max": 1, "length_sum": 510,
            "categories": {"counts": {"a": 300, "b": 210}, "other": 0, "cap": 1000}}
    columns = [
        {"column": "x", "position": 0, "kind": "decimal", "stats": {**base, "numeric": numeric}, "sketch": blob},
        {"column": "c", "position": 1, "kind": "categorical", "stats": cats, "sketch": cat_blob},
    ]
    return {"format_version": 1, "row_count": 510, "columns": ["x", "c"]}, columns


def test_version_1_profiles_stay_readable() -> None:
    prof = profile_from_records(*version_1_records())
    x, c = prof.columns["x"], prof.columns["c"]
    assert x.numeric is not None and (x.count, x.missing, x.numeric.n) == (510, 10, 500)
    assert x.numeric.quantiles([0.5])[0] == 250.5 and x.numeric.variance == pytest.approx(np.var(np.arange(1, 501), ddof=1))
    assert x.distinct == 500 and x.distinct_error == 0 and not x.distinct_sketch.complete
    assert c.categories is not None and c.categories.counts == {"a": 300, "b": 210} and c.categories.error == 0
    table = profile_table(prof)
    assert table.loc["x", "50% Quantile"] == 250.5
    assert json.dumps(profile_json(prof), allow_nan=False)


# A profile stored by format 2 (drift-monitor 0.2): the records as that version's
# ``profile_to_records`` wrote them for x = [1.5, 2, 2, None, 3.25, 1.5, 4] and
# c = [a, b, a, c, None, a, b]; the sketches hold exact counts and KMV hashes.
_V2_X_SKETCH = (
    "444d53320000000004000000001000000400000002000000000000000000f83f00000000000000400000000000000a40"
    "000000000000104002000000000000000200000000000000010000000000000001000000000000"
    "00a089a95509a75465f0b6754e87cc5d88c1faaba18ff7e79024ae77cefbeeba95")
_V2_C_SKETCH = "444d5332000000000000000000100000030000000200000093fc913abf61064a6b1b74341b0b77694ddda620dbf286bd"


def version_2_records() -> tuple[dict[str, object], list[dict[str, object]]]:
    base = {"arrow_type": "double", "count": 7, "missing": 1, "empty": 0, "errors": 0, "length_min": None,
            "length_max": None, "length_sum": 0, "declared": False, "timezone": None, "distinct_floor": 0.0}
    numeric = {"n": 6, "mean": 2.375, "m2": 5.21875, "m3": 3.515625, "m4": 8.77099609375, "min": 1.5, "max": 4.0,
               "pos_inf": 0, "neg_inf": 0, "zeros": 0, "k": 8192, "exact_limit": 4096, "precompaction_error": 0.0}
    cats = {**base, "arrow_type": "string", "length_min": 1, "length_max": 1, "length_sum": 6, "distinct": 3.0,
            "categories": {"counts": {"a": 3, "b": 2, "c": 1}, "other": 0, "cap": 1000, "error": 0}}
    columns = [
        {"column": "x", "position": 0, "kind": "decimal", "stats": {**base, "distinct": 4.0, "numeric": numeric},
         "sketch": bytes.fromhex(_V2_X_SKETCH)},
        {"column": "c", "position": 1, "kind": "categorical", "stats": cats, "sketch": bytes.fromhex(_V2_C_SKETCH)},
    ]
    return {"format_version": 2, "row_count": 7, "columns": ["x", "c"]}, columns


def test_version_2_profiles_stay_readable() -> None:
    prof = profile_from_records(*version_2_records())
    x, c = prof.columns["x"], prof.columns["c"]
    xs = pd.Series([1.5, 2.0, 2.0, None, 3.25, 1.5, 4.0])
    assert x.numeric is not None and x.numeric.is_exact and (x.count, x.missing) == (7, 1)
    assert x.numeric.quantiles([0.5])[0] == xs.quantile(0.5) and x.numeric.variance == pytest.approx(xs.var())
    assert (x.distinct, x.distinct_error, c.distinct, c.distinct_error) == (xs.nunique(), 0.0, 3, 0.0)
    assert c.categories is not None and c.categories.counts == {"a": 3, "b": 2, "c": 1}
    # the KMV hashes cannot join a theta sketch: the count is kept, set overlap is not possible
    assert not x.distinct_sketch.complete and not c.distinct_sketch.complete
    shown = {c["name"]: c for c in json.loads(json.dumps(profile_json(prof), allow_nan=False))["columns"]}
    assert (shown["x"]["distinct"], shown["c"]["distinct"]) == (4, 3)
    again = stored(prof)  # stored anew in the current format, the count survives
    assert again.columns["x"].distinct == 4 and not again.columns["x"].distinct_sketch.complete


def test_version_2_estimates_keep_their_kmv_estimate() -> None:
    """A format 2 sketch beyond its K = 4096 hashes: the K-minimum-values estimate
    (K - 1) / (h_K / 2**64) with relative standard error 1/sqrt(K - 2) (Bar-Yossef et al. 2002)."""
    size = 4096
    hashes = np.sort(np.random.default_rng(3).integers(0, 2**52, size, dtype=np.uint64))
    blob = struct.pack("<4sIIIII", b"DMS2", 0, 0, size, size, 2) + hashes.astype("<u8").tobytes()
    meta, columns = version_2_records()
    rec = {**columns[1], "sketch": blob}
    col = profile_from_records(meta, [rec]).columns["c"]
    assert col.distinct == pytest.approx((size - 1) / ((float(hashes[-1]) + 1) / 2.0**64), rel=1e-12)
    assert col.distinct_error == pytest.approx(1 / math.sqrt(size - 2))


def test_version_1_and_2_merge_with_a_distinct_floor() -> None:
    old = profile_from_records(*version_1_records())
    new = compute_profile([pa.record_batch({"x": np.arange(600.0), "c": ["a"] * 600})])
    merged = old.merge(new)
    assert merged.columns["x"].distinct == 600 and merged.columns["x"].distinct_error > 0
    assert merged.columns["x"].numeric.n == 1100  # type: ignore[union-attr]


def test_profile_json_is_strict_and_readable(profile: DatasetProfile) -> None:
    out = profile_json(profile)
    json.dumps(out, allow_nan=False)
    cols = {c["name"]: c for c in out["columns"]}
    assert out["row_count"] == profile.row_count
    wide = cols["wide"]
    assert wide["min"] is None and wide["max"] is None and wide["pos_inf"] == wide["neg_inf"] == 1
    assert set(wide["quantiles"]) == {"0.1%", "1%", "5%", "25%", "50%", "75%", "95%", "99%", "99.9%"}
    assert 0 < wide["rank_error"] < 5e-4 and wide["is_exact"] is False
    when = cols["when"]
    assert when["min"].endswith("Z") and when["quantiles"]["50%"].startswith("20") and when["timezone"] == "UTC"
    assert cols["label"]["categories"]["counts"].keys() == {"a", "b", ""}
    assert cols["label"]["empty"] == cols["label"]["categories"]["counts"][""]
    assert cols["label"]["length"] == {"min": 0, "mean": pytest.approx(profile.columns["label"].length_mean), "max": 1}


def test_table_has_azure_columns(profile: DatasetProfile) -> None:
    table = profile_table(profile)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert TABLE_COLUMNS[:9] == ["Type", "Min", "Max", "Count", "Missing Count", "Not Missing Count",
                                 "Percent missing", "Error Count", "Empty count"]
    assert "99.9% Quantile" in TABLE_COLUMNS and "Kurtosis" in TABLE_COLUMNS
    small = profile.columns["small"]
    assert small.numeric is not None
    assert table.loc["small", "Count"] == small.count and table.loc["small", "Mean"] == small.numeric.mean
    assert (table.loc["flag", "Min"], table.loc["flag", "Max"]) == (False, True)
    assert isinstance(table.loc["when", "50% Quantile"], pd.Timestamp)
    assert isinstance(table.loc["when", "Standard Deviation"], pd.Timedelta)
    assert table.loc["label", "Min length"] == 0 and table.loc["label", "Mean"] is None


def test_coerce_matches_the_profile_representation() -> None:
    values, errors = coerce(pa.array(["1", "x", None, " 2 ", ""]), "integer")
    assert values.to_pylist() == [1.0, None, None, 2.0, None] and errors == 1
    stamps = pa.array([0, 1_500_000], type=pa.timestamp("us"))
    assert coerce(stamps, "datetime")[0].to_pylist() == [0.0, 1.5]
    assert coerce(pa.array([1, 2]).dictionary_encode(), "categorical")[0].to_pylist() == ["1", "2"]
    assert coerce(pa.array(["yes", "n", "?"]), "boolean") == (pa.array([True, False, None]), 1)
    np.testing.assert_array_equal(finite_values(pa.array([1.0, None, math.nan, math.inf]), "decimal"), [1.0, math.inf])


def test_typed_batch_converts_csv_text_to_the_profiled_kinds(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("n,x,ok,when,name,code\n1,1.5,true,2024-01-01,a,1\n2,x,no,2024-01-02,b,2\n,2,yes,,c,1\n")
    source = FileSource((str(path),))
    profile = profile_source(source, progress=False)
    batch = typed_batch(next(iter(source.iter_batches())), profile)
    assert batch.schema.types == [pa.int64(), pa.string(), pa.bool_(), pa.timestamp("us", tz="UTC"), pa.string(), pa.int64()]
    assert batch.column(0).to_pylist() == [1, 2, None]
    plain = pa.record_batch({"a": [1]})
    assert typed_batch(plain, profile) is plain
