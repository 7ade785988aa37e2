"""The daemon's small HTTP endpoint: ``/healthz`` and Prometheus ``/metrics``.

A :class:`StatusServer` is a stdlib :class:`~http.server.ThreadingHTTPServer`
in a daemon thread. It serves

- ``GET /healthz``: ``200`` with a JSON body when the store opens and the
  scheduler runs, else ``503`` with the same body naming the problem
  (``{"status": "ok" | "unavailable", "problems": [...], "monitors": N,
  "last_runs": {monitor: ISO time | null}, "outbox_pending": N | null}``);
- ``GET /metrics``: the daemon's registry in the Prometheus text format;
- anything else: ``404``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from monitor.errors import MonitorError

log = logging.getLogger(__name__)

Health = Callable[[], tuple[bool, dict[str, Any]]]


class StatusServer:
    """Serves ``/healthz`` and ``/metrics`` on ``host:port`` from a background thread.

    :param health: returns ``(healthy, body)``; called on every ``/healthz``.
    :param metrics: returns the exposition text; called on every ``/metrics``.
    :param port: 0 picks a free port; :attr:`port` tells which.
    :raises MonitorError: when the address cannot be bound (in use, unknown host).
    """

    def __init__(self, host: str, port: int, health: Health, metrics: Callable[[], bytes]) -> None:
        try:
            self.server = ThreadingHTTPServer((host, port), _handler(health, metrics))
        except OSError as exc:
            raise MonitorError(f"cannot serve HTTP on {host}:{port}: {exc.strerror or exc}") from exc
        self.server.daemon_threads = True
        self.host = host
        self.port = int(self.server.server_address[1])
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
        log.info("serving /healthz and /metrics on %s", self.url, extra={"http_port": self.port})

    def stop(self) -> None:
        """Stop serving and close the socket (requests in progress are not waited for)."""
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


def _handler(health: Health, metrics: Callable[[], bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                ok, body = health()
                self._send(200 if ok else 503, "application/json", json.dumps(body, default=str).encode())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, metrics())
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
