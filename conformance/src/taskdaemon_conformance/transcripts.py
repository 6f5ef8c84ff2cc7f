"""Load the cases (conformance/cases/*.json) and turn them into steps and expectations.

The file format is `transcript.schema.json`; this module also checks what a schema cannot:
unique ids and descriptions, well-formed matchers, generators and regular expressions.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from taskdaemon_conformance.schemas import schema_text, validator

#: Milliseconds a case may take when it does not say.
DEFAULT_TIME_LIMIT_MS = 10_000
#: Signals a case may send, by name.
SIGNALS = ("SIGTERM", "SIGINT")


class TranscriptError(ValueError):
    """A case file is not a valid transcript; the message names the file, the case and the problem."""


@dataclass(frozen=True)
class Send:
    """Write `data` to the handler's stdin."""

    data: bytes


@dataclass(frozen=True)
class WaitForResults:
    """Read stdout until `count` results have arrived in total."""

    count: int


@dataclass(frozen=True)
class Wait:
    """Pause for `ms` milliseconds."""

    ms: int


@dataclass(frozen=True)
class Signal:
    """Send the signal named `name` to the handler."""

    name: str


@dataclass(frozen=True)
class CloseStdin:
    """Close the handler's stdin."""


Step = Send | WaitForResults | Wait | Signal | CloseStdin


@dataclass(frozen=True)
class Case:
    """One case, its generators expanded: the steps to perform and the messages expected back."""

    id: str
    description: str
    source: Path
    steps: tuple[Step, ...]
    expected: tuple[Any, ...]
    exit_code: int
    time_limit_ms: int = DEFAULT_TIME_LIMIT_MS
    stderr_includes: tuple[str, ...] = ()
    spec: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _sub_validator(name: str) -> Draft202012Validator:
    schema = json.loads(schema_text("transcript.schema.json"))
    return Draft202012Validator(schema["$defs"][name])


def dumps_compact(value: Any) -> str:
    """JSON as the harness writes it: compact, non-ASCII as UTF-8, no NaN."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def expand_strings(value: Any) -> Any:
    """Replace every string generator ({"generate": "string", ...}) inside `value` by its string."""
    if isinstance(value, dict):
        if value.get("generate") == "string":
            fill: str = value["fill"]
            length: int = value["length"]
            return fill * length
        return {key: expand_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_strings(item) for item in value]
    return value


def _check_matcher(value: dict[str, Any], where: str) -> None:
    errors = list(_sub_validator("matcher").iter_errors(value))
    if errors:
        raise TranscriptError(f"{where}: bad matcher {dumps_compact(value)}: {errors[0].message}")
    if value["match"] != "regex":
        return
    if "pattern" not in value:
        raise TranscriptError(f"{where}: a regex matcher needs a pattern")
    try:
        re.compile(value["pattern"])
    except re.error as exc:
        raise TranscriptError(f"{where}: bad regex {value['pattern']!r}: {exc}") from None


def _check_special_objects(value: Any, where: str) -> None:
    """Check every matcher and string generator inside an expected message or a sent value."""
    if isinstance(value, dict):
        if "match" in value:
            _check_matcher(value, where)
        elif value.get("generate") == "string":
            errors = list(_sub_validator("string_generator").iter_errors(value))
            if errors:
                raise TranscriptError(f"{where}: bad string generator: {errors[0].message}")
        else:
            for key, item in value.items():
                _check_special_objects(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_special_objects(item, f"{where}[{index}]")


def _echo_task(prefix: str, index: int) -> dict[str, Any]:
    return {"task_id": f"{prefix}{index}", "task_type": "echo", "task_data": {"i": index}, "attempt": 0}


def _steps(raw_steps: list[dict[str, Any]], where: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        if "send" in raw:
            steps.append(Send(raw["send"].encode("utf-8", "surrogatepass") + b"\n"))
        elif "send_json" in raw:
            _check_special_objects(raw["send_json"], f"{where}.input[{index}]")
            text = dumps_compact(expand_strings(raw["send_json"]))
            steps.append(Send(text.encode("utf-8", "surrogatepass") + b"\n"))
        elif "send_base64" in raw:
            try:
                data = base64.b64decode(raw["send_base64"], validate=True)
            except ValueError as exc:
                raise TranscriptError(f"{where}.input[{index}]: send_base64 is not base64: {exc}") from None
            steps.append(Send(data))
        elif "generate" in raw:
            lines = (dumps_compact(_echo_task(raw["id_prefix"], i)) + "\n" for i in range(raw["count"]))
            steps.append(Send("".join(lines).encode("utf-8")))
        elif "wait_for_results" in raw:
            steps.append(WaitForResults(raw["wait_for_results"]))
        elif "wait_ms" in raw:
            steps.append(Wait(raw["wait_ms"]))
        elif "signal" in raw:
            steps.append(Signal(raw["signal"]))
        else:
            steps.append(CloseStdin())
    return tuple(steps)


def _expected(raw_output: list[dict[str, Any]], where: str) -> tuple[Any, ...]:
    expected: list[Any] = []
    for index, raw in enumerate(raw_output):
        if raw.get("generate") == "echo-results":
            prefix, count = raw["id_prefix"], raw["count"]
            expected.extend(
                {"status": "success", "result": {"i": i}, "task_id": f"{prefix}{i}"} for i in range(count)
            )
        else:
            _check_special_objects(raw, f"{where}.output[{index}]")
            expected.append(expand_strings(raw))
    return tuple(expected)


def load_file(path: Path) -> list[Case]:
    """Load and check one case file; raise TranscriptError naming what is wrong."""
    return _load_document(path)[1]


def _load_document(path: Path) -> tuple[str, list[Case]]:
    """The file's description (its topic) and its cases."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TranscriptError(f"{path}: cannot read a JSON document: {exc}") from None
    errors = sorted(validator("transcript.schema.json").iter_errors(document), key=lambda e: e.path)
    if errors:
        first = errors[0]
        location = "/".join(str(part) for part in first.absolute_path) or "(top)"
        raise TranscriptError(f"{path}: at {location}: {first.message}")
    return document["description"], [case_from_raw(raw, path) for raw in document["cases"]]


def case_from_raw(raw: dict[str, Any], path: Path) -> Case:
    """A Case from one case object of a transcript file (already checked against the schema)."""
    where = f"{path.name}:{raw['id']}"
    return Case(
        id=raw["id"],
        description=raw["description"],
        source=path,
        steps=_steps(raw["input"], where),
        expected=_expected(raw["output"], where),
        exit_code=raw["exit_code"],
        time_limit_ms=raw.get("time_limit_ms", DEFAULT_TIME_LIMIT_MS),
        stderr_includes=tuple(raw.get("stderr_includes", ())),
        spec=raw.get("spec"),
        raw=raw,
    )


def load_cases(directory: Path) -> list[Case]:
    """Load every *.json file in `directory`, sorted by name; ids and descriptions must be unique."""
    return [case for _topic, cases in load_files(directory) for case in cases]


def load_files(directory: Path) -> list[tuple[str, list[Case]]]:
    """Every case file in `directory` as (its description, its cases), sorted by file name."""
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise TranscriptError(f"{directory}: no case files (*.json) found")
    files: list[tuple[str, list[Case]]] = []
    seen_ids: dict[str, Path] = {}
    seen_descriptions: dict[str, str] = {}
    for path in paths:
        topic, cases = _load_document(path)
        files.append((topic, cases))
        for case in cases:
            if case.id in seen_ids:
                raise TranscriptError(f"{path}: case id {case.id!r} is also used in {seen_ids[case.id]}")
            if case.description in seen_descriptions:
                other = seen_descriptions[case.description]
                raise TranscriptError(f"{path}: case {case.id!r} has the same description as {other!r}")
            seen_ids[case.id] = path
            seen_descriptions[case.description] = case.id
    return files


def select(cases: list[Case], ids: list[str]) -> list[Case]:
    """The cases named by `ids` (in the suite's order); ValueError naming any unknown id."""
    known = {case.id for case in cases}
    unknown = [case_id for case_id in ids if case_id not in known]
    if unknown:
        raise TranscriptError(f"unknown case id(s): {', '.join(unknown)}")
    wanted = set(ids)
    return [case for case in cases if case.id in wanted]
