"""Dataset versions: which registered version a snapshot of a dataset records,
and the versions of a dataset as ``dataset versions`` lists them.

A version is a definition (:meth:`monitor.config.DatasetConfig.definition`:
sources, columns, types, timestamp column): registering a definition that a
version already has gives that version (the store finds it by the SHA-256 of its
canonical JSON), and a snapshot taken through a ``Dataset`` object of version 1
records version 1 whatever versions were registered since.
"""

from __future__ import annotations

from typing import Any

from monitor.config import DatasetConfig
from monitor.errors import StoreError
from monitor.store import DatasetRecord, Store


def register(store: Store, name: str, ds: DatasetConfig, *, create_new_version: bool = True) -> int:
    """Record the dataset's definition (:meth:`DatasetConfig.definition
    <monitor.config.DatasetConfig.definition>`: sources, columns, types,
    timestamp column) and its settings; a new definition becomes a new version,
    one that a version already has is that version. :returns: the version.

    :raises StoreError: the definition is new and not ``create_new_version``.
    """
    return store.register_dataset(name, ds.definition(), ds.description, create_new_version,
                                  settings=ds.settings()).version


def dataset_version(store: Store, name: str, ds: DatasetConfig, version: int | None = None) -> int:
    """The version a snapshot of ``ds`` records: ``version`` when given (nothing
    is registered), else the one :func:`register` gives.

    :raises StoreError: ``version`` does not exist, or its definition is not
        the one of ``ds``.
    """
    if version is None:
        return register(store, name, ds)
    record = store.get_dataset(name, version)
    if _normalised(record.definition) != _normalised(ds.definition()):
        raise StoreError(f"dataset {name!r} version {version} has another definition than the one given; "
                         "register the dataset to get the version of its definition")
    return version


def _normalised(definition: dict[str, Any]) -> Any:
    """A definition as this release writes it (keys it lacks at their defaults)."""
    try:
        return DatasetConfig.from_version(definition).definition()
    except ValueError:  # pydantic's ValidationError: a definition of another release
        return definition


def version_rows(records: list[DatasetRecord]) -> list[dict[str, Any]]:
    """The versions of a dataset as ``dataset versions`` shows them, oldest
    first: ``version``, ``created_at`` (ISO 8601, UTC), ``definition_hash``
    (SHA-256 hex of the definition's canonical JSON), ``description``,
    ``settings`` and ``definition``."""
    return [{"version": r.version, "created_at": r.created_at.isoformat(timespec="seconds"),
             "definition_hash": r.definition_hash, "description": r.description,
             "settings": r.settings, "definition": r.definition} for r in records]

