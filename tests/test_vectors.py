"""Vector columns in the profile: kind, counts, moments against numpy, the
bottom-k sample (merge equals one pass, uniform, each side in proportion to its
rows), the norms' sketch, and the stored form."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from monitor.profile import compute_profile, profile_from_records, profile_to_records
from monitor.profile.columns import kind_of
from monitor.profile.vectors import VectorSummary, vector_values


def _fixed(x: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])


def _batch(arr: pa.Array, name: str = "v") -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([arr], [name])


def test_kinds_of_list_types() -> None:
    assert kind_of(pa.list_(pa.float32(), 4)) == "vector"
    assert kind_of(pa.list_(pa.float64())) == "vector"
    assert kind_of(pa.large_list(pa.int16())) == "vector"
    assert kind_of(pa.list_(pa.string())) == "string"


def test_moments_match_numpy_across_batches() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(5.0, [1.0, 2.0, 0.5, 10.0], size=(5000, 4))
    profile = compute_profile([_batch(_fixed(x[:1234])), _batch(_fixed(x[1234:4000])), _batch(_fixed(x[4000:]))])
    col = profile.columns["v"]
    v = col.vector
    assert col.kind == "vector" and col.count == 5000 and col.missing == 0 and col.errors == 0
    assert v is not None and v.n == 5000 and v.dim == 4
    np.testing.assert_allclose(v.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(v.variance, x.var(axis=0, ddof=1), rtol=1e-10)
    norms = np.linalg.norm(x, axis=1)
    assert v.norms.n == 5000
    for q in (0.1, 0.5, 0.9):  # the sketch's rank error: about 1.3% at k=200, bound 3% here
        got = v.norms.get_quantile(q)
        assert abs(stats.percentileofscore(norms, got) / 100 - q) < 0.03


def test_ragged_null_and_nan_vectors() -> None:
    arr = pa.array([[1.0, 2.0], [1.0], None, [3.0, float("nan")], [4.0, 5.0], [1.0, 2.0, 3.0], [None, 1.0]],
                   type=pa.list_(pa.float64()))
    col = compute_profile([_batch(arr)]).columns["v"]
    assert (col.count, col.missing, col.errors) == (7, 1, 4)
    assert col.vector is not None and col.vector.n == 2 and col.vector.dim == 2
    np.testing.assert_allclose(col.vector.mean, [2.5, 3.5])
    values, missing, errors = vector_values(arr, 3)
    assert values.shape == (1, 3) and missing == 1 and errors == 5
    empty_first = pa.array([[], None, [1.0, 2.0, 3.0], [4.0]], type=pa.list_(pa.float64()))
    values, missing, errors = vector_values(empty_first, None)
    assert values.tolist() == [[1.0, 2.0, 3.0]] and missing == 1 and errors == 2
    values, missing, errors = vector_values(pa.array([[], []], type=pa.list_(pa.float64())), None)
    assert values.size == 0 and (missing, errors) == (0, 2)


def test_not_a_vector_array_is_refused() -> None:
    with pytest.raises(ValueError, match="as vector"):
        vector_values(pa.array([["a"]]), None)
    a, b = VectorSummary(), VectorSummary()
    a.update(np.ones((3, 2)))
    b.update(np.ones((3, 5)))
    with pytest.raises(ValueError, match="length 2 with vectors of length 5"):
        a.merge(b)


def test_merge_equals_one_pass() -> None:
    rng = np.random.default_rng(5)
    parts = [rng.normal(size=(n, 3)) for n in (700, 1500, 40, 900)]
    one = VectorSummary(size=300)
    for p in parts:
        one.update(p)
    left, right = VectorSummary(size=300), VectorSummary(size=300)
    for p in parts[:2]:
        left.update(p)
    for p in parts[2:]:
        right.update(p)
    merged = left.merge(right)
    assert merged.n == one.n == 3140
    np.testing.assert_array_equal(merged.sample, one.sample)
    np.testing.assert_allclose(merged.mean, one.mean, rtol=1e-12)
    np.testing.assert_allclose(merged.m2, one.m2, rtol=1e-10)
    np.testing.assert_allclose(merged.mean, np.concatenate(parts).mean(axis=0), rtol=1e-12)


def test_sample_is_uniform_over_rows() -> None:
    """Over 300 streams of 2,000 rows in uneven batches, merged from two partial summaries,
    each row is kept with probability 100 / 2000: a chi-square test over 20 blocks of rows."""
    rows, size, reps = 2000, 100, 300
    kept = np.zeros(rows)
    for rep in range(reps):
        x = np.column_stack([np.arange(rows, dtype=np.float64), np.full(rows, rep)])
        a, b = VectorSummary(size=size), VectorSummary(size=size)
        for lo, hi in ((0, 150), (150, 1200)):
            a.update(x[lo:hi])
        for lo, hi in ((1200, 1210), (1210, 2000)):
            b.update(x[lo:hi])
        merged = a.merge(b)
        assert merged.sample.shape == (size, 2)
        kept[merged.sample[:, 0].astype(int)] += 1
    blocks = kept.reshape(20, -1).sum(axis=1)
    expected = reps * size / 20
    p = stats.chisquare(blocks, np.full(20, expected)).pvalue
    assert p > 1e-3, f"inclusion by block {blocks} (expected {expected} each): chi-square p = {p:.2g}"


def test_merge_draws_from_each_side_in_proportion() -> None:
    """A 9,000-row side and a 1,000-row side: the merged sample of 200 holds on average 20 of the
    small side (hypergeometric: sd 4.0; mean over 200 merges within 4 standard errors)."""
    counts = []
    for rep in range(200):
        big, small = VectorSummary(size=200), VectorSummary(size=200)
        big.update(np.column_stack([np.zeros(9000), np.arange(9000.0) + rep * 1e5]))
        small.update(np.column_stack([np.ones(1000), np.arange(1000.0) + rep * 1e5]))
        counts.append(int(big.merge(small).sample[:, 0].sum()))
    sd = stats.hypergeom(10000, 1000, 200).std()
    assert abs(np.mean(counts) - 20.0) < 4 * sd / np.sqrt(200), np.mean(counts)


def test_profile_in_worker_processes_equals_one_pass(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Parquet row groups read by two worker processes (the state is pickled back), against one pass."""
    import pickle

    import pyarrow.parquet as pq

    from monitor.profile import profile_source
    from monitor.profile.parallel import PARALLEL_MIN_CELLS
    from monitor.sources.files import FileSource

    summary = VectorSummary()
    summary.update(np.ones((4, 3)))
    back = pickle.loads(pickle.dumps(summary))
    assert back.norms.n == 4 and np.array_equal(back.sample, summary.sample)
    rng = np.random.default_rng(11)
    rows = max(PARALLEL_MIN_CELLS // 2 + 1000, 4000)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    path = tmp_path / "emb.parquet"
    pq.write_table(pa.table({"emb": _fixed(x), "id": np.arange(rows)}), path, row_group_size=rows // 4)
    parallel = profile_source(FileSource((str(path),)), workers=2).columns["emb"].vector
    single = profile_source(FileSource((str(path),)), workers=1).columns["emb"].vector
    assert parallel is not None and single is not None and parallel.n == single.n == rows
    np.testing.assert_allclose(parallel.mean, x.astype(np.float64).mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(parallel.m2, single.m2, rtol=1e-9)
    assert np.array_equal(np.sort(parallel.keys), np.sort(single.keys))


def test_stored_form_round_trip() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2500, 6)).astype(np.float32)
    profile = compute_profile([pa.RecordBatch.from_arrays([_fixed(x), pa.array(np.arange(2500))], ["emb", "id"])])
    meta, records = profile_to_records(profile)
    assert meta["format_version"] == 3
    back = profile_from_records(meta, records)
    v, w = profile.columns["emb"].vector, back.columns["emb"].vector
    assert v is not None and w is not None
    assert (w.n, w.dim, w.size) == (v.n, v.dim, v.size) == (2500, 6, 1000)
    np.testing.assert_array_equal(w.sample, v.sample)
    np.testing.assert_array_equal(w.keys, v.keys)
    np.testing.assert_array_equal(w.mean, v.mean)
    np.testing.assert_array_equal(w.m2, v.m2)
    assert w.norms.n == 2500 and w.norms.get_quantile(0.5) == v.norms.get_quantile(0.5)
    assert back.columns["id"].numeric is not None and back.columns["id"].vector is None
    merged = back.merge(profile).columns["emb"].vector
    assert merged is not None and merged.n == 5000


def test_json_of_a_vector_column() -> None:
    import json

    from monitor.profile import profile_json

    rng = np.random.default_rng(12)
    x = rng.normal(size=(3000, 5))
    empty = pa.array([None, None], type=pa.list_(pa.float32(), 5))
    profile = compute_profile([pa.RecordBatch.from_arrays([_fixed(x), pa.array(np.zeros(3000))], ["emb", "z"])])
    got = profile_json(profile)["columns"][0]["vector"]
    assert (got["dim"], got["n"], got["sample"]) == (5, 3000, 1000)
    norms = np.linalg.norm(x, axis=1)
    rank = stats.percentileofscore(norms, got["norm_quantiles"]["50%"]) / 100
    assert abs(rank - 0.5) < 0.03  # KLL k=200: rank error about 1.3%
    none = profile_json(compute_profile([_batch(empty)]))["columns"][0]
    assert none["kind"] == "vector" and none["missing"] == 2
    assert set(none["vector"]["norm_quantiles"].values()) == {None}
    json.dumps(none, allow_nan=False)


def test_parts_whose_vectors_differ_in_length_fail_naming_the_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two row groups read by two workers, lists of 4 in one and of 5 in the other: each worker fixes
    its own length, and the merge fails with a SourceError naming the column and both lengths."""
    import pyarrow.parquet as pq

    from monitor.errors import SourceError
    from monitor.profile import profile_source
    from monitor.profile.parallel import PARALLEL_MIN_CELLS
    from monitor.sources.files import FileSource

    rows = PARALLEL_MIN_CELLS // 4 + 1000

    def part(dim: int) -> pa.Table:
        offsets = pa.array(np.arange(0, rows * dim + 1, dim, dtype=np.int32))
        return pa.table({"v": pa.ListArray.from_arrays(offsets, pa.array(np.ones(rows * dim))), "id": np.arange(rows)})

    path = tmp_path / "ragged.parquet"
    pq.write_table(pa.concat_tables([part(4), part(5)]), path, row_group_size=rows)
    with pytest.raises(SourceError, match="column 'v': cannot merge vectors of length [45] with vectors of length [45]"):
        profile_source(FileSource((str(path),)), workers=2)
    one = profile_source(FileSource((str(path),)), workers=1).columns["v"]  # one pass: the first length wins
    assert (one.vector.dim if one.vector else None, one.errors) == (4, rows)
