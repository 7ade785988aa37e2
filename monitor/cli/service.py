"""``validate`` and ``run``: check a configuration, run the service."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import (
    config_option,
    echo_json,
    format_option,
    handle_errors,
    load,
    open_store,
)
from monitor.errors import ConfigError


@click.command()
@config_option
@format_option("text", "json")
@handle_errors
def validate(config_path: str, fmt: str) -> None:
    """Check a configuration file; print every problem with its key path
    (exit 2 when there is one). With --format json: {"ok": true, "datasets":
    N, "monitors": N, "webhooks": N}, or {"ok": false, "problems": [{"path",
    "message"}]}.

    Example:

        drift-monitor validate -c monitors.yaml
    """
    try:
        config = load(config_path)
    except ConfigError as exc:
        if fmt != "json":
            raise
        echo_json({"ok": False, "file": config_path, "problems": [_problem(p) for p in exc.problems]})
        sys.exit(2)
    counts = {"datasets": len(config.datasets), "monitors": len(config.monitors), "webhooks": len(config.webhooks)}
    if fmt == "json":
        echo_json({"ok": True, "file": config_path, **counts})
        return
    click.echo(f"ok: {counts['datasets']} dataset(s), {counts['monitors']} monitor(s), "
               f"{counts['webhooks']} webhook(s)")


_KEY_PATH = re.compile(r"^(\S+): (.*)$", re.S)


def _problem(text: str) -> dict[str, Any]:
    """A problem line as ``{"path", "message"}``; ``path`` is ``None`` for a
    problem of the whole file (``not valid YAML: ...``)."""
    match = _KEY_PATH.match(text)
    return {"path": match.group(1), "message": match.group(2)} if match else {"path": None, "message": text}


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
@format_option("text", "json")
@handle_errors
def run(config_path: str, once: bool, http: str | None, stop_timeout: float | None, log_format: str,
        fmt: str) -> None:
    """Run the service: each monitor on its schedule until SIGTERM or Ctrl-C.

    SIGTERM/SIGINT stop it (exit 0) once running snapshots finish, or after the
    stop timeout mark them failed with reason "stopped"; SIGHUP re-reads the
    configuration (an invalid one is logged and the old one kept).

    One run (with or without --once) holds a store at a time: another exits 1
    with "store PATH is in use by drift-monitor run (pid N)". On start, running
    snapshots of processes that are gone are marked failed.

    --format json (with --once) prints one JSON document: per monitor its
    outcome, verdict, report path, queued alerts and what retention removed,
    then the alerts attempted; the exit code is the same as with text.

    Example:

        drift-monitor run -c monitors.yaml --http 127.0.0.1:9100 --log-format json
    """
    from monitor.service.logs import configure_logging
    from monitor.store import StoreLock

    if fmt == "json" and not once:
        raise click.UsageError("--format json needs --once (the service logs; --log-format json for JSON logs)")
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
        runs = [_run_record(store, r) for r in results] if fmt == "json" else []
    index = Path(config.reports_dir) / "index.html"
    failed = any(r.status == "failed" for r in results) or any(a.status == "failed" for a in alerts)
    if fmt == "json":
        echo_json({"monitors": runs, "alerts": [_alert_record(a) for a in alerts],
                   "index": str(index) if index.is_file() else None})
    else:
        _print_run(results, alerts, index)
    if failed:
        sys.exit(1)


def _print_run(results: list[Any], alerts: list[Any], index: Path) -> None:
    """What ``run --once`` prints as text: a line per monitor, per alert, and the index."""
    for r in results:
        detail = r.report_path or r.reason or ""
        click.echo(f"{r.monitor}: {r.status}, severity {r.severity}{'  ' + detail if detail else ''}")
    for a in alerts:
        click.echo(f"alert {a.id} ({a.event}) to webhook {a.webhook}: {a.status}"
                   + (f" ({a.last_error})" if a.status != "delivered" and a.last_error else ""))
    if index.is_file():
        click.echo(f"open {index} to read the reports")


def _run_record(store: Any, result: Any) -> dict[str, Any]:
    """One monitor's run in ``run --once --format json``."""
    verdict = None if result.comparison_id is None else store.get_comparison(result.comparison_id).result.get("verdict")
    return {
        "monitor": result.monitor, "outcome": result.status, "reason": result.reason,
        "target": result.target.name if result.target else None,
        "baseline": result.baseline.name if result.baseline else None,
        "baseline_spec": result.baseline_spec, "comparison_id": result.comparison_id,
        "drifted": result.drifted, "severity": result.severity, "verdict": verdict,
        "report_path": result.report_path, "conditions": result.conditions,
        "alerts": [{"id": a.id, "event": a.event, "webhook": a.webhook} for a in result.alerts],
        "pruned": [r.to_dict() for r in result.pruned],
    }


def _alert_record(alert: Any) -> dict[str, Any]:
    """One alert attempted by ``run --once``, as ``--format json`` prints it."""
    return {"id": alert.id, "event": alert.event, "webhook": alert.webhook, "status": alert.status,
            "attempts": alert.attempts, "last_error": alert.last_error}

