"""JSON Schemas shipped with the package: the protocol's (copies of protocol/schema/) and the harness's."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

#: The protocol's schemas, kept byte-identical to protocol/schema/ (a test checks it).
PROTOCOL_SCHEMAS = ("result.schema.json", "event.schema.json")
#: The harness's schemas: the case format and the report format.
HARNESS_SCHEMAS = ("transcript.schema.json", "report.schema.json")


def schema_text(name: str) -> str:
    """The text of the packaged schema `name` (e.g. "result.schema.json")."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


@cache
def validator(name: str) -> Draft202012Validator:
    """A checked validator for the packaged schema `name`."""
    schema: dict[str, Any] = json.loads(schema_text(name))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)
