"""Snapshots taken in a process of their own: ``create_snapshot(wait=False)``
and ``drift-monitor snapshot create --no-wait``.

:func:`start_snapshot` records the snapshot ``running`` and starts
``python -m monitor.service.background STORE`` in a new session, the job (the
snapshot's id, the dataset and whether to keep a data copy) as JSON on its
standard input, then hands the snapshot over to that process
(:meth:`~monitor.store.Store.hand_over_snapshot`) and returns at once. The
process is detached: it keeps running when the process that started it exits
(the interpreter, a notebook's kernel, the command), and a Ctrl-C in the
terminal does not reach it. It profiles the data with its heartbeat refreshed
(:func:`monitor.service.runner.finish_snapshot`) and records the outcome in the
store itself: ``completed``, or ``failed`` with the reason (a file that cannot
be read names the file; ``SIGTERM`` fails it as stopped). If it dies without
recording one (``kill -9``), the store's recovery fails the snapshot as
interrupted once its process is gone: the next ``status`` read, a waiting
:meth:`~monitor.api.Snapshot.wait_for_completion`, ``snapshot create`` or
the daemon's start.

Its standard output and error go to ``/dev/null``; what it has to say is in the
store.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from monitor.config import DatasetConfig
from monitor.config.datastores import datastore_from_json, datastore_to_json
from monitor.errors import MonitorError, StoppedError
from monitor.profile.dask_engine import DaskSettings
from monitor.store import SnapshotRecord, Store
from monitor.store.owner import SnapshotOwner, current_owner, process_start_time

__all__ = ["main", "start_snapshot"]


def start_snapshot(store: Store, dataset: str, ds: DatasetConfig, *, name: str | None = None,
                   data_copy: bool = False, version: int | None = None,
                   dask: DaskSettings | None = None, row_sample: int | None = None) -> SnapshotRecord:
    """Begin a snapshot of ``ds`` and finish it in a detached process.

    :param name: the snapshot's name (default ``snapshot_<UTC time>``, made
        unique by the store).
    :param data_copy: also keep a Parquet copy of the data.
    :param version: the registered version the snapshot records (nothing is
        registered); default: the one :func:`monitor.service.runner.register` gives.
    :param dask: the process profiles on this Dask cluster (``engine: dask``;
        not with ``data_copy``).
    :param row_sample: the profile keeps a sample of this many whole rows (None: none).
    :returns: the snapshot, ``running``.
    :raises StoreError: the name is taken, ``version`` is not the one of ``ds``,
        or the store cannot be written.
    :raises MonitorError: the process cannot be started (the snapshot is
        recorded failed with the reason).
    :raises ConfigError: ``dask`` with ``data_copy`` (nothing is recorded).
    """
    from monitor.service.engines import check_engine
    from monitor.service.runner import begin_snapshot

    check_engine(dask, data_copy=data_copy)
    snap = begin_snapshot(store, dataset, ds, name=name, version=version)
    job = {"snapshot": snap.id, "dataset": ds.model_dump(mode="json"), "data_copy": data_copy, "row_sample": row_sample,
           "datastore": None if ds.store is None else datastore_to_json(ds.store),
           "dask": None if dask is None else {"scheduler": dask.scheduler, "workers": dask.workers}}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.service.background", str(store.path)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, env=_child_env(),
        )
        assert proc.stdin is not None
        with proc.stdin:
            proc.stdin.write(json.dumps(job).encode())
    except OSError as exc:
        reason = f"cannot start the process of snapshot {snap.name!r}: {exc}"
        store.fail_snapshot(snap.id, reason)
        raise MonitorError(reason) from exc
    store.hand_over_snapshot(snap.id, SnapshotOwner(socket.gethostname(), proc.pid, process_start_time(proc.pid)))
    # reap it when it ends, so a long-lived caller keeps no zombie (the thread dies with the caller)
    threading.Thread(target=proc.wait, name=f"reap snapshot {snap.id}", daemon=True).start()
    return snap


def _child_env() -> dict[str, str]:
    """This environment, with the folder holding the ``monitor`` package first
    on ``PYTHONPATH`` (so the process imports this very code)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


def _stop(signum: int, frame: Any) -> None:
    raise StoppedError(f"the snapshot's process was stopped ({signal.Signals(signum).name})")


def main(argv: list[str] | None = None) -> int:
    """The snapshot's process: read the job from standard input, finish the
    snapshot in the store at ``argv[0]``.

    :returns: 0 when the snapshot completed, 1 when it failed (recorded in the store).
    """
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _stop)
    job = json.loads(sys.stdin.read())
    with Store(args[0]) as store:
        snapshot_id = int(job["snapshot"])
        store.hand_over_snapshot(snapshot_id, current_owner())
        return _finish(store, snapshot_id, job)


def _finish(store: Store, snapshot_id: int, job: dict[str, Any]) -> int:
    from monitor.service.runner import failure_reason, finish_snapshot

    snap = store.get_snapshot_by_id(snapshot_id)
    try:
        ds = DatasetConfig.model_validate(job["dataset"])
        if job.get("datastore") is not None:
            ds = ds.with_store(datastore_from_json(job["datastore"]))
    except ValueError as exc:  # pydantic's ValidationError: not a dataset of this release
        store.fail_snapshot(snapshot_id, failure_reason(snap.dataset, exc))
        return 1
    dask = None if job.get("dask") is None else DaskSettings(**job["dask"])
    try:
        finish_snapshot(store, snap, ds, data_copy=bool(job.get("data_copy")), dask=dask,
                        row_sample=job.get("row_sample"))
    except MonitorError:  # recorded failed, with the reason
        return 1
    except Exception as exc:  # noqa: BLE001 - recorded failed by finish_snapshot; nothing to show it to
        print(failure_reason(snap.dataset, exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process by start_snapshot
    sys.exit(main())
