"""The processes a benchmark started, read from /proc: children and memory (PSS)."""

from __future__ import annotations

import os


def children(pid: int) -> list[int]:
    """The pids of the child processes of every thread of ``pid`` (none once it is gone)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def pss_kib(pid: int) -> int:
    """The proportional set size of ``pid`` in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
