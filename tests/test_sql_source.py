"""SQL queries as a source (monitor/sources/sql.py), on real databases only: a
SQLite file, and a PostgreSQL server started by the ``postgres`` fixture
(tests/servers_pg.py; marked ``servers``).

The oracles: rows read back with ``sqlite3`` and ``psycopg`` directly, the
NYC flights table of ``monitor.example.read_flights``, and the profile of the
same month written to Parquet by ``monitor.example.prepare_flights``.
"""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from monitor.errors import SourceError
from monitor.example import prepare_flights, read_flights
from monitor.profile import DatasetProfile, compute_profile, profile_table
from monitor.sources import sql as sql_source
from monitor.sources.sql import QueryFile, check_read_only, query_fingerprint, read_query, sql_engine

ROOT = Path(__file__).resolve().parents[1]
MONTH = 3
EXACT_STATS = {"Type", "Count", "Missing Count", "Not Missing Count", "Error Count", "Empty count",
               "Distinct count", "Zero count", "Positive infinity count", "Negative infinity count",
               "Min length", "Max length"}
"""Profile table statistics compared exactly; the others (moments, quantiles,
min, max, means) to a relative 1e-12."""


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def flights() -> pa.Table:
    return read_flights()


@pytest.fixture(scope="module")
def month_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Parquet file ``prepare_flights`` writes for :data:`MONTH`."""
    folder = tmp_path_factory.mktemp("flights-parquet")
    prepare_flights(folder)
    return folder / f"2013-{MONTH:02d}.parquet"


def _sqlite_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@pytest.fixture(scope="module")
def flights_db(tmp_path_factory: pytest.TempPathFactory, flights: pa.Table) -> Path:
    """A SQLite file with table ``flights`` (time_hour as ISO text: SQLite has no timestamp type)."""
    path = tmp_path_factory.mktemp("sqlite") / "flights.db"
    types = {"int64": "INTEGER", "string": "TEXT"}
    columns = ", ".join(f"{f.name} {types.get(str(f.type), 'TEXT')}" for f in flights.schema)
    rows = zip(*[[_sqlite_value(v) for v in col.to_pylist()] for col in flights.columns])
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE flights ({columns})")
        conn.executemany(f"INSERT INTO flights VALUES ({', '.join('?' * flights.num_columns)})", rows)
    return path


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    """A SQLite file with a small table ``t`` of every storage class."""
    path = tmp_path / "small.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER, x REAL, name TEXT, raw BLOB, late INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [
            (1, 0.5, "O'Hare", b"\x00\x01", None),
            (2, -1.25, "JFK", None, None),
            (3, None, None, b"zz", 7),
        ])
    return path


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def table_of(batches: Iterator[pa.RecordBatch] | list[pa.RecordBatch]) -> pa.Table:
    return pa.Table.from_batches(list(batches))


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def _number(value: Any) -> Any:
    """A datetime statistic (Timestamp, Timedelta) as float seconds; others as they are."""
    if isinstance(value, (pd.Timestamp, pd.Timedelta)):
        return value.value / 1e9
    return value


def assert_same_profile(got: DatasetProfile, want: DatasetProfile, columns: list[str]) -> None:
    """Every statistic of the profile table equal: counts exactly, the others to 1e-12."""
    a, b = profile_table(got), profile_table(want)
    assert got.row_count == want.row_count
    for column in columns:
        for stat in a.columns:
            x, y = _number(a.loc[column, stat]), _number(b.loc[column, stat])
            if stat in EXACT_STATS or not isinstance(y, float):
                assert x == y or (x != x and y != y), (column, stat, x, y)
            else:
                assert math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0), (column, stat, x, y)


# --------------------------------------------------------------------------- the QueryFile


def test_query_file_is_path_like_and_never_shows_its_url() -> None:
    url = "postgresql+psycopg://reader:s3cret-pw@db.example:5432/sales"
    query = "SELECT *\n  FROM orders\n WHERE day = :day AND " + "x = 1 AND " * 10 + "TRUE"
    source = QueryFile("warehouse", url, query, {"day": "2024-01-01", "a": 1})
    assert source.params == (("a", 1), ("day", "2024-01-01"))
    assert (source.name, source.suffix, source.suffixes, source.format) == ("warehouse.sql", "", [], "sql")
    assert source.resolve() is source
    assert (source.stat().st_size, source.stat().st_mtime_ns) == (0, 0)
    text = str(source)
    assert text.startswith("datastore 'warehouse': query SELECT * FROM orders WHERE day = :day AND x = 1")
    assert "\n" not in text and len(text) == len("datastore 'warehouse': query ") + 80 + 3
    assert "s3cret-pw" not in repr(source) and "s3cret-pw" not in text
    assert source == QueryFile("warehouse", "sqlite:///other.db", query, (("a", 1), ("day", "2024-01-01")))


def test_the_package_imports_without_sqlalchemy(small_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = ("import sys; sys.modules['sqlalchemy'] = None; sys.modules['sqlglot'] = None\n"
            "import monitor.sources.sql as s, monitor.sources.files\n"
            "print(s.QueryFile('d', 'sqlite://', 'SELECT 1').name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "d.sql"
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(SourceError, match=r"datastore 'lake' \(sql\) needs SQLAlchemy: pip install 'drift-monitor\[sql\]'"):
        list(read_query(QueryFile("lake", sqlite_url(small_db) + "?x=1", "SELECT 1")))


# --------------------------------------------------------------------------- read only


@pytest.mark.parametrize(("query", "why"), [
    ("DELETE FROM t", "query is a DELETE statement: only SELECT queries are read"),
    ("UPDATE t SET id = 0", "query is an UPDATE statement"),
    ("INSERT INTO t (id) VALUES (9)", "query is an INSERT statement"),
    ("DROP TABLE t", "query is a DROP statement"),
    ("SELECT 1; DELETE FROM t", r"query holds 2 statements \(SELECT, DELETE\)"),
    ("SELECT 1; SELECT 2", r"query holds 2 statements"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "query holds a DELETE statement"),
    ("SELECT * INTO t2 FROM t", r"query is a SELECT \.\.\. INTO, which creates a table"),
    ("SELECT * FROM t FOR UPDATE", "query locks rows"),
    ("PRAGMA query_only = 0", "query is a PRAGMA statement"),
    ("", "query is empty"),
])
def test_statements_other_than_one_select_are_refused(small_db: Path, query: str, why: str) -> None:
    before = sqlite_rows(small_db, "SELECT * FROM t ORDER BY id")
    with pytest.raises(SourceError, match=why):
        check_read_only(query, "sqlite")
    with pytest.raises(SourceError, match=r"^datastore 'local': query .*: " + why):
        list(read_query(QueryFile("local", sqlite_url(small_db), query)))
    assert sqlite_rows(small_db, "SELECT * FROM t ORDER BY id") == before


@pytest.mark.parametrize("query", [
    "SELECT * FROM t", "select id from t where id = :id;", "WITH a AS (SELECT id FROM t) SELECT * FROM a",
    "VALUES (1, 2), (3, 4)", "SELECT 1 UNION ALL SELECT 2", "(SELECT 1)", "SELECT ';DELETE FROM t' AS s -- ; DROP",
])
def test_selects_pass_the_check(query: str) -> None:
    check_read_only(query, "sqlite")
    check_read_only(query, "postgresql")


def test_sqlite_runs_the_query_with_query_only_on_and_leaves_it_off(small_db: Path) -> None:
    engine = sql_engine(sqlite_url(small_db), "local")
    with pytest.raises(Exception, match="readonly database"):
        with sql_source._read_only(engine) as conn:  # the second layer alone, past the parser
            conn.exec_driver_sql("DELETE FROM t")
    assert len(sqlite_rows(small_db, "SELECT * FROM t")) == 3
    with engine.connect() as conn:  # the pooled connection writes again
        assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 0


# --------------------------------------------------------------------------- reading SQLite


def test_sqlite_types_come_from_the_values(small_db: Path) -> None:
    batches = list(read_query(QueryFile("local", sqlite_url(small_db), "SELECT * FROM t ORDER BY id")))
    table = table_of(batches)
    assert table.schema == pa.schema([("id", pa.int64()), ("x", pa.float64()), ("name", pa.string()),
                                      ("raw", pa.binary()), ("late", pa.int64())])
    assert [tuple(r.values()) for r in table.to_pylist()] == sqlite_rows(small_db, "SELECT * FROM t ORDER BY id")


def test_params_are_bound_not_spliced(small_db: Path) -> None:
    url = sqlite_url(small_db)
    query = "SELECT id FROM t WHERE name = :name"
    found = table_of(read_query(QueryFile("local", url, query, {"name": "O'Hare"})))
    assert found.column("id").to_pylist() == [1]
    injected = table_of(read_query(QueryFile("local", url, query, {"name": "x' OR '1'='1"})))
    assert injected.num_rows == 0 and injected.column_names == ["id"]


def test_batches_are_bounded_and_of_one_schema(flights_db: Path) -> None:
    source = QueryFile("local", sqlite_url(flights_db), "SELECT * FROM flights WHERE month = :month", {"month": MONTH})
    batches = list(read_query(source, batch_rows=1000))
    want = sqlite_rows(flights_db, f"SELECT * FROM flights WHERE month = {MONTH}")
    assert len(batches) == math.ceil(len(want) / 1000)
    assert all(b.num_rows <= 1000 for b in batches) and sum(b.num_rows for b in batches) == len(want)
    assert len({b.schema for b in batches}) == 1
    assert [tuple(r.values()) for r in table_of(batches).to_pylist()] == want


def test_a_column_null_in_the_first_batches_gets_its_type_from_later_rows(tmp_path: Path) -> None:
    path = tmp_path / "late.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER, late REAL, never TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?, NULL)", [(i, None if i < 2500 else i / 4) for i in range(3000)])
    source = QueryFile("local", sqlite_url(path), "SELECT * FROM t ORDER BY id")
    batches = list(read_query(source, batch_rows=1000))
    assert [b.num_rows for b in batches] == [1000, 1000, 1000]
    assert {b.schema for b in batches} == {pa.schema([("id", pa.int64()), ("late", pa.float64()), ("never", pa.string())])}
    assert table_of(batches).column("late").to_pylist() == [None if i < 2500 else i / 4 for i in range(3000)]


def test_a_column_null_past_the_read_ahead_is_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "later.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER, late INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, None if i < 250 else i) for i in range(300)])
    monkeypatch.setattr(sql_source, "LOOKAHEAD_ROWS", 200)
    table = table_of(read_query(QueryFile("local", sqlite_url(path), "SELECT * FROM t ORDER BY id"), batch_rows=100))
    assert table.schema.field("late").type == pa.string()
    assert table.column("late").to_pylist() == [None if i < 250 else str(i) for i in range(300)]


def test_a_value_that_does_not_fit_the_inferred_type_names_its_column(tmp_path: Path) -> None:
    path = tmp_path / "mixed.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER, v NUMERIC)")  # NUMERIC keeps 2.0 as 2, 2.5 as 2.5
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, 1), (2, 2.0), (3, 2.5), (4, 3)])
    url = sqlite_url(path)
    whole = table_of(read_query(QueryFile("local", url, "SELECT v FROM t ORDER BY id"), batch_rows=4))
    assert whole.schema.field("v").type == pa.float64() and whole.column("v").to_pylist() == [1, 2, 2.5, 3]
    with pytest.raises(SourceError, match=r"datastore 'local': query SELECT v FROM t ORDER BY id: column 'v': "
                                          r"a value cannot be read as int64.*CAST the column"):
        list(read_query(QueryFile("local", url, "SELECT v FROM t ORDER BY id"), batch_rows=2))


def test_columns_are_selected_and_missing_ones_named(flights_db: Path) -> None:
    source = QueryFile("local", sqlite_url(flights_db), "SELECT * FROM flights WHERE month = 1 AND day = 1")
    table = table_of(read_query(source, columns=["dep_delay", "carrier"]))
    assert table.column_names == ["dep_delay", "carrier"]
    assert table.column("carrier").to_pylist() == [r[0] for r in sqlite_rows(
        flights_db, "SELECT carrier FROM flights WHERE month = 1 AND day = 1")]
    with pytest.raises(SourceError, match=r"datastore 'local': .*the result has no column 'nope', 'nada' \(it has year, month"):
        list(read_query(source, columns=["dep_delay", "nope", "nada"]))
    with pytest.raises(SourceError, match=r"repeats column names \(id\)"):
        list(read_query(QueryFile("local", sqlite_url(flights_db), "SELECT 1 AS id, 2 AS id")))


def test_no_rows_give_one_empty_batch_with_the_columns(flights_db: Path) -> None:
    source = QueryFile("local", sqlite_url(flights_db), "SELECT carrier, flight FROM flights WHERE month = 13")
    batches = list(read_query(source))
    assert len(batches) == 1 and batches[0].num_rows == 0
    assert batches[0].schema.names == ["carrier", "flight"]


def test_sql_errors_name_the_datastore_and_the_query(flights_db: Path) -> None:
    source = QueryFile("local", sqlite_url(flights_db), "SELECT nosuch FROM flights")
    with pytest.raises(SourceError, match=r"^datastore 'local': query SELECT nosuch FROM flights: no such column: nosuch$") as caught:
        list(read_query(source))
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    bad = QueryFile("local", sqlite_url(flights_db), "SELEC * FROM flights")
    with pytest.raises(SourceError, match=r"^datastore 'local': query SELEC \* FROM flights: query cannot be parsed"):
        list(read_query(bad))
    with pytest.raises(SourceError, match=r"^datastore 'local': url is not a SQLAlchemy URL"):
        sql_engine("not a url at all:pw@", "local")
    with pytest.raises(SourceError, match=r"^datastore 'local': cannot use nosuchdialect://u:\*\*\*@h/d: ") as caught:
        sql_engine("nosuchdialect://u:topsecret@h/d", "local")
    assert "topsecret" not in str(caught.value)


def test_the_profile_of_a_month_equals_that_of_its_parquet_file(flights_db: Path, month_parquet: Path) -> None:
    source = QueryFile("local", sqlite_url(flights_db), "SELECT * FROM flights WHERE month = :month", {"month": MONTH})
    got = compute_profile(read_query(source, batch_rows=10_000))
    want = compute_profile(pq.ParquetFile(month_parquet).iter_batches())
    numbers = [c for c in want.columns if c != "time_hour"]
    assert_same_profile(got, want, numbers)
    assert {got.columns[c].kind for c in numbers} == {"integer", "categorical", "string"}
    # SQLite has no timestamp type: time_hour is its ISO text, one value per distinct hour
    assert got.columns["time_hour"].kind in ("string", "categorical")
    assert got.columns["time_hour"].distinct == want.columns["time_hour"].distinct


# --------------------------------------------------------------------------- fingerprints (SQLite)


def test_fingerprint_follows_rows_and_the_checksum_column(small_db: Path, tmp_path: Path) -> None:
    url = sqlite_url(small_db)
    plain = QueryFile("local", url, "SELECT * FROM t")
    summed = QueryFile("local", url, "SELECT * FROM t", checksum_column="x")
    first, first_summed = query_fingerprint(plain), query_fingerprint(summed)
    assert len(first) == 64 and first != first_summed
    assert query_fingerprint(plain) == first and query_fingerprint(summed) == first_summed

    def change(sql: str) -> None:
        with sqlite3.connect(small_db) as conn:
            conn.execute(sql)

    change("UPDATE t SET name = 'LGA' WHERE id = 2")  # not the checksum column: neither changes
    assert (query_fingerprint(plain), query_fingerprint(summed)) == (first, first_summed)
    change("UPDATE t SET x = 0.75 WHERE id = 1")  # same row count: only the checksum sees it
    assert query_fingerprint(plain) == first and query_fingerprint(summed) != first_summed
    second_summed = query_fingerprint(summed)
    change("INSERT INTO t VALUES (4, NULL, NULL, NULL, NULL)")
    assert query_fingerprint(plain) != first and query_fingerprint(summed) != second_summed
    assert query_fingerprint(QueryFile("local", url, "SELECT * FROM t WHERE id > :n", {"n": 0})) != \
        query_fingerprint(QueryFile("local", url, "SELECT * FROM t WHERE id > :n", {"n": 1}))
    # the same rows stored in another order: the same fingerprint
    other = tmp_path / "reversed.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (id INTEGER, x REAL, name TEXT, raw BLOB, late INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", sqlite_rows(small_db, "SELECT * FROM t ORDER BY id DESC"))
    assert query_fingerprint(QueryFile("local", sqlite_url(other), "SELECT * FROM t", checksum_column="x")) == \
        query_fingerprint(summed)


def test_fingerprint_errors_name_the_query(small_db: Path) -> None:
    with pytest.raises(SourceError, match=r"^datastore 'local': query SELECT \* FROM t: no such column: q.nope"):
        query_fingerprint(QueryFile("local", sqlite_url(small_db), "SELECT * FROM t", checksum_column="nope"))
    with pytest.raises(SourceError, match=r"query is a DELETE statement"):
        query_fingerprint(QueryFile("local", sqlite_url(small_db), "DELETE FROM t"))
    assert len(sqlite_rows(small_db, "SELECT * FROM t")) == 3


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def pg(postgres: Any, flights: pa.Table) -> Any:
    """The session's server with ``flights`` loaded (once per module)."""
    postgres.load_table("flights", flights)
    return postgres


def pg_rows(server: Any, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(server.conninfo()) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


@pytest.mark.servers
def test_pg_month_profile_equals_that_of_its_parquet_file(pg: Any, month_parquet: Path) -> None:
    source = QueryFile("warehouse", pg.url, "SELECT * FROM flights WHERE month = :month", {"month": MONTH})
    batches = list(read_query(source, batch_rows=10_000))
    parquet = pq.read_table(month_parquet)
    assert all(b.num_rows <= 10_000 for b in batches) and len({b.schema for b in batches}) == 1
    table = table_of(batches)
    # bigint -> int64, text -> string; timestamptz -> timestamp[us, UTC], the same instants as the Parquet's
    for field in parquet.schema:
        if field.name == "time_hour":
            assert table.schema.field("time_hour").type == pa.timestamp("us", tz="UTC")
            assert pa.types.is_timestamp(field.type) and field.type.tz is not None
            assert pc.all(pc.equal(table.column("time_hour"), parquet.column("time_hour").cast(pa.timestamp("us", tz="UTC")))).as_py()
        else:
            assert table.schema.field(field.name).type == field.type
            assert table.column(field.name).to_pylist() == parquet.column(field.name).to_pylist(), field.name
    got = compute_profile(iter(batches))
    want = compute_profile(pq.ParquetFile(month_parquet).iter_batches())
    assert_same_profile(got, want, list(want.columns))
    assert got.columns["time_hour"].kind == "datetime" and got.columns["time_hour"].timezone == "UTC"


@pytest.mark.servers
def test_pg_types_come_from_the_driver(pg: Any) -> None:
    pg.execute(
        "DROP TABLE IF EXISTS typed",
        "CREATE TABLE typed (i2 smallint, i4 integer, i8 bigint, r real, d double precision, n numeric(10, 2),"
        " nn numeric, t text, v varchar(5), b boolean, ts timestamp, tz timestamptz, day date, u uuid, j jsonb)",
        "INSERT INTO typed VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        "INSERT INTO typed VALUES (2, 4, 8, 0.5, 1.25, 12.34, 'NaN', 'x', 'abc', true, '2013-01-01 05:00',"
        " '2013-01-01 05:00-05', '2013-02-03', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1]}')",
    )
    source = QueryFile("warehouse", pg.url, "SELECT * FROM typed ORDER BY i2 NULLS FIRST")
    batches = list(read_query(source, batch_rows=1))
    assert [b.num_rows for b in batches] == [1, 1]
    table = table_of(batches)
    assert table.schema == pa.schema([
        ("i2", pa.int16()), ("i4", pa.int32()), ("i8", pa.int64()), ("r", pa.float64()), ("d", pa.float64()),
        ("n", pa.float64()), ("nn", pa.float64()), ("t", pa.string()), ("v", pa.string()), ("b", pa.bool_()),
        ("ts", pa.timestamp("us")), ("tz", pa.timestamp("us", tz="UTC")), ("day", pa.date32()),
        ("u", pa.string()), ("j", pa.string()),
    ])
    first, second = table.to_pylist()
    assert set(first.values()) == {None}
    assert second["n"] == 12.34 and math.isnan(second["nn"]) and second["b"] is True
    assert second["tz"].isoformat() == "2013-01-01T10:00:00+00:00" and second["ts"].isoformat() == "2013-01-01T05:00:00"
    assert second["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" and second["j"] == '{"k": [1]}'
    empty = list(read_query(QueryFile("warehouse", pg.url, "SELECT i4, tz FROM typed WHERE false")))
    assert len(empty) == 1 and empty[0].num_rows == 0
    assert empty[0].schema == pa.schema([("i4", pa.int32()), ("tz", pa.timestamp("us", tz="UTC"))])


@pytest.mark.servers
def test_pg_delete_is_refused_and_nothing_deleted(pg: Any) -> None:
    count = pg_rows(pg, "SELECT count(*) FROM flights")[0][0]
    for query in ("DELETE FROM flights", "WITH d AS (DELETE FROM flights RETURNING *) SELECT count(*) FROM d"):
        with pytest.raises(SourceError, match=r"^datastore 'warehouse': query .*DELETE.*only SELECT queries are read"):
            list(read_query(QueryFile("warehouse", pg.url, query)))
    assert pg_rows(pg, "SELECT count(*) FROM flights")[0][0] == count == 336_776


@pytest.mark.servers
def test_pg_a_select_that_writes_is_stopped_by_the_read_only_transaction(pg: Any) -> None:
    pg.execute("DROP TABLE IF EXISTS victim", "CREATE TABLE victim AS SELECT generate_series(1, 10) AS id",
               "CREATE OR REPLACE FUNCTION purge() RETURNS bigint LANGUAGE sql AS "
               "'WITH d AS (DELETE FROM victim RETURNING 1) SELECT count(*) FROM d'")
    source = QueryFile("warehouse", pg.url, "SELECT purge() AS removed")
    check_read_only(source.query, "postgresql")  # the parser sees a plain SELECT
    with pytest.raises(SourceError, match=r"^datastore 'warehouse': query SELECT purge\(\) AS removed: "
                                          r"cannot execute \w+ in a read-only transaction$"):
        list(read_query(source))
    with pytest.raises(SourceError, match="read-only transaction"):
        query_fingerprint(source)
    assert pg_rows(pg, "SELECT count(*) FROM victim")[0][0] == 10
    engine = sql_engine(pg.url, "warehouse")
    with engine.connect() as conn:  # the pooled connection is not left read-only
        assert conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "off"


@pytest.mark.servers
def test_pg_wrong_password_names_the_datastore_and_never_a_password(pg: Any) -> None:
    wrong = "Wrong-Pass-42"
    url = pg.url.replace(pg.password, wrong)
    with pytest.raises(SourceError) as caught:
        list(read_query(QueryFile("warehouse", url, "SELECT 1")))
    message = str(caught.value)
    assert message.startswith("datastore 'warehouse': query SELECT 1: ")
    assert "password authentication failed" in message
    assert wrong not in message and pg.password not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(SourceError) as caught:
        query_fingerprint(QueryFile("warehouse", url, "SELECT 1"))
    assert "datastore 'warehouse'" in str(caught.value) and wrong not in str(caught.value)


@pytest.mark.servers
def test_pg_errors_name_the_datastore_and_the_query_and_scrub_the_password(pg: Any) -> None:
    with pytest.raises(SourceError, match=r"^datastore 'warehouse': query SELECT \* FROM flights WHERE: query cannot be parsed"):
        list(read_query(QueryFile("warehouse", pg.url, "SELECT * FROM flights WHERE")))
    with pytest.raises(SourceError, match=r'^datastore \'warehouse\': query SELECT nosuch FROM flights: column "nosuch" does not exist$'):
        list(read_query(QueryFile("warehouse", pg.url, "SELECT nosuch FROM flights")))
    with pytest.raises(SourceError) as caught:  # the driver quotes the value, which is the password
        list(read_query(QueryFile("warehouse", pg.url, f"SELECT CAST('{pg.password}' AS integer)")))
    assert "invalid input syntax for type integer" in str(caught.value) and pg.password not in str(caught.value)
    closed = pg.url.replace(f":{pg.port}/", ":1/")
    with pytest.raises(SourceError, match=r"^datastore 'warehouse': query SELECT 1: connection failed"):
        list(read_query(QueryFile("warehouse", closed, "SELECT 1")))


@pytest.mark.servers
def test_pg_fingerprint_follows_rows_and_the_checksum_column(pg: Any) -> None:
    pg.execute("DROP TABLE IF EXISTS f", "CREATE TABLE f AS SELECT id, id * 1.5 AS x, 'n' || id AS name "
               "FROM generate_series(1, 1000) AS id")
    plain = QueryFile("warehouse", pg.url, "SELECT * FROM f WHERE id <= :top", {"top": 2000})
    summed = QueryFile("warehouse", pg.url, "SELECT * FROM f WHERE id <= :top", {"top": 2000}, checksum_column="name")
    first, first_summed = query_fingerprint(plain), query_fingerprint(summed)
    assert query_fingerprint(plain) == first and query_fingerprint(summed) == first_summed != first
    pg.execute("UPDATE f SET x = -x WHERE id = 7")  # not the checksum column
    assert (query_fingerprint(plain), query_fingerprint(summed)) == (first, first_summed)
    pg.execute("UPDATE f SET name = 'changed' WHERE id = 7")
    assert query_fingerprint(plain) == first and query_fingerprint(summed) != first_summed
    changed = query_fingerprint(summed)
    pg.execute("INSERT INTO f VALUES (1001, 0, NULL)")
    assert query_fingerprint(plain) != first and query_fingerprint(summed) != changed


def _read_in_child(url: str) -> tuple[bool, int]:
    """In a forked process: whether the engine is a new one, and the rows read."""
    inherited = sql_source._ENGINES[url][1]
    fresh = sql_engine(url, "warehouse")
    return fresh is not inherited, table_of(read_query(QueryFile("warehouse", url, "SELECT * FROM flights WHERE day = 1"))).num_rows


@pytest.mark.servers
def test_pg_a_forked_process_makes_its_own_engine(pg: Any) -> None:
    import multiprocessing

    source = QueryFile("warehouse", pg.url, "SELECT * FROM flights WHERE day = 1")
    want = pg_rows(pg, "SELECT count(*) FROM flights WHERE day = 1")[0][0]
    assert table_of(read_query(source)).num_rows == want  # a pooled connection in this process
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_read_in_child, (pg.url,)) == (True, want)
    assert table_of(read_query(source)).num_rows == want  # this process's connection still works
