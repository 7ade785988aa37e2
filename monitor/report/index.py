"""The reports index: :func:`index_context` scans a reports folder into an
:class:`Index` (a :class:`~monitor.report.pages.IndexPage`).

It reads back what each page carries in its ``<meta>`` tag, and nothing else:
the summary of every comparison report (``<reports_dir>/<dataset>/*.html``,
:func:`read_report_metadata`) and of every snapshot's profile page
(``<reports_dir>/<dataset>/<snapshot>/profile.html``,
:func:`read_profile_metadata`). From them come the reports, newest first; the
newest report per dataset; and each monitor with its latest verdict, the
columns that drifted in it, a sparkline of its verdicts, its history page and
its latest snapshot's profile page, then the monitors that have snapshots but
no comparison yet (a monitor that only took its baseline). Summaries are
remembered per file while the file is unchanged (:func:`cached_report_metadata`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from monitor.report.format import _number, _utc
from monitor.report.names import HISTORY_NAME, PROFILE_NAME, safe_name
from monitor.report.pages import META_NAME, META_VERSION, IndexEntry, IndexPage, MonitorEntry
from monitor.report.profile_page import PROFILE_META_NAME, PROFILE_META_VERSION
from monitor.report.timeline import sparkline

log = logging.getLogger(__name__)

__all__ = [
    "DRIFTED_NAMES_SHOWN", "BaselineOnly", "Index", "MonitorRow", "ProfileEntry", "ReportEntry",
    "cached_profile_metadata", "cached_report_metadata", "index_context", "read_profile_metadata",
    "read_report_metadata",
]

DRIFTED_NAMES_SHOWN = 8
"""Drifted columns the index names per verdict; it counts the others."""


# --------------------------------------------------------------------------- #
# the index's rows


@dataclass(frozen=True)
class ReportEntry(IndexEntry):
    """A report in the index, with the columns that drifted in it and its
    target snapshot's profile page."""

    drifted_names: tuple[str, ...] | None = None
    """The drifted columns, worst first, as many as the report's summary keeps
    (see ``drifted_column_names`` in :mod:`monitor.report.pages`); ``None`` for
    a report written before the names were kept."""
    profile_href: str | None = None
    """Link to the target snapshot's profile page, when it exists."""

    @property
    def names_shown(self) -> tuple[str, ...]:
        """The first :data:`DRIFTED_NAMES_SHOWN` drifted column names."""
        return (self.drifted_names or ())[:DRIFTED_NAMES_SHOWN]

    @property
    def names_hidden(self) -> int:
        """Drifted columns not named in the index."""
        return max(self.drifted_columns - len(self.names_shown), 0)


@dataclass(frozen=True)
class ProfileEntry:
    """A snapshot's profile page in the index."""

    href: str
    """Link relative to the index, URL-quoted."""
    dataset: str
    snapshot: str
    monitor: str | None
    created_at: datetime
    window_start: datetime | None
    rows: int

    @property
    def at(self) -> datetime:
        """The time the snapshot stands for: its window's start, else its creation."""
        return self.window_start or self.created_at


@dataclass(frozen=True)
class MonitorRow(MonitorEntry):
    """A monitor in the index: its latest report (``latest``, a :class:`ReportEntry`),
    its dataset and its latest snapshot's profile page."""

    dataset: str = ""
    profile: ProfileEntry | None = None
    """The profile page of the monitor's latest snapshot that has one."""


@dataclass(frozen=True)
class BaselineOnly:
    """A monitor with snapshots but no comparison yet (it took its baseline)."""

    monitor: str
    dataset: str
    profile: ProfileEntry
    """The profile page of its latest snapshot."""


@dataclass(frozen=True)
class Index(IndexPage):
    """Context of ``index.html``; ``reports`` and ``latest`` hold :class:`ReportEntry`
    rows, ``monitors`` :class:`MonitorRow` rows."""

    baseline_only: tuple[BaselineOnly, ...] = ()
    """Monitors with snapshots but no comparison, by name."""
    profiles: int = 0
    """Profile pages found."""

    @property
    def empty(self) -> bool:
        """Whether there is nothing to list."""
        return not (self.reports or self.baseline_only)


# --------------------------------------------------------------------------- #
# reading summaries back


class _MetaReader(HTMLParser):
    """Collects the ``content`` of the first ``<meta name=...>`` tag of a given name."""

    def __init__(self, name: str) -> None:
        super().__init__(convert_charrefs=True)
        self.name = name
        self.content: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Remember the content of ``<meta name="...">``."""
        values = dict(attrs)
        if tag == "meta" and values.get("name") == self.name and self.content is None:
            self.content = values.get("content")


def _read_meta(path: Path, name: str, version: int) -> dict[str, Any] | None:
    """The JSON of a page's ``<meta name=name>`` tag, from its first 64 KiB, when its version is ``version``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(65536)
    except OSError as exc:
        log.warning("skipping page %s: %s", path, exc)
        return None
    reader = _MetaReader(name)
    reader.feed(head.split("</head>", 1)[0])
    if reader.content is None:
        return None
    try:
        summary = json.loads(reader.content)
    except ValueError:
        log.warning("skipping page %s: unreadable summary", path)
        return None
    return summary if isinstance(summary, dict) and summary.get("version") == version else None


def read_report_metadata(path: Path) -> dict[str, Any] | None:
    """Read the summary a comparison report carries in its ``<meta>`` tag.

    Only the first 64 KiB of the file are read (the tag is in ``<head>``).

    :returns: the summary (keys as in the ``<meta>`` JSON, datetimes as ISO
        strings), or ``None`` when the file is unreadable or not a report.
    """
    return _read_meta(path, META_NAME, META_VERSION)


def read_profile_metadata(path: Path) -> dict[str, Any] | None:
    """Read the summary a profile page carries in its ``<meta name="drift-monitor-profile">``
    tag: ``{"version", "dataset", "snapshot", "monitor", "created_at",
    "window_start", "window_end", "rows", "columns"}``, datetimes as ISO strings.

    :returns: the summary, or ``None`` when the file is unreadable or not a profile page.
    """
    return _read_meta(path, PROFILE_META_NAME, PROFILE_META_VERSION)


_SUMMARIES: dict[Path, tuple[tuple[int, int, int], dict[str, Any] | None]] = {}
_SUMMARIES_LOCK = threading.Lock()


def _cached(path: Path, read: Callable[[Path], dict[str, Any] | None]) -> dict[str, Any] | None:
    try:
        info = path.stat()
    except OSError as exc:
        log.warning("skipping page %s: %s", path, exc)
        return None
    key = (info.st_ino, info.st_size, info.st_mtime_ns)
    with _SUMMARIES_LOCK:
        cached = _SUMMARIES.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    summary = read(path)
    with _SUMMARIES_LOCK:
        _SUMMARIES[path] = (key, summary)
    return summary


def cached_report_metadata(path: Path) -> dict[str, Any] | None:
    """:func:`read_report_metadata`, remembered per file while its inode, size and
    modification time stay the same (reports are replaced by rename, which
    changes the inode), so rebuilding the index reads only new or rewritten
    reports. Safe to call from several threads.
    """
    return _cached(path, lambda p: read_report_metadata(p))


def cached_profile_metadata(path: Path) -> dict[str, Any] | None:
    """:func:`read_profile_metadata`, remembered as :func:`cached_report_metadata` does."""
    return _cached(path, lambda p: read_profile_metadata(p))


def _forget_missing(reports_dir: Path, depth: int, present: set[Path]) -> None:
    """Drop remembered summaries of pages ``depth`` levels under ``reports_dir`` that are gone."""
    parts = len(reports_dir.parts) + depth
    with _SUMMARIES_LOCK:
        for path in [p for p in _SUMMARIES
                     if len(p.parts) == parts and p.is_relative_to(reports_dir) and p not in present]:
            del _SUMMARIES[path]


# --------------------------------------------------------------------------- #
# scanning


def _names(raw: object) -> tuple[str, ...] | None:
    if not isinstance(raw, list):
        return None
    return tuple(str(name) for name in raw)


def _report_entry(summary: Mapping[str, Any], href: str, profiles: Mapping[tuple[str, str], str]) -> ReportEntry:
    """Turn a report summary into an index row."""
    dataset, target = str(summary["dataset"]), str(summary["target"])
    return ReportEntry(
        href=href, dataset=dataset, monitor=summary.get("monitor"), baseline=str(summary["baseline"]),
        baseline_created=datetime.fromisoformat(summary["baseline_created"]), target=target,
        target_created=datetime.fromisoformat(summary["target_created"]),
        generated_at=datetime.fromisoformat(summary["generated_at"]), drifted=bool(summary["drifted"]),
        severity=str(summary["severity"]), drifted_columns=int(summary["drifted_columns"]),
        columns_compared=int(summary["columns_compared"]), share_drifted=float(summary["share_drifted"]),
        magnitude=_number(summary.get("magnitude")), drifted_names=_names(summary.get("drifted_column_names")),
        profile_href=profiles.get((dataset, target)),
    )


def _profile_entry(summary: Mapping[str, Any], href: str) -> ProfileEntry:
    start = summary.get("window_start")
    return ProfileEntry(
        href=href, dataset=str(summary["dataset"]), snapshot=str(summary["snapshot"]),
        monitor=None if summary.get("monitor") is None else str(summary["monitor"]),
        created_at=_utc(datetime.fromisoformat(summary["created_at"])),
        window_start=None if start is None else _utc(datetime.fromisoformat(start)), rows=int(summary["rows"]),
    )


def _scan_profiles(reports_dir: Path) -> list[ProfileEntry]:
    """Every readable profile page in ``<reports_dir>/<dataset>/<snapshot>/``."""
    entries = []
    paths = sorted(reports_dir.glob(f"*/*/{PROFILE_NAME}"))
    _forget_missing(reports_dir, 3, set(paths))
    for path in paths:
        summary = cached_profile_metadata(path)
        if summary is None:
            continue
        try:
            entries.append(_profile_entry(summary, quote(path.relative_to(reports_dir).as_posix())))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("skipping profile page %s: incomplete summary (%r)", path, exc)
    return entries


def _scan_reports(reports_dir: Path, profiles: Mapping[tuple[str, str], str]) -> list[ReportEntry]:
    """Every readable report in ``<reports_dir>/<dataset>/``, newest first."""
    entries = []
    paths = sorted(reports_dir.glob("*/*.html"))
    _forget_missing(reports_dir, 2, set(paths))
    for path in paths:
        summary = cached_report_metadata(path)
        if summary is None:
            continue
        href = quote(path.relative_to(reports_dir).as_posix())
        try:
            entries.append(_report_entry(summary, href, profiles))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("skipping report %s: incomplete summary (%r)", path, exc)
    entries.sort(key=lambda e: (_utc(e.generated_at), _utc(e.target_created), e.href), reverse=True)
    return entries


def index_context(reports_dir: Path, generated_at: datetime | None = None) -> Index:
    """Build the index context from the pages found under ``reports_dir``.

    :param reports_dir: the folder holding ``<dataset>/<report>.html`` files,
        ``<monitor>/history.html`` pages and ``<dataset>/<snapshot>/profile.html`` pages.
    :param generated_at: when the index is made; now if ``None``.
    """
    folder = Path(reports_dir)
    profiles = _scan_profiles(folder)
    by_snapshot = {(p.dataset, p.snapshot): p.href for p in profiles}
    reports = _scan_reports(folder, by_snapshot)
    latest: dict[str, ReportEntry] = {}
    for entry in reports:
        latest.setdefault(entry.dataset, entry)
    monitors = _monitors(folder, reports, profiles)
    compared = {m.monitor for m in monitors}
    return Index(
        generated_at=_utc(generated_at or datetime.now(timezone.utc)),
        reports=tuple(reports),
        latest=tuple(latest[name] for name in sorted(latest)),
        monitors=monitors,
        baseline_only=_baseline_only(profiles, compared),
        profiles=len(profiles),
    )


def _newest(profiles: Sequence[ProfileEntry]) -> ProfileEntry | None:
    return max(profiles, key=lambda p: (_utc(p.at), _utc(p.created_at), p.href), default=None)


def _baseline_only(profiles: Sequence[ProfileEntry], compared: set[str]) -> tuple[BaselineOnly, ...]:
    grouped: dict[str, list[ProfileEntry]] = {}
    for entry in profiles:
        if entry.monitor is not None and entry.monitor not in compared:
            grouped.setdefault(entry.monitor, []).append(entry)
    out = []
    for name in sorted(grouped):
        newest = _newest(grouped[name])
        assert newest is not None
        out.append(BaselineOnly(name, newest.dataset, newest))
    return tuple(out)


def _monitors(reports_dir: Path, reports: Sequence[ReportEntry],
              profiles: Sequence[ProfileEntry]) -> tuple[MonitorRow, ...]:
    """Each monitor with a report, by name: its reports in order of target time
    (then of writing), the latest, a sparkline of their verdict magnitudes (the
    share of drifted columns for reports that do not carry one), the link to
    its history page when that page exists and its latest snapshot's profile page."""
    grouped: dict[str, list[ReportEntry]] = {}
    for entry in reports:
        if entry.monitor is not None:
            grouped.setdefault(str(entry.monitor), []).append(entry)
    monitors = []
    for name in sorted(grouped):
        runs = sorted(grouped[name], key=lambda e: (_utc(e.target_created), _utc(e.generated_at), e.href))
        values = [e.magnitude if e.magnitude is not None else e.share_drifted for e in runs]
        drifted = sum(e.drifted for e in runs)
        title = (f"verdict magnitude of {len(runs)} comparison{'' if len(runs) == 1 else 's'}, oldest first; "
                 f"{drifted} drifted")
        page = reports_dir / safe_name(name) / HISTORY_NAME
        monitors.append(MonitorRow(
            monitor=name, latest=runs[-1], reports=len(runs),
            sparkline=sparkline(values, [e.severity if e.drifted else "none" for e in runs], title),
            history_href=quote(f"{safe_name(name)}/{HISTORY_NAME}") if page.is_file() else None,
            dataset=runs[-1].dataset, profile=_newest([p for p in profiles if p.monitor == name]),
        ))
    return tuple(monitors)
