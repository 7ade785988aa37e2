"""The models' base and the dataset section: what a dataset reads and how."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

FORMATS = ("csv", "parquet", "jsonl")
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
    """A dataset definition: where its files are and how to read them."""

    path: str | tuple[str, ...] = Field(
        description="a file, a folder (every file of the format inside, recursively) or a glob; or a list of them"
    )
    format: Literal["csv", "parquet", "jsonl"] | None = Field(
        default=None, description="file format; inferred from the file extension when omitted"
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
    fingerprint: Literal["metadata", "content"] = Field(
        default="metadata",
        description="what a snapshot's input fingerprint is made of: each file's path, size and modification "
        "time (metadata), or a SHA-256 of each file's bytes (content)",
    )

    @property
    def paths(self) -> tuple[str, ...]:
        """The ``path`` entry as a tuple of strings."""
        return (self.path,) if isinstance(self.path, str) else self.path

    def definition(self) -> dict[str, Any]:
        """The part of the dataset that makes a version, as JSON: its sources
        (``path``, ``format``), ``columns``, ``types`` and ``timestamp_column``.
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
        """Leave ``timestamp_column`` out while it is not set, so the definition
        of a dataset without one stays equal to the one registered before the
        key existed (no new dataset version on upgrade)."""
        data = handler(self)
        if isinstance(data, dict) and data.get("timestamp_column") is None:
            data.pop("timestamp_column", None)
        return data
