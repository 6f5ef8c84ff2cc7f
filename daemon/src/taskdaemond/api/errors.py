"""Every error the API answers with, in one table: exception -> status code and body.

Bodies are ``{"error": "<message>"}`` (TaskDaemon's shape), with extra fields where an
exception carries something a client can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from taskdaemond.api.bodies import BadRequest, describe_validation, jsonable
from taskdaemond.dependencies import InvalidWorkflow, UnknownDependencies
from taskdaemond.errors import (
    InvalidTaskState,
    NotCancelled,
    NotRedrivable,
    TaskNotFound,
    UnknownTaskType,
    WorkflowNotFound,
)
from taskdaemond.queue.base import QueueUnavailable


def _nothing(_: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """How one kind of exception is answered."""

    #: The status code; None: the exception's own ``status_code``.
    status: int | None
    message: Callable[[Any], str] = str
    fields: Callable[[Any], dict[str, Any]] = _nothing


#: The answer to each exception the API raises or lets through. A subclass is answered by its
#: own row when it has one, else by its nearest base's (NotRedrivable before InvalidTaskState).
ANSWERS: dict[type[Exception], ErrorAnswer] = {
    BadRequest: ErrorAnswer(400, fields=lambda e: {} if e.detail is None else {"detail": e.detail}),
    RequestValidationError: ErrorAnswer(
        400,
        message=lambda e: describe_validation(e.errors()),
        fields=lambda e: {"detail": jsonable(e.errors())},
    ),
    UnknownTaskType: ErrorAnswer(400, fields=lambda e: {"known_types": e.known}),
    UnknownDependencies: ErrorAnswer(400, fields=lambda e: {"unknown_task_ids": e.task_ids}),
    InvalidWorkflow: ErrorAnswer(400),
    TaskNotFound: ErrorAnswer(404),
    WorkflowNotFound: ErrorAnswer(404),
    NotRedrivable: ErrorAnswer(404),  # TaskDaemon answers 404 when a task to redrive is not failed
    NotCancelled: ErrorAnswer(409, fields=lambda e: {"task_id": e.task_id, "status": e.status}),
    InvalidTaskState: ErrorAnswer(409),
    QueueUnavailable: ErrorAnswer(503),
    HTTPException: ErrorAnswer(None, message=lambda e: str(e.detail)),
}


def error_response(exc: Exception) -> JSONResponse:
    """The answer for ``exc`` from ANSWERS: its status and the ``{"error"}`` body."""
    answer = next(ANSWERS[kind] for kind in type(exc).__mro__ if kind in ANSWERS)
    status = answer.status if answer.status is not None else exc.status_code  # type: ignore[attr-defined]
    headers = exc.headers if isinstance(exc, HTTPException) else None
    body = {"error": answer.message(exc), **answer.fields(exc)}
    return JSONResponse(body, status_code=status, headers=headers)


async def _answer(_: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every exception of ANSWERS through error_response."""
    for kind in ANSWERS:
        app.add_exception_handler(kind, _answer)
