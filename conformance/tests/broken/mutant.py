"""A small handler written from the spec, standard library only, and its deliberate mutations.

    python mutant.py MODE

`correct` (and `omits-retryable-false`, which writes only what the spec requires) follow the
protocol for the task types the mutation cases use; every other mode breaks one rule, in the
one place marked `MODE == ...`. tests/test_mutants.py checks that the suite fails each mutation
on a named case and passes the correct modes.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from typing import Any

MODE = sys.argv[1]
OUT = sys.stdout.buffer
busy = False  # a task is in hand
stop = False  # SIGTERM came while busy: answer, then exit 0
first_id: list[str] = []  # for events-of-another-task


def on_sigterm(_signum: int, _frame: object) -> None:
    global stop  # noqa: PLW0603
    if MODE == "drops-task-at-sigterm" or not busy:
        os._exit(0)
    stop = True


signal.signal(signal.SIGTERM, signal.SIG_IGN if MODE == "ignores-sigterm" else on_sigterm)


def write(message: dict[str, Any]) -> None:
    if MODE == "no-task-id" and "status" in message:
        message.pop("task_id", None)
    if MODE == "omits-retryable-false" and message.get("retryable") is False:
        del message["retryable"]
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=MODE == "writes-lone-surrogate")
    OUT.write(text.encode("utf-8", "surrogatepass") + b"\n")
    OUT.flush()


def error(message: str, error_type: str | None = None, task_id: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"status": "error", "error": message, "retryable": False}
    if task_id is not None:
        result["task_id"] = task_id
    if error_type is not None:
        result["error_type"] = error_type
    return result


def first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(reversed(pairs))


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(line: bytes) -> Any:
    """The line's JSON value; ValueError (UnicodeDecodeError for bad UTF-8) when it has none."""
    hook = first_wins if MODE == "first-name-wins" else None
    decoder = json.JSONDecoder(parse_constant=refuse_constant, object_pairs_hook=hook)
    text = line.decode("utf-8")
    if MODE == "accepts-trailing-garbage":
        return decoder.raw_decode(text.strip())[0]
    return decoder.decode(text)


def attempt_ok(attempt: Any) -> bool:
    if MODE == "lenient-attempt":
        return True
    if MODE == "rejects-attempt-spellings" and type(attempt) is not int:
        return False
    number = isinstance(attempt, (int, float)) and not isinstance(attempt, bool)
    return number and float(attempt).is_integer() and attempt >= 0


def parse(line: bytes) -> dict[str, Any]:
    """The task, or the error result a malformed line gets."""
    if MODE == "dies-on-malformed-json":
        value = decode(line)
    else:
        try:
            value = decode(line)
        except UnicodeDecodeError:
            return error("line is not valid UTF-8", "InvalidEncoding")
        except ValueError as exc:
            return error(f"line is not valid JSON: {exc}", "InvalidJSON")
    if not isinstance(value, dict):
        return error("a task must be a JSON object", "InvalidTask")
    task_id = value.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        return error("task_id must be a non-empty string", "InvalidTask")
    problems = [
        (not isinstance(value.get("task_type"), str) or not value["task_type"], "task_type must be a string"),
        (not isinstance(value.get("task_data"), dict), "task_data must be an object"),
        (not attempt_ok(value.get("attempt")), "attempt must be an integer from 0"),
    ]
    for broken, message in problems:
        if broken:
            return error(message, "InvalidTask", task_id)
    return value


def events(task: dict[str, Any]) -> dict[str, Any]:
    event_id = first_id[0] if MODE == "events-of-another-task" else task["task_id"]
    for item in task["task_data"]["events"]:
        if "log" in item:
            event = {"event": "log", "level": item.get("level", "info"), "message": item["log"]}
        else:
            event = {"event": "progress", "progress": item["progress"]}
        write({**event, "task_id": event_id})
    return {"status": "success", "result": "done"}


def run(task: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911 - a branch per task type
    data, kind = task["task_data"], task["task_type"]
    if kind == "echo":
        return {"status": "success", "result": data}
    if kind == "attempt":
        return {"status": "success", "result": task["attempt"]}
    if kind == "sleep":
        time.sleep(data["ms"] / 1000)
        return {"status": "success", "result": {"slept_ms": data["ms"]}}
    if kind == "fail":
        if MODE == "error-as-success":
            return {"status": "success", "result": data["message"]}
        return error(data["message"])
    if kind == "events":
        return events(task)
    if kind == "noise":
        print(data["line"], file=sys.stdout if MODE == "prints-to-stdout" else sys.stderr, flush=True)
        print(data.get("stderr", "noise on stderr"), file=sys.stderr, flush=True)
        return {"status": "success", "result": "quiet"}
    if kind == "unserialisable":
        bad = {"text": "lone surrogate \ud800"} if data.get("where") == "string" else math.nan
        if MODE in ("writes-nan", "writes-lone-surrogate"):
            return {"status": "success", "result": bad}
        return error("result is not JSON-serialisable: not Unicode, or not finite", "UnserialisableResult")
    return error(f"no handler for task_type {kind!r}", "UnknownTaskType")


def answer(line: bytes) -> dict[str, Any] | None:
    if MODE != "answers-blank-line" and not line.strip(b" \t\r\n"):
        return None
    task = parse(line.removesuffix(b"\n").removesuffix(b"\r"))
    if "status" in task:
        return task
    first_id[:1] = first_id[:1] or [task["task_id"]]
    return {**run(task), "task_id": task["task_id"]}


held: dict[str, Any] | None = None
while True:
    line = sys.stdin.buffer.readline(64 * 1024 if MODE == "64kib-lines" else -1)
    if not line or (MODE == "64kib-lines" and len(line) == 64 * 1024 and not line.endswith(b"\n")):
        break  # end of input (or, for the mutation, a line too long to read)
    if MODE == "drops-last-line-without-lf" and not line.endswith(b"\n"):
        break
    busy = True
    if held is not None:  # holds-result: the previous answer goes out only now
        write(held)
        held = None
    result = answer(line)
    if result is not None:
        if MODE == "holds-result":
            held = result
        else:
            write(result)
    busy = False
    if stop:
        sys.exit(0)
if held is not None:
    write(held)
sys.exit(3 if MODE == "wrong-exit-status" else 0)
