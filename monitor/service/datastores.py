"""Datastores from the command line: check a connection, read a path of one.

``datastore_check`` reaches a datastore of the configuration and lists what
each dataset on it would read now (objects with size and version, or a query's
fingerprint), the way ``drift-monitor datastore check NAME`` shows it.
``path_source`` is the source of a path given on the command line (``profile``,
``compare-files``): a local file, a URL read with the environment's
configuration, or a path inside a named datastore.
"""

from __future__ import annotations

import time
from typing import Any

from monitor.config import Config
from monitor.errors import ConfigError, MonitorError
from monitor.sources.datastores import collection_input, dataset_source, query_input, store_of
from monitor.sources.files import FileSource
from monitor.sources.inputs import key_of

__all__ = ["datastore_check", "path_source"]

LISTED = 20
"""Inputs listed per dataset by :func:`datastore_check` (the count is always given)."""


def path_source(path: str, fmt: str | None = None, config: Config | None = None,
                datastore: str | None = None) -> FileSource:
    """The source of one path of the command line.

    :param datastore: a datastore of ``config`` the path is inside (a key, a
        glob, a prefix; a query for an ``sql`` datastore, a collection for a ``qdrant`` one).
    :raises ConfigError: when ``datastore`` is not in ``config``.
    :raises SourceError: when the datastore cannot be set up.
    """
    if datastore is None:
        return FileSource((path,), fmt)
    if config is None or datastore not in config.datastores:
        raise ConfigError([f"--datastore: unknown datastore {datastore!r}"])
    store = config.datastores[datastore]
    if store.kind == "sql":
        return FileSource((), None, query=query_input(datastore, store, path, {}, None))
    if store.kind == "qdrant":
        return FileSource((), None, query=collection_input(datastore, store, path))
    return FileSource((path,), fmt, store=store_of(datastore, store))


def datastore_check(config: Config, name: str, dataset: str | None = None) -> dict[str, Any]:
    """Reach datastore ``name`` and list what its datasets (or ``dataset`` only) would read.

    :returns: ``{"datastore", "kind", "ok", "seconds", "error", "datasets":
        [{"dataset", "ok", "inputs": [{"input", "size", "version"}], "count", "error"}]}``, and for
        a dataset with ``arrays`` beside its files, ``"arrays": [{"table", "column", "input", "size",
        "version"}]`` (those of the listed files; the pairing of every file is checked);
        ``ok`` is False when the store cannot be reached or a dataset's inputs
        cannot be listed (the error says why, naming the datastore, never a secret).
    :raises ConfigError: when ``name`` is not a datastore of ``config``, or
        ``dataset`` is not one of its datasets.
    """
    if name not in config.datastores:
        raise ConfigError([f"unknown datastore {name!r} (the configuration has: "
                           f"{', '.join(sorted(config.datastores)) or 'none'})"])
    store = config.datastores[name]
    names = sorted(n for n, ds in config.datasets.items() if ds.datastore == name)
    if dataset is not None:
        if dataset not in names:
            raise ConfigError([f"dataset {dataset!r} does not read from datastore {name!r}"])
        names = [dataset]
    out: dict[str, Any] = {"datastore": name, "kind": store.kind, "ok": True, "error": None, "datasets": []}
    started = time.monotonic()
    try:
        _reach(name, store)
    except MonitorError as exc:
        out.update(ok=False, error=str(exc))
    for ds_name in names if out["ok"] else []:
        entry = _listing(ds_name, config.datasets[ds_name])
        out["ok"] = out["ok"] and entry["ok"]
        out["datasets"].append(entry)
    out["seconds"] = round(time.monotonic() - started, 3)
    return out


def _reach(name: str, store: Any) -> None:
    if store.kind == "sql":
        from monitor.sources.files import read_file

        for _ in read_file(query_input(name, store, "SELECT 1 AS one", {}, None), "sql"):
            pass
    elif store.kind == "qdrant":
        from monitor.sources.qdrant import reach

        reach(collection_input(name, store, ""))
    else:
        store_of(name, store).check()


def _listing(name: str, ds: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"dataset": name, "ok": True, "inputs": [], "count": 0, "error": None}
    try:
        source = dataset_source(ds)
        files = source.files()
        entry["count"] = len(files)
        for item in files[:LISTED]:
            if getattr(item, "format", None) in ("sql", "qdrant"):
                from monitor.sources.digest import fingerprint

                entry["inputs"].append({"input": str(item), "size": None, "version": fingerprint([item])[:16]})
            else:
                entry["inputs"].append(_described(item))
        if source.arrays:
            entry["arrays"] = _arrays_listing(source, files)
    except MonitorError as exc:
        entry.update(ok=False, error=str(exc))
    return entry


def _described(item: Any) -> dict[str, Any]:
    """An object's (or file's) address, size in bytes and version (ETag or last-modified)."""
    return {"input": getattr(item, "url", str(item)), "size": item.stat().st_size,
            "version": getattr(item, "version", "")}


def _arrays_listing(source: Any, files: list[Any]) -> list[dict[str, Any]]:
    """The ``.npy`` arrays beside the first :data:`LISTED` files, as they pair (the pairing of all
    files is checked: a count that differs raises the reader's :class:`SourceError`)."""
    pairs = source.paired(files)
    out = []
    for table in files[:LISTED]:
        for column, array in pairs[key_of(table)]:
            out.append({"table": getattr(table, "url", str(table)), "column": column, **_described(array)})
    return out
