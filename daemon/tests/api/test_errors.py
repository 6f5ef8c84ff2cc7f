"""The API's one error table: each exception's status code and body."""

from __future__ import annotations

import json

import pytest
from starlette.exceptions import HTTPException

from taskdaemond.api.bodies import BadRequest
from taskdaemond.api.errors import ANSWERS, error_response
from taskdaemond.errors import InvalidTaskState, NotCancelled, NotRedrivable, TaskNotFound, UnknownTaskType
from taskdaemond.queue.base import QueueUnavailable
from taskdaemond.statuses import TaskStatus


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (BadRequest("malformed JSON: x"), 400, {"error": "malformed JSON: x"}),
        (BadRequest("bad", detail=[1]), 400, {"error": "bad", "detail": [1]}),
        (
            UnknownTaskType("nope", ["a", "b"]),
            400,
            {"error": "unknown task type 'nope'; known types: a, b", "known_types": ["a", "b"]},
        ),
        (TaskNotFound("t1"), 404, {"error": "task t1 not found"}),
        (
            NotRedrivable("t1", TaskStatus.COMPLETED),
            404,
            {"error": "task t1 is completed; only failed or interrupted tasks can be redriven"},
        ),
        (InvalidTaskState("task t1 is already failed"), 409, {"error": "task t1 is already failed"}),
        (
            NotCancelled("t1", "completed"),
            409,
            {"error": "task t1 was not cancelled: it is completed", "task_id": "t1", "status": "completed"},
        ),
        (QueueUnavailable("db down"), 503, {"error": "db down"}),
        (HTTPException(405, "Method Not Allowed"), 405, {"error": "Method Not Allowed"}),
    ],
)
def test_each_exception_gets_its_status_and_an_error_body(
    exc: Exception, status: int, body: dict[str, object]
) -> None:
    response = error_response(exc)
    assert response.status_code == status
    assert json.loads(bytes(response.body)) == body


def test_a_subclass_without_a_row_is_answered_as_its_base() -> None:
    class Finishing(InvalidTaskState):
        pass

    assert Finishing not in ANSWERS
    assert error_response(Finishing("task t1 is finishing")).status_code == 409
