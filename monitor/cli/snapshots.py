"""``snapshot ...`` and ``profile``: snapshots of a dataset, the profile of a file."""

from __future__ import annotations

from typing import Any

import click

from monitor.cli.common import (
    cli_source,
    datastore_options,
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
def snapshot() -> None:
    """Create, list, show, export, import and delete snapshots of a dataset."""


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
    click.echo(text_table(rows, ["name", "status", "created_at", "rows", "monitor", "window_start", "window_end",
                                  "data_copy", "reason"]))


def _snapshot_row(s: Any) -> dict[str, Any]:
    return {
        "name": s.name, "dataset": s.dataset, "version": s.dataset_version, "status": s.status,
        "created_at": s.created_at.isoformat(timespec="seconds"), "rows": s.row_count,
        "monitor": s.monitor, "data_copy": bool(s.data_copy), "fingerprint": s.fingerprint,
        "fingerprint_kind": s.fingerprint_kind, "reason": s.reason,
        "window_start": s.window_start.isoformat() if s.window_start else None,
        "window_end": s.window_end.isoformat() if s.window_end else None,
    }


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
        click.echo(f"fingerprint: {header['fingerprint']} ({header['fingerprint_kind']}), "
                   f"dataset version {header['version']}")
    with pd.option_context("display.max_columns", None, "display.width", 250, "display.max_rows", None):
        click.echo(profile_table(profile).to_string())


@snapshot.command("create")
@click.argument("dataset")
@config_option
@click.option("--name", default=None, help="Snapshot name (default snapshot_<UTC time>).")
@click.option("--data-copy/--no-data-copy", default=False, help="Also store a Parquet copy of the data.")
@click.option("--wait/--no-wait", default=True,
              help="--no-wait: print the snapshot's name and return at once; a background process takes it.")
@engine_options("a LocalCluster started on this machine for the snapshot")
@format_option("text", "json")
@handle_errors
def snapshot_create(dataset: str, config_path: str, name: str | None, data_copy: bool, wait: bool,
                    engine: str | None, scheduler: str | None, fmt: str) -> None:
    """Profile a dataset now and store the snapshot.

    Running snapshots of processes that are gone are marked failed first; a
    daemon's running snapshot is left alone. With --no-wait the name is printed
    at once and a detached process takes the snapshot, recording it completed
    or failed in the store ('snapshot list' shows its status). With --engine
    dask the data is profiled on a Dask cluster's workers (--scheduler, else a
    LocalCluster) and only partial profiles come back (no --data-copy).

    Example:

        drift-monitor snapshot create flights --name before-retrain --data-copy

        drift-monitor snapshot create flights --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from monitor.service.background import start_snapshot
    from monitor.service.engines import dask_settings
    from monitor.service.runner import take_snapshot
    from monitor.service.sampling import row_sample_for

    config = load(config_path)
    if dataset not in config.datasets:
        raise ConfigError([f"datasets.{dataset}: no such dataset"], config_path)
    dask = dask_settings(None, engine, scheduler)
    with open_store(config) as store:
        store.recover_interrupted()
        take = take_snapshot if wait else start_snapshot
        snap = take(store, dataset, config.datasets[dataset], name=name, data_copy=data_copy, dask=dask,
                    row_sample=row_sample_for(config, dataset))
    if fmt == "json":
        echo_json(_snapshot_row(snap))
        return
    click.echo(f"{snap.name}: {snap.status}, {snap.row_count} rows" if wait else snap.name)


@snapshot.command("delete")
@click.argument("dataset")
@click.argument("name")
@config_option
@click.option("--force", is_flag=True,
              help="Delete it even when it is a monitor's baseline (pinned, named in the config, or 'first').")
@format_option("text", "json")
@handle_errors
def snapshot_delete(dataset: str, name: str, config_path: str, force: bool, fmt: str) -> None:
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
        snap = delete_snapshot(store, config, dataset, name, force=force)
    if fmt == "json":
        echo_json({"deleted": _snapshot_row(snap)})
        return
    click.echo(f"deleted {dataset}/{name}")




@click.command("profile")
@click.argument("path")
@format_option("table", "json")
@datastore_options
@engine_options("a LocalCluster started on this machine")
@handle_errors
def profile_cmd(path: str, fmt: str, datastore: str | None, config_path: str | None, engine: str | None,
                scheduler: str | None) -> None:
    """Print the profile of a CSV, Parquet or JSON Lines file, folder or glob
    (no config needed); or of objects at an s3://, az:// or https:// URL (the
    environment's credentials: the AWS variables, AWS_ENDPOINT_URL included,
    or AZURE_STORAGE_CONNECTION_STRING); or of a path (a query for an sql
    datastore) inside --datastore NAME of the -c configuration.

    Example:

        drift-monitor profile data/flights_2013_01.parquet

        drift-monitor profile 'flights/2013-0*.parquet' --datastore lake -c monitors.yaml

        drift-monitor profile 'lake/2024/*.parquet' --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from monitor.profile import profile_source
    from monitor.service.engines import dask_settings

    dask = dask_settings(None, engine, scheduler)
    print_profile(profile_source(cli_source(path, datastore, config_path), dask=dask), fmt)


