"""The README documents every configuration key and every command."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from monitor.cli import main
from monitor.config import Config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field name of a model and of the models it nests."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for arg in _models_in(info.annotation):
            names |= field_names(arg)
    return names


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        out += _models_in(arg)
    return out


@pytest.mark.parametrize("key", sorted(field_names(Config)))
def test_config_key_is_documented(key: str) -> None:
    assert re.search(rf"`[^`]*\b{re.escape(key)}\b[^`]*`", README), f"config key {key!r} is not in README.md"


def commands(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        out += commands(cmd, full + " ") if isinstance(cmd, click.Group) else [full]
    return out


@pytest.mark.parametrize("command", sorted(commands(main)))
def test_command_is_documented_with_an_example(command: str) -> None:
    assert f"drift-monitor {command}" in README, f"command {command!r} is not in README.md"
    cmd: click.Command = main
    for part in command.split():
        cmd = cmd.commands[part]  # type: ignore[attr-defined]
    assert "Example:" in (cmd.help or ""), f"{command} --help has no Example:"
