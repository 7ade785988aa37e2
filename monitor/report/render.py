"""Rendering and writing: the Jinja2 environment and :func:`template_dir` (the
installed templates, else the source tree's), :func:`render_comparison` and
:func:`render_index`, file names (:func:`safe_name`, :func:`report_path`), and
:func:`write_comparison_report` and :func:`write_index`, which write through a
temporary file and a rename.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import replace
from functools import lru_cache
from hashlib import sha1
from importlib import resources
from pathlib import Path

import jinja2

from monitor.errors import MonitorError
from monitor.report.context import index_context
from monitor.report.format import fmt, humanize, p_value, pct, pp, signed_pct, when
from monitor.report.pages import ComparisonPage, IndexPage

INDEX_NAME = "index.html"


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
    ``fmt``, ``pct``, ``signed_pct``, ``pp``, ``when``, ``humanize``.

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
        fmt=fmt, pct=pct, signed_pct=signed_pct, pp=pp, when=when, humanize=humanize, p_value=p_value
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


def render_index(page: IndexPage) -> str:
    """Render the reports index to a self-contained HTML document."""
    return _render("index.html", page)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, limit: int = 80) -> str:
    """A file-name-safe version of ``name``.

    Runs of characters other than ASCII letters, digits, ``.``, ``_`` and ``-``
    become ``_``; a leading dot is dropped; the result is cut to ``limit``
    characters. When anything changed, 8 hex digits of the SHA-1 of ``name`` are
    appended so two different names never share a file.

    :returns: a non-empty string, e.g. ``"2024-05-01T06_00-1a2b3c4d"``.
    """
    cleaned = _UNSAFE.sub("_", name).lstrip(".")[:limit]
    if cleaned == name and cleaned:
        return cleaned
    return f"{cleaned or '_'}-{sha1(name.encode('utf-8')).hexdigest()[:8]}"


def report_path(reports_dir: Path, page: ComparisonPage) -> Path:
    """Where :func:`write_comparison_report` puts a page:
    ``<reports_dir>/<dataset>/<target>__vs__<baseline>.html``, names made safe."""
    file_name = f"{safe_name(page.target_name)}__vs__{safe_name(page.baseline_name)}.html"
    return Path(reports_dir) / safe_name(page.dataset) / file_name


def write_comparison_report(reports_dir: Path, page: ComparisonPage) -> Path:
    """Write a comparison report and rebuild the index of ``reports_dir``.

    The report is written to a temporary file and renamed into place; an existing
    report of the same target and baseline is replaced.

    :returns: the path of the report (see :func:`report_path`).
    :raises MonitorError: when the folder or file cannot be written.
    """
    path = report_path(reports_dir, page)
    _write_atomic(path, render_comparison(replace(page, index_href="../" + INDEX_NAME)))
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
    _write_atomic(path, render_index(index_context(reports_dir)))
    return path
