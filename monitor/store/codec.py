"""Values to and from what SQLite stores: times, JSON, column profiles and rows
turned into records, with the checks values pass on the way in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, get_args

from monitor.errors import StoreError
from monitor.store.records import (
    AlertRecord,
    AttemptRecord,
    ComparisonRecord,
    ComparisonSummary,
    DatasetRecord,
    EpisodeRecord,
    JsonDict,
)

Row = dict[str, Any]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _to_db_time(value: datetime, what: str) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``; naive datetimes are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _from_db_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else _from_db_time(text)


def _json_default(value: object) -> object:
    """Turn NumPy scalars and arrays into Python values; refuse anything else."""
    tolist = getattr(value, "tolist", None)
    if type(value).__module__ == "numpy" and callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


def _to_json(value: Any, what: str, *, canonical: bool = False) -> str:
    """``value`` as JSON text; ``canonical`` sorts keys and drops spaces."""
    try:
        if canonical:
            return json.dumps(
                value, sort_keys=True, separators=(",", ":"), default=_json_default
            )
        return json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cannot store {what}: {exc}") from exc


def _from_json(text: str) -> Any:
    return json.loads(text)


def _check_path_part(value: str, what: str) -> None:
    """Refuse names that cannot be one file or folder name (``"a/b"``, ``".."``)."""
    bad = not value or value in (".", "..") or any(c in value for c in "/\\\x00")
    if bad:
        raise StoreError(
            f"{what} {value!r} cannot be used as a file name: it must be non-empty, "
            "not '.' or '..', and contain no '/', '\\' or NUL"
        )


def _check_choice(value: str | None, allowed: object, what: str) -> None:
    choices = get_args(allowed)
    if value is not None and value not in choices:
        raise StoreError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")


def _column_row(snapshot_id: int, index: int, column: Mapping[str, Any]) -> Row:
    """Validate one column profile dict and turn it into a ``column_profiles`` row."""
    try:
        name, position, kind = column["column"], column["position"], column["kind"]
        stats = column["stats"]
    except KeyError as exc:
        raise StoreError(f"column profile {index} has no {exc.args[0]!r} key") from exc
    sketch = column.get("sketch")
    if not isinstance(name, str) or not isinstance(kind, str):
        raise StoreError(f"column profile {index}: 'column' and 'kind' must be strings")
    if not isinstance(position, int) or isinstance(position, bool):
        raise StoreError(f"column profile {index} ({name!r}): 'position' must be an int")
    if sketch is not None and not isinstance(sketch, (bytes, bytearray, memoryview)):
        raise StoreError(f"column profile {index} ({name!r}): 'sketch' must be bytes or None")
    return {
        "snapshot_id": snapshot_id,
        "position": position,
        "column_name": name,
        "kind": kind,
        "stats": _to_json(stats, f"statistics of column {name!r}"),
        "sketch": None if sketch is None else bytes(sketch),
    }


def _format_version(profile: Mapping[str, Any]) -> int:
    version = profile.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise StoreError(
            f"the profile must carry an integer 'format_version', got {version!r}"
        )
    return version


def _dataset_record(row: Row) -> DatasetRecord:
    return DatasetRecord(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        definition=_from_json(row["definition"]),
        description=row["description"],
        created_at=_from_db_time(row["created_at"]),
        definition_hash=row.get("definition_hash") or "",
        settings=_from_json(row.get("settings") or "{}"),
    )


def _comparison_record(row: Row) -> ComparisonRecord:
    return ComparisonRecord(
        id=row["id"],
        monitor=row["monitor"],
        dataset=row["dataset"],
        baseline_snapshot_id=row["baseline_snapshot_id"],
        target_snapshot_id=row["target_snapshot_id"],
        baseline_name=row["baseline_name"],
        target_name=row["target_name"],
        created_at=_from_db_time(row["created_at"]),
        drifted=bool(row["drifted"]),
        severity=row["severity"],
        result=_from_json(row["result"]),
        report_path=row["report_path"],
        baseline_spec=None if row.get("baseline_spec") is None else _from_json(row["baseline_spec"]),
        target_time=_optional_time(row.get("target_time")),
    )


def _comparison_summary(row: Row) -> ComparisonSummary:
    verdict = None if row["verdict"] is None else _from_json(row["verdict"])
    return ComparisonSummary(
        id=row["id"],
        monitor=row["monitor"],
        dataset=row["dataset"],
        baseline_snapshot_id=row["baseline_snapshot_id"],
        target_snapshot_id=row["target_snapshot_id"],
        baseline_name=row["baseline_name"],
        target_name=row["target_name"],
        created_at=_from_db_time(row["created_at"]),
        drifted=bool(row["drifted"]),
        severity=row["severity"],
        verdict=verdict if isinstance(verdict, dict) else {},
        report_path=row["report_path"],
    )


def _alert_record(row: Row) -> AlertRecord:
    return AlertRecord(
        id=row["id"],
        comparison_id=row["comparison_id"],
        webhook=row["webhook"],
        payload=_from_json(row["payload"]),
        idempotency_key=row["idempotency_key"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=_from_db_time(row["next_attempt_at"]),
        created_at=_from_db_time(row["created_at"]),
        delivered_at=_optional_time(row["delivered_at"]),
        last_error=row["last_error"],
        episode_id=row.get("episode_id"),
        event=row.get("event") or "drift.detected",
    )


def _episode_record(row: Row) -> EpisodeRecord:
    return EpisodeRecord(
        id=row["id"],
        key=row["key"],
        monitor=row["monitor"],
        dataset=row["dataset"],
        status=row["status"],
        opened_at=_from_db_time(row["opened_at"]),
        resolved_at=_optional_time(row["resolved_at"]),
        severity=row["severity"],
        columns=list(_from_json(row["columns"])),
        runs=row["runs"],
        last_comparison_id=row["last_comparison_id"],
        notified_at=_optional_time(row["notified_at"]),
        notified_severity=row["notified_severity"],
        notified_columns=list(_from_json(row["notified_columns"])),
        kind=str(row.get("kind") or "drift"),
    )


def _attempt_record(row: Row) -> AttemptRecord:
    return AttemptRecord(
        alert_id=row["alert_id"],
        attempt=row["attempt"],
        at=_from_db_time(row["at"]),
        status_code=row["status_code"],
        error=row["error"],
        delivered=bool(row["delivered"]),
    )


def _column_profile(row: Row) -> JsonDict:
    return {
        "column": row["column_name"],
        "position": row["position"],
        "kind": row["kind"],
        "stats": _from_json(row["stats"]),
        "sketch": row["sketch"],
    }


def _not_completed_message(row: Row) -> str:
    label = f"snapshot '{row['name']}' of dataset '{row['dataset']}'"
    if row["status"] == "failed":
        return f"{label} failed: {row['reason']}"
    return f"{label} is {row['status']}, not completed"
