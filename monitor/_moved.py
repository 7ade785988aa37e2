"""Old module paths of release 0.1, kept importable for one release.

Release 0.2 moved the flat modules into one package per stage of the data flow
(see ``docs/architecture.md``). Importing an old path, e.g.
``from monitor.profile_io import profile_json``, still works: it gives a module
holding the new modules' names and emits a :class:`DeprecationWarning` naming
the new path. The old paths go away in release 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

MOVED: dict[str, tuple[str, ...]] = {
    "monitor.accumulators": ("monitor.profile.accumulators",),
    "monitor.alert": ("monitor.service.alert",),
    "monitor.columns": ("monitor.profile.columns",),
    "monitor.kll": ("monitor.profile.kll",),
    "monitor.metrics": ("monitor.drift.metrics", "monitor.drift.registry"),
    "monitor.numeric": ("monitor.profile.numeric",),
    "monitor.profile_io": ("monitor.profile.values", "monitor.profile.serialize", "monitor.profile.table"),
    "monitor.profile_parallel": ("monitor.profile.parallel",),
    "monitor.runner": ("monitor.service.runner",),
    "monitor.scheduler": ("monitor.service.scheduler",),
    "monitor.sketches": ("monitor.profile.sketches",),
}
"""Old module path -> the modules its names now live in."""


class _MovedLoader(importlib.abc.Loader):
    """Fills a fresh module with the names of the modules an old path moved to."""

    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = tuple(targets)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        warnings.warn(f"{module.__name__} moved to {' and '.join(self.targets)}; the old path goes away in 0.3",
                      DeprecationWarning, stacklevel=2)
        for name in self.targets:
            target = importlib.import_module(name)
            module.__dict__.update({k: v for k, v in vars(target).items() if not k.startswith("__")})


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old module paths of :data:`MOVED` (after every regular finder)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        targets = MOVED.get(fullname)
        return importlib.util.spec_from_loader(fullname, _MovedLoader(targets)) if targets else None


def install() -> None:
    """Append one :class:`MovedModuleFinder` to ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
