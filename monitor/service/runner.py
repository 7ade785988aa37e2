"""The job body: snapshot a dataset, compare it with its baseline, report, alert.

:func:`run_monitor` is a plain function; the scheduler only decides when it runs,
and tests call it directly. Each step is delegated to the module that owns it:
sources read, ``profile`` summarises, ``store`` records, ``drift`` compares,
``report`` renders; ``episodes`` decides which alerts to queue, and the
delivery worker (:mod:`monitor.service.delivery`) sends them outside the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from monitor.config import Config, DatasetConfig, MonitorConfig, SegmentsConfig
from monitor.errors import ConfigError, MonitorError, SourceError, StoppedError, StoreError
from monitor.profile import DatasetProfile, profile_source, profile_to_records
from monitor.service import baselines
from monitor.service.history import history_summary
from monitor.service.versions import dataset_version, register
from monitor.service.sampling import row_sample_for
from monitor.sources.digest import digests_for, input_fingerprint
from monitor.sources.datastores import dataset_source
from monitor.sources.files import FileSource
from monitor.store import SnapshotRecord, Store

if TYPE_CHECKING:
    from monitor.profile.dask_engine import DaskSettings
    from monitor.service.windows import Window

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


@dataclass
class RunResult:
    """What one run of a monitor did.

    :ivar status: ``"completed"`` (compared or baseline established), ``"failed"``.
    :ivar baseline: the baseline snapshot (the newest, when several were merged).
    :ivar baseline_spec: what the baseline was (:meth:`Baseline.spec
        <monitor.service.baselines.Baseline.spec>`), as recorded with the comparison.
    """

    monitor: str
    status: str
    target: SnapshotRecord | None = None
    baseline: SnapshotRecord | None = None
    comparison_id: int | None = None
    drifted: bool = False
    severity: str = "none"
    report_path: str | None = None
    alerts: list[Any] = field(default_factory=list)
    reason: str | None = None
    baseline_spec: dict[str, Any] | None = None
    conditions: list[dict[str, str]] = field(default_factory=list)
    """The run's conditions (:mod:`monitor.service.conditions`), ``{kind, detail}`` each."""
    pruned: list[Any] = field(default_factory=list)
    """What the monitor's retention removed after the run
    (:class:`~monitor.service.retention.Removal` each)."""


def source_for(ds: DatasetConfig) -> FileSource:
    """The :class:`FileSource` of a dataset definition: its files, its
    datastore's objects or its query (:func:`~monitor.sources.datastores.dataset_source`).

    :raises SourceError: when its datastore cannot be set up.
    """
    return dataset_source(ds, ds.columns.include, ds.columns.exclude)


def snapshot_name(now: datetime) -> str:
    """The default snapshot name ``snapshot_YYYYmmddTHHMMSSZ`` of a snapshot
    taken at ``now``; the store adds ``_2``, ``_3``, ... when it is taken
    (:meth:`~monitor.store.Store.begin_snapshot` with ``unique=True``)."""
    return "snapshot_" + now.strftime("%Y%m%dT%H%M%SZ")


def take_snapshot(
    store: Store,
    dataset: str,
    ds: DatasetConfig,
    *,
    name: str | None = None,
    monitor: str | None = None,
    data_copy: bool = False,
    now: datetime | None = None,
    window: Window | None = None,
    segments: SegmentsConfig | None = None,
    version: int | None = None,
    dask: DaskSettings | None = None,
    row_sample: int | None = None,
) -> SnapshotRecord:
    """Profile the dataset now and store the snapshot (and its data copy):
    :func:`begin_snapshot`, then :func:`finish_snapshot`.

    :param name: the snapshot's name; default ``snapshot_<UTC time>`` (``now``,
        else the store's clock), with a ``_2``, ``_3``, ... suffix picked by the
        store when taken.
    :param window: profile only the rows of this time window (see
        :mod:`monitor.service.windowed`); the snapshot records it.
    :param segments: also profile each value of a column, in the same pass
        (:mod:`monitor.service.segments`); not with ``window`` or ``data_copy``.
    :param version: the registered version of ``ds`` the snapshot records
        (nothing is registered); default: :func:`register` it.
    :param dask: profile on this Dask cluster (``engine: dask``); not with
        ``data_copy`` or ``segments``.
    :param row_sample: the profile keeps a sample of this many whole rows (for
        ``multivariate``, :func:`~monitor.service.sampling.row_sample_for`); None: none.
    :returns: the completed snapshot.
    :raises SourceError: when the data cannot be read (the snapshot is recorded failed).
    :raises StoreError: when the given ``name`` exists, ``version`` is not the
        one of ``ds``, or the store cannot be written.
    :raises ConfigError: ``dask`` with ``data_copy`` or ``segments`` (nothing is recorded).
    """
    from monitor.service.engines import check_engine

    check_engine(dask, data_copy=data_copy, segments=segments)
    snap = begin_snapshot(store, dataset, ds, name=name, monitor=monitor, now=now, window=window, version=version)
    return finish_snapshot(store, snap, ds, data_copy=data_copy, window=window, segments=segments, dask=dask,
                           row_sample=row_sample)


def begin_snapshot(
    store: Store, dataset: str, ds: DatasetConfig, *, name: str | None = None, monitor: str | None = None,
    now: datetime | None = None, window: Window | None = None, version: int | None = None,
) -> SnapshotRecord:
    """Record a ``running`` snapshot of ``ds``, owned by this process (see
    :func:`take_snapshot` for the parameters).

    :raises StoreError: as :func:`take_snapshot`.
    """
    number = dataset_version(store, dataset, ds, version)
    bounds = {} if window is None else {"window_start": window.start, "window_end": window.end}
    return store.begin_snapshot(
        dataset, name or snapshot_name(now or store.now()), monitor=monitor,
        dataset_version=number, unique=name is None, **bounds,
    )


def finish_snapshot(store: Store, snap: SnapshotRecord, ds: DatasetConfig, *, data_copy: bool = False,
                    window: Window | None = None, segments: SegmentsConfig | None = None,
                    dask: DaskSettings | None = None, row_sample: int | None = None) -> SnapshotRecord:
    """Profile the data of running snapshot ``snap`` and complete it, its
    heartbeat refreshed from a thread meanwhile; any failure marks it ``failed``
    with the reason (and removes its data copy), so an interrupted snapshot is
    never taken for a complete one. The input fingerprint is of the kind of
    ``ds.fingerprint`` (:mod:`monitor.sources.digest`).

    :param dask: profile on this Dask cluster; ``row_sample`` as :func:`take_snapshot`.
    :returns: the completed snapshot.
    :raises SourceError: when the data cannot be read (the snapshot is recorded failed).
    :raises ConfigError: ``dask`` with ``data_copy`` or ``segments`` (recorded failed).
    """
    try:
        with store.heartbeat(snap.id):
            from monitor.service.engines import check_engine

            check_engine(dask, data_copy=data_copy, segments=segments)
            if window is not None:
                from monitor.service.windowed import take_window

                return take_window(store, snap, ds, window, data_copy, dask=dask, row_sample=row_sample)
            if segments is not None:
                from monitor.service.segments import take_segmented_snapshot

                return take_segmented_snapshot(store, snap, ds, segments, row_sample)
            return _profile_and_complete(store, snap, ds, data_copy, dask, row_sample)
    except BaseException as exc:
        store.fail_snapshot(snap.id, failure_reason(snap.dataset, exc))
        raise


def _profile_and_complete(store: Store, snap: SnapshotRecord, ds: DatasetConfig, data_copy: bool,
                          dask: DaskSettings | None = None, row_sample: int | None = None) -> SnapshotRecord:
    source = source_for(ds)
    files = source.files()
    digests = digests_for(ds.fingerprint)  # content: filled as the files are read
    before = input_fingerprint("metadata", source.inputs(files)) if digests is None else None
    if data_copy:
        batches = source.iter_batches(files, digests=digests)
        copy = store.write_data_copy(snap.dataset, snap.name, *_first_schema(batches))
        profile = profile_source(FileSource((str(copy),), "parquet"), types=ds.types, row_sample=row_sample)
    else:
        copy = None
        profile = profile_source(source, types=ds.types, files=files, digests=digests, dask=dask,
                                 row_sample=row_sample)
    meta, columns = profile_to_records(profile)
    return store.complete_snapshot(
        snap.id, profile=meta, columns=columns, row_count=profile.row_count,
        fingerprint=before or input_fingerprint("content", source.inputs(files), digests), fingerprint_kind=ds.fingerprint,
        data_copy=str(copy) if copy else None,
    )


def failure_reason(dataset: str, exc: BaseException) -> str:
    """The reason a run or snapshot of ``dataset`` failed with ``exc``: the
    message of a :class:`MonitorError` (it names the file at fault), else
    ``"dataset 'd': TypeName: message"``."""
    if isinstance(exc, MonitorError):
        return str(exc)
    return f"dataset {dataset!r}: {type(exc).__name__}: {exc}"


def _first_schema(batches: Iterator[pa.RecordBatch]) -> tuple[Iterator[pa.RecordBatch], pa.Schema]:
    """Peek the first batch for the schema; later batches are cast to it."""
    first = next(batches, None)
    if first is None:
        raise SourceError("the dataset has no rows to copy")
    schema = first.schema

    def cast_all() -> Iterator[pa.RecordBatch]:
        yield first
        for batch in batches:
            yield batch if batch.schema.equals(schema) else _cast(batch, schema)

    return cast_all(), schema


def _cast(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    try:
        return pa.Table.from_batches([batch]).select(schema.names).cast(schema).to_batches()[0]
    except (pa.ArrowException, KeyError) as exc:
        raise SourceError(f"a file's columns do not match the first file's schema: {exc}") from exc


def load_profile(store: Store, snap: SnapshotRecord) -> DatasetProfile:
    """The stored profile of a completed snapshot.

    :raises StoreError: when the snapshot is not completed or its profile is unreadable.
    """
    return baselines.snapshot_profile(store, snap)


def load_data_copy(snap: SnapshotRecord) -> pa.Table:
    """The data copy of a snapshot.

    :raises StoreError: when the snapshot has no data copy or it is unreadable.
    """
    if not snap.data_copy:
        raise StoreError(
            f"snapshot {snap.name!r} of dataset {snap.dataset!r} has no data copy "
            "(take snapshots with data_copy: true / create_data_snapshot=True)"
        )
    try:
        return pq.read_table(snap.data_copy)
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"snapshot {snap.name!r}: cannot read data copy {snap.data_copy}: {exc}") from exc


def resolve_baseline(store: Store, config: Config, name: str, target: SnapshotRecord) -> SnapshotRecord | None:
    """The baseline snapshot of a monitor's run (the newest, when a ``trailing``
    baseline merges several), or None when there is none yet; see
    :func:`choose_baseline`.

    :raises StoreError: as :func:`choose_baseline`.
    """
    chosen = choose_baseline(store, config, name, target)
    return None if chosen.empty else chosen.newest


def choose_baseline(store: Store, config: Config, name: str, target: SnapshotRecord) -> baselines.Baseline:
    """The baseline of a monitor's run: its kind and snapshots
    (:func:`monitor.service.baselines.resolve`). A baseline pinned with
    ``baseline set`` wins over the configuration; ``previous``, ``offset`` and
    ``trailing`` use this monitor's own snapshots; ``{dataset: D}`` takes a
    snapshot of ``D`` when it has none.

    :raises StoreError: when a named baseline snapshot or a dataset version does
        not exist.
    """
    return baselines.resolve(store, config, name, target,
                             other_dataset=lambda dataset: _dataset_baseline(store, config, dataset))


def _dataset_baseline(store: Store, config: Config, dataset: str) -> SnapshotRecord:
    latest = store.latest_snapshot(dataset)
    if latest is not None:
        return latest
    log.info("baseline dataset %s has no snapshot yet: taking one", dataset)
    return take_snapshot(store, dataset, config.datasets[dataset], row_sample=row_sample_for(config, dataset))


def compare(store: Store, baseline: SnapshotRecord, target: SnapshotRecord, settings: Any, *, exact: bool = False) -> Any:
    """Compare two snapshots (profiles, or data copies when ``exact``).

    :returns: a :class:`monitor.drift.DatasetDrift`.
    :raises StoreError: when a profile or data copy cannot be loaded.
    """
    from monitor import drift

    if exact:
        return drift.compare_data(load_data_copy(baseline), load_data_copy(target), settings)
    return drift.compare_profiles(load_profile(store, baseline), load_profile(store, target), settings)


def settings_for(mon: MonitorConfig) -> Any:
    """The drift settings of a monitor."""
    from monitor.drift import DriftSettings

    return DriftSettings.from_config(mon.thresholds, mon.min_values, mon.fdr, false_alarm_rate=mon.false_alarm_rate,
                                     multivariate=mon.multivariate)


def comparison_page(
    result: dict[str, Any], *, dataset: str, monitor: str | None, baseline: SnapshotRecord, target: SnapshotRecord,
    chosen: baselines.Baseline | None = None, generated_at: datetime | None = None,
) -> Any:
    """The context (:class:`monitor.report.ComparisonPage`) of a comparison's report.

    :param chosen: the run's baseline, when it says more than ``baseline`` (its
        kind, every snapshot merged); the report shows it.
    :param generated_at: when the page is made; now if ``None``.
    :raises MonitorError: when ``result`` is malformed.
    """
    from monitor import report

    def label(snap: SnapshotRecord) -> str:
        # a baseline taken from another dataset (e.g. the training data) is named with it
        return snap.name if snap.dataset == dataset else f"{snap.dataset}/{snap.name}"

    return report.comparison_context(
        result, dataset=dataset, monitor=monitor, baseline_name=label(baseline),
        baseline_created=baseline.created_at, target_name=target.name,
        target_created=target.created_at, generated_at=generated_at or utcnow(),
        baseline_snapshots=[label(s) for s in chosen.snapshots] if chosen else None,
        baseline_description=chosen.describe() if chosen else None,
    )


def write_report(
    config_reports_dir: str, result: dict[str, Any], *, dataset: str, monitor: str | None,
    baseline: SnapshotRecord, target: SnapshotRecord, chosen: baselines.Baseline | None = None,
) -> Path:
    """Render the comparison's HTML report and refresh the index. :returns: its path.

    :param chosen: the run's baseline, when it says more than ``baseline`` (its
        kind, every snapshot merged); the report shows it.
    """
    from monitor import report

    page = comparison_page(result, dataset=dataset, monitor=monitor, baseline=baseline, target=target, chosen=chosen)
    return report.write_comparison_report(Path(config_reports_dir), page)


def record_and_report(
    store: Store, reports_dir: str, drift_result: Any, *, dataset: str, monitor: str | None,
    baseline: SnapshotRecord, target: SnapshotRecord, chosen: baselines.Baseline | None = None,
    conditions: list[dict[str, str]] | None = None,
) -> tuple[Any, Path]:
    """Store a comparison and write its report. :returns: (ComparisonRecord, report path).

    :param chosen: the run's baseline; its :meth:`~monitor.service.baselines.Baseline.spec`
        is recorded with the comparison (``baseline_spec``) and shown in the report.
    :param conditions: the run's conditions (``{kind, detail}`` each), recorded in
        the result under ``conditions`` and shown in the report.
    """
    result = drift_result.to_dict()
    if conditions is not None:
        result["conditions"] = list(conditions)
    verdict = result["verdict"]
    record = store.record_comparison(
        monitor=monitor, dataset=dataset, baseline=baseline, target=target,
        drifted=bool(verdict["drifted"]), severity=verdict["severity"], result=result, report_path=None,
        baseline_spec=chosen.spec() if chosen else None, summary=history_summary(result),
    )
    path = write_report(reports_dir, result, dataset=dataset, monitor=monitor, baseline=baseline, target=target,
                        chosen=chosen)
    store.set_report_path(record.id, str(path))
    return record, path


def run_monitor(
    config: Config, name: str, store: Store, *, on_queued: Callable[[], Any] | None = None
) -> RunResult:
    """Run one monitor once: snapshot (and write its profile page), compare with
    the baseline, report, queue alerts, then apply the monitor's retention
    (:mod:`monitor.service.retention`).

    A dataset that cannot be read gives a failed snapshot with the reason and a
    ``failed`` result; it never raises for bad data. Alerts are only queued in
    the store's outbox (see :mod:`monitor.service.episodes`); delivery happens
    elsewhere, so a slow endpoint never delays the run.

    :param on_queued: called (with no argument) after alerts were queued, e.g.
        :meth:`DeliveryWorker.wake`.
    :raises ConfigError: when ``name`` is not a configured monitor.
    """
    if name not in config.monitors:
        raise ConfigError([f"monitors.{name}: no such monitor"])
    mon = config.monitors[name]
    from monitor.service.engines import dask_settings

    try:
        if mon.window is not None:
            window_target = take_window_snapshot(store, config, name)
            if isinstance(window_target, str):
                return RunResult(name, "completed", reason=window_target)
            target = window_target
        else:
            target = take_snapshot(store, mon.dataset, config.datasets[mon.dataset], monitor=name,
                                   data_copy=mon.data_copy, segments=mon.segments, dask=dask_settings(mon),
                                   row_sample=row_sample_for(config, mon.dataset))
    except (SourceError, StoreError) as exc:
        log.error("monitor %s: snapshot of %s failed: %s", name, mon.dataset, exc)
        log.debug("monitor %s: snapshot of %s failed", name, mon.dataset, exc_info=exc)
        return RunResult(name, "failed", reason=str(exc))
    from monitor.service.profile_page import refresh_profile_page

    refresh_profile_page(store, config.reports_dir, target)  # logged, never fails the run
    result = compare_with_baseline(config, name, store, target)
    if result.alerts and on_queued is not None:
        on_queued()
    from monitor.service.retention import after_run

    result.pruned = after_run(store, config, name)  # logged, never fails the run
    return result


def take_window_snapshot(store: Store, config: Config, name: str, now: datetime | None = None) -> SnapshotRecord | str:
    """Snapshot the newest complete window of windowed monitor ``name`` (see
    :mod:`monitor.service.windows`), named ``<monitor>_<window start>``.

    A window this monitor already snapshotted is not taken again: the reason is
    returned instead (a failed snapshot of it is deleted and the window retaken).

    :returns: the completed snapshot, or why none was taken.
    :raises SourceError: when the window cannot be profiled (its snapshot is recorded failed).
    :raises StoreError: when a snapshot of another kind has the window's name, or the store fails.
    """
    from monitor.service import windows

    mon = config.monitors[name]
    assert mon.window is not None
    zone = windows.monitor_zone(mon)
    window = windows.latest_complete_window(now or utcnow(), mon.window, zone)
    snap_name = windows.window_name(name, window, zone)
    existing = next(iter(s for s in store.list_snapshots(mon.dataset) if s.name == snap_name), None)
    if existing is not None:
        windows.check_claim(existing, name, window)
        if existing.status != "failed":
            return f"window {window} is already snapshot {snap_name} ({existing.status})"
        store.delete_snapshot(mon.dataset, snap_name)
    from monitor.service.engines import dask_settings

    return take_snapshot(store, mon.dataset, config.datasets[mon.dataset], name=snap_name, monitor=name,
                         data_copy=mon.data_copy, window=window, dask=dask_settings(mon),
                         row_sample=row_sample_for(config, mon.dataset))


def compare_with_baseline(config: Config, name: str, store: Store, target: SnapshotRecord, *,
                          alert: bool = True) -> RunResult:
    """The rest of a run of monitor ``name`` once ``target`` is taken: resolve the
    baseline, compare, record the comparison, write the report and (when
    ``alert``) queue the alerts. A target without a baseline establishes it;
    so does one that is its own baseline (a pinned window snapshot retaken by
    ``backfill --force``).

    :raises StoreError: when the baseline or a profile cannot be loaded.
    """
    chosen = choose_baseline(store, config, name, target)
    if chosen.empty or all(s.id == target.id for s in chosen.snapshots):
        if chosen.note:
            log.info("monitor %s: %s", name, chosen.note)
        else:
            log.info("monitor %s: %s is the first snapshot: it is the baseline", name, target.name)
        return RunResult(name, "completed", target=target, reason=chosen.note or "baseline established",
                         baseline_spec=None if chosen.empty else chosen.spec())
    return _compare_and_report(config, name, store, chosen, target, alert=alert)


def _compare_and_report(
    config: Config, name: str, store: Store, chosen: baselines.Baseline, target: SnapshotRecord, *,
    alert: bool = True,
) -> RunResult:
    from monitor.service import conditions

    mon = config.monitors[name]
    baseline = chosen.newest
    if mon.segments is not None:
        from monitor.service.segments import compare_segmented

        drift_result = compare_segmented(store, chosen, target, settings_for(mon), mon.segments)
    else:
        drift_result = baselines.compare_with(store, chosen, target, settings_for(mon))
    found = conditions.evaluate(store, mon, name, target, chosen.snapshots)
    record, path = record_and_report(
        store, config.reports_dir, drift_result, dataset=mon.dataset, monitor=name, baseline=baseline, target=target,
        chosen=chosen, conditions=[c.to_dict() for c in found],
    )
    result = RunResult(name, "completed", target, baseline, record.id, record.drifted, record.severity, str(path),
                       baseline_spec=record.baseline_spec, conditions=[c.to_dict() for c in found])
    for condition in found:
        log.warning("monitor %s: %s: %s", name, condition.kind, condition.detail)
    log.info("monitor %s: %s vs %s (%s): severity %s, report %s", name, target.name, ", ".join(chosen.names),
             chosen.kind, record.severity, path)
    if alert:  # a run (not a backfill, which refreshes the history once at its end)
        result.alerts = _queue_alerts(config, name, store, record, drift_result.to_dict(), path, found)
        from monitor.service.history import refresh_history

        refresh_history(store, config.reports_dir, name)  # after the episode step, so the page shows it
    return result


def _queue_alerts(config: Config, name: str, store: Store, record: Any, result: dict[str, Any], path: Path,
                  found: list[Any] | None = None) -> list[Any]:
    """Apply the run to the monitor's drift episode, and to its condition
    episodes (``found``: the run's conditions); returns the alerts it queued."""
    from monitor.service import conditions, episodes, payload, segments

    report_path, report_url = payload.report_location(str(path), config.reports_dir, config.report_url_base)
    finding = episodes.RunFinding(
        monitor=name, dataset=config.monitors[name].dataset, comparison_id=record.id,
        baseline=record.baseline_name, target=record.target_name, verdict=result["verdict"],
        columns=payload.drifted_columns(result), report_path=report_path, report_url=report_url,
        created_at=record.created_at,
        baseline_kind=(record.baseline_spec or {}).get("kind"),
        baseline_snapshots=tuple((record.baseline_spec or {}).get("snapshots") or (record.baseline_name,)),
        segments=segments.drifted_segments(result) if "segments" in result else None,
        multivariate=payload.multivariate_entry(result),
    )
    episode, queued = episodes.record_run(store, config, finding)
    if queued:
        log.info("monitor %s: %s of episode %s queued for %s", name, queued[0].event,
                 episode.key if episode else "?", ", ".join(repr(a.webhook) for a in queued))
    for alert in (more := conditions.record_conditions(store, config, finding, found or [])):
        log.info("monitor %s: %s queued for %r", name, alert.event, alert.webhook)
    return list(queued) + more


def run_isolated(config: Config, name: str, store: Store, *,
                 on_queued: Callable[[], Any] | None = None) -> RunResult:
    """:func:`run_monitor`, with any exception (a named baseline snapshot that
    does not exist, a bug, a library failing on odd data) turned into a
    ``failed`` result whose reason names the dataset; logged once at error
    level, the traceback at debug level. :class:`~monitor.errors.StoppedError`
    (the daemon is stopping), ``KeyboardInterrupt`` and other non-``Exception``
    errors propagate.
    """
    try:
        return run_monitor(config, name, store, on_queued=on_queued)
    except StoppedError:  # the daemon is stopping: not a failure of this monitor
        raise
    except Exception as exc:  # noqa: BLE001 - one monitor must not stop the others
        return failed_run(config, name, exc)


def failed_run(config: Config, name: str, exc: BaseException) -> RunResult:
    """The ``failed`` result of monitor ``name`` that raised ``exc``, its reason
    naming the dataset (:func:`failure_reason`); logged once at error level, the
    traceback at debug level."""
    dataset = config.monitors[name].dataset if name in config.monitors else "?"
    reason = failure_reason(dataset, exc)
    log.error("monitor %s failed: %s", name, reason)
    log.debug("monitor %s failed", name, exc_info=exc)
    return RunResult(name, "failed", reason=reason)


def run_all(config: Config, store: Store) -> list[RunResult]:
    """Run every enabled monitor once, in name order; one failing (with any
    exception, see :func:`run_isolated`) does not stop the others."""
    return [run_isolated(config, name, store) for name in sorted(config.monitors)
            if config.monitors[name].enabled]


def profile_file(path: str, fmt: str | None = None, types: dict[str, str] | None = None) -> DatasetProfile:
    """Profile one file with no configuration (``drift-monitor profile FILE``)."""
    return profile_source(FileSource((path,), fmt), types=types)


__all__ = [
    "RunResult", "choose_baseline", "compare", "compare_with_baseline", "load_data_copy", "load_profile", "profile_file",
    "failed_run", "failure_reason", "record_and_report", "resolve_baseline", "run_all", "run_isolated", "run_monitor",
    "begin_snapshot", "dataset_version", "finish_snapshot", "register", "take_snapshot", "take_window_snapshot",
]
