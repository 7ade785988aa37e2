"""CSV files read for the profile in typed blocks give the profile that their
text gives (monitor.sources.csv_blocks).

The profile infers the kinds from a CSV file's first block as text, then reads every block typed by
Arrow wherever Arrow's conversion equals the profile's own typing of the text.
Held here: blocks are cut where Arrow's streaming reader cuts them; every value
Arrow converts is what ``parse_text`` makes of its text (generated values);
the ISO 8601 path equals pandas' ``to_datetime``, the reading before; and whole
profiles of generated clean and dirty files equal, field by field, the profile
of the same files read as text (``FileSource.iter_batches``, every column a
string, as before typed blocks), with blocks of a few hundred bytes so that
most of each file is read typed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import monitor.sources.text as text_mod
from monitor.errors import SourceError
from monitor.profile import DatasetProfile, profile_source
from monitor.profile.accumulators import HOLD, ProfileState
from monitor.profile.engine import finish_profile
from monitor.sources import csv_blocks
from monitor.sources.csv_types import TextKind, _pandas_iso8601, parse_datetime, parse_text
from monitor.sources.files import FileSource, read_file
from monitor.sources.prefetch import prefetched

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------
# the two readings of a file


def text_profile(path: Path, types: dict[str, str] | None = None) -> DatasetProfile:
    """The profile of ``path`` read as text: every batch all strings (Arrow's
    streaming reader), into a state set up as ``profile_source`` sets it up."""
    state = ProfileState(types=dict(types or {}), hold=HOLD)
    for batch in FileSource((str(path),)).iter_batches():
        state.add_batch(batch)
    return finish_profile(state)


def typed_profile(path: Path, types: dict[str, str] | None = None) -> DatasetProfile:
    """The profile ``profile_source`` makes, in this process (typed blocks)."""
    return profile_source(FileSource((str(path),)), types=types, workers=1, progress=False)


def summary(profile: DatasetProfile) -> dict[str, dict[str, Any]]:
    """Every field of every column that a profile reports, as plain values."""
    out: dict[str, dict[str, Any]] = {"": {"rows": profile.row_count}}
    for name, col in profile.columns.items():
        row: dict[str, Any] = {
            "kind": col.kind, "arrow_type": col.arrow_type, "timezone": col.timezone, "declared": col.declared,
            "count": col.count, "missing": col.missing, "errors": col.errors, "empty": col.empty,
            "lengths": (col.length_min, col.length_max, col.length_sum), "distinct": col.distinct,
            "retained": col.distinct_sketch.hashes.tolist(),
        }
        if col.categories is not None:
            row["categories"] = (col.categories.counts, col.categories.other, col.categories.error)
        num = col.numeric
        if num is not None:
            exact = None if num.values is None or num.counts is None else (num.values.tolist(), num.counts.tolist())
            row.update(n=num.n, min=num.min, max=num.max, pos_inf=num.pos_inf, neg_inf=num.neg_inf,
                       zeros=num.zeros, exact=exact, mean=num.mean, variance=num.variance)
        out[name] = row
    return out


def batch_rows(path: Path, typed: bool) -> list[int]:
    kinds: Any = (lambda sample: {}) if typed else None
    return [b.num_rows for b in read_file(path, "csv", None, None, kinds)]


# ---------------------------------------------------------------------------
# generated files: clean rows first (the kinds are inferred from them), then dirt

Cell = tuple[str, bool]  # text, quoted


def render(cell: Cell) -> str:
    value, quoted = cell
    if quoted or any(c in value for c in ',"'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _clean_cells(kind: str, rng: np.random.Generator, n: int) -> list[Cell]:
    """``n`` valid values of ``kind`` in the spellings a CSV writer uses (and a few it would not)."""
    if kind == "integer":
        wide = rng.random() < 0.3
        ints = rng.integers(-(2**63), 2**63 - 1, n) if wide else rng.integers(-10**6, 10**6, n)
        forms = ["{}", " {} ", "{}\t", "000{}"]
        return [(forms[int(f)].format(v) if v >= 0 or f < 3 else str(v), False)
                for v, f in zip(ints.tolist(), rng.integers(0, 4, n))]
    if kind == "decimal":
        values = rng.standard_cauchy(n) * 10.0 ** rng.integers(-5, 300, n)
        forms = [repr, lambda x: f"{x:.3f}", lambda x: f"{x:.2E}", lambda x: f" {x:g} "]
        cells = [(forms[int(f)](float(v)), False) for v, f in zip(values, rng.integers(0, 4, n))]
        for i in np.flatnonzero(rng.random(n) < 0.03):
            cells[int(i)] = (str(rng.choice(["inf", "-inf", ".5", "5.", "-0.0", "1e-320"])), False)
        return cells
    if kind == "boolean":
        return [(str(v), False) for v in rng.choice(["true", "false", "True", "FALSE", "t", "f", "yes", "No",
                                                      "y", "N"], n)]
    if kind == "category":
        return [(str(v), False) for v in rng.choice(["a", "b", "c d", "e,f", 'g"h', "x"], n)]
    if kind == "words":
        return [("".join(rng.choice(list("abx0 ,"), int(k))), False) for k in rng.integers(0, 9, n)]
    fmt = kind.split(":", 1)[1]
    stamps = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 140 * 365 * 86400, n), unit="s")
    return [(t.strftime(fmt), False) for t in stamps]


DIRTY: dict[str, list[Cell]] = {
    "integer": [("abc", False), ("", False), ("NA", False), ("NA", True), ("", True), (" ", False),
                ("0x1F", False), (" 0X10", False), ("+5", False), ("1e3", False), ("1.5", False),
                ("99999999999999999999", False), ("0000000000000000000000042", False), ("-0", False),
                ("\u0663", False), ("1_000", False), ("nan", False), ("\u00a07", False)],
    "decimal": [("x", False), ("", False), ("NA", True), ("", True), ("1,5", False), (" ", False),
                ("NAN", False), ("nan(12)", False), ("-Infinity", False), ("+.5", False), (".e1", False),
                ("0x1p3", False), ("1d", False), ("-nan", False), ("1e400", False)],
    "boolean": [("maybe", False), ("1", False), ("0", False), (" true", False), ("", False), ("NA", False),
                ("true", True), ("", True), ("Nan", False), ("T ", False)],
    "category": [("", False), ("", True), ("NA", False), ("NA", True), ("  ", False), ("\u00e9", False),
                 ("\ufeffx", False), ("0x1", False)],
    "words": [("", True), ("NULL", False), ("\ufeff0x5", False)],
    "date": [("not a date", False), ("2024-02-30", False), ("", False), ("NA", True), ("2024-13-01", False),
             ("1500-01-01", False), ("01/02/2024", False), ("2024-01-01T10:00:00Z", False),
             ("2024-01-01 10:00", False), (" 2024-01-02 ", False)],
}
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S+05:30", "%m/%d/%Y"]


@st.composite
def csv_files(draw: Any) -> tuple[str, dict[str, str], int]:
    """(file text, declared types, block size): a header, clean rows, then rows
    where each column is dirty with its own probability (values drawn from a
    seeded generator: hypothesis draws the file's shape)."""
    kinds = draw(st.lists(st.sampled_from(["integer", "decimal", "boolean", "date", "category", "words"]),
                          min_size=1, max_size=6))
    kinds = [f"date:{draw(st.sampled_from(DATE_FORMATS))}" if k == "date" else k for k in kinds]
    rates = [draw(st.sampled_from([0.0, 0.02, 0.2, 1.0])) for _ in kinds]
    clean_rows, rows = draw(st.integers(0, 60)), draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    columns = []
    for kind, rate in zip(kinds, rates):
        cells = _clean_cells(kind, rng, rows)
        dirty = DIRTY[kind.split(":")[0]]
        for i in np.flatnonzero(rng.random(rows) < rate):
            if i >= clean_rows:
                cells[int(i)] = dirty[int(rng.integers(len(dirty)))]
        columns.append(cells)
    lines = [",".join(f"c{i}" for i in range(len(kinds)))]
    lines += [",".join(render(col[r]) for col in columns) for r in range(rows)]
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    if draw(st.booleans()):
        text = "\ufeff" + text
    widest = max(len(line.encode()) for line in lines)
    block = draw(st.integers(4 * widest + 8, 4 * widest + 2048))
    declared = {f"c{i}": kind for i in range(len(kinds))
                if (kind := draw(st.sampled_from([None, None, None, "integer", "decimal", "boolean", "datetime",
                                                  "string"]))) is not None}
    return text, declared, block


@SETTINGS
@given(csv_files())
def test_typed_blocks_give_the_profile_of_the_text(tmp_path_factory: pytest.TempPathFactory,
                                                   case: tuple[str, dict[str, str], int]) -> None:
    text, types, block = case
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(text.encode())
    with mock.patch.object(text_mod, "BLOCK_SIZE", block):
        before = summary(text_profile(path, types))
        after = summary(typed_profile(path, types))
        assert batch_rows(path, typed=True) == batch_rows(path, typed=False)
    assert after == before


def test_typed_blocks_type_what_they_can(tmp_path: Path) -> None:
    """A clean file is typed from its first block on (the kinds inferred from
    that block's text); a column with an error from some block on is text from
    that block on; the profile equals the text's."""
    rng = np.random.default_rng(3)
    n = 3000
    frame = pd.DataFrame({
        "i": rng.integers(-5000, 5000, n), "x": rng.normal(size=n).round(6), "b": rng.random(n) < 0.3,
        "c": rng.choice(["red", "green", "blue"], n), "w": [f"w{k}" for k in rng.integers(0, 10**6, n)],
    })
    path = tmp_path / "clean.csv"
    frame.to_csv(path, index=False)
    lines = path.read_text().splitlines()
    lines[2501] = "abc" + lines[2501][lines[2501].index(","):]  # an error in row 2500
    path.write_text("\n".join(lines) + "\n")
    with mock.patch.object(text_mod, "BLOCK_SIZE", 8192):
        names = list(frame.columns)
        kinds = {n: TextKind(k) for n, k in
                 {"i": "integer", "x": "decimal", "b": "boolean", "c": "string", "w": "string"}.items()}
        samples: list[pa.RecordBatch] = []
        batches = list(read_file(path, "csv", None, None, lambda sample: samples.append(sample) or kinds))
        assert len(batches) > 5
        # the kinds are asked for once, with the first block as text, which is read again typed
        assert len(samples) == 1 and all(pa.types.is_string(t) for t in samples[0].schema.types)
        assert samples[0].num_rows == batches[0].num_rows
        for batch in batches[:2]:
            assert dict(zip(names, batch.schema.types)) == {
                "i": pa.int64(), "x": pa.float64(), "b": pa.bool_(), "c": csv_blocks.DICTIONARY, "w": pa.string()}
        assert pa.types.is_string(batches[-1].schema.field("i").type)  # text from the error on
        assert batches[-1].schema.field("x").type == pa.float64()
        before, after = summary(text_profile(path)), summary(typed_profile(path))
    assert after == before
    assert after["i"]["errors"] == 1 and after["i"]["kind"] == "integer"


# ---------------------------------------------------------------------------
# value by value: what Arrow converts, the text path parses alike


def arrow_reads(values: list[Cell], kind: TextKind, sample: list[Cell] | None = None) -> list[Any] | None:
    """The values of a block of a column of ``kind`` (and a filler column) as the
    reader gives them after a first block of ``sample``; None when it reads the
    column as text."""
    kinds = {"v": kind, "f": TextKind("string")}
    plan = csv_blocks._Plan(["v", "f"], kinds, b",")
    plan.stamps, plan.parsers = csv_blocks.stamp_types(kinds, pa.record_batch({"v": text_reads(sample or values)}))
    block = pa.py_buffer("".join(f"{render(c)},1\n" for c in values).encode())
    column = csv_blocks._typed_block(block, plan, pa_csv.ParseOptions(), None).column(0)
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_pylist()
    return None if pa.types.is_string(column.type) else column.to_pylist()


def text_reads(values: list[Cell]) -> pa.Array:
    data = "v,f\n" + "".join(f"{render(c)},1\n" for c in values)
    convert = csv_blocks._convert({"v": pa.string(), "f": pa.string()}, None)
    return pa_csv.read_csv(io.BytesIO(data.encode()), convert_options=convert).column("v").combine_chunks()


NUMBERISH = st.text(alphabet="0123456789+-.eExXaAfFnNiItTyY ()_\t", max_size=10)


DATEISH = st.one_of(st.builds(lambda d, f: d.strftime(f), st.datetimes(), st.sampled_from(
    ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%S+05:30", "%m/%d/%Y",
     "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S.%f"])), st.text(alphabet="0123456789-:T Z+./", max_size=26))
KINDS = [TextKind("integer"), TextKind("decimal"), TextKind("boolean"), TextKind("datetime", "ISO8601"),
         TextKind("datetime", "%Y-%m-%d"), TextKind("datetime", "%Y-%m-%d %H:%M:%S"), TextKind("datetime", "%m/%d/%Y")]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(KINDS),
       st.lists(st.tuples(st.one_of(NUMBERISH, DATEISH, st.sampled_from([c for v in DIRTY.values() for c, _ in v])),
                          st.booleans()), min_size=1, max_size=4),
       st.lists(st.tuples(DATEISH, st.just(False)), max_size=3))
def test_what_arrow_converts_the_text_path_parses_alike(kind: TextKind, cells: list[Cell],
                                                        sample: list[Cell]) -> None:
    cells = [(v, q) for v, q in cells if "\n" not in v and "\r" not in v and not v.startswith("\ufeff")]
    if not cells:
        return
    typed = arrow_reads(cells, kind, sample + cells)
    if typed is None:
        return  # read as text: the text path counts it
    parsed = parse_text(text_reads(cells), kind.kind, kind.fmt)
    assert parsed.errors == 0, (cells, typed)
    values = parsed.values
    if kind.kind == "datetime":
        values = values.cast(pa.int64())
    expected = [None if v is None else (float(v) if kind.kind in ("integer", "decimal") else v) for v in typed]
    got = values.to_pylist()
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert (a is None and b is None) or a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1)))
def test_a_field_that_may_start_with_0x_is_found(seeds: list[int]) -> None:
    """The check that keeps hexadecimal from Arrow's integer parser finds every
    field starting with 0x, through memchr and through numpy, and only those."""
    rng = np.random.default_rng(seeds[0] if seeds else 0)
    fields = [rng.choice(["1", "0x", "10x", "x", "0X1", "a0x", " 0x2", '"0x3"', "0"]) for _ in range(40)]
    body = "\n".join(",".join(fields[i:i + 4]) for i in range(0, len(fields), 4)) + "\n"
    expect = any(f.strip(' "').lower().startswith("0x") for f in fields)
    block = pa.py_buffer(body.encode())
    assert csv_blocks._hex_free(block, b",") is not expect
    data = np.frombuffer(block, dtype=np.uint8)
    assert csv_blocks._hex_free_vectorised(data, set(b'"\n\r \t,')) is not expect


# ---------------------------------------------------------------------------
# ISO 8601: Arrow where it reads a chunk, pandas otherwise


@st.composite
def iso_texts(draw: Any) -> str:
    def digits(n: int) -> str:
        return "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=n, max_size=n)))

    def field(n: int, hi: int) -> str:
        return str(draw(st.integers(0, hi))).zfill(n) if draw(st.integers(0, 4)) else digits(n)

    text = f"{draw(st.sampled_from(['19', '20', '15', '00', '22', '99']))}{digits(2)}-{field(2, 13)}-{field(2, 32)}"
    parts = draw(st.integers(0, 4))
    if parts:
        text += draw(st.sampled_from("T ")) + field(2, 24)
        text += "".join(":" + field(2, 60) for _ in range(min(parts, 3) - 1))
        if parts >= 4:
            text += "." + digits(draw(st.integers(1, 6)))
        text += draw(st.sampled_from(["", "", "Z", "+05:30", "-0800", "+01", "+24:00", " +01:00"]))
    return text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(iso_texts(), st.sampled_from(["", "x", "2024-01-01T10", "20240101"]), st.none()),
                min_size=1, max_size=30))
def test_iso8601_is_read_as_pandas_reads_it(values: list[str | None]) -> None:
    clean = pa.array([v if v else None for v in values], type=pa.string())
    expected = _pandas_iso8601(clean)
    got = parse_datetime(clean, "ISO8601")
    assert got.type == expected.type
    assert got.cast(pa.int64()).to_pylist() == expected.cast(pa.int64()).to_pylist()  # year 0 has no datetime


# ---------------------------------------------------------------------------
# the text path's rules, chunk by chunk alike


def test_integers_are_decimal_digits_in_any_chunk() -> None:
    """Hexadecimal is an error whether or not the rest of the chunk casts, and
    long zero-padded numbers are integers either way."""
    for chunk in (["0x1F", "2"], ["0x1F", " 2 "]):
        assert parse_text(pa.array(chunk), "integer").errors == 1
    for chunk in (["0000000000000000000000042", "2"], ["0000000000000000000000042", " 2 "]):
        parsed = parse_text(pa.array(chunk), "integer")
        assert parsed.errors == 0 and parsed.values.to_pylist() == [42.0, 2.0]


def test_integers_beyond_2_to_the_53_are_profiled_rounded(tmp_path: Path) -> None:
    """They used to stop the profile (a safe cast to float64); now each is the
    nearest double, as numpy rounds it."""
    big = [2**53 + 1, 2**62 + 3, -(2**63), 7]
    path = tmp_path / "big.csv"
    path.write_text("n\n" + "\n".join(map(str, big)) + "\n")
    for prof in (typed_profile(path), text_profile(path)):
        col = prof.columns["n"]
        assert col.kind == "integer" and col.errors == 0
        assert col.numeric is not None and col.numeric.max == float(np.array(big, dtype=np.int64).astype(np.float64).max())


# ---------------------------------------------------------------------------
# the reading itself


def test_blocks_are_cut_after_the_last_line_end_of_each_read() -> None:
    data = b"a,b\r\n1,2\n333,4\r5,6\n7"
    for size in (1, 3, 5, 8, 64):
        blocks = [b.to_pybytes() for b in csv_blocks.csv_blocks(pa.BufferReader(data), size)]
        assert b"".join(blocks) == data
        assert all(b[-1:] in (b"\n", b"\r") for b in blocks[:-1])


@pytest.mark.parametrize("size", [16, 40, 1 << 20])
def test_batches_are_the_streaming_readers(tmp_path: Path, size: int) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffa,b\n".encode() + b"".join(f"{i},x{i}\r\n".encode() for i in range(200)) + b"9,z")
    with mock.patch.object(text_mod, "BLOCK_SIZE", size):
        assert batch_rows(path, typed=True) == batch_rows(path, typed=False)
        assert sum(batch_rows(path, typed=True)) == 201


def test_gzip_files_are_read_typed_and_hashed(tmp_path: Path) -> None:
    raw = "a,b\n" + "".join(f"{i},{i % 3 == 0}\n" for i in range(5000))
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(raw.encode()))
    digests: dict[str, str] = {}
    with mock.patch.object(text_mod, "BLOCK_SIZE", 4096):
        prof = profile_source(FileSource((str(path),)), workers=1, progress=False, digests=digests)
        assert summary(prof) == summary(text_profile(path))
    assert digests == {str(path): hashlib.sha256(path.read_bytes()).hexdigest()}
    assert prof.columns["a"].numeric is not None and prof.columns["a"].numeric.max == 4999.0


def test_a_malformed_row_in_a_later_block_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("a,b\n" + "1,2\n" * 500 + "3,4,5\n" + "1,2\n" * 10)
    with mock.patch.object(text_mod, "BLOCK_SIZE", 512), pytest.raises(SourceError, match=r"late\.csv"):
        typed_profile(path)


def test_stopping_early_ends_the_reading_threads(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a\n" + "".join(f"{i}\n" for i in range(20000)))
    before = threading.active_count()
    with mock.patch.object(text_mod, "BLOCK_SIZE", 1024):
        batches = read_file(path, "csv", None, None, lambda sample: {"a": TextKind("integer")})
        next(batches)
        next(batches)
        batches.close()
    assert threading.active_count() == before


def test_read_ahead_hands_over_items_in_order_and_the_error() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise ValueError("after five")

    got: list[int] = []
    with pytest.raises(ValueError, match="after five"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def _mixed_rows(rng: np.random.Generator, n: int) -> list[str]:
    return [f"{rng.integers(-99, 99)}\t{rng.normal():.4f}\t{rng.choice(['yes', 'no'])}\t"
            f"{rng.choice(['x', 'y', '0x9'])}" for _ in range(n)]


def _without_moments(summ: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {k: v for k, v in col.items() if k not in ("mean", "variance")} for name, col in summ.items()}


def test_selected_columns_tsv_and_files_in_workers_read_alike(tmp_path: Path) -> None:
    """Column selection and exclusion, tab-separated files, and files profiled by
    worker processes (each reading its own typed blocks) give the text's profile."""
    import monitor.profile.parallel as parallel_mod

    rng = np.random.default_rng(5)
    for i in range(3):
        rows = _mixed_rows(rng, 3000)
        if i == 2:
            rows[2000] = "oops\t1.5\tyes\tx"
        (tmp_path / f"part{i}.tsv").write_text("n\tx\tb\ts\n" + "\n".join(rows) + "\n")
    with mock.patch.object(text_mod, "BLOCK_SIZE", 2048), mock.patch.object(parallel_mod, "PARALLEL_MIN_CELLS", 0):
        for columns, exclude in ((None, ()), (("s", "n"), ()), (None, ("x",))):
            source = FileSource((str(tmp_path),), columns=columns, exclude=exclude)
            state = ProfileState(hold=HOLD)
            for batch in source.iter_batches():
                state.add_batch(batch)
            before = summary(finish_profile(state))
            assert summary(profile_source(source, workers=1, progress=False)) == before, (columns, exclude)
            merged = summary(profile_source(source, workers=2, progress=False))  # one state per file, merged
            assert _without_moments(merged) == _without_moments(before), (columns, exclude)
            for name, col in before.items():
                for key in ("mean", "variance"):
                    if col.get(key) is not None:
                        assert merged[name][key] == pytest.approx(col[key], rel=1e-12)
    assert before["n"]["errors"] == 1 and before["n"]["kind"] == "integer"
