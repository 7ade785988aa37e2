"""Local file sources: resolving files, fingerprints, reading CSV as text, Parquet
and JSON Lines, planning read tasks, and errors that name the file."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.errors import SourceError
from monitor.sources.csv_types import DATETIME_FORMATS, infer_kind, parse_text
from monitor.sources.files import (
    TEXT_METADATA,
    FileSource,
    dictionary_columns,
    fingerprint,
    format_of,
    is_text,
    piece_rows,
    resolve_files,
)

# ---------------------------------------------------------------------------
# files and fingerprints


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.csv").write_text("x,y\n1,a\n2,b\n")
    (tmp_path / "sub" / "b.csv").write_text("x,y\n3,c\n")
    (tmp_path / "notes.md").write_text("not data")
    (tmp_path / ".hidden.csv").write_text("x\n9\n")
    return tmp_path


@pytest.mark.parametrize(("name", "fmt"), [
    ("a.csv", "csv"), ("a.tsv", "csv"), ("a.csv.gz", "csv"), ("a.parquet", "parquet"),
    ("a.pq", "parquet"), ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"), ("A.JSON", "jsonl"),
])
def test_format_of(name: str, fmt: str) -> None:
    assert format_of(name) == fmt


def test_format_of_unknown_extension_names_the_file() -> None:
    with pytest.raises(SourceError, match=r"data\.xlsx: cannot tell the format"):
        format_of("data.xlsx")


def test_resolve_files_from_folder_glob_and_file(folder: Path) -> None:
    assert resolve_files([str(folder)]) == [folder / "a.csv", folder / "sub" / "b.csv"]
    assert resolve_files([str(folder / "**" / "*.csv")]) == [folder / "a.csv", folder / "sub" / "b.csv"]
    assert resolve_files([str(folder / "a.csv"), str(folder / "a.csv")]) == [folder / "a.csv"]


@pytest.mark.parametrize(("pattern", "message"), [
    ("missing.csv", "missing.csv: file not found"),
    ("*.parquet", r"\*.parquet: pattern matches no file"),
    ("empty", "empty: folder has no data files"),
])
def test_resolve_files_errors_name_the_pattern(tmp_path: Path, pattern: str, message: str) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=message):
        resolve_files([str(tmp_path / pattern)])


def test_fingerprint_changes_with_content_and_not_otherwise(folder: Path) -> None:
    source = FileSource((str(folder),))
    before = source.fingerprint()
    assert source.fingerprint() == before == fingerprint(source.files())
    target = folder / "a.csv"
    target.write_text("x,y\n1,a\n2,b\n3,c\n")
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert source.fingerprint() != before


# ---------------------------------------------------------------------------
# CSV as text


def test_csv_arrives_as_text_with_missing_and_empty_fields(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('n,s\n1,""\n,NA\n3,"NA"\n4,\n')
    batches = list(FileSource((str(path),)).iter_batches())
    assert all(is_text(b.schema) and b.schema.metadata == TEXT_METADATA for b in batches)
    table = pa.Table.from_batches(batches)
    assert table.schema.types == [pa.string(), pa.string()]
    assert table.column("n").to_pylist() == ["1", None, "3", "4"]
    assert table.column("s").to_pylist() == ["", None, "NA", None]


def test_gzip_and_tsv(tmp_path: Path) -> None:
    gz = tmp_path / "t.csv.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("a,b\n1,2\n")
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n1\t2\n")
    for path in (gz, tsv):
        table = pa.Table.from_batches(list(FileSource((str(path),)).iter_batches()))
        assert table.to_pydict() == {"a": ["1"], "b": ["2"]}


def test_columns_and_exclude(folder: Path) -> None:
    picked = pa.Table.from_batches(list(FileSource((str(folder / "a.csv"),), columns=("y",)).iter_batches()))
    assert picked.column_names == ["y"]
    dropped = pa.Table.from_batches(list(FileSource((str(folder / "a.csv"),), exclude=("y",)).iter_batches()))
    assert dropped.column_names == ["x"]
    with pytest.raises(SourceError, match=r"a\.csv: column\(s\) not found: z"):
        list(FileSource((str(folder / "a.csv"),), columns=("z",)).iter_batches())


def test_malformed_csv_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(SourceError, match=r"broken\.csv: cannot read as csv"):
        list(FileSource((str(path),)).iter_batches())


# ---------------------------------------------------------------------------
# text typing


@pytest.mark.parametrize(("values", "kind", "fmt"), [
    (["1", "-2", "+3", " 4 "], "integer", None),
    (["1.5", "2", "1e3", "inf"], "decimal", None),
    (["true", "False", "YES", "n"], "boolean", None),
    (["0", "1", "1"], "integer", None),
    (["2024-01-31", "2024-02-01"], "datetime", "%Y-%m-%d"),
    (["2024-01-31 10:00:00", "2024-02-01 11:30:00"], "datetime", "%Y-%m-%d %H:%M:%S"),
    (["2024-01-31T10:00:00Z"], "datetime", "%Y-%m-%dT%H:%M:%S%z"),
    (["2024-01-31T10:00:00.250+02:00"], "datetime", "ISO8601"),
    (["12/31/2024", "01/02/2024"], "datetime", "%m/%d/%Y"),
    (["31/12/2024", "13/01/2024"], "datetime", "%d/%m/%Y"),
    (["a", "b"], "string", None),
    (["1", "2", "x"], "string", None),
    ([None, ""], "string", None),
])
def test_infer_kind(values: list[str | None], kind: str, fmt: str | None) -> None:
    inferred = infer_kind(pa.array(values, type=pa.string()))
    assert (inferred.kind, inferred.fmt) == (kind, fmt)
    assert fmt is None or fmt in DATETIME_FORMATS


def test_infer_tolerates_one_percent_of_errors() -> None:
    values = [str(i) for i in range(199)] + ["oops"]
    assert infer_kind(pa.array(values)).kind == "integer"
    assert infer_kind(pa.array(values[:90] + ["oops"] * 2)).kind == "string"


def test_parse_text_counts_errors_not_blanks() -> None:
    parsed = parse_text(pa.array(["1", " ", "x", None, "2"]), "integer")
    assert parsed.values.to_pylist() == [1.0, None, None, None, 2.0] and parsed.errors == 1
    stamps = parse_text(pa.array(["2024-01-01T01:00:00+01:00", "nope"]), "datetime", "ISO8601")
    assert stamps.values.type == pa.timestamp("us", tz="UTC") and stamps.errors == 1
    assert stamps.values[0].as_py().hour == 0
    with pytest.raises(ValueError, match="cannot parse"):
        parse_text(pa.array(["a"]), "string")


# ---------------------------------------------------------------------------
# Parquet and JSON Lines


@pytest.fixture()
def parquet_file(tmp_path: Path) -> Path:
    n = 10_000
    table = pa.table({
        "code": pa.array([f"c{i % 5}" for i in range(n)]),
        "uid": pa.array([f"user-{i:08d}-{i * 7919 % 100003}" for i in range(n)]),
        "x": pa.array([float(i) for i in range(n)]),
        "y": pa.array(list(range(n))),
    })
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=2_500, dictionary_pagesize_limit=4096)
    return path


def test_parquet_reads_one_row_group_at_a_time(parquet_file: Path) -> None:
    batches = list(FileSource((str(parquet_file),)).iter_batches())
    assert [b.num_rows for b in batches] == [2_500] * 4
    assert batches[0].schema.field("code").type == pa.string()


def test_plan_splits_row_groups_and_columns(parquet_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.sources.files as files

    monkeypatch.setattr(files, "TASK_ROWS", 5_000)
    source = FileSource((str(parquet_file),), exclude=("y",))
    whole = source.plan()
    assert [(t.row_groups, t.columns, t.rows, t.primary) for t in whole] == [
        ((0, 1), ("code", "uid", "x"), 5_000, True), ((2, 3), ("code", "uid", "x"), 5_000, True)]
    split = source.plan(split=2)
    assert len(split) == 4 and [t.primary for t in split] == [True, False, True, False]
    assert sorted(split[0].columns + split[1].columns) == ["code", "uid", "x"]  # type: ignore[operator]
    assert sum(t.share for t in split[:2]) == pytest.approx(1.0)
    task = next(t for t in split if "code" in (t.columns or ()))
    assert task.dictionary == ("code",)
    batch = next(iter(task.batches(dictionary=True)))
    assert pa.types.is_dictionary(batch.schema.field("code").type)


def test_parquet_column_pieces_cover_each_row_group(parquet_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.sources.files as files

    monkeypatch.setattr(files, "PIECE_BYTES", 8 * 1024)
    monkeypatch.setattr(files, "PIECE_ROWS_MIN", 256)
    task = FileSource((str(parquet_file),)).plan()[0]
    pf = pq.ParquetFile(parquet_file)
    for group, (rows, columns) in enumerate(task.column_chunks()):
        pieces: dict[str, list[pa.Array]] = {}
        for name, values in columns:
            pieces.setdefault(name, []).append(values)
        assert rows == 2_500 and list(pieces) == ["code", "uid", "x", "y"]
        assert [len(p) for p in pieces["x"]] == [1024, 1024, 452]  # 8 bytes a row
        assert max(len(p) for p in pieces["uid"]) == 256  # about 26 bytes a row
        for name, parts in pieces.items():
            expected = pf.read_row_group(group, columns=[name]).column(0)
            assert pa.chunked_array(parts).cast(expected.type).equals(expected)


def test_piece_rows_follow_bytes_per_row(parquet_file: Path) -> None:
    md = pq.ParquetFile(parquet_file).metadata
    group = md.row_group(0)
    uid = md.schema.to_arrow_schema().get_field_index("uid")
    assert piece_rows(group, [], pa.float64()) == 1 << 19  # 8 bytes a row: 4 MiB
    assert piece_rows(group, [], pa.bool_()) == 1 << 19  # at most PIECE_ROWS_MAX
    wide = piece_rows(group, [uid], pa.string())  # about 26 bytes a row
    assert wide == 1 << 17


def test_dictionary_columns_skip_strings_with_many_values(parquet_file: Path) -> None:
    md = pq.ParquetFile(parquet_file).metadata
    assert dictionary_columns(md, md.schema.to_arrow_schema(), ["code", "uid", "x"]) == ("code",)


def test_plan_missing_column_names_the_file(parquet_file: Path) -> None:
    with pytest.raises(SourceError, match=r"data\.parquet: column\(s\) not found: nope"):
        FileSource((str(parquet_file),), columns=("nope",)).plan()


def test_corrupt_parquet_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(SourceError, match=r"bad\.parquet: cannot read as parquet"):
        FileSource((str(path),)).plan()
    with pytest.raises(SourceError, match=r"bad\.parquet: cannot read as parquet"):
        list(FileSource((str(path),)).iter_batches())


def test_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": null}\n')
    table = pa.Table.from_batches(list(FileSource((str(path),)).iter_batches()))
    assert table.to_pydict() == {"a": [1, 2], "b": ["x", None]}
    assert not is_text(table.schema)
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n{oops\n')
    with pytest.raises(SourceError, match=r"bad\.jsonl: cannot read as jsonl"):
        list(FileSource((str(tmp_path / "bad.jsonl"),)).iter_batches())


def test_read_table_of_files_without_rows_keeps_their_columns(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    (tmp_path / "header.csv").write_text("a,b,c\n")
    pq.write_table(pa.table({"x": pa.array([], pa.float64()), "y": pa.array([], pa.string())}), tmp_path / "e.parquet")
    csv = FileSource((str(tmp_path / "header.csv"),), exclude=("b",)).read_table()
    assert (csv.num_rows, csv.column_names) == (0, ["a", "c"])
    assert is_text(csv.schema) and all(pa.types.is_string(t) for t in csv.schema.types)
    parquet = FileSource((str(tmp_path / "e.parquet"),)).read_table()
    assert (parquet.num_rows, parquet.schema.types) == (0, [pa.float64(), pa.string()])
    (tmp_path / "rows.csv").write_text("a,b,c\n1,2,3\n")
    assert FileSource((str(tmp_path / "rows.csv"),)).read_table().num_rows == 1
