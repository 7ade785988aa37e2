"""The tree keeps the shape docs/architecture.md gives it.

Walks ``monitor/`` with ``ast`` (nothing is imported) and fails on an import
circle between modules, a module over 600 lines, a class over 300 lines, an
import of a package that the "who may import whom" table does not allow, and a
library imported outside the packages the library table names.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "monitor"
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 300


@dataclass(frozen=True)
class Import:
    """One import statement's target, as a dotted module name."""

    source: str
    target: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def parse(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))


def resolve(node: ast.ImportFrom, name: str) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = name.split(".")
    is_package = MODULES[name].name == "__init__.py"
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str) -> Iterator[Import]:
    """Every import in a module, at any depth (functions and TYPE_CHECKING blocks included).

    ``from a.b import c`` targets ``a.b.c`` when that is a module of the tree, else ``a.b``.
    """
    for node in ast.walk(parse(name)):
        if isinstance(node, ast.Import):
            yield from (Import(name, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node, name)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield Import(name, sub if sub in MODULES else base, node.lineno)


def internal_graph() -> dict[str, set[str]]:
    return {name: {i.target for i in imports(name) if i.target in MODULES and i.target != name} for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def unit(name: str) -> str:
    """The architecture unit of a module: ``monitor`` for the package's
    ``__init__``, else the first part below ``monitor``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "monitor"


def table(heading: str) -> dict[str, set[str]]:
    """A two-column table of docs/architecture.md after ``heading``: first cell -> names in the second."""
    section = ARCHITECTURE.split(heading, 1)[1]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            if rows and not line.startswith("|"):
                break
            continue
        rows[cells[0].strip("`")] = set(re.findall(r"`([^`]+)`", cells[1]))
    return rows


ALLOWED = table("## Who may import whom")
LIBRARIES = table("only in |")


# --------------------------------------------------------------------------- the checker itself


def test_cycle_finder_finds_a_circle_and_accepts_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_tables_are_read_from_the_document() -> None:
    assert ALLOWED["profile"] == {"errors", "sources", "lifeline"}
    assert ALLOWED["errors"] == set()
    assert LIBRARIES["sqlite3"] == {"store"}
    assert "store" not in ALLOWED["profile"] and "store" not in ALLOWED["drift"]


def test_resolution_of_submodule_imports() -> None:
    targets = {i.target for i in imports("monitor.profile.parallel")}
    assert "monitor.profile.kll" in targets  # `from monitor.profile import kll`
    assert "monitor.profile" not in targets


# --------------------------------------------------------------------------- the tree


def test_every_unit_has_a_row() -> None:
    missing = sorted({unit(n) for n in MODULES} - set(ALLOWED))
    assert not missing, f"docs/architecture.md has no import rule for {missing}"


def test_no_import_circle() -> None:
    cycle = find_cycle(internal_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines (limit {MAX_MODULE_LINES})"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_class_size(name: str) -> None:
    for node in ast.walk(parse(name)):
        if isinstance(node, ast.ClassDef):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            assert size <= MAX_CLASS_LINES, f"{name}.{node.name} has {size} lines (limit {MAX_CLASS_LINES})"


def violation(imp: Import) -> str | None:
    """Why an import breaks docs/architecture.md, or None when it does not."""
    own, top = unit(imp.source), imp.target.split(".")[0]
    if imp.target in MODULES or top == "monitor":
        other = unit(imp.target)
        if other != own and other not in ALLOWED[own]:
            return (f"{imp.source}:{imp.line} imports {imp.target}; docs/architecture.md lets {own} import "
                    f"only {sorted(ALLOWED[own]) or 'nothing'}")
    elif top in LIBRARIES and own not in LIBRARIES[top]:
        return f"{imp.source}:{imp.line} imports {top}, which only {sorted(LIBRARIES[top])} may"
    return None


@pytest.mark.parametrize(("source", "target", "broken"), [
    ("monitor.profile.engine", "monitor.store", True),
    ("monitor.profile.engine", "monitor.store.records", True),
    ("monitor.drift.compare", "monitor.service.runner", True),
    ("monitor.report.render", "sqlite3", True),
    ("monitor.service.runner", "click", True),
    ("monitor.service.runner", "monitor.store", False),
    ("monitor.drift.exact", "monitor.profile.engine", False),
    ("monitor.profile.engine", "monitor.profile.model", False),
    ("monitor.store.base", "sqlite3", False),
], ids=lambda v: str(v))
def test_rule_checker_flags_what_the_table_forbids(source: str, target: str, broken: bool) -> None:
    assert (violation(Import(source, target, 1)) is not None) is broken


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_follow_the_rules(name: str) -> None:
    problems = [p for imp in imports(name) if (p := violation(imp))]
    assert not problems, "\n".join(problems)


def test_every_package_ships_in_the_wheel() -> None:
    """A package folder missing from pyproject's explicit list would be left out of the wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert packages <= listed, f"not in pyproject's [tool.setuptools] packages: {sorted(packages - listed)}"
