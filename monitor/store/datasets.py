"""Dataset definitions and their versions (the ``datasets`` table)."""

from __future__ import annotations

from monitor.errors import StoreError
from monitor.store.base import StoreBase
from monitor.store.codec import Row, _dataset_record, _from_json, _to_json
from monitor.store.records import DatasetRecord, JsonDict


class DatasetsMixin(StoreBase):
    """Registering dataset definitions and reading their versions."""

    def register_dataset(
        self,
        name: str,
        definition: JsonDict,
        description: str = "",
        create_new_version: bool = True,
    ) -> DatasetRecord:
        """Register ``definition`` as the newest version of dataset ``name``.

        When the latest version's definition equals ``definition`` (compared as
        canonical JSON: key order and spacing do not matter) that version is
        returned unchanged, description included. Otherwise version latest+1
        (1 for a new name) is added.

        :raises StoreError: the definition differs and ``create_new_version`` is
            false (``"dataset 'x' version 2 has a different definition; ..."``),
            or it is not JSON-serialisable.
        """
        canonical = _to_json(definition, f"the definition of dataset '{name}'", canonical=True)
        with self._transaction(f"register dataset '{name}'", write=True):
            latest = self._latest_dataset_row(name)
            if latest is not None and self._same_definition(latest, canonical):
                return _dataset_record(latest)
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
            }
            row["id"] = self._insert("datasets", row)
        return _dataset_record(row)

    @staticmethod
    def _same_definition(row: Row, canonical: str) -> bool:
        stored = _to_json(_from_json(row["definition"]), "a definition", canonical=True)
        return stored == canonical

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

    def list_datasets(self) -> list[DatasetRecord]:
        """The latest version of every dataset, ordered by name."""
        with self._transaction("list datasets", write=False):
            rows = self._all(
                "SELECT * FROM datasets AS d WHERE version = "
                "(SELECT MAX(version) FROM datasets WHERE name = d.name) ORDER BY name",
                [],
            )
        return [_dataset_record(row) for row in rows]
