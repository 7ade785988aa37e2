"""The one error hierarchy of drift-monitor.

Every error the library raises on purpose is a :class:`MonitorError`; the CLI is
the only place that turns one into a message and an exit code. Foreign
exceptions (``OSError``, ``pyarrow.ArrowInvalid``, ``sqlite3.Error``,
``httpx.HTTPError``) are mapped at the module boundary with ``raise ... from exc``.

::

    MonitorError
     ├── ConfigError          the YAML file or a CLI option is wrong (exit code 2)
     ├── SourceError          a dataset's files are missing or unreadable
     ├── StoreError           the SQLite store or a data copy cannot be used
     │    └── SnapshotFileError   a snapshot file is damaged, truncated or unknown
     ├── AlertDeliveryError   a webhook did not accept an alert
     └── StoppedError         the daemon is stopping: a running job gives up
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class of every error drift-monitor raises on purpose.

    Raised when an operation cannot complete for a reason a user can act on;
    ``str(error)`` is a complete, user-facing message.
    """


class ConfigError(MonitorError):
    """Raised when a configuration file or option is invalid.

    :ivar problems: every problem found, each ``"key.path: message"``; the message
        of the error lists them all, one per line.
    """

    def __init__(self, problems: list[str] | str, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"invalid configuration in {source}" if source else "invalid configuration"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class SourceError(MonitorError):
    """Raised when a dataset's input cannot be read: a missing file, a pattern that
    matches nothing, a malformed CSV, Parquet or JSON Lines file. The message names
    the file at fault."""


class StoreError(MonitorError):
    """Raised when the store cannot be opened or written, a snapshot or dataset is
    not found, or a data copy is missing or unreadable."""


class SnapshotFileError(StoreError):
    """Raised when a snapshot file (``snapshot export``'s archive) cannot be
    used: it is missing, truncated, a member fails its checksum, or its format
    is unknown or newer than this drift-monitor reads. The message names the
    file, and the member at fault when there is one."""


class AlertDeliveryError(MonitorError):
    """Raised when a webhook does not accept an alert after every attempt; the
    alert stays in the outbox and is retried later."""


class StoppedError(MonitorError):
    """Raised inside a running job when the daemon was asked to stop (SIGTERM or
    SIGINT) and the job reached a point where it can give up cleanly; its
    snapshot is marked failed with reason ``stopped`` and its alerts stay in the
    outbox."""
