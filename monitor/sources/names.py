"""Column names of an input: unique, and the ones a source selects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.errors import SourceError

__all__ = ["check_unique_names", "selected", "short"]


def check_unique_names(path: Any, names: Sequence[str]) -> None:
    """Refuse an input whose columns are not uniquely named.

    :raises SourceError: ``"<path>: duplicate column name 'a' (columns 1 and 3)"``.
    """
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in seen:
            raise SourceError(f"{path}: duplicate column name {name!r} (columns {seen[name]} and {i})")
        seen[name] = i


def selected(path: Any, names: Sequence[str], columns: Sequence[str] | None, exclude: Sequence[str]) -> list[str]:
    """The columns read of an input with ``names``: ``columns`` (all when None)
    without ``exclude``.

    :raises SourceError: naming the input and the selected columns it lacks.
    """
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise SourceError(f"{path}: column(s) not found: {', '.join(missing)}")
        names = list(columns)
    return [n for n in names if n not in exclude]


def short(exc: BaseException) -> str:
    """The first line of an exception's text (its type's name when empty)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
