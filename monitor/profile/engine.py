"""Profiling: a stream of record batches, or a file source read by worker
processes, → a :class:`~monitor.profile.model.DatasetProfile`, with the
categorical inference applied when a profile is finished."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from monitor.profile.accumulators import ColumnAccumulator, ProfileState
from monitor.profile.columns import int_categorical, int_categories, text_categorical
from monitor.profile.model import ColumnProfile, DatasetProfile, sampled_columns
from monitor.profile.numeric import DEFAULT_K
from monitor.profile.parallel import accumulate_source
from monitor.profile.rows import RowSample
from monitor.profile.sketches import DEFAULT_CATEGORY_CAP

if TYPE_CHECKING:
    from monitor.profile.dask_engine import DaskSession, DaskSettings
    from monitor.sources.files import FileSource

__all__ = ["column_profile", "compute_profile", "finish_profile", "profile_source"]


# ---------------------------------------------------------------------------
# finishing a profile


def finish_profile(state: ProfileState, order: Sequence[str] | None = None) -> DatasetProfile:
    """The :class:`DatasetProfile` of a profile in progress; columns in ``order``
    (default: first seen), a column with fewer counted rows than the profile
    padded as missing, categorical inference applied."""
    columns = {acc.name: column_profile(acc) for acc in state.complete(order)}
    sample = None if state.row_sample is None else sampled_columns(state.row_sample, columns)
    return DatasetProfile(state.rows, columns, sample)


def column_profile(acc: ColumnAccumulator) -> ColumnProfile:
    """The :class:`ColumnProfile` of one column's accumulator (categorical inference applied)."""
    spec = acc.spec
    col = ColumnProfile(
        acc.name, spec.kind, acc.arrow_type, acc.count, acc.missing, acc.empty, acc.errors,
        acc.numeric, None, acc.distinct, acc.length_min, acc.length_max, acc.length_sum,
        spec.declared, acc.timezone, acc.vector,
    )
    values = col.not_missing - col.errors
    if acc.counter is not None:
        col.categories = acc.counter.summary(acc.cap, values)
    if spec.declared:
        if spec.kind == "categorical" and col.numeric is not None:
            col.categories = int_categories(col.numeric, acc.cap, values)
        return col
    if spec.kind == "string" and col.categories is not None and text_categorical(col.categories, values):
        col.kind = "categorical"
    elif spec.kind == "integer" and col.numeric is not None and int_categorical(col.numeric, values):
        col.kind = "categorical"
        col.categories = int_categories(col.numeric, acc.cap, values)
    return col


# ---------------------------------------------------------------------------
# profiling


def compute_profile(
    batches: Iterable[pa.RecordBatch],
    *,
    types: Mapping[str, str] | None = None,
    k: int = DEFAULT_K,
    category_cap: int = DEFAULT_CATEGORY_CAP,
    row_sample: int | None = None,
) -> DatasetProfile:
    """Profile a stream of record batches in one pass, in this process.

    :param batches: record batches (columns are matched by name; a column absent
        from a batch counts as missing for its rows). Batches whose schema carries
        :data:`monitor.sources.files.TEXT_METADATA` are raw text: their kinds are
        inferred from the first batch a column appears in.
    :param types: column name -> kind override (integer, decimal, string, boolean,
        datetime, categorical); values that do not parse count as errors.
    :param k: KLL sketch size; quantiles are exact up to ``k`` values per column
        (or :data:`~monitor.profile.numeric.EXACT_DISTINCT` distinct values).
    :param category_cap: categories reported per column.
    :param row_sample: keep a uniform sample of this many whole rows
        (:mod:`monitor.profile.rows`; None: none), for the multivariate drift test.
    :returns: the :class:`DatasetProfile`.
    :raises ValueError: on an unknown kind in ``types`` or values that cannot be
        read as their column's kind.
    """
    rows = None if row_sample is None else RowSample(row_sample)
    state = ProfileState(types=dict(types or {}), k=k, cap=category_cap, row_sample=rows)
    for batch in batches:
        state.add_batch(batch)
    return finish_profile(state)


def profile_source(
    source: FileSource,
    *,
    types: Mapping[str, str] | None = None,
    files: Sequence[Any] | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    k: int = DEFAULT_K,
    category_cap: int = DEFAULT_CATEGORY_CAP,
    digests: dict[str, str] | None = None,
    dask: DaskSettings | DaskSession | None = None,
    row_sample: int | None = None,
) -> DatasetProfile:
    """Profile every file of a :class:`~monitor.sources.files.FileSource`, in
    parallel worker processes when the input is large, or on a Dask cluster.

    Parquet files are split by row groups (and by columns when there are fewer
    row-group runs than workers); CSV and JSON Lines files are one task each.
    Each worker profiles the tasks it takes into its own :class:`~monitor.profile.accumulators.ProfileState`;
    the states are merged. Memory is bounded by one column piece (CSV and JSON
    Lines: one block) per worker.

    :param files: the files to read (default: the source's files now).
    :param workers: processes to use (default: the CPUs this process may run
        on); 1 profiles in this process. Small inputs (under
        :data:`~monitor.profile.parallel.PARALLEL_MIN_CELLS` cells) are always profiled in-process.
    :param progress: show a progress line on stderr (default: when stderr is a terminal).
    :param digests: when given, each CSV or JSON Lines file gets the SHA-256
        of its bytes here, hashed as the pass reads it (in the worker that reads
        it), keyed by ``os.fspath`` of its path (for a ``content`` fingerprint,
        :mod:`monitor.sources.digest`); with ``dask``, every file gets its
        digest, computed on the workers.
    :param dask: profile on this Dask cluster (``engine: dask``,
        :mod:`monitor.profile.dask_engine`) instead of this machine's
        processes; ``workers`` is then not used. The profile is the same: the
        same counts, minimum, maximum, category counts and distinct-value
        sketches, moments to rounding, quantiles within the sketch's rank bound.
    :param row_sample: keep a uniform sample of this many whole rows
        (:mod:`monitor.profile.rows`; None: none). Parquet tasks that read part
        of the columns leave it to the task that counts the rows, which reads
        the sampled columns of its row groups once more.
    :raises SourceError: when a file cannot be read or profiled (or the Dask
        scheduler does not answer).
    :raises MonitorError: with ``dask``, when Dask is not installed (naming the extra).
    :raises ValueError: on an unknown kind in ``types``.
    """
    files = list(files) if files is not None else source.files()
    if dask is not None:
        from monitor.profile.dask_engine import accumulate_on_dask

        state, order, _ = accumulate_on_dask(source, files, dict(types or {}), dask=dask, k=k,
                                             category_cap=category_cap, digests=digests, progress=progress,
                                             row_sample=row_sample)
        return finish_profile(state, order)
    state, order = accumulate_source(source, files, dict(types or {}), workers=workers, progress=progress,
                                     k=k, category_cap=category_cap, digests=digests, row_sample=row_sample)
    return finish_profile(state, order)
