"""taskdaemon.testing.call(): a handler run in-process, exactly as run() would run it."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from pysdk_support import check_event, check_result
from taskdaemon import Dependency, Error, HandlerFunction, Success, Task
from taskdaemon.testing import Outcome, call


def checked(outcome: Outcome) -> Outcome:
    check_result(outcome.message)
    for event in outcome.events:
        check_event(event)
    return outcome


def greet(task: Task) -> Success:
    task.log(f"greeting {task.task_data['name']}")
    task.progress(1)
    print("printed while greeting")
    return Success({"message": f"Hello, {task.task_data['name']}!"})


class TestOutcome:
    def test_result_message_events_and_output_are_returned(self) -> None:
        outcome = checked(call(greet, {"name": "Ada"}, task_id="g1"))
        assert outcome.ok
        assert outcome.result == Success({"message": "Hello, Ada!"})
        assert outcome.message == {
            "status": "success",
            "result": {"message": "Hello, Ada!"},
            "task_id": "g1",
        }
        assert outcome.events == [
            {"event": "log", "task_id": "g1", "level": "info", "message": "greeting Ada"},
            {"event": "progress", "task_id": "g1", "progress": 1},
        ]
        assert outcome.output == "printed while greeting\n"

    def test_the_task_carries_the_given_fields(self) -> None:
        seen: list[Task] = []

        def record(task: Task) -> None:
            seen.append(task)

        outcome = checked(call(record, task_type="kind", task_id="id-1", attempt=3))
        assert outcome.message == {"status": "success", "result": None, "task_id": "id-1"}
        assert (seen[0].task_id, seen[0].task_type, seen[0].task_data, seen[0].attempt) == (
            "id-1",
            "kind",
            {},
            3,
        )

    def test_a_step_reads_its_parents_result_from_the_given_dependencies(self) -> None:
        def report(task: Task) -> Success:
            return Success(
                {"rows": task.dependencies["load"].result["rows"], "from": list(task.dependencies)}
            )

        outcome = checked(call(report, dependencies={"load": Dependency("t1", "fetch", {"rows": 42})}))
        assert outcome.message["result"] == {"rows": 42, "from": ["load"]}
        assert checked(call(lambda task: Success(len(task.dependencies)))).message["result"] == 0

    def test_the_message_is_the_decoded_wire_line(self) -> None:
        outcome = call(lambda _task: Success((1, 2)))
        assert outcome.result == Success((1, 2))
        assert outcome.message["result"] == [1, 2]

    def test_bad_arguments_are_refused(self) -> None:
        with pytest.raises(TypeError, match="task_data must be an object, got array"):
            call(greet, [1])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="attempt must be >= 0"):
            call(greet, attempt=-1)


class TestSameRulesAsRun:
    def test_an_exception_becomes_an_error(self) -> None:
        def broken(task: Task) -> None:
            raise KeyError(task.task_id)

        outcome = checked(call(broken))
        assert not outcome.ok
        assert isinstance(outcome.result, Error)
        assert outcome.message["error_type"] == "KeyError"
        assert "in broken" in outcome.message["traceback"]

    def test_system_exit_is_answered_not_raised(self) -> None:
        outcome = checked(call(lambda _task: sys.exit(4)))
        assert outcome.message["error_type"] == "SystemExit"
        assert outcome.message["error"] == "4"

    def test_cancelled_error_is_answered(self) -> None:
        async def cancelled(_task: Task) -> None:
            raise asyncio.CancelledError

        outcome = checked(call(cancelled))
        assert outcome.message["error_type"] == "CancelledError"

    def test_an_unserialisable_result_is_the_error_sent(self) -> None:
        outcome = checked(call(lambda _task: Success({"x": object()})))
        assert isinstance(outcome.result, Error)
        assert outcome.result.error_type == "UnserialisableResult"
        assert outcome.message["error"].startswith("result is not JSON-serialisable: TypeError")

    def test_an_error_with_a_lone_surrogate_is_still_answered(self) -> None:
        outcome = checked(call(lambda _task: Error("bad \ud800 text")))
        assert outcome.message["error_type"] == "UnserialisableResult"
        assert outcome.message["error"].startswith("error is not JSON-serialisable")

    def test_an_exception_message_with_a_lone_surrogate_keeps_its_text(self) -> None:
        def broken(_task: Task) -> None:
            message = "bad \ud800 text"
            raise ValueError(message)

        outcome = checked(call(broken))
        assert outcome.message["error"] == "bad \\ud800 text"
        assert outcome.message["error_type"] == "ValueError"

    def test_invalid_return_names_the_type(self) -> None:
        outcome = checked(call(lambda _task: "a string"))  # type: ignore[arg-type,return-value]
        assert outcome.message["error_type"] == "InvalidReturn"
        assert "returned str" in outcome.message["error"]

    def test_async_handlers_are_awaited(self) -> None:
        async def slow_greet(task: Task) -> Success:
            await asyncio.sleep(0)
            return Success(task.task_data)

        assert call(slow_greet, {"a": 1}).message["result"] == {"a": 1}

    def test_a_mapping_dispatches_by_task_type(self) -> None:
        handlers: dict[str, HandlerFunction] = {
            "one": lambda _task: Success(1),
            "two": lambda _task: Success(2),
        }
        assert call(handlers, task_type="two").message["result"] == 2
        unknown = checked(call(handlers, task_type="three"))
        assert unknown.message["error_type"] == "UnknownTaskType"
        assert (
            unknown.message["error"] == "no handler for task_type 'three'; this handler serves: 'one', 'two'"
        )

    def test_events_after_the_answer_are_dropped(self, capsys: pytest.CaptureFixture[str]) -> None:
        kept: list[Task] = []

        def keep(task: Task) -> None:
            kept.append(task)

        outcome = call(keep)
        kept[0].log("too late")
        assert outcome.events == []
        assert "dropped an event for task 'test-task'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("handler", "exception", "match"),
    [
        (42, TypeError, "handler must be a function taking a Task"),
        ({}, ValueError, "the handler mapping is empty"),
        ({"a": 1}, TypeError, "the handler for task_type 'a' must be a function"),
        ({"": print}, TypeError, "keys must be non-empty task_type strings"),
        ({1: print}, TypeError, "keys must be non-empty task_type strings"),
    ],
)
def test_a_malformed_handler_is_refused_before_any_task(
    handler: Any, exception: type[Exception], match: str
) -> None:
    with pytest.raises(exception, match=match):
        call(handler)


class TestUnencodableShapes:
    def test_a_circular_result_becomes_an_error(self) -> None:
        loop: list[Any] = []
        loop.append(loop)
        outcome = checked(call(lambda _task: Success(loop)))
        assert outcome.message["error_type"] == "UnserialisableResult"
        assert "Circular reference" in outcome.message["error"]

    def test_a_too_deep_result_becomes_an_error(self) -> None:
        deep: list[Any] = []
        for _ in range(100_000):
            deep = [deep]
        outcome = checked(call(lambda _task: Success(deep)))
        assert outcome.message["error_type"] == "UnserialisableResult"
        assert "RecursionError" in outcome.message["error"]

    def test_a_huge_integer_becomes_an_error(self) -> None:
        outcome = checked(call(lambda _task: Success(10**5000)))
        assert outcome.message["error_type"] == "UnserialisableResult"
