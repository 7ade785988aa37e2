"""``snapshot export``, ``snapshot import`` and ``snapshot verify``: portable
snapshot files (see :mod:`monitor.service.transfer`); :mod:`monitor.cli` adds
them to the ``snapshot`` group."""

from __future__ import annotations

from typing import Any

import click

from monitor.cli.common import config_option, echo_json, format_option, handle_errors, load, open_store


@click.command("export")
@click.argument("dataset")
@click.argument("name")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="The file to write (default DATASET-NAME.dmsnap here); replaced when it exists.")
@config_option
@format_option("text", "json")
@handle_errors
def snapshot_export(dataset: str, name: str, output: str | None, config_path: str, fmt: str) -> None:
    """Write a completed snapshot to one portable file: its dataset definition,
    metadata, profile with sketches, segment profiles and data copy, each with
    its SHA-256 (a zip archive; see docs/operations.md, "Snapshot files").

    Example:

        drift-monitor snapshot export flights january_20130101 -o january.dmsnap
    """
    from monitor.service.transfer import export_snapshot

    with open_store(load(config_path)) as store:
        written = export_snapshot(store, dataset, name, output or f"{dataset}-{name}.dmsnap")
    info = {"path": str(written.path), "bytes": written.size, "sha256": written.sha256,
            "dataset": dataset, "snapshot": name, "members": written.manifest["members"]}
    if fmt == "json":
        echo_json(info)
        return
    snap = written.manifest["snapshot"]
    click.echo(f"wrote {written.path}: {dataset}/{name}, {snap['row_count']} rows"
               f"{', with its data copy' if snap['data_copy'] else ''}, {written.size} bytes, "
               f"sha256 {written.sha256}")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--as", "as_name", default=None, help="The snapshot's name here (default: its name in the file).")
@click.option("--dataset", default=None, help="The dataset to file it under (default: its dataset in the file).")
@config_option
@format_option("text", "json")
@handle_errors
def snapshot_import(file: str, as_name: str | None, dataset: str | None, config_path: str, fmt: str) -> None:
    """Restore a snapshot file into the configured store. The whole file is
    checked first: a damaged or truncated one is refused and nothing changes.
    The dataset definition becomes a new version unless a version of the
    dataset has it; a snapshot of that name already there is an error unless
    --as gives another name.

    Example:

        drift-monitor snapshot import january.dmsnap --as january_prod --dataset flights
    """
    from monitor.service.transfer import import_snapshot, read_snapshot_file

    checked = read_snapshot_file(file)
    with open_store(load(config_path)) as store:
        store.recover_interrupted()
        snap = import_snapshot(store, checked, name=as_name, dataset=dataset)
    if fmt == "json":
        echo_json(_imported(snap))
        return
    click.echo(f"imported {snap.dataset}/{snap.name} (dataset version {snap.dataset_version}) from {file}: "
               f"{snap.row_count} rows{', with its data copy' if snap.data_copy else ''}")


def _imported(snap: Any) -> dict[str, Any]:
    return {"dataset": snap.dataset, "version": snap.dataset_version, "name": snap.name, "status": snap.status,
            "rows": snap.row_count, "monitor": snap.monitor, "created_at": snap.created_at.isoformat(),
            "data_copy": snap.data_copy}


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@format_option("text", "json")
@handle_errors
def snapshot_verify(file: str, fmt: str) -> None:
    """Check a snapshot file (every member's SHA-256, its format, that its
    profiles decode) and print its manifest; exit 1 with the member at fault
    when it is damaged. Needs no config.

    Example:

        drift-monitor snapshot verify january.dmsnap
    """
    from monitor.service.transfer import read_snapshot_file

    checked = read_snapshot_file(file)
    if fmt == "json":
        echo_json(checked.manifest)
        return
    m, snap = checked.manifest, checked.manifest["snapshot"]
    click.echo(f"{file}: ok (format version {m['format_version']}, {m.get('exported_by', 'unknown')})")
    click.echo(f"snapshot {m['dataset']['name']}/{snap['name']} (dataset version {m['dataset']['version']}), "
               f"{snap['row_count']} rows, created {snap['created_at']}"
               + (f", window {snap['window_start']} to {snap['window_end']}" if snap.get("window_start") else ""))
    for member, info in m["members"].items():
        click.echo(f"  {member:<16} {info['bytes']:>12} bytes  sha256 {info['sha256']}")
