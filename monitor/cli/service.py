"""``validate`` and ``run``: check a configuration, run the service."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from monitor.cli.common import (
    config_option,
    handle_errors,
    load,
    open_store,
)


@click.command()
@config_option
@handle_errors
def validate(config_path: str) -> None:
    """Check a configuration file; print every problem with its key path.

    Example:

        drift-monitor validate -c monitors.yaml
    """
    config = load(config_path)
    click.echo(f"ok: {len(config.datasets)} dataset(s), {len(config.monitors)} monitor(s), "
               f"{len(config.webhooks)} webhook(s)")


def _check_address(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from monitor.config import parse_address

    if value is not None:
        try:
            parse_address(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@click.command()
@config_option
@click.option("--once", is_flag=True,
              help="Run every monitor once, attempt the due alerts once, and exit (1 if a run or an alert failed).")
@click.option("--http", "http", metavar="HOST:PORT", default=None, callback=_check_address,
              help="Serve /healthz, /metrics, the reports and /api here, as serve does "
                   "(port 0: any free port, logged). Default: service.http of the config, else none.")
@click.option("--stop-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds a running snapshot gets after SIGTERM/SIGINT before it is marked failed "
                   "(default: service.stop_timeout of the config, 10).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log lines as text or as one JSON object per line.")
@handle_errors
def run(config_path: str, once: bool, http: str | None, stop_timeout: float | None, log_format: str) -> None:
    """Run the service: each monitor on its schedule until SIGTERM or Ctrl-C.

    SIGTERM/SIGINT stop it (exit 0) once running snapshots finish, or after the
    stop timeout mark them failed with reason "stopped"; SIGHUP re-reads the
    configuration (an invalid one is logged and the old one kept).

    One run (with or without --once) holds a store at a time: another exits 1
    with "store PATH is in use by drift-monitor run (pid N)". On start, running
    snapshots of processes that are gone are marked failed.

    Example:

        drift-monitor run -c monitors.yaml --http 127.0.0.1:9100 --log-format json
    """
    from monitor.service.logs import configure_logging
    from monitor.store import StoreLock

    configure_logging(logging.getLogger().level, log_format)
    config = load(config_path)
    if not once:
        logging.getLogger("monitor").setLevel(min(logging.getLogger().level, logging.INFO))
        from monitor.service.daemon import Daemon, leave_now

        with StoreLock(config.store):
            daemon = Daemon(config, config_path=config_path, http=http, stop_timeout=stop_timeout)
            if not daemon.serve():
                leave_now(0)
        return
    from monitor.service.alert import flush_outbox
    from monitor.service.runner import run_all

    with StoreLock(config.store), open_store(config) as store:
        store.recover_interrupted()
        results = run_all(config, store)
        alerts = flush_outbox(store, config.webhooks)
    for r in results:
        detail = r.report_path or r.reason or ""
        click.echo(f"{r.monitor}: {r.status}, severity {r.severity}{'  ' + detail if detail else ''}")
    for a in alerts:
        click.echo(f"alert {a.id} ({a.event}) to webhook {a.webhook}: {a.status}"
                   + (f" ({a.last_error})" if a.status != "delivered" and a.last_error else ""))
    index = Path(config.reports_dir) / "index.html"
    if index.is_file():
        click.echo(f"open {index} to read the reports")
    if any(r.status == "failed" for r in results) or any(a.status == "failed" for a in alerts):
        sys.exit(1)

