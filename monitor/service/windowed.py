"""Profiling time windows of a dataset in one pass over its files.

:func:`profile_windows` streams the dataset's record batches once, reads each
batch's ``timestamp_column``, splits the batch's rows by window (a stable sort
by window index, then zero-copy slices) and adds each slice to that window's
:class:`~monitor.profile.ProfileState`, the profile engine's incremental API
(slices are buffered per window and profiled :data:`FLUSH_ROWS` at a time). A
window's profile is therefore exactly the profile of its rows alone (the KLL
sketch aside, whose quantiles are within its rank bound either way): counts,
missing values, minimum, maximum, moments and category counts are the same
sums over the same rows. Parquet row groups whose time statistics show no row
in the windows are not read.

Times: a timestamp with a time zone is read as its UTC instant; a timestamp
without one, and a date, is taken to be UTC; text (CSV) is parsed as dates or
times with the format inferred from the first values (as the profile types a
CSV column), an offset in the text applied. Rows whose time is missing or does
not parse belong to no window and are counted in
:attr:`WindowedPass.rows_without_time`. Times are compared as integers in the
column's own unit, so no row moves across a boundary by rounding.

Failures: a value a window cannot profile (a column of another type in one
file, for instance) fails that window only, with the file and the reason; a
file that cannot be read fails every window, since any of them may miss rows.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from monitor.config import DatasetConfig
from monitor.errors import MonitorError, SourceError
from monitor.profile import (
    ColumnSpec, DatasetProfile, ProfileState, RowSample, finish_profile, profile_to_records, resolve_specs,
    run_in_workers,
)
from monitor.profile.dask_engine import DaskSession, DaskSettings
from monitor.service.windows import Window
from monitor.sources.csv_types import infer_kind, parse_text
from monitor.sources.digest import content_fingerprint, digests_for
from monitor.sources.datastores import dataset_source
from monitor.sources.files import FileSource, ReadTask, fingerprint, parquet_metadata
from monitor.store import SnapshotRecord, Store

__all__ = ["BUFFERED_ROWS", "FLUSH_ROWS", "WindowProfile", "WindowedPass", "complete_window_snapshot", "copy_folder", "profile_windows", "take_window"]

_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

FLUSH_ROWS = 65_536
"""A window's buffered rows are profiled once there are this many."""
BUFFERED_ROWS = 1 << 20
"""Every window's buffered rows are profiled once there are this many in all
(the memory a pass holds beyond the profiles in progress)."""


@dataclass
class WindowProfile:
    """One window's outcome of the pass.

    :ivar profile: the window's profile; ``None`` when it failed.
    :ivar reason: why it failed; ``None`` otherwise.
    :ivar copy: the temporary Parquet files of its rows, in row order (data
        copies only; empty for a window without rows).
    :ivar copy_schema: the schema of its data copy (data copies only).
    """

    window: Window
    profile: DatasetProfile | None = None
    reason: str | None = None
    copy: list[Path] | None = None
    copy_schema: pa.Schema | None = None


@dataclass
class WindowedPass:
    """The result of :func:`profile_windows`.

    :ivar windows: one :class:`WindowProfile` per window asked for, in order.
    :ivar fingerprint: the fingerprint of the files read, of the dataset's
        ``fingerprint`` kind (``fingerprint_kind``, see :mod:`monitor.sources.digest`).
    :ivar rows_read: rows read (Parquet row groups outside the windows are skipped).
    :ivar rows_without_time: rows read whose time was missing or did not parse.
    """

    windows: list[WindowProfile]
    fingerprint: str = ""
    rows_read: int = 0
    rows_without_time: int = 0
    fingerprint_kind: str = "metadata"


@dataclass
class _Split:
    """The state of one pass: a profile in progress per window, the rows each
    window has buffered, and the pieces of each window's data copy (one small
    Parquet file per flush, so no file stays open however many windows there
    are).

    A batch's share of a window is often small (rows in random time order, or
    many short windows); profiling it at once would cost the per-call overhead
    of every column's accumulator for a few rows. So a window's rows are
    buffered and profiled by :data:`FLUSH_ROWS`, and every buffer is flushed
    once :data:`BUFFERED_ROWS` rows are buffered in all.
    """

    windows: Sequence[Window]
    keep_time: bool
    specs: dict[str, ColumnSpec]
    types: dict[str, str]
    copy_dir: Path | None
    states: dict[int, ProfileState] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    pieces: dict[int, list[Path]] = field(default_factory=dict)
    buffers: dict[int, list[pa.RecordBatch]] = field(default_factory=dict)
    sources: dict[int, list[Path]] = field(default_factory=dict)
    buffered: int = 0
    first_schema: pa.Schema | None = None
    fmt: str | None = None
    tag: str = ""
    """Prefix of this pass's data-copy pieces (a worker's, so two never share a name)."""
    digests: dict[str, str] | None = None
    """The SHA-256 of each text file read, for a ``content`` fingerprint."""
    row_sample: int | None = None
    """Rows each window's profile samples whole (None: none), :mod:`monitor.profile.rows`."""

    def state(self, i: int) -> ProfileState:
        """Window ``i``'s profile in progress."""
        if i not in self.states:
            rows = None if self.row_sample is None else RowSample(self.row_sample)
            self.states[i] = ProfileState(dict(self.specs), dict(self.types), row_sample=rows)
        return self.states[i]

    def add(self, i: int, piece: pa.RecordBatch, path: Path) -> None:
        """Buffer a window's slice of a batch (read from ``path``)."""
        if i in self.failed:
            return
        buffer = self.buffers.setdefault(i, [])
        if buffer and not piece.schema.equals(buffer[0].schema, check_metadata=True):
            self.flush(i)
            buffer = self.buffers.setdefault(i, [])
        buffer.append(piece)
        files = self.sources.setdefault(i, [])
        if path not in files:
            files.append(path)
        self.buffered += piece.num_rows
        if sum(b.num_rows for b in buffer) >= FLUSH_ROWS:
            self.flush(i)
        if self.buffered >= BUFFERED_ROWS:
            self.flush_all()

    def flush_all(self) -> None:
        """Profile every window's buffered rows."""
        for i in list(self.buffers):
            self.flush(i)

    def flush(self, i: int) -> None:
        """Profile window ``i``'s buffered rows (and write them to its data copy);
        a failure fails the window only, naming the files its rows came from."""
        buffer, files = self.buffers.pop(i, []), self.sources.pop(i, [])
        self.buffered -= sum(b.num_rows for b in buffer)
        if not buffer or i in self.failed:
            return
        try:
            table = pa.Table.from_batches(buffer).combine_chunks()
            for batch in table.to_batches():
                self.state(i).add_batch(batch)
            if self.copy_dir is not None:
                copies = self.pieces.setdefault(i, [])
                copies.append(self.copy_dir / f"{self.tag}{i}-{len(copies):06d}.parquet")
                pq.write_table(table, str(copies[-1]))
        except (ValueError, pa.ArrowException, OSError) as exc:
            self.failed[i] = f"{', '.join(str(f) for f in files)}: cannot profile: {exc}"

    def finish(self, i: int, order: list[str]) -> WindowProfile:
        """Window ``i``'s profile, or its failure."""
        self.flush(i)
        window = self.windows[i]
        if i in self.failed:
            return WindowProfile(window, reason=self.failed[i])
        out = WindowProfile(window, finish_profile(self.state(i), order))
        if self.copy_dir is not None:
            out.copy = self.pieces.get(i, [])
            out.copy_schema = pq.read_schema(out.copy[0]) if out.copy else self.first_schema or pa.schema([])
        return out


def profile_windows(
    ds: DatasetConfig,
    windows: Sequence[Window],
    *,
    copy_dir: Path | None = None,
    on_file: Callable[[int, int], None] | None = None,
    jobs: int = 1,
    dask: DaskSettings | DaskSession | None = None,
    row_sample: int | None = None,
) -> WindowedPass:
    """Profile each window's rows of a dataset in one pass over its files.

    :param ds: the dataset; its ``timestamp_column`` is read even when its
        ``columns`` leave it out (it is then not profiled).
    :param windows: in time order, not overlapping.
    :param copy_dir: when given, each window's rows are also written there as a
        Parquet file (:attr:`WindowProfile.copy`), for its data copy.
    :param on_file: called with (files done, files) after each file (with
        ``jobs`` above 1, after each worker's share of the files).
    :param jobs: worker processes; the files are cut into that many runs of
        consecutive files (of about equal bytes), each profiled by one worker
        into a profile per window, and each window's profiles are merged in
        file order: the same counts, moments, minimum, maximum and category
        counts as one pass, and a data copy in the same row order.
    :param dask: read on this Dask cluster (or in this open session) instead (``engine: dask``): each
        file is a unit, profiled on a worker into a profile per window, and
        each window's profiles are merged in file order here; ``jobs`` is then
        not used. A cluster that cannot be reached fails every window.
    :param row_sample: each window's profile keeps a sample of this many whole rows (None: none).
    :raises ValueError: when the dataset has no ``timestamp_column``, the
        windows are not in order, or ``dask`` is given with ``copy_dir``.
    """
    column = ds.timestamp_column
    if column is None:
        raise ValueError("the dataset has no timestamp_column")
    starts = np.array([_micros(w.start) for w in windows], dtype=np.int64)
    ends = np.array([_micros(w.end) for w in windows], dtype=np.int64)
    if np.any(starts[1:] < ends[:-1]):
        raise ValueError("windows must be in time order and not overlap")
    include, exclude = ds.columns.include, ds.columns.exclude
    profiled = dataset_source(ds, include, exclude)
    reading = dataset_source(ds, None if include is None else tuple(dict.fromkeys([*include, column])),
                             tuple(c for c in exclude if c != column))
    keep_time = (include is None or column in include) and column not in exclude
    result = WindowedPass([], fingerprint_kind=ds.fingerprint)
    if not windows:
        return result
    if dask is not None and copy_dir is not None:
        raise ValueError("engine dask writes no data copy (the rows stay on the cluster's workers)")
    one_pass = _Pass(ds, windows, profiled, reading, column, keep_time, starts, ends, result, row_sample)
    if dask is None:
        return one_pass.run(None, copy_dir, on_file, jobs)
    try:
        if isinstance(dask, DaskSession):
            return one_pass.run(dask, None, on_file, jobs)
        with DaskSession(dask) as session:
            return one_pass.run(session, None, on_file, jobs)
    except MonitorError as exc:  # the cluster cannot be reached, or its workers kept dying
        result.windows = [WindowProfile(w, reason=str(exc)) for w in windows]
        return result


@dataclass
class _Pass:
    """One pass of :func:`profile_windows` over a dataset's files: here, in
    worker processes (``jobs``) or on a Dask cluster (a unit per file)."""

    ds: DatasetConfig
    windows: Sequence[Window]
    profiled: FileSource
    reading: FileSource
    column: str
    keep_time: bool
    starts: np.ndarray
    ends: np.ndarray
    result: WindowedPass
    row_sample: int | None = None

    def run(self, session: DaskSession | None, copy_dir: Path | None, on_file: Callable[[int, int], None] | None,
            jobs: int) -> WindowedPass:
        """The pass; its result (every window failed when the files cannot be listed or typed)."""
        ds, windows, result = self.ds, self.windows, self.result
        try:
            files = self.profiled.files()
            result.fingerprint = fingerprint(self.profiled.inputs(files)) if ds.fingerprint == "metadata" else ""
            specs, order = (resolve_specs(self.profiled, files, ds.types) if session is None
                            else session.call(resolve_specs, self.profiled, files, dict(ds.types)))
        except (MonitorError, ValueError) as exc:
            result.windows = [WindowProfile(w, reason=str(exc)) for w in windows]
            return result
        split = _Split(windows, self.keep_time, dict(specs), dict(ds.types), copy_dir,
                       digests=digests_for(ds.fingerprint), row_sample=self.row_sample)
        groups = _file_groups(files, jobs) if session is None else [[f] for f in files]
        if len(groups) <= 1 and session is None:
            result.rows_read, result.rows_without_time = _read_files(split, self.reading, files, self.column,
                                                                     self.starts, self.ends, on_file)
        else:
            self._in_workers(split, groups, session, on_file)
        if split.digests is not None:  # content: the files' bytes, text files hashed as they were read
            try:
                inputs = self.profiled.inputs(files)  # and the arrays beside them
                if session is not None:
                    session.file_digests(inputs, split.digests)
                result.fingerprint = content_fingerprint(inputs, split.digests)
            except MonitorError as exc:
                for i in range(len(windows)):
                    split.failed.setdefault(i, str(exc))
        result.windows = [split.finish(i, order) for i in range(len(windows))]
        return result

    def _in_workers(self, split: _Split, groups: list[list[Path]], session: DaskSession | None,
                    on_file: Callable[[int, int], None] | None) -> None:
        """Each group of files profiled by a worker; the windows merged in file order."""
        items = [(split, self.reading, group, self.column, self.starts, self.ends, f"w{k}-")
                 for k, group in enumerate(groups)]
        parts = run_in_workers(_profile_group, items, len(groups)) if session is None else session.map(
            _profile_group, items)
        done, total = 0, sum(len(g) for g in groups)
        for group, (part, read, untimed) in zip(groups, parts):
            _merge_split(split, part)
            self.result.rows_read += read
            self.result.rows_without_time += untimed
            done += len(group)
            if on_file is not None:
                on_file(done, total)


def _read_files(split: _Split, reading: FileSource, files: Sequence[Path], column: str, starts: np.ndarray,
                ends: np.ndarray, on_file: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """Add the rows of ``files`` to their windows in ``split``; a file that cannot
    be read fails every window. :returns: rows read, rows without a time."""
    read = untimed = 0
    path = None
    try:
        for done, path in enumerate(files, start=1):
            for task in reading.plan([path]):
                task = _pruned(task, column, int(starts[0]), int(ends[-1]))
                for batch in task.batches(digests=split.digests) if task.row_groups != () else ():
                    read += batch.num_rows
                    untimed += _split_batch(split, batch, column, starts, ends, path)
            if on_file is not None:
                on_file(done, len(files))
    except (MonitorError, ValueError, pa.ArrowException) as exc:
        reason = str(exc) if isinstance(exc, MonitorError) else f"{path}: cannot read: {exc}"
        for i in range(len(split.windows)):
            split.failed.setdefault(i, reason)
    return read, untimed


def _profile_group(args: tuple[_Split, FileSource, Sequence[Path], str, np.ndarray, np.ndarray, str],
                   ) -> tuple[_Split, int, int]:
    """A worker's share of :func:`profile_windows`: its files into a fresh copy of
    ``split`` (every buffer flushed), with the rows read and without a time."""
    template, reading, files, column, starts, ends, tag = args
    split = replace(template, states={}, failed={}, pieces={}, buffers={}, sources={}, buffered=0, tag=tag,
                    digests=None if template.digests is None else {})
    read, untimed = _read_files(split, reading, files, column, starts, ends)
    split.flush_all()
    return split, read, untimed


def _merge_split(into: _Split, part: _Split) -> None:
    """Add a worker's windows to ``into`` (parts are merged in file order)."""
    for i, state in part.states.items():
        into.states[i] = state if i not in into.states else into.states[i].merge(state)
    for i, reason in part.failed.items():
        into.failed.setdefault(i, reason)
    for i, pieces in part.pieces.items():
        into.pieces.setdefault(i, []).extend(pieces)
    if into.digests is not None and part.digests:
        into.digests.update(part.digests)
    into.first_schema = into.first_schema or part.first_schema
    into.fmt = into.fmt or part.fmt


def _file_groups(files: Sequence[Path], jobs: int) -> list[list[Path]]:
    """``files`` cut into at most ``jobs`` runs of consecutive files of about equal total bytes."""
    if jobs <= 1 or len(files) <= 1:
        return [list(files)]
    sizes = np.array([_size(f) for f in files], dtype=np.float64)
    ends = np.cumsum(sizes) / max(float(sizes.sum()), 1.0)
    index = np.minimum((np.concatenate([[0.0], ends[:-1]]) * min(jobs, len(files))).astype(int), jobs - 1)
    return [[f for f, k in zip(files, index) if k == g] for g in sorted(set(index.tolist()))]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _pruned(task: ReadTask, column: str, first: int, last: int) -> ReadTask:
    """A Parquet task without the row groups whose time statistics show no row in
    ``[first, last)`` (microseconds); unchanged when there are no usable
    statistics (then every row is read and split)."""
    if task.format != "parquet":
        return task
    try:
        md = parquet_metadata(task.path)
    except (OSError, pa.ArrowException, MonitorError):
        return task  # reading it reports the error
    leaf = next((j for j in range(md.num_columns) if md.schema.column(j).path == column), None)
    groups = task.row_groups if task.row_groups is not None else tuple(range(md.num_row_groups))
    if leaf is None:
        return task
    kept = []
    for i in groups:
        stats = md.row_group(i).column(leaf).statistics
        low = _stat_micros(stats.min) if stats is not None and stats.has_min_max else None
        high = _stat_micros(stats.max) if stats is not None and stats.has_min_max else None
        if low is None or high is None or (high >= first and low < last):
            kept.append(i)
    return replace(task, row_groups=tuple(kept))


def _stat_micros(value: object) -> int | None:
    """A Parquet statistic of a time column in microseconds since the epoch (a
    naive time or a date as UTC, below a microsecond truncated), or ``None``
    when it is not a time (text, numbers)."""
    if isinstance(value, datetime):
        return _micros(value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc))
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days * 86_400_000_000
    return None


def _split_batch(split: _Split, batch: pa.RecordBatch, column: str, starts: np.ndarray, ends: np.ndarray,
                 path: Path) -> int:
    """Add a batch's rows to their windows. :returns: rows without a time."""
    times, valid, per_second = _times(split, batch.column(batch.schema.get_field_index(column)), column, path)
    if not split.keep_time:
        batch = batch.drop_columns([column])
    if split.first_schema is None:
        split.first_schema = batch.schema
    index = _window_index(times, _in_unit(starts, per_second), _in_unit(ends, per_second))
    index[~valid] = -1
    for i, piece in _pieces(batch, index):
        split.add(i, piece, path)
    return int(np.count_nonzero(~valid))


def _in_unit(micros: np.ndarray, per_second: int) -> np.ndarray:
    """Window bounds in microseconds as the smallest integers of a unit with
    ``per_second`` ticks a second that are not earlier (so ``t >= bound`` and
    ``t < bound`` keep their meaning for integer times ``t`` of that unit)."""
    return np.array([-((-int(m) * per_second) // 1_000_000) for m in micros], dtype=np.int64)


def _times(split: _Split, arr: pa.Array, column: str, path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """A time column as int64 ticks since the Unix epoch (UTC), whether each is
    present, and the ticks a second.

    :raises SourceError: when the column is not a timestamp, a date or text of
        dates or times.
    """
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        arr = _parse_times(split, arr, column, path)
    if pa.types.is_date(arr.type):
        days = arr.cast(pa.date32()).cast(pa.int32()).cast(pa.int64())
        ticks, per_second = days.fill_null(0).to_numpy() * 86_400, 1
    elif pa.types.is_timestamp(arr.type):
        ticks, per_second = arr.cast(pa.int64()).fill_null(0).to_numpy(), _PER_SECOND[arr.type.unit]
    else:
        raise SourceError(f"{path}: timestamp_column {column!r} is {arr.type}, not a timestamp, a date or text")
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    return np.asarray(ticks, dtype=np.int64), np.asarray(valid, dtype=bool), per_second


def _parse_times(split: _Split, arr: pa.Array, column: str, path: Path) -> pa.Array:
    """Text times as ``timestamp[us, UTC]``, in the format inferred from the
    first values of the pass (null where the text is missing or does not parse)."""
    if split.fmt is None:
        if arr.null_count == len(arr):
            return pa.nulls(len(arr), pa.timestamp("us", tz="UTC"))
        kind = infer_kind(arr)
        if kind.kind != "datetime" or kind.fmt is None:
            raise SourceError(f"{path}: timestamp_column {column!r} does not read as dates or times "
                              f"(first value {arr.drop_null()[0].as_py()!r})")
        split.fmt = kind.fmt
    return parse_text(arr, "datetime", split.fmt).values


def _window_index(times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The index of the window holding each time, -1 for none."""
    index = np.searchsorted(starts, times, side="right") - 1
    inside = index >= 0
    inside[inside] = times[inside] < ends[index[inside]]
    return np.where(inside, index, -1)


def _pieces(batch: pa.RecordBatch, index: np.ndarray) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The batch's rows grouped by window index (rows of index -1 left out), each
    group in the batch's row order."""
    if index.size == 0:
        return
    if np.any(index[1:] < index[:-1]):
        order = np.argsort(index, kind="stable")
        index = index[order]
        batch = batch.take(pa.array(order))
    cuts = np.flatnonzero(index[1:] != index[:-1]) + 1
    bounds = np.concatenate([[0], cuts, [index.size]])
    for a, b in zip(bounds[:-1], bounds[1:]):
        if index[a] >= 0:
            yield int(index[a]), batch.slice(int(a), int(b - a))


def _micros(instant: datetime) -> int:
    """An aware time in whole microseconds since the Unix epoch."""
    delta = instant.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def complete_window_snapshot(store: Store, snap: SnapshotRecord, window: WindowProfile,
                             digest: str, kind: str = "metadata") -> SnapshotRecord:
    """Store a running window snapshot's profile (and data copy) and mark it completed.

    :param window: the window's outcome of :func:`profile_windows`.
    :param digest: the fingerprint of the files read, of ``kind`` (``metadata`` or ``content``).
    :raises SourceError: with the window's reason when it failed (the caller
        fails the snapshot).
    :raises StoreError: when the store or the data copy cannot be written.
    """
    if window.profile is None:
        raise SourceError(window.reason or "the window could not be profiled")
    copy = None
    if window.copy is not None and window.copy_schema is not None:
        copy = store.write_data_copy(snap.dataset, snap.name, _copy_batches(window.copy, window.copy_schema),
                                     window.copy_schema)
    meta, columns = profile_to_records(window.profile)
    return store.complete_snapshot(
        snap.id, profile=meta, columns=columns, row_count=window.profile.row_count,
        fingerprint=digest, fingerprint_kind=kind, data_copy=str(copy) if copy else None,
    )


def _copy_batches(files: Sequence[Path], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The batches of a window's copy pieces, cast to the schema of the first.

    :raises SourceError: when a piece's columns do not match the first's.
    """
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches():
            if not batch.schema.equals(schema):
                try:
                    table = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
                except (pa.ArrowException, KeyError) as exc:
                    raise SourceError(f"a file's columns do not match the first file's schema: {exc}") from exc
                yield from table.to_batches()
            else:
                yield batch


def take_window(store: Store, snap: SnapshotRecord, ds: DatasetConfig, window: Window,
                data_copy: bool, *, dask: DaskSettings | None = None, row_sample: int | None = None) -> SnapshotRecord:
    """Profile one window of a dataset into running snapshot ``snap`` and complete it
    (on the Dask cluster ``dask`` when given; then without a data copy), keeping a
    sample of ``row_sample`` whole rows when given.

    :raises SourceError: when the window cannot be profiled.
    :raises StoreError: when the store or the data copy cannot be written.
    """
    with copy_folder(store, data_copy) as folder:
        result = profile_windows(ds, [window], copy_dir=folder, dask=dask, row_sample=row_sample)
        return complete_window_snapshot(store, snap, result.windows[0], result.fingerprint,
                                        result.fingerprint_kind)


@contextlib.contextmanager
def copy_folder(store: Store, wanted: bool) -> Iterator[Path | None]:
    """A temporary folder beside the store for the windows' data copies (removed
    on exit), or ``None`` when no copy is wanted."""
    if not wanted:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix=".window-copies-", dir=store.root) as folder:
        yield Path(folder)
