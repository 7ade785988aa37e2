"""Which snapshots keep a sample of whole rows (:mod:`monitor.profile.rows`): those
of a dataset that an enabled monitor with ``multivariate: true`` compares, as
its target or as its baseline dataset (``baseline: {dataset: NAME}``)."""

from __future__ import annotations

from monitor.config import Config
from monitor.profile import ROW_SAMPLE_SIZE

__all__ = ["row_sample_for"]


def row_sample_for(config: Config, dataset: str) -> int | None:
    """The row sample a snapshot of ``dataset`` keeps: :data:`~monitor.profile.ROW_SAMPLE_SIZE`
    rows when an enabled monitor with ``multivariate: true`` compares the dataset, else None."""
    for mon in config.monitors.values():
        if not (mon.enabled and mon.multivariate):
            continue
        other = getattr(mon.baseline, "dataset", None)
        if dataset in (mon.dataset, other):
            return ROW_SAMPLE_SIZE
    return None
