"""The Python surface: workspaces, datasets and snapshots, with Azure ML's verbs.

Example::

    from monitor import Dataset, Workspace

    ws = Workspace("store/monitor.db")
    flights = Dataset.from_files("data/flights/*.parquet").register(ws, "flights", create_new_version=True)
    snap = flights.create_snapshot("before-retrain", create_data_snapshot=True, wait=False)
    snap.status                   # "running": read from the store at each access
    snap.wait_for_completion()    # "completed", or a StoreError naming the snapshot and the reason
    snap.get_profile()            # the profile table, a pandas DataFrame
    snap.to_pandas_dataframe()    # the data copy, typed
    flights.get_all_snapshots()
    ws.compare("flights", "before-retrain", "after-retrain").verdict
    ws.compare("flights:before-retrain", "other:today")   # any two snapshots, or files
    snap.export("before-retrain.dmsnap"); Workspace("elsewhere.db").import_snapshot("before-retrain.dmsnap")
    Workspace("monitors.yaml").backfill("flights-weekly", "2013-01-01", "2014-01-01").written

``create_snapshot(wait=False)`` returns a ``running`` snapshot at once and
finishes it in a process of its own (:mod:`monitor.service.background`), which
keeps running when this interpreter exits and records the outcome in the store;
``create_snapshot()`` (``wait=True``) takes it in this process and returns it
completed. A :class:`Dataset` keeps its version: its snapshots record that
version and register nothing, whatever versions were registered since.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.config import ColumnSelection, Config, DatasetConfig, MonitorConfig, load_config
from monitor.errors import ConfigError, StoreError
from monitor.store import SnapshotRecord, Store


class Workspace:
    """A store of datasets and snapshots: a SQLite file, or the store of a config.

    :param path: a ``.db`` file, or a YAML configuration (its ``store`` is used and
        its datasets can be fetched with :meth:`Dataset.get_by_name`).
    :raises ConfigError: when a YAML configuration is invalid.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        text = os.fspath(path)
        self.config: Config | None = load_config(text) if text.endswith((".yaml", ".yml")) else None
        self.store = Store(self.config.store if self.config else text)

    def close(self) -> None:
        """Close the store. Snapshots started with ``wait=False`` go on in their
        own processes and record their outcome in the store themselves."""
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def compare(self, dataset: str | os.PathLike[str] | Snapshot, baseline: str | os.PathLike[str] | Snapshot,
                target: str | None = None, *, exact: bool = False, monitor: str | None = None) -> Any:
        """Compare two snapshots of a dataset, or any two snapshots.

        Three arguments, ``compare("flights", "jan", "feb")``: snapshots ``jan``
        (the baseline) and ``feb`` of dataset ``flights``. Two,
        ``compare(BASELINE, TARGET)``: each a :class:`Snapshot`, a reference
        ``"DATASET:SNAPSHOT"`` in this workspace, or a snapshot file
        (``"file:PATH"``, a path ending in ``.dmsnap``, or a ``Path``), e.g.
        ``compare("flights:jan", "other:feb")`` or ``compare("flights:jan", "feb.dmsnap")``.

        :param monitor: decide with this monitor's thresholds, ``min_values`` and
            ``fdr`` (needs a workspace opened from a YAML configuration); default:
            the metrics' default thresholds.
        :returns: a :class:`monitor.drift.DatasetDrift`.
        :raises StoreError: when a snapshot is missing or not completed, or, with
            ``exact``, has no data copy; :class:`~monitor.errors.SnapshotFileError`
            when a snapshot file is damaged.
        :raises ConfigError: when ``monitor`` is not a monitor of the
            configuration, or a reference is malformed.
        """
        from monitor.drift import DriftSettings
        from monitor.service.refs import compare_sides, resolve_pair
        from monitor.service.runner import compare, settings_for

        settings = DriftSettings() if monitor is None else settings_for(self._monitor(monitor))
        if target is not None:
            if not isinstance(dataset, str) or not isinstance(baseline, str):
                raise ConfigError(["compare(dataset, baseline, target) takes three names; "
                                   "compare(baseline, target) takes two snapshots or references"])
            base = self.store.get_snapshot(dataset, baseline)
            tgt = self.store.get_snapshot(dataset, target)
            return compare(self.store, base, tgt, settings, exact=exact)
        sides = resolve_pair(self.store, self._ref(dataset), self._ref(baseline))
        return compare_sides(self.store, *sides, settings, exact=exact)

    def _ref(self, side: str | os.PathLike[str] | Snapshot) -> str | os.PathLike[str]:
        """A comparison side as a reference: a :class:`Snapshot` becomes ``DATASET:NAME``."""
        if not isinstance(side, Snapshot):
            return side
        if side.workspace is not self:
            raise StoreError(f"snapshot {side.name!r} belongs to another workspace: compare it with "
                             "snapshot.export(path) and the file's path")
        return f"{side.record.dataset}:{side.record.name}"

    def import_snapshot(self, path: str | os.PathLike[str], name: str | None = None,
                        dataset: str | None = None) -> Snapshot:
        """Restore a snapshot file written by :meth:`Snapshot.export` (or
        ``drift-monitor snapshot export``) into this workspace.

        The whole file is checked before anything is written; the dataset
        definition becomes a new version of the dataset unless one of its
        versions has that definition; the snapshot keeps its times, monitor,
        window, profile, segment profiles and data copy.

        :param name: its name here (default: its name in the file).
        :param dataset: the dataset to file it under (default: its dataset in the file).
        :raises SnapshotFileError: the file is damaged, truncated or of an unknown format.
        :raises StoreError: the name is taken in that dataset, or the store cannot be written.
        """
        from monitor.service.transfer import import_snapshot

        return Snapshot(self, import_snapshot(self.store, path, name=name, dataset=dataset))

    def backfill(self, monitor: str, start: str | date | datetime, end: str | date | datetime, *,
                 force: bool = False, jobs: int = 1, engine: str | None = None) -> Any:
        """Snapshot every complete window of windowed monitor ``monitor`` in
        ``[start, end)`` and compare each with the monitor's baseline, reading
        the data once (see :mod:`monitor.service.backfill`); no alerts are sent.

        :param start: a date (midnight), a datetime or an ISO 8601 text; without
            a time zone it is read in the monitor's ``schedule.timezone``.
        :param force: retake windows that already have a completed snapshot.
        :param jobs: worker processes reading the files (comparisons stay in window order).
        :param engine: ``local`` or ``dask`` over the monitor's ``engine`` (``dask``:
            the files are read on the monitor's Dask cluster; ``jobs`` is not used).
        :returns: a :class:`monitor.service.backfill.BackfillSummary`
            (``written``, ``skipped``, ``failed``, ``windows``, ``to_dict()``).
        :raises ConfigError: the workspace has no configuration, no such
            monitor, it has no ``window``, or the range is empty.
        """
        from monitor.service.backfill import backfill
        from monitor.service.windows import monitor_zone, parse_time

        mon = self._monitor(monitor)
        assert self.config is not None
        zone = monitor_zone(mon)
        first, last = (parse_time(v if isinstance(v, str) else v.isoformat(), zone, what)
                       for v, what in ((start, "start"), (end, "end")))
        return backfill(self.config, monitor, self.store, first, last, force=force, jobs=jobs, engine=engine)

    def _monitor(self, name: str) -> MonitorConfig:
        if self.config is None:
            raise ConfigError([f"monitors.{name}: this workspace has no configuration; open it from its YAML file"])
        if name not in self.config.monitors:
            known = ", ".join(sorted(self.config.monitors)) or "none"
            raise ConfigError([f"monitors.{name}: no such monitor (configured: {known})"])
        return self.config.monitors[name]


@dataclass
class Dataset:
    """A dataset definition (files, format, columns, types, timestamp column),
    registered by name in a workspace with a version that grows when the
    definition changes (a description or ``fingerprint`` setting is no new
    version). The object keeps its version: snapshots taken through it record it.
    """

    definition: DatasetConfig
    name: str | None = None
    version: int | None = None
    workspace: Workspace | None = field(default=None, repr=False)

    @classmethod
    def from_files(cls, path: str | list[str], *, format: str | None = None,
                   include: list[str] | None = None, exclude: list[str] | None = None,
                   types: dict[str, str] | None = None, timestamp_column: str | None = None,
                   fingerprint: str = "metadata", arrays: dict[str, str | list[str]] | None = None) -> Dataset:
        """An unregistered dataset over files, folders or globs.

        :param fingerprint: ``metadata`` (each file's path, size and
            modification time) or ``content`` (a SHA-256 of the files' bytes):
            what snapshots record as their input fingerprint.
        :param arrays: vector columns read from ``.npy`` arrays beside the
            files: column name -> files, folders or globs of 2-D arrays, one
            per file of the dataset, paired in sorted order (the ``arrays`` key).
        :raises pydantic.ValidationError: on an unknown format, kind or fingerprint kind.
        """
        paths = tuple(os.path.abspath(p) for p in ([path] if isinstance(path, str) else path))
        beside = {c: tuple(os.path.abspath(p) for p in ([v] if isinstance(v, str) else v))
                  for c, v in (arrays or {}).items()}
        columns = ColumnSelection(include=tuple(include) if include else None, exclude=tuple(exclude or ()))
        return cls(DatasetConfig(path=paths, format=format, columns=columns, types=types or {},  # type: ignore[arg-type]
                                 timestamp_column=timestamp_column, fingerprint=fingerprint,  # type: ignore[arg-type]
                                 arrays=beside))  # type: ignore[arg-type]

    def register(self, workspace: Workspace, name: str, description: str = "",
                 create_new_version: bool = False) -> Dataset:
        """Register under ``name``: the version that has this definition (the
        latest or an earlier one), else, when ``create_new_version``, a new one.

        :raises StoreError: when no version has this definition and
            ``create_new_version`` is False.
        """
        from monitor.service.versions import register

        definition = self.definition.model_copy(update={"description": description or self.definition.description})
        version = register(workspace.store, name, definition, create_new_version=create_new_version)
        return Dataset(definition, name, version, workspace)

    @classmethod
    def get_by_name(cls, workspace: Workspace, name: str, version: int | None = None) -> Dataset:
        """A registered dataset (latest version unless ``version``), or one of the
        workspace configuration's datasets.

        :raises StoreError: when no such dataset or version exists.
        """
        try:
            record = workspace.store.get_dataset(name, version)
        except StoreError:
            if version is None and workspace.config and name in workspace.config.datasets:
                return Dataset(workspace.config.datasets[name]).register(workspace, name, create_new_version=True)
            raise
        definition = DatasetConfig.from_version(record.definition, record.settings, record.description)
        if definition.datastore is not None and workspace.config is not None:
            definition = definition.with_store(workspace.config.datastores.get(definition.datastore))
        return cls(definition, name, record.version, workspace)

    def _bound(self) -> tuple[Workspace, str]:
        if self.workspace is None or self.name is None:
            raise StoreError("register the dataset in a workspace first: dataset.register(workspace, name)")
        return self.workspace, self.name

    def create_snapshot(self, snapshot_name: str | None = None, create_data_snapshot: bool = False,
                        wait: bool = True, engine: str = "local", scheduler: str | None = None) -> Snapshot:
        """Profile the data now (and keep a data copy when ``create_data_snapshot``).

        The snapshot records this object's version and registers nothing.

        :param snapshot_name: default ``snapshot_<UTC time>`` (``_2``, ... when taken).
        :param wait: take it in this process and return it completed; ``False``:
            return it ``running`` at once, taken by a detached process that
            records the outcome in the store (see :meth:`Snapshot.wait_for_completion`).
        :param engine: ``dask`` profiles on a Dask cluster: the scheduler at
            ``scheduler`` (``tcp://HOST:PORT``), else a ``LocalCluster`` started
            for the snapshot (not with ``create_data_snapshot``).
        The profile keeps a sample of whole rows when the workspace's
        configuration has an enabled ``multivariate: true`` monitor of the dataset.

        :raises SourceError: with ``wait``, when the data cannot be read (a
            failed snapshot is recorded).
        :raises StoreError: when the name is taken, or this object's definition
            is not the one of its version.
        :raises MonitorError: without ``wait``, when the process cannot be started.
        :raises ConfigError: an unknown engine or a malformed scheduler address,
            or engine dask with ``create_data_snapshot`` (nothing is recorded).
        """
        from monitor.service.background import start_snapshot
        from monitor.service.engines import dask_settings
        from monitor.service.runner import take_snapshot

        from monitor.service.sampling import row_sample_for

        ws, name = self._bound()
        start = take_snapshot if wait else start_snapshot
        rows = row_sample_for(ws.config, name) if ws.config is not None else None
        record = start(ws.store, name, self.definition, name=snapshot_name, data_copy=create_data_snapshot,
                       version=self.version, dask=dask_settings(None, engine, scheduler), row_sample=rows)
        return Snapshot(ws, record)

    def get_snapshot(self, snapshot_name: str) -> Snapshot:
        """A snapshot of this dataset by name. :raises StoreError: when not found."""
        ws, name = self._bound()
        return Snapshot(ws, ws.store.get_snapshot(name, snapshot_name))

    def get_all_snapshots(self) -> list[Snapshot]:
        """Every snapshot of this dataset, oldest first, any status."""
        ws, name = self._bound()
        return [Snapshot(ws, r) for r in ws.store.list_snapshots(name)]

    def delete_snapshot(self, snapshot_name: str, force: bool = False) -> None:
        """Delete a snapshot, its profile and its data copy.

        :param force: delete it even when it is a monitor's baseline (pinned
            with ``baseline set``; with a workspace opened from a configuration,
            also named as a monitor's baseline or the ``first`` of one).
        :raises StoreError: when not found, or a baseline and not ``force`` (the
            message names the monitors).
        """
        from monitor.service.baselines import delete_snapshot

        ws, name = self._bound()
        delete_snapshot(ws.store, ws.config, name, snapshot_name, force=force)


@dataclass
class Snapshot:
    """A snapshot: a dataset's profile at a moment, and an optional data copy."""

    workspace: Workspace = field(repr=False)
    record: SnapshotRecord

    name = property(lambda self: self.record.name, doc="The snapshot's name.")
    created_at = property(lambda self: self.record.created_at, doc="Creation time, UTC.")
    version = property(lambda self: self.record.dataset_version, doc="The dataset version it profiled.")

    @property
    def status(self) -> str:
        """``running``, ``completed`` or ``failed``, read from the store at each
        access; a running snapshot whose process is gone is failed (as
        interrupted) first.

        :raises StoreError: when the snapshot was deleted.
        """
        self.record = self.workspace.store.recover_snapshot(self.record.id)
        return self.record.status

    def wait_for_completion(self, show_output: bool = False, status_update_frequency: float = 10,
                            timeout: float | None = None) -> str:
        """Wait until the snapshot is no longer running, reading the store (every
        50 ms at first, then up to every second).

        :param show_output: print ``Action status: Running`` every
            ``status_update_frequency`` seconds, and the final status.
        :param status_update_frequency: seconds between printed statuses.
        :param timeout: give up after this many seconds (default: wait as long as it runs).
        :returns: ``"completed"``.
        :raises StoreError: when the snapshot failed (``"snapshot 'n' of dataset
            'd' failed: <reason>"``, the reason naming the file at fault), when
            it is still running after ``timeout``, or was deleted.
        :raises ValueError: when ``status_update_frequency`` is not positive.
        """
        if not status_update_frequency > 0:
            raise ValueError(f"status_update_frequency must be a positive number of seconds, "
                             f"not {status_update_frequency!r}")
        start = printed = time.monotonic()
        delay = 0.05
        status = self.status
        if show_output:
            print(f"Action status: {status.title()}")
        while status == "running":
            now = time.monotonic()
            if timeout is not None and now - start >= timeout:
                raise StoreError(f"snapshot {self.name!r} of dataset {self.record.dataset!r} is still "
                                 f"running after {timeout} s")
            time.sleep(delay if timeout is None else max(0.0, min(delay, start + timeout - now)))
            delay = min(2 * delay, 1.0)
            status = self.status
            if show_output and (status != "running" or time.monotonic() - printed >= status_update_frequency):
                printed = time.monotonic()
                print(f"Action status: {status.title()}")
        if status == "failed":
            raise StoreError(f"snapshot {self.name!r} of dataset {self.record.dataset!r} failed: "
                             f"{self.record.reason}")
        return status

    def get_profile(self) -> pd.DataFrame:
        """The profile table: one row per column, Azure ML's columns.

        :raises StoreError: when the snapshot is not completed.
        """
        from monitor.profile import profile_table
        from monitor.service.runner import load_profile

        return profile_table(load_profile(self.workspace.store, self.record))

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write this snapshot to one portable file (a zip archive, by custom
        named ``*.dmsnap``): dataset definition and version, metadata, profile
        with its sketches, segment profiles and data copy, each member with its
        SHA-256; :meth:`Workspace.import_snapshot` restores it.

        :returns: the file's absolute path.
        :raises StoreError: when the snapshot is not completed or its data copy is gone;
            :class:`~monitor.errors.SnapshotFileError` when ``path`` cannot be written.
        """
        from monitor.service.transfer import export_snapshot

        return export_snapshot(self.workspace.store, self.record.dataset, self.record.name, path).path

    def to_pandas_dataframe(self) -> pd.DataFrame:
        """The data copy as a DataFrame, one row per row of the data in file
        order, typed: Parquet and JSON Lines columns as they were read, CSV
        columns as the profile types them (the dataset's ``types``, else
        inferred: integer, decimal, boolean, datetime in UTC, or text; see
        :func:`monitor.service.copies.data_copy_table`).

        :raises StoreError: when the snapshot was taken without a data copy
            (``create_data_snapshot=False``) or is not completed.
        """
        from monitor.service.copies import data_copy_table

        return data_copy_table(self.workspace.store, self.record).to_pandas()
