"""One handler instance over real pipes: results, events, crashes, timeouts, bad output,
huge lines, stopping; and the container runtime's argv and lifecycle (with a fake engine)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from taskdaemond.config import HandlerConfig
from taskdaemond.runtime import (
    Aborted,
    Crashed,
    HandlerFailed,
    HandlerInstance,
    Outcome,
    ProtocolViolation,
    Succeeded,
    TimedOut,
    launch_spec,
)
from taskdaemond.runtime.container import container_argv, container_name
from tests.helpers import HANDLERS, PYTHON, handler_command, pid_alive


def handler(name: str, **settings: Any) -> HandlerConfig:
    return HandlerConfig(task_type="t", command=tuple(handler_command(name)), **settings)


async def run_one(
    config: HandlerConfig, data: dict[str, Any], *, timeout: float = 10.0, attempt: int = 0
) -> tuple[Outcome, list[dict[str, Any]], HandlerInstance]:
    instance = HandlerInstance(launch_spec(config, 0, "test"), "t")
    await instance.start()
    events: list[dict[str, Any]] = []
    try:
        outcome = await instance.run("task-1", json.dumps(data), attempt, timeout, events.append)
    finally:
        await instance.stop()
    return outcome, events, instance


def test_success_result_comes_back_with_the_attempt_number() -> None:
    outcome, _, _ = asyncio.run(run_one(handler("behave"), {"echo": "hi"}, attempt=2))
    assert outcome == Succeeded({"echo": "hi", "attempt": 2})


def test_error_result_keeps_retryable_error_type_and_retry_after() -> None:
    data = {"fail": "db down", "retryable": True, "retry_after": 1.5}
    outcome, _, _ = asyncio.run(run_one(handler("behave"), data))
    assert isinstance(outcome, HandlerFailed)
    assert (outcome.error, outcome.retryable, outcome.error_type, outcome.retry_after) == (
        "db down",
        True,
        "Failing",
        1.5,
    )


def test_uncaught_exception_arrives_with_its_traceback() -> None:
    outcome, _, _ = asyncio.run(run_one(handler("behave"), {"raise": "boom"}))
    assert isinstance(outcome, HandlerFailed)
    assert outcome.error_type == "ValueError" and outcome.traceback and "boom" in outcome.traceback


def test_log_and_progress_events_are_passed_on_before_the_result() -> None:
    outcome, events, _ = asyncio.run(run_one(handler("behave"), {"events": True}))
    assert isinstance(outcome, Succeeded)
    assert [e["event"] for e in events] == ["log", "progress", "progress"]
    assert events[0]["message"] == "starting" and events[1]["progress"] == 0.5


def test_crash_mid_task_names_the_exit_code_and_the_stderr_tail() -> None:
    outcome, _, _ = asyncio.run(run_one(handler("crash"), {}))
    assert isinstance(outcome, Crashed)
    assert outcome.exit_code == 3
    assert "exited with code 3" in outcome.error
    assert "fatal: cannot handle this task" in outcome.error
    assert outcome.stderr_tail == ["fatal: cannot handle this task"]


def test_handler_that_exits_at_start_is_a_crash_of_the_task_given_to_it() -> None:
    outcome, _, _ = asyncio.run(run_one(handler("exit_at_start"), {}))
    assert isinstance(outcome, Crashed)
    assert outcome.exit_code == 1 and "cannot start" in outcome.error


def test_timeout_kills_a_handler_that_ignores_sigterm() -> None:
    outcome, _, instance = asyncio.run(run_one(handler("hang"), {}, timeout=0.5))
    assert isinstance(outcome, TimedOut)
    assert "did not answer within 0.5 s" in outcome.error
    assert instance.pid is not None and not pid_alive(instance.pid)


def test_garbage_and_unknown_events_are_skipped_and_the_real_result_is_used() -> None:
    outcome, events, _ = asyncio.run(run_one(handler("garbage"), {}))
    assert outcome == Succeeded("fine")
    assert events == []  # the unknown kind and the malformed log event were skipped


def test_result_that_breaks_the_schema_is_a_protocol_error() -> None:
    outcome, _, _ = asyncio.run(run_one(handler("garbage"), {"bad": True}))
    assert isinstance(outcome, ProtocolViolation)
    assert "ProtocolError" in outcome.error and "'result' is a required property" in outcome.error
    assert not outcome.restart


def test_result_for_another_task_id_is_a_protocol_error_that_restarts_the_instance() -> None:
    outcome, _, _ = asyncio.run(run_one(handler("wrong_id"), {}))
    assert isinstance(outcome, ProtocolViolation)
    assert outcome.restart and "someone-else" in outcome.error


def test_a_64_mib_result_line_is_read_whole() -> None:
    size = 64 * 1024 * 1024
    outcome, _, _ = asyncio.run(run_one(handler("huge"), {"size": size}, timeout=60))
    assert isinstance(outcome, Succeeded)
    assert isinstance(outcome.result, str) and len(outcome.result) == size


def test_abort_stops_the_handler_and_reports_the_reason() -> None:
    async def scenario() -> tuple[Outcome, HandlerInstance]:
        instance = HandlerInstance(launch_spec(handler("hang"), 0, "test"), "t")
        await instance.start()
        running = asyncio.create_task(instance.run("task-1", "{}", 0, 30, lambda e: None))
        await asyncio.sleep(0.3)
        instance.abort("cancelled")
        outcome = await running
        await instance.stop()
        return outcome, instance

    outcome, instance = asyncio.run(scenario())
    assert outcome == Aborted("cancelled")
    assert instance.pid is not None and not pid_alive(instance.pid)


def test_stop_closes_stdin_and_the_handler_exits_on_its_own() -> None:
    async def scenario() -> HandlerInstance:
        instance = HandlerInstance(launch_spec(handler("behave"), 0, "test"), "t")
        await instance.start()
        await instance.stop()
        return instance

    instance = asyncio.run(scenario())
    assert instance.returncode == 0  # EOF was enough: no signal needed


def test_stop_kills_a_handler_that_ignores_eof_and_sigterm() -> None:
    async def scenario() -> HandlerInstance:
        instance = HandlerInstance(launch_spec(handler("hang"), 0, "test"), "t")
        await instance.start()
        running = asyncio.create_task(instance.run("task-1", "{}", 0, 30, lambda e: None))
        await asyncio.sleep(0.3)
        await instance.stop(eof_grace=0.2, term_grace=0.2)
        await running
        return instance

    instance = asyncio.run(scenario())
    assert instance.returncode == -9


def test_handler_env_is_given_to_the_process() -> None:
    config = HandlerConfig(
        task_type="t", command=(PYTHON, "-c", "import os,sys;sys.exit(int(os.environ['X']))"), env={"X": "7"}
    )

    async def scenario() -> int:
        instance = HandlerInstance(launch_spec(config, 0, "test"), "t")
        await instance.start()
        return await instance.wait()

    assert asyncio.run(scenario()) == 7


# -- container runtime ----------------------------------------------------------------------


def image_handler(**settings: Any) -> HandlerConfig:
    return HandlerConfig(task_type="resize", image="resize:1", engine="podman", **settings)


def test_container_argv_runs_interactive_removed_and_named() -> None:
    argv = container_argv(image_handler(), "taskdaemon-resize-0-abc")
    assert argv[:6] == ["podman", "run", "-i", "--rm", "--name", "taskdaemon-resize-0-abc"]
    assert argv[-1] == "resize:1"


def test_container_argv_passes_memory_network_and_env() -> None:
    argv = container_argv(image_handler(memory_limit="64m", network="none", env={"B": "2", "A": "1"}), "n")
    assert argv[argv.index("--memory") + 1] == "64m"
    assert argv[argv.index("--network") + 1] == "none"
    env = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-e"]
    assert env[:2] == ["A=1", "B=2"]


def test_container_names_are_valid_and_distinct_per_instance() -> None:
    names = {container_name("my type/x", index, "d1") for index in range(3)}
    assert len(names) == 3
    assert all(all(c.isalnum() or c in "_.-" for c in name) for name in names)


def test_container_instance_is_run_fed_stopped_and_removed(tmp_path: Path) -> None:
    """The whole lifecycle through a stand-in engine: run -i --rm, a task, stop, rm -f."""
    log = tmp_path / "engine.log"
    engine = tmp_path / "fake-engine"
    engine.write_text(f'#!/bin/sh\nexec {PYTHON} {HANDLERS / "fake_engine.py"} "$@"\n')
    engine.chmod(0o755)
    os.environ["FAKE_ENGINE_LOG"] = str(log)
    try:
        config = HandlerConfig(
            task_type="t",
            image=str(HANDLERS / "behave.py"),
            engine="podman",
            memory_limit="64m",
            env={"MODE": "x"},
        )

        async def scenario() -> Outcome:
            instance = HandlerInstance(launch_spec(config, 0, "d1", str(engine)), "t")
            await instance.start()
            outcome = await instance.run("task-1", '{"echo": 1}', 0, 30, lambda e: None)
            await instance.stop()
            return outcome

        outcome = asyncio.run(scenario())
    finally:
        del os.environ["FAKE_ENGINE_LOG"]
    assert outcome == Succeeded({"echo": 1, "attempt": 0})
    calls = log.read_text().splitlines()
    assert calls[0].startswith("run -i --rm --name taskdaemon-t-0-d1 --memory 64m -e MODE=x")
    assert calls[-1] == "rm --force --time 0 taskdaemon-t-0-d1"


def test_answer_that_comes_after_the_timeout_still_counts_as_a_timeout() -> None:
    # The SDK finishes the task in hand on SIGTERM and answers it: too late, all the same.
    outcome, _, instance = asyncio.run(run_one(handler("behave"), {"sleep": 1}, timeout=0.3))
    assert isinstance(outcome, TimedOut)
    assert instance.pid is not None and not pid_alive(instance.pid)
