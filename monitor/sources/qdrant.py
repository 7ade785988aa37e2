"""A Qdrant collection, read as one input of a dataset.

A dataset with ``collection: NAME`` on a ``qdrant`` datastore reads the
collection's points with ``qdrant-client`` (imported only here, when a
collection is read): ``client.scroll(limit=SCROLL_LIMIT, offset=...,
with_payload=..., with_vectors=...)`` pages through the points in id order,
:data:`SCROLL_LIMIT` at a time, each page one record batch of:

- ``id``: the point id (``int64``, or ``string`` for UUIDs: the first page's ids decide);
- one column per payload field (all fields, or those of ``with_payload``): the
  values of the first page a field has values in fix its type (``bool``,
  ``int64``, ``float64`` when a number there is not an integer, ``string``; a
  list or an object is its JSON text); an integer in a ``float64`` field is
  widened; a value of another type than its field's (a fraction in an
  ``int64`` field included) is a :class:`~monitor.errors.SourceError` naming
  the field and both types; a point without the field has it missing;
- ``vector`` (or the ``vector_name`` read): ``fixed_size_list<float32>``, the
  collection's vectors as Qdrant stores them.

So the same vectors read from a ``.npy`` file (:mod:`monitor.sources.npy`,
batches of the same number of rows) give the same batches of vectors, and
the same profile, sample included.

The fingerprint (:func:`collection_fingerprint`) is a SHA-256 of the
collection's name, its point count and its configuration's parameters
(vectors' size, distance, datatype, ...): it changes when points are added or
removed or the collection is re-created differently; points updated in place
keep it (Qdrant gives no cheap version of a collection's content).

Errors (server unreachable, key refused, collection missing, named vectors
without ``vector_name``) are :class:`~monitor.errors.SourceError`\\ s naming the
datastore and the collection, never the API key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from monitor.errors import SourceError
from monitor.sources.inputs import InputStat

__all__ = ["SCROLL_LIMIT", "CollectionFile", "collection_fingerprint", "reach", "read_collection"]

SCROLL_LIMIT = 4096
"""Points per ``scroll`` request and per record batch (the rows of a ``.npy`` batch)."""
FINGERPRINT_VERSION = 1



@dataclass(frozen=True)
class CollectionFile:
    """One collection of a Qdrant datastore, read as one input of a dataset.

    :param datastore: the datastore's name, used in every message.
    :param collection: the collection's name.
    :param url: the server (None in local mode); ``path`` the local-mode folder.
    :param api_key: the API key (None: none); in no message, log line or ``repr``.
    :param timeout: seconds a request may take.
    :param vector_name: the named vector to read (None: the collection's one vector).
    :param with_payload: payload fields read as columns (None: all).
    """

    datastore: str
    collection: str
    url: str | None = None
    path: str | None = None
    api_key: str | None = field(default=None, repr=False, compare=False)
    timeout: float = 60.0
    vector_name: str | None = None
    with_payload: tuple[str, ...] | None = None
    format: ClassVar[str] = "qdrant"
    suffix: ClassVar[str] = ""
    suffixes: ClassVar[list[str]] = []

    @property
    def name(self) -> str:
        """``DATASTORE.COLLECTION``, where a file input has its file name."""
        return f"{self.datastore}.{self.collection}"

    def __str__(self) -> str:
        where = f"datastore {self.datastore!r}"
        return f"{where}: collection {self.collection!r}" if self.collection else where

    def resolve(self) -> CollectionFile:
        """Itself (a collection has no path to resolve)."""
        return self

    def stat(self) -> InputStat:
        """Size and modification time, both 0: unknown."""
        return InputStat()

    def fingerprint_line(self) -> str:
        """The collection's part of a dataset's fingerprint (see :func:`collection_fingerprint`)."""
        return f"qdrant\0{collection_fingerprint(self)}\n"


@contextlib.contextmanager
def _errors(source: CollectionFile) -> Iterator[None]:
    """Turn the client's exceptions into a SourceError naming the datastore and collection."""
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - the client raises many kinds
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            what = f"the server refused the API key ({status})"
        elif status == 404 or "not found" in str(exc).lower():
            what = "collection not found"
        else:
            what = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if source.api_key:
            what = what.replace(source.api_key, "***")
        raise SourceError(f"{source}: {what}") from None


@contextlib.contextmanager
def _client(source: CollectionFile) -> Iterator[Any]:
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        raise SourceError(f"datastore {source.datastore!r} (qdrant) needs qdrant-client: "
                          "pip install 'drift-monitor[qdrant]'") from None
    with _errors(source), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if source.path is not None:
            client = QdrantClient(path=source.path) if source.path != ":memory:" else QdrantClient(":memory:")
        else:
            client = QdrantClient(url=source.url, api_key=source.api_key, timeout=int(source.timeout),
                                  check_compatibility=False)
    try:
        with _errors(source):
            if source.collection and not client.collection_exists(source.collection):
                raise SourceError(f"{source}: collection not found")
        yield client
    finally:
        client.close()


def reach(source: CollectionFile) -> None:
    """List the datastore's collections (a connection check; ``source.collection`` may be empty).

    :raises SourceError: naming the datastore when it cannot be reached or refuses the key.
    """
    with _client(source) as client, _errors(source):
        client.get_collections()


def collection_fingerprint(source: CollectionFile) -> str:
    """SHA-256 hex of the collection's name, point count and configuration
    parameters (see the module docstring for what it misses).

    :raises SourceError: naming the datastore and collection when they cannot be reached.
    """
    with _client(source) as client, _errors(source):
        info = client.get_collection(source.collection)
        params = info.config.params.model_dump(mode="json")
    described = {"version": FINGERPRINT_VERSION, "collection": source.collection, "points": info.points_count,
                 "params": params, "vector_name": source.vector_name}
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=repr).encode()).hexdigest()


def read_collection(source: CollectionFile, columns: Sequence[str] | None = None,
                    digests: Any = None) -> Iterator[pa.RecordBatch]:
    """Scroll through the collection's points, :data:`SCROLL_LIMIT` a batch (see the module docstring).

    :param columns: unused (the caller selects columns; payload fields are chosen by ``with_payload``).
    :param digests: unused.
    :raises SourceError: naming the datastore and collection.
    """
    payload: bool | list[str] = True if source.with_payload is None else list(source.with_payload)
    vectors: bool | list[str] = True if source.vector_name is None else [source.vector_name]
    vector_column = source.vector_name or "vector"
    types: dict[str, pa.DataType] = {}
    seen: set[str] = set()
    with _client(source) as client:
        offset = None
        while True:
            with _errors(source):
                points, offset = client.scroll(source.collection, limit=SCROLL_LIMIT, offset=offset,
                                               with_payload=payload, with_vectors=vectors)
            if points:
                yield _batch(source, points, types, vector_column, seen)
            if offset is None:
                return


def _batch(source: CollectionFile, points: list[Any], types: dict[str, pa.DataType],
           vector_column: str, seen: set[str]) -> pa.RecordBatch:
    ids = [p.id for p in points]
    if "id" not in types:
        types["id"] = pa.int64() if isinstance(ids[0], int) else pa.string()
    rows = [p.payload or {} for p in points]
    for row in rows:
        for key, value in row.items():
            if value is None:
                continue
            if key not in types:
                types[key] = _type_of(value)
            elif types[key] == pa.int64() and _type_of(value) == pa.float64() and key not in seen:
                types[key] = pa.float64()
    seen.update(types)
    names = ["id"] + [k for k in types if k != "id"]
    if vector_column in names:
        raise SourceError(f"{source}: payload field {vector_column!r} has the name of the vector column")
    arrays = [_id_array(source, ids, types["id"])]
    arrays += [_payload_array(source, k, [r.get(k) for r in rows], types[k]) for k in names[1:]]
    vectors = [p.vector.get(source.vector_name) if source.vector_name and isinstance(p.vector, dict) else p.vector
               for p in points]
    arrays.append(_vector_array(source, vectors))
    return pa.RecordBatch.from_arrays(arrays, names + [vector_column])


def _id_array(source: CollectionFile, ids: list[Any], t: pa.DataType) -> pa.Array:
    if t == pa.string():
        return pa.array([str(i) for i in ids], pa.string())
    if not all(isinstance(i, int) for i in ids):
        raise SourceError(f"{source}: point ids mix integers and UUIDs")
    return pa.array(ids, pa.int64())


def _type_of(value: Any) -> pa.DataType:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()


def _payload_array(source: CollectionFile, key: str, values: list[Any], t: pa.DataType) -> pa.Array:
    out: list[Any] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        vt = _type_of(v)
        if vt == t or (t == pa.float64() and vt == pa.int64()):
            out.append(v if t != pa.string() or isinstance(v, str) else json.dumps(v, sort_keys=True))
        else:
            raise SourceError(f"{source}: payload field {key!r} holds {vt} values after {t} ones")
    return pa.array(out, t)


def _vector_array(source: CollectionFile, vectors: list[Any]) -> pa.Array:
    if vectors and isinstance(vectors[0], dict):
        raise SourceError(f"{source}: the collection has named vectors ({', '.join(sorted(vectors[0]))}): "
                          "set vector_name")
    if any(v is None for v in vectors):
        raise SourceError(f"{source}: a point has no vector")
    lengths = {len(v) for v in vectors}
    if len(lengths) != 1:
        raise SourceError(f"{source}: vectors of lengths {sorted(lengths)} in one collection")
    matrix = np.asarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])
