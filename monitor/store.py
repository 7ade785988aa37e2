"""The store: the only module with SQL.

One SQLite file (WAL mode, ``busy_timeout`` 5 s, foreign keys on) holds dataset
definitions and their versions, snapshots with their profiles, comparison
results, pinned baselines and the alert outbox. Data copies are Parquet files
under ``<store folder>/data/<dataset>/<snapshot name>.parquet``.

Every write runs in one ``BEGIN IMMEDIATE`` transaction; every read runs in one
read transaction, so a caller never sees half of a write. Callers get frozen
record dataclasses, never database rows. Times are timezone-aware UTC
``datetime`` objects in Python and ISO-8601 strings with ``+00:00`` (always
with microseconds, so they sort as text) in SQLite. JSON values (definitions,
profiles, statistics, results, payloads) come back as JSON gives them: tuples
become lists and dictionary keys become strings.

Every failure is a :class:`monitor.errors.StoreError` whose message names what
failed; ``sqlite3`` and ``OSError`` exceptions are chained as its cause.

A :class:`Store` may be shared between threads: its calls are serialised by a
lock. Several processes may open the same store; SQLite's locking keeps their
writes apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.parquet as pq
from sqlite_utils import Database

from monitor.errors import MonitorError, StoreError

__all__ = [
    "INTERRUPTED_REASON",
    "SCHEMA_VERSION",
    "AlertRecord",
    "AlertStatus",
    "AttemptRecord",
    "ComparisonRecord",
    "DatasetRecord",
    "SnapshotRecord",
    "SnapshotStatus",
    "Store",
    "open_store",
]

SnapshotStatus = Literal["running", "completed", "failed"]
AlertStatus = Literal["pending", "delivered", "failed"]

INTERRUPTED_REASON = "interrupted: the process stopped before the snapshot completed"
"""The reason :meth:`Store.recover_interrupted` gives the snapshots it fails."""

JsonDict = dict[str, Any]
Row = dict[str, Any]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """One version of a dataset definition.

    :ivar id: row id.
    :ivar name: the dataset's name, unique together with ``version``.
    :ivar version: 1 for the first registration, +1 for each changed definition.
    :ivar definition: the JSON-able definition dict as registered (keys sorted).
    :ivar description: free text given at registration ("" when none).
    :ivar created_at: when this version was registered (UTC).
    """

    id: int
    name: str
    version: int
    definition: JsonDict
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """A snapshot: a profile of a dataset at a moment, plus an optional data copy.

    :ivar status: ``"running"`` until :meth:`Store.complete_snapshot` or
        :meth:`Store.fail_snapshot`; only a completed snapshot has a profile.
    :ivar reason: why a failed snapshot failed; ``None`` otherwise.
    :ivar completed_at: when it completed (UTC); ``None`` unless completed.
    :ivar row_count: number of rows profiled; ``None`` unless completed.
    :ivar fingerprint: the source's content fingerprint; ``None`` unless completed.
    :ivar data_copy: absolute path of the Parquet data copy, or ``None``.
    :ivar profile_version: the profile's ``"format_version"``; ``None`` unless
        completed.
    """

    id: int
    dataset: str
    dataset_version: int
    name: str
    monitor: str | None
    created_at: datetime
    completed_at: datetime | None
    status: SnapshotStatus
    reason: str | None
    row_count: int | None
    fingerprint: str | None
    data_copy: str | None
    profile_version: int | None


@dataclass(frozen=True, slots=True)
class ComparisonRecord:
    """The stored result of comparing a target snapshot with a baseline snapshot.

    :ivar drifted: the dataset verdict.
    :ivar severity: the worst severity found (e.g. ``"none"``, ``"warning"``,
        ``"critical"``; the store does not interpret it).
    :ivar result: the JSON-able result dict as recorded.
    :ivar report_path: where the HTML report was written, or ``None``.
    """

    id: int
    monitor: str | None
    dataset: str
    baseline_snapshot_id: int
    target_snapshot_id: int
    baseline_name: str
    target_name: str
    created_at: datetime
    drifted: bool
    severity: str
    result: JsonDict
    report_path: str | None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert in the outbox: one webhook delivery of one comparison.

    :ivar status: ``"pending"`` until delivered, or ``"failed"`` once given up.
    :ivar attempts: number of delivery attempts made so far.
    :ivar next_attempt_at: when the next attempt is due (UTC).
    :ivar idempotency_key: sent unchanged on every attempt; unique per webhook.
    """

    id: int
    comparison_id: int
    webhook: str
    url: str
    payload: JsonDict
    idempotency_key: str
    status: AlertStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One delivery attempt of an alert, numbered from 1.

    :ivar status_code: the HTTP status answered, or ``None`` when no answer came.
    :ivar error: what went wrong, or ``None``.
    """

    alert_id: int
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    delivered: bool


# --------------------------------------------------------------------------- schema

_SCHEMA_1 = (
    """CREATE TABLE datasets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        definition TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        UNIQUE (name, version))""",
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dataset TEXT NOT NULL,
        dataset_version INTEGER NOT NULL,
        name TEXT NOT NULL,
        monitor TEXT,
        created_at TEXT NOT NULL,
        completed_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        reason TEXT,
        row_count INTEGER,
        fingerprint TEXT,
        data_copy TEXT,
        profile TEXT,
        profile_version INTEGER,
        UNIQUE (dataset, name),
        FOREIGN KEY (dataset, dataset_version) REFERENCES datasets (name, version))""",
    "CREATE INDEX snapshots_by_monitor ON snapshots (monitor, created_at)",
    "CREATE INDEX snapshots_by_status ON snapshots (status)",
    """CREATE TABLE column_profiles (
        snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        column_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        stats TEXT NOT NULL,
        sketch BLOB,
        PRIMARY KEY (snapshot_id, position),
        UNIQUE (snapshot_id, column_name))""",
    """CREATE TABLE comparisons (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        monitor TEXT,
        dataset TEXT NOT NULL,
        baseline_snapshot_id INTEGER NOT NULL
            REFERENCES snapshots (id) ON DELETE CASCADE,
        target_snapshot_id INTEGER NOT NULL
            REFERENCES snapshots (id) ON DELETE CASCADE,
        baseline_name TEXT NOT NULL,
        target_name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        drifted INTEGER NOT NULL CHECK (drifted IN (0, 1)),
        severity TEXT NOT NULL,
        result TEXT NOT NULL,
        report_path TEXT)""",
    "CREATE INDEX comparisons_by_baseline ON comparisons (baseline_snapshot_id)",
    "CREATE INDEX comparisons_by_target ON comparisons (target_snapshot_id)",
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        comparison_id INTEGER NOT NULL REFERENCES comparisons (id) ON DELETE CASCADE,
        webhook TEXT NOT NULL,
        url TEXT NOT NULL,
        payload TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        delivered_at TEXT,
        last_error TEXT,
        UNIQUE (idempotency_key, webhook))""",
    "CREATE INDEX alerts_by_comparison ON alerts (comparison_id)",
    "CREATE INDEX alerts_due ON alerts (status, next_attempt_at)",
    """CREATE TABLE alert_attempts (
        alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL CHECK (attempt >= 1),
        at TEXT NOT NULL,
        status_code INTEGER,
        error TEXT,
        delivered INTEGER NOT NULL CHECK (delivered IN (0, 1)),
        PRIMARY KEY (alert_id, attempt))""",
    """CREATE TABLE baselines (
        monitor TEXT PRIMARY KEY,
        snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
        pinned_at TEXT NOT NULL)""",
    "CREATE INDEX baselines_by_snapshot ON baselines (snapshot_id)",
)


def _migration_1_initial_schema(db: Database) -> None:
    """Create every table of the first schema."""
    for statement in _SCHEMA_1:
        db.execute(statement)


Migration = Callable[[Database], None]

MIGRATIONS: tuple[Migration, ...] = (_migration_1_initial_schema,)
"""Schema migrations in order; migration ``i`` (from 0) is schema version ``i + 1``.
Append new ones; never edit or reorder applied ones."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this code writes."""

_SNAPSHOT_COLUMNS = (
    "id, dataset, dataset_version, name, monitor, created_at, completed_at, status, "
    "reason, row_count, fingerprint, data_copy, profile_version"
)
_SNAPSHOT_ORDER = "ORDER BY created_at, id"


# --------------------------------------------------------------------------- helpers


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _to_db_time(value: datetime, what: str) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``; naive datetimes are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _from_db_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else _from_db_time(text)


def _json_default(value: object) -> object:
    """Turn NumPy scalars and arrays into Python values; refuse anything else."""
    tolist = getattr(value, "tolist", None)
    if type(value).__module__ == "numpy" and callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


def _to_json(value: Any, what: str, *, canonical: bool = False) -> str:
    """``value`` as JSON text; ``canonical`` sorts keys and drops spaces."""
    try:
        if canonical:
            return json.dumps(
                value, sort_keys=True, separators=(",", ":"), default=_json_default
            )
        return json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cannot store {what}: {exc}") from exc


def _from_json(text: str) -> Any:
    return json.loads(text)


def _check_path_part(value: str, what: str) -> None:
    """Refuse names that cannot be one file or folder name (``"a/b"``, ``".."``)."""
    bad = not value or value in (".", "..") or any(c in value for c in "/\\\x00")
    if bad:
        raise StoreError(
            f"{what} {value!r} cannot be used as a file name: it must be non-empty, "
            "not '.' or '..', and contain no '/', '\\' or NUL"
        )


def _check_choice(value: str | None, allowed: object, what: str) -> None:
    choices = get_args(allowed)
    if value is not None and value not in choices:
        raise StoreError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")


def _fsync_path(path: Path) -> None:
    """Flush a file or folder to disk; a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _column_row(snapshot_id: int, index: int, column: Mapping[str, Any]) -> Row:
    """Validate one column profile dict and turn it into a ``column_profiles`` row."""
    try:
        name, position, kind = column["column"], column["position"], column["kind"]
        stats = column["stats"]
    except KeyError as exc:
        raise StoreError(f"column profile {index} has no {exc.args[0]!r} key") from exc
    sketch = column.get("sketch")
    if not isinstance(name, str) or not isinstance(kind, str):
        raise StoreError(f"column profile {index}: 'column' and 'kind' must be strings")
    if not isinstance(position, int) or isinstance(position, bool):
        raise StoreError(f"column profile {index} ({name!r}): 'position' must be an int")
    if sketch is not None and not isinstance(sketch, (bytes, bytearray, memoryview)):
        raise StoreError(f"column profile {index} ({name!r}): 'sketch' must be bytes or None")
    return {
        "snapshot_id": snapshot_id,
        "position": position,
        "column_name": name,
        "kind": kind,
        "stats": _to_json(stats, f"statistics of column {name!r}"),
        "sketch": None if sketch is None else bytes(sketch),
    }


def _format_version(profile: Mapping[str, Any]) -> int:
    version = profile.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise StoreError(
            f"the profile must carry an integer 'format_version', got {version!r}"
        )
    return version


def _dataset_record(row: Row) -> DatasetRecord:
    return DatasetRecord(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        definition=_from_json(row["definition"]),
        description=row["description"],
        created_at=_from_db_time(row["created_at"]),
    )


def _comparison_record(row: Row) -> ComparisonRecord:
    return ComparisonRecord(
        id=row["id"],
        monitor=row["monitor"],
        dataset=row["dataset"],
        baseline_snapshot_id=row["baseline_snapshot_id"],
        target_snapshot_id=row["target_snapshot_id"],
        baseline_name=row["baseline_name"],
        target_name=row["target_name"],
        created_at=_from_db_time(row["created_at"]),
        drifted=bool(row["drifted"]),
        severity=row["severity"],
        result=_from_json(row["result"]),
        report_path=row["report_path"],
    )


def _alert_record(row: Row) -> AlertRecord:
    return AlertRecord(
        id=row["id"],
        comparison_id=row["comparison_id"],
        webhook=row["webhook"],
        url=row["url"],
        payload=_from_json(row["payload"]),
        idempotency_key=row["idempotency_key"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=_from_db_time(row["next_attempt_at"]),
        created_at=_from_db_time(row["created_at"]),
        delivered_at=_optional_time(row["delivered_at"]),
        last_error=row["last_error"],
    )


def _attempt_record(row: Row) -> AttemptRecord:
    return AttemptRecord(
        alert_id=row["alert_id"],
        attempt=row["attempt"],
        at=_from_db_time(row["at"]),
        status_code=row["status_code"],
        error=row["error"],
        delivered=bool(row["delivered"]),
    )


def _column_profile(row: Row) -> JsonDict:
    return {
        "column": row["column_name"],
        "position": row["position"],
        "kind": row["kind"],
        "stats": _from_json(row["stats"]),
        "sketch": row["sketch"],
    }


def _not_completed_message(row: Row) -> str:
    label = f"snapshot '{row['name']}' of dataset '{row['dataset']}'"
    if row["status"] == "failed":
        return f"{label} failed: {row['reason']}"
    return f"{label} is {row['status']}, not completed"


# --------------------------------------------------------------------------- store


class Store:
    """The SQLite store of one workspace, plus its folder of data copies.

    ``Store(path)`` creates the parent folder of ``path`` when missing, opens (or
    creates) the database file, turns on WAL mode, a 5 s busy timeout and foreign
    keys, and applies the schema migrations not applied yet. Use it as a context
    manager or call :meth:`close`.

    :param path: the SQLite file, e.g. ``"state/monitor.db"``.
    :param clock: returns the current time as an aware datetime; defaults to
        ``datetime.now(timezone.utc)``. Every ``created_at``/``at`` comes from it.
    :ivar path: absolute path of the database file.
    :ivar root: the folder holding the database; data copies live under
        ``root / "data"``.
    :raises StoreError: the folder cannot be created, the file is not an SQLite
        database, or its schema is newer than this code.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = Path(os.path.abspath(os.fspath(path)))
        self.root = self.path.parent
        self._clock = clock or _utc_now
        self._lock = threading.RLock()
        self._conn = self._connect()
        try:
            self._db = Database(self._conn, execute_plugins=False)
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
        with self._transaction(f"apply schema migration {version}", write=True) as db:
            if self._one("SELECT 1 FROM migrations WHERE version = ?", [version]):
                return
            migration(db)
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

    def __enter__(self) -> Store:
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

    def _now(self) -> str:
        return _to_db_time(self._clock(), "the clock's time")

    def _insert(self, table: str, record: Row) -> int:
        """Insert one row and return its rowid (the id of AUTOINCREMENT tables)."""
        last_rowid = self._db.table(table).insert(record).last_rowid
        if last_rowid is None:
            raise StoreError(f"inserting into {table} returned no row id")
        return last_rowid

    # ---------------------------------------------------------------- datasets

    def register_dataset(
        self,
        name: str,
        definition: JsonDict,
        description: str = "",
        create_new_version: bool = True,
    ) -> DatasetRecord:
        """Register ``definition`` as the newest version of dataset ``name``.

        When the latest version's definition equals ``definition`` (compared as
        canonical JSON: key order and spacing do not matter) that version is
        returned unchanged, description included. Otherwise version latest+1
        (1 for a new name) is added.

        :raises StoreError: the definition differs and ``create_new_version`` is
            false (``"dataset 'x' version 2 has a different definition; ..."``),
            or it is not JSON-serialisable.
        """
        canonical = _to_json(definition, f"the definition of dataset '{name}'", canonical=True)
        with self._transaction(f"register dataset '{name}'", write=True):
            latest = self._latest_dataset_row(name)
            if latest is not None and self._same_definition(latest, canonical):
                return _dataset_record(latest)
            if latest is not None and not create_new_version:
                raise StoreError(
                    f"dataset '{name}' version {latest['version']} has a different "
                    "definition; register with create_new_version=True to add version "
                    f"{latest['version'] + 1}"
                )
            row = {
                "name": name,
                "version": 1 if latest is None else latest["version"] + 1,
                "definition": canonical,
                "description": description,
                "created_at": self._now(),
            }
            row["id"] = self._insert("datasets", row)
        return _dataset_record(row)

    @staticmethod
    def _same_definition(row: Row, canonical: str) -> bool:
        stored = _to_json(_from_json(row["definition"]), "a definition", canonical=True)
        return stored == canonical

    def _latest_dataset_row(self, name: str) -> Row | None:
        return self._one(
            "SELECT * FROM datasets WHERE name = ? ORDER BY version DESC LIMIT 1", [name]
        )

    def _dataset_row(self, name: str, version: int | None) -> Row:
        latest = self._latest_dataset_row(name)
        if latest is None:
            raise StoreError(f"dataset '{name}' not found")
        if version is None:
            return latest
        row = self._one(
            "SELECT * FROM datasets WHERE name = ? AND version = ?", [name, version]
        )
        if row is None:
            raise StoreError(f"dataset '{name}' has no version {version}")
        return row

    def get_dataset(self, name: str, version: int | None = None) -> DatasetRecord:
        """Version ``version`` of dataset ``name``, or its latest when ``None``.

        :raises StoreError: ``"dataset 'x' not found"`` or
            ``"dataset 'x' has no version 3"``.
        """
        with self._transaction(f"read dataset '{name}'", write=False):
            return _dataset_record(self._dataset_row(name, version))

    def list_datasets(self) -> list[DatasetRecord]:
        """The latest version of every dataset, ordered by name."""
        with self._transaction("list datasets", write=False):
            rows = self._all(
                "SELECT * FROM datasets AS d WHERE version = "
                "(SELECT MAX(version) FROM datasets WHERE name = d.name) ORDER BY name",
                [],
            )
        return [_dataset_record(row) for row in rows]

    # ---------------------------------------------------------------- snapshots

    def _snapshot_record(self, row: Row) -> SnapshotRecord:
        return SnapshotRecord(
            id=row["id"],
            dataset=row["dataset"],
            dataset_version=row["dataset_version"],
            name=row["name"],
            monitor=row["monitor"],
            created_at=_from_db_time(row["created_at"]),
            completed_at=_optional_time(row["completed_at"]),
            status=row["status"],
            reason=row["reason"],
            row_count=row["row_count"],
            fingerprint=row["fingerprint"],
            data_copy=self._absolute_copy(row["data_copy"]),
            profile_version=row["profile_version"],
        )

    def _absolute_copy(self, stored: str | None) -> str | None:
        """Data copies under the store folder are stored relative to it, so the
        folder can be moved; this turns them back into absolute paths."""
        if stored is None:
            return None
        return str(self.root / stored)

    def _stored_copy(self, data_copy: str | os.PathLike[str]) -> str:
        path = Path(os.path.abspath(os.fspath(data_copy)))
        if not path.is_file():
            raise StoreError(f"data copy {path} does not exist")
        if path.is_relative_to(self.root):
            return path.relative_to(self.root).as_posix()
        return str(path)

    def _snapshot_row_by_id(self, snapshot_id: int) -> Row:
        row = self._one(f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE id = ?", [snapshot_id])
        if row is None:
            raise StoreError(f"snapshot {snapshot_id} not found")
        return row

    def _snapshot_row(self, dataset: str, name: str) -> Row:
        row = self._one(
            f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE dataset = ? AND name = ?",
            [dataset, name],
        )
        if row is None:
            raise StoreError(f"snapshot '{name}' of dataset '{dataset}' not found")
        return row

    def begin_snapshot(
        self,
        dataset: str,
        name: str,
        *,
        monitor: str | None = None,
        dataset_version: int | None = None,
    ) -> SnapshotRecord:
        """Record a new snapshot ``name`` of ``dataset`` with status ``"running"``.

        :param dataset_version: the registered version profiled; ``None`` means
            the dataset's latest version.
        :raises StoreError: the dataset (version) is not registered; the name is
            taken (``"snapshot 'n' of dataset 'd' already exists"``); the name or
            dataset contains ``/``, ``\\`` or NUL or is ``.``/``..``.
        """
        _check_path_part(dataset, "dataset name")
        _check_path_part(name, "snapshot name")
        with self._transaction(f"begin snapshot '{name}' of dataset '{dataset}'", write=True):
            version = self._dataset_row(dataset, dataset_version)["version"]
            if self._one(
                "SELECT 1 FROM snapshots WHERE dataset = ? AND name = ?", [dataset, name]
            ):
                raise StoreError(f"snapshot '{name}' of dataset '{dataset}' already exists")
            snapshot_id = self._insert(
                "snapshots",
                {
                    "dataset": dataset,
                    "dataset_version": version,
                    "name": name,
                    "monitor": monitor,
                    "created_at": self._now(),
                    "status": "running",
                },
            )
            return self._snapshot_record(self._snapshot_row_by_id(snapshot_id))

    def _running_row(self, snapshot_id: int, action: str) -> Row:
        row = self._snapshot_row_by_id(snapshot_id)
        if row["status"] != "running":
            raise StoreError(
                f"cannot {action} snapshot '{row['name']}' of dataset "
                f"'{row['dataset']}': it is {row['status']}, not running"
            )
        return row

    def complete_snapshot(
        self,
        snapshot_id: int,
        *,
        profile: JsonDict,
        columns: list[JsonDict],
        row_count: int,
        fingerprint: str,
        data_copy: str | os.PathLike[str] | None = None,
    ) -> SnapshotRecord:
        """Store a running snapshot's profile and mark it completed, in one transaction.

        :param profile: the JSON-able dataset-level profile; must hold an integer
            ``"format_version"`` (stored as ``profile_version``).
        :param columns: one dict per column: ``column`` (str), ``position`` (int,
            unique), ``kind`` (str), ``stats`` (JSON-able dict), ``sketch``
            (bytes or ``None``; optional).
        :param row_count: rows profiled.
        :param fingerprint: the source's content fingerprint.
        :param data_copy: path of an existing Parquet copy (see
            :meth:`write_data_copy`), or ``None``.
        :raises StoreError: the snapshot is missing or not running, the data copy
            does not exist, a column dict is malformed or a value is not
            JSON-serialisable.
        """
        profile_json = _to_json(profile, f"the profile of snapshot {snapshot_id}")
        profile_version = _format_version(profile)
        rows = [_column_row(snapshot_id, i, column) for i, column in enumerate(columns)]
        stored_copy = None if data_copy is None else self._stored_copy(data_copy)
        with self._transaction(f"complete snapshot {snapshot_id}", write=True) as db:
            self._running_row(snapshot_id, "complete")
            db.execute("DELETE FROM column_profiles WHERE snapshot_id = ?", [snapshot_id])
            db.table("column_profiles").insert_all(rows)
            db.execute(
                "UPDATE snapshots SET status = 'completed', completed_at = ?, "
                "row_count = ?, fingerprint = ?, data_copy = ?, profile = ?, "
                "profile_version = ? WHERE id = ?",
                [self._now(), row_count, fingerprint, stored_copy, profile_json,
                 profile_version, snapshot_id],
            )
            return self._snapshot_record(self._snapshot_row_by_id(snapshot_id))

    def fail_snapshot(self, snapshot_id: int, reason: str) -> SnapshotRecord:
        """Mark a running snapshot failed with ``reason``.

        A snapshot that already failed is returned unchanged (its first reason
        kept), so error handlers may call this twice.

        :raises StoreError: the snapshot is missing or completed.
        """
        with self._transaction(f"fail snapshot {snapshot_id}", write=True) as db:
            row = self._snapshot_row_by_id(snapshot_id)
            if row["status"] != "failed":
                self._running_row(snapshot_id, "fail")
                db.execute(
                    "UPDATE snapshots SET status = 'failed', reason = ? WHERE id = ?",
                    [reason, snapshot_id],
                )
            return self._snapshot_record(self._snapshot_row_by_id(snapshot_id))

    def get_snapshot(self, dataset: str, name: str) -> SnapshotRecord:
        """Snapshot ``name`` of ``dataset``, whatever its status.

        :raises StoreError: ``"snapshot 'n' of dataset 'd' not found"``.
        """
        with self._transaction(f"read snapshot '{name}' of dataset '{dataset}'", write=False):
            return self._snapshot_record(self._snapshot_row(dataset, name))

    def get_snapshot_by_id(self, snapshot_id: int) -> SnapshotRecord:
        """The snapshot with row id ``snapshot_id``.

        :raises StoreError: ``"snapshot 7 not found"``.
        """
        with self._transaction(f"read snapshot {snapshot_id}", write=False):
            return self._snapshot_record(self._snapshot_row_by_id(snapshot_id))

    def list_snapshots(
        self,
        dataset: str | None = None,
        *,
        status: SnapshotStatus | None = None,
        monitor: str | None = None,
    ) -> list[SnapshotRecord]:
        """Snapshots matching every filter given, oldest first by (created_at, id).

        :raises StoreError: ``status`` is not running, completed or failed.
        """
        _check_choice(status, SnapshotStatus, "snapshot status")
        filters = {"dataset": dataset, "status": status, "monitor": monitor}
        used = {key: value for key, value in filters.items() if value is not None}
        where = " AND ".join(f"{key} = ?" for key in used) or "1"
        with self._transaction("list snapshots", write=False):
            rows = self._all(
                f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE {where} {_SNAPSHOT_ORDER}",
                list(used.values()),
            )
        return [self._snapshot_record(row) for row in rows]

    def latest_snapshot(
        self,
        dataset: str,
        *,
        status: SnapshotStatus | None = "completed",
        before_id: int | None = None,
    ) -> SnapshotRecord | None:
        """The newest snapshot of ``dataset`` by (created_at, id), or ``None``.

        :param status: only snapshots with this status; ``None`` for any.
        :param before_id: only snapshots ordered before snapshot ``before_id``
            (e.g. the previous run of a target).
        :raises StoreError: ``before_id`` does not exist; unknown ``status``.
        """
        return self._edge_snapshot(dataset, status, before_id, newest=True)

    def first_snapshot(
        self, dataset: str, status: SnapshotStatus | None = "completed"
    ) -> SnapshotRecord | None:
        """The oldest snapshot of ``dataset`` with ``status`` (any when ``None``),
        or ``None``."""
        return self._edge_snapshot(dataset, status, None, newest=False)

    def _edge_snapshot(
        self,
        dataset: str,
        status: SnapshotStatus | None,
        before_id: int | None,
        *,
        newest: bool,
    ) -> SnapshotRecord | None:
        _check_choice(status, SnapshotStatus, "snapshot status")
        sql = f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE dataset = ?"
        params: list[Any] = [dataset]
        if status is not None:
            sql, params = sql + " AND status = ?", [*params, status]
        order = "ORDER BY created_at DESC, id DESC" if newest else _SNAPSHOT_ORDER
        with self._transaction(f"find a snapshot of dataset '{dataset}'", write=False):
            if before_id is not None:
                edge = self._snapshot_row_by_id(before_id)
                sql += " AND (created_at, id) < (?, ?)"
                params += [edge["created_at"], edge["id"]]
            row = self._one(f"{sql} {order} LIMIT 1", params)
        return None if row is None else self._snapshot_record(row)

    def load_profile(self, snapshot_id: int) -> tuple[JsonDict, list[JsonDict]]:
        """What :meth:`complete_snapshot` stored: ``(profile, columns)``, the
        columns ordered by position, each ``{"column", "position", "kind",
        "stats", "sketch"}`` with ``sketch`` as bytes or ``None``.

        :raises StoreError: ``"snapshot 7 not found"``; the snapshot is not
            completed (``"snapshot 'n' of dataset 'd' is running, not completed"``
            or ``"snapshot 'n' of dataset 'd' failed: <reason>"``).
        """
        with self._transaction(f"load the profile of snapshot {snapshot_id}", write=False):
            row = self._one("SELECT * FROM snapshots WHERE id = ?", [snapshot_id])
            if row is None:
                raise StoreError(f"snapshot {snapshot_id} not found")
            if row["status"] != "completed":
                raise StoreError(_not_completed_message(row))
            columns = self._all(
                "SELECT * FROM column_profiles WHERE snapshot_id = ? ORDER BY position",
                [snapshot_id],
            )
        return _from_json(row["profile"]), [_column_profile(c) for c in columns]

    def delete_snapshot(self, dataset: str, name: str) -> SnapshotRecord:
        """Delete snapshot ``name`` of ``dataset`` and its data copy; return it.

        Also deleted, in the same transaction: its column profiles, every
        comparison that used it as baseline or target with those comparisons'
        alerts and attempts, and a baseline pin on it (the monitor then falls
        back to its configured baseline). HTML report files are not touched.
        The data copy is moved aside before the transaction and put back if it
        fails, so rows and file go together.

        :raises StoreError: ``"snapshot 'n' of dataset 'd' not found"``, or the
            data copy cannot be removed.
        """
        what = f"delete snapshot '{name}' of dataset '{dataset}'"
        moved: list[tuple[Path, Path]] = []
        try:
            with self._transaction(what, write=True) as db:
                row = self._snapshot_row(dataset, name)
                moved = self._move_copies_aside(row)
                db.execute("DELETE FROM snapshots WHERE id = ?", [row["id"]])
        except BaseException:
            self._restore_copies(moved)
            raise
        self._remove_files([aside for _, aside in moved], what)
        return self._snapshot_record(row)

    def _copy_paths(self, row: Row) -> set[Path]:
        paths = {self.data_copy_path(row["dataset"], row["name"])}
        stored = self._absolute_copy(row["data_copy"])
        if stored is not None:
            paths.add(Path(stored))
        return {path for path in paths if path.exists()}

    def _move_copies_aside(self, row: Row) -> list[tuple[Path, Path]]:
        moved: list[tuple[Path, Path]] = []
        for path in sorted(self._copy_paths(row)):
            aside = path.with_name(f"{path.name}.deleting-{os.getpid()}")
            try:
                os.replace(path, aside)
            except OSError as exc:
                self._restore_copies(moved)
                raise StoreError(f"cannot remove data copy {path}: {exc}") from exc
            moved.append((path, aside))
        return moved

    @staticmethod
    def _restore_copies(moved: list[tuple[Path, Path]]) -> None:
        for path, aside in moved:
            with contextlib.suppress(OSError):
                os.replace(aside, path)

    @staticmethod
    def _remove_files(paths: Iterable[Path], what: str) -> None:
        for path in paths:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise StoreError(f"{what}: the rows are deleted but {path} is left: {exc}") from exc

    def recover_interrupted(self) -> list[SnapshotRecord]:
        """Fail every snapshot left ``"running"`` by a process that stopped.

        Each gets reason :data:`INTERRUPTED_REASON`; their leftover temporary
        data-copy files are removed. Call it on start, before any snapshot of
        this process begins, and only when no other process is writing
        snapshots to this store.

        :returns: the snapshots it failed, oldest first.
        """
        with self._transaction("recover interrupted snapshots", write=True) as db:
            rows = self._all(
                f"SELECT id FROM snapshots WHERE status = 'running' {_SNAPSHOT_ORDER}", []
            )
            db.execute(
                "UPDATE snapshots SET status = 'failed', reason = ? WHERE status = 'running'",
                [INTERRUPTED_REASON],
            )
            failed = [self._snapshot_record(self._snapshot_row_by_id(r["id"])) for r in rows]
        for snapshot in failed:
            self._remove_files(
                self._temporary_copies(snapshot),
                f"remove the temporary data copy of snapshot {snapshot.id}",
            )
        return failed

    def _temporary_copies(self, snapshot: SnapshotRecord) -> list[Path]:
        final = self.data_copy_path(snapshot.dataset, snapshot.name)
        if not final.parent.is_dir():
            return []
        prefix = f"{final.name}.tmp-"
        return [path for path in final.parent.iterdir() if path.name.startswith(prefix)]

    # ---------------------------------------------------------------- data copies

    def data_copy_path(self, dataset: str, name: str) -> Path:
        """``root / "data" / dataset / f"{name}.parquet"``; the file may not exist.

        :raises StoreError: ``dataset`` or ``name`` cannot be a file name.
        """
        _check_path_part(dataset, "dataset name")
        _check_path_part(name, "snapshot name")
        return self.root / "data" / dataset / f"{name}.parquet"

    def write_data_copy(
        self,
        dataset: str,
        name: str,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
    ) -> Path:
        """Write ``batches`` (all of ``schema``) as the Parquet data copy of
        snapshot ``name`` and return its path.

        The file is written to ``<path>.tmp-<pid>``, flushed to disk, then renamed
        over ``<path>``, so ``<path>`` is either absent, the previous file, or
        complete. The database is not touched: pass the path to
        :meth:`complete_snapshot`.

        :raises StoreError: writing fails (the temporary file is removed). A
            :class:`~monitor.errors.MonitorError` raised by ``batches`` itself
            (e.g. a ``SourceError``) propagates unchanged, also after cleanup.
        """
        final = self.data_copy_path(dataset, name)
        temporary = final.with_name(f"{final.name}.tmp-{os.getpid()}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with pq.ParquetWriter(str(temporary), schema) as writer:
                for batch in batches:
                    writer.write_batch(batch)
            _fsync_path(temporary)
            os.replace(temporary, final)
            _fsync_path(final.parent)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            if isinstance(exc, MonitorError) or not isinstance(exc, Exception):
                raise
            raise StoreError(f"cannot write data copy {final}: {exc}") from exc
        return final

    # ---------------------------------------------------------------- comparisons

    def record_comparison(
        self,
        *,
        monitor: str | None,
        dataset: str,
        baseline: SnapshotRecord,
        target: SnapshotRecord,
        drifted: bool,
        severity: str,
        result: JsonDict,
        report_path: str | os.PathLike[str] | None = None,
    ) -> ComparisonRecord:
        """Store the result of comparing ``target`` with ``baseline``.

        :param result: the JSON-able result dict (key order is kept).
        :raises StoreError: either snapshot no longer exists; ``result`` is not
            JSON-serialisable.
        """
        result_json = _to_json(result, "the comparison result")
        with self._transaction("record a comparison", write=True):
            for snapshot in (baseline, target):
                self._snapshot_row_by_id(snapshot.id)
            comparison_id = self._insert(
                "comparisons",
                {
                    "monitor": monitor,
                    "dataset": dataset,
                    "baseline_snapshot_id": baseline.id,
                    "target_snapshot_id": target.id,
                    "baseline_name": baseline.name,
                    "target_name": target.name,
                    "created_at": self._now(),
                    "drifted": int(drifted),
                    "severity": severity,
                    "result": result_json,
                    "report_path": None if report_path is None else os.fspath(report_path),
                },
            )
            return _comparison_record(self._comparison_row(comparison_id))

    def _comparison_row(self, comparison_id: int) -> Row:
        row = self._one("SELECT * FROM comparisons WHERE id = ?", [comparison_id])
        if row is None:
            raise StoreError(f"comparison {comparison_id} not found")
        return row

    def get_comparison(self, comparison_id: int) -> ComparisonRecord:
        """The comparison with id ``comparison_id``.

        :raises StoreError: ``"comparison 7 not found"``.
        """
        with self._transaction(f"read comparison {comparison_id}", write=False):
            return _comparison_record(self._comparison_row(comparison_id))

    def list_comparisons(
        self, dataset: str | None = None, monitor: str | None = None
    ) -> list[ComparisonRecord]:
        """Comparisons matching the filters given, newest first by (created_at, id)."""
        filters = {"dataset": dataset, "monitor": monitor}
        used = {key: value for key, value in filters.items() if value is not None}
        where = " AND ".join(f"{key} = ?" for key in used) or "1"
        with self._transaction("list comparisons", write=False):
            rows = self._all(
                f"SELECT * FROM comparisons WHERE {where} ORDER BY created_at DESC, id DESC",
                list(used.values()),
            )
        return [_comparison_record(row) for row in rows]

    def set_report_path(
        self, comparison_id: int, path: str | os.PathLike[str] | None
    ) -> ComparisonRecord:
        """Record where the HTML report of a comparison was written.

        :raises StoreError: ``"comparison 7 not found"``.
        """
        value = None if path is None else os.fspath(path)
        with self._transaction(f"set the report of comparison {comparison_id}", write=True) as db:
            self._comparison_row(comparison_id)
            db.execute(
                "UPDATE comparisons SET report_path = ? WHERE id = ?", [value, comparison_id]
            )
            return _comparison_record(self._comparison_row(comparison_id))

    # ---------------------------------------------------------------- alert outbox

    def enqueue_alert(
        self,
        comparison_id: int,
        webhook: str,
        url: str,
        payload: JsonDict,
        idempotency_key: str,
    ) -> AlertRecord:
        """Put an alert in the outbox, due now, status ``"pending"``.

        Enqueueing the same ``(idempotency_key, webhook)`` again returns the
        existing alert unchanged (whatever its status).

        :param webhook: the configured webhook's name; ``url`` its address.
        :raises StoreError: ``"comparison 7 not found"``; ``payload`` is not
            JSON-serialisable.
        """
        payload_json = _to_json(payload, f"the payload of alert '{idempotency_key}'")
        with self._transaction(f"enqueue alert '{idempotency_key}'", write=True):
            existing = self._one(
                "SELECT * FROM alerts WHERE idempotency_key = ? AND webhook = ?",
                [idempotency_key, webhook],
            )
            if existing is not None:
                return _alert_record(existing)
            self._comparison_row(comparison_id)
            now = self._now()
            alert_id = self._insert(
                "alerts",
                {
                    "comparison_id": comparison_id,
                    "webhook": webhook,
                    "url": url,
                    "payload": payload_json,
                    "idempotency_key": idempotency_key,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                },
            )
            return _alert_record(self._alert_row(alert_id))

    def _alert_row(self, alert_id: int) -> Row:
        row = self._one("SELECT * FROM alerts WHERE id = ?", [alert_id])
        if row is None:
            raise StoreError(f"alert {alert_id} not found")
        return row

    def get_alert(self, alert_id: int) -> AlertRecord:
        """The alert with id ``alert_id``.

        :raises StoreError: ``"alert 7 not found"``.
        """
        with self._transaction(f"read alert {alert_id}", write=False):
            return _alert_record(self._alert_row(alert_id))

    def due_alerts(self, now: datetime) -> list[AlertRecord]:
        """Pending alerts whose ``next_attempt_at <= now``, oldest first.

        :param now: an aware datetime.
        """
        when = _to_db_time(now, "now")
        with self._transaction("list due alerts", write=False):
            rows = self._all(
                "SELECT * FROM alerts WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY created_at, id",
                [when],
            )
        return [_alert_record(row) for row in rows]

    def pending_alerts(self) -> list[AlertRecord]:
        """Every pending alert, due or not, oldest first."""
        with self._transaction("list pending alerts", write=False):
            rows = self._all(
                "SELECT * FROM alerts WHERE status = 'pending' ORDER BY created_at, id", []
            )
        return [_alert_record(row) for row in rows]

    def list_alerts(self, comparison_id: int | None = None) -> list[AlertRecord]:
        """Every alert (of one comparison when given), oldest first."""
        where, params = ("1", [])
        if comparison_id is not None:
            where, params = "comparison_id = ?", [comparison_id]
        with self._transaction("list alerts", write=False):
            rows = self._all(f"SELECT * FROM alerts WHERE {where} ORDER BY created_at, id", params)
        return [_alert_record(row) for row in rows]

    def record_attempt(
        self,
        alert_id: int,
        *,
        status_code: int | None,
        error: str | None,
        delivered: bool,
        next_attempt_at: datetime | None,
        give_up: bool = False,
    ) -> AlertRecord:
        """Record delivery attempt ``attempts + 1`` of a pending alert.

        ``delivered`` → status ``"delivered"`` with ``delivered_at`` = now;
        else ``give_up`` → status ``"failed"``; else the alert stays pending, due
        again at ``next_attempt_at``. ``last_error`` becomes ``error`` each time.

        :param next_attempt_at: an aware datetime; required when the alert
            stays pending.
        :raises StoreError: ``"alert 7 not found"``; the alert is not pending;
            ``next_attempt_at`` is missing or naive when needed.
        """
        status, due = self._attempt_outcome(delivered, give_up, next_attempt_at)
        with self._transaction(f"record an attempt of alert {alert_id}", write=True) as db:
            alert = self._alert_row(alert_id)
            if alert["status"] != "pending":
                raise StoreError(f"alert {alert_id} is {alert['status']}, not pending")
            now, attempt = self._now(), alert["attempts"] + 1
            self._insert(
                "alert_attempts",
                {"alert_id": alert_id, "attempt": attempt, "at": now,
                 "status_code": status_code, "error": error, "delivered": int(delivered)},
            )
            db.execute(
                "UPDATE alerts SET attempts = ?, status = ?, next_attempt_at = ?, "
                "delivered_at = ?, last_error = ? WHERE id = ?",
                [attempt, status, due or alert["next_attempt_at"],
                 now if delivered else None, error, alert_id],
            )
            return _alert_record(self._alert_row(alert_id))

    @staticmethod
    def _attempt_outcome(
        delivered: bool, give_up: bool, next_attempt_at: datetime | None
    ) -> tuple[AlertStatus, str | None]:
        if delivered:
            return "delivered", None
        if give_up:
            return "failed", None
        if next_attempt_at is None:
            raise StoreError("next_attempt_at is required when an alert stays pending")
        return "pending", _to_db_time(next_attempt_at, "next_attempt_at")

    def list_attempts(self, alert_id: int) -> list[AttemptRecord]:
        """Every attempt of one alert, by attempt number (1, 2, ...)."""
        with self._transaction(f"list attempts of alert {alert_id}", write=False):
            rows = self._all(
                "SELECT * FROM alert_attempts WHERE alert_id = ? ORDER BY attempt", [alert_id]
            )
        return [_attempt_record(row) for row in rows]

    # ---------------------------------------------------------------- baselines, runs

    def set_baseline(self, monitor: str, snapshot: SnapshotRecord) -> None:
        """Pin ``snapshot`` as the baseline of ``monitor``, replacing any pin.

        :raises StoreError: the snapshot no longer exists or is not completed.
        """
        with self._transaction(f"pin the baseline of monitor '{monitor}'", write=True) as db:
            row = self._snapshot_row_by_id(snapshot.id)
            if row["status"] != "completed":
                raise StoreError(_not_completed_message(row))
            db.execute(
                "INSERT INTO baselines (monitor, snapshot_id, pinned_at) VALUES (?, ?, ?) "
                "ON CONFLICT (monitor) DO UPDATE SET snapshot_id = excluded.snapshot_id, "
                "pinned_at = excluded.pinned_at",
                [monitor, snapshot.id, self._now()],
            )

    def clear_baseline(self, monitor: str) -> bool:
        """Remove the pinned baseline of ``monitor``; ``True`` when there was one."""
        with self._transaction(f"unpin the baseline of monitor '{monitor}'", write=True) as db:
            cursor = db.execute("DELETE FROM baselines WHERE monitor = ?", [monitor])
            return cursor.rowcount > 0

    def get_pinned_baseline(self, monitor: str) -> SnapshotRecord | None:
        """The snapshot pinned as ``monitor``'s baseline, or ``None``."""
        with self._transaction(f"read the baseline of monitor '{monitor}'", write=False):
            pin = self._one("SELECT snapshot_id FROM baselines WHERE monitor = ?", [monitor])
            if pin is None:
                return None
            return self._snapshot_record(self._snapshot_row_by_id(pin["snapshot_id"]))

    def last_run_at(self, monitor: str) -> datetime | None:
        """``created_at`` of ``monitor``'s newest snapshot (any status), or ``None``
        when it has none (deleted snapshots do not count)."""
        with self._transaction(f"read the last run of monitor '{monitor}'", write=False):
            row = self._one(
                "SELECT MAX(created_at) AS at FROM snapshots WHERE monitor = ?", [monitor]
            )
        return None if row is None or row["at"] is None else _from_db_time(row["at"])


def open_store(path: str | os.PathLike[str]) -> Store:
    """Open (creating when missing) the store at ``path``; see :class:`Store`."""
    return Store(path)
