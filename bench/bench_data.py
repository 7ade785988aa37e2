"""Seeded 20-column mixed table for the profile benchmark, written as Parquet.

Columns (20): 8 float64 with nulls (``f_*``), 4 int64 (``i_*``), 4 categorical
strings of cardinality 5, 50, 1,000 and 20,000 (``c_*``, Zipf-like frequencies),
2 boolean (``b_*``), 1 UTC timestamp (``ts``) and 1 short free-text string
(``text``, two or three words from a 2,000-word vocabulary).

The file is written in chunks of :data:`ROWS_PER_GROUP` rows, one Parquet row
group per chunk (pyarrow's default row group size), so memory while writing is
bounded by a chunk.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROWS_PER_GROUP = 1_000_000
CARDINALITIES = (5, 50, 1_000, 20_000)
VOCABULARY = 2_000
TS_START = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
TS_SPAN_US = 366 * 86_400 * 1_000_000


def _nullable(values: np.ndarray, rng: np.random.Generator, rate: float) -> pa.Array:
    """An Arrow array of ``values`` with a ``rate`` fraction of nulls."""
    return pa.array(values, mask=rng.random(values.size) < rate)


def _zipf_labels(rng: np.random.Generator, n: int, cardinality: int, prefix: str) -> pa.Array:
    """``n`` string labels ``prefix_00042`` with Zipf(1.1)-like frequencies."""
    weights = 1.0 / np.arange(1, cardinality + 1) ** 1.1
    codes = rng.choice(cardinality, size=n, p=weights / weights.sum()).astype(np.int32)
    labels = pa.array([f"{prefix}_{i:05d}" for i in range(cardinality)])
    return pa.DictionaryArray.from_arrays(pa.array(codes), labels).cast(pa.string())


def _floats(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    zero_inflated = np.where(rng.random(n) < 0.3, 0.0, rng.gamma(2.0, 3.0, n))
    bimodal = np.where(rng.random(n) < 0.4, rng.normal(-2, 0.5, n), rng.normal(3, 1.0, n))
    return {
        "f_normal": _nullable(rng.normal(100.0, 15.0, n), rng, 0.02),
        "f_lognormal": _nullable(rng.lognormal(3.0, 1.0, n), rng, 0.05),
        "f_exponential": _nullable(rng.exponential(2.0, n), rng, 0.01),
        "f_uniform": _nullable(rng.uniform(-1.0, 1.0, n), rng, 0.005),
        "f_student_t": _nullable(rng.standard_t(3.0, n), rng, 0.03),
        "f_bimodal": _nullable(bimodal, rng, 0.02),
        "f_price": _nullable(np.round(rng.lognormal(2.0, 0.8, n), 2), rng, 0.10),
        "f_zero_inflated": _nullable(zero_inflated, rng, 0.01),
    }


def _ints(rng: np.random.Generator, n: int, offset: int) -> dict[str, pa.Array]:
    return {
        "i_quantity": pa.array(rng.poisson(3.0, n).astype(np.int64)),
        "i_age": _nullable(rng.integers(18, 91, n), rng, 0.01),
        "i_amount": pa.array(np.round(rng.lognormal(8.0, 1.5, n)).astype(np.int64)),
        "i_id": pa.array(np.arange(offset, offset + n, dtype=np.int64) * 7 + 1_000_003),
    }


def _text(rng: np.random.Generator, n: int) -> pa.Array:
    words = pa.array([f"w{i}" + "abcdefghij"[: 1 + i % 7] for i in range(VOCABULARY)])
    parts = [words.take(pa.array(rng.integers(0, VOCABULARY, n))) for _ in range(3)]
    two = pc.binary_join_element_wise(parts[0], parts[1], " ")
    three = pc.binary_join_element_wise(two, parts[2], " ")
    return _nullable_strings(pc.if_else(pa.array(rng.random(n) < 0.5), two, three), rng, 0.02)


def _nullable_strings(arr: pa.Array, rng: np.random.Generator, rate: float) -> pa.Array:
    return pc.if_else(pa.array(rng.random(len(arr)) < rate), pa.scalar(None, arr.type), arr)


def chunk(rng: np.random.Generator, n: int, offset: int) -> pa.Table:
    """One chunk of ``n`` rows; ``offset`` is the row number of its first row."""
    cols: dict[str, pa.Array] = {**_floats(rng, n), **_ints(rng, n, offset)}
    for card in CARDINALITIES:
        cols[f"c_{card}"] = _zipf_labels(rng, n, card, f"c{card}")
    cols["b_flag"] = pa.array(rng.random(n) < 0.3)
    cols["b_active"] = _nullable(rng.random(n) < 0.8, rng, 0.01)
    ts = TS_START + rng.integers(0, TS_SPAN_US, n)
    cols["ts"] = _nullable(ts, rng, 0.01).cast(pa.timestamp("us", tz="UTC"))
    cols["text"] = _text(rng, n)
    return pa.table(cols)


def generate(path: Path, rows: int, seed: int = 20240) -> Path:
    """Write the table of ``rows`` rows to ``path`` (Parquet, Snappy) and return it."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    for offset in range(0, rows, ROWS_PER_GROUP):
        table = chunk(rng, min(ROWS_PER_GROUP, rows - offset), offset)
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=ROWS_PER_GROUP)
    if writer is not None:
        writer.close()
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=20240)
    args = parser.parse_args()
    generate(args.path, args.rows, args.seed)


if __name__ == "__main__":
    main()
