"""A uniform sample of whole rows: :class:`RowSample`, kept in a profile for the
multivariate drift test (a domain classifier across columns,
:mod:`monitor.drift.multivariate`) when a monitor asks for it
(``monitors.NAME.multivariate: true``).

The sample is a *bottom-k* sample, as the vector columns' one
(:mod:`monitor.profile.vectors`): each row gets a random key, uniform on (0, 1),
and the sample is the ``size`` rows with the smallest keys
(:data:`ROW_SAMPLE_SIZE` = 5,000 by default). Merging two samples keeps the
``size`` smallest keys of the union, which is exactly the bottom-k sample of the
concatenated rows: ``profile(A + B) == merge(profile(A), profile(B))`` when the
batches are the same. The keys of a batch come from a generator seeded with the
CRC-32 of the batch's values (its Arrow IPC form: the slices of one table share
buffers) and its row count, so the same data in the same batches gives the same
sample.

Values, per column, in the form its kind is profiled in (:mod:`monitor.profile.columns`):

- integer, decimal, datetime (seconds since the epoch, UTC) and boolean (0 or 1)
  columns: float64, NaN for a missing value or one that does not parse;
- string and categorical columns: the text, at most :data:`TEXT_CHARS`
  characters (None when missing). When the profile is finished, columns whose
  kind is ``string`` (not categorical: identifiers, free text) are dropped, so a
  stored sample holds numbers and low-cardinality categories only (at most
  ``category_cap`` distinct values, 100 by default);
- vector columns are not sampled (their own summary has a sample).

Binary form (:func:`pack_rows`): an Arrow IPC stream (zstd-compressed) of one
record batch, the column ``__key__`` (float64) then the sampled columns
(float64 or string), with the schema's metadata ``size`` (the bound) and
``kinds`` (JSON: column -> ``number`` or ``category``).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.profile.columns import NUMERIC_KINDS, VECTOR_KIND, ColumnSpec, as_text, is_text_array, to_numeric
from monitor.sources.csv_types import parse_text

__all__ = ["ROW_SAMPLE_SIZE", "TEXT_CHARS", "RowSample", "pack_rows", "unpack_rows"]

ROW_SAMPLE_SIZE = 5000
"""Default bound of a profile's row sample (rows)."""
TEXT_CHARS = 100
"""Characters of a text value kept in the row sample."""
_KEY = "__key__"


def _seed(batch: pa.RecordBatch) -> list[int]:
    """The key generator's seed of a batch: CRC-32 of its Arrow IPC serialisation (the
    batch's own values, also for a slice of larger buffers), and its row count."""
    return [zlib.crc32(memoryview(batch.serialize())), batch.num_rows]


def _numbers(arr: pa.Array, spec: ColumnSpec) -> np.ndarray:
    """A column's values as float64 (NaN: missing or not parsed), as its numeric kind reads them."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if is_text_array(arr):
        arr = parse_text(arr, spec.kind, spec.fmt).values
    if spec.kind == "boolean" and not pa.types.is_boolean(arr.type):
        arr = pc.not_equal(to_numeric(arr, "integer"), 0)
    out = to_numeric(arr, spec.kind).cast(pa.float64(), safe=False)
    return np.asarray(out.to_numpy(zero_copy_only=False), dtype=np.float64)


def _texts(arr: pa.Array) -> np.ndarray:
    """A column's values as text (at most :data:`TEXT_CHARS` characters), None when missing."""
    if not is_text_array(arr) or pa.types.is_dictionary(arr.type):
        arr = as_text(arr)
    arr = pc.utf8_slice_codeunits(arr, 0, TEXT_CHARS)
    return np.array(arr.to_pylist(), dtype=object)


def sampled_kind(spec: ColumnSpec) -> str | None:
    """``number``, ``category`` or None (not sampled) for a column spec."""
    if spec.kind == VECTOR_KIND:
        return None
    return "number" if spec.kind in NUMERIC_KINDS or spec.kind == "boolean" else "category"


@dataclass
class RowSample:
    """A bottom-k sample of whole rows (see the module docstring); picklable and mergeable.

    :ivar size: the bound (rows).
    :ivar keys: the sampled rows' keys, ascending, shape ``(rows,)``.
    :ivar kinds: column -> ``number`` or ``category``, in column order.
    :ivar values: column -> its values for the sampled rows, shape ``(rows,)``:
        float64 (numbers) or object (text or None).
    """

    size: int = ROW_SAMPLE_SIZE
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kinds: dict[str, str] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"a row sample holds at least 1 row, not {self.size}")

    @property
    def rows(self) -> int:
        """Rows in the sample."""
        return int(self.keys.size)

    def update(self, batch: pa.RecordBatch, specs: Mapping[str, ColumnSpec]) -> None:
        """Add a batch's rows: draw their keys and keep the smallest ``size`` of all.

        Only the rows whose key is below the current ``size``-th smallest are
        converted. Columns without a spec, or of a kind that is not sampled, are skipped.

        :raises ValueError: when a value cannot be read as its column's kind.
        """
        n = batch.num_rows
        if n == 0:
            return
        keys = np.random.default_rng(_seed(batch)).random(n)
        take = np.flatnonzero(keys < self.keys[-1]) if self.rows >= self.size else np.arange(n)
        if take.size > self.size:
            take = take[np.argsort(keys[take], kind="stable")[: self.size]]
            take.sort()
        if take.size == 0:
            return
        rows = batch.take(pa.array(take))
        values: dict[str, np.ndarray] = {}
        for name, arr in zip(rows.schema.names, rows.columns):
            spec = specs.get(name)
            kind = sampled_kind(spec) if spec is not None else None
            if kind is None or spec is None:
                continue
            self.kinds.setdefault(name, kind)
            values[name] = _numbers(arr, spec) if self.kinds[name] == "number" else _texts(arr)
        self._keep(keys[take], values)

    def _keep(self, keys: np.ndarray, values: Mapping[str, np.ndarray]) -> None:
        allk = np.concatenate([self.keys, keys])
        order = np.argsort(allk, kind="stable")[: self.size]
        merged = {}
        for name, kind in self.kinds.items():
            mine = self.values.get(name, _empty(kind, self.rows))
            theirs = values.get(name, _empty(kind, keys.size))
            merged[name] = np.concatenate([mine, theirs])[order]
        self.keys, self.values = allk[order], merged

    def merge(self, o: RowSample) -> RowSample:
        """The sample of both inputs' rows (a new object): the ``min(size)`` smallest keys
        of the union. A column on one side only is missing for the other side's rows.

        :raises ValueError: when a column is a number on one side and a category on the other.
        """
        out = RowSample(min(self.size, o.size), self.keys.copy(), dict(self.kinds),
                        {k: v.copy() for k, v in self.values.items()})
        for name, kind in o.kinds.items():
            if out.kinds.setdefault(name, kind) != kind:
                raise ValueError(f"row sample column {name!r}: cannot merge {out.kinds[name]} with {kind}")
        out._keep(o.keys, o.values)
        return out

    def restrict(self, columns: Sequence[str]) -> RowSample:
        """The same rows with only ``columns`` (those it has), in that order."""
        kept = [c for c in columns if c in self.kinds]
        return RowSample(self.size, self.keys.copy(), {c: self.kinds[c] for c in kept},
                         {c: self.values[c] for c in kept})

    def __eq__(self, o: object) -> bool:
        if not isinstance(o, RowSample):
            return NotImplemented
        if self.size != o.size or self.kinds != o.kinds or not np.array_equal(self.keys, o.keys):
            return False
        for name, kind in self.kinds.items():
            a, b = self.values[name], o.values[name]
            same = np.array_equal(a, b, equal_nan=True) if kind == "number" else list(a) == list(b)
            if not same:
                return False
        return True


def _empty(kind: str, rows: int) -> np.ndarray:
    return np.full(rows, np.nan) if kind == "number" else np.full(rows, None, dtype=object)


def pack_rows(sample: RowSample) -> bytes:
    """The binary form of a row sample (see the module docstring)."""
    arrays = [pa.array(sample.keys, type=pa.float64())]
    for name, kind in sample.kinds.items():
        values = sample.values[name]
        arrays.append(pa.array(values, type=pa.float64(), from_pandas=False) if kind == "number"
                      else pa.array(list(values), type=pa.string()))
    meta = {b"size": str(sample.size).encode(), b"kinds": json.dumps(sample.kinds).encode()}
    batch = pa.RecordBatch.from_arrays(arrays, names=[_KEY, *sample.kinds])
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, batch.schema.with_metadata(meta), options=options) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def unpack_rows(blob: bytes) -> RowSample:
    """Inverse of :func:`pack_rows`.

    :raises ValueError: when the blob is not a row sample.
    """
    try:
        table = pa.ipc.open_stream(pa.py_buffer(blob)).read_all()
    except pa.ArrowException as exc:
        raise ValueError(f"not a row sample: {exc}") from exc
    meta = table.schema.metadata or {}
    if b"kinds" not in meta or _KEY not in table.column_names:
        raise ValueError("not a row sample: no kinds or keys")
    kinds: dict[str, str] = json.loads(meta[b"kinds"])
    values = {}
    for name, kind in kinds.items():
        col = table.column(name)
        values[name] = (np.asarray(col.to_numpy(), dtype=np.float64) if kind == "number"
                        else np.array(col.to_pylist(), dtype=object))
    return RowSample(int(meta[b"size"]), np.asarray(table.column(_KEY).to_numpy(), dtype=np.float64), kinds, values)
