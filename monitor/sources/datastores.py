"""A dataset definition turned into the source that reads it.

``dataset_source`` takes a dataset's configuration (``monitor.config.DatasetConfig``,
read here by its attributes only, so the sources do not depend on the
configuration's package) and gives the :class:`~monitor.sources.files.FileSource`
of its local files, of the objects of its datastore, of its URLs, of its SQL
query, or of its Qdrant collection. ``datastore_check`` reaches a datastore and lists what a dataset would read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.errors import SourceError
from monitor.sources.files import FileSource
from monitor.sources.remote import ObjectStore, object_store, read_secret

__all__ = ["collection_input", "dataset_source", "query_input", "sql_url", "store_of"]


def store_of(name: str, config: Any) -> ObjectStore:
    """The :class:`ObjectStore` of an object-store datastore (``s3``,
    ``azure_blob``, ``http``).

    :raises SourceError: for an ``sql`` datastore, or a client package not installed.
    :raises ConfigError: when a ``*_file`` secret cannot be read.
    """
    return object_store(name, config)


def sql_url(name: str, config: Any) -> str:
    """The SQLAlchemy URL of an ``sql`` datastore, with its password (from
    ``password`` or ``password_file``) set in it.

    :raises SourceError: when SQLAlchemy is not installed or the URL is not one.
    :raises ConfigError: when a ``*_file`` secret cannot be read.
    """
    where = f"datastore {name!r}"
    url = read_secret(config.url, config.url_file, f"{where} url_file") or ""
    password = read_secret(config.password, config.password_file, f"{where} password_file")
    if password is None:
        return url
    try:
        from sqlalchemy.engine import make_url
    except ImportError:
        raise SourceError(f"{where} (sql) needs SQLAlchemy: pip install 'drift-monitor[sql]'") from None
    try:
        return str(make_url(url).set(password=password).render_as_string(hide_password=False))
    except Exception as exc:  # noqa: BLE001 - an unparsable URL
        raise SourceError(f"{where}: url is not an SQLAlchemy URL ({type(exc).__name__})") from None


def query_input(name: str, config: Any, query: str, params: dict[str, Any], checksum_column: str | None) -> Any:
    """The :class:`~monitor.sources.sql.QueryFile` of a dataset's query on an
    ``sql`` datastore (checked to be a single SELECT).

    :raises SourceError: naming the datastore when the query is not a SELECT.
    """
    from monitor.sources.sql import QueryFile, check_read_only

    url = sql_url(name, config)
    try:
        check_read_only(query, url.split(":", 1)[0].split("+", 1)[0] or None)
    except SourceError as exc:
        raise SourceError(f"datastore {name!r}: {exc}") from None
    return QueryFile(name, url, query, tuple(sorted(params.items())), checksum_column)


def collection_input(name: str, config: Any, collection: str, vector_name: str | None = None,
                     with_payload: Sequence[str] | None = None) -> Any:
    """The :class:`~monitor.sources.qdrant.CollectionFile` of a collection of a
    ``qdrant`` datastore (its API key read from ``api_key`` or ``api_key_file``).

    :raises ConfigError: when ``api_key_file`` cannot be read.
    """
    from monitor.sources.qdrant import CollectionFile

    key = read_secret(config.api_key, config.api_key_file, f"datastore {name!r} api_key_file")
    return CollectionFile(name, collection, config.url, config.path, key, float(config.timeout), vector_name,
                          None if with_payload is None else tuple(with_payload))


def dataset_source(ds: Any, columns: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> FileSource:
    """The source of a dataset definition, reading ``columns`` (None: all) but ``exclude``.

    :param ds: a ``DatasetConfig`` (``paths``, ``format``, ``datastore``,
        ``store``, ``query``, ``params``, ``checksum_column``, ``collection``,
        ``vector_name``, ``with_payload``, ``arrays``: the ``.npy`` arrays
        beside the files, read as vector columns; ``columns`` and ``exclude``
        select among them too).
    :raises SourceError: when the dataset names a datastore the configuration
        does not hold, or its datastore cannot be set up (package missing).
    :raises ConfigError: when a datastore's ``*_file`` secret cannot be read.
    """
    cols = None if columns is None else tuple(columns)
    if ds.datastore is not None and ds.store is None:
        raise SourceError(f"datastore {ds.datastore!r} is not in the configuration")
    if getattr(ds, "collection", None) is not None:
        return FileSource((), None, cols, tuple(exclude),
                          query=collection_input(ds.datastore, ds.store, ds.collection, ds.vector_name,
                                                 ds.with_payload))
    if ds.query is not None:
        query = query_input(ds.datastore, ds.store, ds.query, dict(ds.params), ds.checksum_column)
        return FileSource((), None, cols, tuple(exclude), query=query)
    store = store_of(ds.datastore, ds.store) if ds.datastore is not None else None
    arrays = tuple((c, p) for c, p in _arrays_of(ds) if (cols is None or c in cols) and c not in exclude)
    if cols is not None and arrays:
        cols = tuple(c for c in cols if c not in dict(arrays))
    return FileSource(tuple(ds.paths), ds.format, cols, tuple(exclude), store=store, arrays=arrays)


def _arrays_of(ds: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A dataset definition's ``arrays`` as ``(column, patterns)`` pairs (none when it has no such key)."""
    arrays = getattr(ds, "arrays", None) or {}
    return tuple((c, (p,) if isinstance(p, str) else tuple(p)) for c, p in arrays.items())
