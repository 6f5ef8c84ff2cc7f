"""Shared loading of the protocol's schemas and vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROTOCOL_DIR = Path(__file__).resolve().parent.parent
SCHEMA_DIR = PROTOCOL_DIR / "schema"
VECTORS_DIR = PROTOCOL_DIR / "vectors"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.glob("*.schema.json"))


def vector_files() -> list[Path]:
    return sorted(p for p in VECTORS_DIR.glob("*.json") if p.name != "vectors.schema.json")


def all_tests() -> list[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """Every (file, case, test) triple in the vectors."""
    return [
        (path, case, test)
        for path in vector_files()
        for case in load_json(path)["cases"]
        for test in case["tests"]
    ]
