"""The ``drift-monitor`` command line.

Exit codes: 0 ok; 1 error (unreadable data, store problem, a monitor failed);
2 usage or configuration error; 3 drift found when ``--fail-on-drift`` is given.
This is the only module that turns a :class:`~monitor.errors.MonitorError` into
a message and an exit code.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from monitor.errors import ConfigError, MonitorError

F = TypeVar("F", bound=Callable[..., Any])
EXIT_DRIFT = 3
CONTEXT = {"help_option_names": ["-h", "--help"]}


class MonitorException(click.ClickException):
    """A library error shown as ``Error: message`` (exit code 1)."""


class ConfigException(MonitorException):
    """A configuration error shown as ``Error: message`` (exit code 2)."""

    exit_code = 2


def handle_errors(func: F) -> F:
    """Turn a MonitorError raised by a command into a message and exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MonitorError as exc:
            kind = ConfigException if isinstance(exc, ConfigError) else MonitorException
            raise kind(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def config_option(func: F) -> F:
    """``-c/--config FILE``, default ``$DRIFT_MONITOR_CONFIG`` or ``monitors.yaml``."""
    return click.option(
        "-c", "--config", "config_path", type=click.Path(dir_okay=False),
        default=lambda: os.environ.get("DRIFT_MONITOR_CONFIG", "monitors.yaml"),
        show_default="$DRIFT_MONITOR_CONFIG or monitors.yaml", help="YAML configuration file.",
    )(func)


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format`` with the given choices, the first the default."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True,
                        help="Output format.")


def echo_json(data: Any) -> None:
    """Print JSON, indented, keys in order."""
    click.echo(json.dumps(data, indent=2, default=str, allow_nan=False))


def load(config_path: str) -> Any:
    """Load and validate the configuration (ConfigError → exit 2)."""
    from monitor.config import load_config

    return load_config(config_path)


def open_store(config: Any) -> Any:
    """Open the configured store."""
    from monitor.store import Store

    return Store(config.store)


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="drift-monitor")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Watch datasets for drift: snapshot profiles on a schedule, compare them with
    a baseline, write HTML reports and send webhooks.

    Example:

        drift-monitor run -c monitors.yaml --once
    """
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpcore"):  # their request lines carry webhook URLs
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
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


@main.command()
@config_option
@click.option("--once", is_flag=True,
              help="Run every monitor once, attempt the due alerts once, and exit (1 if a run or an alert failed).")
@click.option("--http", "http", metavar="HOST:PORT", default=None, callback=_check_address,
              help="Serve /healthz and /metrics here (port 0: any free port, logged). "
                   "Default: service.http of the config, else none.")
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


@main.group()
def snapshot() -> None:
    """Create, list, show, export and delete snapshots of a dataset."""


@snapshot.command("list")
@click.argument("dataset")
@config_option
@format_option("table", "json")
@handle_errors
def snapshot_list(dataset: str, config_path: str, fmt: str) -> None:
    """List a dataset's snapshots, oldest first.

    Example:

        drift-monitor snapshot list flights -c monitors.yaml
    """
    with open_store(load(config_path)) as store:
        snaps = store.list_snapshots(dataset)
    rows = [_snapshot_row(s) for s in snaps]
    if fmt == "json":
        echo_json(rows)
        return
    if not rows:
        click.echo(f"dataset {dataset!r} has no snapshots")
        return
    click.echo(_text_table(rows, ["name", "status", "created_at", "rows", "monitor", "window_start", "window_end",
                                  "data_copy", "reason"]))


def _snapshot_row(s: Any) -> dict[str, Any]:
    return {
        "name": s.name, "dataset": s.dataset, "version": s.dataset_version, "status": s.status,
        "created_at": s.created_at.isoformat(timespec="seconds"), "rows": s.row_count,
        "monitor": s.monitor, "data_copy": bool(s.data_copy), "fingerprint": s.fingerprint, "reason": s.reason,
        "window_start": s.window_start.isoformat() if s.window_start else None,
        "window_end": s.window_end.isoformat() if s.window_end else None,
    }


def _text_table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    cells = [[("" if r.get(k) is None else str(r.get(k))) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


@snapshot.command("show")
@click.argument("dataset")
@click.argument("name")
@config_option
@format_option("table", "json")
@handle_errors
def snapshot_show(dataset: str, name: str, config_path: str, fmt: str) -> None:
    """Print a snapshot's profile table (Azure ML's columns).

    Example:

        drift-monitor snapshot show flights snapshot_20250101T060000Z -c monitors.yaml
    """
    from monitor.service.runner import load_profile

    with open_store(load(config_path)) as store:
        snap = store.get_snapshot(dataset, name)
        profile = load_profile(store, snap)
        found = [c for c in store.list_comparisons(dataset) if c.target_snapshot_id == snap.id][:1]
    # the conditions the monitor's run found when it compared this snapshot
    header = {**_snapshot_row(snap), "conditions": found[0].result.get("conditions", []) if found else []}
    print_profile(profile, fmt, header=header)


def print_profile(profile: Any, fmt: str, header: dict[str, Any] | None = None) -> None:
    """Print a profile as a table or JSON."""
    from monitor.profile import profile_json, profile_table

    if fmt == "json":
        echo_json({**({"snapshot": header} if header else {}), "profile": profile_json(profile)})
        return
    import pandas as pd

    if header:
        click.echo(f"{header['dataset']} / {header['name']}: {header['status']}, {header['rows']} rows, "
                   f"created {header['created_at']}")
        if header.get("window_start"):
            click.echo(f"window: {header['window_start']} to {header['window_end']} (end excluded)")
    with pd.option_context("display.max_columns", None, "display.width", 250, "display.max_rows", None):
        click.echo(profile_table(profile).to_string())


@snapshot.command("create")
@click.argument("dataset")
@config_option
@click.option("--name", default=None, help="Snapshot name (default snapshot_<UTC time>).")
@click.option("--data-copy/--no-data-copy", default=False, help="Also store a Parquet copy of the data.")
@handle_errors
def snapshot_create(dataset: str, config_path: str, name: str | None, data_copy: bool) -> None:
    """Profile a dataset now and store the snapshot.

    Running snapshots of processes that are gone are marked failed first; a
    daemon's running snapshot is left alone.

    Example:

        drift-monitor snapshot create flights --name before-retrain --data-copy
    """
    from monitor.service.runner import take_snapshot

    config = load(config_path)
    if dataset not in config.datasets:
        raise ConfigError([f"datasets.{dataset}: no such dataset"], config_path)
    with open_store(config) as store:
        store.recover_interrupted()
        snap = take_snapshot(store, dataset, config.datasets[dataset], name=name, data_copy=data_copy)
    click.echo(f"{snap.name}: {snap.status}, {snap.row_count} rows")


@snapshot.command("delete")
@click.argument("dataset")
@click.argument("name")
@config_option
@click.option("--force", is_flag=True,
              help="Delete it even when it is a monitor's baseline (pinned, named in the config, or 'first').")
@handle_errors
def snapshot_delete(dataset: str, name: str, config_path: str, force: bool) -> None:
    """Delete a snapshot, its profile and its data copy.

    A snapshot that is a monitor's baseline (pinned with 'baseline set', named
    as a monitor's baseline, or the first snapshot of a monitor with 'baseline:
    first') is kept, with an error naming the monitors, unless --force.

    Example:

        drift-monitor snapshot delete flights snapshot_20250101T060000Z
    """
    from monitor.service.baselines import delete_snapshot

    config = load(config_path)
    with open_store(config) as store:
        delete_snapshot(store, config, dataset, name, force=force)
    click.echo(f"deleted {dataset}/{name}")


@main.command()
@click.argument("dataset")
@click.argument("baseline")
@click.argument("target")
@config_option
@format_option("text", "json")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the HTML report to this file.")
@click.option("--exact", is_flag=True, help="Compute from the data copies with scipy instead of the profiles.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 3 when drift is found.")
@handle_errors
def compare(dataset: str, baseline: str, target: str, config_path: str, fmt: str,
            report_path: str | None, exact: bool, fail_on_drift: bool) -> None:
    """Compare two snapshots of a dataset (BASELINE and TARGET are snapshot names).

    Example:

        drift-monitor compare flights snapshot_a snapshot_b --report drift.html
    """
    from monitor.service import runner

    config = load(config_path)
    settings = _settings_for_dataset(config, dataset)
    with open_store(config) as store:
        base, tgt = store.get_snapshot(dataset, baseline), store.get_snapshot(dataset, target)
        result = runner.compare(store, base, tgt, settings, exact=exact).to_dict()
        result["conditions"] = _conditions(store, config, base, tgt)
    meta = {"dataset": dataset, "baseline": base.name, "target": tgt.name,
            "baseline_kind": "snapshot", "baseline_snapshots": [base.name]}
    _emit_comparison(result, meta, fmt, report_path, (base, tgt), fail_on_drift)


def _conditions(store: Any, config: Any, base: Any, tgt: Any) -> list[dict[str, str]]:
    """The conditions of ``tgt`` against ``base`` by the ``expect`` of the monitor that took it."""
    from monitor.service import conditions

    if tgt.monitor not in config.monitors:
        return []
    return [c.to_dict() for c in conditions.evaluate(store, config.monitors[tgt.monitor], tgt.monitor, tgt, [base])]


def _settings_for_dataset(config: Any, dataset: str) -> Any:
    """Thresholds of the first monitor of the dataset, else the defaults."""
    from monitor.drift import DriftSettings
    from monitor.service.runner import settings_for

    for mon in config.monitors.values():
        if mon.dataset == dataset:
            return settings_for(mon)
    return DriftSettings()


def _emit_comparison(result: dict[str, Any], meta: dict[str, Any], fmt: str, report_path: str | None,
                     snaps: tuple[Any, Any] | None, fail_on_drift: bool) -> None:
    if report_path:
        _write_single_report(result, meta, report_path, snaps)
    if fmt == "json":
        echo_json({**meta, **result})
    else:
        click.echo(_comparison_text(result, meta))
    if report_path and fmt != "json":
        click.echo(f"report: {report_path}")
    if fail_on_drift and result["verdict"]["drifted"]:
        sys.exit(EXIT_DRIFT)


def _write_single_report(result: dict[str, Any], meta: dict[str, Any], path: str, snaps: tuple[Any, Any] | None) -> None:
    from datetime import datetime, timezone

    from monitor import report

    now = datetime.now(timezone.utc)
    page = report.comparison_context(
        result, dataset=meta["dataset"], monitor=None, baseline_name=meta["baseline"],
        baseline_created=snaps[0].created_at if snaps else now, target_name=meta["target"],
        target_created=snaps[1].created_at if snaps else now, generated_at=now,
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(report.render_comparison(page), encoding="utf-8")


_VERDICT_WORDS = {"drift": "DRIFT", "no_drift": "no drift", "insufficient_data": "insufficient data"}


def _comparison_text(result: dict[str, Any], meta: dict[str, Any]) -> str:
    v = result["verdict"]
    lines = [
        f"{meta['dataset']}: {meta['target']} vs baseline {meta['baseline']} ({result.get('mode', 'profile')})",
        f"verdict: {_VERDICT_WORDS.get(str(v.get('status')), 'DRIFT' if v['drifted'] else 'no drift')}, "
        f"severity {v['severity']}, "
        f"{v['drifted_columns']}/{v['columns_compared']} columns drifted",
    ]
    lines += [f"condition {c['kind']}: {c['detail']}" for c in result.get("conditions") or ()]
    for c in result["columns"]:
        decided = ", ".join(f"{m['name']}={_num(m['value'])}" for m in c["metrics"] if m.get("decides"))
        lines.append(f"  {c['column']:<24} {c['status']:<18} {c['severity']:<9} {decided}")
    return "\n".join(lines)


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


@main.group()
def baseline() -> None:
    """Pin the baseline a monitor compares with."""


@baseline.command("set")
@click.argument("monitor_name")
@click.argument("snapshot_name")
@config_option
@handle_errors
def baseline_set(monitor_name: str, snapshot_name: str, config_path: str) -> None:
    """Pin SNAPSHOT_NAME (a snapshot of the monitor's dataset) as its baseline.

    Example:

        drift-monitor baseline set flights-daily after-retrain
    """
    config = load(config_path)
    if monitor_name not in config.monitors:
        raise ConfigError([f"monitors.{monitor_name}: no such monitor"], config_path)
    with open_store(config) as store:
        snap = store.get_snapshot(config.monitors[monitor_name].dataset, snapshot_name)
        store.set_baseline(monitor_name, snap)
    click.echo(f"{monitor_name}: baseline is now {snap.name}")


@main.command("backfill")
@click.argument("monitor_name")
@click.option("--from", "start", required=True, metavar="DATE", help="Start of the range (a date or ISO 8601 time).")
@click.option("--to", "end", required=True, metavar="DATE", help="End of the range, excluded.")
@click.option("--force", is_flag=True, help="Retake windows that already have a completed snapshot.")
@config_option
@format_option("text", "json")
@handle_errors
def backfill_cmd(monitor_name: str, start: str, end: str, force: bool, config_path: str, fmt: str) -> None:
    """Snapshot every complete window of a windowed monitor in [--from, --to) and
    compare each with its baseline, reading the data once; no alerts are sent.

    Dates without a time zone are read in the monitor's schedule.timezone. A
    window that already has a snapshot of the monitor is skipped unless --force.
    Exit 1 when a window failed.

    Example:

        drift-monitor backfill flights-weekly --from 2013-01-01 --to 2014-01-01
    """
    from monitor.service.backfill import backfill
    from monitor.service.windows import monitor_zone, parse_time

    config = load(config_path)
    if monitor_name not in config.monitors:
        raise ConfigError([f"monitors.{monitor_name}: no such monitor"], config_path)
    zone = monitor_zone(config.monitors[monitor_name])
    first, last = parse_time(start, zone, "--from"), parse_time(end, zone, "--to")
    tty, bar = sys.stderr.isatty(), list[Any]()

    def on_file(done: int, total: int) -> None:  # a bar on a terminal while the files are read
        if tty:
            bar[:] = [click.progressbar(length=total, label="reading", file=sys.stderr)] if done == 1 else bar
            bar[-1].update(1)
            if done == total:
                bar[-1].render_finish()

    def on_window(w: Any) -> None:  # else a line per window
        if not tty:
            click.echo(f"{w.name}: {w.status}" + (f" ({w.reason})" if w.reason else ""), err=True)

    with open_store(config) as store:
        summary = backfill(config, monitor_name, store, first, last, force=force, on_file=on_file, on_window=on_window)
    if fmt == "json":
        echo_json(summary.to_dict())
    else:
        rows = [{**w.to_dict(), "window": f"{w.window_start:%Y-%m-%d %H:%M} to {w.window_end:%Y-%m-%d %H:%M}"}
                for w in summary.windows]
        click.echo(_text_table(rows, ["name", "window", "status", "rows", "severity", "reason"]))
        click.echo(f"{monitor_name}: {summary.written} written, {summary.skipped} skipped, {summary.failed} failed"
                   + (f", {summary.not_complete} not complete yet" if summary.not_complete else ""))
    if summary.failed:
        sys.exit(1)


@main.group("report")
def report_group() -> None:
    """Rewrite report pages from the store."""


@report_group.command("history")
@click.argument("monitor_name", metavar="MONITOR")
@config_option
@click.option("--last", type=click.IntRange(min=1), default=None,
              help="Show this many of the newest comparisons (default: as the service does, 400).")
@handle_errors
def report_history(monitor_name: str, config_path: str, last: int | None) -> None:
    """Rewrite MONITOR's history page (REPORTS_DIR/MONITOR/history.html) from the
    comparisons in the store, and the index when the page is new. The service
    rewrites it after each run; this is for a page deleted, or written by an
    older version.

    Example:

        drift-monitor report history flights-monthly -c monitors.yaml
    """
    from monitor.service.history import HISTORY_RUNS, write_history

    config = load(config_path)
    with open_store(config) as store:
        if monitor_name not in config.monitors and not store.list_comparisons(monitor=monitor_name, limit=1):
            raise ConfigError([f"monitors.{monitor_name}: no such monitor"], config_path)
        path = write_history(store, config.reports_dir, monitor_name, last=last or HISTORY_RUNS)
    click.echo(f"{monitor_name}: history written to {path}")


@main.command("profile")
@click.argument("path", type=click.Path(exists=True, dir_okay=True))
@format_option("table", "json")
@handle_errors
def profile_cmd(path: str, fmt: str) -> None:
    """Print the profile of a CSV, Parquet or JSON Lines file (no config needed).

    Example:

        drift-monitor profile data/flights_2013_01.parquet
    """
    from monitor.service.runner import profile_file

    print_profile(profile_file(path), fmt)


@main.command("compare-files")
@click.argument("reference", type=click.Path(exists=True))
@click.argument("current", type=click.Path(exists=True))
@format_option("text", "json")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None, help="Write the HTML report here.")
@click.option("--exact", is_flag=True, help="Compute from the data with scipy instead of the profiles.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 3 when drift is found.")
@handle_errors
def compare_files(reference: str, current: str, fmt: str, report_path: str | None, exact: bool, fail_on_drift: bool) -> None:
    """Compare two data files (REFERENCE is the baseline) with no config.

    Example:

        drift-monitor compare-files january.parquet july.parquet --report drift.html --fail-on-drift
    """
    from monitor import drift
    from monitor.service.runner import profile_file
    from monitor.sources.files import FileSource

    if exact:
        tables = [FileSource((p,)).read_table() for p in (reference, current)]
        result = drift.compare_data(tables[0], tables[1]).to_dict()
    else:
        result = drift.compare_profiles(profile_file(reference), profile_file(current)).to_dict()
    meta = {"dataset": Path(current).stem, "baseline": Path(reference).name, "target": Path(current).name}
    _emit_comparison(result, meta, fmt, report_path, None, fail_on_drift)


@main.command()
@format_option("table", "json")
def metrics(fmt: str) -> None:
    """List the drift metrics: name, column kinds, direction and default thresholds.

    Example:

        drift-monitor metrics --format json
    """
    from monitor.drift import metric_table

    rows = metric_table()
    if fmt == "json":
        echo_json(rows)
        return
    flat = [{**r, "kinds": ",".join(r["kinds"])} for r in rows]
    click.echo(_text_table(flat, ["name", "kinds", "direction", "warning", "critical", "source"]))


if __name__ == "__main__":  # pragma: no cover
    main()
