"""Dataset definitions and their versions (the ``datasets`` table).

A version is a definition: registering a definition that a version of the
name already has returns that version (found by the SHA-256 of its canonical
JSON), so versions do not multiply when a definition comes back."""

from __future__ import annotations

import hashlib

from monitor.errors import StoreError
from monitor.store.base import StoreBase
from monitor.store.codec import Row, _dataset_record, _to_json
from monitor.store.records import DatasetRecord, JsonDict


class DatasetsMixin(StoreBase):
    """Registering dataset definitions and reading their versions."""

    def register_dataset(
        self,
        name: str,
        definition: JsonDict,
        description: str = "",
        create_new_version: bool = True,
        *,
        settings: JsonDict | None = None,
    ) -> DatasetRecord:
        """Register ``definition`` as a version of dataset ``name``.

        A version is found by its definition (compared as canonical JSON: key
        order and spacing do not matter, see :attr:`DatasetRecord.definition_hash`):
        when a version of ``name`` has ``definition`` (the latest one, or an
        earlier one), that version is returned, its description unchanged and
        its settings replaced by ``settings`` when given. Otherwise version
        latest+1 (1 for a new name) is added.

        :param settings: JSON-able settings that are not part of the version
            (``{}`` when not given for a new version).
        :raises StoreError: the definition is new and ``create_new_version`` is
            false (``"dataset 'x' version 2 has a different definition; ..."``),
            or it is not JSON-serialisable.
        """
        canonical = _to_json(definition, f"the definition of dataset '{name}'", canonical=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        stored_settings = None if settings is None else _to_json(settings, f"the settings of dataset '{name}'",
                                                                  canonical=True)
        with self._transaction(f"register dataset '{name}'", write=True) as db:
            same = self._one("SELECT * FROM datasets WHERE name = ? AND definition_hash = ? "
                             "ORDER BY version DESC LIMIT 1", [name, digest])
            if same is not None:
                if stored_settings is not None and stored_settings != same["settings"]:
                    db.execute("UPDATE datasets SET settings = ? WHERE id = ?", [stored_settings, same["id"]])
                    same["settings"] = stored_settings
                return _dataset_record(same)
            latest = self._latest_dataset_row(name)
            if latest is not None and not create_new_version:
                raise StoreError(
                    f"dataset '{name}' version {latest['version']} has a different "
                    "definition; register with create_new_version=True to add version "
                    f"{latest['version'] + 1}"
                )
            row = {
                "name": name,
                "version": 1 if latest is None else latest["version"] + 1,
                "definition": canonical,
                "description": description,
                "created_at": self._now(),
                "definition_hash": digest,
                "settings": stored_settings or "{}",
            }
            row["id"] = self._insert("datasets", row)
        return _dataset_record(row)

    def _latest_dataset_row(self, name: str) -> Row | None:
        return self._one(
            "SELECT * FROM datasets WHERE name = ? ORDER BY version DESC LIMIT 1", [name]
        )

    def _dataset_row(self, name: str, version: int | None) -> Row:
        latest = self._latest_dataset_row(name)
        if latest is None:
            raise StoreError(f"dataset '{name}' not found")
        if version is None:
            return latest
        row = self._one(
            "SELECT * FROM datasets WHERE name = ? AND version = ?", [name, version]
        )
        if row is None:
            raise StoreError(f"dataset '{name}' has no version {version}")
        return row

    def get_dataset(self, name: str, version: int | None = None) -> DatasetRecord:
        """Version ``version`` of dataset ``name``, or its latest when ``None``.

        :raises StoreError: ``"dataset 'x' not found"`` or
            ``"dataset 'x' has no version 3"``.
        """
        with self._transaction(f"read dataset '{name}'", write=False):
            return _dataset_record(self._dataset_row(name, version))

    def list_dataset_versions(self, name: str) -> list[DatasetRecord]:
        """Every version of dataset ``name``, oldest first.

        :raises StoreError: ``"dataset 'x' not found"``.
        """
        with self._transaction(f"list the versions of dataset '{name}'", write=False):
            rows = self._all("SELECT * FROM datasets WHERE name = ? ORDER BY version", [name])
        if not rows:
            raise StoreError(f"dataset '{name}' not found")
        return [_dataset_record(row) for row in rows]

    def list_datasets(self) -> list[DatasetRecord]:
        """The latest version of every dataset, ordered by name."""
        with self._transaction("list datasets", write=False):
            rows = self._all(
                "SELECT * FROM datasets AS d WHERE version = "
                "(SELECT MAX(version) FROM datasets WHERE name = d.name) ORDER BY name",
                [],
            )
        return [_dataset_record(row) for row in rows]
