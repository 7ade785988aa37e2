"""drift-monitor: watch datasets for drift.

Snapshots of a dataset's profile are taken on a schedule, compared with a
baseline snapshot, written up as HTML reports, and alerted on by webhook.
"""

from __future__ import annotations

from monitor.api import Dataset, Snapshot, Workspace
from monitor.errors import AlertDeliveryError, ConfigError, MonitorError, SourceError, StoreError

__version__ = "0.1.0"

__all__ = [
    "AlertDeliveryError", "ConfigError", "Dataset", "MonitorError", "Snapshot", "SourceError",
    "StoreError", "Workspace", "__version__",
]
