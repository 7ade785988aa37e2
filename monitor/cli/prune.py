"""``prune``: apply every monitor's retention now; ``schema``: the JSON Schema
of the configuration file."""

from __future__ import annotations

import json

import click

from monitor.cli.common import (
    config_option,
    echo_json,
    format_option,
    handle_errors,
    load,
    open_store,
    text_table,
)


@click.command()
@config_option
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@format_option("text", "json")
@handle_errors
def prune(config_path: str, dry_run: bool, fmt: str) -> None:
    """Apply the retention of every monitor that has one (monitors.NAME.retention):
    remove the snapshots and data copies past keep_last or max_age, except the
    baselines still needed and each monitor's newest snapshot. Comparisons,
    their reports and the profile pages stay. The service does this after each
    run; this is for a changed policy or a store that stopped running.

    Example:

        drift-monitor prune -c monitors.yaml --dry-run
    """
    from monitor.service.retention import apply

    config = load(config_path)
    with open_store(config) as store:
        removals = apply(store, config, dry_run=dry_run)
    rows = [r.to_dict() for r in removals]
    snapshots = sum(r.what == "snapshot" for r in removals)
    copies = len(removals) - snapshots
    if fmt == "json":
        echo_json({"dry_run": dry_run, "snapshots": snapshots, "data_copies": copies, "removed": rows})
        return
    with_retention = [name for name, mon in config.monitors.items() if mon.retention is not None]
    if not with_retention:
        click.echo("no monitor has a retention policy (monitors.NAME.retention): nothing to prune")
        return
    if rows:
        click.echo(text_table(rows, ["monitor", "dataset", "snapshot", "what", "reason", "snapshot_time"]))
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {snapshots} snapshot(s) and {copies} data cop{'y' if copies == 1 else 'ies'} "
               f"of {len(with_retention)} monitor(s) with retention")


@click.command()
@format_option("json")
def schema(fmt: str) -> None:
    """Print the JSON Schema of the configuration file (draft 2020-12), made
    from the configuration's models with every key's description. Editors
    that use the YAML language server read it from a first line such as
    '# yaml-language-server: $schema=./schema.json'. The schema checks the
    file as written: where a number, a boolean or a keyword is expected, a
    string holding ${NAME} is accepted too; validate checks the rest. The
    output is JSON whatever --format says (json is its only choice).

    Example:

        drift-monitor schema > config/schema.json
    """
    from monitor.config.schema import config_schema

    click.echo(json.dumps(config_schema(), indent=2, ensure_ascii=False))
