"""Shared test support: the protocol's schemas, and handler processes whose every line is checked.

A module with a name of its own (not conftest) so that it imports unambiguously when several
suites of the repository run in one pytest session.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from taskdaemon.testing import HandlerProcess

TESTS = Path(__file__).resolve().parent
HANDLERS = TESTS / "handlers"
REPO = TESTS.parents[2]
PROTOCOL = REPO / "protocol"
SCHEMAS = PROTOCOL / "schema"
VECTORS = PROTOCOL / "vectors"

#: Seconds any single answer may take in these tests (generous: CI machines are slow).
ANSWER_TIMEOUT = 20.0


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


RESULT_SCHEMA = _validator("result.schema.json")
EVENT_SCHEMA = _validator("event.schema.json")
TASK_SCHEMA = _validator("task.schema.json")


def check_result(message: dict[str, Any]) -> dict[str, Any]:
    """Fail unless `message` satisfies result.schema.json; return it."""
    RESULT_SCHEMA.validate(message)
    return message


def check_event(message: dict[str, Any]) -> dict[str, Any]:
    """Fail unless `message` satisfies event.schema.json; return it."""
    EVENT_SCHEMA.validate(message)
    return message


class CheckedHandlerProcess(HandlerProcess):
    """A HandlerProcess that validates every result and event it reads against the schemas."""

    def read_message(self, timeout: float) -> dict[str, Any]:
        message = super().read_message(timeout)
        if "status" in message:
            check_result(message)
        elif "event" in message:
            check_event(message)
        return message

    def read_result(self, timeout: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        result, events = super().read_result(timeout)
        for event in events:
            check_event(event)
        return check_result(result), events

    def answer(self, task_message: dict[str, Any]) -> dict[str, Any]:
        """Send one task and return its (checked) result."""
        self.send(task_message)
        return self.read_result(ANSWER_TIMEOUT)[0]


def handler_argv(script: str) -> list[str]:
    """The command that runs tests/handlers/<script> with this interpreter."""
    return [sys.executable, str(HANDLERS / script)]
