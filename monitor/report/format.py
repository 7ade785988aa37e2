"""Number and time formatting for a reader, used as the Jinja2 filters ``fmt``,
``pct``, ``signed_pct``, ``pp``, ``when``, ``humanize`` and ``ident``, plus :func:`duration`
and the small coercions (:func:`_number`, :func:`_utc`) the other report modules
share. Nothing here knows about pages, charts or templates.
"""

from __future__ import annotations

import math
import numbers
import re
from datetime import datetime, timedelta, timezone

from markupsafe import Markup, escape


# --------------------------------------------------------------------------- #
# number formatting (the template filters)


def fmt(value: object, digits: int = 4) -> str:
    """Format a value for a reader.

    :param value: a number, ``None``, or anything printable.
    :param digits: significant digits kept for floats.
    :returns: ``"—"`` for ``None``; integers with thousands separators
        (``1,234,567``); floats with ``digits`` significant digits, trailing zeros
        dropped (``0.01235``, ``12,346``), scientific notation below 1e-4 or from
        1e15 (``1.2e-40``); ``"NaN"``, ``"∞"``; anything else as ``str``.
    """
    if value is None:
        return "—"
    if type(value) is float:
        return _fmt_float(value, digits)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return _fmt_float(float(value), digits)
    return str(value)


def _fmt_float(value: float, digits: int) -> str:
    """Format a float with ``digits`` significant digits (see :func:`fmt`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if exponent < -4 or exponent >= 15:
        mantissa, power = f"{value:.{max(digits - 1, 0)}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(power)}"
    decimals = max(digits - 1 - exponent, 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


P_VALUE_FLOOR = 1e-6
P_VALUE_FLOOR_TEXT = "< 0.000001"
"""How a p-value below :data:`P_VALUE_FLOOR` is shown (also one that underflowed
to 0: the true value is then below about 1e-308, still "below 0.000001")."""


def p_value(value: object) -> str:
    """Format a p-value in plain decimals with two significant digits: ``0.41``,
    ``0.0003``; below :data:`P_VALUE_FLOOR` (0 included) :data:`P_VALUE_FLOOR_TEXT`;
    ``None`` → ``"—"``."""
    number = _number(value)
    if number is None or math.isnan(number):
        return fmt(value)
    if number < P_VALUE_FLOOR:
        return P_VALUE_FLOOR_TEXT
    decimals = max(1 - math.floor(math.log10(number)), 0)
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def p_clause(value: object) -> str:
    """A p-value as a clause: ``"p = 0.0003"``, ``"p < 0.000001"``."""
    text = p_value(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def pct(value: object, digits: int = 3) -> str:
    """Format a fraction as a percentage: ``0.1234`` → ``"12.3%"``; ``None`` → ``"—"``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return fmt(value)
    return fmt(float(value) * 100, digits) + "%"


def signed_pct(value: object, digits: int = 3) -> str:
    """Format a relative change with its sign: ``0.05`` → ``"+5%"``, ``-0.5`` → ``"-50%"``."""
    text = pct(value, digits)
    return _signed(value, text)


def pp(value: object, digits: int = 3) -> str:
    """Format a difference of two fractions in percentage points: ``0.021`` → ``"+2.1 pp"``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return fmt(value)
    return _signed(value, fmt(float(value) * 100, digits) + " pp")


def _signed(value: object, text: str) -> str:
    """Prefix ``text`` with ``+`` when ``value`` is a positive number."""
    number = _number(value)
    return "+" + text if number is not None and number > 0 else text


def when(value: object) -> str:
    """Format a datetime in UTC to the minute: ``"2024-05-01 06:00 UTC"``; ``None`` → ``"—"``."""
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y-%m-%d %H:%M UTC")
    return fmt(value)


def humanize(value: object) -> str:
    """Turn an identifier into words: ``"insufficient_data"`` → ``"insufficient data"``."""
    return str(value).replace("_", " ")


IDENT_LIMIT = 48
"""Longest identifier :func:`ident` shows in full."""
_BREAK_AFTER = re.compile(r"(?<=[_\-./:])")


def ident(name: object, limit: int = IDENT_LIMIT) -> Markup:
    """An identifier (a monitor, dataset, snapshot or column name) as HTML that
    wraps only after ``_``, ``-``, ``.``, ``/`` or ``:`` (a ``<wbr/>`` there),
    never inside a word: ``<span class="ident">`` (styled ``overflow-wrap:
    normal; word-break: keep-all``). A name longer than ``limit`` characters is
    cut, ending in ``…``, with the full name in the ``title`` attribute.

    :returns: escaped markup; ``"<b>"`` reads ``&lt;b&gt;``.
    """
    text = str(name)
    shown = text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"
    body = Markup("<wbr/>").join(escape(part) for part in _BREAK_AFTER.split(shown))
    title = Markup(' title="{}"').format(text) if shown != text else Markup("")
    return Markup('<span class="ident"{}>{}</span>').format(title, body)


def duration(delta: timedelta) -> str:
    """Describe a time span coarsely: ``"3 days"``, ``"5 hours"``, ``"12 minutes"``."""
    seconds = abs(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "less than a minute"


def _utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _number(value: object) -> float | None:
    """``value`` as a float, or ``None`` when it is missing or not a number."""
    if type(value) is float or type(value) is int:  # the common case, without the ABC check
        return float(value)
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)
