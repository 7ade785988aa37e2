"""The database schema: its migrations in order, :data:`SCHEMA_VERSION`, and the
columns and order the snapshot queries use."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

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


_SCHEMA_2 = (
    """CREATE TABLE episodes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        monitor TEXT NOT NULL,
        dataset TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
        opened_at TEXT NOT NULL,
        resolved_at TEXT,
        severity TEXT NOT NULL,
        columns TEXT NOT NULL,
        runs INTEGER NOT NULL DEFAULT 1,
        last_comparison_id INTEGER,
        notified_at TEXT,
        notified_severity TEXT,
        notified_columns TEXT NOT NULL DEFAULT '[]')""",
    "CREATE UNIQUE INDEX episodes_one_open ON episodes (monitor) WHERE status = 'open'",
    "CREATE INDEX episodes_by_monitor ON episodes (monitor, opened_at)",
    """CREATE TABLE webhook_states (
        webhook TEXT PRIMARY KEY,
        disabled_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        config_digest TEXT NOT NULL)""",
    "ALTER TABLE alerts DROP COLUMN url",
    "ALTER TABLE alerts ADD COLUMN episode_id INTEGER REFERENCES episodes (id) ON DELETE SET NULL",
    "ALTER TABLE alerts ADD COLUMN event TEXT NOT NULL DEFAULT 'drift.detected'",
    "CREATE INDEX alerts_by_episode ON alerts (episode_id)",
    # errors of old attempts may quote the URL they were sent to
    "UPDATE alert_attempts SET error = '(removed: it named the webhook URL)' WHERE error LIKE '%://%'",
    "UPDATE alerts SET last_error = '(removed: it named the webhook URL)' WHERE last_error LIKE '%://%'",
)


def _migration_2_alert_episodes(db: Database) -> None:
    """Drift episodes, webhook states, and an outbox that names webhooks only.

    Adds the ``episodes`` table (one open episode per monitor) and the
    ``webhook_states`` table (webhooks disabled by an HTTP 410); alerts get
    their episode and event and lose the ``url`` column, since the URL (which may
    carry a token) is read from the configuration at each attempt. With
    ``secure_delete`` on, the pages that held URLs are overwritten with zeros.
    """
    db.execute("PRAGMA secure_delete = ON")
    for statement in _SCHEMA_2:
        db.execute(statement)


def _migration_3_snapshot_owners(db: Database) -> None:
    """Record who runs a snapshot: ``owner_host``, ``owner_pid``,
    ``owner_started`` (the process start time token) and ``heartbeat_at``, so
    recovery fails only the running snapshots of processes that are gone.
    Snapshots from before have no owner (NULL) and are judged by ``created_at``."""
    for column, kind in (("owner_host", "TEXT"), ("owner_pid", "INTEGER"),
                         ("owner_started", "TEXT"), ("heartbeat_at", "TEXT")):
        db.execute(f"ALTER TABLE snapshots ADD COLUMN {column} {kind}")


def _migration_4_comparison_baselines(db: Database) -> None:
    """Record what a comparison's baseline was: ``baseline_spec``, JSON with its
    kind (``first``, ``previous``, ``trailing``, ...) and the names and ids of
    every snapshot it was made of (a ``trailing`` baseline merges several;
    ``baseline_snapshot_id`` is then the newest). NULL for older comparisons,
    whose baseline is the one snapshot ``baseline_snapshot_id``."""
    db.execute("ALTER TABLE comparisons ADD COLUMN baseline_spec TEXT")


def _migration_5_snapshot_windows(db: Database) -> None:
    """Record the time window a snapshot profiled: ``window_start`` and
    ``window_end`` (ISO-8601 UTC text, the rows with ``start <= time < end``),
    NULL for a snapshot of the whole dataset (every snapshot from before)."""
    for column in ("window_start", "window_end"):
        db.execute(f"ALTER TABLE snapshots ADD COLUMN {column} TEXT")
    db.execute("CREATE INDEX snapshots_by_window ON snapshots (monitor, window_start)")


def _migration_6_episode_kinds(db: Database) -> None:
    """Episodes of other conditions than drift: ``kind`` (``drift``, every
    episode from before, ``data.stale`` or ``volume``); a monitor has at most
    one open episode of each kind."""
    db.execute("ALTER TABLE episodes ADD COLUMN kind TEXT NOT NULL DEFAULT 'drift'")
    db.execute("DROP INDEX episodes_one_open")
    db.execute("CREATE UNIQUE INDEX episodes_one_open_per_kind ON episodes (monitor, kind) WHERE status = 'open'")


def _migration_7_segment_profiles(db: Database) -> None:
    """Per-segment profiles of snapshots (monitors with ``segments``):
    ``segment_profiles`` holds one row per segment of a snapshot (its name,
    the segment column, rows and dataset-level profile JSON), ``segment_columns``
    one row per column of a segment, as ``column_profiles`` does for the
    snapshot. Both go with their snapshot (``ON DELETE CASCADE``)."""
    db.execute("""CREATE TABLE segment_profiles (
        snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
        segment TEXT NOT NULL,
        position INTEGER NOT NULL,
        segment_column TEXT NOT NULL,
        row_count INTEGER NOT NULL,
        profile TEXT NOT NULL,
        PRIMARY KEY (snapshot_id, segment))""")
    db.execute("""CREATE TABLE segment_columns (
        snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
        segment TEXT NOT NULL,
        position INTEGER NOT NULL,
        column_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        stats TEXT NOT NULL,
        sketch BLOB,
        PRIMARY KEY (snapshot_id, segment, position))""")


def _migration_8_comparison_summaries(db: Database) -> None:
    """``comparisons.summary``: the part of a result a history page reads (the
    verdict, and each column's deciding metrics), so that reading a monitor's
    history does not decode every full result; ``NULL`` for comparisons from
    before, whose full result is read instead."""
    db.execute("ALTER TABLE comparisons ADD COLUMN summary TEXT")


_COMPARISONS_9 = """CREATE TABLE comparisons_9 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        monitor TEXT,
        dataset TEXT NOT NULL,
        baseline_snapshot_id INTEGER NOT NULL,
        target_snapshot_id INTEGER NOT NULL,
        baseline_name TEXT NOT NULL,
        target_name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        drifted INTEGER NOT NULL CHECK (drifted IN (0, 1)),
        severity TEXT NOT NULL,
        result TEXT NOT NULL,
        report_path TEXT,
        baseline_spec TEXT,
        summary TEXT,
        target_time TEXT)"""
_COMPARISON_COLUMNS_8 = (
    "id, monitor, dataset, baseline_snapshot_id, target_snapshot_id, baseline_name, target_name, created_at, "
    "drifted, severity, result, report_path, baseline_spec, summary"
)


def _migration_9_comparisons_outlive_snapshots(db: Database) -> None:
    """A comparison keeps its row (its result, summary and report path) when a
    snapshot it used is removed by retention: ``baseline_snapshot_id`` and
    ``target_snapshot_id`` no longer reference ``snapshots`` (no ``ON DELETE
    CASCADE``); they keep the removed snapshot's id, which is never reused
    (``AUTOINCREMENT``), and its name stays in ``baseline_name`` and
    ``target_name``. ``target_time``, new, keeps the time the target stands for
    (its ``window_start``, else its ``created_at``), filled from the snapshots
    for existing rows, so a history page places a comparison whose target is
    gone where it was. ``snapshot delete`` still deletes the comparisons of the
    snapshot it deletes, explicitly.

    SQLite cannot drop a foreign key in place, so the table is rebuilt (the
    procedure of https://www.sqlite.org/lang_altertable.html, section 7): it
    runs with foreign keys off (:data:`FOREIGN_KEYS_OFF`), so the alerts that
    reference comparisons are not cascaded away, and the id sequence is kept.
    """
    row = next(iter(db.query("SELECT seq FROM sqlite_sequence WHERE name = 'comparisons'")), None)
    db.execute(_COMPARISONS_9)
    db.execute(f"INSERT INTO comparisons_9 ({_COMPARISON_COLUMNS_8}, target_time) "
               f"SELECT {_COMPARISON_COLUMNS_8}, (SELECT COALESCE(s.window_start, s.created_at) FROM snapshots s "
               "WHERE s.id = comparisons.target_snapshot_id) FROM comparisons")
    db.execute("DROP TABLE comparisons")
    db.execute("ALTER TABLE comparisons_9 RENAME TO comparisons")
    db.execute("CREATE INDEX comparisons_by_baseline ON comparisons (baseline_snapshot_id)")
    db.execute("CREATE INDEX comparisons_by_target ON comparisons (target_snapshot_id)")
    if row is not None and row["seq"] is not None:
        db.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'comparisons'", [row["seq"]])
        db.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'comparisons', ? "
                   "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'comparisons')", [row["seq"]])


def definition_hash(definition: Any) -> str:
    """SHA-256 hex of a dataset definition's canonical JSON (keys sorted, no
    spaces): equal for equal definitions whatever their key order.

    :raises TypeError: when the definition is not JSON-serialisable.
    """
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _migration_10_definition_hashes(db: Database) -> None:
    """Dataset versions found by definition, and snapshots' fingerprint kinds.

    ``datasets.definition_hash`` is the SHA-256 of the canonical JSON of the
    version's definition (a version is found by it, so the same definition is
    never registered twice under one name); ``datasets.settings`` holds the
    dataset's settings that are not part of a version (``{"fingerprint":
    "content"}``), JSON, ``{}`` for every version from before. Definitions
    written before carried the dataset's ``description``, which the
    ``description`` column holds as well: it is taken out of them (a new
    description is no new version). ``snapshots.fingerprint_kind`` says what
    a snapshot's fingerprint was made of: ``metadata`` (files' paths, sizes and
    modification times: every completed snapshot from before) or ``content``
    (the files' bytes); NULL until the snapshot completes."""
    db.execute("ALTER TABLE datasets ADD COLUMN definition_hash TEXT")
    db.execute("ALTER TABLE datasets ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'")
    rows = db.execute("SELECT id, definition, description FROM datasets").fetchall()
    for row_id, text, description in rows:
        definition = json.loads(text)
        if isinstance(definition, dict) and "description" in definition:
            old = definition.pop("description")
            description = description or (old if isinstance(old, str) else "")
        canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"))
        db.execute("UPDATE datasets SET definition = ?, description = ?, definition_hash = ? WHERE id = ?",
                   [canonical, description, definition_hash(definition), row_id])
    db.execute("CREATE INDEX datasets_by_hash ON datasets (name, definition_hash)")
    db.execute("ALTER TABLE snapshots ADD COLUMN fingerprint_kind TEXT")
    db.execute("UPDATE snapshots SET fingerprint_kind = 'metadata' WHERE fingerprint IS NOT NULL")


Migration = Callable[[Database], None]

MIGRATIONS: tuple[Migration, ...] = (
    _migration_1_initial_schema, _migration_2_alert_episodes, _migration_3_snapshot_owners,
    _migration_4_comparison_baselines,
    _migration_5_snapshot_windows, _migration_6_episode_kinds, _migration_7_segment_profiles,
    _migration_8_comparison_summaries, _migration_9_comparisons_outlive_snapshots,
    _migration_10_definition_hashes,
)
"""Schema migrations in order; migration ``i`` (from 0) is schema version ``i + 1``.
Append new ones; never edit or reorder applied ones."""

FOREIGN_KEYS_OFF: frozenset[Migration] = frozenset({_migration_9_comparisons_outlive_snapshots})
"""Migrations that rebuild a table other tables reference: they run with
foreign keys off (``PRAGMA foreign_keys`` is set outside their transaction),
and ``PRAGMA foreign_key_check`` must find nothing before they commit."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this code writes."""

_SNAPSHOT_COLUMNS = (
    "id, dataset, dataset_version, name, monitor, created_at, completed_at, status, "
    "reason, row_count, fingerprint, data_copy, profile_version, window_start, window_end, fingerprint_kind"
)
_SNAPSHOT_ORDER = "ORDER BY created_at, id"
