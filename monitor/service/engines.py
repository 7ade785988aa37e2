"""Which engine profiles a snapshot: this machine's processes (``local``) or
the workers of a Dask cluster (``dask``, :mod:`monitor.profile.dask_engine`).

A monitor says it with ``engine`` and ``dask``; ``profile``, ``snapshot
create`` and ``backfill`` take ``--engine`` and ``--scheduler`` over it.
"""

from __future__ import annotations

from monitor.config import MonitorConfig, check_scheduler
from monitor.errors import ConfigError
from monitor.profile.dask_engine import DaskSettings

__all__ = ["ENGINES", "check_engine", "dask_settings"]

ENGINES = ("local", "dask")


def dask_settings(mon: MonitorConfig | None = None, engine: str | None = None,
                  scheduler: str | None = None) -> DaskSettings | None:
    """The Dask cluster that profiles, or ``None`` for the local engine.

    :param mon: the monitor whose ``engine`` and ``dask`` apply (``None``: local).
    :param engine: ``local`` or ``dask``, over the monitor's (``--engine``).
    :param scheduler: a scheduler address over the monitor's ``dask.scheduler``
        (``--scheduler``); only with the dask engine.
    :raises ConfigError: on another engine, a malformed address, or an address
        with the local engine.
    """
    chosen = engine or (mon.engine if mon is not None else "local")
    if chosen not in ENGINES:
        raise ConfigError([f"engine: expected local or dask, got {chosen!r}"])
    if scheduler is not None:
        try:
            check_scheduler(scheduler)
        except ValueError as exc:
            raise ConfigError([f"--scheduler: {exc}"]) from None
    if chosen == "local":
        if scheduler is not None:
            raise ConfigError(["--scheduler: a Dask scheduler is only used with --engine dask"])
        return None
    if scheduler is not None:
        return DaskSettings(scheduler=scheduler)
    cluster = mon.dask if mon is not None else None
    return DaskSettings() if cluster is None else DaskSettings(cluster.scheduler, cluster.workers)


def check_engine(dask: DaskSettings | None, *, data_copy: bool = False, segments: object = None) -> None:
    """Refuse what the dask engine cannot do.

    :raises ConfigError: with ``dask``, when a data copy or segments are asked
        for (a data copy is written from the rows, which stay on the workers).
    """
    if dask is not None and (data_copy or segments is not None):
        what = "a data copy" if data_copy else "segments"
        raise ConfigError([f"engine: dask cannot take {what} (the rows stay on the cluster's workers); "
                           "use the local engine"])
