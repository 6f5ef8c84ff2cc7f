"""Every vector gets its verdict, and the vectors keep their own invariants."""

from __future__ import annotations

import base64
import json
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import SCHEMA_DIR, VECTORS_DIR, all_tests, load_json, vector_files
from jsonschema import Draft202012Validator

SCHEMA_VECTORS = [
    pytest.param(path, test, id=test["id"]) for path, _case, test in all_tests() if "valid" in test
]
LINE_VECTORS = [
    pytest.param(test, id=test["id"]) for path, _case, test in all_tests() if path.name == "lines.json"
]
TASK_VALIDATOR = Draft202012Validator(load_json(SCHEMA_DIR / "task.schema.json"))


def instance_of(test: dict[str, Any]) -> Any:
    return tomllib.loads(test["toml"]) if "toml" in test else test["data"]


@pytest.mark.parametrize(("path", "test"), SCHEMA_VECTORS)
def test_vector_gets_its_verdict(path: Path, test: dict[str, Any]) -> None:
    schema = load_json(SCHEMA_DIR / load_json(path)["schema"])
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(instance_of(test))]
    verdict = not errors
    assert verdict == test["valid"], f"{test['description']} ({test['why']}); errors: {errors}"


@pytest.mark.parametrize("test", LINE_VECTORS)
def test_line_expectation_agrees_with_the_task_schema(test: dict[str, Any]) -> None:
    raw = base64.b64decode(test["line_base64"]) if "line_base64" in test else test["line"].encode()
    expect = test["expect"]
    if expect["answer"] == "none":
        assert raw.strip() == b""
        return
    if expect.get("error_type") in ("InvalidEncoding", "InvalidJSON"):
        assert not _is_json_text(raw)
        return
    message = json.loads(raw.decode("utf-8"))
    if expect["answer"] == "task":
        assert TASK_VALIDATOR.is_valid(message)
        fields = ("task_id", "task_type", "task_data", "attempt")
        assert {k: message[k] for k in fields} == expect["task"]
    else:
        assert not TASK_VALIDATOR.is_valid(message)
        readable_id = message.get("task_id") if isinstance(message, dict) else None
        if not (isinstance(readable_id, str) and readable_id):
            readable_id = None
        assert expect["task_id"] == readable_id


def _is_json_text(raw: bytes) -> bool:
    """Whether `raw` is UTF-8 text holding one strict JSON value (no NaN, no Infinity, no string
    with a lone surrogate: re-encoding such a string as UTF-8 fails)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except ValueError:  # Unicode{De,En}codeError and JSONDecodeError are all ValueErrors
        return False
    return True


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@pytest.mark.parametrize("path", vector_files(), ids=lambda p: p.name)
def test_vectors_file_has_the_documented_shape(path: Path) -> None:
    shape = Draft202012Validator(load_json(VECTORS_DIR / "vectors.schema.json"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in shape.iter_errors(load_json(path))]
    assert errors == []


def test_ids_are_unique_across_all_files() -> None:
    counts = Counter(test["id"] for _path, _case, test in all_tests())
    assert [i for i, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("path", vector_files(), ids=lambda p: p.name)
def test_descriptions_are_unique_and_in_the_house_style(path: Path) -> None:
    descriptions = [test["description"] for case in load_json(path)["cases"] for test in case["tests"]]
    assert [d for d, n in Counter(descriptions).items() if n > 1] == []
    for text in descriptions:
        assert not text.lower().startswith(("should", "test that")), text


@pytest.mark.parametrize("path", vector_files(), ids=lambda p: p.name)
def test_each_case_cites_a_section_that_exists(path: Path) -> None:
    spec = (VECTORS_DIR.parent / "README.md").read_text(encoding="utf-8")
    anchors = {_anchor(line) for line in spec.splitlines() if line.startswith("#")}
    for case in load_json(path)["cases"]:
        assert case["spec"].removeprefix("README.md#") in anchors, case["spec"]


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = heading.lstrip("#").strip().lower()
    kept = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def test_every_schema_is_exercised_by_valid_and_invalid_vectors() -> None:
    verdicts: dict[str, set[bool]] = {p.name: set() for p in SCHEMA_DIR.glob("*.schema.json")}
    for path, _case, test in all_tests():
        if "valid" in test:
            verdicts[load_json(path)["schema"]].add(test["valid"])
    assert verdicts == {name: {True, False} for name in verdicts}


def test_there_are_at_least_sixty_vectors() -> None:
    assert len(all_tests()) >= 60
