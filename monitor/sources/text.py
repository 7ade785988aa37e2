"""CSV and JSON Lines readers: a file or an object streamed in blocks.

CSV fields arrive as text (every column read as a string column, the batches'
schema metadata carrying :data:`~monitor.sources.files.TEXT_METADATA`); see
:mod:`monitor.sources.files` for the rules. The profile reads CSV faster, with
the same result: after the first block, Arrow converts what it converts as the
profile would (:mod:`monitor.sources.csv_blocks`). JSON Lines is typed by Arrow.
Both are read one block ahead in a thread (:mod:`monitor.sources.prefetch`).
Inputs are local paths or objects (:mod:`monitor.sources.inputs`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from monitor.errors import SourceError
from monitor.sources.csv_blocks import typed_csv_batches
from monitor.sources.csv_types import MISSING_TEXT, TextKind
from monitor.sources.digest import Digests, hashed_input
from monitor.sources.inputs import Input, is_local, key_of, stream
from monitor.sources.prefetch import prefetched
from monitor.sources.names import check_unique_names, selected, short

__all__ = ["csv_header", "read_csv", "read_jsonl"]

BLOCK_SIZE = 32 << 20
"""Bytes of text per CSV / JSON Lines block, one batch: some 100,000 rows of a
table of 20 columns, enough for the profile's sketches to take a column's
numbers in one step (from 2**16)."""
TEXT_METADATA = {b"drift_monitor.text": b"1"}
_ARROW_ERRORS = (pa.ArrowException, OSError, UnicodeDecodeError)




def _csv_parse_options(path: Input) -> pa_csv.ParseOptions:
    return pa_csv.ParseOptions(delimiter="\t" if ".tsv" in [s.lower() for s in path.suffixes] else ",")


def csv_header(path: Input) -> list[str]:
    """The column names of a CSV file.

    :raises SourceError: when the file cannot be read as CSV or two columns
        have the same name.
    """
    try:
        reader = pa_csv.open_csv(stream(path), read_options=pa_csv.ReadOptions(block_size=1 << 20),
                                 parse_options=_csv_parse_options(path))
    except _ARROW_ERRORS as exc:
        raise SourceError(f"{path}: cannot read as csv: {short(exc)}") from exc
    with reader:
        names = list(reader.schema.names)
    check_unique_names(path, names)
    return names


def read_csv(path: Input, columns: Sequence[str] | None, digests: Digests | None,
             kinds: Callable[[pa.RecordBatch], Mapping[str, TextKind]] | None = None) -> Iterator[pa.RecordBatch]:
    """The batches of a CSV file, every column as text; with ``kinds``, typed
    where that gives what the text would (:mod:`monitor.sources.csv_blocks`:
    the profile's reading).

    :param kinds: called with the first block read as text (every column a
        string; a batch that is not yielded): the kind of each column, as the
        profile types it.
    """
    names = csv_header(path)
    if columns is not None:
        selected(path, names, columns, ())
    with _hashed(path, digests) as source:
        if kinds is None:
            yield from _csv_batches(source, path, names, columns)
            return
        opened = pa.input_stream(source) if is_local(source) else None
        try:
            for batch in typed_csv_batches(opened or source, _csv_parse_options(path), names, columns, kinds,
                                           BLOCK_SIZE):
                yield batch.replace_schema_metadata(TEXT_METADATA)
        finally:
            if opened is not None:
                opened.close()


def _csv_batches(source: Any, path: Input, names: Sequence[str], columns: Sequence[str] | None,
                 ) -> Iterator[pa.RecordBatch]:
    reader = pa_csv.open_csv(
        source,
        read_options=pa_csv.ReadOptions(block_size=BLOCK_SIZE),
        parse_options=_csv_parse_options(path),
        convert_options=pa_csv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            include_columns=list(columns) if columns else None,
            null_values=list(MISSING_TEXT),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    with reader:
        for batch in reader:
            yield batch.replace_schema_metadata(TEXT_METADATA)


def read_jsonl(path: Input, columns: Sequence[str] | None, digests: Digests | None) -> Iterator[pa.RecordBatch]:
    """The batches of a JSON Lines file, typed by Arrow, read one block ahead in a thread."""
    with _hashed(path, digests) as source:
        yield from prefetched(pa_json.open_json(source, read_options=pa_json.ReadOptions(block_size=BLOCK_SIZE)))


@contextlib.contextmanager
def _hashed(path: Input, digests: Digests | None) -> Iterator[Any]:
    """``path`` to read (when ``digests`` is None), or a stream that hashes the
    bytes read, its digest put in ``digests`` once the reading ended without error."""
    if digests is None:
        yield stream(path)
        return
    hashed, raw = hashed_input(path)
    try:
        yield hashed
        digests[key_of(path)] = raw.finish()
    finally:
        raw.close()

