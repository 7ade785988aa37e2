"""The models' base and the dataset section: what a dataset reads and how."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

FORMATS = ("csv", "parquet", "jsonl", "npy")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
"""``${NAME}`` or ``${NAME:-default}`` in a string value."""
UNVERSIONED = ("description", "fingerprint")
"""The keys of a dataset that are not part of its versions' definition."""
KINDS = ("integer", "decimal", "string", "boolean", "datetime", "categorical")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSelection(_Model):
    """Which columns of a dataset are profiled: ``include`` (only these) and/or
    ``exclude`` (all but these)."""

    include: tuple[str, ...] | None = Field(default=None, description="profile only these columns")
    exclude: tuple[str, ...] = Field(default=(), description="profile every column but these")


class DatasetConfig(_Model):
    """A dataset definition: where its files are (or which query gives its rows)
    and how to read them.

    ``path`` names local files, or objects of a ``datastore`` (keys inside its
    bucket or container, paths under its base URL), or URLs (``s3://``,
    ``az://``, ``https://``) read with the standard environment configuration.
    ``query`` is an SQL SELECT of an ``sql`` datastore, with bound ``params``.
    ``collection`` is a collection of a ``qdrant`` datastore.
    """

    path: str | tuple[str, ...] | None = Field(
        default=None,
        description="a file, a folder (every file of the format inside, recursively) or a glob; or a list of them; "
        "keys or paths inside the datastore when one is named",
    )
    datastore: str | None = Field(default=None, description="the datastore the path, query or collection is read from")
    query: str | None = Field(
        default=None, description="an SQL SELECT run on the (sql) datastore; :name placeholders take params")
    params: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="values bound to the query's :name placeholders (never formatted in)")
    checksum_column: str | None = Field(
        default=None, description="a column of the query whose aggregate joins the fingerprint (SQL)")
    collection: str | None = Field(
        default=None, min_length=1, description="a collection of the (qdrant) datastore, read point by point")
    vector_name: str | None = Field(
        default=None, description="the named vector of the collection to read (collections with named vectors)")
    with_payload: tuple[str, ...] | None = Field(
        default=None, description="the payload fields read as columns (default: all of them; [] for none)")
    format: Literal["csv", "parquet", "jsonl", "npy"] | None = Field(
        default=None, description="file format (npy: a 2-D array read as one vector column, vector); "
        "inferred from the file extension when omitted"
    )
    columns: ColumnSelection = Field(
        default=ColumnSelection(), description="which columns are profiled: {include: [...]} or {exclude: [...]}")
    types: dict[str, Literal["integer", "decimal", "string", "boolean", "datetime", "categorical"]] = Field(
        default_factory=dict, description="column type overrides, column name -> kind"
    )
    description: str = Field(default="", description="free text, stored with the dataset's definition")
    timestamp_column: str | None = Field(
        default=None,
        description="a datetime column; a monitor with a window profiles the rows whose time falls in it",
    )
    arrays: dict[str, str | tuple[str, ...]] = Field(
        default_factory=dict,
        description="vector columns read from .npy arrays beside the table: column name -> a file, a folder or a "
        "glob of .npy files (or a list of them), one 2-D array per table file, paired in sorted order; row i of "
        "an array is row i of its table file",
    )
    fingerprint: Literal["metadata", "content"] = Field(
        default="metadata",
        description="what a snapshot's input fingerprint is made of: each file's path, size and modification "
        "time (metadata), or a SHA-256 of each file's bytes (content)",
    )

    _datastore: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _path_or_query(self) -> DatasetConfig:
        if sum(v is not None for v in (self.path, self.query, self.collection)) != 1:
            raise ValueError("set path (files or objects), query (SQL) or collection (Qdrant), one of them")
        if self.collection is not None and self.datastore is None:
            raise ValueError("a collection needs datastore: the name of a qdrant datastore")
        if self.collection is None and (self.vector_name is not None or self.with_payload is not None):
            raise ValueError("vector_name and with_payload go with a collection")
        if self.collection is not None and self.format is not None:
            raise ValueError("format is for files; a collection's points come typed from Qdrant")
        if self.query is not None and self.datastore is None:
            raise ValueError("a query needs datastore: the name of an sql datastore")
        if self.query is None and (self.params or self.checksum_column):
            raise ValueError("params and checksum_column go with a query")
        if self.query is not None and self.format is not None:
            raise ValueError("format is for files; a query's rows come typed from the database")
        if self.arrays and self.path is None:
            raise ValueError("arrays go with files (path): a query's or a collection's rows have no row numbers "
                             "to pair with")
        if any(not name for name in self.arrays) or any(not patterns for patterns in self.arrays.values()):
            raise ValueError("arrays: each entry is a column name and the .npy files of that column")
        return self

    def array_paths(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The ``arrays`` entry as ``(column, patterns)`` pairs, patterns as a tuple."""
        return tuple((c, (p,) if isinstance(p, str) else tuple(p)) for c, p in self.arrays.items())

    @property
    def paths(self) -> tuple[str, ...]:
        """The ``path`` entry as a tuple of strings (empty for a query)."""
        if self.path is None:
            return ()
        return (self.path,) if isinstance(self.path, str) else self.path

    @property
    def store(self) -> Any:
        """The datastore configuration this dataset reads from
        (:mod:`monitor.config.datastores`), attached when the file was read;
        None for local files and URLs read with the environment's configuration."""
        return self._datastore

    def with_store(self, store: Any) -> DatasetConfig:
        """A copy reading from ``store`` (the configuration of its ``datastore``)."""
        copy = self.model_copy()
        copy._datastore = store
        return copy

    def definition(self) -> dict[str, Any]:
        """The part of the dataset that makes a version, as JSON: its sources
        (``path``, ``format``, ``arrays``), ``columns``, ``types`` and ``timestamp_column``.
        Not ``description`` (kept beside the version) nor ``fingerprint`` (a
        setting of the snapshots, see :meth:`settings`): changing those registers
        no new version."""
        return self.model_dump(mode="json", exclude=set(UNVERSIONED))

    def settings(self) -> dict[str, Any]:
        """The settings that are not part of a version, as JSON, those at their
        default left out (``{}`` or ``{"fingerprint": "content"}``)."""
        data = self.model_dump(mode="json", include={"fingerprint"})
        return {k: v for k, v in data.items() if v != type(self).model_fields[k].default}

    @classmethod
    def from_version(cls, definition: dict[str, Any], settings: dict[str, Any] | None = None,
                     description: str = "") -> DatasetConfig:
        """The dataset of a registered version: its :meth:`definition`, its
        :meth:`settings` and its description.

        :raises pydantic.ValidationError: when the stored definition is not a
            dataset definition of this release.
        """
        return cls.model_validate({**definition, **(settings or {}), "description": description})

    @model_serializer(mode="wrap")
    def _without_unset_timestamp(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave ``timestamp_column``, the datastore keys and ``arrays`` out while they are
        not set, so the definition of a dataset without them stays equal to the
        one registered before the keys existed (no new dataset version on upgrade)."""
        data = handler(self)
        if isinstance(data, dict):
            for key in _UNSET_LEFT_OUT:
                if key in data and data[key] in (None, {}):
                    data.pop(key)
        return data


_UNSET_LEFT_OUT = ("path", "timestamp_column", "datastore", "query", "params", "checksum_column", "collection",
                   "vector_name", "with_payload", "arrays")
