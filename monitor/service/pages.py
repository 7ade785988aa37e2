"""Pages rendered from the store when their file is missing under the reports
folder: the renderers ``drift-monitor serve`` (and ``run --http``) falls back on.

:data:`PAGES` maps a path pattern (a regular expression matched against the
whole path below the reports folder, URL-decoded, e.g.
``weekly/history.html``) to a :data:`PageRenderer`. A renderer gets a
:class:`PageSource` (the reports folder, the configuration in force, a
read-only store opened on first use) and the pattern's named groups; it
returns the page's HTML, or ``None`` when the store has no such page (the
server answers 404). :func:`register_page` adds a renderer, e.g. for a new
kind of page::

    @register_page(r"(?P<dataset>[^/]+)/(?P<snapshot>[^/]+)/profile\\.html")
    def profile_page(source: PageSource, match: Mapping[str, str]) -> str | None: ...

The path's folder and file names are the safe names the writers give
(:func:`monitor.report.safe_name`), so a renderer looks among the names the
configuration and the store know for the one whose safe name matches.

Nothing here writes: a page rendered on request is sent, not saved (the
service writes pages after each run, ``drift-monitor report`` on demand).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor import report
from monitor.config import Config
from monitor.errors import StoreError
from monitor.service import baselines
from monitor.service.history import history_html, history_pages
from monitor.service.profile_page import render_profile_page
from monitor.service.runner import comparison_page
from monitor.store import ComparisonRecord, SnapshotRecord, Store

__all__ = ["PAGES", "PageRenderer", "PageSource", "register_page", "render_missing"]


@dataclass
class PageSource:
    """What a renderer reads from: the reports folder, the configuration in
    force and the store, opened read-only on first use and closed by
    :meth:`close` (the server does both around each request).

    :ivar reports_dir: the reports folder (``reports_dir`` of the configuration).
    :ivar config: the configuration in force.
    """

    reports_dir: Path
    config: Config
    _store: Store | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        """The store, read-only (see :class:`monitor.store.Store`).

        :raises StoreError: when it does not exist or cannot be opened.
        """
        if self._store is None:
            self._store = Store(self.config.store, read_only=True)
        return self._store

    def close(self) -> None:
        """Close the store when it was opened."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def monitors(self) -> list[str]:
        """Every monitor name the configuration or the store's comparisons know, sorted."""
        return sorted(set(self.config.monitors) | set(self.store.compared_monitors()))

    def datasets(self) -> list[str]:
        """Every dataset name the configuration or the store knows, sorted."""
        return sorted(set(self.config.datasets) | {d.name for d in self.store.list_datasets()})


PageRenderer = Callable[[PageSource, Mapping[str, str]], str | None]
"""Renders one page: ``(source, named groups of the path pattern)`` to HTML, or
``None`` when there is no such page."""

PAGES: dict[str, PageRenderer] = {}
"""Path pattern (below the reports folder, matched whole) → renderer."""


def register_page(pattern: str) -> Callable[[PageRenderer], PageRenderer]:
    """Register a renderer for the paths matching ``pattern`` (a regular
    expression, matched against the whole URL-decoded path below the reports
    folder); used as a decorator. A later registration of the same pattern
    replaces the earlier one.

    :raises re.error: when ``pattern`` is not a valid regular expression.
    """
    re.compile(pattern)

    def add(renderer: PageRenderer) -> PageRenderer:
        PAGES[pattern] = renderer
        return renderer

    return add


def render_missing(path: str, source: PageSource) -> str | None:
    """The HTML of the page at ``path`` (below the reports folder, e.g.
    ``weekly/history.html``) from the first pattern of :data:`PAGES` it
    matches; ``None`` when none matches or the renderer finds no such page.

    :raises StoreError: when the store cannot be read.
    :raises MonitorError: when a stored result is malformed.
    """
    for pattern, renderer in list(PAGES.items()):
        found = re.fullmatch(pattern, path)
        if found is not None:
            return renderer(source, {k: v for k, v in found.groupdict().items() if v is not None})
    return None


def named(safe: str, names: Iterable[str]) -> str | None:
    """The name in ``names`` whose safe file name (:func:`monitor.report.safe_name`) is ``safe``."""
    return next((name for name in names if report.safe_name(name) == safe), None)


# --------------------------------------------------------------------------- #
# the pages the service writes


@register_page(r"index\.html")
def index_page(source: PageSource, match: Mapping[str, str]) -> str | None:
    """The index, as the reports on disk give it (a folder without reports
    gives an index listing none)."""
    return report.index_html(source.reports_dir)


@register_page(r"(?P<monitor>[^/]+)/history\.html")
def history_report(source: PageSource, match: Mapping[str, str]) -> str | None:
    """A monitor's history page, when the monitor has comparisons."""
    monitor = named(match["monitor"], source.monitors())
    if monitor is None or not source.store.list_comparison_summaries(monitor=monitor, limit=1):
        return None
    return history_html(source.store, source.reports_dir, monitor)


@register_page(r"(?P<monitor>[^/]+)/history-(?P<segment>[^/]+)\.html")
def segment_history_report(source: PageSource, match: Mapping[str, str]) -> str | None:
    """A segment's history page of a monitor with segments, when its runs compared the segment."""
    monitor = named(match["monitor"], source.monitors())
    if monitor is None or not source.store.list_comparison_summaries(monitor=monitor, limit=1):
        return None
    wanted = f"history-{match['segment']}.html"
    for page in history_pages(source.store, source.reports_dir, monitor):
        if page.segment is not None and report.segment_history_name(page.segment) == wanted:
            return report.history_html(page)
    return None


@register_page(r"(?P<dataset>[^/]+)/(?P<snapshot>[^/]+)/profile\.html")
def snapshot_profile(source: PageSource, match: Mapping[str, str]) -> str | None:
    """A completed snapshot's profile page."""
    dataset = named(match["dataset"], source.datasets())
    if dataset is None:
        return None
    snapshot = named(match["snapshot"], [s.name for s in source.store.list_snapshots(dataset)
                                         if s.status == "completed"])
    if snapshot is None:
        return None
    return render_profile_page(source.store, dataset, snapshot, reports_dir=source.reports_dir)


@register_page(r"(?P<dataset>[^/]+)/(?P<report>[^/]+__vs__[^/]+\.html)")
def comparison_report(source: PageSource, match: Mapping[str, str]) -> str | None:
    """A comparison report: the newest comparison of the dataset whose report
    was written at this path (the path recorded with it), rendered anew."""
    dataset = named(match["dataset"], source.datasets())
    if dataset is None:
        return None
    for summary in source.store.list_comparison_summaries(dataset=dataset):
        if summary.report_path is not None and Path(summary.report_path).name == match["report"]:
            record = source.store.get_comparison(summary.id)
            try:
                page = comparison_from_store(source.store, record)
            except StoreError:  # a snapshot of it is gone (retention kept the report file, not its snapshots)
                return None
            return report.comparison_html(page)
    return None


def comparison_from_store(store: Store, record: ComparisonRecord) -> Any:
    """The report context (:class:`monitor.report.ComparisonPage`) of a stored
    comparison, as its run built it: both snapshots, and the baseline's kind
    and every snapshot it merged from the recorded ``baseline_spec``.

    :raises StoreError: when a snapshot of the comparison is gone.
    :raises MonitorError: when the stored result is malformed.
    """
    baseline = store.get_snapshot_by_id(record.baseline_snapshot_id)
    target = store.get_snapshot_by_id(record.target_snapshot_id)
    return comparison_page(record.result, dataset=record.dataset, monitor=record.monitor, baseline=baseline,
                           target=target, chosen=_chosen(store, record.baseline_spec))


def _chosen(store: Store, spec: Mapping[str, Any] | None) -> baselines.Baseline | None:
    """The baseline a run recorded, or ``None`` when it recorded none (or one of
    its snapshots is gone: the report then names the one the row points at)."""
    if not spec or not spec.get("snapshot_ids"):
        return None
    try:
        snaps: tuple[SnapshotRecord, ...] = tuple(store.get_snapshot_by_id(int(i)) for i in spec["snapshot_ids"])
        return baselines.Baseline(kind=spec["kind"], snapshots=snaps, configured=spec.get("configured"),
                                  requested=int(spec.get("requested") or 1), note=spec.get("note"))
    except (StoreError, KeyError, TypeError, ValueError):
        return None
