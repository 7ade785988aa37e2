"""Read-ahead: the items of an iterator computed in a thread of their own.

A reader that parses blocks of a file (decompressing, converting text) lets the
profile work on one block while the next is read: Arrow's readers and numpy
release the GIL, so the two overlap on separate cores. :func:`prefetched` runs
the reading iterator in a thread, ``depth`` items ahead, and hands its items,
its end or its exception to the consumer in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["prefetched"]

T = TypeVar("T")
_WAIT = 0.1  # seconds between checks that the consumer still wants items


def prefetched(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``items`` in a background thread, at most ``depth`` items ahead of
    the consumer (so at most ``depth + 2`` items exist at a time: one being made,
    ``depth`` waiting, one in use).

    The iterator is advanced and closed in the background thread only. An
    exception it raises is raised to the consumer at the point where the item
    would have come. When the consumer stops early (``close()``, an error), the
    thread is told to stop, finishes the item it is making and ends; this
    generator returns once it has.

    :raises: whatever iterating ``items`` raises.
    """
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(items, slots, stop), daemon=True, name="read-ahead")
    thread.start()
    try:
        while True:
            what, item = slots.get()
            if what == "item":
                yield item
            elif what == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        thread.join()


def _produce(items: Iterable[Any], slots: queue.Queue[tuple[str, Any]], stop: threading.Event) -> None:
    """Body of the read-ahead thread: put each item, then the end or the error."""
    iterator = iter(items)
    try:
        for item in iterator:
            if not _put(slots, ("item", item), stop):
                return
        _put(slots, ("end", None), stop)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer
        _put(slots, ("error", exc), stop)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def _put(slots: queue.Queue[tuple[str, Any]], message: tuple[str, Any], stop: threading.Event) -> bool:
    """Put ``message`` once there is room; False when the consumer stopped first."""
    while not stop.is_set():
        try:
            slots.put(message, timeout=_WAIT)
            return True
        except queue.Full:
            continue
    return False
