"""A snapshot's profile page from the store: the stored profile summarised per
column (:func:`monitor.profile.summary.summarize_profile`) and handed to
:func:`monitor.report.profile_page_context`, rendered
(:func:`render_profile_page`) or written to
``<reports_dir>/<dataset>/<snapshot>/profile.html`` (:func:`write_profile_page`).

The runner writes the page after each completed snapshot of a monitor's run,
and a backfill after each window it takes (:func:`refresh_profile_page`: a
failure is logged and never fails the snapshot); ``drift-monitor report profile
DATASET SNAPSHOT`` writes it on demand.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from monitor import report
from monitor.errors import MonitorError
from monitor.profile.summary import summarize_profile
from monitor.report.render import history_href
from monitor.service.baselines import snapshot_profile
from monitor.store import SnapshotRecord, Store

log = logging.getLogger(__name__)

__all__ = ["profile_page", "refresh_profile_page", "render_profile_page", "write_profile_page"]


def _snapshot(store: Store, dataset: str, snapshot: str | SnapshotRecord) -> SnapshotRecord:
    return snapshot if isinstance(snapshot, SnapshotRecord) else store.get_snapshot(dataset, snapshot)


def profile_page(
    store: Store, dataset: str, snapshot: str | SnapshotRecord, *, reports_dir: str | Path | None = None,
    now: datetime | None = None,
) -> report.ProfilePage:
    """The profile page context of a completed snapshot, from its stored profile.

    :param snapshot: the snapshot's name, or its record.
    :param reports_dir: where the page lives; with it the page links the
        index and its monitor's history page (when the monitor has compared a
        snapshot, or the page exists), as written.
    :param now: the page's generation time; now if ``None``.
    :raises StoreError: when the snapshot does not exist, is not completed or
        its profile is unreadable.
    """
    snap = _snapshot(store, dataset, snapshot)
    summaries = summarize_profile(snapshot_profile(store, snap))
    page = report.profile_page_context(
        summaries, dataset=snap.dataset, snapshot=snap.name, version=snap.dataset_version,
        created_at=snap.created_at, rows=int(snap.row_count or 0), fingerprint=snap.fingerprint,
        monitor=snap.monitor, window_start=snap.window_start, window_end=snap.window_end, generated_at=now,
    )
    if reports_dir is None:
        return page
    page = replace(page, index_href="../../index.html")  # the page is two folders below reports_dir
    if snap.monitor and (store.list_comparison_summaries(monitor=snap.monitor, limit=1)
                         or report.history_path(Path(reports_dir), snap.monitor).is_file()):
        page = replace(page, history_href="../" + history_href(snap.monitor))
    return page


def render_profile_page(
    store: Store, dataset: str, snapshot: str | SnapshotRecord, *, reports_dir: str | Path | None = None,
    now: datetime | None = None,
) -> str:
    """The profile page of a completed snapshot as a self-contained HTML
    document, without writing it (see :func:`profile_page` for the parameters).

    :raises StoreError: as :func:`profile_page`.
    """
    return report.render_profile(profile_page(store, dataset, snapshot, reports_dir=reports_dir, now=now))


def write_profile_page(
    store: Store, reports_dir: str | Path, dataset: str, snapshot: str | SnapshotRecord, *, index: bool = True,
    now: datetime | None = None,
) -> Path:
    """Write ``<reports_dir>/<dataset>/<snapshot>/profile.html`` from the store
    (and the index, when the page is new and ``index`` is true).

    :param snapshot: the snapshot's name, or its record.
    :returns: the page's path.
    :raises StoreError: when the snapshot does not exist, is not completed or
        its profile is unreadable.
    :raises MonitorError: when the page cannot be written.
    """
    page = profile_page(store, dataset, snapshot, reports_dir=reports_dir, now=now)
    return report.write_profile(Path(reports_dir), page, index=index)


def refresh_profile_page(store: Store, reports_dir: str | Path, snap: SnapshotRecord, *,
                         index: bool = True) -> Path | None:
    """:func:`write_profile_page` after a snapshot completed. Any failure is
    logged (the message at error level, the traceback at debug level) and gives
    ``None``: the snapshot, and the run's comparison, report and alerts, stand."""
    try:
        return write_profile_page(store, reports_dir, snap.dataset, snap, index=index)
    except Exception as exc:  # noqa: BLE001 - the page must not fail a completed snapshot
        reason = str(exc) if isinstance(exc, MonitorError) else f"{type(exc).__name__}: {exc}"
        log.error("snapshot %s of %s: profile page not written: %s", snap.name, snap.dataset, reason)
        log.debug("snapshot %s of %s: profile page not written", snap.name, snap.dataset, exc_info=exc)
        return None
