"""Seeded 20-column mixed table for the profile benchmark, written as Parquet,
CSV (optionally gzip-compressed) or JSON Lines.

Columns (20): 8 float64 with nulls (``f_*``), 4 int64 (``i_*``), 4 categorical
strings of cardinality 5, 50, 1,000 and 20,000 (``c_*``, Zipf-like frequencies),
2 boolean (``b_*``), 1 UTC timestamp (``ts``) and 1 short free-text string
(``text``, two or three words from a 2,000-word vocabulary).

The file is written in chunks of :data:`ROWS_PER_GROUP` rows, one Parquet row
group per chunk (pyarrow's default row group size), so memory while writing is
bounded by a chunk. The same seed gives the same rows in every format: CSV as
``pyarrow.csv`` writes it (strings quoted, timestamps ``2024-01-31
10:00:00.123456Z``), JSON Lines one object a line (null for a missing value,
timestamps as ISO 8601 strings).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
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


def chunks(rows: int, seed: int = 20240) -> Iterator[pa.Table]:
    """The table of ``rows`` rows in chunks of :data:`ROWS_PER_GROUP` rows."""
    rng = np.random.default_rng(seed)
    for offset in range(0, rows, ROWS_PER_GROUP):
        yield chunk(rng, min(ROWS_PER_GROUP, rows - offset), offset)


def generate(path: Path, rows: int, seed: int = 20240) -> Path:
    """Write the table of ``rows`` rows to ``path`` (Parquet, Snappy) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    for table in chunks(rows, seed):
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=ROWS_PER_GROUP)
    if writer is not None:
        writer.close()
    tmp.replace(path)
    return path


def generate_csv(path: Path, rows: int, seed: int = 20240) -> Path:
    """Write the table as CSV to ``path`` (gzip-compressed when it ends in ``.gz``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    sink = pa.CompressedOutputStream(str(tmp), "gzip") if path.suffix == ".gz" else pa.OSFile(str(tmp), "wb")
    with sink:
        writer = None
        for table in chunks(rows, seed):
            writer = writer or pa_csv.CSVWriter(sink, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return path


def _json_values(column: pa.Array) -> pa.Array:
    """A column's values as JSON text (the generated strings need no escaping)."""
    t = column.type
    if pa.types.is_string(t) or pa.types.is_timestamp(t):
        text = pc.binary_join_element_wise('"', column.cast(pa.string()), '"', "")
    else:
        text = column.cast(pa.string())
    return pc.fill_null(text, "null")


def generate_jsonl(path: Path, rows: int, seed: int = 20240) -> Path:
    """Write the table as JSON Lines to ``path``, one object a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        for table in chunks(rows, seed):
            parts: list[object] = []
            for i, name in enumerate(table.column_names):
                parts += [("{" if i == 0 else ",") + f'"{name}":', _json_values(table.column(name).combine_chunks())]
            lines = pc.binary_join_element_wise(*parts, "}\n", "").cast(pa.large_string())
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset: lines.offset + len(lines) + 1]
            out.write(memoryview(lines.buffers()[2])[int(offsets[0]):int(offsets[-1])])
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
