"""Segments: profile and compare each value of a column separately.

A monitor with ``segments: {column: carrier, max: 20}`` profiles, in the same
single pass over the dataset, the whole dataset (as a plain snapshot does) and
the rows of each value of ``column`` apart (:func:`profile_segments`): each
batch's rows are grouped by value (``pyarrow.compute.dictionary_encode``, then
a stable sort and zero-copy slices) and each group is added to that value's
:class:`~monitor.profile.ProfileState`. The segment column itself is left out
of the segment profiles (it is constant within a segment). A missing value is
the segment ``(missing)``. At most ``TRACKED_FACTOR * max`` values are
profiled apart; rows of values first seen after that go to ``(other)``.

The snapshot stores every profiled segment (:mod:`monitor.store.segments`).

Which segments are compared (:func:`compare_segmented`): the ``max`` segments
with the most rows in the *target* (ties by name), each with the baseline's
profile of the same value; every other value, on both sides, is merged into
one ``(other)`` segment. Because both sides keep every value they saw (up to
the cap) the set is the same on both sides, whatever each side's own top
values were: a value in the target's top ``max`` but only in the baseline's
tail is still compared with its own baseline rows. A chosen value the baseline
never had is ``added``; a value among the baseline's top ``max`` that the
target lacks is ``removed``. Added and removed segments are reported, not
counted as drift (the segment column's own category shares, compared in the
whole dataset, catch a changed mix).

False alarms: with ``S`` segments compared, the whole dataset and each
segment are compared at ``false_alarm_rate / (S + 1)`` each, so that the
chance that a run without drift raises any alarm stays at most
``false_alarm_rate`` (Bonferroni's inequality, as within one comparison).

A run drifts when the whole dataset or any compared segment drifted; its
severity is the worst of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.config import DatasetConfig, SegmentsConfig
from monitor.errors import MonitorError, SourceError, StoreError
from monitor.profile import DatasetProfile, ProfileState, RowSample, finish_profile, profile_from_records, profile_to_records, resolve_specs
from monitor.service.baselines import Baseline, baseline_profile, snapshot_profile
from monitor.service.windowed import _pieces
from monitor.sources.digest import digests_for, input_fingerprint
from monitor.sources.datastores import dataset_source
from monitor.store import SnapshotRecord, Store

__all__ = ["MISSING", "OTHER", "TRACKED_FACTOR", "SegmentedDrift", "SegmentedProfile", "compare_segmented",
           "drifted_segments", "profile_segments", "take_segmented_snapshot"]

OTHER = "(other)"
"""The segment of every value not compared one by one."""
MISSING = "(missing)"
"""The segment of the rows whose segment value is missing."""
TRACKED_FACTOR = 10
"""Values profiled apart per snapshot: ``TRACKED_FACTOR * max``."""
SEVERITY_RANK = {"none": 0, "warning": 1, "critical": 2}


@dataclass
class SegmentedProfile:
    """The result of :func:`profile_segments`.

    :ivar whole: the profile of every row (the segment column included).
    :ivar segments: segment name -> the profile of its rows (without the segment
        column), most rows first, ties by name.
    :ivar fingerprint: the fingerprint of the files read.
    """

    whole: DatasetProfile
    segments: dict[str, DatasetProfile] = field(default_factory=dict)
    fingerprint: str = ""


def _key(value: Any) -> str:
    return MISSING if value is None else str(value)


@dataclass
class _Pass:
    specs: dict[str, Any]
    types: dict[str, str]
    tracked: int
    ids: dict[str, int] = field(default_factory=dict)
    states: dict[int, ProfileState] = field(default_factory=dict)

    def segment_id(self, key: str) -> int:
        if key not in self.ids:
            self.ids[key] = len(self.ids) if len(self.ids) < self.tracked or key == OTHER else self.segment_id(OTHER)
        return self.ids[key]

    def state(self, i: int) -> ProfileState:
        if i not in self.states:
            self.states[i] = ProfileState(dict(self.specs), dict(self.types))
        return self.states[i]

    def split(self, batch: pa.RecordBatch, column: str) -> Iterator[tuple[int, pa.RecordBatch]]:
        arr = batch.column(batch.schema.get_field_index(column))
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        encoded = pc.dictionary_encode(arr)
        values = encoded.dictionary.to_pylist()
        lut = np.array([self.segment_id(_key(v)) for v in values] + [-1], dtype=np.int64)
        codes = encoded.indices.fill_null(len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
        if arr.null_count:
            lut[-1] = self.segment_id(MISSING)
        yield from _pieces(batch.drop_columns([column]), lut[codes])


def profile_segments(ds: DatasetConfig, segments: SegmentsConfig, row_sample: int | None = None) -> SegmentedProfile:
    """Profile a dataset and each value of its segment column, in one pass.

    :param ds: the dataset; its segment column is read even when its ``columns``
        leave it out (it is then not in the whole profile either).
    :returns: the whole profile and up to ``TRACKED_FACTOR * max`` segment
        profiles (plus ``(other)`` for values seen after that); with ``row_sample``,
        the whole profile keeps a sample of that many whole rows (the segments' none).
    :raises SourceError: when a file cannot be read or lacks the segment column.
    :raises ValueError: on an unknown kind in the dataset's ``types``.
    """
    column = segments.column
    include, exclude = ds.columns.include, ds.columns.exclude
    profiled = dataset_source(ds, include, exclude)
    reading = dataset_source(ds, None if include is None else tuple(dict.fromkeys([*include, column])),
                             tuple(c for c in exclude if c != column))
    keep = (include is None or column in include) and column not in exclude
    files = profiled.files()
    specs, order = resolve_specs(profiled, files, ds.types)
    whole = ProfileState(dict(specs), dict(ds.types), row_sample=None if row_sample is None else RowSample(row_sample))
    run = _Pass({k: v for k, v in specs.items() if k != column}, dict(ds.types), TRACKED_FACTOR * segments.max)
    digests = digests_for(ds.fingerprint)
    for batch in reading.iter_batches(files, digests=digests):
        if column not in batch.schema.names:
            raise SourceError(f"the segment column {column!r} is not in the dataset")
        whole.add_batch(batch if keep else batch.drop_columns([column]))
        try:
            for i, piece in run.split(batch, column):
                run.state(i).add_batch(piece)
        except (pa.ArrowException, ValueError) as exc:
            raise SourceError(f"cannot profile the segments of {column!r}: {exc}") from exc
    seg_order = [c for c in order if c != column]
    names = {i: key for key, i in run.ids.items()}
    profiles = {names[i]: finish_profile(state, seg_order) for i, state in run.states.items()}
    ranked = sorted(profiles, key=lambda k: (k == OTHER, -profiles[k].row_count, k))
    return SegmentedProfile(finish_profile(whole, order), {k: profiles[k] for k in ranked},
                            input_fingerprint(ds.fingerprint, profiled.inputs(files), digests))


def take_segmented_snapshot(store: Store, snap: SnapshotRecord, ds: DatasetConfig,
                            segments: SegmentsConfig, row_sample: int | None = None) -> SnapshotRecord:
    """Profile the dataset and its segments into running snapshot ``snap``:
    store the segment profiles, then complete the snapshot.

    :raises SourceError: when the data cannot be profiled.
    :raises StoreError: when the store cannot be written.
    """
    result = profile_segments(ds, segments, row_sample)
    stored = []
    for name, profile in result.segments.items():
        meta, columns = profile_to_records(profile)
        stored.append((name, {**meta, "row_count": profile.row_count}, columns))
    store.save_segment_profiles(snap.id, segments.column, stored)
    meta, columns = profile_to_records(result.whole)
    return store.complete_snapshot(snap.id, profile=meta, columns=columns, row_count=result.whole.row_count,
                                   fingerprint=result.fingerprint, fingerprint_kind=ds.fingerprint)


# --------------------------------------------------------------------------- comparing


def _segment_profiles(store: Store, snap: SnapshotRecord, column: str) -> dict[str, DatasetProfile] | None:
    stored_column, stored = store.load_segment_profiles(snap.id)
    if stored_column != column:
        return None
    try:
        return {name: profile_from_records(meta, cols) for name, meta, cols in stored}
    except (ValueError, KeyError) as exc:
        raise StoreError(f"snapshot {snap.name!r}: unreadable segment profile: {exc}") from exc


def _merged(profiles: Sequence[DatasetProfile]) -> DatasetProfile | None:
    out: DatasetProfile | None = None
    for p in profiles:
        out = p if out is None else out.merge(p)
    return out


def _baseline_segments(store: Store, baseline: Baseline, column: str) -> dict[str, DatasetProfile] | None:
    """The baseline's segments, merged over its snapshots (oldest first);
    ``None`` when a snapshot has no segments of ``column``."""
    merged: dict[str, list[DatasetProfile]] = {}
    for snap in baseline.snapshots:
        seg = _segment_profiles(store, snap, column)
        if seg is None:
            return None
        for name, profile in seg.items():
            merged.setdefault(name, []).append(profile)
    try:
        return {name: p for name, ps in merged.items() if (p := _merged(ps)) is not None}
    except ValueError as exc:
        raise MonitorError(f"cannot merge the baseline's segments: {exc}") from exc


def _top(segments: dict[str, DatasetProfile], n: int) -> list[str]:
    named = [k for k in segments if k != OTHER]
    return sorted(named, key=lambda k: (-segments[k].row_count, k))[:n]


@dataclass(frozen=True)
class SegmentedDrift:
    """A comparison of the whole dataset and of each segment.

    :ivar whole: the whole dataset's :class:`monitor.drift.DatasetDrift`.
    :ivar segments: segment -> (status, baseline rows, target rows,
        :class:`~monitor.drift.DatasetDrift` or ``None``), in the order compared.
    :ivar column: the segment column. :ivar limit: the ``max`` of the configuration.
    :ivar false_alarm_rate: the rate each comparison was made at.
    :ivar note: why no segment was compared, if so.
    """

    whole: Any
    segments: dict[str, tuple[str, int, int, Any]]
    column: str
    limit: int
    false_alarm_rate: float
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The whole dataset's result (:meth:`DatasetDrift.to_dict`) with
        ``segments`` ({segment: {status, rows: {baseline, target}, drifted,
        severity, drifted_columns, magnitude, result}}, in order: the compared
        segments by target rows, ``(other)``, then the removed ones) and
        ``segment_settings`` (column, max, false_alarm_rate per comparison,
        comparisons, note); the verdict's ``drifted``, ``status`` and
        ``severity`` cover the segments, ``drifted_segments`` counts them."""
        out: dict[str, Any] = self.whole.to_dict()
        verdict = dict(out["verdict"])
        entries: dict[str, Any] = {}
        drifted = 0
        for name, (status, rows_b, rows_t, result) in self.segments.items():
            data = result.to_dict() if result is not None else None
            v = data["verdict"] if data else {}
            is_drift = bool(v.get("drifted"))
            drifted += is_drift
            entries[name] = {
                "status": "drift" if is_drift else status, "rows": {"baseline": rows_b, "target": rows_t},
                "drifted": is_drift, "severity": v.get("severity", "none"),
                "drifted_columns": [c["column"] for c in (data or {}).get("columns", []) if c["status"] == "drift"],
                "magnitude": v.get("magnitude"), "result": data,
            }
            if SEVERITY_RANK.get(str(v.get("severity")), 0) > SEVERITY_RANK.get(str(verdict["severity"]), 0):
                verdict["severity"] = v["severity"]
        if drifted:
            verdict["drifted"], verdict["status"] = True, "drift"
        verdict["drifted_segments"] = drifted
        out["verdict"] = verdict
        out["segments"] = entries
        out["segment_settings"] = {
            "column": self.column, "max": self.limit, "false_alarm_rate": self.false_alarm_rate,
            "comparisons": 1 + sum(1 for s in self.segments.values() if s[3] is not None), "note": self.note,
        }
        return out


def compare_segmented(store: Store, baseline: Baseline, target: SnapshotRecord, settings: Any,
                      segments: SegmentsConfig) -> SegmentedDrift:
    """Compare the whole dataset and each segment of ``target`` with the
    baseline's (see the module docstring for the segment set and the split of
    ``false_alarm_rate``).

    :param settings: the monitor's :class:`monitor.drift.DriftSettings`.
    :raises StoreError, MonitorError: as :func:`monitor.service.baselines.baseline_profile`.
    """
    from monitor.drift import compare_profiles

    whole_b, whole_t = baseline_profile(store, baseline), snapshot_profile(store, target)
    seg_t = _segment_profiles(store, target, segments.column)
    seg_b = _baseline_segments(store, baseline, segments.column)
    if seg_t is None or seg_b is None:
        note = f"the {'target' if seg_t is None else 'baseline'} has no segments of {segments.column!r}"
        return SegmentedDrift(compare_profiles(whole_b, whole_t, settings), {}, segments.column, segments.max,
                              settings.false_alarm_rate, note)
    chosen = _top(seg_t, segments.max)
    pairs: dict[str, tuple[DatasetProfile | None, DatasetProfile | None]] = {
        name: (seg_b.get(name), seg_t[name]) for name in chosen}
    other_b = _merged([p for k, p in seg_b.items() if k not in chosen])
    other_t = _merged([p for k, p in seg_t.items() if k not in chosen])
    if other_b is not None or other_t is not None:
        pairs[OTHER] = (other_b, other_t)
    removed = [k for k in _top(seg_b, segments.max) if k not in seg_t]
    compared = sum(1 for b, t in pairs.values() if b is not None and t is not None)
    each = dataclasses.replace(settings, false_alarm_rate=settings.false_alarm_rate / (compared + 1))
    per_segment = dataclasses.replace(each, multivariate=False)  # segments keep no row sample
    results: dict[str, tuple[str, int, int, Any]] = {}
    for name, (b, t) in pairs.items():
        rows_b, rows_t = (b.row_count if b else 0), (t.row_count if t else 0)
        if b is None or t is None:
            results[name] = ("added" if b is None else "removed", rows_b, rows_t, None)
        else:
            results[name] = ("compared", rows_b, rows_t, compare_profiles(b, t, per_segment))
    for name in removed:
        results[name] = ("removed", seg_b[name].row_count, 0, None)
    return SegmentedDrift(compare_profiles(whole_b, whole_t, each), results, segments.column, segments.max,
                          each.false_alarm_rate)


def drifted_segments(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The drifted segments of a stored result, for the alert payload: one
    ``{segment, severity, columns, magnitude}`` per segment, worst first; empty
    for a result without segments."""
    out = [{"segment": name, "severity": e["severity"], "columns": list(e["drifted_columns"]),
            "magnitude": e["magnitude"]}
           for name, e in (result.get("segments") or {}).items() if e.get("drifted")]
    return sorted(out, key=lambda e: -SEVERITY_RANK.get(str(e["severity"]), 0))
