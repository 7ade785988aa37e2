"""The summaries against the library: KLL sketches built in DataSketches'
serialised form by hand (:mod:`monitor.profile.kll`) round-trip through the
``datasketches`` package and merge with sketches it built; the home-made
Misra-Gries category counter meets the bounds of ``docs/profile.md``.

Why hand-built images and a home-made counter rather than the library's own
updates: see ``docs/profile.md`` ("Why not the library's update") and
``bench/sketch_bench.py``."""

from __future__ import annotations

import math
import struct

import datasketches
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from monitor.profile import NumericSummary, compact_sorted, compaction_level
from monitor.profile.accumulators import ColumnAccumulator
from monitor.profile.columns import ColumnSpec

K = 8192


def read_image(blob: bytes) -> dict[str, object]:
    """What a serialised ``kll_doubles_sketch`` says, read from its bytes (DataSketches'
    layout: 8 preamble bytes with k at offset 4, n as uint64 at 8, the number of levels
    at 18, level offsets (uint32, into a buffer of the sketch's capacity) from 20, then
    min, max and the retained items, level 0 first). Each item weighs ``2**level``.

    (The library's own iterator cannot serve here: it reports weight 1 for every item
    when level 0 is empty, as it is in these images and often after the library's own
    merges.)"""
    k, = struct.unpack_from("<H", blob, 4)
    n, = struct.unpack_from("<Q", blob, 8)
    levels = blob[18]
    bounds = np.frombuffer(blob, dtype="<u4", count=levels, offset=20).astype(np.int64)
    lo, hi = struct.unpack_from("<dd", blob, 20 + 4 * levels)
    items = np.frombuffer(blob, dtype="<f8", offset=36 + 4 * levels)
    ends = np.append(bounds[1:], bounds[0] + items.size) - bounds[0]
    starts = bounds - bounds[0]
    weights = np.concatenate([np.full(e - b, 1 << lvl, dtype=np.int64)
                              for lvl, (b, e) in enumerate(zip(starts, ends))])
    order = np.argsort(items, kind="stable")
    sizes = (ends - starts).tolist()
    return {"k": k, "n": n, "min": lo, "max": hi, "items": items[order], "weights": weights[order], "sizes": sizes}


def hand_built(values: np.ndarray) -> tuple[object, int]:
    """A batch compacted into a KLL image the way the profile does (sorted, then
    every 2**h-th value), and its level h."""
    h = compaction_level(values.size, K)
    return compact_sorted(np.sort(values), K, h), h


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hand_built_images_round_trip_through_the_library(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(rng.normal(), 1.5, int(rng.integers(70_000, 500_000)))
    sketch, h = hand_built(values)
    blob = sketch.serialize()  # type: ignore[attr-defined]
    back = datasketches.kll_doubles_sketch.deserialize(blob)
    assert bytes(back.serialize()) == bytes(blob)

    # what the image claims: n values, exact min and max, n >> h items of weight 2**h and
    # one item per binary digit of the rest; the library reads the same
    image = read_image(bytes(blob))
    items, weights = image["items"], image["weights"]
    assert isinstance(items, np.ndarray) and isinstance(weights, np.ndarray)
    assert image["n"] == back.n == values.size == int(weights.sum()) and image["k"] == back.k == K
    assert (image["min"], image["max"]) == (back.get_min_value(), back.get_max_value()) == (values.min(), values.max())
    rest = values.size - (values.size >> h << h)
    sizes = image["sizes"]
    assert isinstance(sizes, list) and not any(sizes[h + 1:])
    assert sizes[: h + 1] == [(rest >> i) & 1 for i in range(h)] + [values.size >> h]
    assert back.num_retained == items.size and back.is_estimation_mode()

    # the library's ranks and quantiles are those of the weighted items, exactly
    cum = np.cumsum(weights)
    points = np.quantile(values, np.linspace(0.0005, 0.9995, 101))
    want_ranks = cum[np.searchsorted(items, points, side="right") - 1] / values.size
    np.testing.assert_array_equal(np.asarray(back.get_cdf(points.tolist(), True))[:-1], want_ranks)
    assert [back.get_rank(float(x), True) for x in points[:5]] == want_ranks[:5].tolist()
    ranks = np.linspace(0.001, 0.999, 99)
    want_q = items[np.searchsorted(cum, np.ceil(ranks * values.size), side="left")]
    np.testing.assert_array_equal(np.asarray(back.get_quantiles(ranks.tolist(), True)), want_q)

    # and they are within the stated bound of the data's: less than 2**h from the compaction
    truth = np.searchsorted(np.sort(values), points, side="right")
    assert np.max(np.abs(want_ranks * values.size - truth)) < (1 << h)


def test_hand_built_images_merge_with_library_built_sketches() -> None:
    rng = np.random.default_rng(7)
    hand_values = rng.normal(0.0, 1.0, 400_000)
    lib_values = rng.normal(0.5, 2.0, 150_000)
    hand, h = hand_built(hand_values)
    library = datasketches.kll_doubles_sketch(K)
    library.update(lib_values)
    union = np.sort(np.concatenate([hand_values, lib_values]))
    points = np.quantile(union, [0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999])
    truth = np.searchsorted(union, points, side="right") / union.size
    bound = library.normalized_rank_error(False) + (1 << h) / union.size
    for left, right in ((hand, library), (library, hand)):
        merged = datasketches.kll_doubles_sketch.deserialize(left.serialize())  # type: ignore[attr-defined]
        merged.merge(datasketches.kll_doubles_sketch.deserialize(right.serialize()))  # type: ignore[attr-defined]
        assert merged.n == union.size
        assert (merged.get_min_value(), merged.get_max_value()) == (union[0], union[-1])
        got = np.asarray(merged.get_cdf(points.tolist(), True))[:-1]
        assert np.max(np.abs(got - truth)) <= bound
        again = datasketches.kll_doubles_sketch.deserialize(merged.serialize())
        assert again.n == merged.n and again.get_quantiles([0.5], True) == merged.get_quantiles([0.5], True)


def test_profile_sketches_are_library_sketches() -> None:
    """A numeric summary past its exact mode holds a library sketch that serialises,
    deserialises and merges with one the library built from the same kind of data."""
    rng = np.random.default_rng(3)
    summary = NumericSummary()
    for _ in range(3):
        summary.update(rng.exponential(2.0, 300_000))
    assert not summary.is_exact and summary.precompaction_error > 0
    back = datasketches.kll_doubles_sketch.deserialize(summary.kll.serialize())
    assert back.n == summary.n == 900_000 and back.get_max_value() == summary.max
    library = datasketches.kll_doubles_sketch(K)
    library.update(rng.exponential(2.0, 100_000))
    back.merge(library)
    assert back.n == 1_000_000
    assert back.get_quantile(0.5, True) == pytest.approx(2.0 * math.log(2.0), rel=0.01)


@pytest.mark.parametrize("capacity", [20, 200])
def test_category_counter_meets_the_documented_bounds(capacity: int) -> None:
    """Misra-Gries with ``capacity`` counters (Agarwal et al. 2012): every count is
    low by at most ``error <= total / (capacity + 1)``, and every label more frequent
    than that is listed; through both counting paths (labels, and hashes of long
    mostly distinct chunks)."""
    rng = np.random.default_rng(capacity)
    weights = 1.0 / np.arange(1, 3001) ** 1.2
    frequent = np.array([f"z{i}" for i in rng.choice(3000, 180_000, p=weights / weights.sum())])
    unique = np.array([f"u{i}" for i in range(120_000)])
    values = rng.permutation(np.concatenate([frequent, unique]))
    acc = ColumnAccumulator("c", ColumnSpec("string"), cap=capacity // 10)
    for part in np.array_split(values, 3):
        acc.update(pa.array(part))
    counter = acc.counter
    assert counter is not None and counter.capacity == capacity
    total = values.size
    truth = pd.Series(values).value_counts()
    listed = dict(zip(counter.labels.to_pylist(), counter.counts.tolist()))
    assert 0 < counter.error <= total / (capacity + 1)
    for label, count in listed.items():
        assert truth[label] - counter.error <= count <= truth[label]
    assert set(truth[truth > total / (capacity + 1)].index) <= set(listed)
    assert set(truth[truth > counter.error].index) <= set(listed)
