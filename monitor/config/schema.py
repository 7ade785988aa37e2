"""The JSON Schema of the configuration file, generated from its models.

:func:`config_schema` is what ``drift-monitor schema`` prints and what
``config/schema.json`` holds (a test fails when that file is stale). Editors
that speak the YAML language server read it from a first line such as
``# yaml-language-server: $schema=./schema.json``, completing keys and
showing each key's description.

The schema checks **the file as written**, before ``${NAME}`` interpolation:
wherever a model takes a number, a boolean or one of a few words (``timeout:
10``, ``enabled: false``, ``format: slack``), a string holding ``${NAME}`` or
``${NAME:-default}`` is accepted as well (``timeout: "${HOOK_TIMEOUT}"``); the
value it expands to is checked by ``drift-monitor validate``. Unknown keys are
rejected everywhere (``additionalProperties: false``), as the models do.

Rules that span keys are left to ``validate``: exactly one of
``schedule.every`` and ``schedule.cron``, durations and cron lines that parse,
datasets and webhooks that exist, thresholds naming real metrics, ``segments``
without ``window``. A file the schema accepts may still fail ``validate``; a
file ``validate`` accepts always passes the schema.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from monitor.config.service import Config

__all__ = ["ENV_PATTERN", "SCHEMA_DIALECT", "config_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema version the schema is written in."""

ENV_PATTERN = r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"
"""A string holding ``${NAME}`` or ``${NAME:-default}`` (searched, not anchored,
as JSON Schema patterns are): the interpolation of :mod:`monitor.config`."""

_ENV_STRING: dict[str, Any] = {
    "type": "string", "pattern": ENV_PATTERN,
    "description": "an environment variable, ${NAME} or ${NAME:-default}, replaced when the file is read",
}


class _FileSchema(GenerateJsonSchema):
    """Pydantic's schema generator, with ``${NAME}`` strings accepted where a
    model takes a number, a boolean or a literal word."""

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        return _or_env(super().int_schema(schema))

    def float_schema(self, schema: core_schema.FloatSchema) -> JsonSchemaValue:
        return _or_env(super().float_schema(schema))

    def bool_schema(self, schema: core_schema.BoolSchema) -> JsonSchemaValue:
        return _or_env(super().bool_schema(schema))

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        return _or_env(super().literal_schema(schema))


def _or_env(schema: JsonSchemaValue) -> JsonSchemaValue:
    return {"anyOf": [schema, dict(_ENV_STRING)]}


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _plain_descriptions(node: Any) -> Any:
    """The schema with the models' docstrings as an editor shows them: Sphinx
    roles (``:mod:`x```) reduced to their target, double backquotes to single."""
    if isinstance(node, list):
        return [_plain_descriptions(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _plain_descriptions(value) for key, value in node.items()}
    if isinstance(out.get("description"), str):
        out["description"] = _ROLE.sub(r"`\1`", out["description"]).replace("``", "`")
    return out


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the configuration file, from the
    pydantic models of :mod:`monitor.config`, with their descriptions.

    :returns: a JSON-able dict, the same on every call (``$defs`` sorted by name).
    """
    schema = _plain_descriptions(Config.model_json_schema(mode="validation", schema_generator=_FileSchema))
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "drift-monitor configuration",
        "description": "The YAML file drift-monitor runs from (drift-monitor validate checks it fully; "
                       "see README.md, Configuration).",
        **{key: value for key, value in schema.items() if key not in {"title", "description"}},
    }
