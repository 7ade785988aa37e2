"""A snapshot's data copy as the dataset's rows (``Snapshot.to_pandas_dataframe``)."""

from __future__ import annotations

import pyarrow as pa

from monitor.errors import StoreError
from monitor.service.runner import load_data_copy
from monitor.sources.csv_types import typed_table
from monitor.sources.files import is_text
from monitor.store import SnapshotRecord, Store


def data_copy_table(store: Store, snap: SnapshotRecord) -> pa.Table:
    """The data copy of a completed snapshot as the dataset's rows, typed: a
    copy of CSV data (kept as text) typed as the profile types it, with the
    ``types`` of the snapshot's dataset version
    (:func:`monitor.sources.csv_types.typed_table`); any other as stored.

    :raises StoreError: the snapshot is running or failed, has no data copy, or
        it cannot be read.
    """
    if snap.status != "completed":
        detail = f"failed: {snap.reason}" if snap.status == "failed" else f"{snap.status}, not completed"
        raise StoreError(f"snapshot {snap.name!r} of dataset {snap.dataset!r} is {detail}")
    table = load_data_copy(snap)
    if not is_text(table.schema):
        return table
    types = store.get_dataset(snap.dataset, snap.dataset_version).definition.get("types") or {}
    try:
        return typed_table(table, types)
    except (ValueError, pa.ArrowException) as exc:
        raise StoreError(f"snapshot {snap.name!r}: cannot type the data copy {snap.data_copy}: {exc}") from exc
