"""Rendering and writing: the Jinja2 environment and :func:`template_dir` (the
installed templates, else the source tree's), :func:`render_comparison`,
:func:`render_index`, :func:`render_history` and :func:`render_profile`, where
pages go (:func:`report_path`, :func:`history_path`, :func:`profile_path`; names
made safe by :func:`~monitor.report.names.safe_name`), the HTML of a page as it
lies in the reports folder, with its links (:func:`comparison_html`,
:func:`history_html`, :func:`index_html`: what is written, and what
``drift-monitor serve`` sends for a page missing on disk), and
:func:`write_comparison_report`, :func:`write_history`, :func:`write_profile`
and :func:`write_index`, which write through a temporary file and a rename.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import jinja2

from monitor.errors import MonitorError
from monitor.report.format import fmt, humanize, ident, p_value, pct, pp, signed_pct, when
from monitor.report.history import HistoryPage
from monitor.report.index import Index, index_context
from monitor.report.names import HISTORY_NAME, INDEX_NAME, PROFILE_NAME, safe_name
from monitor.report.pages import ComparisonPage
from monitor.report.profile_page import ProfilePage

__all__ = [
    "HISTORY_NAME", "INDEX_NAME", "PROFILE_NAME", "comparison_html", "environment", "history_href", "history_html",
    "history_path", "index_html", "profile_path", "render_comparison", "render_history", "render_index",
    "render_profile", "report_path", "safe_name", "segment_history_name", "template_dir", "write_comparison_report",
    "write_history", "write_index", "write_profile",
]


# --------------------------------------------------------------------------- #
# templates


def template_dir() -> Path:
    """Find the folder holding the report templates.

    Looks first for ``templates/`` inside the installed ``monitor`` package (where
    the wheel puts it), then for the top-level ``templates/`` folder next to the
    ``monitor`` package in a source checkout.

    :returns: an existing folder containing ``base.html``.
    :raises MonitorError: when neither location holds the templates.
    """
    for candidate in _template_candidates():
        if (candidate / "base.html").is_file():
            return candidate
    raise MonitorError("report templates not found; the drift-monitor installation is incomplete")


def _template_candidates() -> list[Path]:
    """Folders that may hold the templates, in the order they are tried."""
    candidates: list[Path] = []
    try:
        packaged = resources.files("monitor") / "templates"
    except (ImportError, OSError, TypeError, ValueError):
        packaged = None  # e.g. an editable install of a package without __init__.py
    if isinstance(packaged, Path):
        candidates.append(packaged)
    candidates.append(Path(__file__).resolve().parents[2] / "templates")
    return candidates


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared Jinja2 environment: autoescape on, ``StrictUndefined``, the filters
    ``fmt``, ``pct``, ``signed_pct``, ``pp``, ``when``, ``humanize``, ``ident``.

    :raises MonitorError: when the templates cannot be found.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        fmt=fmt, pct=pct, signed_pct=signed_pct, pp=pp, when=when, humanize=humanize, p_value=p_value, ident=ident
    )
    return env


def _render(template: str, page: object) -> str:
    """Render ``template`` with the context dataclass ``page`` bound to ``page``."""
    return environment().get_template(template).render(page=page)


# --------------------------------------------------------------------------- #
# rendering and writing


def render_comparison(page: ComparisonPage) -> str:
    """Render a comparison report to a self-contained HTML document.

    :raises jinja2.UndefinedError: when the context lacks a field a template uses.
    """
    return _render("comparison.html", page)


def render_index(page: Index) -> str:
    """Render the reports index (:func:`~monitor.report.index.index_context`) to a
    self-contained HTML document."""
    return _render("index.html", page)


def render_history(page: HistoryPage) -> str:
    """Render a monitor's history page to a self-contained HTML document."""
    return _render("history.html", page)


def render_profile(page: ProfilePage) -> str:
    """Render a snapshot's profile page to a self-contained HTML document."""
    return _render("profile.html", page)


def report_path(reports_dir: Path, page: ComparisonPage) -> Path:
    """Where :func:`write_comparison_report` puts a page:
    ``<reports_dir>/<dataset>/<target>__vs__<baseline>.html``, names made safe."""
    file_name = f"{safe_name(page.target_name)}__vs__{safe_name(page.baseline_name)}.html"
    return Path(reports_dir) / safe_name(page.dataset) / file_name


def history_path(reports_dir: Path, monitor: str, segment: str | None = None) -> Path:
    """Where :func:`write_history` puts a monitor's history page:
    ``<reports_dir>/<monitor>/history.html``, or ``history-<segment>.html`` for
    one segment's comparisons; names made safe."""
    folder = Path(reports_dir) / safe_name(monitor)
    return folder / (HISTORY_NAME if segment is None else segment_history_name(segment))


def segment_history_name(segment: str) -> str:
    """The file name of a segment's history page, ``history-<segment>.html`` (made safe)."""
    return f"history-{safe_name(segment, 60)}.html"


def history_href(monitor: str) -> str:
    """The link to a monitor's history page from a page one folder below
    ``reports_dir`` (a comparison report or another history page)."""
    return "../" + quote(f"{safe_name(monitor)}/{HISTORY_NAME}")


def profile_path(reports_dir: Path, dataset: str, snapshot: str) -> Path:
    """Where :func:`write_profile` puts a snapshot's profile page:
    ``<reports_dir>/<dataset>/<snapshot>/profile.html``, names made safe."""
    return Path(reports_dir) / safe_name(dataset) / safe_name(snapshot) / PROFILE_NAME


def write_profile(reports_dir: Path, page: ProfilePage, *, index: bool = True) -> Path:
    """Write a snapshot's profile page (see :func:`profile_path`), linking the
    index; when the page is new and ``index`` is true, rebuild the index of
    ``reports_dir`` too, so it links the page.

    The page is written to a temporary file and renamed into place.

    :returns: the path of the page.
    :raises MonitorError: when the folder or file cannot be written.
    """
    path = profile_path(reports_dir, page.dataset, page.snapshot)
    new = not path.is_file()
    _write_atomic(path, render_profile(replace(page, index_href="../../" + INDEX_NAME)))
    if new and index:
        write_index(reports_dir)
    return path


def history_html(page: HistoryPage) -> str:
    """The HTML of a monitor's history page as it lies at :func:`history_path`,
    linking the index one folder up (what :func:`write_history` writes)."""
    return render_history(replace(page, index_href="../" + INDEX_NAME))


def comparison_html(page: ComparisonPage) -> str:
    """The HTML of a comparison report as it lies at :func:`report_path`,
    linking the index and, for a monitor's report, its history page (what
    :func:`write_comparison_report` writes)."""
    history = history_href(page.monitor) if page.monitor else None
    return render_comparison(replace(page, index_href="../" + INDEX_NAME, history_href=history))


def index_html(reports_dir: Path) -> str:
    """The HTML of the index of ``reports_dir`` as the reports on disk give it
    (what :func:`write_index` writes)."""
    return render_index(index_context(reports_dir))


def write_history(reports_dir: Path, page: HistoryPage) -> Path:
    """Write a monitor's history page (see :func:`history_path`); when the page
    is new, rebuild the index of ``reports_dir`` too, so it links the page.

    The page is written to a temporary file and renamed into place.

    :returns: the path of the page.
    :raises MonitorError: when the folder or file cannot be written.
    """
    path = history_path(reports_dir, page.monitor, page.segment)
    new = not path.is_file() and page.segment is None
    _write_atomic(path, history_html(page))
    if new:
        write_index(reports_dir)
    return path


def write_comparison_report(reports_dir: Path, page: ComparisonPage) -> Path:
    """Write a comparison report and rebuild the index of ``reports_dir``.

    A report of a monitor links the monitor's history page
    (:func:`history_path`), which the service rewrites after each run.
    The report is written to a temporary file and renamed into place; an existing
    report of the same target and baseline is replaced.

    :returns: the path of the report (see :func:`report_path`).
    :raises MonitorError: when the folder or file cannot be written.
    """
    path = report_path(reports_dir, page)
    _write_atomic(path, comparison_html(page))
    write_index(reports_dir)
    return path


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to a temporary file next to ``path``, then rename it.

    The file is made readable by everyone (mode 0644), like a file a web server
    serves.

    :raises MonitorError: when the folder or file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise MonitorError(f"cannot write report {path}: {exc}") from exc
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise MonitorError(f"cannot write report {path}: {exc}") from exc


def write_index(reports_dir: Path) -> Path:
    """Rebuild ``<reports_dir>/index.html`` listing every report, newest first.

    :returns: the path of the index.
    :raises MonitorError: when the file cannot be written.
    """
    path = Path(reports_dir) / INDEX_NAME
    _write_atomic(path, index_html(reports_dir))
    return path
