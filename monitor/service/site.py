"""The pages and the JSON API over a configuration's reports folder and store:
what ``drift-monitor serve`` (and ``drift-monitor run --http``) answers beside
``/healthz`` and ``/metrics``.

:meth:`Site.respond` turns a method and a request target into a
:class:`Response`; :mod:`monitor.service.http` puts it on the wire.

- ``GET /`` is the index; ``GET /<path>`` a file under the reports folder
  (comparison reports, history pages, ...). A page missing on disk is rendered
  from the store when a renderer of :data:`monitor.service.pages.PAGES`
  matches its path; else ``404``.
- ``GET /api/...``: JSON (:mod:`monitor.service.site_api`); errors are JSON too,
  ``{"error": message, "status": code}``.
- ``HEAD`` answers as ``GET`` without the body; any other method gets ``405``
  with ``Allow: GET, HEAD``.

Only files inside the reports folder are served: a path with a ``.`` or
``..`` segment, a hidden name (the writers' temporary files), an empty segment
(``//etc/passwd``), a backslash or a NUL, after URL-decoding, is ``404``, and so
is a file whose real path (symbolic links resolved) lies outside the folder.

The store is opened read-only for each request that needs it (a connection per
request, so the daemon may write meanwhile: SQLite's WAL lets readers read the
last committed state).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from monitor.config import Config
from monitor.errors import MonitorError, StoreError
from monitor.service import site_api
from monitor.service.pages import PageSource, render_missing
from monitor.store import Store

log = logging.getLogger(__name__)

__all__ = ["ALLOWED", "HTML", "JSON", "Response", "Site", "json_response", "text_response"]

ALLOWED = "GET, HEAD"
"""The methods the server answers (the ``Allow`` header of a ``405``)."""
HTML = "text/html; charset=utf-8"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
_COMMON_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                   ("Cache-Control", "no-cache"))


@dataclass(frozen=True)
class Response:
    """An answer: status code, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, data: Any) -> Response:
    """``data`` as JSON (non-finite numbers as ``null``, so any JSON parser reads it)."""
    body = json.dumps(_finite(data), default=str, allow_nan=False, ensure_ascii=False).encode("utf-8")
    return Response(status, JSON, body, _COMMON_HEADERS)


def text_response(status: int, text: str) -> Response:
    """A plain-text answer (errors of the pages)."""
    return Response(status, TEXT, text.encode("utf-8"), _COMMON_HEADERS)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class Site:
    """Answers requests for the pages and the API of a configuration.

    :param config: returns the configuration in force (read at each request,
        so a daemon's reload takes effect).
    """

    def __init__(self, config: Callable[[], Config]) -> None:
        self._config = config

    def health(self) -> tuple[bool, dict[str, Any]]:
        """``(healthy, body)`` for ``/healthz`` of ``drift-monitor serve``: healthy
        when the store opens read-only; ``{"status": "ok" | "unavailable",
        "problems": [...]}``."""
        problems: list[str] = []
        try:
            Store(self._config().store, read_only=True).close()
        except MonitorError as exc:
            problems.append(str(exc))
        return not problems, {"status": "unavailable" if problems else "ok", "problems": problems}

    def respond(self, method: str, target: str) -> Response:
        """The answer to ``method`` on the request target ``target`` (``/a/b?x=1``,
        or an absolute URL). Never raises: an unexpected failure is logged and
        answered ``500``."""
        split = urlsplit(target)
        api = split.path == "/api" or split.path.startswith("/api/")
        if method not in ("GET", "HEAD"):
            reason = f"method {method} not allowed: use GET or HEAD"
            answer = json_response(405, {"error": reason, "status": 405}) if api else text_response(405, reason + "\n")
            return Response(answer.status, answer.content_type, answer.body, answer.headers + (("Allow", ALLOWED),))
        config = self._config()
        source = PageSource(Path(config.reports_dir), config)
        try:
            if api:
                return json_response(*site_api.answer(split.path, split.query, source))
            return self._page(split.path, source)
        except StoreError as exc:
            log.warning("%s %s: %s", method, split.path, exc)
            return _error(api, 503, f"the store cannot be read: {exc}")
        except MonitorError as exc:
            log.warning("%s %s: %s", method, split.path, exc)
            return _error(api, 500, str(exc))
        except Exception:  # noqa: BLE001 - a request must not take the server down
            log.exception("%s %s failed", method, split.path)
            return _error(api, 500, "internal error (logged by the server)")
        finally:
            source.close()

    def _page(self, raw_path: str, source: PageSource) -> Response:
        relative = page_path(raw_path)
        if relative is None:
            return text_response(404, "not found\n")
        root = source.reports_dir.resolve()
        file = root / relative
        if file.is_symlink() or file.exists():
            real = file.resolve()
            if not real.is_relative_to(root) or not real.is_file():
                return text_response(404, "not found\n")
            return Response(200, content_type(real), real.read_bytes(), _COMMON_HEADERS)
        html = render_missing(relative, source)
        if html is None:
            return text_response(404, "not found\n")
        return Response(200, HTML, html.encode("utf-8"), _COMMON_HEADERS)


def page_path(raw_path: str) -> str | None:
    """The path below the reports folder that a URL path names (URL-decoded,
    ``index.html`` for a folder), or ``None`` when it may not be served: not
    absolute, not UTF-8, a ``.``/``..``/hidden/empty segment, a backslash or a NUL.

    >>> page_path("/flights/a__vs__b.html")
    'flights/a__vs__b.html'
    >>> page_path("/%2e%2e/etc/passwd") is None
    True
    """
    if not raw_path.startswith("/"):
        return None
    try:
        decoded = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        return None
    segments = decoded[1:].split("/")
    if segments[-1] == "":
        segments[-1] = "index.html"
    for segment in segments:
        if not segment or segment.startswith(".") or "\\" in segment or "\x00" in segment:
            return None
    return "/".join(segments)


def content_type(path: Path) -> str:
    """The ``Content-Type`` of a served file, by its name; text in UTF-8."""
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _error(api: bool, status: int, message: str) -> Response:
    return json_response(status, {"error": message, "status": status}) if api else text_response(status, message + "\n")
