"""The HTTP server of ``drift-monitor run --http`` and ``drift-monitor serve``.

A :class:`StatusServer` is a stdlib :class:`~http.server.ThreadingHTTPServer`
in a daemon thread (a thread per request). It serves

- ``GET /healthz`` (when given a health check): ``200`` with a JSON body when
  healthy, else ``503`` with the same body naming the problem (the daemon's:
  ``{"status": "ok" | "unavailable", "problems": [...], "monitors": N,
  "last_runs": {monitor: ISO time | null}, "outbox_pending": N | null}``);
- ``GET /metrics`` (when given metrics): the Prometheus text format;
- anything else, when given a :class:`~monitor.service.site.Site`: the reports
  folder's pages, pages rendered from the store, and the ``/api`` JSON (see
  :mod:`monitor.service.site`); without one, ``404``.

``HEAD`` answers as ``GET`` without the body; any other method gets ``405``
with ``Allow: GET, HEAD``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

from monitor.errors import MonitorError
from monitor.service.site import ALLOWED, Response, Site, text_response

log = logging.getLogger(__name__)

Health = Callable[[], tuple[bool, dict[str, Any]]]


class StatusServer:
    """Serves ``/healthz``, ``/metrics`` and the pages on ``host:port`` from a background thread.

    :param health: returns ``(healthy, body)``; called on every ``/healthz``
        (``None``: no ``/healthz``).
    :param metrics: returns the exposition text; called on every ``/metrics``
        (``None``: no ``/metrics``).
    :param site: the pages and API to serve on every other path (``None``: 404).
    :param port: 0 picks a free port; :attr:`port` tells which.
    :raises MonitorError: when the address cannot be bound (in use, unknown host).
    """

    def __init__(self, host: str, port: int, health: Health | None, metrics: Callable[[], bytes] | None,
                 site: Site | None = None) -> None:
        try:
            self.server = ThreadingHTTPServer((host, port), _handler(health, metrics, site))
        except OSError as exc:
            raise MonitorError(f"cannot serve HTTP on {host}:{port}: {exc.strerror or exc}") from exc
        self.server.daemon_threads = True
        self.host = host
        self.port = int(self.server.server_address[1])
        self.serves = [p for p, on in (("/healthz", health), ("/metrics", metrics)) if on is not None]
        self.site = site
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="drift-monitor-http", daemon=True)

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()
        if self.serves:
            log.info("serving %s on %s", " and ".join(self.serves), self.url, extra={"http_port": self.port})
        if self.site is not None:
            log.info("serving the reports and /api on %s/", self.url, extra={"http_port": self.port})

    def stop(self) -> None:
        """Stop serving and close the socket (requests in progress are not waited for)."""
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


def _handler(health: Health | None, metrics: Callable[[], bytes] | None,
             site: Site | None) -> type[BaseHTTPRequestHandler]:
    def status_answer(path: str) -> Response | None:
        if path == "/healthz" and health is not None:
            ok, body = health()
            return Response(200 if ok else 503, "application/json", json.dumps(body, default=str).encode())
        if path == "/metrics" and metrics is not None:
            return Response(200, CONTENT_TYPE_LATEST, metrics())
        return None

    class Handler(BaseHTTPRequestHandler):
        server_version = "drift-monitor"

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            self._answer(body=True)

        def do_HEAD(self) -> None:  # noqa: N802 (the stdlib's name)
            self._answer(body=False)

        def __getattr__(self, name: str) -> Callable[[], None]:
            # every other method (POST, PUT, DELETE, ...): 405, not the stdlib's 501
            if name.startswith("do_"):
                return self._not_allowed
            raise AttributeError(name)

        def _not_allowed(self) -> None:
            if site is not None:
                self._send(site.respond(self.command, self.path), body=True)
            else:
                answer = text_response(405, f"method {self.command} not allowed: use GET or HEAD\n")
                self._send(Response(405, answer.content_type, answer.body, (("Allow", ALLOWED),)), body=True)

        def _answer(self, body: bool) -> None:
            answer = status_answer(urlsplit(self.path).path)
            if answer is None and site is not None:
                answer = site.respond(self.command, self.path)
            if answer is None:
                answer = text_response(404, "not found: try /healthz or /metrics\n")
            self._send(answer, body)

        def _send(self, answer: Response, body: bool) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
