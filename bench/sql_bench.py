"""Benchmark: rows per second of :func:`monitor.sources.sql.read_query` against
``pandas.read_sql`` and a ``COPY ... TO STDOUT`` read into Arrow.

Usage (from the repository root, with ``pip install -e '.[sql,example]'``)::

    python bench/sql_bench.py               # PostgreSQL and SQLite, 3 repetitions
    python bench/sql_bench.py --reps 5 --batch-rows 16384

The NYC flights of 2013 (336,776 rows, 19 columns) are loaded into a
PostgreSQL server started for the run (``tests/servers_pg.py``: the
machine's ``initdb`` and ``pg_ctl``, 127.0.0.1, a free port; its load time is
printed) and into a SQLite file. Each repetition reads the whole table with
each method, in an order that rotates between repetitions; the median time
of each is printed with its rows per second and the ratio against
``read_query``:

- ``read_query``: the source under test, a server-side cursor through
  SQLAlchemy (``yield_per``), record batches of ``--batch-rows`` rows;
- ``pandas.read_sql``: the same query through the same SQLAlchemy URL into a
  DataFrame (the usual way to get a query's result into Python);
- ``COPY to Arrow`` (PostgreSQL only): psycopg's ``COPY (query) TO STDOUT
  (FORMAT csv)`` read by ``pyarrow.csv``, the fastest path out of the server
  without a native Arrow driver; it types the columns from the text, so it is
  a bound on speed rather than a replacement.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from monitor.example import read_flights  # noqa: E402
from monitor.sources.sql import QueryFile, read_query  # noqa: E402

QUERY = "SELECT * FROM flights"


def via_read_query(url: str, batch_rows: int) -> int:
    return sum(b.num_rows for b in read_query(QueryFile("bench", url, QUERY), batch_rows=batch_rows))


def via_pandas(url: str) -> int:
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        return len(pd.read_sql(QUERY, engine))
    finally:
        engine.dispose()


def via_copy(conninfo: str) -> int:
    import psycopg

    buffer = io.BytesIO()
    with psycopg.connect(conninfo) as conn:
        with conn.cursor().copy(f"COPY ({QUERY}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:  # type: ignore[arg-type]
            for chunk in copy:
                buffer.write(chunk)
    buffer.seek(0)
    return int(pa_csv.read_csv(buffer).num_rows)


def load_sqlite(path: Path, table: pa.Table) -> None:
    import sqlite3

    types = {"int64": "INTEGER", "string": "TEXT"}
    columns = ", ".join(f"{f.name} {types.get(str(f.type), 'TEXT')}" for f in table.schema)
    rows = zip(*[[v.isoformat() if hasattr(v, "isoformat") else v for v in c.to_pylist()] for c in table.columns])
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE flights ({columns})")
        conn.executemany(f"INSERT INTO flights VALUES ({', '.join('?' * table.num_columns)})", rows)


def measure(methods: dict[str, Callable[[], int]], reps: int, expected: int) -> dict[str, float]:
    """Median seconds of each method over ``reps`` rotations of their order."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    for rep in range(reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            started = time.perf_counter()
            rows = methods[name]()
            times[name].append(time.perf_counter() - started)
            if rows != expected:
                raise SystemExit(f"{name} read {rows} rows, not {expected}")
    return {name: statistics.median(t) for name, t in times.items()}


def report(title: str, medians: dict[str, float], rows: int) -> None:
    base = medians["read_query"]
    print(f"\n{title} ({rows:,} rows, median of the repetitions)")
    print(f"  {'method':<18} {'seconds':>8} {'rows/s':>12} {'time / read_query':>18}")
    for name, seconds in medians.items():
        print(f"  {name:<18} {seconds:8.2f} {rows / seconds:12,.0f} {seconds / base:18.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=65_536)
    args = parser.parse_args()
    from servers_pg import PostgresUnavailable, start_postgres

    table = read_flights()
    rows = table.num_rows
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        print(f"PostgreSQL skipped: {exc}")
    else:
        try:
            print(f"PostgreSQL: flights loaded with COPY in {server.load_table('flights', table):.2f} s")
            medians = measure({
                "read_query": lambda: via_read_query(server.url, args.batch_rows),
                "pandas.read_sql": lambda: via_pandas(server.url),
                "COPY to Arrow": lambda: via_copy(server.conninfo()),
            }, args.reps, rows)
            report("PostgreSQL", medians, rows)
        finally:
            server.stop()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "flights.db"
        load_sqlite(path, table)
        url = f"sqlite:///{path}"
        medians = measure({
            "read_query": lambda: via_read_query(url, args.batch_rows),
            "pandas.read_sql": lambda: via_pandas(url),
        }, args.reps, rows)
        report("SQLite", medians, rows)


if __name__ == "__main__":
    main()
