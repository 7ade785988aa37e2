"""Time windows: which rows a windowed monitor's run or a backfill profiles.

A monitor with ``window: {size, lag}`` profiles the rows of its dataset whose
``timestamp_column`` falls in a window, ``start <= time < end``. Windows are
aligned in the monitor's ``schedule.timezone`` (UTC by default):

- ``1d``: a calendar day, from midnight to midnight;
- ``1w``: an ISO week, from Monday midnight to the next Monday midnight;
- ``1M``: a calendar month, from the first of the month at midnight;
- a duration under a day that divides 24 hours (``6h``, ``30m``): the day cut
  into equal parts from midnight.

Boundaries are wall-clock times of the time zone, turned into UTC instants
(a wall time skipped or repeated by a daylight-saving switch is read with the
offset before the switch, Python's ``fold=0``); so in such a zone a day may last
23 or 25 hours, and a window of hours that the switch skips is empty and left
out. In UTC every window has its nominal length.

A run takes the newest *complete* window: the newest that ends at or before
``now - lag``. A backfill takes every complete window that meets ``[from, to)``,
the first and last cut to that range (:attr:`Window.full` is then false).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from monitor.config import MonitorConfig, WindowConfig, parse_window_size, zone_of
from monitor.errors import ConfigError, StoreError
from monitor.store import SnapshotRecord

__all__ = [
    "Window", "check_claim", "latest_complete_window", "monitor_zone", "parse_time", "window_name",
    "windows_between",
]


@dataclass(frozen=True)
class Window:
    """A time window: the rows with ``start <= time < end``.

    :ivar start: timezone-aware UTC instant.
    :ivar end: timezone-aware UTC instant, after ``start``.
    :ivar full: the whole aligned window (False: cut by a backfill's range).
    """

    start: datetime
    end: datetime
    full: bool = True

    def __str__(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def monitor_zone(mon: MonitorConfig) -> ZoneInfo:
    """The time zone a monitor's windows are aligned in: its ``schedule.timezone``."""
    return zone_of(mon.schedule.timezone)


# ---------------------------------------------------------------------------
# wall-clock boundaries


def _floor(wall: datetime, unit: str, size: timedelta | None) -> datetime:
    """The wall-clock start of the aligned window holding wall time ``wall`` (naive)."""
    midnight = datetime.combine(wall.date(), time())
    if unit == "day":
        return midnight
    if unit == "week":
        return midnight - timedelta(days=wall.weekday())
    if unit == "month":
        return midnight.replace(day=1)
    assert size is not None
    return midnight + ((wall - midnight) // size) * size


def _step(wall: datetime, unit: str, size: timedelta | None, forward: bool) -> datetime:
    """The next (or previous) aligned wall-clock boundary after (before) boundary ``wall``."""
    sign = 1 if forward else -1
    if unit == "day":
        return wall + sign * timedelta(days=1)
    if unit == "week":
        return wall + sign * timedelta(days=7)
    if unit == "month":
        months = wall.year * 12 + wall.month - 1 + sign
        return wall.replace(year=months // 12, month=months % 12 + 1)
    assert size is not None
    return wall + sign * size


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time of ``zone`` (``fold=0``)."""
    return wall.replace(tzinfo=zone).astimezone(timezone.utc)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _aware(instant: datetime, what: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {instant!r}")
    return instant.astimezone(timezone.utc)


def latest_complete_window(now: datetime, window: WindowConfig, zone: ZoneInfo) -> Window:
    """The newest window that ends at or before ``now - window.lag``.

    :param now: timezone-aware.
    :raises ValueError: when ``now`` is naive.
    """
    unit, size = parse_window_size(window.size)
    cutoff = _aware(now, "now") - window.lag_delta
    end = _floor(_wall(cutoff, zone), unit, size)
    if _instant(end, zone) > cutoff:  # the boundary falls in a daylight-saving gap just before the cutoff
        end = _step(end, unit, size, False)
    start = _step(end, unit, size, False)
    while _instant(start, zone) >= _instant(end, zone):  # a window a daylight-saving switch skips
        end, start = start, _step(start, unit, size, False)
    return Window(_instant(start, zone), _instant(end, zone))


def _aligned(start: datetime, window: WindowConfig, zone: ZoneInfo) -> Iterator[Window]:
    """The aligned windows from the one holding ``start`` on, without end."""
    unit, size = parse_window_size(window.size)
    wall = _floor(_wall(start, zone), unit, size)
    while True:
        nxt = _step(wall, unit, size, True)
        first, last = _instant(wall, zone), _instant(nxt, zone)
        if last > first:
            yield Window(first, last)
        wall = nxt


def windows_between(start: datetime, end: datetime, window: WindowConfig, zone: ZoneInfo) -> list[Window]:
    """The windows that meet ``[start, end)``, in time order, the first and last
    cut to that range (``full=False`` when cut).

    :param start: timezone-aware.
    :param end: timezone-aware, after ``start``.
    :raises ValueError: naive times, or ``end <= start``.
    """
    start, end = _aware(start, "start"), _aware(end, "end")
    if end <= start:
        raise ValueError(f"the range must end after it starts: {start.isoformat()} to {end.isoformat()}")
    out = []
    for aligned in _aligned(start, window, zone):
        if aligned.start >= end:
            break
        first, last = max(aligned.start, start), min(aligned.end, end)
        if last > first:
            out.append(Window(first, last, (first, last) == (aligned.start, aligned.end)))
    return out


# ---------------------------------------------------------------------------
# names and times


def _stamp(instant: datetime, zone: ZoneInfo) -> str:
    wall = _wall(instant, zone)
    if wall.time() == time():
        return wall.strftime("%Y%m%d")
    return wall.strftime("%Y%m%dT%H%M%S" if wall.second or wall.microsecond else "%Y%m%dT%H%M")


def window_name(monitor: str, window: Window, zone: ZoneInfo) -> str:
    """The snapshot name of a monitor's window: ``<monitor>_<start>``, the start
    as wall-clock time of ``zone``, ``YYYYmmdd`` at midnight, else
    ``YYYYmmddTHHMM``; a window cut by a backfill's range also gives its end,
    ``<monitor>_<start>-<end>``. So the name is unique per monitor and window,
    and two monitors never take the same one."""
    name = f"{monitor}_{_stamp(window.start, zone)}"
    return name if window.full else f"{name}-{_stamp(window.end, zone)}"


def check_claim(existing: SnapshotRecord, monitor: str, window: Window) -> None:
    """Refuse a snapshot that has a window's name but is not that window of
    ``monitor`` (e.g. one taken by hand with that name).

    :raises StoreError: naming the snapshot and what it is.
    """
    if existing.monitor != monitor or (existing.window_start, existing.window_end) != (window.start, window.end):
        raise StoreError(
            f"snapshot {existing.name!r} of dataset {existing.dataset!r} exists and is not the window "
            f"{window} of monitor {monitor!r}; delete or rename it"
        )


def parse_time(text: str, zone: ZoneInfo, what: str) -> datetime:
    """A backfill bound: ``YYYY-MM-DD`` (midnight) or an ISO 8601 date and time;
    without an offset it is a wall-clock time of ``zone``.

    :returns: the UTC instant.
    :raises ConfigError: ``"--from: expected a date (2013-01-01) or an ISO 8601 time, got 'x'"``.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError([f"{what}: expected a date (2013-01-01) or an ISO 8601 time, got {text!r}"]) from None
    if value.tzinfo is None:
        return _instant(value, zone)
    return value.astimezone(timezone.utc)
