"""A monitor over a query of an sql datastore, against a real PostgreSQL server
on 127.0.0.1 (tests/servers_pg.py): the same comparison as over the local
Parquet files of the same months (every metric within 1e-12); a DELETE is
refused and deletes nothing; a wrong password and a syntax error fail the
snapshot naming the datastore, with the password nowhere (store, output, logs)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import load_config
from monitor.store import Store
from test_datastores_objects import (
    assert_same_comparison, assert_secret_nowhere, monitors_on, run_pair, write_config,
)

TABLE = "flights_by_month"
QUERY = f"SELECT * FROM {TABLE} WHERE month = :month"


@pytest.fixture(scope="module")
def warehouse(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The session's server with every 2013 flight in ``flights_by_month``, and
    the shipped example's Parquet files of the same rows."""
    from monitor.example import prepare_flights, read_flights

    postgres.load_table(TABLE, read_flights())
    folder = tmp_path_factory.mktemp("flights-months")
    prepare_flights(folder)
    return postgres, folder


def sql_store(server: Any, password_file: Path) -> dict[str, Any]:
    return {"kind": "sql", "url": server.url.replace(f":{server.password}@", "@"),
            "password_file": str(password_file)}


def rows_of(server: Any) -> int:
    import psycopg

    with psycopg.connect(server.conninfo()) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])  # type: ignore[index]


def test_a_monitor_over_a_query_compares_as_over_the_local_files(warehouse: tuple[Any, Path], tmp_path: Path) -> None:
    server, months = warehouse
    (tmp_path / "db_password").write_text(server.password + "\n")
    config = write_config(tmp_path, {"db": sql_store(server, tmp_path / "db_password")}, {
        "local_jan": {"path": str(months / "2013-01.parquet")},
        "local_jul": {"path": str(months / "2013-07.parquet")},
        "pg_jan": {"datastore": "db", "query": QUERY, "params": {"month": 1}},
        "pg_jul": {"datastore": "db", "query": QUERY, "params": {"month": 7}, "checksum_column": "dep_delay"},
    }, {"local": monitors_on("local_jan", "local_jul"), "remote": monitors_on("pg_jan", "pg_jul")})
    local, remote, store = run_pair(config)
    assert_same_comparison(local, remote)
    (first, second) = store.list_snapshots("pg_jul")
    assert first.fingerprint == second.fingerprint and first.row_count == 29425
    assert server.password not in first.fingerprint
    store.close()
    check = CliRunner().invoke(main, ["datastore", "check", "db", "-c", str(config), "--format", "json"])
    assert check.exit_code == 0, check.output
    assert server.password not in check.output and "pg_jan" in check.output


def test_delete_wrong_password_and_syntax_error_fail_naming_the_datastore(
        warehouse: tuple[Any, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server, _ = warehouse
    wrong = "Wr0ng-Passw0rd-of-the-test"
    (tmp_path / "right").write_text(server.password)
    (tmp_path / "wrong").write_text(wrong)
    before = rows_of(server)
    config = write_config(tmp_path, {"db": sql_store(server, tmp_path / "right"),
                                     "baddb": sql_store(server, tmp_path / "wrong")}, {
        "deleting": {"datastore": "db", "query": f"DELETE FROM {TABLE} WHERE month = 1"},
        "denied": {"datastore": "baddb", "query": QUERY, "params": {"month": 1}},
        "broken": {"datastore": "db", "query": f"SELECT dep_delay FROM {TABLE} WHERE month = = 1"},
        "unknown": {"datastore": "db", "query": "SELECT * FROM no_such_table"},
    }, {n: monitors_on(n, n) for n in ("deleting", "denied", "broken", "unknown")})
    caplog.set_level(logging.DEBUG)
    run = CliRunner().invoke(main, ["-vv", "run", "--once", "-c", str(config), "--format", "json"])
    assert run.exit_code == 1, run.output
    cfg = load_config(config)
    with Store(cfg.store) as store:
        reasons = {n: store.list_snapshots(n)[0] for n in ("deleting", "denied", "broken", "unknown")}
    assert all(s.status == "failed" for s in reasons.values()), reasons
    assert reasons["deleting"].reason.startswith("datastore 'db': query is a DELETE statement")
    assert reasons["denied"].reason.startswith("datastore 'baddb'") and "password authentication failed" in \
        reasons["denied"].reason
    assert reasons["broken"].reason.startswith("datastore 'db': query cannot be parsed as postgresql (line 1, column 54")
    assert reasons["unknown"].reason.startswith("datastore 'db'") and "no_such_table" in reasons["unknown"].reason
    assert rows_of(server) == before
    for secret in (wrong, server.password):
        assert_secret_nowhere(secret, Path(cfg.store), run.output, caplog.text)
