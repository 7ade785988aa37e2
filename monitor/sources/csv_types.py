"""Typing of text columns: CSV fields arrive as text and are typed here, vectorised.

A CSV file is read with every column as text (see :mod:`monitor.sources.files`);
the profile then gives each text column a kind, either declared (``types:`` in
the YAML) or inferred by :func:`infer_kind` from a sample, and parses every value
with :func:`parse_text`. A value that does not parse as the column's kind is an
*error* (and is not counted as missing); a blank value (empty or whitespace only)
in a non-string column is *missing*.

Inference rule: on the sample's non-blank values, the first kind of
``boolean, integer, decimal, datetime`` that at least :data:`INFER_SHARE` (99%)
of them parse as; otherwise ``string``. A column with no value in the sample is
``string``.

- boolean: ``true/false, t/f, yes/no, y/n`` in any case (``1/0`` also parse when
  the column is declared boolean, but infer as integer);
- integer: an optional sign and decimal digits, within the int64 range (profiled
  as float64: beyond 2**53 rounded to the nearest double);
- decimal: anything Arrow's float parser reads, e.g. ``1.5``, ``-2e-3``, ``.5``,
  ``inf``, ``nan(1)``; no thousands separators;
- datetime: the first of :data:`DATETIME_FORMATS` that parses; a value with a UTC
  offset is converted to UTC, a value without one is taken to be UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

INFER_SHARE = 0.99
INFER_ROWS = 100_000
"""Rows of the first batch a text column's kind is inferred from."""

MISSING_TEXT = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)
"""Unquoted CSV fields read as missing: pandas' default ``na_values``."""

TRUE_TEXT = ("true", "t", "yes", "y")
FALSE_TEXT = ("false", "f", "no", "n")
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d", "ISO8601", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M", "%Y/%m/%d", "%d.%m.%Y",
)
"""Datetime formats tried in order: ``strptime`` formats (parsed by Arrow) and
``ISO8601`` (any ISO 8601 form, fractional seconds and offsets included, parsed
by pandas)."""

_INT_RE = r"^[+-]?[0-9]+$"
_FLOAT_RE = r"(?i)^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan(\([0-9a-z_]*\))?)$"
"""What Arrow's float parser reads (``fast_float``: ``nan(chars)`` included)."""
_BOOL_INFER = TRUE_TEXT + FALSE_TEXT


@dataclass(frozen=True)
class Parsed:
    """A parsed text chunk.

    :ivar values: the typed array (float64 for integer and decimal, bool for
        boolean, ``timestamp[us, tz=UTC]`` for datetime); null where the text was
        missing, blank or did not parse.
    :ivar errors: values present and non-blank that did not parse.
    """

    values: pa.Array
    errors: int


def _clean(text: pa.Array) -> pa.Array:
    """Trimmed text with blank values turned into nulls."""
    trimmed = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _present(arr: pa.Array) -> int:
    return int(len(arr) - arr.null_count)


def _fast_number(text: pa.Array, kind: str) -> pa.Array | None:
    """The text cast straight to float64 when every value parses as ``kind`` (the
    common case: one cast, no trimming); None otherwise."""
    if kind == "integer":
        ints = decimal_int64(text)
        return None if ints is None else ints.cast(pa.float64(), safe=False)
    try:
        return text.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def decimal_int64(text: pa.Array) -> pa.Array | None:
    """The text cast straight to int64 when every value is an integer as the
    module docstring says; None otherwise. Arrow's integer parser also reads
    ``0x`` hexadecimal, which is not an integer here: text with an ``x`` is
    left to the caller's slower check."""
    try:
        ints = text.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if pc.any(pc.match_substring(text, "x", ignore_case=True)).as_py():
        return None
    return ints


def parse_text(text: pa.Array, kind: str, fmt: str | None = None) -> Parsed:
    """Parse a text chunk as ``kind`` (integer, decimal, boolean, datetime).

    :param text: a string array (nulls allowed).
    :param fmt: for datetime, one of :data:`DATETIME_FORMATS` (None: inferred from
        this chunk).
    :raises ValueError: for another kind.
    """
    if not pa.types.is_string(text.type):
        text = text.cast(pa.string())
    if kind in ("integer", "decimal"):
        fast = _fast_number(text, kind)
        if fast is not None:
            return Parsed(fast, 0)
    clean = _clean(text)
    if kind in ("integer", "decimal"):
        values = _parse_number(clean, kind)
    elif kind == "boolean":
        values = _parse_bool(clean, TRUE_TEXT + ("1",), FALSE_TEXT + ("0",))
    elif kind == "datetime":
        values = parse_datetime(clean, fmt or datetime_format(clean) or "ISO8601")
    else:
        raise ValueError(f"cannot parse text as {kind!r}")
    return Parsed(values, _present(clean) - _present(values))


def _parse_number(clean: pa.Array, kind: str) -> pa.Array:
    ok = pc.match_substring_regex(clean, _INT_RE if kind == "integer" else _FLOAT_RE)
    valid = pc.if_else(ok, clean, pa.scalar(None, pa.string()))
    if kind == "integer":
        return _to_int64(pc.utf8_ltrim(valid, characters="+")).cast(pa.float64(), safe=False)
    return valid.cast(pa.float64())


def _to_int64(digits: pa.Array) -> pa.Array:
    """Cast validated digit strings to int64; values beyond its range become null."""
    try:
        return digits.cast(pa.int64())
    except pa.ArrowInvalid:
        lo, hi = -(2**63), 2**63 - 1
        ints = [None if v is None or not lo <= int(v) <= hi else int(v) for v in digits.to_pylist()]
        return pa.array(ints, type=pa.int64())


def _parse_bool(clean: pa.Array, true: tuple[str, ...], false: tuple[str, ...]) -> pa.Array:
    lower = pc.utf8_lower(clean)
    is_true = pc.is_in(lower, value_set=pa.array(true))
    is_false = pc.is_in(lower, value_set=pa.array(false))
    known = pc.or_(is_true, is_false)
    return pc.if_else(known, is_true, pa.scalar(None, pa.bool_()))


def parse_datetime(clean: pa.Array, fmt: str) -> pa.Array:
    """Parse trimmed text as ``timestamp[us, tz=UTC]`` with one of :data:`DATETIME_FORMATS`.

    Values that do not parse become null.
    """
    if fmt == "ISO8601":
        return _iso8601(clean)
    out = pc.strptime(clean, format=fmt, unit="us", error_is_null=True)
    if out.type.tz is None:
        out = pc.assume_timezone(out, "UTC") if len(out) else out.cast(pa.timestamp("us", tz="UTC"))
    return out.cast(pa.timestamp("us", tz="UTC"))


ISO_COMMON = (r"^(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}"
              r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$")
"""Common ISO 8601 forms (years 1900 to 2099): in a chunk that Arrow cannot
read whole, these are still read by Arrow, the others by pandas."""
ISO_ZONED = r"^.{10}[T ][0-9:.]+[Z+-]"
"""ISO 8601 text with a UTC offset (or ``Z``)."""


def _iso8601(clean: pa.Array) -> pa.Array:
    """ISO 8601 text as pandas' ``to_datetime(format="ISO8601", utc=True)`` reads it.

    Arrow's ISO 8601 parser reads a subset of what pandas reads (at most
    microseconds; ``tests/test_csv_blocks.py`` holds the two equal on generated
    text), so a chunk Arrow reads whole is read by Arrow; in another, the
    :data:`ISO_COMMON` values are (pandas would read them alike however the
    rest of the chunk sets its resolution) and the rest by pandas (Python objects)."""
    fast = _arrow_iso8601(clean)
    if fast is not None:
        return fast
    common = pc.fill_null(pc.match_substring_regex(clean, ISO_COMMON), False)
    if not pc.any(common).as_py():
        return _pandas_iso8601(clean)
    fast = _arrow_iso8601(pc.if_else(common, clean, pa.scalar(None, pa.string())))
    if fast is None:
        return _pandas_iso8601(clean)
    rest = pc.and_(pc.invert(common), pc.is_valid(clean))
    return pc.replace_with_mask(fast, rest, _pandas_iso8601(clean.filter(rest)))


def _arrow_iso8601(text: pa.Array) -> pa.Array | None:
    """ISO 8601 text as ``timestamp[us, tz=UTC]`` by Arrow's parser (without an
    offset: UTC); None when Arrow cannot read a value (it casts all or nothing)."""
    utc = pa.timestamp("us", tz="UTC")
    for target in (utc, pa.timestamp("us")):  # every value with an offset, or every value without
        try:
            return text.cast(target).cast(utc)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    zoned = pc.fill_null(pc.match_substring_regex(text, ISO_ZONED), False)
    none = pa.scalar(None, pa.string())
    try:
        naive = pc.if_else(zoned, none, text).cast(pa.timestamp("us")).cast(utc)
        return pc.if_else(zoned, pc.if_else(zoned, text, none).cast(utc), naive)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _pandas_iso8601(clean: pa.Array) -> pa.Array:
    import pandas as pd

    parsed = pd.to_datetime(pd.Series(clean.to_numpy(zero_copy_only=False), dtype=object),
                            format="ISO8601", errors="coerce", utc=True)
    return pa.array(parsed, type=pa.timestamp("us", tz="UTC"), from_pandas=True)


def _share(clean: pa.Array, parsed: pa.Array) -> float:
    present = _present(clean)
    return _present(parsed) / present if present else 0.0


def datetime_format(clean: pa.Array) -> str | None:
    """The first of :data:`DATETIME_FORMATS` that parses at least :data:`INFER_SHARE`
    of the non-blank trimmed values; None when none does."""
    sample = clean.drop_null()[:INFER_ROWS]
    if len(sample) == 0 or not _looks_like_date(sample[:_PROBE]):
        return None
    for fmt in DATETIME_FORMATS:
        if _share(sample[:_PROBE], parse_datetime(sample[:_PROBE], fmt)) < INFER_SHARE:
            continue
        if _share(sample, parse_datetime(sample, fmt)) >= INFER_SHARE:
            return fmt
    return None


def _looks_like_date(sample: pa.Array) -> bool:
    """Cheap pre-check: most values contain a digit and one of ``- / .``."""
    hits = pc.match_substring_regex(sample, r"^[0-9].*[0-9][-/.][0-9]|^[0-9]{4}-")
    return int(pc.sum(hits).as_py() or 0) >= INFER_SHARE * len(sample)


@dataclass(frozen=True)
class TextKind:
    """The kind a text column was given, and for datetimes the format it parses with."""

    kind: str
    fmt: str | None = None


_PROBE = 1000


def _is_kind(clean: pa.Array, kind: str) -> bool:
    """At least :data:`INFER_SHARE` of the trimmed non-blank values parse as ``kind``
    (checked on the first :data:`_PROBE` values first, so most misses are cheap)."""
    for part in (clean[:_PROBE], clean) if len(clean) > _PROBE else (clean,):
        if kind == "boolean":
            parsed = _parse_bool(part, TRUE_TEXT, FALSE_TEXT)
        else:
            parsed = _fast_number(part, kind)
            if parsed is not None:
                continue
            parsed = _parse_number(part, kind)
        if _share(part, parsed) < INFER_SHARE:
            return False
    return True


def infer_kind(text: pa.Array) -> TextKind:
    """Infer a text column's kind from (the first :data:`INFER_ROWS` of) a sample.

    See the module docstring for the rule.
    """
    clean = _clean(text[:INFER_ROWS]).drop_null()
    if len(clean) == 0:
        return TextKind("string")
    for kind in ("boolean", "integer", "decimal"):
        if _is_kind(clean, kind):
            return TextKind(kind)
    fmt = datetime_format(clean)
    return TextKind("datetime", fmt) if fmt else TextKind("string")


def typed_table(table: pa.Table, types: Mapping[str, str] | None = None) -> pa.Table:
    """A table of text columns (a CSV's, as read or kept in a data copy) with
    each column typed as the profile types it: the declared kind of ``types``,
    else the kind :func:`infer_kind` gives its first :data:`INFER_ROWS` values.

    Arrow types: integer ``int64``, decimal ``float64``, boolean ``bool``,
    datetime ``timestamp[us, tz=UTC]``, string and categorical text as it is.
    Missing and blank values are null; so is a value that does not parse (an
    *error* in the profile). The text schema metadata is dropped.

    :raises ValueError: on an unknown kind in ``types``.
    """
    columns = []
    for name, column in zip(table.column_names, table.columns):
        text = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        declared = (types or {}).get(name)
        kind = TextKind(declared) if declared else infer_kind(text)
        columns.append(_typed(text, kind))
    return pa.table(columns, names=table.column_names)


def _typed(text: pa.Array, kind: TextKind) -> pa.Array:
    if kind.kind in ("string", "categorical"):
        return text
    if kind.kind not in ("integer", "decimal", "boolean", "datetime"):
        raise ValueError(f"unknown kind {kind.kind!r}")
    if kind.kind == "integer":  # exact beyond 2**53, unlike the float64 the profile reads integers as
        ints = decimal_int64(text)
        if ints is not None:
            return ints
        clean = _clean(text)
        ok = pc.match_substring_regex(clean, _INT_RE)
        return _to_int64(pc.utf8_ltrim(pc.if_else(ok, clean, pa.scalar(None, pa.string())), characters="+"))
    return parse_text(text, kind.kind, kind.fmt).values
