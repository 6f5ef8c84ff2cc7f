"""The schemas themselves: valid JSON Schema 2020-12, self-describing, versioned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import VECTORS_DIR, load_json, schema_files
from jsonschema import Draft202012Validator

SCHEMAS = [*schema_files(), VECTORS_DIR / "vectors.schema.json"]


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schema_satisfies_the_metaschema(path: Path) -> None:
    Draft202012Validator.check_schema(load_json(path))


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schema_id_names_the_file_and_version_1(path: Path) -> None:
    schema = load_json(path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://taskdaemon.dev/protocol/v1/{path.name}"
    assert schema["title"]
    assert schema["description"]


def _properties(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (location, subschema) under a `properties` keyword, recursively."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            found.append((f"{where}/properties/{name}", sub))
        for key, value in node.items():
            found.extend(_properties(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_properties(value, f"{where}/{index}"))
    return found


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: p.name)
def test_every_property_that_defines_a_field_is_described(path: Path) -> None:
    # A property that only narrows a field already described elsewhere (a `const` in an if/then branch)
    # or only points at a described definition (`$ref`) needs no description of its own.
    missing = [
        where
        for where, sub in _properties(load_json(path), "#")
        if "description" not in sub and set(sub) - {"const", "$ref"}
    ]
    assert missing == []
