"""The data checks itself: the case files, the transcript schema and the packaged schema copies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from taskdaemon_conformance.schemas import HARNESS_SCHEMAS, PROTOCOL_SCHEMAS, schema_text, validator
from taskdaemon_conformance.transcripts import (
    Case,
    CloseStdin,
    Signal,
    TranscriptError,
    load_cases,
    load_file,
)

from support import CASES_DIR, CONFORMANCE

PROTOCOL_SCHEMA_DIR = CONFORMANCE.parent / "protocol" / "schema"
HANDLERS = {
    "python": CONFORMANCE / "handlers" / "python" / "handler.py",
    "ruby": CONFORMANCE / "handlers" / "ruby" / "handler.rb",
    "typescript": CONFORMANCE / "handlers" / "typescript" / "handler.mjs",
    "go": CONFORMANCE.parent / "examples" / "go" / "conformance" / "main.go",
}
# Words that make a description a wish or a test name rather than a statement of what happens.
NOT_PRESENT_TENSE = re.compile(r"\b(should|will|would|must|test|tests|checks?|verif(y|ies))\b", re.IGNORECASE)


def _case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*.json"))


@pytest.mark.parametrize("path", _case_files(), ids=lambda path: path.name)
def test_every_case_file_fits_the_transcript_schema(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    errors = list(validator("transcript.schema.json").iter_errors(document))
    assert errors == []


def test_the_suite_has_at_least_forty_cases(cases: list[Case]) -> None:
    assert len(cases) >= 40


def test_ids_and_descriptions_are_unique(cases: list[Case]) -> None:
    ids = [case.id for case in cases]
    descriptions = [case.description for case in cases]
    assert len(set(ids)) == len(ids)
    assert len(set(descriptions)) == len(descriptions)


@pytest.mark.parametrize("case_id", [case.id for case in load_cases(CASES_DIR)])
def test_descriptions_state_what_happens_in_the_present_tense(
    cases_by_id: dict[str, Case], case_id: str
) -> None:
    description = cases_by_id[case_id].description
    assert NOT_PRESENT_TENSE.search(description) is None, description
    assert not description.endswith("."), description


def test_every_case_ends_the_conversation(cases: list[Case]) -> None:
    """Each case closes stdin or sends a signal, so the handler exits and the harness never waits blind."""
    endless = [c.id for c in cases if not any(isinstance(s, (CloseStdin, Signal)) for s in c.steps)]
    assert endless == []


def test_the_issues_required_cases_are_present(cases_by_id: dict[str, Case]) -> None:
    pipelined = cases_by_id["pipelined-1000"]
    assert len(pipelined.expected) == 1000
    assert [m["task_id"] for m in pipelined.expected] == [f"seq-{i}" for i in range(1000)]
    sizes = {
        case_id: len(cases_by_id[case_id].expected[0]["result"]["s"])
        for case_id in ("payload-16mib-round-trip", "payload-64mib-round-trip")
    }
    assert sizes == {"payload-16mib-round-trip": 16 * 2**20, "payload-64mib-round-trip": 64 * 2**20}
    for case_id in (
        "eof-without-tasks",
        "sigterm-during-task",
        "invalid-utf8",
        "stdout-noise-goes-to-stderr",
    ):
        assert case_id in cases_by_id


def _task_types(cases: list[Case]) -> set[str]:
    types: set[str] = set()
    for case in cases:
        for step in case.raw["input"]:
            value = step.get("send_json")
            if isinstance(value, dict) and isinstance(value.get("task_type"), str):
                types.add(value["task_type"])
    return types - {"no-such-type"}


@pytest.mark.parametrize("language", sorted(HANDLERS))
def test_every_handler_serves_every_task_type_the_cases_use(cases: list[Case], language: str) -> None:
    source = HANDLERS[language].read_text(encoding="utf-8")
    missing = [
        name for name in sorted(_task_types(cases)) if not re.search(rf"[\"']?{name}[\"']?\s*[:=]", source)
    ]
    assert missing == []


@pytest.mark.parametrize("name", PROTOCOL_SCHEMAS)
def test_packaged_protocol_schemas_are_byte_identical_to_the_protocols(name: str) -> None:
    assert schema_text(name) == (PROTOCOL_SCHEMA_DIR / name).read_text(encoding="utf-8")


def test_packaged_transcript_schema_is_byte_identical_to_conformance_s() -> None:
    assert schema_text("transcript.schema.json") == (CONFORMANCE / "transcript.schema.json").read_text(
        encoding="utf-8"
    )


def _properties_without_description(schema: Any, where: str = "") -> list[str]:
    missing: list[str] = []
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            if isinstance(sub, dict) and "description" not in sub:
                missing.append(f"{where}/properties/{name}")
        for key, sub in schema.items():
            missing.extend(_properties_without_description(sub, f"{where}/{key}"))
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            missing.extend(_properties_without_description(sub, f"{where}/{index}"))
    return missing


@pytest.mark.parametrize("name", HARNESS_SCHEMAS)
def test_every_property_of_the_harness_schemas_has_a_description(name: str) -> None:
    schema = json.loads(schema_text(name))
    validator(name)  # the schema itself is valid JSON Schema 2020-12
    missing = [
        p for p in _properties_without_description(schema) if "/$defs/" not in p or "/properties/" in p
    ]
    # Sub-schemas that only pin a value ({"const": ...} beside a described sibling) are exempt.
    assert missing == []


def _write_case_file(tmp_path: Path, case: dict[str, Any]) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"description": "bad cases", "cases": [case]}), encoding="utf-8")
    return path


GOOD = {
    "id": "good-case",
    "description": "a good case loads",
    "input": [{"close_stdin": True}],
    "output": [],
    "exit_code": 0,
}


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"id": "Not An Id"}, "does not match"),
        ({"input": [{"send": "x", "close_stdin": True}]}, "input/0"),
        ({"output": [{"status": "success", "result": {"match": "nonsense"}}]}, "bad matcher"),
        ({"output": [{"status": "error", "error": {"match": "regex", "pattern": "("}}]}, "bad regex"),
        (
            {"output": [{"status": "success", "result": {"generate": "string", "length": 3}}]},
            "string generator",
        ),
        ({"input": [{"send_base64": "not base64!"}]}, "not base64"),
        ({"exit_code": -1}, "exit_code"),
    ],
)
def test_a_broken_case_file_is_refused_naming_the_problem(
    tmp_path: Path, change: dict[str, Any], complaint: str
) -> None:
    path = _write_case_file(tmp_path, {**GOOD, **change})
    with pytest.raises(TranscriptError, match=re.escape(complaint)):
        load_file(path)


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps({"description": name, "cases": [GOOD]}), encoding="utf-8")
    with pytest.raises(TranscriptError, match="good-case"):
        load_cases(tmp_path)
