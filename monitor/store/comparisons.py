"""Comparison results and the path of their HTML report (the ``comparisons``
table)."""

from __future__ import annotations

import os

from monitor.errors import StoreError
from monitor.store.codec import Row, _comparison_record, _comparison_summary, _to_json
from monitor.store.records import ComparisonRecord, ComparisonSummary, JsonDict, SnapshotRecord
from monitor.store.snapshots import SnapshotsMixin


class ComparisonsMixin(SnapshotsMixin):
    """Recording and reading comparisons; both sides of a comparison are stored
    snapshots, so this builds on :class:`SnapshotsMixin`."""

    def record_comparison(
        self,
        *,
        monitor: str | None,
        dataset: str,
        baseline: SnapshotRecord,
        target: SnapshotRecord,
        drifted: bool,
        severity: str,
        result: JsonDict,
        report_path: str | os.PathLike[str] | None = None,
        baseline_spec: JsonDict | None = None,
        summary: JsonDict | None = None,
    ) -> ComparisonRecord:
        """Store the result of comparing ``target`` with ``baseline``.

        :param result: the JSON-able result dict (key order is kept).
        :param baseline_spec: JSON-able description of the baseline (its kind and
            every snapshot it was made of), stored as given; ``baseline`` is then
            the one snapshot the row points at (e.g. the newest of several).
        :param summary: a smaller view of ``result`` that
            :meth:`list_comparisons` gives instead of it when asked
            (``summaries=True``), e.g. what a history page reads.

        The target's time (its ``window_start``, else its ``created_at``) is
        recorded as ``target_time``, which outlives the target snapshot.
        :raises StoreError: either snapshot no longer exists; ``result``,
            ``baseline_spec`` or ``summary`` is not JSON-serialisable.
        """
        result_json = _to_json(result, "the comparison result")
        summary_json = None if summary is None else _to_json(summary, "the comparison summary")
        spec_json = None if baseline_spec is None else _to_json(baseline_spec, "the baseline of the comparison")
        with self._transaction("record a comparison", write=True):
            self._snapshot_row_by_id(baseline.id)
            target_row = self._snapshot_row_by_id(target.id)
            comparison_id = self._insert(
                "comparisons",
                {
                    "monitor": monitor,
                    "dataset": dataset,
                    "baseline_snapshot_id": baseline.id,
                    "target_snapshot_id": target.id,
                    "baseline_name": baseline.name,
                    "target_name": target.name,
                    "created_at": self._now(),
                    "drifted": int(drifted),
                    "severity": severity,
                    "result": result_json,
                    "report_path": None if report_path is None else os.fspath(report_path),
                    "baseline_spec": spec_json,
                    "summary": summary_json,
                    "target_time": target_row["window_start"] or target_row["created_at"],
                },
            )
            return _comparison_record(self._comparison_row(comparison_id))

    def _comparison_row(self, comparison_id: int) -> Row:
        row = self._one("SELECT * FROM comparisons WHERE id = ?", [comparison_id])
        if row is None:
            raise StoreError(f"comparison {comparison_id} not found")
        return row

    def get_comparison(self, comparison_id: int) -> ComparisonRecord:
        """The comparison with id ``comparison_id``.

        :raises StoreError: ``"comparison 7 not found"``.
        """
        with self._transaction(f"read comparison {comparison_id}", write=False):
            return _comparison_record(self._comparison_row(comparison_id))

    def list_comparisons(
        self, dataset: str | None = None, monitor: str | None = None, *, limit: int | None = None,
        summaries: bool = False,
    ) -> list[ComparisonRecord]:
        """Comparisons matching the filters given, newest first by (created_at, id);
        only the newest ``limit`` when it is given. With ``summaries``, each
        record's ``result`` is its recorded summary where it has one (the full
        result is then not read), else the full result.

        :raises StoreError: ``limit`` is negative.
        """
        rows = self._comparison_rows(_SUMMARY_COLUMNS if summaries else "*", dataset, monitor, limit)
        return [_comparison_record(row) for row in rows]

    def list_comparison_summaries(
        self, dataset: str | None = None, monitor: str | None = None, *, limit: int | None = None
    ) -> list[ComparisonSummary]:
        """Like :meth:`list_comparisons`, but each comparison without its full
        result: only the result's ``verdict`` is read (a listing of many
        comparisons stays small however many columns they compared).

        :raises StoreError: ``limit`` is negative.
        """
        columns = ("id, monitor, dataset, baseline_snapshot_id, target_snapshot_id, baseline_name, target_name, "
                   "created_at, drifted, severity, report_path, json_extract(COALESCE(summary, result), '$.verdict') AS verdict")
        rows = self._comparison_rows(columns, dataset, monitor, limit)
        return [_comparison_summary(row) for row in rows]

    def _comparison_rows(self, columns: str, dataset: str | None, monitor: str | None, limit: int | None) -> list[Row]:
        if limit is not None and limit < 0:
            raise StoreError(f"cannot list {limit} comparisons")
        filters = {"dataset": dataset, "monitor": monitor}
        used = {key: value for key, value in filters.items() if value is not None}
        where = " AND ".join(f"{key} = ?" for key in used) or "1"
        bounded = "" if limit is None else f" LIMIT {int(limit)}"
        with self._transaction("list comparisons", write=False):
            return self._all(
                f"SELECT {columns} FROM comparisons WHERE {where} ORDER BY created_at DESC, id DESC{bounded}",
                list(used.values()),
            )

    def compared_monitors(self) -> list[str]:
        """The names of the monitors that have at least one comparison, sorted."""
        with self._transaction("list the compared monitors", write=False):
            rows = self._all("SELECT DISTINCT monitor FROM comparisons WHERE monitor IS NOT NULL ORDER BY monitor", [])
        return [str(row["monitor"]) for row in rows]

    def set_report_path(
        self, comparison_id: int, path: str | os.PathLike[str] | None
    ) -> ComparisonRecord:
        """Record where the HTML report of a comparison was written.

        :raises StoreError: ``"comparison 7 not found"``.
        """
        value = None if path is None else os.fspath(path)
        with self._transaction(f"set the report of comparison {comparison_id}", write=True) as db:
            self._comparison_row(comparison_id)
            db.execute(
                "UPDATE comparisons SET report_path = ? WHERE id = ?", [value, comparison_id]
            )
            return _comparison_record(self._comparison_row(comparison_id))


_SUMMARY_COLUMNS = (
    "id, monitor, dataset, baseline_snapshot_id, target_snapshot_id, baseline_name, target_name, created_at, "
    "drifted, severity, COALESCE(summary, result) AS result, report_path, baseline_spec, target_time"
)
"""The columns of a comparison row with its summary as its result, where it has one."""
