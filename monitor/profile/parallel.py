"""Profiling a file source: read tasks, worker processes and progress.

:func:`accumulate_source` splits a :class:`~monitor.sources.files.FileSource`
into read tasks (:meth:`~monitor.sources.files.FileSource.plan`) and profiles
them into a :class:`~monitor.profile.accumulators.ProfileState`: in this process for
small inputs, else in worker processes that each profile the tasks they take
into their own state, sent back pickled and merged. A worker holds one column
piece of one row group at a time (CSV and JSON Lines: one block).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import pickle
import queue
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import pyarrow as pa

from monitor.errors import MonitorError, SourceError
from monitor.lifeline import die_with_owner, start_fork_server
from monitor.profile import kll
from monitor.profile.accumulators import HOLD, ProfileState
from monitor.profile.columns import ColumnSpec, column_spec
from monitor.profile.rows import RowSample, sampled_kind
from monitor.sources.csv_types import INFER_ROWS

if TYPE_CHECKING:
    from monitor.sources.files import FileSource, ReadTask

PARALLEL_MIN_CELLS = 4_000_000
"""Below this many cells (rows x columns, estimated) a source is profiled in-process."""


def resolve_specs(
    source: FileSource, files: Sequence[Any], types: Mapping[str, str], *, sample: bool = True,
) -> tuple[dict[str, ColumnSpec], list[str]]:
    """The spec of every column of a source, and the column order.

    Parquet kinds come from each file's schema (the first file that has the
    column); CSV and JSON Lines kinds from the first block of the first file that
    has the column (CSV, and Parquet copies of CSV data: inferred from the text);
    the vector columns of ``.npy`` arrays beside the files from the first file's
    arrays, after the files' columns.

    :param sample: read CSV and JSON Lines blocks (False: leave their columns to
        be resolved from the first batch while profiling, in one process).
    :raises SourceError: when a file cannot be read.
    :raises ValueError: on an unknown kind in ``types``.
    """
    from monitor.sources.files import csv_header, is_text, parquet_schema

    specs: dict[str, ColumnSpec] = {}
    order: list[str] = []
    for path in files:
        fmt = source.format_of(path)
        schema = parquet_schema(path) if fmt == "parquet" else None
        if schema is not None and not is_text(schema):
            fields = [(n, schema.field(n).type, None) for n in schema.names]
        elif schema is None and (not sample or (fmt == "csv" and set(csv_header(path)) <= set(specs))):
            continue
        else:
            fields = _sampled_fields(source, path)
        for name, arrow_type, values in fields:
            if name in specs or not _wanted(source, name):
                continue
            specs[name] = column_spec(arrow_type, types.get(name), values is not None, values)
            order.append(name)
    listed = bool(order)  # else the columns come in the order first seen: the arrays' last
    for extra in source.array_fields(files):  # the vector columns of arrays beside the files
        if extra.name not in specs:
            specs[extra.name] = column_spec(extra.type, types.get(extra.name), False)
            if listed:
                order.append(extra.name)
    return specs, order


def _wanted(source: FileSource, name: str) -> bool:
    return (source.columns is None or name in source.columns) and name not in source.exclude


def _sampled_fields(source: FileSource, path: Any) -> list[tuple[str, pa.DataType, pa.Array | None]]:
    """Columns of a CSV or JSON Lines file from its first batch (with text samples for CSV)."""
    from monitor.sources.files import is_text, read_file

    batch = next(iter(read_file(path, source.format_of(path), source.columns)), None)
    if batch is None:
        return []
    text = is_text(batch.schema)
    return [(n, batch.column(i).type, batch.column(i)[:INFER_ROWS] if text else None)
            for i, n in enumerate(batch.schema.names)]


class Progress:
    """A one-line progress display on a terminal: rows done, share and rate.

    :param stream: where to write (default ``sys.stderr``); nothing is written
        unless ``enabled``.
    """

    def __init__(self, enabled: bool, total: int | None, stream: TextIO | None = None) -> None:
        self.enabled, self.total = enabled, total or None
        self.stream = stream or sys.stderr
        self.done = 0.0
        self.start = self.last = time.monotonic()

    def advance(self, rows: float) -> None:
        """Count ``rows`` more rows done; redraw at most 5 times a second."""
        self.done += rows
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.2:
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        share = f" / {self.total:,} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        self.stream.write(f"\rprofiling: {int(self.done):,}{share} rows, {rate / 1e6:.2f}M rows/s ")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line (when enabled and rows were done)."""
        if self.enabled and self.done:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


def run_task(state: ProfileState, task: ReadTask, progress: Progress | None = None) -> None:
    """Add one read task's batches to ``state``.

    :raises SourceError: naming the file when it cannot be read or a value cannot
        be profiled as its column's kind.
    """
    try:
        if task.format == "parquet" and not state.text_parquet(task):
            _run_parquet_task(state, task, progress)
        else:
            for batch in task.batches(dictionary=True, digests=state.digests, kinds=state.text_kinds):
                state.add_batch(batch, primary=task.primary, sample=task.format != "parquet")
                if progress is not None:
                    progress.advance(batch.num_rows * task.share)
        if task.format == "parquet" and task.primary and state.row_sample is not None:
            _sample_parquet_rows(state, task)
    except (ValueError, pa.ArrowException) as exc:
        raise SourceError(f"{task.path}: cannot profile: {exc}") from exc


def _run_parquet_task(state: ProfileState, task: ReadTask, progress: Progress | None) -> None:
    """Profile a Parquet task one row group and one column at a time."""
    for rows, columns in task.column_chunks():
        for name, values in columns:
            state.add_column(name, values)
        if task.primary:
            state.rows += rows
        if progress is not None:
            progress.advance(rows * task.share)


def _sample_parquet_rows(state: ProfileState, task: ReadTask) -> None:
    """Add the whole rows of a Parquet task's row groups to the row sample: the
    sampled columns read together (a task may profile part of the columns only)."""
    names = [n for n, spec in state.specs.items() if sampled_kind(spec) is not None]
    for batch in task.row_batches(names):
        state.add_rows(batch)


def _worker_count(workers: int | None) -> int:
    if workers is not None:
        return max(1, int(workers))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _estimated_cells(tasks: Sequence[ReadTask], columns: int) -> float:
    cells = 0.0
    for task in tasks:
        if task.rows:
            cells += task.rows * max(1, len(task.columns or ())) if task.columns is not None else task.rows * columns
        else:
            cells += task.path.stat().st_size / 8.0
    return cells



def accumulate_source(
    source: FileSource, files: Sequence[Any], types: Mapping[str, str], *,
    workers: int | None, progress: bool | None, k: int, category_cap: int,
    digests: dict[str, str] | None = None, row_sample: int | None = None,
) -> tuple[ProfileState, list[str]]:
    """Profile ``files`` of ``source`` into one state (see
    :func:`monitor.profile.profile_source` for the parameters).

    :returns: the merged state and the column order.
    :raises SourceError: when a file cannot be read or profiled.
    :raises ValueError: on an unknown kind in ``types``.
    """
    n_workers = _worker_count(workers)
    tasks = source.plan(files, split=n_workers)
    parallel = n_workers > 1 and len(tasks) > 1 and _estimated_cells(tasks, 20) >= PARALLEL_MIN_CELLS
    specs, order = resolve_specs(source, files, types, sample=parallel)
    if not parallel:
        tasks = source.plan(files, split=1)
    total = sum(t.rows for t in tasks if t.primary) if all(t.rows for t in tasks) else None
    bar = Progress(sys.stderr.isatty() if progress is None else progress, total)
    state = ProfileState(specs, dict(types), k, category_cap, digests=None if digests is None else {}, hold=HOLD,
                         row_sample=None if row_sample is None else RowSample(row_sample))
    try:
        if parallel:
            _run_parallel(state, tasks, min(n_workers, len(tasks)), bar)
        else:
            with reused_heap():
                for task in tasks:
                    run_task(state, task, bar)
    finally:
        bar.close()
    if digests is not None:
        digests.update(state.digests or {})
    return state, order


def _context() -> Any:
    """``fork`` when this process runs no other Python thread and has not used a
    KLL sketch yet (fast: nothing to import, and the workers' sketch random
    generators start apart), else ``forkserver`` (safe with threads)."""
    if threading.active_count() == 1 and not kll.sketches_used() and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["monitor.lifeline", "monitor.profile"])
    start_fork_server(ctx)
    return ctx


_HEAP_TUNED = False
HEAP_MMAP_THRESHOLD = 32 << 20
"""Bytes from which glibc serves an allocation by its own ``mmap`` while this
process profiles (glibc's default starts at 128 KiB)."""
HEAP_TRIM_THRESHOLD = 64 << 20
"""Free bytes at the top of glibc's heap above which it gives memory back."""


@contextlib.contextmanager
def reused_heap() -> Iterator[None]:
    """Profile in this process with freed numpy arrays reused, not unmapped.

    The profile makes and drops many arrays of a few hundred kB to a few MB per
    column and batch. With glibc's defaults each is a fresh ``mmap`` whose pages
    fault in zeroed (on a virtual machine about a third of the CPU time of a
    CSV profile went to the kernel); with the thresholds of
    :data:`HEAP_MMAP_THRESHOLD` and :data:`HEAP_TRIM_THRESHOLD` they come from
    glibc's heap and its freed memory is reused. The thresholds are set once
    per process (they stay: a later profile needs them again); on leaving, the
    heap's free pages are given back (``malloc_trim``), so a long-running
    service holds no more than it did. Outside glibc this does nothing.
    """
    global _HEAP_TUNED
    libc = _libc()
    if libc is not None and not _HEAP_TUNED:
        libc.mallopt(-3, HEAP_MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, HEAP_TRIM_THRESHOLD)  # M_TRIM_THRESHOLD
        _HEAP_TUNED = True
    try:
        yield
    finally:
        if libc is not None:
            libc.malloc_trim(0)


def _libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both exist in glibc only
    except (OSError, AttributeError):
        return None
    return libc


def keep_heap() -> None:
    """Tune a worker process's memory allocation for many short-lived large arrays:
    freed memory is kept for reuse, so a batch's arrays cost no fresh page faults,
    and numpy's and Arrow's arrays come from different allocators.

    numpy's arrays come from glibc's heap, told to keep freed memory (no ``mmap``
    per large array, no trimming). Arrow's buffers (column pieces, compute
    results) come from jemalloc (the system allocator when pyarrow lacks it):
    in glibc's heap they would interleave with numpy's arrays and the profile's
    long-lived sketches and fragment it, so that it grew with every task.
    jemalloc keeps freed pages in the arenas made after this call (its decay
    is disabled); :func:`_worker_main` profiles in a new thread, which gets one.
    Used in worker processes only (it changes process-wide settings); outside
    glibc only Arrow's pool is changed."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        pa.set_memory_pool(pa.system_memory_pool())
    else:
        pa.allocate_buffer(64, memory_pool=pool)  # this thread takes jemalloc's first arena
        pa.jemalloc_set_decay_ms(-1)
        pa.set_memory_pool(pool)
    libc = _libc()
    if libc is not None:
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD


def _worker_main(template: bytes, tasks: Any, results: Any, owner: int) -> None:
    """Worker process: exit with ``owner`` (:func:`monitor.lifeline.die_with_owner`), tune its
    allocators (:func:`keep_heap`), then profile tasks from ``tasks`` until
    ``None`` in a new thread and send the state."""
    die_with_owner(owner)
    kll.reseed()
    keep_heap()
    worker = threading.Thread(target=_work, args=(template, tasks, results), daemon=True)
    worker.start()
    worker.join()


def _work(template: bytes, tasks: Any, results: Any) -> None:
    """Profile tasks from ``tasks`` until ``None`` into the state pickled in
    ``template``; put the pickled state, or the error, on ``results``."""
    state: ProfileState = pickle.loads(template)
    try:
        while (item := tasks.get()) is not None:
            bar = _QueueProgress(results)
            run_task(state, item, bar)
            bar.flush()
        results.put(("state", pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))
    except MonitorError as exc:
        results.put(("error", exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(("crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


class _QueueProgress(Progress):
    """Progress reported to the parent process through a queue, at most 10 times a second."""

    def __init__(self, results: Any) -> None:
        super().__init__(False, None)
        self.results, self.pending = results, 0.0

    def advance(self, rows: float) -> None:
        """Count rows; send them at most 10 times a second."""
        self.pending += rows
        if time.monotonic() - self.last >= 0.1:
            self.flush()

    def flush(self) -> None:
        """Send the rows not reported yet."""
        if self.pending:
            self.results.put(("rows", self.pending))
        self.pending, self.last = 0.0, time.monotonic()


def _run_parallel(state: ProfileState, tasks: Sequence[ReadTask], workers: int, bar: Progress) -> None:
    ctx = _context()
    task_q, results = ctx.Queue(), ctx.Queue()
    template = pickle.dumps(state.empty_copy())
    procs = [ctx.Process(target=_worker_main, args=(template, task_q, results, os.getpid()), daemon=True)
             for _ in range(workers)]
    for p in procs:
        p.start()
    for task in tasks:
        task_q.put(task)
    for _ in procs:
        task_q.put(None)
    try:
        for blob in _collect(procs, results, bar):
            try:
                state.merge(pickle.loads(blob))
            except ValueError as exc:  # parts that disagree (vector columns whose first vectors differ in length)
                raise SourceError(f"cannot merge the profiles of parts of the input: {exc}") from exc
    except BaseException:
        for p in procs:
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


def _collect(procs: Sequence[Any], results: Any, bar: Progress) -> Iterator[bytes]:
    """Yield each worker's pickled state; re-raise a worker's error."""
    remaining = len(procs)
    while remaining:
        try:
            kind, payload = results.get(timeout=0.5)
        except queue.Empty:
            if all(p.exitcode is not None for p in procs):
                raise SourceError("a profiling worker process stopped unexpectedly") from None
            continue
        if kind == "rows":
            bar.advance(payload)
        elif kind == "state":
            remaining -= 1
            yield payload
        elif kind == "error":
            raise payload
        else:
            raise SourceError(f"a profiling worker failed: {payload}")


def run_in_workers(func: Any, items: Sequence[Any], workers: int) -> list[Any]:
    """``[func(item) for item in items]``, computed in up to ``workers`` worker processes.

    The workers start as the profiling workers do (``fork`` or ``forkserver``,
    :func:`_context`) and die with this process, even on ``kill -9``
    (:func:`monitor.lifeline.die_with_owner`). ``func`` must be a module-level
    function; items and results travel pickled. With one worker or one item,
    everything runs in this process.

    :returns: the results in the order of ``items``.
    :raises: the first exception ``func`` raised, in item order (the others
        are still awaited); :class:`~monitor.errors.SourceError` when a worker
        process died.
    """
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if workers <= 1 or len(items) <= 1:
        return [func(item) for item in items]
    with ProcessPoolExecutor(min(workers, len(items)), mp_context=_context(), initializer=_pool_worker,
                             initargs=(os.getpid(),)) as pool:
        try:
            return list(pool.map(func, items))
        except BrokenProcessPool as exc:
            raise SourceError("a worker process stopped unexpectedly") from exc


def _pool_worker(owner: int) -> None:
    """Start of a :func:`run_in_workers` worker: exit with ``owner``, fresh KLL seeds."""
    die_with_owner(owner)
    kll.reseed()
