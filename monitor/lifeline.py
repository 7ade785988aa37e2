"""Helper processes that die with their owner, even when it is killed with
``kill -9``.

Profiling starts worker processes (:mod:`monitor.profile.parallel`) with the
``fork`` or the ``forkserver`` start method. A worker calls
:func:`die_with_owner` first thing. The fork server preloads this module first:
when it is started by :func:`start_fork_server`, importing this module makes
the server die with its owner too (a fork server still importing its other
preloaded modules would otherwise outlive a killed owner by seconds).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Any

PR_SET_PDEATHSIG = 1
"""``prctl`` option: the signal a process gets when its parent dies (Linux)."""
WATCH_EVERY = 0.25
"""Seconds between checks that the owner is alive, where ``PR_SET_PDEATHSIG``
does not cover it (see :func:`die_with_owner`)."""
OWNER_ENV = "DRIFT_MONITOR_FORKSERVER_OWNER"
"""Set only while :func:`start_fork_server` starts a fork server: its owner's pid."""


def die_with_owner(owner: int, *, kernel: bool = True) -> None:
    """Make this process exit when ``owner`` dies.

    On Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` has the kernel kill this
    process when its parent dies; that covers a process whose parent is
    ``owner``. When the parent is another process (a fork server), or there is
    no ``prctl``, or ``kernel`` is False, a daemon thread checks every
    :data:`WATCH_EVERY` seconds that the parent and ``owner`` are alive. Either
    way the owner may have died before this call: then the process exits at once.

    :param owner: pid of the owning process.
    :param kernel: use ``PR_SET_PDEATHSIG``. The kernel sends it when the parent
        *thread* ends, so pass False when the parent may have started this
        process from a thread that ends before it (a fork server started from a
        scheduler's worker thread).
    """
    parent = os.getppid()
    if not (kernel and _set_parent_death_signal()) or parent != owner:
        threading.Thread(target=_watch, args=(parent, owner), name="owner watch", daemon=True).start()
    if not owner_alive(parent, owner):
        os._exit(1)


def _set_parent_death_signal() -> bool:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)``; False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def owner_alive(parent: int, owner: int) -> bool:
    """True while this process still has ``parent`` as its parent and ``owner``
    exists (and is not a zombie)."""
    if os.getppid() != parent:
        return False
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    try:
        with open(f"/proc/{owner}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return True
    return not text[text.rfind(b")") + 2:].startswith(b"Z")


def _watch(parent: int, owner: int) -> None:
    while owner_alive(parent, owner):
        time.sleep(WATCH_EVERY)
    os._exit(1)


def start_fork_server(ctx: Any) -> None:
    """Start the fork server of the multiprocessing context ``ctx`` (a no-op
    when it runs), preloading this module first so that it dies with this
    process.

    :param ctx: a ``multiprocessing`` context of the ``forkserver`` start method.
    """
    from multiprocessing import forkserver

    os.environ[OWNER_ENV] = str(os.getpid())
    try:
        forkserver.ensure_running()
    finally:
        os.environ.pop(OWNER_ENV, None)


def _guard_fork_server() -> None:
    """In a fork server started by :func:`start_fork_server`: die with its owner."""
    owner = os.environ.pop(OWNER_ENV, "")
    if owner.isdigit() and int(owner) != os.getpid():
        die_with_owner(int(owner), kernel=False)


_guard_fork_server()
