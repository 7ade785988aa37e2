"""``datastore check``: reach a datastore and list what its datasets would read."""

from __future__ import annotations

import sys

import click

from monitor.cli.common import config_option, echo_json, format_option, handle_errors, load


@click.group()
def datastore() -> None:
    """The datastores of the configuration: object stores, HTTP servers, SQL databases."""


@datastore.command("check")
@click.argument("name")
@click.option("--dataset", "dataset", default=None, help="List this dataset's inputs only.")
@config_option
@format_option("text", "json")
@handle_errors
def datastore_check_cmd(name: str, dataset: str | None, config_path: str, fmt: str) -> None:
    """Reach datastore NAME and list what each dataset on it would read now:
    objects with their size and ETag (and the .npy arrays beside them, as they
    pair), or a query's fingerprint. Exits 1 when
    the store cannot be reached or a dataset's inputs cannot be listed; the
    error names the datastore and the object or query, never a secret.

    Example:

        drift-monitor datastore check lake -c monitors.yaml
    """
    from monitor.service.datastores import LISTED, datastore_check

    result = datastore_check(load(config_path), name, dataset)
    if fmt == "json":
        echo_json(result)
    else:
        state = "reachable" if result["error"] is None else f"NOT reachable: {result['error']}"
        click.echo(f"datastore {name} ({result['kind']}): {state} ({result['seconds']:.2f} s)")
        for entry in result["datasets"]:
            if entry["error"] is not None:
                click.echo(f"  dataset {entry['dataset']}: {entry['error']}")
                continue
            click.echo(f"  dataset {entry['dataset']}: {entry['count']} input(s)")
            for item in entry["inputs"]:
                size = "" if item["size"] is None else f"  {item['size']:,} bytes"
                click.echo(f"    {item['input']}{size}  {item['version']}")
            if entry["count"] > LISTED:
                click.echo(f"    ... and {entry['count'] - LISTED} more")
            for item in entry.get("arrays", ()):
                click.echo(f"    {item['column']} beside {item['table']}: {item['input']}  {item['size']:,} bytes"
                           f"  {item['version']}")
    if not result["ok"]:
        sys.exit(1)
