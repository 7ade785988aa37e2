"""``dataset ...``: the registered versions of a dataset."""

from __future__ import annotations

import click

from monitor.cli.common import config_option, echo_json, format_option, handle_errors, load, open_store, text_table


@click.group()
def dataset() -> None:
    """The registered versions of a dataset."""


@dataset.command("versions")
@click.argument("name")
@config_option
@format_option("table", "json")
@handle_errors
def dataset_versions(name: str, config_path: str, fmt: str) -> None:
    """List a dataset's versions, oldest first: number, registration time,
    definition hash (SHA-256 of the definition's canonical JSON) and description;
    --format json adds each version's definition and settings.

    A version is a definition (path, format, columns, types, timestamp_column):
    a snapshot registers a new version only when the definition is one no
    version has; a new description or fingerprint setting is no new version.

    Example:

        drift-monitor dataset versions flights -c monitors.yaml
    """
    from monitor.service.versions import version_rows

    with open_store(load(config_path)) as store:
        rows = version_rows(store.list_dataset_versions(name))
    if fmt == "json":
        echo_json(rows)
        return
    click.echo(text_table(rows, ["version", "created_at", "definition_hash", "description"]))
