"""Who owns a running snapshot, and whether that owner is still alive.

A running snapshot records its owner: the host name, the pid and the process's
start time (so a pid reused by a later process is not taken for the owner), and
a heartbeat the owner refreshes every :data:`HEARTBEAT_EVERY` while the snapshot
runs. Recovery (:meth:`monitor.store.Store.recover_interrupted`) fails only the
snapshots whose owner is gone:

- same host: the pid is not alive, or it is alive with another start time;
- another host (a store on a shared disk): the heartbeat is older than
  :data:`HEARTBEAT_TIMEOUT`.

The start time is field 22 of ``/proc/<pid>/stat`` (clock ticks after boot) on
Linux; where there is no ``/proc`` it is unknown and only the pid is checked.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

HEARTBEAT_EVERY = timedelta(seconds=5)
"""How often a running snapshot's owner refreshes its heartbeat."""

HEARTBEAT_TIMEOUT = timedelta(seconds=60)
"""A snapshot owned by another host is taken for dead after this long without a
heartbeat (twelve missed beats)."""


@dataclass(frozen=True, slots=True)
class SnapshotOwner:
    """The process that runs a snapshot.

    :ivar host: ``socket.gethostname()`` of the owner.
    :ivar pid: the owner's process id.
    :ivar started: the owner's start time token (``/proc`` clock ticks after
        boot, as text), or ``None`` when unknown.
    """

    host: str
    pid: int
    started: str | None


def process_start_time(pid: int) -> str | None:
    """The start time of process ``pid`` as a token (field 22 of
    ``/proc/<pid>/stat``), or ``None`` when the process or ``/proc`` is missing."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces
    fields = text[text.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def current_owner() -> SnapshotOwner:
    """This process as a snapshot owner."""
    pid = os.getpid()
    return SnapshotOwner(socket.gethostname(), pid, process_start_time(pid))


def pid_alive(pid: int) -> bool:
    """True when a process with id ``pid`` exists (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except OSError:
        return False
    return text[text.rfind(")") + 2:].startswith("Z")


def owner_gone(owner: SnapshotOwner | None, heartbeat: datetime, now: datetime,
               timeout: timedelta = HEARTBEAT_TIMEOUT) -> bool:
    """True when the owner of a running snapshot is gone.

    :param owner: the recorded owner; ``None`` for a snapshot written before
        owners were recorded (judged by ``heartbeat`` alone).
    :param heartbeat: the last heartbeat (for an owner-less snapshot: when it
        was created), timezone-aware UTC.
    :param now: the current time, timezone-aware UTC.
    :param timeout: how old a heartbeat of another host may be.
    """
    local = current_owner()
    if owner is None or owner.host != local.host:
        return now - heartbeat > timeout
    if owner.pid == local.pid:
        return owner.started != local.started
    if not pid_alive(owner.pid):
        return True
    started = process_start_time(owner.pid)
    return owner.started is not None and started is not None and started != owner.started
