"""File names of the pages under a reports folder: :func:`safe_name` turns any
name into a file-name-safe one; :data:`INDEX_NAME`, :data:`HISTORY_NAME` and
:data:`PROFILE_NAME` are the index, a monitor's history page and a snapshot's
profile page."""

from __future__ import annotations

import re
from hashlib import sha1

INDEX_NAME = "index.html"
"""The index, ``<reports_dir>/index.html``."""
HISTORY_NAME = "history.html"
"""A monitor's history page, ``<reports_dir>/<monitor>/history.html``."""
PROFILE_NAME = "profile.html"
"""A snapshot's profile page, ``<reports_dir>/<dataset>/<snapshot>/profile.html``."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, limit: int = 80) -> str:
    """A file-name-safe version of ``name``.

    Runs of characters other than ASCII letters, digits, ``.``, ``_`` and ``-``
    become ``_``; a leading dot is dropped; the result is cut to ``limit``
    characters. When anything changed, 8 hex digits of the SHA-1 of ``name`` are
    appended so two different names never share a file.

    :returns: a non-empty string, e.g. ``"2024-05-01T06_00-1a2b3c4d"``.
    """
    cleaned = _UNSAFE.sub("_", name).lstrip(".")[:limit]
    if cleaned == name and cleaned:
        return cleaned
    return f"{cleaned or '_'}-{sha1(name.encode('utf-8')).hexdigest()[:8]}"
