"""run() over real pipes: real handler processes driven by HandlerProcess."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest

from pysdk_support import ANSWER_TIMEOUT, CheckedHandlerProcess, handler_argv
from taskdaemon.testing import HandlerExited, task

if TYPE_CHECKING:
    from collections.abc import Callable


def _finish(handler: CheckedHandlerProcess) -> None:
    """Close stdin, and check the handler exits 0 having written nothing more to stdout."""
    handler.close_stdin()
    assert handler.wait(ANSWER_TIMEOUT) == 0
    with pytest.raises(HandlerExited):
        handler.read_message(ANSWER_TIMEOUT)
    assert handler.stray_lines == []


def _wait_for_stderr(handler: CheckedHandlerProcess, text: str) -> None:
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while text not in handler.stderr_text:
        assert time.monotonic() < deadline, f"no {text!r} on stderr: {handler.stderr_text!r}"
        time.sleep(0.02)


class TestFraming:
    def test_a_task_is_echoed_with_its_id(self, start_handler: Callable[..., CheckedHandlerProcess]) -> None:
        handler = start_handler("echo_task.py")
        message = task("greet", {"name": "Ada"}, task_id="t-1", attempt=2)
        result = handler.answer(message)
        assert result == {"status": "success", "result": message, "task_id": "t-1"}
        _finish(handler)

    def test_pipelined_tasks_are_answered_once_each_in_order(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("echo_task.py")
        for n in range(200):
            handler.send(task("echo", {"n": n}, task_id=f"t{n}"))
        for n in range(200):
            result, events = handler.read_result(ANSWER_TIMEOUT)
            assert result["task_id"] == f"t{n}"
            assert result["result"]["task_data"] == {"n": n}
            assert events == []
        _finish(handler)

    def test_blank_lines_get_no_answer_and_crlf_is_accepted(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("echo_task.py")
        for blank in (b"", b"   ", b"\t", b"\r", b" \t \r"):
            handler.send_line(blank)
        line = json.dumps(task("echo", {"crlf": True}, task_id="crlf")).encode() + b"\r\n"
        handler.send_line(line)
        handler.send(task("echo", task_id="after"))
        assert handler.read_result(ANSWER_TIMEOUT)[0]["task_id"] == "crlf"
        assert handler.read_result(ANSWER_TIMEOUT)[0]["task_id"] == "after"
        _finish(handler)

    def test_unknown_fields_are_ignored(self, start_handler: Callable[..., CheckedHandlerProcess]) -> None:
        handler = start_handler("echo_task.py")
        message: dict[str, Any] = {**task("echo", {"a": 1}, task_id="u"), "priority": 9, "x": {}}
        result = handler.answer(message)
        assert result["status"] == "success"
        assert result["result"]["task_data"] == {"a": 1}
        _finish(handler)


MALFORMED: list[tuple[bytes, str, str | None, str]] = [
    (b"\xff\xfe{}", "InvalidEncoding", None, "not valid UTF-8"),
    (b"hello", "InvalidJSON", None, "not valid JSON"),
    (b'{"task_id":"t1"} trailing', "InvalidJSON", None, "Extra data"),
    (
        b'{"task_id":"t1","task_type":"x","task_data":{"v":NaN},"attempt":0}',
        "InvalidJSON",
        None,
        "NaN",
    ),
    (
        b'{"task_id":"t1","task_type":"x","task_data":{"v":-Infinity},"attempt":0}',
        "InvalidJSON",
        None,
        "Infinity",
    ),
    (b"[" * 100_000, "InvalidJSON", None, "not valid JSON"),
    (b"[1,2]", "InvalidTask", None, "got array"),
    (b'"text"', "InvalidTask", None, "got string"),
    (b"null", "InvalidTask", None, "got null"),
    (b'{"task_type":"x","task_data":{},"attempt":0}', "InvalidTask", None, "task_id is missing"),
    (
        b'{"task_id":7,"task_type":"x","task_data":{},"attempt":0}',
        "InvalidTask",
        None,
        "task_id must be a string, got integer",
    ),
    (
        b'{"task_id":"","task_type":"x","task_data":{},"attempt":0}',
        "InvalidTask",
        None,
        "task_id must not be empty",
    ),
    (
        b'{"task_id":"\\ud800","task_type":"x","task_data":{},"attempt":0}',
        "InvalidJSON",
        None,
        "lone surrogate \\ud800",
    ),
    (b'{"task_id":"t1","task_data":{},"attempt":0}', "InvalidTask", "t1", "task_type is missing"),
    (
        b'{"task_id":"t1","task_type":"","task_data":{},"attempt":0}',
        "InvalidTask",
        "t1",
        "task_type must not be empty",
    ),
    (
        b'{"task_id":"t1","task_type":["x"],"task_data":{},"attempt":0}',
        "InvalidTask",
        "t1",
        "task_type must be a string, got array",
    ),
    (b'{"task_id":"t1","task_type":"x","attempt":0}', "InvalidTask", "t1", "task_data is missing"),
    (
        b'{"task_id":"t1","task_type":"x","task_data":[],"attempt":0}',
        "InvalidTask",
        "t1",
        "task_data must be an object, got array",
    ),
    (
        b'{"task_id":"t1","task_type":"x","task_data":null,"attempt":0}',
        "InvalidTask",
        "t1",
        "task_data must be an object, got null",
    ),
    (b'{"task_id":"t1","task_type":"x","task_data":{}}', "InvalidTask", "t1", "attempt is missing"),
    (
        b'{"task_id":"t1","task_type":"x","task_data":{},"attempt":-1}',
        "InvalidTask",
        "t1",
        "attempt must be >= 0, got -1",
    ),
    (
        b'{"task_id":"t1","task_type":"x","task_data":{},"attempt":true}',
        "InvalidTask",
        "t1",
        "attempt must be an integer, got boolean",
    ),
    (
        b'{"task_id":"t1","task_type":"x","task_data":{},"attempt":1.5}',
        "InvalidTask",
        "t1",
        "attempt must be an integer, got number 1.5",
    ),
    (
        b'{"task_id":"t1","task_type":"x","task_data":{},"attempt":"0"}',
        "InvalidTask",
        "t1",
        "attempt must be an integer, got string",
    ),
]


def test_every_malformed_line_gets_an_error_and_the_loop_goes_on(
    start_handler: Callable[..., CheckedHandlerProcess],
) -> None:
    handler = start_handler("echo_task.py")
    for line, _, _, _ in MALFORMED:
        handler.send_line(line)
    handler.send(task("echo", task_id="still-serving"))
    for line, error_type, task_id, fragment in MALFORMED:
        result, _ = handler.read_result(ANSWER_TIMEOUT)
        shown = line[:60]
        assert result["status"] == "error", shown
        assert result["retryable"] is False, shown
        assert result["error_type"] == error_type, shown
        assert result.get("task_id") == task_id, shown
        assert fragment in result["error"], (shown, result["error"])
    assert handler.read_result(ANSWER_TIMEOUT)[0]["task_id"] == "still-serving"
    _finish(handler)


class TestHandlerBehaviour:
    def test_an_exception_becomes_an_error_with_its_traceback(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        result = handler.answer(task("raise", {"message": "it broke"}, task_id="r"))
        assert result["status"] == "error"
        assert result["error"] == "it broke"
        assert result["error_type"] == "ValueError"
        assert result["retryable"] is False
        assert result["task_id"] == "r"
        assert result["traceback"].startswith("Traceback (most recent call last):")
        assert "in raise_exception" in result["traceback"]
        assert "taskdaemon" not in result["traceback"].split("behaviours.py")[0]
        empty = handler.answer(task("raise_empty"))
        assert empty["error"] == "RuntimeError"
        assert handler.answer(task("echo", {"ok": 1}))["result"] == {"ok": 1}
        _finish(handler)

    @pytest.mark.parametrize("kind", ["object", "nan", "infinity", "surrogate", "tuple_key", "set"])
    def test_an_unserialisable_result_becomes_an_error(
        self, start_handler: Callable[..., CheckedHandlerProcess], kind: str
    ) -> None:
        handler = start_handler("behaviours.py")
        result = handler.answer(task("unserialisable", {"kind": kind}, task_id="u"))
        assert result["status"] == "error"
        assert result["error_type"] == "UnserialisableResult"
        assert result["error"].startswith("result is not JSON-serialisable: ")
        assert result["task_id"] == "u"
        assert result["retryable"] is False
        assert handler.answer(task("echo", {"next": True}))["result"] == {"next": True}
        _finish(handler)

    def test_unserialisable_metadata_becomes_an_error(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        result = handler.answer(task("unserialisable_metadata"))
        assert result["error_type"] == "UnserialisableResult"
        assert result["error"].startswith("metadata is not JSON-serialisable: ")
        _finish(handler)

    def test_printing_a_result_line_never_reaches_stdout(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        result = handler.answer(task("print_result", task_id="p"))
        assert result == {"status": "success", "result": "real", "task_id": "p"}
        _finish(handler)
        assert '{"status": "success", "result": "FAKE", "task_id": "p"}' in handler.stderr_text

    def test_child_processes_and_fd_1_write_to_stderr(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        result = handler.answer(task("child_output", task_id="c"))
        assert result == {"status": "success", "result": "real", "task_id": "c"}
        _finish(handler)
        fake = '{"status": "success", "result": "FAKE", "task_id": "c"}'
        assert handler.stderr_text.count(fake) == 2

    def test_a_child_reading_stdin_cannot_swallow_the_next_task(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        handler.send(task("child_reads_stdin", task_id="cat"))
        handler.send(task("echo", {"survived": True}, task_id="next"))
        first, _ = handler.read_result(ANSWER_TIMEOUT)
        assert first == {"status": "success", "result": {"child_read": ""}, "task_id": "cat"}
        second, _ = handler.read_result(ANSWER_TIMEOUT)
        assert second["task_id"] == "next"
        _finish(handler)

    def test_events_come_before_their_result(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        handler.send(task("events", task_id="e"))
        result, events = handler.read_result(ANSWER_TIMEOUT)
        assert result["result"] == "logged"
        assert events == [
            {"event": "log", "task_id": "e", "level": "debug", "message": "at debug"},
            {"event": "log", "task_id": "e", "level": "info", "message": "at info"},
            {"event": "log", "task_id": "e", "level": "warning", "message": "at warning"},
            {"event": "log", "task_id": "e", "level": "error", "message": "at error"},
            {"event": "progress", "task_id": "e", "progress": 0.5, "message": "half"},
            {"event": "progress", "task_id": "e", "progress": 1},
        ]
        _finish(handler)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, {"status": "success", "result": None}),
            (42, {"status": "error", "error_type": "InvalidReturn", "retryable": False}),
            ({"a": 1}, {"status": "error", "error_type": "InvalidReturn", "retryable": False}),
        ],
    )
    def test_return_values(
        self,
        start_handler: Callable[..., CheckedHandlerProcess],
        value: object,
        expected: dict[str, Any],
    ) -> None:
        handler = start_handler("behaviours.py")
        result = handler.answer(task("return_value", {"value": value}, task_id="v"))
        assert {key: result[key] for key in expected} == expected
        if expected["status"] == "error":
            assert type(value).__name__ in result["error"]
        _finish(handler)

    def test_an_error_result_is_sent_with_all_its_fields(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        result = handler.answer(task("return_error", task_id="x"))
        assert result == {
            "status": "error",
            "error": "upstream unavailable",
            "retryable": True,
            "task_id": "x",
            "error_type": "UpstreamUnavailable",
            "retry_after": 2.5,
            "metadata": {"tries": 3},
        }
        _finish(handler)

    def test_an_unknown_task_type_gets_an_error_naming_the_known_ones(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        result = handler.answer(task("resize", task_id="k"))
        assert result["status"] == "error"
        assert result["error_type"] == "UnknownTaskType"
        assert result["retryable"] is False
        assert result["task_id"] == "k"
        assert "'resize'" in result["error"]
        assert "'echo'" in result["error"]
        assert "'slow'" in result["error"]
        _finish(handler)

    def test_sys_exit_in_a_handler_answers_then_exits_with_its_code(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        handler.send(task("exit", {"code": 3}, task_id="bye"))
        handler.send(task("echo", task_id="never"))
        result, _ = handler.read_result(ANSWER_TIMEOUT)
        assert result["task_id"] == "bye"
        assert result["error_type"] == "SystemExit"
        assert handler.wait(ANSWER_TIMEOUT) == 3
        with pytest.raises(HandlerExited):
            handler.read_result(ANSWER_TIMEOUT)


class TestAsync:
    def test_async_handlers_answer_in_order_on_one_loop(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("async_echo.py")
        # The first task sleeps longest: answers must still come in the order sent.
        for n, sleep in enumerate([0.2, 0.1, 0.0]):
            handler.send(task("echo", {"n": n, "sleep": sleep}, task_id=f"a{n}"))
        loops = set()
        for n in range(3):
            result, events = handler.read_result(ANSWER_TIMEOUT)
            assert result["task_id"] == f"a{n}"
            assert result["result"]["task_data"]["n"] == n
            assert events == [{"event": "log", "task_id": f"a{n}", "level": "info", "message": "awaited"}]
            loops.add(result["result"]["loop"])
        assert len(loops) == 1
        failed = handler.answer(task("echo", {"fail": True}))
        assert failed["error_type"] == "RuntimeError"
        assert "in async_echo" in failed["traceback"]
        _finish(handler)

    def test_async_functions_in_a_mapping_work(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        assert handler.answer(task("async_echo", {"x": 1}))["result"] == {"x": 1}
        _finish(handler)


class TestLifecycle:
    def test_eof_exits_0(self, start_handler: Callable[..., CheckedHandlerProcess]) -> None:
        handler = start_handler("echo_task.py")
        handler.close_stdin()
        assert handler.wait(ANSWER_TIMEOUT) == 0

    def test_sigterm_while_idle_exits_0(self, start_handler: Callable[..., CheckedHandlerProcess]) -> None:
        handler = start_handler("behaviours.py")
        handler.answer(task("echo"))  # run() is serving: its signal handler is in place
        handler.terminate()
        assert handler.wait(ANSWER_TIMEOUT) == 0

    def test_sigterm_during_a_task_answers_it_then_exits_0(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        handler = start_handler("behaviours.py")
        handler.send(task("slow", {"seconds": 1.0}, task_id="slow"))
        handler.send(task("echo", task_id="never-read"))
        _wait_for_stderr(handler, "started slow")
        handler.terminate()
        result, events = handler.read_result(ANSWER_TIMEOUT)
        assert result == {"status": "success", "result": "done", "task_id": "slow"}
        assert [event["progress"] for event in events] == [0.0, 1.0]
        assert handler.wait(ANSWER_TIMEOUT) == 0
        with pytest.raises(HandlerExited):
            handler.read_result(ANSWER_TIMEOUT)

    def test_sigint_during_a_task_behaves_like_sigterm(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        # A background job (CI's shell) may run these tests with SIGINT ignored, and an ignored
        # disposition is inherited across exec, where the SDK rightly leaves it alone: spawn the
        # handler with the default one, as from a terminal.
        ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            handler = start_handler("behaviours.py")
        finally:
            signal.signal(signal.SIGINT, ignored)
        handler.send(task("slow", {"seconds": 0.5}, task_id="slow"))
        _wait_for_stderr(handler, "started slow")
        handler.send_signal(signal.SIGINT)
        result, _ = handler.read_result(ANSWER_TIMEOUT)
        assert result["result"] == "done"
        assert handler.wait(ANSWER_TIMEOUT) == 0

    def test_an_ignored_sigint_stays_ignored(
        self, start_handler: Callable[..., CheckedHandlerProcess]
    ) -> None:
        # A handler started as a background job inherits SIGINT ignored; a Ctrl-C meant for the
        # foreground must not stop it, so the SDK leaves that disposition alone.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            handler = start_handler("behaviours.py")
        finally:
            signal.signal(signal.SIGINT, previous)
        handler.send(task("slow", {"seconds": 0.2}, task_id="slow"))
        _wait_for_stderr(handler, "started slow")
        handler.send_signal(signal.SIGINT)
        result, _ = handler.read_result(ANSWER_TIMEOUT)
        assert result["result"] == "done"
        after = handler.answer(task("echo", {"still": "serving"}, task_id="after"))
        assert after["task_id"] == "after"
        _finish(handler)


def test_a_64_mib_task_round_trips(start_handler: Callable[..., CheckedHandlerProcess]) -> None:
    handler = start_handler("echo_task.py")
    blob = "x" * (64 * 1024 * 1024)
    handler.send(task("big", {"blob": blob}, task_id="big"))
    result, _ = handler.read_result(120)
    assert result["task_id"] == "big"
    assert result["result"]["task_data"]["blob"] == blob
    del result, blob
    assert handler.answer(task("small", task_id="after"))["task_id"] == "after"
    _finish(handler)


def test_a_closed_stdout_stops_the_handler_cleanly() -> None:
    """The reader of the protocol channel went away: run() says so on stderr and returns."""
    process = subprocess.Popen(
        handler_argv("echo_task.py"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        process.stdout.close()
        message = json.dumps(task("echo", task_id="lost")).encode() + b"\n"
        _, stderr = process.communicate(message, timeout=ANSWER_TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert b"stopping: the protocol channel (stdout) was closed by its reader" in stderr
