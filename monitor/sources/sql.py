"""SQL queries: one read-only ``SELECT`` of a datastore, as Arrow record batches.

A :class:`QueryFile` is one query of a ``sql`` datastore (a SQLAlchemy URL),
read as one input of a dataset. :func:`read_query` runs it with its bound
parameters (``sqlalchemy.text`` and a dict, never string formatting), streamed
through a server-side cursor where the driver has one, and yields record
batches of at most ``batch_rows`` rows, all of one schema.

**Read only, twice over.** :func:`check_read_only` parses the query with
sqlglot, in the datastore's dialect, and refuses anything but one ``SELECT``
(``WITH ... SELECT``, ``VALUES``, ``TABLE`` and set operations included): a
``DELETE``, two statements, a data-modifying ``WITH``, ``SELECT ... INTO`` and
``SELECT ... FOR UPDATE``. Then the query runs in a read-only transaction,
always rolled back: PostgreSQL's ``postgresql_readonly`` execution option
(``SET TRANSACTION READ ONLY``: a function that writes is refused too), SQLite's
``PRAGMA query_only``. Other dialects rely on the parser and on the rights of
the URL's user (a read-only user is the safe choice).

**Column types** come from the driver's description of the result where it
tells them (PostgreSQL: the type OIDs, :data:`PG_TYPES`): integers keep their
width (int16, int32, int64), floating point and ``numeric`` become float64,
text string, boolean bool, ``timestamp`` timestamp[us], ``timestamptz``
timestamp[us, UTC], ``date`` date32, ``time`` time64[us], ``interval``
duration[us], ``bytea`` binary, json, uuid, network and other types text.
``numeric`` is float64 rather than decimal128 because the profile reads decimal
columns as float64 anyway (:func:`monitor.profile.columns.to_numeric`), and
PostgreSQL's ``numeric`` without a precision (the type of ``avg()``, ``sum()``
of integers, ...) has no fixed scale and may hold ``NaN`` or ``Infinity``,
which decimal128 cannot: one schema for every batch needs one type known before
the values. Where the driver tells nothing (SQLite; a PostgreSQL type not in
the table, such as an enum or an array), a column's type is inferred from its
first non-null values (:func:`infer_type`) and then fixed; rows are read ahead,
up to :data:`LOOKAHEAD_ROWS`, until each column has a value, so that a column
all null in the first batch still gets its type; one null all the way through
the read-ahead is read as text. A later value that does not fit the fixed type
(a ``2.5`` in a SQLite column whose first values were integers) is a
:class:`~monitor.errors.SourceError` naming the column: ``CAST`` it in the query.

**Fingerprint** (:func:`query_fingerprint`): a SHA-256 over the query, its
parameters, its row count and, with a ``checksum_column``, an order-independent
sum of the hashes of that column's values (see there).

**Errors** are :class:`~monitor.errors.SourceError` naming the datastore and the
query, with the first line of the driver's message; the URL's password is never
in a message (it is scrubbed from the driver's text too) and the driver's
exception is not chained (``from None``), so no traceback logs it.

SQLAlchemy, psycopg and sqlglot are imported on first use: the package imports
without them (``pip install 'drift-monitor[sql]'``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from monitor.errors import MonitorError, SourceError
from monitor.sources.inputs import InputStat
from monitor.sources.sql_types import PG_TYPES, driver_types, first_line, infer_type, to_arrow

if TYPE_CHECKING:
    import sqlalchemy

__all__ = [
    "LOOKAHEAD_ROWS", "PG_TYPES", "QueryFile", "check_read_only", "infer_type",
    "query_fingerprint", "read_query", "sql_engine",
]

CONNECT_TIMEOUT = 10
"""Seconds a connection attempt may take, for the drivers that take a timeout."""
LOOKAHEAD_ROWS = 262_144
"""Rows read ahead at most to type the columns the driver gives no type for."""

_GLOT_DIALECTS = {
    "postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql",
    "mssql": "tsql", "oracle": "oracle", "duckdb": "duckdb", "snowflake": "snowflake",
    "bigquery": "bigquery", "redshift": "redshift", "trino": "trino", "databricks": "databricks",
}
"""SQLAlchemy dialect name -> sqlglot dialect (others parse as generic SQL)."""
_TIMEOUT_ARG = {"psycopg": "connect_timeout", "psycopg2": "connect_timeout", "pg8000": "timeout",
                "pymysql": "connect_timeout", "mysqldb": "connect_timeout", "pysqlite": "timeout"}
"""Driver -> its ``connect()`` argument in seconds (SQLite's waits for a lock)."""
_ENGINES: dict[str, tuple[int, sqlalchemy.Engine]] = {}
"""URL -> (the process that made it, its engine): a forked process makes its own."""
_ENGINES_LOCK = threading.Lock()



@dataclass(frozen=True)
class QueryFile:
    """One SQL query of a datastore, read as one input of a dataset.

    :param datastore: the datastore's name, used in every message.
    :param url: its SQLAlchemy URL (``postgresql+psycopg://user:password@host:5432/db``,
        ``sqlite:///path/to/file.db``); it may hold a password, so it is in no
        message, log line or ``repr``.
    :param query: one ``SELECT`` (``:name`` placeholders for ``params``).
    :param params: the bound parameters as ``(name, value)`` pairs; a mapping is
        accepted and stored sorted by name.
    :param checksum_column: a result column whose values the fingerprint sums
        hashes of (None: the fingerprint counts rows only).
    """

    datastore: str
    url: str = field(repr=False, compare=False)
    query: str
    params: tuple[tuple[str, Any], ...] = ()
    checksum_column: str | None = None
    format: ClassVar[str] = "sql"

    def __post_init__(self) -> None:
        pairs = self.params.items() if isinstance(self.params, Mapping) else self.params
        object.__setattr__(self, "params", tuple(sorted((str(k), v) for k, v in pairs)))

    @property
    def name(self) -> str:
        """``DATASTORE.sql``, where a file input has its file name."""
        return f"{self.datastore}.sql"

    suffix: ClassVar[str] = ""
    suffixes: ClassVar[list[str]] = []

    def __str__(self) -> str:
        text = " ".join(self.query.split())
        return f"datastore {self.datastore!r}: query {text[:80]}{'...' if len(text) > 80 else ''}"

    def resolve(self) -> QueryFile:
        """Itself (a query has no path to resolve)."""
        return self

    def stat(self) -> InputStat:
        """Size and modification time, both 0: unknown until the query runs."""
        return InputStat()


# --------------------------------------------------------------------------- engines and errors


def _sqlalchemy(datastore: str) -> Any:
    try:
        import sqlalchemy
    except ImportError:
        raise SourceError(f"datastore {datastore!r} (sql) needs SQLAlchemy: pip install 'drift-monitor[sql]'") from None
    return sqlalchemy


def _secrets(url: str) -> list[str]:
    """The password of a URL in every spelling a message could hold it in."""
    from urllib.parse import quote, quote_plus

    found = re.match(r"^[^:/]+://[^:/@]*:([^@]*)@", url)
    raw = found.group(1) if found else ""
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:  # an unparsable URL: only its raw text is known
        password = None
    words = {raw, str(password or ""), quote(str(password or ""), safe=""), quote_plus(str(password or ""))}
    return sorted((w for w in words if w), key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password replaced by ``***``."""
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def sql_engine(url: str, datastore: str) -> sqlalchemy.Engine:
    """The SQLAlchemy engine of a datastore's URL, made once per URL and
    process (a forked process never uses its parent's pooled connections): a connection pool with ``pool_pre_ping`` and a connect timeout of
    :data:`CONNECT_TIMEOUT` seconds for the drivers that take one.

    :raises SourceError: naming the datastore when SQLAlchemy is not installed,
        the URL is not one, or its driver is missing (never with the password).
    """
    sa = _sqlalchemy(datastore)
    with _ENGINES_LOCK:
        cached = _ENGINES.get(url)
        if cached is not None and cached[0] == os.getpid():
            return cached[1]
        if cached is not None:  # made before a fork: leave the parent's connections to it
            cached[1].dispose(close=False)
        try:
            parsed = sa.engine.make_url(url)
        except Exception:
            raise SourceError(f"datastore {datastore!r}: url is not a SQLAlchemy URL "
                              "(dialect+driver://user:password@host:port/database)") from None
        try:
            driver = parsed.get_dialect().driver
            timeout = _TIMEOUT_ARG.get(driver)
            engine: sqlalchemy.Engine = sa.create_engine(parsed, pool_pre_ping=True,
                                      connect_args={timeout: CONNECT_TIMEOUT} if timeout else {})
        except Exception as exc:
            safe = parsed.render_as_string(hide_password=True)
            raise SourceError(f"datastore {datastore!r}: cannot use {safe}: {scrub(first_line(exc), url)}") from None
        _ENGINES[url] = (os.getpid(), engine)
        return engine


@contextmanager
def _errors(source: QueryFile) -> Iterator[None]:
    """Turn a driver's or SQLAlchemy's error into a :class:`SourceError` naming the
    query, password scrubbed, cause dropped; our own errors pass through."""
    try:
        yield
    except MonitorError:
        raise
    except Exception as exc:
        message = scrub(f"{source}: {first_line(exc)}", source.url)
    else:
        return
    raise SourceError(message) from None


# --------------------------------------------------------------------------- read only

_WRITES = ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command",
           "TruncateTable", "Copy", "Pragma", "Set", "Transaction", "Commit", "Rollback", "Grant",
           "LoadData", "Attach", "Detach", "Use", "Kill", "Analyze", "Execute", "Cache", "Uncache")
_READS = ("Select", "SetOperation", "Values", "Subquery")


def _statement_name(node: Any) -> str:
    if type(node).__name__ == "Command":
        return str(node.this).upper()
    return {"TruncateTable": "TRUNCATE", "LoadData": "LOAD DATA", "SetOperation": "UNION"}.get(
        type(node).__name__, type(node).__name__.upper())


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'AEIOU' else 'a'} {word}"


def check_read_only(query: str, dialect: str | None = None) -> None:
    """Refuse a query that is not one ``SELECT`` (``WITH ... SELECT``, ``VALUES``,
    ``TABLE`` and ``UNION``/``INTERSECT``/``EXCEPT`` of them are fine), parsed with
    sqlglot.

    :param dialect: the SQLAlchemy dialect name (``postgresql``, ``sqlite``, ...)
        to parse it as (None: generic SQL).
    :raises SourceError: naming why: ``query is a DELETE statement: only SELECT
        queries are read``, two statements, a ``WITH`` that writes, ``SELECT ...
        INTO`` (creates a table), ``SELECT ... FOR UPDATE`` (locks rows), or a
        query the parser cannot read.
    """
    _statement(query, dialect)


def _statement(query: str, dialect: str | None) -> str:
    """:func:`check_read_only`, then the query without what follows its last token."""
    try:
        import sqlglot
        from sqlglot import exp
        from sqlglot.errors import ParseError
    except ImportError:
        raise SourceError("sql datastores need sqlglot: pip install 'drift-monitor[sql]'") from None
    if not query.strip(" \t\r\n;"):
        raise SourceError("query is empty: give one SELECT")
    try:
        statements = [s for s in sqlglot.parse(query, read=_GLOT_DIALECTS.get(dialect or "")) if s is not None]
    except ParseError as exc:
        where = exc.errors[0] if exc.errors else {}
        raise SourceError(f"query cannot be parsed as {dialect or 'SQL'} (line {where.get('line', '?')}, "
                          f"column {where.get('col', '?')}: {where.get('description', 'syntax error')}); "
                          "only a single SELECT is read") from None
    if len(statements) != 1:
        names = ", ".join(_statement_name(s) for s in statements)
        raise SourceError(f"query holds {len(statements)} statements ({names}): only one SELECT is read")
    statement = statements[0]
    if not isinstance(statement, tuple(getattr(exp, n) for n in _READS)):
        raise SourceError(f"query is {_a(_statement_name(statement))} statement: only SELECT queries are read")
    writes = tuple(getattr(exp, n) for n in _WRITES if hasattr(exp, n))
    for node in statement.walk():
        if isinstance(node, writes):
            raise SourceError(f"query holds {_a(_statement_name(node))} statement (in a WITH clause or a "
                              "subquery): only SELECT queries are read")
        if isinstance(node, exp.Into):
            raise SourceError("query is a SELECT ... INTO, which creates a table: only SELECT queries are read")
        if isinstance(node, exp.Lock):
            raise SourceError("query locks rows (SELECT ... FOR UPDATE/SHARE): only plain SELECT queries are read")
    return _trimmed(query, dialect)


def _trimmed(query: str, dialect: str | None) -> str:
    """The query up to its last token: without the semicolons and comments after
    it, so that it can stand inside ``( ... )``."""
    from sqlglot import TokenType
    from sqlglot.dialects.dialect import Dialect

    tokens = Dialect.get_or_raise(_GLOT_DIALECTS.get(dialect or "")).tokenize(query)
    last = [t for t in tokens if t.token_type != TokenType.SEMICOLON]
    return query[: last[-1].end + 1] if last else query


@contextmanager
def _read_only(engine: sqlalchemy.Engine) -> Iterator[sqlalchemy.Connection]:
    """A connection in a read-only transaction where the dialect has one,
    always rolled back (and SQLite's ``query_only`` switched off again)."""
    name = engine.dialect.name
    options = {"postgresql_readonly": True} if name == "postgresql" else {}
    with engine.connect() as conn:
        if options:
            conn = conn.execution_options(**options)
        if name == "sqlite":
            conn.exec_driver_sql("PRAGMA query_only = ON")
        try:
            yield conn
        finally:
            conn.rollback()
            if name == "sqlite":
                try:
                    conn.exec_driver_sql("PRAGMA query_only = OFF")
                except Exception:
                    conn.invalidate()  # never hand a query_only connection to another use


# --------------------------------------------------------------------------- reading


def _prepared(source: QueryFile) -> tuple[sqlalchemy.Engine, str]:
    """The datastore's engine and the checked query (trimmed).

    :raises SourceError: naming the datastore and the query when it is not a
        single SELECT."""
    engine = sql_engine(source.url, source.datastore)
    try:
        return engine, _statement(source.query, engine.dialect.name)
    except SourceError as exc:
        raise SourceError(f"{source}: {exc}") from None


def _picked(source: QueryFile, names: list[str], columns: Sequence[str] | None) -> list[int]:
    """Indexes of the result columns to read, in the order asked."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SourceError(f"{source}: the result repeats column names ({', '.join(repeated)}): "
                          "give each column its own name with AS")
    if columns is None:
        return list(range(len(names)))
    missing = [c for c in columns if c not in names]
    if missing:
        raise SourceError(f"{source}: the result has no column {', '.join(map(repr, missing))} "
                          f"(it has {', '.join(names)})")
    return [names.index(c) for c in columns]


def _settle(parts: Iterator[Sequence[Any]], types: list[pa.DataType | None],
            pick: list[int]) -> list[Sequence[Any]]:
    """Read ahead (at most :data:`LOOKAHEAD_ROWS`) until each column of ``types``
    that is None has a non-null value, and type it from its values in the first
    batch that has one (:func:`infer_type`); a column still unknown then is text.

    :returns: the batches of rows read ahead, to be read first.
    """
    pending: list[Sequence[Any]] = []
    unknown = [j for j, t in enumerate(types) if t is None]
    read = 0
    while unknown and read < LOOKAHEAD_ROWS:
        rows = next(parts, None)
        if rows is None:
            break
        pending.append(rows)
        read += len(rows)
        values = list(zip(*rows))
        for j in list(unknown):
            found = infer_type(values[pick[j]])
            if found is not None:
                types[j] = found
                unknown.remove(j)
    for j in unknown:
        types[j] = pa.string()
    return pending


def _record_batch(rows: Sequence[Any], pick: list[int], schema: pa.Schema, checked: list[bool]) -> pa.RecordBatch:
    values = list(zip(*rows))
    arrays = [to_arrow(values[i], schema.field(j).type, schema.field(j).name, checked=checked[j])
              for j, i in enumerate(pick)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def read_query(source: QueryFile, columns: Sequence[str] | None = None,
               batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    """Run a datastore's query with its bound parameters, in a read-only
    transaction, and stream its rows as record batches.

    Rows are fetched ``batch_rows`` at a time through a server-side cursor where
    the driver has one (``yield_per``). Column types: see the module docstring.

    :param columns: the result columns to read, in this order (None: all).
    :param batch_rows: rows per batch at most (at least 1).
    :returns: record batches of one schema; a result with no rows gives one
        empty batch with the columns.
    :raises SourceError: naming the datastore and the query (``str(source)``) on
        a query that is not one SELECT, a connection, driver or SQL error (its
        first line), a column asked for that the result lacks, or a value that
        does not fit its column's type; never with the URL's password.
    :raises ValueError: when ``batch_rows`` is below 1.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
    engine, query = _prepared(source)
    from sqlalchemy import text

    with _errors(source), _read_only(engine) as conn:
        result = conn.execution_options(yield_per=batch_rows).execute(text(query), dict(source.params))
        names = list(result.keys())
        pick = _picked(source, names, columns)
        told = driver_types(engine.dialect.name, result.cursor.description)
        types = [told[i] for i in pick]
        checked = [t is None for t in types]
        parts = iter(result.partitions(batch_rows))
        pending = _settle(parts, types, pick)
        schema = pa.schema([pa.field(names[i], t) for i, t in zip(pick, types)])
        empty = True
        for rows in _chain(pending, parts):
            if rows:
                empty = False
                try:
                    batch = _record_batch(rows, pick, schema, checked)
                except SourceError as exc:
                    raise SourceError(f"{source}: {exc}") from None
                yield batch
        if empty:
            yield pa.RecordBatch.from_pylist([], schema=schema)


def _chain(first: list[Sequence[Any]], rest: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    while first:
        yield first.pop(0)  # let each read-ahead batch go once it is made
    yield from rest


# --------------------------------------------------------------------------- fingerprint

FINGERPRINT_VERSION = 1
_HASH_BITS = 64


def _value_hash(value: Any) -> int:
    """64 bits of the BLAKE2b of a value's ``repr`` (its type and value)."""
    return int.from_bytes(hashlib.blake2b(repr(value).encode(), digest_size=_HASH_BITS // 8).digest(), "big")


def _checksum(conn: sqlalchemy.Connection, dialect: str, query: str, column: str, params: dict[str, Any]) -> str:
    """An order-independent checksum of one result column: its non-null count and
    the sum of a 64-bit hash of each value. PostgreSQL computes it in the server
    (the first 64 bits of ``md5`` of each value's text, summed as ``numeric``);
    other dialects stream the column and sum :func:`_value_hash` modulo 2**64."""
    from sqlalchemy import text

    quoted = conn.dialect.identifier_preparer.quote(column)
    if dialect == "postgresql":
        sql = (f"SELECT count(q.{quoted}), sum(('x' || left(md5(q.{quoted}::text), 16))::bit(64)::bigint::numeric)"
               f"::text FROM (\n{query}\n) AS q")
        count, total = conn.execute(text(sql), params).one()
        return f"pg-md5:{count}:{total or 0}"
    result = conn.execution_options(yield_per=65_536).execute(text(f"SELECT q.{quoted} FROM (\n{query}\n) AS q"), params)
    count = total = 0
    for part in result.partitions():
        hashes = [_value_hash(row[0]) for row in part if row[0] is not None]
        count += len(hashes)
        total = (total + sum(hashes)) % (1 << _HASH_BITS)
    return f"blake2b:{count}:{total}"


def query_fingerprint(source: QueryFile) -> str:
    """A SHA-256 hex fingerprint of what a query reads: over the query text, its
    parameters, its row count (``SELECT count(*) FROM (query) AS q``) and, when
    :attr:`QueryFile.checksum_column` is set, a checksum of that column.

    The checksum is the sum of a 64-bit hash of each value of the column (with
    the count of its non-null values), not its sum, min and max: it works for a
    column of any type (a sum of text is an error in PostgreSQL and 0 in
    SQLite), it changes when any one value changes (except with probability
    2**-64), where a sum, min and max miss two values moving in opposite
    directions or a value between the extremes changing its text, and being a
    sum it does not depend on row order, which a query without ``ORDER BY``
    does not fix. It does not see values moving between rows: the rows of a
    query's result are a multiset.

    :raises SourceError: as :func:`read_query`.
    """
    engine, query = _prepared(source)
    from sqlalchemy import text

    params = dict(source.params)
    with _errors(source), _read_only(engine) as conn:
        rows = conn.execute(text(f"SELECT count(*) FROM (\n{query}\n) AS q"), params).scalar_one()
        checksum = None
        if source.checksum_column is not None:
            checksum = _checksum(conn, engine.dialect.name, query, source.checksum_column, params)
    described = {"version": FINGERPRINT_VERSION, "query": source.query, "params": source.params,
                 "rows": int(rows), "checksum_column": source.checksum_column, "checksum": checksum}
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=repr).encode()).hexdigest()
