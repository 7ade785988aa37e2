"""The part of :class:`~monitor.store.Store` every concern shares: opening,
configuring and migrating the database, the lock, the one transaction helper and
the small query helpers built on it."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlite_utils import Database

from monitor.errors import StoreError
from monitor.store.codec import Row, _to_db_time, _utc_now
from monitor.store.schema import FOREIGN_KEYS_OFF, MIGRATIONS, SCHEMA_VERSION, Migration


class StoreBase:
    """The connection of a :class:`~monitor.store.Store`, its lock, its schema
    migrations and the transaction helper every mixin runs its SQL through."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], datetime] | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = Path(os.path.abspath(os.fspath(path)))
        self.root = self.path.parent
        self.read_only = read_only
        self._clock = clock or _utc_now
        self._lock = threading.RLock()
        self._conn = self._connect_read_only() if read_only else self._connect()
        try:
            self._db = Database(self._conn, execute_plugins=False)
            if read_only:
                self._check_read_only()
            else:
                self._configure()
                self._migrate()
        except BaseException:
            self._conn.close()
            raise

    # ---------------------------------------------------------------- lifecycle

    def _connect(self) -> sqlite3.Connection:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.root}: {exc}") from exc
        try:
            return sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc

    def _connect_read_only(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StoreError(f"the store {self.path} does not exist")
        try:
            uri = f"{self.path.as_uri()}?mode=ro"
            return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc

    def _check_read_only(self) -> None:
        """Set up a read-only connection: no writes (``query_only``), the same
        busy timeout, and a schema this code knows exactly (it cannot migrate)."""
        try:
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc
        version = self.schema_version()
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"the store {self.path} has schema version {version}, not the {SCHEMA_VERSION} this "
                "drift-monitor reads; open it once read-write (any drift-monitor command) to migrate it"
                if version < SCHEMA_VERSION else
                f"the store {self.path} has schema version {version}, newer than the {SCHEMA_VERSION} "
                "this drift-monitor knows; upgrade drift-monitor"
            )

    def _configure(self) -> None:
        try:
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA journal_mode=WAL").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        with self._transaction("create the migrations table", write=True) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        for version, migration in enumerate(MIGRATIONS, start=1):
            self._apply_migration(version, migration)
        newest = self.schema_version()
        if newest > SCHEMA_VERSION:
            raise StoreError(
                f"the store {self.path} has schema version {newest}, newer than the "
                f"{SCHEMA_VERSION} this drift-monitor knows; upgrade drift-monitor"
            )

    def _apply_migration(self, version: int, migration: Migration) -> None:
        if migration not in FOREIGN_KEYS_OFF:
            self._run_migration(version, migration)
            return
        with self._transaction(f"check schema migration {version}", write=False):
            if self._one("SELECT 1 FROM migrations WHERE version = ?", [version]):
                return
        try:  # a no-op inside a transaction: set before this migration's own
            self._conn.execute("PRAGMA foreign_keys=OFF")
            self._run_migration(version, migration, check_keys=True)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot apply schema migration {version} in {self.path}: {exc}") from exc
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA foreign_keys=ON")

    def _run_migration(self, version: int, migration: Migration, *, check_keys: bool = False) -> None:
        with self._transaction(f"apply schema migration {version}", write=True) as db:
            if self._one("SELECT 1 FROM migrations WHERE version = ?", [version]):
                return
            broken = len(self._all("PRAGMA foreign_key_check", [])) if check_keys else 0
            migration(db)
            if check_keys and len(self._all("PRAGMA foreign_key_check", [])) > broken:
                raise StoreError(f"schema migration {version} of {self.path} would break a foreign key")
            db.table("migrations").insert(
                {
                    "version": version,
                    "name": migration.__name__,
                    "applied_at": _to_db_time(self._clock(), "clock time"),
                }
            )

    def schema_version(self) -> int:
        """The highest schema migration applied to this store (0 when none)."""
        with self._transaction("read the schema version", write=False):
            row = self._one("SELECT MAX(version) AS v FROM migrations", [])
        return int(row["v"]) if row and row["v"] is not None else 0

    def close(self) -> None:
        """Close the database connection; later calls raise :class:`StoreError`."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ---------------------------------------------------------------- plumbing

    @contextlib.contextmanager
    def _transaction(self, what: str, *, write: bool) -> Iterator[Database]:
        """Hold the lock and one transaction; map ``sqlite3`` errors to StoreError.

        ``write`` starts ``BEGIN IMMEDIATE`` (takes the write lock up front, so a
        read-then-write cannot deadlock); otherwise a read transaction. Inside an
        open transaction it joins it.
        """
        with self._lock:
            try:
                if self._conn.in_transaction:
                    yield self._db
                    return
                self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield self._db
                except BaseException:
                    self._rollback()
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"cannot {what} in {self.path}: {exc}") from exc

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def _one(self, sql: str, params: list[Any]) -> Row | None:
        return next(iter(self._db.query(sql, params)), None)

    def _all(self, sql: str, params: list[Any]) -> list[Row]:
        return list(self._db.query(sql, params))

    def now(self) -> datetime:
        """The current time by the store's clock (the ``clock`` given to the
        store, else the system's): timezone-aware UTC, as every ``created_at``."""
        return self._clock()

    def _now(self) -> str:
        return _to_db_time(self._clock(), "the clock's time")

    def _insert(self, table: str, record: Row) -> int:
        """Insert one row and return its rowid (the id of AUTOINCREMENT tables)."""
        last_rowid = self._db.table(table).insert(record).last_rowid
        if last_rowid is None:
            raise StoreError(f"inserting into {table} returned no row id")
        return last_rowid
