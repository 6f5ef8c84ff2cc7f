"""The protocol's JSON Schemas, shipped with the package, and validators built from them once.

Two validators of the same schemas: ``jsonschema`` where messages for people matter (handlers.toml),
``jsonschema-rs`` on the hot path (every result and event line a handler writes), where it checks
a result in about a microsecond against jsonschema's two hundred. tests/test_protocol.py checks
that both agree on generated messages.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
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
    """A validator for schema ``name``, built once per process."""
    return Draft202012Validator(load_schema(name))


@cache
def fast_validator(name: str) -> jsonschema_rs.Draft202012Validator:
    """A compiled validator for schema ``name``, for the per-line hot path."""
    return jsonschema_rs.Draft202012Validator(load_schema(name))
