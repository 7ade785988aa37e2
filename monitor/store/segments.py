"""Per-segment profiles of snapshots (the ``segment_profiles`` and
``segment_columns`` tables, migration 6).

A monitor with ``segments`` stores, beside a snapshot's profile of all its rows,
one profile per value of the segment column (see
:mod:`monitor.service.segments`): a ``segment_profiles`` row per segment (its
name, rows and dataset-level profile JSON) and a ``segment_columns`` row per
column of it (as ``column_profiles`` holds a snapshot's columns). Both are
deleted with their snapshot (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.errors import StoreError
from monitor.store.codec import _column_profile, _column_row, _format_version, _from_json, _to_json
from monitor.store.records import JsonDict
from monitor.store.snapshots import SnapshotsMixin

SegmentRecords = tuple[str, JsonDict, list[JsonDict]]
"""One segment as stored: (segment name, dataset-level profile, column dicts);
the dicts are those of :meth:`~monitor.store.Store.complete_snapshot`."""


class SegmentsMixin(SnapshotsMixin):
    """Saving and loading the per-segment profiles of a snapshot."""

    def save_segment_profiles(self, snapshot_id: int, column: str, segments: Sequence[SegmentRecords]) -> None:
        """Store the segment profiles of a running snapshot (replacing any), in
        one transaction; call before :meth:`complete_snapshot`, so a snapshot is
        never completed with half its segments.

        :param column: the segment column.
        :param segments: one (name, profile, columns) per segment; each profile
            must carry ``row_count`` and an integer ``format_version``.
        :raises StoreError: the snapshot is missing or not running, a segment is
            named twice, or a column dict is malformed.
        """
        names = [name for name, _, _ in segments]
        if len(set(names)) != len(names):
            raise StoreError(f"snapshot {snapshot_id}: a segment is named twice")
        heads, rows = [], []
        for position, (name, profile, columns) in enumerate(segments):
            _format_version(profile)
            heads.append({"snapshot_id": snapshot_id, "segment": name, "position": position,
                          "segment_column": column, "row_count": int(profile.get("row_count", 0)),
                          "profile": _to_json(profile, f"the profile of segment {name!r}")})
            for i, col in enumerate(columns):
                row = _column_row(snapshot_id, i, col)
                row["segment"] = name
                rows.append(row)
        with self._transaction(f"save the segments of snapshot {snapshot_id}", write=True) as db:
            self._running_row(snapshot_id, "save the segments of")
            db.execute("DELETE FROM segment_profiles WHERE snapshot_id = ?", [snapshot_id])
            db.execute("DELETE FROM segment_columns WHERE snapshot_id = ?", [snapshot_id])
            if heads:
                db.table("segment_profiles").insert_all(heads)
            if rows:
                db.table("segment_columns").insert_all(rows)

    def load_segment_profiles(self, snapshot_id: int) -> tuple[str | None, list[SegmentRecords]]:
        """The segment profiles :meth:`save_segment_profiles` stored:
        ``(segment column, [(name, profile, columns), ...])`` in the order saved;
        ``(None, [])`` for a snapshot without segments.

        :raises StoreError: the store cannot be read.
        """
        with self._transaction(f"load the segments of snapshot {snapshot_id}", write=False):
            heads = self._all("SELECT * FROM segment_profiles WHERE snapshot_id = ? ORDER BY position",
                              [snapshot_id])
            cols = self._all("SELECT * FROM segment_columns WHERE snapshot_id = ? ORDER BY segment, position",
                             [snapshot_id])
        by_segment: dict[str, list[JsonDict]] = {}
        for row in cols:
            by_segment.setdefault(row["segment"], []).append(_column_profile(row))
        column = heads[0]["segment_column"] if heads else None
        return column, [(h["segment"], _from_json(h["profile"]), by_segment.get(h["segment"], [])) for h in heads]
