"""The profile's sample of whole rows (monitor.profile.rows): kept only when asked,
merge equal to one pass, uniform over rows, whole rows (every sampled row is a row
of the data, whatever split of the columns read it), values in their kind's form,
the stored form and profiles stored without it."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from monitor.profile import compute_profile, profile_from_records, profile_source, profile_to_records
from monitor.profile.columns import ColumnSpec
from monitor.profile.rows import RowSample, pack_rows, unpack_rows
from monitor.sources.files import FileSource


def _table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    return pa.table({
        "id": np.arange(rows),
        "x": x,
        "y": 2.0 * x + rng.normal(size=rows),
        "flag": rng.random(rows) < 0.3,
        "city": pa.array(rng.choice(["Paris", "Lyon", "Nice"], rows)).dictionary_encode(),
        "note": [f"free text {i}" for i in range(rows)],
        "when": pa.array((1_700_000_000 + np.arange(rows) * 60) * 1_000_000, pa.timestamp("us", tz="UTC")),
    })


def test_no_sample_unless_asked() -> None:
    table = _table(300, 1)
    assert compute_profile(table.to_batches()).row_sample is None
    sample = compute_profile(table.to_batches(), row_sample=50).row_sample
    assert sample is not None and sample.rows == 50


def test_sampled_rows_are_rows_of_the_data_in_their_kinds_form() -> None:
    """Each sampled row equals the data's row of its id: numbers as float64, booleans 0/1,
    datetimes as epoch seconds, categories as text; free text (kind string) is left out."""
    table = _table(5000, 2)
    profile = compute_profile(table.to_batches(max_chunksize=700), row_sample=400)
    sample = profile.row_sample
    assert sample is not None and sample.rows == 400
    assert profile.columns["note"].kind == "string" and profile.columns["city"].kind == "categorical"
    assert list(sample.kinds) == ["id", "x", "y", "flag", "city", "when"]
    assert sample.kinds["city"] == "category" and sample.kinds["flag"] == "number"
    ids = sample.values["id"].astype(int)
    assert len(set(ids)) == 400
    df = table.to_pandas()
    np.testing.assert_array_equal(sample.values["x"], df["x"].to_numpy()[ids])
    np.testing.assert_array_equal(sample.values["y"], df["y"].to_numpy()[ids])
    np.testing.assert_array_equal(sample.values["flag"], df["flag"].to_numpy()[ids].astype(float))
    assert list(sample.values["city"]) == list(df["city"].astype(str).to_numpy()[ids])
    micros = table.column("when").cast(pa.int64()).to_numpy()
    np.testing.assert_array_equal(sample.values["when"], micros[ids] / 1e6)
    assert np.all(np.diff(sample.keys) >= 0)


def test_csv_text_is_parsed_and_missing_values_stay_missing(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,d\n" + "".join(f"{i},{'' if i % 7 == 0 else i * 0.5},{'true' if i % 2 else 'false'},"
                                          f"{'xyz'[i % 3]}\n" for i in range(600)))
    profile = profile_source(FileSource((str(path),)), row_sample=100)
    sample = profile.row_sample
    assert sample is not None and sample.rows == 100
    a = sample.values["a"].astype(int)
    expected_b = np.where(a % 7 == 0, np.nan, a * 0.5)
    np.testing.assert_array_equal(sample.values["b"], expected_b)
    np.testing.assert_array_equal(sample.values["c"], (a % 2).astype(float))
    assert list(sample.values["d"]) == ["xyz"[i % 3] for i in a]


def test_merge_equals_one_pass() -> None:
    """profile(A + B) == merge(profile(A), profile(B)) for the same batches, as for vectors."""
    table = _table(6000, 3)
    batches = table.to_batches(max_chunksize=900)
    one = compute_profile(batches, row_sample=500)
    left, right = compute_profile(batches[:3], row_sample=500), compute_profile(batches[3:], row_sample=500)
    merged = left.merge(right)
    assert merged.row_sample is not None and one.row_sample is not None
    assert merged.row_sample == one.row_sample
    assert right.merge(left).row_sample == one.row_sample


def test_merge_with_a_profile_without_sample_has_none() -> None:
    table = _table(1000, 4)
    with_sample = compute_profile(table.to_batches(), row_sample=100)
    without = compute_profile(table.to_batches())
    assert with_sample.merge(without).row_sample is None
    assert with_sample.merge(compute_profile([], row_sample=None)).row_sample == with_sample.row_sample


def test_sample_is_uniform_over_rows() -> None:
    """Over 300 streams of 2,000 rows in uneven batches, merged from two partial profiles'
    samples, each row is kept with probability 100 / 2000: a chi-square test over 20 blocks."""
    rows, size, reps = 2000, 100, 300
    kept = np.zeros(rows)
    for rep in range(reps):
        table = pa.table({"id": np.arange(rows), "rep": np.full(rows, rep)})
        a, b = RowSample(size), RowSample(size)
        spec = {"id": ColumnSpec("integer"), "rep": ColumnSpec("integer")}
        for lo, hi in ((0, 150), (150, 1200)):
            a.update(table.slice(lo, hi - lo).to_batches()[0], spec)
        for lo, hi in ((1200, 1210), (1210, 2000)):
            b.update(table.slice(lo, hi - lo).to_batches()[0], spec)
        merged = a.merge(b)
        assert merged.rows == size
        kept[merged.values["id"].astype(int)] += 1
    blocks = kept.reshape(20, -1).sum(axis=1)
    expected = reps * size / 20
    p = stats.chisquare(blocks, np.full(20, expected)).pvalue
    assert p > 1e-3, f"inclusion by block {blocks} (expected {expected} each): chi-square p = {p:.2g}"


def test_stored_form_round_trip_and_profiles_stored_without_it() -> None:
    table = _table(3000, 5)
    profile = compute_profile(table.to_batches(max_chunksize=1000), row_sample=300)
    meta, records = profile_to_records(profile)
    assert isinstance(meta["row_sample"], str)
    back = profile_from_records(meta, records)
    assert back.row_sample == profile.row_sample
    assert unpack_rows(base64.b64decode(meta["row_sample"])) == profile.row_sample
    assert pickle.loads(pickle.dumps(profile.row_sample)) == profile.row_sample
    old_meta = {k: v for k, v in meta.items() if k != "row_sample"}  # as every profile stored before
    old = profile_from_records(old_meta, records)
    assert old.row_sample is None and old.row_count == 3000
    assert profile_to_records(old)[0] == old_meta
    with pytest.raises(ValueError, match="not a row sample"):
        unpack_rows(b"garbage")
    assert unpack_rows(pack_rows(RowSample(7))) == RowSample(7)


def test_parquet_split_by_columns_and_workers_sample_whole_rows(tmp_path: Path) -> None:
    """Row groups read by two worker processes and split by columns: the sample is the one
    of a single in-process pass, and each of its rows is a row of the file."""
    from monitor.profile.parallel import PARALLEL_MIN_CELLS

    rows = PARALLEL_MIN_CELLS // 5 + 1000
    table = _table(rows, 6).drop_columns(["note"])
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=rows // 3)
    parallel = profile_source(FileSource((str(path),)), workers=2, row_sample=500).row_sample
    single = profile_source(FileSource((str(path),)), workers=1, row_sample=500).row_sample
    assert parallel is not None and single is not None
    assert parallel == single
    ids = parallel.values["id"].astype(int)
    np.testing.assert_array_equal(parallel.values["y"], table.column("y").to_numpy()[ids])
    cities = table.column("city").to_pylist()
    assert list(parallel.values["city"]) == [cities[i] for i in ids]


def test_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 row"):
        RowSample(0)
