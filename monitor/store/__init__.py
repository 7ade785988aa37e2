"""The store: the only package with SQL.

One SQLite file (WAL mode, ``busy_timeout`` 5 s, foreign keys on) holds dataset
definitions and their versions, snapshots with their profiles, comparison
results, pinned baselines, drift episodes and the alert outbox. Data copies are Parquet files
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
writes apart. Each running snapshot records the process that owns it, so
recovery fails only the snapshots of processes that are gone; only one
``drift-monitor run`` holds a store at a time (:class:`StoreLock`).

:class:`Store` is put together from one mixin per concern, each running its SQL
through the connection and transaction helper of
:class:`~monitor.store.base.StoreBase`:

- :mod:`monitor.store.records`: the frozen record dataclasses, the status
  values and :data:`INTERRUPTED_REASON`.
- :mod:`monitor.store.schema`: the schema migrations and :data:`SCHEMA_VERSION`.
- :mod:`monitor.store.codec`: times, JSON and rows to and from what SQLite
  stores, and the checks values pass on the way in.
- :mod:`monitor.store.base`: the connection, its lock, migrating, closing and
  the transaction helper.
- :mod:`monitor.store.datasets`: dataset definitions and their versions.
- :mod:`monitor.store.snapshots`: snapshots and their profiles.
- :mod:`monitor.store.data_copies`: Parquet data copies, deleting snapshots and
  recovering interrupted ones.
- :mod:`monitor.store.retention`: removing many snapshots and data copies at
  once for a retention policy (:meth:`Store.prune`), comparisons kept.
- :mod:`monitor.store.comparisons`: comparison results and their reports.
- :mod:`monitor.store.alerts`: the alert outbox (webhook names, never URLs),
  its delivery attempts and the webhooks disabled by an HTTP 410.
- :mod:`monitor.store.segments`: the per-segment profiles of snapshots.
- :mod:`monitor.store.transfer`: a snapshot read whole for export, and the
  import of one that never leaves half of it.
- :mod:`monitor.store.episodes`: drift episodes and their notification state.
- :mod:`monitor.store.baselines`: pinned baselines and when a monitor last ran.
- :mod:`monitor.store.owner`: who owns a running snapshot and whether it is
  still alive; :mod:`monitor.store.heartbeat` refreshes a snapshot's heartbeat.
- :mod:`monitor.store.lock`: :class:`StoreLock`, one ``drift-monitor run`` per
  store (an OS file lock beside the database).
"""

from __future__ import annotations

import os

from monitor.store.alerts import AlertsMixin
from monitor.store.episodes import EpisodePlan, EpisodesMixin
from monitor.store.base import StoreBase
from monitor.store.baselines import BaselinesMixin
from monitor.store.comparisons import ComparisonsMixin
from monitor.store.data_copies import DataCopiesMixin
from monitor.store.datasets import DatasetsMixin
from monitor.store.heartbeat import HeartbeatsMixin
from monitor.store.lock import StoreLock, StoreLockedError
from monitor.store.owner import HEARTBEAT_EVERY, HEARTBEAT_TIMEOUT
from monitor.store.records import (
    IMPORTING_REASON,
    INTERRUPTED_REASON,
    AlertRecord,
    AlertStatus,
    AttemptRecord,
    ComparisonRecord,
    ComparisonSummary,
    DatasetRecord,
    EpisodeRecord,
    EpisodeStatus,
    EpisodeStep,
    SnapshotRecord,
    SnapshotStatus,
    WebhookState,
)
from monitor.store.schema import SCHEMA_VERSION
from monitor.store.retention import RetentionMixin
from monitor.store.segments import SegmentsMixin
from monitor.store.snapshots import SnapshotsMixin
from monitor.store.transfer import IncomingSnapshot, SnapshotBundle, TransferMixin

__all__ = [
    "HEARTBEAT_EVERY",
    "HEARTBEAT_TIMEOUT",
    "IMPORTING_REASON",
    "INTERRUPTED_REASON",
    "SCHEMA_VERSION",
    "AlertRecord",
    "AlertStatus",
    "AttemptRecord",
    "ComparisonRecord",
    "ComparisonSummary",
    "DatasetRecord",
    "EpisodePlan",
    "EpisodeRecord",
    "EpisodeStatus",
    "EpisodeStep",
    "IncomingSnapshot",
    "SnapshotBundle",
    "SnapshotRecord",
    "SnapshotStatus",
    "Store",
    "StoreLock",
    "StoreLockedError",
    "WebhookState",
    "open_store",
]


class Store(
    TransferMixin,
    EpisodesMixin,
    AlertsMixin,
    ComparisonsMixin,
    BaselinesMixin,
    RetentionMixin,
    DataCopiesMixin,
    SegmentsMixin,
    SnapshotsMixin,
    DatasetsMixin,
    HeartbeatsMixin,
    StoreBase,
):
    """The SQLite store of one workspace, plus its folder of data copies.

    ``Store(path)`` creates the parent folder of ``path`` when missing, opens (or
    creates) the database file, turns on WAL mode, a 5 s busy timeout and foreign
    keys, and applies the schema migrations not applied yet. Use it as a context
    manager or call :meth:`close`.

    :param path: the SQLite file, e.g. ``"state/monitor.db"``.
    :param clock: returns the current time as an aware datetime; defaults to
        ``datetime.now(timezone.utc)``. Every ``created_at``/``at`` comes from it.
    :param read_only: open an existing store for reading only (a server beside
        a writing daemon): no folder or file is created, no migration runs, and
        any write fails with :class:`StoreError`; the schema must be the one
        this code knows.
    :ivar path: absolute path of the database file.
    :ivar root: the folder holding the database; data copies live under
        ``root / "data"``.
    :raises StoreError: the folder cannot be created, the file is not an SQLite
        database, or its schema is newer than this code; with ``read_only``, the
        file does not exist or its schema is not this code's.
    """


def open_store(path: str | os.PathLike[str]) -> Store:
    """Open (creating when missing) the store at ``path``; see :class:`Store`."""
    return Store(path)
