"""CSV files read for the profile: text where the profile must see text, Arrow's
typed columns where they are exactly what the text would have given.

The profile types CSV text itself (:mod:`monitor.sources.csv_types`), counting
values that do not parse as errors. Reading every column as text and typing it
in Python costs several times what Arrow's own multithreaded CSV reader takes
to convert the columns as it parses them. So a file is read here in blocks of
``block_size`` bytes cut after the last line end of each read (as Arrow's
streaming reader cuts them, so the batches are the same):

- the **first block** is read as text, every column a string: the profile
  infers the kinds from it (or checks the declared ones); that text is not
  profiled;
- **every block**, the first one again, is parsed by ``pyarrow.csv.read_csv`` on all cores with
  each column's Arrow type given by its kind (:func:`arrow_type`): integer as
  ``int64``, decimal as ``float64``, boolean as ``bool`` (the spellings of
  :data:`~monitor.sources.csv_types.TRUE_TEXT` in any case, and ``1``/``0``),
  string and categorical as ``string``, or dictionary-encoded while the values
  repeat; datetime as a timestamp when its format is one Arrow parses alike
  (:func:`stamp_types`), else text.

Where Arrow converts a value, it gives what :func:`~monitor.sources.csv_types.parse_text`
gives for its text: the same float, ISO 8601 and ``strptime`` parsers, the same
missing markers (unquoted only), blanks and tabs trimmed as the profile trims
them, integers of decimal digits (a block where a field may start with ``0x``,
which Arrow reads as hexadecimal, reads its integer columns as text). Where Arrow cannot convert a value (an
error, a blank or a quoted empty field in a number column, ``+1``), the block is
read again with that column as text, and so is that column in the rest of the
file: its errors are counted exactly, by the text path. ``tests/test_csv_blocks.py``
holds the typed reading to the text reading's profile on generated clean and
dirty files.

Reading runs ahead of the profile in a thread of its own
(:func:`~monitor.sources.prefetch.prefetched`); memory is a few blocks.
"""

from __future__ import annotations

import ctypes
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from monitor.sources.csv_types import FALSE_TEXT, ISO_ZONED, MISSING_TEXT, TRUE_TEXT, TextKind
from monitor.sources.prefetch import prefetched

__all__ = ["arrow_type", "csv_blocks", "stamp_types", "typed_csv_batches"]

DICTIONARY = pa.dictionary(pa.int32(), pa.string())
PROBE = 1 << 14
"""Values of a string column looked at to decide whether they repeat."""


def _spellings(words: Sequence[str]) -> list[str]:
    """Every upper/lower case spelling of ``words``."""
    out: set[str] = set()
    for word in words:
        out.update("".join(p) for p in itertools.product(*({c.lower(), c.upper()} for c in word)))
    return sorted(out)


TRUE_SPELLINGS = _spellings(TRUE_TEXT + ("1",))
FALSE_SPELLINGS = _spellings(FALSE_TEXT + ("0",))
_TYPED = {"integer": pa.int64(), "decimal": pa.float64(), "boolean": pa.bool_()}
_COLUMN = re.compile(r"In CSV column #(\d+): .*conversion error")


def arrow_type(kind: str | None, repeats: bool = False) -> pa.DataType:
    """The Arrow type a column of ``kind`` (not datetime) is read as: ``int64``,
    ``float64``, ``bool``, or text (``string``; dictionary-encoded when ``repeats``)."""
    if kind in _TYPED:
        return _TYPED[kind]
    return DICTIONARY if repeats and kind != "datetime" else pa.string()


def stamp_types(kinds: Mapping[str, TextKind], sample: pa.RecordBatch) -> tuple[dict[str, pa.DataType], list[Any]]:
    """The Arrow timestamp types of the datetime columns Arrow may parse, and its
    timestamp parsers (one list for every column, so one format for all).

    A column of the profile's ``ISO8601`` format is ``timestamp[us, tz=UTC]`` when
    every value of ``sample`` has an offset, ``timestamp[us]`` when none has
    (Arrow refuses the other kind of value); a column of a ``strptime`` format
    without ``%z`` is ``timestamp[us]``; naive times are UTC to the profile.
    Columns of other formats, or of a second format, stay text.
    """
    fmts = {k.fmt for k in kinds.values() if k.kind == "datetime" and k.fmt and "%z" not in k.fmt}
    if len(fmts) != 1:
        return {}, []
    fmt = fmts.pop()
    out: dict[str, pa.DataType] = {}
    for name, kind in kinds.items():
        if kind.kind != "datetime" or kind.fmt != fmt or name not in sample.schema.names:
            continue
        if fmt != "ISO8601":
            out[name] = pa.timestamp("us")
            continue
        values = sample.column(name).drop_null()
        zoned = int(pc.sum(pc.match_substring_regex(values, ISO_ZONED)).as_py() or 0)
        if zoned in (0, len(values)):
            out[name] = pa.timestamp("us", tz="UTC") if zoned else pa.timestamp("us")
    return out, [pa_csv.ISO8601 if fmt == "ISO8601" else fmt]


def csv_blocks(stream: Any, block_size: int) -> Iterator[pa.Buffer]:
    """The bytes of ``stream`` in blocks of whole lines, as Arrow's streaming CSV
    reader cuts them: each read of ``block_size`` bytes up to its last line end
    (``\\n`` or ``\\r``), after what the reads before it left; the last read
    whole (its last line may lack a line end). Each block is read straight into
    an Arrow buffer (no copy but of the bytes a read leaves for the next).

    :param stream: a pyarrow input stream.
    """
    rest = b""  # bytes read and not yet in a block: no line end among them
    ahead = b""  # the first byte of the next read, read to tell whether this one is the last
    while True:
        block = pa.allocate_buffer(len(rest) + block_size)
        view = memoryview(block).cast("B")
        view[: len(rest)] = rest
        view[len(rest): len(rest) + len(ahead)] = ahead
        got = len(ahead) + _fill(stream, view[len(rest) + len(ahead):])
        if got == 0:
            if rest:
                yield pa.py_buffer(rest)
            return
        ahead = stream.read(1) if got == block_size else b""
        if not ahead:
            yield block.slice(0, len(rest) + got)
            return
        filled = len(rest) + got
        cut = _after_last_line_end(np.frombuffer(block, dtype=np.uint8, count=filled), len(rest))
        rest = bytes(view[cut:filled])
        if cut:
            yield block.slice(0, cut)


def _fill(stream: Any, view: memoryview) -> int:
    """Read into ``view`` until it is full or the stream ends; the bytes read."""
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _after_last_line_end(data: np.ndarray, start: int) -> int:
    """The index after the last ``\\n`` or ``\\r`` of ``data[start:]``; 0 when there is none."""
    end = data.size
    while end > start:
        lo = max(start, end - (1 << 16))
        part = data[lo:end]
        hits = np.flatnonzero((part == 0x0A) | (part == 0x0D))
        if hits.size:
            return lo + int(hits[-1]) + 1
        end = lo
    return 0


@dataclass
class _Plan:
    """How the columns of one file are read, adjusted block by block."""

    names: list[str]
    kinds: dict[str, TextKind]
    delimiter: bytes
    text: set[str] = field(default_factory=set)
    """Columns read as text for the rest of the file (Arrow failed to convert one of their values)."""
    repeats: set[str] = field(default_factory=set)
    """String columns read dictionary-encoded."""
    stamps: dict[str, pa.DataType] = field(default_factory=dict)
    """Datetime columns Arrow parses, and their types (:func:`stamp_types`)."""
    parsers: list[Any] = field(default_factory=list)
    """Arrow's timestamp parsers for :attr:`stamps`."""

    def types(self, block: pa.Buffer) -> dict[str, pa.DataType]:
        """The Arrow type of each column for ``block``."""
        hex_free = not any(k.kind == "integer" for k in self.kinds.values()) or _hex_free(block, self.delimiter)
        out = {}
        for name in self.names:
            kind = self.kinds.get(name)
            if kind is None or name in self.text or (kind.kind == "integer" and not hex_free):
                out[name] = pa.string()
            elif kind.kind == "datetime":
                out[name] = self.stamps.get(name, pa.string())
            else:
                out[name] = arrow_type(kind.kind, name in self.repeats)
        return out

    def watch(self, batch: pa.RecordBatch) -> None:
        """Stop dictionary-encoding the columns of ``batch`` whose values did not repeat."""
        for name, column in zip(batch.schema.names, batch.columns):
            if pa.types.is_dictionary(column.type) and 2 * len(column.dictionary) > len(column) - column.null_count:
                self.repeats.discard(name)

    def failed(self, exc: pa.ArrowInvalid, tried: Mapping[str, pa.DataType]) -> bool:
        """Read as text the column a conversion error names; False when it names
        none that was typed (the error is the file's)."""
        match = _COLUMN.search(str(exc))
        if match is None or int(match.group(1)) >= len(self.names):
            return False
        name = self.names[int(match.group(1))]
        if tried.get(name) == pa.string():
            return False
        self.text.add(name)
        self.repeats.discard(name)
        return True


def _hex_free(block: pa.Buffer, delimiter: bytes) -> bool:
    """True when no field of ``block`` can start with ``0x`` or ``0X`` (after a
    quote or blanks): Arrow's integer parser would read it as hexadecimal."""
    data = np.frombuffer(block, dtype=np.uint8)
    starts = set(b'"\n\r \t' + delimiter)
    for x in b"xX":
        at, seen = _find_byte(block, x, 0), 0
        while at != -1:
            if at >= 1 and data[at - 1] == 0x30 and (at == 1 or int(data[at - 2]) in starts):
                return False
            seen += 1
            if seen > 64:
                return _hex_free_vectorised(data, starts)
            at = _find_byte(block, x, at + 1)
    return True


try:
    _MEMCHR: Any = ctypes.CDLL(None).memchr
    _MEMCHR.restype, _MEMCHR.argtypes = ctypes.c_void_p, (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
except (OSError, AttributeError, TypeError):  # pragma: no cover - no C library to ask
    _MEMCHR = None


def _find_byte(block: pa.Buffer, byte: int, start: int) -> int:
    """The index of the first ``byte`` in ``block`` from ``start``, -1 when none
    (C's ``memchr``: some GB/s, where numpy takes a pass of its own)."""
    if start >= block.size:
        return -1
    if _MEMCHR is not None:
        hit = _MEMCHR(block.address + start, byte, block.size - start)
        return -1 if hit is None else int(hit) - block.address
    hits = np.flatnonzero(np.frombuffer(block, dtype=np.uint8)[start:] == byte)
    return start + int(hits[0]) if hits.size else -1


def _hex_free_vectorised(data: np.ndarray, starts: set[int]) -> bool:
    """:func:`_hex_free` for a block with many ``x``: with numpy."""
    if data.size >= 2 and data[0] == 0x30 and data[1] | 0x20 == ord("x"):
        return False
    at = np.flatnonzero((data[2:] | 0x20) == ord("x")) + 2
    hit = (data[at - 1] == 0x30) & np.isin(data[at - 2], np.array(sorted(starts), dtype=np.uint8))
    return not bool(hit.any())


def _convert(types: Mapping[str, pa.DataType], columns: Sequence[str] | None,
             parsers: Sequence[Any] = ()) -> pa_csv.ConvertOptions:
    return pa_csv.ConvertOptions(
        column_types=dict(types), include_columns=list(columns) if columns else None,
        null_values=list(MISSING_TEXT), strings_can_be_null=True, quoted_strings_can_be_null=False,
        true_values=TRUE_SPELLINGS, false_values=FALSE_SPELLINGS, timestamp_parsers=list(parsers) or None,
    )


def _read_block(block: pa.Buffer, parse: pa_csv.ParseOptions, convert: pa_csv.ConvertOptions,
                names: Sequence[str] | None) -> pa.RecordBatch:
    """One block parsed on all cores, as one batch (the header read from it when
    ``names`` is None)."""
    sub = max(1 << 20, len(block) // (4 * max(1, pa.cpu_count())))
    read = pa_csv.ReadOptions(block_size=sub, use_threads=True, column_names=list(names) if names else None)
    table = pa_csv.read_csv(pa.BufferReader(block), read_options=read, parse_options=parse, convert_options=convert)
    arrays = [c.chunk(0) if c.num_chunks == 1 else c.combine_chunks() for c in table.columns]
    return pa.RecordBatch.from_arrays(arrays, schema=table.schema)


def typed_csv_batches(
    stream: Any, parse: pa_csv.ParseOptions, names: Sequence[str], columns: Sequence[str] | None,
    kinds: Callable[[pa.RecordBatch], Mapping[str, TextKind]], block_size: int,
) -> Iterator[pa.RecordBatch]:
    """The batches of a CSV file, every block typed (see the module docstring);
    batches without rows are left out.

    The first block is read as text first, every column a string, for ``kinds``
    to infer the kinds from; that batch is not yielded: the block is read again,
    typed like the others.

    :param stream: a pyarrow input stream at the file's first byte.
    :param names: the file's column names (its header).
    :param columns: the columns to read (None: all), in this order.
    :param kinds: called with the first block's text batch: the kind of each
        column (integer, decimal, boolean, datetime with its format, string,
        categorical); a column without one is read as text.
    :raises pyarrow.ArrowInvalid: when the file is not CSV as parsed.
    """
    blocks = csv_blocks(stream, block_size)
    first = next(blocks, None)
    if first is None:
        return
    text = _convert({n: pa.string() for n in names}, columns)
    batch = _read_block(first, parse, text, None)
    plan = _Plan(list(names), dict(kinds(batch)), parse.delimiter.encode())
    plan.repeats = {n for n, k in plan.kinds.items() if k.kind in ("string", "categorical") and _repeats(batch, n)}
    plan.stamps, plan.parsers = stamp_types(plan.kinds, batch)
    del batch
    yield from prefetched(_typed(prefetched(blocks), plan, parse, columns, first))


def _repeats(batch: pa.RecordBatch, name: str) -> bool:
    """True when the first :data:`PROBE` values of a column hold at most half as many distinct ones."""
    if name not in batch.schema.names:
        return False
    probe = batch.column(name)[:PROBE]
    return bool(int(pc.count_distinct(probe).as_py()) * 2 <= len(probe) - probe.null_count)


def _typed(blocks: Iterator[pa.Buffer], plan: _Plan, parse: pa_csv.ParseOptions,
           columns: Sequence[str] | None, first: pa.Buffer) -> Iterator[pa.RecordBatch]:
    """The typed batches of ``first`` (the file's first block, its header
    included) and ``blocks`` (closed when done)."""
    try:
        for block in itertools.chain([first], blocks):
            header = block is first
            if not header and block.size >= 3 and block.slice(0, 3).to_pybytes() == b"\xef\xbb\xbf":
                block = pa.py_buffer(b"\n" + block.to_pybytes())  # Arrow strips a BOM at the start of what it reads
            batch = _typed_block(block, plan, parse, columns, header)
            plan.watch(batch)
            if batch.num_rows:
                yield batch
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()


def _typed_block(block: pa.Buffer, plan: _Plan, parse: pa_csv.ParseOptions, columns: Sequence[str] | None,
                 header: bool = False) -> pa.RecordBatch:
    """One block with the plan's types (its first line the column names when
    ``header``); a column Arrow fails to convert is read as text."""
    while True:
        types = plan.types(block)
        try:
            return _read_block(block, parse, _convert(types, columns, plan.parsers), None if header else plan.names)
        except pa.ArrowInvalid as exc:
            if not plan.failed(exc, types):
                raise
