"""``baseline set``, ``backfill`` and ``report ...``: a monitor over time."""

from __future__ import annotations

import sys
from typing import Any

import click

from monitor.cli.common import (
    config_option,
    engine_options,
    echo_json,
    format_option,
    handle_errors,
    load,
    open_store,
    text_table,
)
from monitor.errors import ConfigError


@click.group()
def baseline() -> None:
    """Pin the baseline a monitor compares with."""


@baseline.command("set")
@click.argument("monitor_name")
@click.argument("snapshot_name")
@config_option
@format_option("text", "json")
@handle_errors
def baseline_set(monitor_name: str, snapshot_name: str, config_path: str, fmt: str) -> None:
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
    if fmt == "json":
        echo_json({"monitor": monitor_name, "dataset": snap.dataset, "baseline": snap.name, "snapshot_id": snap.id})
        return
    click.echo(f"{monitor_name}: baseline is now {snap.name}")


@click.command("backfill")
@click.argument("monitor_name")
@click.option("--from", "start", required=True, metavar="DATE", help="Start of the range (a date or ISO 8601 time).")
@click.option("--to", "end", required=True, metavar="DATE", help="End of the range, excluded.")
@click.option("--force", is_flag=True, help="Retake windows that already have a completed snapshot.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes reading the files (each a run of consecutive files); comparisons stay in order.")
@engine_options("the monitor's dask.scheduler, else a LocalCluster started on this machine")
@config_option
@format_option("text", "json")
@handle_errors
def backfill_cmd(monitor_name: str, start: str, end: str, force: bool, jobs: int, engine: str | None,
                 scheduler: str | None, config_path: str, fmt: str) -> None:
    """Snapshot every complete window of a windowed monitor in [--from, --to) and
    compare each with its baseline, reading the data once; no alerts are sent.

    Dates without a time zone are read in the monitor's schedule.timezone. A
    window that already has a snapshot of the monitor is skipped unless --force.
    Exit 1 when a window failed. The files are read with the monitor's engine
    (--engine over it): with dask each file is profiled on a worker of the
    cluster into a partial profile per window, and --jobs is not used.

    Example:

        drift-monitor backfill flights-weekly --from 2013-01-01 --to 2014-01-01

        drift-monitor backfill flights-weekly --from 2013-01-01 --to 2014-01-01 --engine dask
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
        summary = backfill(config, monitor_name, store, first, last, force=force, jobs=jobs, on_file=on_file,
                           on_window=on_window, engine=engine, scheduler=scheduler)
    if fmt == "json":
        echo_json(summary.to_dict())
    else:
        rows = [{**w.to_dict(), "window": f"{w.window_start:%Y-%m-%d %H:%M} to {w.window_end:%Y-%m-%d %H:%M}"}
                for w in summary.windows]
        click.echo(text_table(rows, ["name", "window", "status", "rows", "severity", "reason"]))
        click.echo(f"{monitor_name}: {summary.written} written, {summary.skipped} skipped, {summary.failed} failed"
                   + (f", {summary.not_complete} not complete yet" if summary.not_complete else ""))
        if summary.pruned:
            removed = sum(r.what == "snapshot" for r in summary.pruned)
            copies = len(summary.pruned) - removed
            click.echo(f"{monitor_name}: retention removed {removed} snapshot(s) and {copies} data "
                       f"cop{'y' if copies == 1 else 'ies'}")
    if summary.failed:
        sys.exit(1)


@click.group("report")
def report_group() -> None:
    """Rewrite report pages from the store."""


@report_group.command("history")
@click.argument("monitor_name", metavar="MONITOR")
@config_option
@click.option("--last", type=click.IntRange(min=1), default=None,
              help="Show this many of the newest comparisons (default: as the service does, 400).")
@format_option("text", "json")
@handle_errors
def report_history(monitor_name: str, config_path: str, last: int | None, fmt: str) -> None:
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
    if fmt == "json":
        echo_json({"monitor": monitor_name, "path": str(path)})
        return
    click.echo(f"{monitor_name}: history written to {path}")




@report_group.command("profile")
@click.argument("dataset")
@click.argument("snapshot_name", metavar="SNAPSHOT")
@config_option
@format_option("text", "json")
@handle_errors
def report_profile(dataset: str, snapshot_name: str, config_path: str, fmt: str) -> None:
    """Write the profile page of SNAPSHOT of DATASET
    (REPORTS_DIR/DATASET/SNAPSHOT/profile.html): Azure ML's profile table, one
    row per column, with a small distribution chart per column, from the
    stored profile; and the index, when the page is new. Prints the page's path.
    The service writes it after each snapshot of a monitor's run.

    Example:

        drift-monitor report profile flights weekly_vs_january_20130708 -c monitors.yaml
    """
    from monitor.service.profile_page import write_profile_page

    config = load(config_path)
    with open_store(config) as store:
        path = write_profile_page(store, config.reports_dir, dataset, snapshot_name)
    if fmt == "json":
        echo_json({"dataset": dataset, "snapshot": snapshot_name, "path": str(path)})
        return
    click.echo(str(path))
