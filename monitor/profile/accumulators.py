"""Accumulating a profile: one column's statistics over Arrow arrays
(:class:`ColumnAccumulator`) and a profile in progress (:class:`ProfileState`).

Both are picklable (worker processes send their state to the parent) and
mergeable; :mod:`monitor.profile` turns a finished state into a
:class:`~monitor.profile.DatasetProfile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.profile.columns import (
    NUMERIC_KINDS,
    VECTOR_KIND,
    ColumnSpec,
    as_text,
    chunks,
    column_spec,
    float_values,
    is_text_array,
    to_numeric,
)
from monitor.profile.numeric import DEFAULT_K, NumericSummary
from monitor.profile.rows import RowSample
from monitor.profile.sketches import (
    COUNTER_FACTOR,
    DEFAULT_CATEGORY_CAP,
    CategoryCounter,
    merge_optional,
    misra_gries_cut,
)
from monitor.profile.theta import DistinctSketch, theta_hash_floats, theta_hash_strings
from monitor.profile.vectors import VectorSummary, vector_values
from monitor.sources.csv_types import TextKind, parse_text

if TYPE_CHECKING:
    from monitor.sources.files import ReadTask


HOLD = 1 << 19
"""Numbers a column gathers (when asked to, :attr:`ProfileState.hold`) before its
numeric summary takes them: the summary's cost per call is about fixed, so a
few large calls cost less than many small ones (CSV and JSON Lines batches)."""
HOLD_BYTES = 64 << 20
"""The most a profile in progress holds in gathered numbers, all columns together."""


class ColumnAccumulator:
    """Accumulates one column's statistics over Arrow arrays; picklable and mergeable.

    :param cap: categories reported; ``COUNTER_FACTOR * cap`` are counted.
    :param hold: numbers to gather before the numeric summary and the distinct
        sketch take them (0: each chunk's at once); they are taken whenever
        :attr:`numeric` or :attr:`distinct` is read, on merge and on pickling.
    """

    def __init__(self, name: str, spec: ColumnSpec, k: int = DEFAULT_K, cap: int = DEFAULT_CATEGORY_CAP,
                 hold: int = 0) -> None:
        self.name, self.spec, self.cap, self.hold = name, spec, cap, hold
        self.arrow_type = ""
        self.timezone: str | None = None
        self.count = self.missing = self.empty = self.errors = 0
        self._numeric = NumericSummary(k=k) if spec.kind in NUMERIC_KINDS else None
        counted = spec.kind not in NUMERIC_KINDS and spec.kind != VECTOR_KIND
        self.counter = CategoryCounter(COUNTER_FACTOR * cap) if counted else None
        self.vector = VectorSummary() if spec.kind == VECTOR_KIND else None
        self._distinct = DistinctSketch()
        self.length_min: int | None = None
        self.length_max: int | None = None
        self.length_sum = 0
        self._held: list[tuple[np.ndarray, bool]] = []
        self.held = 0
        """Numbers gathered and not yet taken by the summary."""

    @property
    def numeric(self) -> NumericSummary | None:
        """The numeric summary (None for a kind without one), every number in."""
        self.flush()
        return self._numeric

    @numeric.setter
    def numeric(self, value: NumericSummary | None) -> None:
        self._numeric = value

    @property
    def distinct(self) -> DistinctSketch:
        """The distinct values' sketch, every value in."""
        self.flush()
        return self._distinct

    @distinct.setter
    def distinct(self, value: DistinctSketch) -> None:
        self._distinct = value

    def flush(self) -> None:
        """Have the numeric summary and the distinct sketch take the gathered numbers."""
        if not self._held:
            return
        held, self._held, self.held = self._held, [], 0
        values = held[0][0] if len(held) == 1 else np.concatenate([v for v, _ in held])
        self._summarise(values, all(integral for _, integral in held))

    def __getstate__(self) -> dict[str, object]:
        self.flush()
        return self.__dict__.copy()

    def pad(self, rows: int) -> None:
        """Count ``rows`` rows where the column is absent (missing)."""
        self.count += rows
        self.missing += rows

    def update(self, arr: pa.Array | pa.ChunkedArray) -> None:
        """Add one column chunk (any Arrow type the kind can be read from).

        :raises ValueError: when the values cannot be read as the column's kind.
        """
        for chunk in chunks(arr):
            if not self.arrow_type:  # CSV text is text, whatever Arrow typed it as
                self.arrow_type = "string" if self.spec.text else str(chunk.type)
                self.timezone = None if self.spec.text else getattr(chunk.type, "tz", None)
            self.count += len(chunk)
            if self.spec.kind in NUMERIC_KINDS:
                self._update_numeric(chunk)
            elif self.spec.kind == "boolean":
                self._update_boolean(chunk)
            elif self.vector is not None:
                self._update_vector(chunk)
            else:
                self._update_text(chunk)

    def _parse(self, chunk: pa.Array, kind: str) -> tuple[pa.Array, int]:
        """A chunk in a form its kind can be read from, and the values that failed to
        parse (null in the result, counted as errors, not as missing)."""
        if not is_text_array(chunk):
            return chunk, 0
        text = chunk.dictionary_decode() if pa.types.is_dictionary(chunk.type) else chunk
        parsed = parse_text(text, kind, self.spec.fmt)
        self.errors += parsed.errors
        return parsed.values, parsed.errors

    def _update_numeric(self, chunk: pa.Array) -> None:
        kind = self.spec.kind
        arr, errors = self._parse(chunk, kind)
        integral = kind == "integer" and (errors or is_text_array(chunk) or pa.types.is_integer(arr.type))
        values, missing = float_values(to_numeric(arr, kind))
        self.missing += missing - errors
        if self.hold and values.size < self.hold:
            self._held.append((values, bool(integral)))
            self.held += values.size
            if self.held >= self.hold:
                self.flush()
            return
        self.flush()
        self._summarise(values, bool(integral))

    def _summarise(self, values: np.ndarray, integral: bool) -> None:
        assert self._numeric is not None
        self._numeric.update(values, integral=integral)
        self._distinct.update_hashes(self._numeric_hashes(values), counted=False)

    def _update_vector(self, chunk: pa.Array) -> None:
        assert self.vector is not None
        values, missing, errors = vector_values(chunk, self.vector.dim or None)
        self.missing += missing
        self.errors += errors
        self.vector.update(values)

    def _numeric_hashes(self, values: np.ndarray) -> np.ndarray:
        """Theta hashes for the distinct count: in exact mode those of the distinct
        values seen so far (fewer), else of every value."""
        num = self._numeric
        assert num is not None
        if num.values is not None and values.size > num.values.size:
            seen = num.values
            if num.pos_inf or num.neg_inf:
                seen = np.concatenate([seen, values[np.isinf(values)]])
            return theta_hash_floats(seen)
        return theta_hash_floats(values)

    def _update_boolean(self, chunk: pa.Array) -> None:
        arr, errors = self._parse(chunk, "boolean")
        if not pa.types.is_boolean(arr.type):
            arr = pc.not_equal(to_numeric(arr, "integer"), 0)
        self.missing += arr.null_count - errors
        true = int(pc.sum(arr).as_py() or 0)
        false = len(arr) - arr.null_count - true
        labels = [lbl for lbl, n in (("false", false), ("true", true)) if n]
        counts = np.array([n for n in (false, true) if n], dtype=np.int64)
        self._add_labels(pa.array(labels, type=pa.string()), counts)

    def _update_text(self, chunk: pa.Array) -> None:
        if not is_text_array(chunk):
            chunk = as_text(chunk)
        self.missing += chunk.null_count
        if (self.spec.text or not pa.types.is_dictionary(chunk.type)) and _many_distinct(chunk):
            # CSV text is counted alike whether it came dictionary-encoded or not
            self._update_text_hashed(chunk.dictionary_decode() if pa.types.is_dictionary(chunk.type) else chunk)
            return
        labels, counts = _label_counts(chunk)
        if len(labels) == 0:
            return
        lengths = pc.utf8_length(labels).to_numpy(zero_copy_only=False).astype(np.int64)
        self.length_min = _opt_min(self.length_min, int(lengths.min()))
        self.length_max = _opt_max(self.length_max, int(lengths.max()))
        self.length_sum += int(np.dot(lengths, counts))
        empty = np.flatnonzero(lengths == 0)
        self.empty += int(counts[empty].sum()) if empty.size else 0
        self._add_labels(labels, counts)

    def _update_text_hashed(self, chunk: pa.Array) -> None:
        """A chunk with many distinct values: count by hash, keep labels only for the
        values frequent enough to survive the batch's Misra-Gries step. Nulls are
        left out of the counts without copying the chunk. The theta hashes serve
        both the counts and the distinct-value sketch."""
        valid = None if not chunk.null_count else chunk.is_valid().to_numpy(zero_copy_only=False)
        hashes = theta_hash_strings(chunk)
        lengths = pc.utf8_length(chunk).fill_null(0).to_numpy(zero_copy_only=False)
        if valid is not None:
            hashes, lengths = hashes[valid], lengths[valid]
        self.length_min = _opt_min(self.length_min, int(lengths.min()))
        self.length_max = _opt_max(self.length_max, int(lengths.max()))
        self.length_sum += int(lengths.sum(dtype=np.int64))
        self.empty += int(np.count_nonzero(lengths == 0))
        del lengths
        assert self.counter is not None
        frequent = _frequent_by_hash(chunk, hashes, self.counter.capacity, valid)
        if frequent is None:
            labels, counts = _label_counts(chunk)
            self.counter.add(labels, counts)
        else:
            self.counter.add(*frequent)
        self.distinct.update_hashes(hashes)

    def _add_labels(self, labels: pa.Array, counts: np.ndarray) -> None:
        assert self.counter is not None
        self.counter.add(labels, counts)
        self.distinct.update_hashes(theta_hash_strings(labels), counts)

    def merge(self, o: ColumnAccumulator) -> ColumnAccumulator:
        """This accumulator with ``o``'s rows added (in place; returns self)."""
        if o.spec.kind != self.spec.kind:
            raise ValueError(f"column {self.name!r}: cannot merge {self.spec.kind} with {o.spec.kind}")
        self.arrow_type = self.arrow_type or o.arrow_type
        self.timezone = self.timezone or o.timezone
        self.count += o.count
        self.missing += o.missing
        self.empty += o.empty
        self.errors += o.errors
        self.numeric = merge_optional(self.numeric, o.numeric)
        self.counter = merge_optional(self.counter, o.counter)
        try:
            self.vector = merge_optional(self.vector, o.vector)
        except ValueError as exc:  # parts of the input whose first vectors differ in length
            raise ValueError(f"column {self.name!r}: {exc}") from exc
        self.distinct = self.distinct.merge(o.distinct)
        self.length_min = _opt_min(self.length_min, o.length_min)
        self.length_max = _opt_max(self.length_max, o.length_max)
        self.length_sum += o.length_sum
        return self


def _opt_min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _opt_max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _label_counts(chunk: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Distinct non-null values of a text chunk (string or dictionary) and their counts."""
    if pa.types.is_dictionary(chunk.type):
        indices = chunk.indices.drop_null().to_numpy(zero_copy_only=False)
        counts = np.bincount(indices, minlength=len(chunk.dictionary)) if indices.size else np.zeros(0, np.int64)
        used = np.flatnonzero(counts)
        return chunk.dictionary.take(pa.array(used)).cast(pa.string()), counts[used].astype(np.int64)
    vc = pc.value_counts(chunk)
    labels = vc.field("values")
    counts = vc.field("counts").to_numpy(zero_copy_only=False).astype(np.int64)
    if labels.null_count:
        valid = labels.is_valid()
        labels, counts = labels.filter(valid), counts[valid.to_numpy(zero_copy_only=False)]
    return labels.cast(pa.string()), counts


HASHED_MIN = 1 << 16
"""String chunks of at least this many values with mostly distinct values are
counted by hash (:func:`_frequent_by_hash`) rather than by a hash table of strings."""


def _many_distinct(chunk: pa.Array) -> bool:
    """A long string chunk (or dictionary-encoded strings) whose first 16,384
    values are mostly distinct."""
    if len(chunk) - chunk.null_count < HASHED_MIN:
        return False
    probe = chunk[: 1 << 14]
    if pa.types.is_dictionary(probe.type):
        probe = probe.dictionary_decode()
    return int(pc.count_distinct(probe).as_py()) > len(probe) // 2


def _frequent_by_hash(
    values: pa.Array, hashes: np.ndarray, capacity: int, valid: np.ndarray | None = None,
) -> tuple[pa.Array, np.ndarray, int] | None:
    """The batch's Misra-Gries summary with ``capacity`` counters, counted by hash.

    Values whose hash falls alone in one of at least ``4 * len(hashes)`` buckets
    (from 2**16 to 2**22, by the hash's top bits) occur once; only the others are
    grouped exactly.
    Returns (labels, counts after the cut, cut), or None when every value fits
    the counters (the caller counts exactly).

    :param hashes: the 63-bit theta hashes (:func:`~monitor.profile.theta.theta_hash_strings`)
        of the non-null values, in row order.
    :param valid: boolean mask of the non-null rows of ``values`` (None: no nulls).
    """
    bits = min(22, max(16, (4 * hashes.size - 1).bit_length()))
    bucket = (hashes >> np.uint64(63 - bits)).astype(np.intp)
    pos = np.flatnonzero((np.bincount(bucket, minlength=1 << bits) > 1)[bucket])
    del bucket
    crowded = hashes[pos]
    uniq, cnt = np.unique(crowded, return_counts=True)
    ones = hashes.size - crowded.size + int(np.count_nonzero(cnt == 1))
    cut = misra_gries_cut(cnt[cnt > 1], capacity, ones)
    if cut == 0:
        return None
    keep = cnt > cut
    kept = uniq[keep]
    slot = np.minimum(np.searchsorted(kept, crowded), max(kept.size - 1, 0))
    hit = np.flatnonzero(kept[slot] == crowded) if kept.size else np.empty(0, dtype=np.intp)
    _, first = np.unique(slot[hit], return_index=True)
    rows = pos[hit[first]]
    if valid is not None:
        rows = np.flatnonzero(valid)[rows]
    labels = values.take(pa.array(rows))
    return labels.cast(pa.string()), cnt[keep].astype(np.int64) - cut, cut


# ---------------------------------------------------------------------------
# a profile in progress


@dataclass
class ProfileState:
    """Accumulators of a profile in progress: picklable (for worker processes) and
    mergeable; :meth:`complete` gives the finished accumulators, from which
    :func:`monitor.profile.finish_profile` makes the :class:`~monitor.profile.DatasetProfile`."""

    specs: dict[str, ColumnSpec] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    k: int = DEFAULT_K
    cap: int = DEFAULT_CATEGORY_CAP
    rows: int = 0
    columns: dict[str, ColumnAccumulator] = field(default_factory=dict)
    digests: dict[str, str] | None = None
    """When a dict, the SHA-256 of each CSV or JSON Lines file read to its end
    (:func:`monitor.sources.files.read_file`), for a ``content`` fingerprint."""
    hold: int = 0
    """Numbers each column gathers before its summary takes them (see
    :class:`ColumnAccumulator`; at most :data:`HOLD_BYTES` in all); 0: none."""
    row_sample: RowSample | None = None
    """When set, a uniform sample of whole rows (:mod:`monitor.profile.rows`) is kept too."""

    def empty_copy(self) -> ProfileState:
        """A state with this one's settings (specs, types, k, cap, digests kept or not,
        hold, row sample bound) and no rows: the template of a worker's state."""
        rows = None if self.row_sample is None else RowSample(self.row_sample.size)
        return ProfileState(dict(self.specs), dict(self.types), self.k, self.cap,
                            digests=None if self.digests is None else {}, hold=self.hold, row_sample=rows)

    def _accumulator(self, name: str, arr: pa.Array | pa.ChunkedArray, text: bool) -> ColumnAccumulator:
        acc = self.columns.get(name)
        if acc is None:
            spec = self.specs.get(name)
            if spec is None:
                sample = chunks(arr)[0] if text else None
                spec = column_spec(arr.type, self.types.get(name), text, sample)
                self.specs[name] = spec
            acc = self.columns[name] = ColumnAccumulator(name, spec, self.k, self.cap, self.hold)
        return acc

    def _bound_held(self) -> None:
        """Have every column's summary take its gathered numbers when they
        exceed :data:`HOLD_BYTES` in all."""
        if self.hold and 8 * sum(acc.held for acc in self.columns.values()) > HOLD_BYTES:
            for acc in self.columns.values():
                acc.flush()

    def add_batch(self, batch: pa.RecordBatch, *, columns: Sequence[str] | None = None, primary: bool = True,
                  sample: bool = True) -> None:
        """Add a record batch.

        :param columns: the columns this batch is responsible for; those absent
            from it count as missing (default: the batch's columns and every
            column seen before).
        :param primary: the batch's rows count toward :attr:`rows` (and, with
            ``sample``, join the row sample when one is kept).
        :param sample: the batch holds whole rows (False: a Parquet task's part
            of the columns; its rows are sampled by :meth:`add_rows`).
        """
        from monitor.sources.files import is_text

        text = is_text(batch.schema)
        names = batch.schema.names
        for i, name in enumerate(names):
            if columns is None or name in columns:
                self._accumulator(name, batch.column(i), text).update(batch.column(i))
        wanted = columns if columns is not None else list(self.columns)
        for name in wanted:
            if name not in names:
                self._absent(name).pad(batch.num_rows)
        if primary:
            self.rows += batch.num_rows
            if sample:
                self.add_rows(batch)
        self._bound_held()

    def add_rows(self, batch: pa.RecordBatch) -> None:
        """Add whole rows to the row sample (when one is kept); their columns must have specs."""
        if self.row_sample is not None:
            self.row_sample.update(batch, self.specs)

    def add_column(self, name: str, values: pa.Array | pa.ChunkedArray) -> None:
        """Add one column's values for rows counted by another call (Parquet tasks:
        rows are counted once per row group, by the task marked primary)."""
        self._accumulator(name, values, False).update(values)
        self._bound_held()

    def text_kinds(self, sample: pa.RecordBatch) -> dict[str, TextKind]:
        """The kind (and datetime format) of each column profiled from CSV text
        (what the CSV reader may have Arrow convert, see
        :func:`monitor.sources.files.read_file`), the kinds of columns not seen
        before inferred from ``sample`` (a CSV file's first block as text)."""
        for name, column in zip(sample.schema.names, sample.columns):
            if name not in self.specs:
                self.specs[name] = column_spec(column.type, self.types.get(name), True, column)
        return {name: TextKind(spec.kind, spec.fmt) for name, spec in self.specs.items() if spec.text}

    def text_parquet(self, task: ReadTask) -> bool:
        """True when a Parquet task holds raw text columns (a CSV's data copy)."""
        return any(self.specs.get(n, ColumnSpec("string")).text for n in task.columns or ())

    def _absent(self, name: str) -> ColumnAccumulator:
        acc = self.columns.get(name)
        if acc is None:
            spec = self.specs.get(name, ColumnSpec(self.types.get(name, "string"), name in self.types))
            acc = self.columns[name] = ColumnAccumulator(name, spec, self.k, self.cap, self.hold)
            acc.pad(self.rows)
        return acc

    def merge(self, o: ProfileState) -> ProfileState:
        """This state with ``o``'s rows and columns added (in place; returns self)."""
        self.rows += o.rows
        if o.digests:
            self.digests = {**(self.digests or {}), **o.digests}
        if o.row_sample is not None:
            self.row_sample = o.row_sample if self.row_sample is None else self.row_sample.merge(o.row_sample)
        for name, acc in o.columns.items():
            mine = self.columns.get(name)
            self.columns[name] = acc if mine is None else mine.merge(acc)
        return self

    def complete(self, order: Sequence[str] | None = None) -> list[ColumnAccumulator]:
        """Every column's accumulator, in ``order`` (default: first seen; columns not
        in ``order`` follow), each padded as missing to the profile's rows."""
        for name in order or ():
            self._absent(name)
        names = list(order) if order is not None else list(self.columns)
        names += [n for n in self.columns if n not in names]
        out = []
        for name in names:
            acc = self.columns[name]
            if acc.count < self.rows:
                acc.pad(self.rows - acc.count)
            out.append(acc)
        return out
