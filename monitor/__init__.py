"""drift-monitor: watch datasets for drift.

Snapshots of a dataset's profile are taken on a schedule, compared with a
baseline snapshot, written up as HTML reports, and alerted on by webhook.

The Python surface (:class:`Workspace`, :class:`Dataset`, :class:`Snapshot`) is
imported on first use, so ``import monitor`` stays cheap for the command line.
The module paths of release 0.1 still import, with a deprecation warning (see
:mod:`monitor._moved`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor import _moved
from monitor.errors import AlertDeliveryError, ConfigError, MonitorError, SourceError, StoreError

if TYPE_CHECKING:
    from monitor.api import Dataset, Snapshot, Workspace

__version__ = "0.1.0"

__all__ = [
    "AlertDeliveryError", "ConfigError", "Dataset", "MonitorError", "Snapshot", "SourceError",
    "StoreError", "Workspace", "__version__",
]
_API = ("Dataset", "Snapshot", "Workspace")

_moved.install()


def __getattr__(name: str) -> Any:
    if name in _API:
        from monitor import api

        return getattr(api, name)
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")
