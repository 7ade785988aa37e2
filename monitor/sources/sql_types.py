"""Arrow types of SQL result columns: from the driver's description of the
result (PostgreSQL's type OIDs, :data:`PG_TYPES`), or inferred from the values
a driver returned (:func:`infer_type`); and values converted to them
(:func:`to_arrow`), refusing a value that does not fit instead of letting
pyarrow misread it (it reads a float into an integer or timestamp column
without a word). Why each SQL type becomes what it does is in
:mod:`monitor.sources.sql`'s docstring.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa

from monitor.errors import SourceError

__all__ = ["PG_TYPES", "driver_types", "first_line", "infer_type", "to_arrow"]

PG_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 26: pa.int64(),
    700: pa.float64(), 701: pa.float64(), 1700: pa.float64(),
    18: pa.string(), 19: pa.string(), 25: pa.string(), 1042: pa.string(), 1043: pa.string(),
    114: pa.string(), 3802: pa.string(), 2950: pa.string(), 869: pa.string(), 650: pa.string(),
    829: pa.string(), 1266: pa.string(), 142: pa.string(),
    1082: pa.date32(), 1083: pa.time64("us"), 1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"), 1186: pa.duration("us"), 17: pa.binary(),
}
"""PostgreSQL type OID -> the Arrow type of its column (bool, int8, int2, int4,
oid; float4, float8, numeric; char, name, text, bpchar, varchar, json, jsonb,
uuid, inet, cidr, macaddr, timetz, xml; date, time, timestamp, timestamptz,
interval, bytea). OIDs of built-in types are fixed (``pg_type.dat``)."""


def first_line(exc: BaseException) -> str:
    """The first non-blank line of an error's message (of the driver's error
    that a SQLAlchemy error wraps, when it wraps one)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def infer_type(values: Sequence[Any]) -> pa.DataType | None:
    """The Arrow type of a column from Python values a driver returned: bool,
    int64 (float64 when floats or decimals are among the integers), float64,
    string, timestamp[us] (with tz UTC when the values are aware), date32,
    time64[us], duration[us], binary; text for anything else (uuid, JSON, ...).

    :returns: None when every value is None (the type is not known yet).
    """
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if not kinds:
        return None
    if kinds == {bool}:
        return pa.bool_()
    if kinds <= {bool, int}:
        return pa.int64()
    if kinds <= {bool, int, float, Decimal}:
        return pa.float64()
    if kinds <= {dt.datetime}:
        aware = any(v.tzinfo is not None for v in values if v is not None)
        return pa.timestamp("us", tz="UTC") if aware else pa.timestamp("us")
    simple = {dt.date: pa.date32(), dt.time: pa.time64("us"), dt.timedelta: pa.duration("us"),
              bytes: pa.binary(), bytearray: pa.binary(), memoryview: pa.binary()}
    found = {simple.get(k) for k in kinds}
    if len(found) == 1 and None not in found:
        return found.pop()
    return pa.string()


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _as_float(value: Any) -> float:
    return float(value)


def _as_int(value: Any) -> int:
    if isinstance(value, (bool, int)) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    raise TypeError(f"{type(value).__name__} {value!r} is not a whole number")


_FIXERS: dict[str, Callable[[Any], Any]] = {"string": _as_text, "double": _as_float, "int64": _as_int, "int32": _as_int, "int16": _as_int,
           "binary": bytes}
"""Arrow type -> how a value pyarrow refuses is made to fit (text, float, a whole float as int)."""


def _accepted(arrow_type: pa.DataType) -> tuple[type, ...]:
    """The Python types pyarrow converts to ``arrow_type`` as they are meant (it
    reads a float into an integer or timestamp column without a word)."""
    t = pa.types
    for test, kinds in ((t.is_integer, (int,)), (t.is_floating, (int, float)), (t.is_boolean, (bool,)),
                        (t.is_string, (str,)), (t.is_timestamp, (dt.datetime,)), (t.is_date, (dt.date,)),
                        (t.is_time, (dt.time,)), (t.is_duration, (dt.timedelta,)),
                        (t.is_binary, (bytes, bytearray, memoryview))):
        if test(arrow_type):
            return kinds
    return (object,)


def to_arrow(values: Sequence[Any], arrow_type: pa.DataType, column: str, *, checked: bool = True) -> pa.Array:
    """A column's values as an Arrow array of ``arrow_type``.

    :param checked: check that each value's Python type is one meant for
        ``arrow_type`` (off for columns typed by the driver, whose values are).
    :raises SourceError: naming the column when a value does not fit the type.
    """
    fits = True
    if checked:
        accepted = _accepted(arrow_type)
        fits = all(issubclass(k, accepted) for k in set(map(type, values)) - {type(None)})
    if fits:
        try:
            return pa.array(values, type=arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            pass
    fix = _FIXERS.get(str(arrow_type))
    reason = "a value of another kind"
    if fix is not None:
        try:
            return pa.array([None if v is None else fix(v) for v in values], type=arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as exc:
            reason = first_line(exc)
    raise SourceError(f"column {column!r}: a value cannot be read as {arrow_type}, the type the column's "
                      f"first values or the driver gave it ({reason}); CAST the column in the query")


def driver_types(dialect: str, description: Sequence[Any]) -> list[pa.DataType | None]:
    """The Arrow type of each result column the driver tells, None where it does not."""
    if dialect != "postgresql":
        return [None] * len(description)
    return [PG_TYPES.get(col[1]) if isinstance(col[1], int) else None for col in description]
