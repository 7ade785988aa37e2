"""Either side of a comparison, wherever it is: a snapshot of any dataset in
the store, or a snapshot file (:mod:`monitor.service.transfer`).

A reference is written:

- ``DATASET:SNAPSHOT``: snapshot ``SNAPSHOT`` of dataset ``DATASET`` in the
  store (split at the first ``:``);
- ``file:PATH``, or any ``PATH`` ending in ``.dmsnap``: a snapshot file.

:func:`compare_sides` compares two resolved sides by their profiles, or by
their data copies with ``exact``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from monitor.errors import ConfigError, StoreError
from monitor.profile import DatasetProfile
from monitor.service.archive import EXTENSION
from monitor.service.transfer import SnapshotFile, read_snapshot_file
from monitor.store import SnapshotRecord, Store

FILE_PREFIX = "file:"


@dataclass(frozen=True)
class SnapshotRef:
    """A parsed reference: ``path`` for a snapshot file, else ``dataset`` and ``name``."""

    text: str
    dataset: str | None = None
    name: str | None = None
    path: Path | None = None

    @property
    def is_file(self) -> bool:
        """Whether it names a snapshot file."""
        return self.path is not None


def is_file_ref(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` names a snapshot file (``file:PATH`` or ``*.dmsnap``, or a path object)."""
    if not isinstance(text, str):
        return True
    return text.startswith(FILE_PREFIX) or text.endswith(EXTENSION)


def parse_ref(text: str | os.PathLike[str]) -> SnapshotRef:
    """Parse a reference (see the module docstring).

    :raises ConfigError: it is neither form, or a part is empty.
    """
    if not isinstance(text, str):
        return SnapshotRef(os.fspath(text), path=Path(os.fspath(text)))
    if is_file_ref(text):
        path = text[len(FILE_PREFIX):] if text.startswith(FILE_PREFIX) else text
        if not path:
            raise ConfigError([f"{text!r}: file: needs a path, e.g. file:exports/jan{EXTENSION}"])
        return SnapshotRef(text, path=Path(path))
    dataset, colon, name = text.partition(":")
    if not colon or not dataset or not name:
        raise ConfigError([f"{text!r}: name a snapshot as DATASET:SNAPSHOT, or a snapshot file as file:PATH "
                           f"or PATH{EXTENSION}"])
    return SnapshotRef(text, dataset=dataset, name=name)


@dataclass(frozen=True)
class Side:
    """One side of a comparison, resolved.

    :ivar label: how reports and messages name it: the snapshot's name when
        both sides are snapshots of one dataset in the store, else the reference.
    :ivar record: the stored snapshot, or ``None`` for a snapshot file.
    :ivar file: the snapshot file read and checked, or ``None``.
    """

    label: str
    dataset: str
    name: str
    created_at: datetime
    record: SnapshotRecord | None = None
    file: SnapshotFile | None = None

    def profile(self, store: Store | None) -> DatasetProfile:
        """The side's profile. :raises StoreError: it cannot be loaded."""
        if self.file is not None:
            return self.file.dataset_profile()
        from monitor.service.runner import load_profile

        assert self.record is not None and store is not None
        return load_profile(store, self.record)

    def data(self) -> pa.Table:
        """The side's data copy. :raises StoreError: it has none."""
        if self.file is not None:
            return self.file.data_table()
        from monitor.service.runner import load_data_copy

        assert self.record is not None
        return load_data_copy(self.record)


def resolve(store: Store | None, ref: SnapshotRef) -> Side:
    """The side a reference names.

    :raises StoreError: the snapshot is not in the store (or there is no store);
        :class:`~monitor.errors.SnapshotFileError` when the file is damaged.
    """
    if ref.path is not None:
        file = read_snapshot_file(ref.path)
        return Side(ref.text, file.dataset, file.name, file.created_at, file=file)
    assert ref.dataset is not None and ref.name is not None
    if store is None:
        raise StoreError(f"{ref.text!r} names a snapshot in a store, and no store is open")
    record = store.get_snapshot(ref.dataset, ref.name)
    return Side(ref.text, record.dataset, record.name, record.created_at, record=record)


def resolve_pair(store: Store | None, baseline: str | os.PathLike[str],
                 target: str | os.PathLike[str]) -> tuple[Side, Side]:
    """Both sides; a stored pair of one dataset is labelled by snapshot names,
    as the one-dataset form ``compare DATASET BASELINE TARGET`` does."""
    base, tgt = (resolve(store, parse_ref(r)) for r in (baseline, target))
    if base.record is not None and tgt.record is not None and base.dataset == tgt.dataset:
        base, tgt = _named(base), _named(tgt)
    return base, tgt


def _named(side: Side) -> Side:
    return Side(side.name, side.dataset, side.name, side.created_at, record=side.record)


def compare_sides(store: Store | None, baseline: Side, target: Side, settings: Any, *, exact: bool = False) -> Any:
    """Compare two sides by their profiles, or by their data copies when ``exact``.

    :returns: a :class:`monitor.drift.DatasetDrift`.
    :raises StoreError: a profile or data copy cannot be loaded.
    """
    from monitor import drift

    if exact:
        return drift.compare_data(baseline.data(), target.data(), settings)
    return drift.compare_profiles(baseline.profile(store), target.profile(store), settings)
