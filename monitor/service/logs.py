"""Log output of the daemon: text lines or one JSON object per line.

A JSON line holds ``time`` (ISO 8601, UTC), ``level``, ``logger`` and
``message``, then every field a caller passed with ``extra=`` (``monitor``,
``snapshot``, ``webhook_id``, ``duration_seconds``, ...), and ``exception``
with the formatted traceback when there is one. While a monitor's job runs,
:func:`monitor_context` puts its name on every record logged from that thread
(by any module), so the job's lines carry ``monitor`` without each call
passing it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_current_monitor: contextvars.ContextVar[str | None] = contextvars.ContextVar("monitor", default=None)
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


@contextlib.contextmanager
def monitor_context(name: str) -> Iterator[None]:
    """Within the block, records logged from this thread carry ``monitor=name``."""
    token = _current_monitor.set(name)
    try:
        yield
    finally:
        _current_monitor.reset(token)


class MonitorFilter(logging.Filter):
    """Adds the monitor of the running job (see :func:`monitor_context`) to a
    record that has none."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always True; sets ``record.monitor`` when a job's monitor is known."""
        name = _current_monitor.get()
        if name is not None and not hasattr(record, "monitor"):
            record.monitor = name
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """:returns: the record as one line of compact JSON (non-JSON values as text)."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: int, fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every log record at ``level`` or above to ``stream`` (default stderr).

    Replaces the root logger's stream handlers; Python warnings are logged too, so with
    ``fmt="json"`` every line of output is JSON.

    :param fmt: ``"text"`` or ``"json"``.
    :raises ValueError: on another ``fmt``.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}: expected text or json")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(MonitorFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if type(old) is logging.StreamHandler:  # basicConfig's or an earlier call's; not a capture handler
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
