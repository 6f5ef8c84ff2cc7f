"""Property: whatever lines arrive, exactly one schema-valid result per non-blank line, in order.

One long-lived handler process serves every example, so a crash in any example fails the rest.
"""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysdk_support import ANSWER_TIMEOUT, CheckedHandlerProcess, handler_argv
from taskdaemon._parse import BLANK_BYTES, strip_line_end

if TYPE_CHECKING:
    from collections.abc import Iterator

_probe_ids = itertools.count()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)

valid_tasks = st.fixed_dictionaries(
    {
        "task_id": st.text(min_size=1, max_size=20),
        "task_type": st.text(min_size=1, max_size=10),
        "task_data": st.dictionaries(st.text(max_size=8), json_values, max_size=4),
        "attempt": st.integers(min_value=0, max_value=2**40),
    },
    optional={"extra": json_values},
)


@st.composite
def task_lines(draw: st.DrawFn) -> tuple[bytes, dict[str, Any] | None]:
    message = draw(valid_tasks)
    text = json.dumps(message, ensure_ascii=draw(st.booleans()))
    ending = draw(st.sampled_from([b"", b"\r"]))
    return text.encode("utf-8") + ending, message


lines = st.one_of(
    task_lines(),
    st.lists(st.sampled_from([b" ", b"\t", b"\r"]), max_size=4).map(lambda parts: (b"".join(parts), None)),
    st.binary(max_size=40).filter(lambda raw: b"\n" not in raw).map(lambda raw: (raw, None)),
    json_values.filter(lambda value: not isinstance(value, dict)).map(
        lambda value: (json.dumps(value).encode(), None)
    ),
    json_values.map(lambda value: (json.dumps({"task_id": value}).encode(), None)),
)


def _is_blank(raw: bytes) -> bool:
    return not strip_line_end(raw).strip(BLANK_BYTES)


@pytest.fixture(scope="module")
def long_lived_handler() -> Iterator[CheckedHandlerProcess]:
    with CheckedHandlerProcess(handler_argv("echo_task.py")) as handler:
        yield handler


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(lines, max_size=12))
def test_one_result_per_non_blank_line_in_order(
    long_lived_handler: CheckedHandlerProcess,
    batch: list[tuple[bytes, dict[str, Any] | None]],
) -> None:
    handler = long_lived_handler
    probe_id = f"probe-{next(_probe_ids)}"
    for raw, _ in batch:
        handler.send_line(raw + b"\n")
    handler.send_line(json.dumps({"task_id": probe_id, "task_type": "p", "task_data": {}, "attempt": 0}))

    expected = [message for raw, message in batch if not _is_blank(raw)]
    results = [handler.read_result(ANSWER_TIMEOUT)[0] for _ in expected]  # schema-checked
    probe, _ = handler.read_result(ANSWER_TIMEOUT)
    assert probe["task_id"] == probe_id, "more results than non-blank lines"
    for message, result in zip(expected, results):
        if message is None:
            assert result["status"] == "error"
            assert result["retryable"] is False
            assert result["error_type"] in {"InvalidEncoding", "InvalidJSON", "InvalidTask"}
        else:
            assert result["status"] == "success"
            assert result["task_id"] == message["task_id"]
            assert result["result"] == {
                key: message[key] for key in ("task_id", "task_type", "task_data", "attempt")
            }
    assert handler.returncode is None
