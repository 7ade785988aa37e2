"""Durations, window sizes, lags and time zones as the configuration spells them
(``"10m"``, ``"1w"``, ``"1M"``, ``"America/New_York"``)."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse ``"10m"``, ``"2h"``, ``"1d"``, ``"30s"`` or ``"1w"`` into a timedelta.

    :raises ValueError: when the text is not a positive duration of that form.
    """
    match = _DURATION.match(str(text))
    if not match or int(match.group(1)) <= 0:
        raise ValueError("expected a positive duration like 30s, 10m, 1h, 1d or 1w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


_LAG = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_CALENDAR_SIZES = {"1d": "day", "1w": "week", "1M": "month"}
_DAY = timedelta(days=1)


def parse_window_size(text: str) -> tuple[str, timedelta | None]:
    """Parse a window size: ``"1d"`` (a calendar day), ``"1w"`` (an ISO week,
    Monday to Monday), ``"1M"`` (a calendar month), or a duration under a day
    that divides 24 hours (``"6h"``, ``"30m"``).

    :returns: ``("day" | "week" | "month", None)``, or ``("fixed", duration)``.
    :raises ValueError: for any other text.
    """
    unit = _CALENDAR_SIZES.get(str(text).strip())
    if unit is not None:
        return unit, None
    problem = "expected 1d, 1w, 1M or a duration under a day that divides 24h (1h, 6h, 30m)"
    try:
        size = parse_duration(text)
    except ValueError:
        raise ValueError(problem) from None
    if size >= _DAY or _DAY % size:
        raise ValueError(problem)
    return "fixed", size


def parse_lag(text: str) -> timedelta:
    """Parse a lag: ``"0"``, or a duration like ``"2h"`` (zero allowed, e.g. ``"0m"``).

    :raises ValueError: when the text is neither.
    """
    if str(text).strip() == "0":
        return timedelta(0)
    match = _LAG.match(str(text))
    if not match:
        raise ValueError("expected 0 or a duration like 30m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def zone_of(name: str) -> ZoneInfo:
    """The :class:`~zoneinfo.ZoneInfo` of an IANA time zone name.

    :raises ValueError: ``unknown time zone 'Mars/Base'`` when there is no such zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as America/New_York)") from None


_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEKDAY_PART = re.compile(r"^(\*|\d+)(?:-(\d+))?(?:/(\d+))?$")


def crontab_line(text: str) -> str:
    """A five-field crontab line with the day-of-week numbers written as names.

    crontab(5) counts weekdays from Sunday = 0 (7 is Sunday too); APScheduler 3's
    ``CronTrigger.from_crontab`` counts them from Monday = 0, so ``"0 6 * * 1"``
    would fire on Tuesdays. Numbers, ranges and steps (``1``, ``1-5``, ``*/2``,
    ``0,6``) are expanded with crontab's meaning into names (``mon``,
    ``mon,tue,wed,thu,fri``, ``sun,tue,thu,sat``, ``sun,sat``), which APScheduler
    reads as written; names, ``*`` and other forms pass unchanged, as do the
    other four fields.

    :raises ValueError: when a weekday number is above 7 or a step is 0.
    """
    fields = text.split()
    if len(fields) != 5 or fields[4] == "*":
        return text
    days: list[int] = []
    for part in fields[4].split(","):
        match = _WEEKDAY_PART.match(part)
        if match is None:  # names (mon-fri) and anything else: left to APScheduler
            return text
        first, last, step = match.groups()
        low = 0 if first == "*" else int(first)
        high = 6 if first == "*" else int(last) if last is not None else (7 if step else low)
        if high > 7 or low > high or (step is not None and int(step) == 0):
            raise ValueError(f"day of week {part!r}: expected numbers 0 to 7 (0 and 7 are Sunday)")
        days.extend(d % 7 for d in range(low, high + 1, int(step or 1)))
    names = ",".join(_WEEKDAY_NAMES[d] for d in sorted(set(days)))
    return " ".join(fields[:4] + [names])
