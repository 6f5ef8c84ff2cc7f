"""Record a transcript from a real run: send input to a handler and write what came back as a case.

The recording is a draft for review: a person checks every expected message before the case joins
conformance/cases/. Tracebacks are recorded as {"match": "any-string"}, since their text is the
handler language's own.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from taskdaemon import exceptions as driver_errors

from taskdaemon_conformance.exceptions import HandlerTimeout
from taskdaemon_conformance.replay import Conversation, Target, perform, start
from taskdaemon_conformance.transcripts import TranscriptError, case_from_raw


def steps_from_lines(data: bytes) -> list[dict[str, Any]]:
    """Input steps for raw input `data`: a `send` per line (`send_base64` when not UTF-8), then EOF."""
    steps: list[dict[str, Any]] = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        try:
            steps.append({"send": line.decode("utf-8")})
        except UnicodeDecodeError:
            steps.append({"send_base64": base64.b64encode(line + b"\n").decode("ascii")})
    steps.append({"close_stdin": True})
    return steps


def input_from_case_file(path: Path, case_id: str | None) -> tuple[list[dict[str, Any]], str, str]:
    """The input steps, id and description of a case in a transcript file (the first when no id)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TranscriptError(f"{path}: cannot read a JSON document: {exc}") from None
    for raw in document.get("cases", []):
        if case_id is None or raw.get("id") == case_id:
            return raw["input"], raw["id"], raw["description"]
    raise TranscriptError(f"{path}: no case {case_id!r}")


def _reviewable(message: dict[str, Any]) -> dict[str, Any]:
    if isinstance(message.get("traceback"), str):
        return {**message, "traceback": {"match": "any-string"}}
    return message


def record(
    target: Target,
    input_steps: list[dict[str, Any]],
    *,
    case_id: str,
    description: str,
    time_limit_ms: int,
) -> dict[str, Any]:
    """Run `target` on `input_steps` (transcript steps) and return a transcript file's document."""
    draft: dict[str, Any] = {
        "id": case_id,
        "description": description,
        "input": input_steps,
        "output": [],
        "exit_code": 0,
        "time_limit_ms": time_limit_ms,
    }
    case = case_from_raw(draft, Path("(recording)"))
    with start(target, time_limit_ms / 1000) as process:
        deadline = time.monotonic() + time_limit_ms / 1000
        conversation = Conversation(process, case, deadline, compare=False)
        perform(conversation)
        while conversation.read_one("further output, or the end of stdout"):
            pass
        try:
            code = process.wait(conversation.remaining())
        except driver_errors.HandlerTimeout:
            raise HandlerTimeout("the handler closed its stdout but did not exit") from None
    draft["output"] = [_reviewable(message) for message in conversation.received]
    draft["exit_code"] = code if code >= 0 else 128 - code
    return {"description": f"cases recorded from {' '.join(target.argv)}", "cases": [draft]}
