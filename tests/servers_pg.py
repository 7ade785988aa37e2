"""A real PostgreSQL server for the tests, started from the machine's binaries.

:func:`start_postgres` finds ``initdb`` and ``pg_ctl`` (on ``PATH``, then in
``/usr/lib/postgresql/*/bin``, newest first), makes a cluster in a fresh
temporary folder with password authentication (``scram-sha-256``, password
:data:`PASSWORD`, so that a wrong password can be tried), starts it on
127.0.0.1 and a free port with its socket in that folder, and creates the
database :data:`DATABASE`. ``initdb`` refuses to run as root: as root the
cluster belongs to the ``postgres`` user (Debian's package makes it) and the
binaries run through ``runuser -u postgres --``; as anyone else they run
directly. Each pytest-xdist worker starts its own server (own port, own folder).

:meth:`PostgresServer.load_table` loads an Arrow table with ``COPY ... FROM
STDIN`` (CSV written by pyarrow), the fastest way in: the 336,776 flights
take 1.5 to 2.2 s on a 2-core machine. :meth:`PostgresServer.stop` stops it with ``pg_ctl stop -m
immediate`` and removes the folder.

The server runs with ``fsync=off``: it holds test data only.
"""

from __future__ import annotations

import glob
import io
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

PASSWORD = "pg-test-Secret-7f3a"
"""The password of the ``postgres`` user of the test server."""
DATABASE = "drift"
USER = "postgres"
START_TRIES = 3


class PostgresUnavailable(RuntimeError):
    """The machine cannot run a test server; the message says why."""


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``.

    :raises PostgresUnavailable: when no folder has both.
    """
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    def version(folder: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", folder))
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if os.access(Path(folder) / "initdb", os.X_OK) and os.access(Path(folder) / "pg_ctl", os.X_OK):
            return Path(folder)
    raise PostgresUnavailable("initdb and pg_ctl are not on PATH nor in /usr/lib/postgresql/*/bin "
                              "(Debian: apt-get install postgresql)")


def _owner() -> str | None:
    """The user the cluster belongs to when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(USER)
    except KeyError:
        raise PostgresUnavailable("running as root and there is no 'postgres' user for initdb to run as") from None
    if not shutil.which("runuser"):
        raise PostgresUnavailable("running as root and runuser is missing: initdb cannot run as 'postgres'")
    return USER


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ARROW_TO_PG = {"int64": "bigint", "int32": "integer", "int16": "smallint", "double": "double precision",
               "float": "real", "string": "text", "large_string": "text", "bool": "boolean",
               "date32[day]": "date"}


def pg_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL column type a test table stores an Arrow type as."""
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    return ARROW_TO_PG[str(arrow_type)]


@dataclass
class PostgresServer:
    """A running test server. :ivar base: its folder (data, socket, log)."""

    bindir: Path
    base: Path
    port: int
    owner: str | None
    password: str = PASSWORD
    database: str = DATABASE

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database (password included)."""
        return f"postgresql+psycopg://{USER}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def conninfo(self, database: str | None = None) -> str:
        """psycopg connection string of a database of the server."""
        return (f"host=127.0.0.1 port={self.port} user={USER} password={self.password} "
                f"dbname={database or self.database}")

    def execute(self, *statements: str, database: str | None = None) -> None:
        """Run statements in autocommit mode."""
        import psycopg

        with psycopg.connect(self.conninfo(database), autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)  # type: ignore[arg-type]

    def load_table(self, name: str, table: pa.Table) -> float:
        """(Re)create table ``name`` with ``table``'s columns and rows (COPY from
        CSV); time zone-aware timestamps become ``timestamptz``.

        :returns: the seconds the load took (create, copy, analyze).
        """
        import psycopg

        started = time.perf_counter()
        columns = ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in table.schema)
        buffer = io.BytesIO()
        pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
        with psycopg.connect(self.conninfo()) as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')  # type: ignore[arg-type]
            conn.execute(f'CREATE TABLE "{name}" ({columns})')  # type: ignore[arg-type]
            with conn.cursor().copy(f'COPY "{name}" FROM STDIN WITH (FORMAT csv)') as copy:  # type: ignore[arg-type]
                view = buffer.getbuffer()
                for start in range(0, len(view), 1 << 20):
                    copy.write(view[start:start + (1 << 20)])
            conn.execute(f'ANALYZE "{name}"')  # type: ignore[arg-type]
        return time.perf_counter() - started

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def stop(self) -> None:
        """Stop the server (immediately) and remove its folder."""
        self._run("pg_ctl", "-D", str(self.base / "data"), "stop", "-m", "immediate", "-w")
        shutil.rmtree(self.base, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Make a cluster in a new temporary folder, start it and create :data:`DATABASE`.

    :raises PostgresUnavailable: when the binaries, the user or the server's
        start are missing or fail (the message has the command's output).
    """
    bindir, owner = find_bindir(), _owner()
    base = Path(tempfile.mkdtemp(prefix="dm-pg-"))
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bindir, base, 0, owner)
    try:
        (base / "pwfile").write_text(PASSWORD + "\n")
        if owner is not None:
            os.chown(base / "pwfile", pwd.getpwnam(owner).pw_uid, -1)
        made = server._run("initdb", "-D", str(base / "data"), "-U", USER, "--auth=scram-sha-256",
                           f"--pwfile={base / 'pwfile'}", "-E", "UTF8", "--no-sync", "--locale=C")
        if made.returncode:
            raise PostgresUnavailable(f"initdb failed: {(made.stderr or made.stdout).strip()[-500:]}")
        _start(server)
        server.execute(f'CREATE DATABASE "{DATABASE}"', database="postgres")
    except BaseException:
        server.stop()
        raise
    return server


def _start(server: PostgresServer) -> None:
    """Start on a free port, trying another when one is taken meanwhile."""
    base = server.base
    for _ in range(START_TRIES):
        server.port = _free_port()
        options = (f"-p {server.port} -k {base} -h 127.0.0.1 -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        started = server._run("pg_ctl", "-D", str(base / "data"), "-l", str(base / "log"), "-w", "-t", "60",
                              "-o", options, "start")
        if started.returncode == 0:
            return
        log = (base / "log").read_text(errors="replace") if (base / "log").exists() else ""
        if "already in use" not in log:
            break
    raise PostgresUnavailable(f"pg_ctl start failed: {(started.stderr or started.stdout).strip()[-300:]} "
                              f"{log.strip()[-500:]}")
