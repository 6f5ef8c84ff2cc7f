"""Each stdout line is a result, an event, or handler output; task lines are exact."""

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdaemond.config import load_config
from taskdaemond.errors import ConfigError
from taskdaemond.protocol import (
    EVENT_SCHEMA,
    RESULT_SCHEMA,
    EventLine,
    InvalidResultLine,
    ResultLine,
    SkippedLine,
    classify_line,
    task_line,
)
from taskdaemond.schemas import fast_check, validator

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def test_task_line_is_one_json_object_with_the_four_fields() -> None:
    line = task_line("t-1", '"echo"', '{"a":1}', 0)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"task_id": "t-1", "task_type": "echo", "task_data": {"a": 1}, "attempt": 0}


def test_success_result_is_a_result() -> None:
    assert isinstance(classify_line(b'{"status": "success", "result": null}\n'), ResultLine)


def test_error_result_with_every_optional_field_is_a_result() -> None:
    line = json.dumps(
        {
            "status": "error",
            "error": "x",
            "retryable": True,
            "error_type": "E",
            "retry_after": 2,
            "traceback": "tb",
            "task_id": "t",
            "metadata": {},
            "future": 1,
        }
    )
    assert isinstance(classify_line(line.encode()), ResultLine)


def test_crlf_line_is_accepted() -> None:
    assert isinstance(classify_line(b'{"status": "success", "result": 1}\r\n'), ResultLine)


def test_blank_line_is_skipped_silently() -> None:
    assert classify_line(b"\n") is None
    assert classify_line(b"  \r\n") is None


def test_plain_text_and_non_objects_are_handler_output() -> None:
    for raw in (b"hello\n", b"[1, 2]\n", b'"status"\n', b"{broken\n", b"42\n"):
        line = classify_line(raw)
        assert isinstance(line, SkippedLine) and line.reason == "handler output"


def test_object_without_status_or_event_is_handler_output() -> None:
    assert isinstance(classify_line(b'{"result": 1}\n'), SkippedLine)


def test_result_missing_its_result_field_is_a_protocol_error() -> None:
    line = classify_line(b'{"status": "success"}\n')
    assert isinstance(line, InvalidResultLine)
    assert "'result' is a required property" in line.problem


def test_result_with_unknown_status_is_a_protocol_error() -> None:
    line = classify_line(b'{"status": "done", "result": 1}\n')
    assert isinstance(line, InvalidResultLine)
    assert "status" in line.problem


def test_error_result_with_non_boolean_retryable_is_a_protocol_error() -> None:
    line = classify_line(b'{"status": "error", "error": "x", "retryable": "yes"}\n')
    assert isinstance(line, InvalidResultLine)
    assert "retryable" in line.problem


def test_log_and_progress_events_are_events() -> None:
    log = b'{"event": "log", "task_id": "t", "level": "info", "message": "m"}\n'
    progress = b'{"event": "progress", "task_id": "t", "progress": 0.5}\n'
    assert isinstance(classify_line(log), EventLine)
    assert isinstance(classify_line(progress), EventLine)


def test_unknown_event_kind_is_skipped_with_its_name() -> None:
    line = classify_line(b'{"event": "telemetry", "task_id": "t"}\n')
    assert isinstance(line, SkippedLine) and "telemetry" in line.reason


def test_malformed_event_is_skipped() -> None:
    line = classify_line(b'{"event": "progress", "task_id": "t", "progress": 7}\n')
    assert isinstance(line, SkippedLine) and "malformed event" in line.reason


# -- the fast path agrees with the schema ---------------------------------------------------

JSON_SCALARS = (
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False) | st.text(max_size=3)
)
MEMBER_VALUES = (
    JSON_SCALARS
    | st.dictionaries(st.text(max_size=2), JSON_SCALARS, max_size=2)
    | st.lists(JSON_SCALARS, max_size=2)
)
RESULT_LIKE = st.dictionaries(
    st.sampled_from(
        [
            "status",
            "result",
            "task_id",
            "metadata",
            "error",
            "retryable",
            "error_type",
            "retry_after",
            "traceback",
            "other",
        ]
    ),
    MEMBER_VALUES | st.sampled_from(["success", "error", "", "t-1"]),
    max_size=8,
).map(lambda d: {"status": d.pop("status", "success"), **d})


@settings(max_examples=600, deadline=None)
@given(RESULT_LIKE)
def test_the_hot_path_validator_agrees_with_jsonschema(message: dict[str, object]) -> None:
    # Two libraries, one schema: a result line is judged the same by fastjsonschema (used per
    # line) as by jsonschema (the reference implementation).
    assert fast_check(RESULT_SCHEMA)(message) == validator(RESULT_SCHEMA).is_valid(message), message


def load_vectors(name: str) -> list[tuple[str, dict[str, Any]]]:
    path = VECTORS / name
    if not path.exists():
        return []
    return [(test["id"], test) for case in json.loads(path.read_text())["cases"] for test in case["tests"]]


@pytest.mark.parametrize(("vector_id", "test"), load_vectors("result.json"))
def test_result_vector_gets_its_verdict(vector_id: str, test: dict[str, Any]) -> None:
    line = classify_line(json.dumps(test["data"]).encode())
    if not isinstance(test["data"], dict) or "status" not in test["data"]:
        assert not isinstance(line, ResultLine), test["why"]  # not a result at all: skipped
        return
    assert isinstance(line, ResultLine) == test["valid"], f"{test['description']}: {test['why']}"


@pytest.mark.parametrize(("vector_id", "test"), load_vectors("event.json"))
def test_event_vector_gets_its_verdict(vector_id: str, test: dict[str, Any]) -> None:
    line = classify_line(json.dumps(test["data"]).encode())
    assert isinstance(line, EventLine) == test["valid"], f"{test['description']}: {test['why']}"


@pytest.mark.parametrize(("vector_id", "test"), load_vectors("config.json"))
def test_config_vector_gets_its_verdict(vector_id: str, test: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "handlers.toml"
    path.write_text(test["toml"])
    if test.get("daemon_valid", test["valid"]):
        load_config(path, {})
    else:
        with pytest.raises(ConfigError):
            load_config(path, {})


@pytest.mark.parametrize(
    ("schema", "vector_id", "test"),
    [(RESULT_SCHEMA, *v) for v in load_vectors("result.json")]
    + [(EVENT_SCHEMA, *v) for v in load_vectors("event.json")],
)
def test_the_hot_path_validator_agrees_with_jsonschema_on_every_vector(
    schema: str, vector_id: str, test: dict[str, Any]
) -> None:
    # classify_line lets the reference overrule a refusal, which would hide a disagreement there.
    assert fast_check(schema)(test["data"]) == validator(schema).is_valid(test["data"]), test["description"]
