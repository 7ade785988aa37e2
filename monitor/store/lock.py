"""The store lock: one ``drift-monitor run`` per store at a time.

The lock is an OS file lock (``fcntl.flock``, exclusive, non-blocking) on the
file ``<store>.lock`` beside the database. The kernel releases it when the
process holding it exits, however it exits (``kill -9`` included), so a crash
never leaves a stale lock behind. The holder writes its pid into the file so a
second process can name it. Readers of the store (``snapshot list``,
``compare``, ...) do not take the lock.

POSIX only (``fcntl``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from monitor.errors import StoreError


class StoreLockedError(StoreError):
    """Raised when another process holds the lock of a store; the message names
    the store and that process's pid:
    ``store /srv/monitor.db is in use by drift-monitor run (pid 4242)``.

    :ivar pid: the holder's pid, or ``None`` when the lock file names none.
    """

    def __init__(self, store: Path, pid: int | None) -> None:
        self.pid = pid
        who = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(f"store {store} is in use by drift-monitor run ({who})")


def lock_path(store: str | os.PathLike[str]) -> Path:
    """The lock file of the store database ``store``: ``<store>.lock``."""
    path = Path(os.path.abspath(os.fspath(store)))
    return path.with_name(path.name + ".lock")


class StoreLock:
    """An exclusive, process-wide lock on one store; a context manager.

    ``with StoreLock("state/monitor.db"):`` takes the lock (never waits) and
    releases it on exit. The lock file stays on disk: removing it would let a
    second process lock a new file while a third still holds the old one.

    :param store: the store's database file (need not exist yet).
    :raises StoreLockedError: on enter, when another process holds the lock.
    :raises StoreError: on enter, when the lock file cannot be created.
    """

    def __init__(self, store: str | os.PathLike[str]) -> None:
        self.store = Path(os.path.abspath(os.fspath(store)))
        self.path = lock_path(store)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write this process's pid into the lock file.

        :raises StoreLockedError: another process holds it.
        :raises StoreError: the lock file cannot be created or written.
        """
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise StoreLockedError(self.store, pid) from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot lock the store {self.store}: {exc}") from exc
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot write the lock file {self.path}: {exc}") from exc
        self._fd = fd

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {self.path}: {exc}") from exc

    def release(self) -> None:
        """Release the lock (a no-op when not held)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    """The pid written in a lock file, or ``None`` when it holds none (yet)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
