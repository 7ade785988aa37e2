"""Shared fixtures: a real webhook receiver on 127.0.0.1; the shipped flights
example backfilled over a few weeks (once per session); ``drift-monitor
serve``'s server over a configuration; real S3 (moto), Azure Blob Storage
(Azurite) and HTTP file servers on 127.0.0.1 (``tests/servers.py``), whose
tests get the ``servers`` marker."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from servers import (
    Azurite,
    FileServer,
    S3Server,
    ServerUnavailable,
    start_azurite,
    start_file_server,
    start_s3,
    unavailable,
)

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------- receiver


@dataclass
class Received:
    """One request the receiver got; header names are lower case.

    ``at`` is when it arrived and ``answered_at`` when its answer started
    (``time.monotonic()`` of the test process; ``None`` until answered).
    """

    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0
    answered_at: float | None = None
    status: int | None = None


class Receiver:
    """A webhook endpoint answering from a script of responses.

    Each script entry is a status code, ``(delay_seconds, status)`` or a dict
    ``{"status": 503, "delay": 0.0, "headers": {"Retry-After": "3"}}``; once the
    script is used up, every request gets 200.
    """

    def __init__(self, script: list[Any], port: int = 0) -> None:
        self.script = list(script)
        self.requests: list[Received] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def next_response(self) -> tuple[float, int, dict[str, str]]:
        with self._lock:
            entry = self.script.pop(0) if self.script else 200
        if isinstance(entry, dict):
            return float(entry.get("delay", 0.0)), int(entry["status"]), dict(entry.get("headers", {}))
        delay, status = entry if isinstance(entry, tuple) else (0.0, entry)
        return delay, status, {}

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Wait until ``count`` requests were answered (or ``timeout`` seconds passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(r.answered_at is not None for r in self.requests) >= count:
                break
            time.sleep(0.05)
        return list(self.requests)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                received = Received(self.path, headers, body, at=time.monotonic())
                receiver.requests.append(received)
                delay, status, extra = receiver.next_response()
                received.status = status
                if delay:
                    receiver.release.wait(delay)
                received.answered_at = time.monotonic()
                try:
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self.wfile.flush()
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


@pytest.fixture
def serve() -> Iterator[Callable[..., Receiver]]:
    """Start receivers: ``serve([500, 200])`` or ``serve([], port=...)``."""
    started: list[Receiver] = []

    def start(script: list[Any] | None = None, port: int = 0) -> Receiver:
        receiver = Receiver(script or [], port)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.close()


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])




# ----------------------------------------------------------------- flights

# (monitor, --from, --to): January as one snapshot, two weeks against it (a quiet
# January week and a July week), the blizzard week of February, and five weeks of
# June-July against the four weeks before each.
BACKFILLS = [
    ("january", "2013-01-01", "2013-02-01"),
    ("weekly_vs_january", "2013-01-14", "2013-01-21"),
    ("weekly_vs_january", "2013-02-04", "2013-02-11"),
    ("weekly_vs_january", "2013-07-08", "2013-07-15"),
    ("weekly_vs_trailing", "2013-06-10", "2013-07-15"),
]


@pytest.fixture(scope="session")
def flights_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped config, unchanged, backfilled over a few weeks on fresh data
    (``config/flights.yaml``, ``example-store/``, ``reports/`` under the folder
    returned). Built once per session; tests only read it."""
    from monitor.cli import main
    from monitor.example import prepare_flights

    base = tmp_path_factory.mktemp("flights")
    prepare_flights(base / "example-data" / "flights")
    (base / "config").mkdir()
    config = base / "config" / "flights.yaml"
    config.write_text((ROOT / "config" / "flights.yaml").read_text())
    for monitor, start, end in BACKFILLS:
        result = CliRunner().invoke(main, ["backfill", monitor, "-c", str(config), "--from", start, "--to", end])
        assert result.exit_code == 0, result.output
    return base


# ------------------------------------------------------------------ serving


@contextmanager
def serving(config_path: Path) -> Iterator[str]:
    """``drift-monitor serve``'s server (the pages, ``/healthz`` and ``/api``)
    over the configuration at ``config_path``, on 127.0.0.1 and a free port;
    yields its base URL (``http://127.0.0.1:PORT``)."""
    from monitor.config import load_config
    from monitor.service.http import StatusServer
    from monitor.service.site import Site

    config = load_config(config_path)
    site = Site(lambda: config)
    server = StatusServer("127.0.0.1", 0, site.health, None, site)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def flights_url(flights_run: Path) -> Iterator[str]:
    """The base URL of a server over the flights example, for the session."""
    with serving(flights_run / "config" / "flights.yaml") as url:
        yield url


# ----------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL server of this process (:mod:`servers_pg`): password
    authentication, 127.0.0.1, a free port, database ``drift``; stopped at the
    end of the session. Without the binaries the tests that use it skip with
    the reason, except under ``CI=true``, where they fail."""
    import os

    from servers_pg import PostgresUnavailable, start_postgres

    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the PostgreSQL tests cannot run: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        server.stop()

# ------------------------------------------------------------------- servers

SERVER_FIXTURES = {"s3_server", "azurite", "http_files", "postgres"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a server fixture ``servers`` (``-m "not servers"`` leaves them out)."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 for the session (per pytest-xdist process): ``endpoint_url``,
    ``key``, ``secret``, ``storage_options()`` for s3fs, ``new_bucket()``,
    ``put(...)``, and bytes counted per object (``bytes_sent(bucket, key)``).
    Skips when moto is missing (fails under CI=true)."""
    try:
        server = start_s3(tmp_path_factory.mktemp("s3"))
    except ServerUnavailable as error:
        unavailable(str(error))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's blob service for the session (per pytest-xdist process):
    ``connection_string()``, ``storage_options()`` for adlfs,
    ``new_container()``, ``put(...)``, and bytes counted per blob. Skips when
    Azurite is not installed (``scripts/install-servers``; fails under CI=true)."""
    try:
        server = start_azurite(tmp_path_factory.mktemp("azurite"))
    except ServerUnavailable as error:
        unavailable(str(error))
    yield server
    server.stop()


@pytest.fixture
def http_files(tmp_path: Path) -> Iterator[FileServer]:
    """An HTTP file server over the test's own folder ``tmp_path / "files"``:
    ``put(relative, data)`` returns the file's URL; set ``authorization`` to
    require that ``Authorization`` header; bytes counted per file."""
    root = tmp_path / "files"
    root.mkdir()
    server = start_file_server(root)
    yield server
    server.stop()
