"""The protocol's JSON Schemas, shipped with the package, and validators built from them once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

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
