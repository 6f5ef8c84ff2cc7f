"""The protocol's JSON Schemas, shipped with the package, and validators built from them once.

Two validators of the same schemas: ``fastjsonschema`` on the hot path (every result and event line
a handler writes: the schema compiled to Python code once, some 4 us a result against jsonschema's
two hundred), and ``jsonschema`` where messages for people matter (handlers.toml, and what is wrong
with a line the hot path refused). tests/test_protocol.py checks that both agree on generated
messages and on every protocol vector.

(jsonschema-rs, faster still at 0.4 us, was the hot path until it was measured holding 10.6 MiB of
the idle daemon's 67 MiB, its 15 MiB library mapped on first use: bench/README.md, Footprint.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

SCHEMA_FILES = (
    "task.schema.json",
    "result.schema.json",
    "event.schema.json",
    "handlers-config.schema.json",
)


def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema ``name`` (one of SCHEMA_FILES) from the package data."""
    text = resources.files("taskdaemond").joinpath("schema", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for schema ``name`` with messages for people, built once per process."""
    return Draft202012Validator(load_schema(name))


@cache
def fast_check(name: str) -> Callable[[Any], bool]:
    """Whether a message is valid against schema ``name``: the per-line hot path.

    Compiled once per process. ``use_default=False``: the check must not write defaults into the
    message it is given; formats are annotations in draft 2020-12, so not checked."""
    validate = fastjsonschema.compile(load_schema(name), use_default=False, use_formats=False)

    def is_valid(message: Any) -> bool:
        try:
            validate(message)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return is_valid
