"""Profiling a file source on a Dask cluster (``engine: dask``).

The same work as :mod:`monitor.profile.parallel`, on the workers of a
``dask.distributed`` cluster instead of this machine's worker processes:

1. **Plan**, on a worker: the source's read tasks (:meth:`FileSource.plan
   <monitor.sources.files.FileSource.plan>`, one column group each) and the
   columns' specs (:func:`~monitor.profile.parallel.resolve_specs`). A read task
   is a *unit*: a CSV or JSON Lines file, a run of Parquet row groups (at least
   :data:`~monitor.sources.files.TASK_ROWS` rows), an object of an object store,
   or a query.
2. **Profile**, one Dask task per unit: the unit's rows into a fresh
   :class:`~monitor.profile.accumulators.ProfileState` with
   :func:`~monitor.profile.parallel.run_task` (the local engine's code), sent
   on as a pickled partial profile (:class:`Partial`).
3. **Merge**, on the workers: partials merged :data:`MERGE_FANIN` at a time
   (a tree; merge tasks run before waiting units, so finished partials do not
   pile up in the workers' memory), until at most :data:`MERGE_FANIN` are
   left; the client merges those.

The client reads no data and no footer: only the file listing it was given
and the few partial profiles of the last merge level come to it. With
``fingerprint: content`` the files' SHA-256 digests are computed on the workers
too (:meth:`DaskSession.file_digests`).

Failures: a worker lost while profiling a unit is replaced, and its units
(and any partial it held) computed again by Dask (up to the scheduler's
``allowed-failures``, then :class:`~monitor.errors.SourceError` naming the
file); a unit that fails on its data raises the
:class:`~monitor.errors.SourceError` naming the file, and the profile fails.

Dask is an optional dependency (the ``dask`` extra); it is imported only when a
:class:`DaskSession` starts. See ``docs/scaling.md`` for what moves where and
what it costs.
"""

from __future__ import annotations

import os
import pickle
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from monitor.errors import MonitorError, SourceError
from monitor.profile.accumulators import ProfileState
from monitor.profile.parallel import Progress, resolve_specs, run_task
from monitor.profile.rows import RowSample

if TYPE_CHECKING:
    from monitor.sources.files import FileSource, ReadTask

__all__ = ["CONNECT_TIMEOUT", "MERGE_FANIN", "DaskSession", "DaskSettings", "DaskStats", "Partial",
           "accumulate_on_dask"]

MERGE_FANIN = 8
"""Partial profiles merged by one merge task (and at most this many reach the client)."""
CONNECT_TIMEOUT = 30.0
"""Seconds to wait for a Dask scheduler to answer."""
EXTRA = "pip install 'drift-monitor[dask]'"


@dataclass(frozen=True)
class DaskSettings:
    """Where profiles are computed with ``engine: dask``.

    :ivar scheduler: the address of a running Dask scheduler
        (``tcp://HOST:PORT``); ``None`` starts a ``LocalCluster`` of worker
        processes on this machine for the session and stops it afterwards.
    :ivar workers: worker processes of that ``LocalCluster`` (one thread each;
        default: the CPUs this process may run on); not used with ``scheduler``.
    """

    scheduler: str | None = None
    workers: int | None = None

    def describe(self) -> str:
        """``Dask scheduler tcp://...`` or ``a Dask LocalCluster of N workers``."""
        if self.scheduler is not None:
            return f"Dask scheduler {self.scheduler}"
        return f"a Dask LocalCluster of {self.workers or _cpus()} worker(s)"


@dataclass
class DaskStats:
    """What one profile on Dask moved and cost.

    :ivar units: work units profiled.
    :ivar unit_bytes: bytes of the units' pickled partial profiles, in all.
    :ivar largest_unit_bytes: bytes of the largest one.
    :ivar client_bytes: bytes of the partial profiles the client received.
    :ivar worker_merge_seconds: seconds the workers spent merging partials
        (unpickling, merging, pickling), summed over merge tasks.
    :ivar client_merge_seconds: seconds the client spent merging what it received.
    :ivar plan_seconds: seconds of the planning task, as the client waited for it.
    :ivar start_seconds: seconds to connect to the scheduler (or start the LocalCluster).
    :ivar workers: workers of the cluster when the profile started.
    """

    units: int = 0
    unit_bytes: int = 0
    largest_unit_bytes: int = 0
    client_bytes: int = 0
    worker_merge_seconds: float = 0.0
    client_merge_seconds: float = 0.0
    plan_seconds: float = 0.0
    start_seconds: float = 0.0
    workers: int = 0


@dataclass
class Partial:
    """A partial profile as it travels between Dask tasks: the pickled
    :class:`~monitor.profile.accumulators.ProfileState` of some units and what
    they cost (summed up the merge tree for :class:`DaskStats`)."""

    state: bytes
    units: int = 1
    unit_bytes: int = 0
    largest: int = 0
    merge_seconds: float = 0.0


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _distributed() -> Any:
    """The ``distributed`` module. :raises MonitorError: naming the extra when it is not installed."""
    try:
        import distributed
    except ImportError as exc:
        raise MonitorError(f"engine dask needs Dask's distributed scheduler, which is not installed: {EXTRA} "
                           f"({exc})") from exc
    return distributed


def _quiet(distributed: Any) -> int | bool:
    """Keep Dask's own log lines (a cluster starting, workers joining) to
    warnings and errors, unless this process logs at debug level; returns the
    level for a ``LocalCluster``'s ``silence_logs`` (its workers' logs), or
    ``False`` (no change)."""
    import logging

    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return False
    for name in ("distributed", "dask"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    return logging.WARNING


def _heap_plugin(distributed: Any) -> Any:
    """A worker plugin tuning each worker's allocators as the local engine's
    workers are (:func:`~monitor.profile.parallel.keep_heap`: profiling is
    2 to 3 times faster than with Dask's trimming of freed memory); for the
    ``LocalCluster`` a session starts (workers it owns), restarted workers included."""

    class KeepHeap(distributed.WorkerPlugin):  # type: ignore[misc]
        name = "drift-monitor-keep-heap"

        def setup(self, worker: Any) -> None:
            from monitor.profile.parallel import keep_heap

            keep_heap()

    return KeepHeap()


# ---------------------------------------------------------------------------
# what runs on the workers (module-level functions: tasks name them by import)


def plan_units(source: FileSource, files: Sequence[Any], types: Mapping[str, str],
               ) -> tuple[list[ReadTask], dict[str, Any], list[str]]:
    """The work units of ``files`` (read tasks of one column group each), the
    columns' specs and their order (a worker's planning task).

    :raises SourceError: naming a file whose metadata or first block cannot be read.
    :raises ValueError: on an unknown kind in ``types``.
    """
    tasks = source.plan(files, split=1)
    specs, order = resolve_specs(source, files, types, sample=True)
    return tasks, specs, order


def profile_unit(template: bytes, task: ReadTask) -> Partial:
    """One unit's rows into the pickled empty state ``template``.

    :raises SourceError: naming the unit's file when it cannot be read or
        profiled (any other failure too, with its type).
    """
    state: ProfileState = pickle.loads(template)
    try:
        run_task(state, task)
    except MonitorError:
        raise
    except Exception as exc:  # noqa: BLE001 - a unit's failure names its file
        raise SourceError(f"{task.path}: cannot profile: {type(exc).__name__}: {exc}") from exc
    blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return Partial(blob, 1, len(blob), len(blob))


def merge_partials(*parts: Partial) -> Partial:
    """One partial of several (a merge task); its cost is added to theirs."""
    start = time.perf_counter()
    state = _merged(parts)
    blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return Partial(blob, sum(p.units for p in parts), sum(p.unit_bytes for p in parts),
                   max(p.largest for p in parts), sum(p.merge_seconds for p in parts) + time.perf_counter() - start)


def _merged(parts: Sequence[Partial]) -> ProfileState:
    state: ProfileState = pickle.loads(parts[0].state)
    for part in parts[1:]:
        state.merge(pickle.loads(part.state))
    return state


def worker_ready() -> bool:
    """True: run on every worker (:meth:`DaskSession._check_workers`), it
    shows the worker can import drift-monitor's Dask engine."""
    return True


def _digest(path: Any) -> str:
    from monitor.sources.digest import file_sha256

    return file_sha256(path)


# ---------------------------------------------------------------------------
# the client's side


@dataclass
class DaskSession:
    """A connection to a Dask cluster for one snapshot, backfill or profile:
    ``with DaskSession(settings) as session: ...``. Entering connects to the
    scheduler (or starts the ``LocalCluster``); leaving disconnects (and stops it).

    :raises MonitorError: on entering, when Dask's ``distributed`` is not
        installed (naming the extra), or a worker cannot import drift-monitor.
    :raises SourceError: on entering, when the scheduler does not answer or the
        cluster cannot start.
    """

    settings: DaskSettings = field(default_factory=DaskSettings)
    client: Any = None
    cluster: Any = None
    start_seconds: float = 0.0

    def __enter__(self) -> DaskSession:
        distributed = _distributed()
        start = time.perf_counter()
        try:
            if self.settings.scheduler is None:
                self.cluster = distributed.LocalCluster(
                    n_workers=self.settings.workers or _cpus(), threads_per_worker=1, processes=True,
                    dashboard_address=":0", silence_logs=_quiet(distributed))
                self.client = distributed.Client(self.cluster, set_as_default=False)
                self.client.register_plugin(_heap_plugin(distributed))
            else:
                _quiet(distributed)
                self.client = distributed.Client(self.settings.scheduler, timeout=CONNECT_TIMEOUT,
                                                 set_as_default=False)
        except (OSError, TimeoutError, RuntimeError) as exc:
            self.__exit__(None, None, None)
            verb = "start" if self.settings.scheduler is None else "reach the"
            raise SourceError(f"cannot {verb} {self.settings.describe()}: {type(exc).__name__}: {exc}") from exc
        self.start_seconds = time.perf_counter() - start
        try:
            self._check_workers()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _check_workers(self) -> None:
        """Every worker imports drift-monitor (a worker that cannot unpickle a
        task would leave it waiting for ever).

        :raises MonitorError: naming the cluster whose workers cannot.
        """
        try:
            self.client.run(worker_ready)
        except Exception as exc:  # noqa: BLE001 - Dask reports a worker's failure as Exception(text)
            if "ModuleNotFoundError" not in str(exc) or "monitor" not in str(exc):
                raise
            raise MonitorError(f"the workers of {self.settings.describe()} cannot import drift-monitor: "
                               f"install it on them, the same version as here ({exc})") from exc

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """``func(*args)`` computed on a worker.

        :raises: what ``func`` raised; :class:`~monitor.errors.SourceError` when
            the workers doing it kept dying.
        """
        return self._wait(lambda: self.client.submit(func, *args, pure=False).result(), "a planning task")

    def map(self, func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``[func(item) for item in items]`` computed on the workers, in the order of ``items``.

        :raises: the exception of a failed item; :class:`~monitor.errors.SourceError`
            when the workers doing one kept dying.
        """
        if not items:
            return []
        return list(self._wait(lambda: self.client.gather(self.client.map(func, items, pure=False)), "a unit"))

    def file_digests(self, files: Sequence[Any], digests: dict[str, str]) -> None:
        """Add to ``digests`` the SHA-256 of each of ``files`` it lacks
        (:func:`~monitor.sources.digest.file_sha256`), computed on the workers.

        :raises SourceError: naming a file that cannot be read.
        """
        from monitor.sources.inputs import key_of

        missing = [f for f in files if key_of(f) not in digests]
        digests.update(zip((key_of(f) for f in missing), self.map(_digest, missing)))

    def _wait(self, wait: Callable[[], Any], what: str) -> Any:
        distributed = _distributed()
        try:
            return wait()
        except distributed.KilledWorker as exc:
            raise SourceError(f"the Dask workers running {what} kept dying ({exc})") from exc

    def accumulate(
        self, source: FileSource, files: Sequence[Any], types: Mapping[str, str], *, k: int, category_cap: int,
        digests: dict[str, str] | None = None, progress: bool | None = None, row_sample: int | None = None,
    ) -> tuple[ProfileState, list[str], DaskStats]:
        """Profile ``files`` of ``source`` on the cluster into one state (see
        :func:`monitor.profile.profile_source` for the parameters).

        :returns: the merged state, the column order and what it cost.
        :raises SourceError: naming the file of a unit that cannot be read or
            profiled, or whose workers kept dying.
        :raises ValueError: on an unknown kind in ``types``.
        """
        import sys

        stats = DaskStats(start_seconds=self.start_seconds,
                          workers=len(self.client.scheduler_info(n_workers=-1).get("workers", {})))
        start = time.perf_counter()
        tasks, specs, order = self.call(plan_units, source, list(files), dict(types))
        stats.plan_seconds = time.perf_counter() - start
        template = pickle.dumps(ProfileState(specs, dict(types), k, category_cap,
                                             digests=None if digests is None else {},
                                             row_sample=None if row_sample is None else RowSample(row_sample)))
        total = sum(t.rows for t in tasks) if all(t.rows for t in tasks) else None
        bar = Progress(sys.stderr.isatty() if progress is None else progress, total)
        try:
            state = self._wait(lambda: self._profile(template, tasks, bar, stats), "a unit")
        finally:
            bar.close()
        if digests is not None:
            digests.update(state.digests or {})
            self.file_digests(files, digests)
        return state, order, stats

    def _profile(self, template: bytes, tasks: Sequence[ReadTask], bar: Progress, stats: DaskStats) -> ProfileState:
        """Submit the units and the merge tree; count rows as units finish;
        merge the last level here."""
        distributed = _distributed()
        if not tasks:
            return pickle.loads(template)  # type: ignore[no-any-return]
        run = uuid.uuid4().hex[:12]
        keys = [f"drift-unit-{i}-{run}" for i in range(len(tasks))]
        units = self.client.map(profile_unit, [template] * len(tasks), tasks, key=keys, pure=False)
        rows = {key: task.rows for key, task in zip(keys, tasks)}
        paths = {key: task.path for key, task in zip(keys, tasks)}
        level = self._merge_tree(units, run)
        finished = distributed.as_completed(units, loop=self.client.loop)
        del units  # a finished unit's partial is then held by its merge task only, and freed after it
        try:
            for done in finished:
                if done.status != "finished":
                    done.result()  # raises the unit's error (it names its file)
                bar.advance(rows[done.key])
            parts: list[Partial] = self.client.gather(level)
        except distributed.KilledWorker as exc:
            path = paths.get(str(getattr(exc, "task", "")))
            if path is None:
                raise
            raise SourceError(f"{path}: the Dask workers profiling it kept dying ({exc})") from exc
        started = time.perf_counter()
        state = _merged(parts)
        stats.client_merge_seconds = time.perf_counter() - started
        stats.client_bytes = sum(len(p.state) for p in parts)
        stats.units = sum(p.units for p in parts)
        stats.unit_bytes = sum(p.unit_bytes for p in parts)
        stats.largest_unit_bytes = max(p.largest for p in parts)
        stats.worker_merge_seconds = sum(p.merge_seconds for p in parts)
        return state

    def _merge_tree(self, units: list[Any], run: str) -> list[Any]:
        """Merge tasks over ``units``, :data:`MERGE_FANIN` at a time, level
        after level, each level before the one below it (a higher priority), until at
        most :data:`MERGE_FANIN` futures are left: those."""
        level, depth = list(units), 0
        while len(level) > MERGE_FANIN:
            depth += 1
            level = [self.client.submit(merge_partials, *level[i:i + MERGE_FANIN], priority=depth,
                                        key=f"drift-merge-{depth}-{i}-{run}", pure=False)
                     for i in range(0, len(level), MERGE_FANIN)]
        return level


def accumulate_on_dask(
    source: FileSource, files: Sequence[Any], types: Mapping[str, str], *,
    dask: DaskSettings | DaskSession, k: int, category_cap: int, digests: dict[str, str] | None = None,
    progress: bool | None = None, row_sample: int | None = None,
) -> tuple[ProfileState, list[str], DaskStats]:
    """:meth:`DaskSession.accumulate` in the given session, or in one opened for the call."""
    if isinstance(dask, DaskSession):
        return dask.accumulate(source, files, types, k=k, category_cap=category_cap, digests=digests,
                               progress=progress, row_sample=row_sample)
    with DaskSession(dask) as session:
        return session.accumulate(source, files, types, k=k, category_cap=category_cap, digests=digests,
                                  progress=progress, row_sample=row_sample)
