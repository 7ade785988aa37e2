"""The ``drift-monitor`` command line.

Exit codes: 0 ok; 1 error (unreadable data, store problem, a monitor failed);
2 usage or configuration error; 3 drift found when ``--fail-on-drift`` is given.
This is the only module that turns a :class:`~monitor.errors.MonitorError` into
a message and an exit code.
"""

from __future__ import annotations

import logging
import sys

import click

from monitor.cli import compare, datasets, datastores, prune, serve, service, snapshots, timeline, transfer
from monitor.cli.common import (
    CONTEXT,
    EXIT_DRIFT,
    ConfigException,
    MonitorException,
    handle_errors,
)

__all__ = ["EXIT_DRIFT", "ConfigException", "MonitorException", "handle_errors", "main"]


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
    from monitor.sources.remote import CLIENT_LOGGERS

    for noisy in ("httpx", "httpcore", *CLIENT_LOGGERS):  # their request lines carry URLs and credentials
        logging.getLogger(noisy).setLevel(logging.WARNING)



for command in (service.validate, service.run, snapshots.snapshot, compare.compare, timeline.baseline,
                timeline.backfill_cmd, timeline.report_group, snapshots.profile_cmd, compare.compare_files,
                compare.metrics, serve.serve, prune.prune, prune.schema, datasets.dataset,
                datastores.datastore):
    main.add_command(command)
for command in (transfer.snapshot_export, transfer.snapshot_import, transfer.snapshot_verify):
    snapshots.snapshot.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
