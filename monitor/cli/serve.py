"""``serve``: the reports and their JSON API over HTTP, read-only."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import config_option, handle_errors, load


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; the pages carry no authentication).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port, printed).")
@handle_errors
def serve(config_path: str, host: str, port: int) -> None:
    """Serve the reports folder and the store over HTTP until Ctrl-C or SIGTERM:
    / (the index), the comparison reports, the history pages (MONITOR/history.html),
    /healthz, and JSON under /api (/api/monitors, /api/comparisons?monitor=&dataset=&limit=,
    /api/comparisons/ID, /api/snapshots/DATASET).

    Read-only (GET and HEAD): a page missing on disk is rendered from the store,
    not written. The store is read while drift-monitor run writes it; run --http
    serves the same pages beside /metrics.

    Example:

        drift-monitor serve -c monitors.yaml --port 8000
    """
    from monitor.service.http import StatusServer
    from monitor.service.site import Site
    from monitor.store import Store

    config = load(config_path)
    if Path(config.store).is_file():
        Store(config.store).close()  # an older store is migrated once, as by every command
    else:
        click.echo(f"the store {config.store} does not exist yet: /api answers 503 until a run creates it",
                   err=True)
    site = Site(lambda: config)
    server = StatusServer(host, port, site.health, None, site)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        click.echo(f"serving {config.reports_dir} and the store {config.store} on {server.url}/ (Ctrl-C stops)")
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        _restore(previous)


def _restore(previous: dict[signal.Signals, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
