"""HandlerProcess itself, against broken fake handlers: every wait is bounded and explained."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from taskdaemon.testing import HandlerExited, HandlerProcess, HandlerTimeout, task


def fake(source: str) -> list[str]:
    """A fake handler: a few lines of Python run with this interpreter."""
    return [sys.executable, "-c", textwrap.dedent(source)]


SILENT = fake("import sys, time\nsys.stderr.write('thinking hard')\nsys.stderr.flush()\ntime.sleep(60)")


def test_task_builds_a_task_message() -> None:
    message = task("kind", {"a": 1}, attempt=1)
    assert message["task_type"] == "kind"
    assert message["task_data"] == {"a": 1}
    assert message["attempt"] == 1
    assert len(message["task_id"]) == 36
    assert task("kind")["task_id"] != task("kind")["task_id"]
    assert task("kind", task_id="fixed")["task_id"] == "fixed"


def test_a_silent_handler_times_out_with_its_stderr() -> None:
    with HandlerProcess(SILENT) as handler:
        handler.send(task("x"))
        with pytest.raises(HandlerTimeout) as caught:
            handler.read_result(timeout=0.5)
        assert caught.value.waited_for == "a result on stdout"
        assert caught.value.timeout == 0.5
        assert "thinking hard" in str(caught.value)
        with pytest.raises(HandlerTimeout, match="the handler to exit"):
            handler.wait(timeout=0.2)


def test_a_handler_that_exits_raises_handler_exited_with_status_and_stderr() -> None:
    with HandlerProcess(fake("import sys\nsys.stderr.write('no config')\nsys.exit(4)")) as handler:
        with pytest.raises(HandlerExited) as caught:
            handler.read_message(timeout=10)
        assert caught.value.returncode == 4
        assert "no config" in caught.value.stderr_tail
        assert "exited with status 4" in str(caught.value)
        assert handler.wait(timeout=10) == 4
        assert handler.returncode == 4
        with pytest.raises(HandlerExited):
            handler.send(task("x"))


def test_non_json_lines_are_kept_as_stray_lines() -> None:
    source = """
        print("hello")
        print("[1, 2]")
        print('{"other": true}')
        print('{"event": "log", "task_id": "t", "level": "info", "message": "m"}')
        print('{"status": "success", "result": 1}')
    """
    with HandlerProcess(fake(source)) as handler:
        result, events = handler.read_result(timeout=10)
        assert result == {"status": "success", "result": 1}
        assert events == [{"event": "log", "task_id": "t", "level": "info", "message": "m"}]
        assert handler.stray_lines == ["hello", "[1, 2]", '{"other": true}']


def test_read_message_returns_any_json_object() -> None:
    with HandlerProcess(fake('print("noise")\nprint(\'{"other": 1}\')')) as handler:
        assert handler.read_message(timeout=10) == {"other": 1}
        assert handler.stray_lines == ["noise"]


def test_send_line_writes_raw_bytes_and_adds_the_line_feed() -> None:
    source = "import sys\nsys.stdout.buffer.write(repr(sys.stdin.buffer.read()).encode() + b'\\n')"
    with HandlerProcess(fake(source)) as handler:
        handler.send_line(b"\xff raw")
        handler.send_line("text\n")
        handler.close_stdin()
        assert handler.wait(timeout=10) == 0
        with pytest.raises(HandlerExited):
            handler.read_message(timeout=10)
        assert handler.stray_lines == [repr(b"\xff raw\ntext\n")]
        with pytest.raises(ValueError, match="stdin was closed"):
            handler.send_line("more")


def test_send_bytes_writes_exactly_the_bytes_given() -> None:
    source = "import sys\nsys.stdout.buffer.write(repr(sys.stdin.buffer.read()).encode() + b'\\n')"
    with HandlerProcess(fake(source)) as handler:
        handler.send_bytes(b"one\ntwo")
        handler.send_bytes(b" without a line feed")
        handler.close_stdin()
        assert handler.wait(timeout=10) == 0
        with pytest.raises(HandlerExited):
            handler.read_message(timeout=10)
        assert handler.stray_lines == [repr(b"one\ntwo without a line feed")]


def test_a_handler_that_never_reads_times_out_the_write() -> None:
    with (
        HandlerProcess(SILENT, write_timeout=0.5) as handler,
        pytest.raises(HandlerTimeout, match="the handler to read its stdin"),
    ):
        handler.send_line(b"x" * (16 * 1024 * 1024))


def test_leaving_the_block_kills_and_reaps_the_process() -> None:
    with HandlerProcess(SILENT) as handler:
        pid = handler.pid
    assert handler.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_terminate_and_kill_report_the_signal() -> None:
    with HandlerProcess(SILENT) as handler:
        handler.terminate()
        assert handler.wait(timeout=10) == -15
    with HandlerProcess(SILENT) as handler:
        handler.kill()
        assert handler.wait(timeout=10) == -9


@pytest.mark.parametrize("argv", [[], "python handler.py"])
def test_argv_must_be_a_list_of_arguments(argv: list[str]) -> None:
    with pytest.raises(ValueError, match="argv must be a non-empty sequence of strings"):
        HandlerProcess(argv)
