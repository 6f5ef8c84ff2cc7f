"""The OpenAPI document, made to describe the API as it answers: every status code each
operation can give (and no 422: validation errors are 400s), the error body, the task record,
Prometheus text, the bearer scheme when a token is set, the task type as an enum of the
configured types, and links from a submit to what can be done with its task (stateful tests)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from taskdaemond import defaults
from taskdaemond.api.bodies import body_schema
from taskdaemond.api.models import BatchRequest, SubmitRequest, WorkflowRequest
from taskdaemond.queue.models import WORKFLOW_STATUSES
from taskdaemond.statuses import TaskStatus

ERROR = {"$ref": "#/components/schemas/Error"}
TASK = {"$ref": "#/components/schemas/Task"}
HEALTH = {"$ref": "#/components/schemas/Health"}
WORKFLOW = {"$ref": "#/components/schemas/Workflow"}

#: Why each error status is given, as the document says it.
WHY = {
    "400": "Bad input (the message names the field), or a Host header the daemon does not answer.",
    "401": "Missing or wrong bearer token.",
    "403": "An Origin header naming another site.",
    "404": "No such task (or workflow).",
    "408": "The request body stalled.",
    "409": "The task is not in a state this action applies to; the body says its status.",
    "413": f"The body is larger than [daemon] max_body_size (default {defaults.DEFAULT_MAX_BODY_SIZE} B).",
    "415": "The body is not declared Content-Type: application/json.",
    "503": "The queue's database cannot be reached, or too many request bodies are in flight (Retry-After).",
}

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error: a message a person can act on, and fields a program can.",
        "properties": {
            "error": {"type": "string"},
            "detail": {"description": "The validation errors, for a 400 from validation."},
            "known_types": {"type": "array", "items": {"type": "string"}},
            "unknown_task_ids": {"type": "array", "items": {"type": "string"}},
            "task_id": {"type": "string"},
            "status": {"type": "string"},
        },
        "required": ["error"],
    },
    "Task": {
        "type": "object",
        "description": "A task as the daemon keeps it (TaskDaemon's fields first).",
        "properties": {
            "id": {"type": "string"},
            "task_type": {"type": "string"},
            "status": {"enum": [status.value for status in TaskStatus]},
            "result": {"description": "The handler's result (any JSON), once completed."},
            "last_error": {"type": ["string", "null"]},
            "data": {"type": "object"},
            "encrypted": {
                "type": "array",
                "items": {"enum": ["data", "result"]},
                "description": "Fields encrypted at rest that this daemon holds no key for: shown as "
                '{"encrypted": true, "message": ...} in place of their value.',
            },
            "priority": {"type": "integer"},
            "attempts": {"type": "integer", "minimum": 0},
            "max_retries": {"type": "integer", "minimum": 0},
            "crashes": {"type": "integer", "minimum": 0},
            "idempotency_key": {"type": ["string", "null"]},
            "created_at": NULLABLE_TIME,
            "updated_at": NULLABLE_TIME,
            "started_at": NULLABLE_TIME,
            "finished_at": NULLABLE_TIME,
            "duration": {"type": ["number", "null"], "description": "Seconds run, once final."},
            "run_at": NULLABLE_TIME,
            "metadata": {"description": "The result's metadata (any JSON)."},
            "errors": {"type": "array", "items": {"type": "object"}},
            "logs": {"type": "array", "items": {"type": "object"}},
            "progress": {"type": ["object", "null"]},
            "workflow_id": {"type": ["string", "null"]},
            "step": {"type": ["string", "null"]},
            "depends_on": {"type": "array", "items": {"type": "string"}},
            "on_dependency_failure": {"enum": ["fail", "cancel"]},
        },
        "required": ["id", "task_type", "status", "result", "last_error"],
    },
    "Workflow": {
        "type": "object",
        "description": "A workflow; its status is derived from its steps'. Steps only in GET by id.",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "status": {"enum": list(WORKFLOW_STATUSES)},
            "on_failure": {"enum": ["fail", "cancel"]},
            "idempotency_key": {"type": ["string", "null"]},
            "steps_total": {"type": "integer", "minimum": 0},
            "step_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "created_at": NULLABLE_TIME,
            "started_at": NULLABLE_TIME,
            "finished_at": NULLABLE_TIME,
            "duration": {"type": ["number", "null"]},
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string"},
                        "task_id": {"type": "string"},
                        "task_type": {"type": "string"},
                        "status": {"enum": [status.value for status in TaskStatus]},
                        "depends_on": {"type": "array", "items": {"type": "string"}},
                        "attempts": {"type": "integer"},
                        "started_at": NULLABLE_TIME,
                        "finished_at": NULLABLE_TIME,
                        "duration": {"type": ["number", "null"]},
                        "last_error": {"type": ["string", "null"]},
                        "failed_by": {"type": ["string", "null"]},
                    },
                    "required": ["step", "task_id", "task_type", "status", "depends_on"],
                },
            },
        },
        "required": ["id", "status", "steps_total", "created_at"],
    },
    "Health": {
        "type": "object",
        "description": "Liveness. Without the token (when one is set) only status and version.",
        "properties": {
            "status": {"enum": ["healthy", "degraded", "unhealthy"]},
            "version": {"type": "string"},
        },
        "required": ["status", "version"],
    },
}

JSON_OBJECT = {"type": "object"}

TASK_LOGS = {
    "type": "object",
    "properties": {"task_id": {"type": "string"}, "logs": {"type": "array", "items": {"type": "object"}}},
    "required": ["task_id", "logs"],
}

#: One entry of GET /api/schedules.
SCHEDULE = {
    "type": "object",
    "description": "A periodic task ([schedules.<name>] in handlers.toml) and its progress, shared by every "
    "daemon on the queue.",
    "properties": {
        "name": {"type": "string"},
        "task_type": {"type": "string"},
        "cron": {"type": ["string", "null"], "description": "The cron expression, or null for an interval."},
        "every": {"type": ["number", "null"], "description": "The interval in seconds, or null for cron."},
        "timezone": {"type": "string"},
        "catch_up": {"type": "boolean"},
        "enabled": {"type": "boolean"},
        "next_due": {**NULLABLE_TIME, "description": "Null when disabled; in the past while overdue."},
        "last_due": {**NULLABLE_TIME, "description": "The due time of the last run enqueued."},
        "last_task_id": {"type": ["string", "null"]},
        "last_task_status": {
            "enum": [*(status.value for status in TaskStatus), None],
            "description": "Null before the first run, or once retention pruned that task.",
        },
        "runs": {"type": "integer", "minimum": 0},
        "updated_at": NULLABLE_TIME,
    },
    "required": [
        "name",
        "task_type",
        "cron",
        "every",
        "timezone",
        "catch_up",
        "enabled",
        "next_due",
        "last_due",
        "last_task_id",
        "last_task_status",
        "runs",
    ],
}

#: (method, path) -> operationId, 200 (or 204) answer, and the errors beyond 400/401/403.
OPERATIONS: dict[tuple[str, str], tuple[str, dict[str, Any] | None, Sequence[str]]] = {
    ("post", "/queue"): (
        "submit",
        {
            "type": "object",
            "description": "The task's id; with ?wait, its final record too (as GET /api/tasks/{task_id}).",
            "properties": {"task_id": {"type": "string"}},
            "required": ["task_id"],
        },
        ("408", "413", "415", "503"),
    ),
    ("post", "/queue/batch"): (
        "submit_batch",
        {
            "type": "object",
            "properties": {"task_ids": {"type": "array", "items": {"type": "string"}}},
            "required": ["task_ids"],
        },
        ("408", "413", "415", "503"),
    ),
    ("get", "/api/tasks/{task_id}"): ("get_task", TASK, ("404", "503")),
    ("get", "/api/tasks"): (
        "list_tasks",
        {
            "type": "object",
            "properties": {
                "tasks": {"type": "array", "items": TASK},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": ["tasks", "next_cursor"],
        },
        ("503",),
    ),
    ("delete", "/api/tasks/{task_id}"): ("delete_task", None, ("404", "503")),
    ("post", "/api/tasks/{task_id}/cancel"): ("cancel_task", TASK, ("404", "409", "503")),
    ("post", "/api/tasks/{task_id}/redrive"): ("redrive_task", TASK, ("404", "503")),
    ("post", "/tasks/{task_id}/retry"): ("retry_task", TASK, ("404", "503")),
    ("get", "/api/tasks/{task_id}/logs"): ("task_logs", TASK_LOGS, ("404", "503")),
    ("post", "/workflows"): (
        "submit_workflow",
        {
            "allOf": [
                WORKFLOW,
                {
                    "type": "object",
                    "properties": {
                        "workflow_id": {"type": "string"},
                        "task_ids": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "required": ["workflow_id", "task_ids"],
                },
            ]
        },
        ("408", "413", "415", "503"),
    ),
    ("get", "/api/workflows/{workflow_id}"): ("get_workflow", WORKFLOW, ("404", "503")),
    ("get", "/api/workflows"): (
        "list_workflows",
        {
            "type": "object",
            "properties": {
                "workflows": {"type": "array", "items": WORKFLOW},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": ["workflows", "next_cursor"],
        },
        ("503",),
    ),
    ("post", "/api/workflows/{workflow_id}/redrive"): ("redrive_workflow", WORKFLOW, ("404", "503")),
    ("get", "/health"): ("health", HEALTH, ()),
    ("head", "/health"): ("health_head", None, ()),
    ("get", "/metrics"): ("metrics", None, ()),
    ("get", "/api/metrics"): ("metrics_json", JSON_OBJECT, ("503",)),
    ("get", "/api/schedules"): (
        "list_schedules",
        {
            "type": "object",
            "properties": {"schedules": {"type": "array", "items": SCHEDULE}},
            "required": ["schedules"],
        },
        ("503",),
    ),
}

#: A submit with ?wait whose task was not final in time (202).
SUBMIT_PENDING = {
    "type": "object",
    "properties": {
        "task_id": {"type": "string"},
        "status": {"enum": [status.value for status in TaskStatus]},
    },
    "required": ["task_id", "status"],
}

#: What a client can do next with the task a submit returns.
SUBMIT_LINKS = {
    "GetTask": "get_task",
    "CancelTask": "cancel_task",
    "RedriveTask": "redrive_task",
    "DeleteTask": "delete_task",
}


def submit_body(
    model: type[SubmitRequest] | type[BatchRequest] | type[WorkflowRequest], task_types: Sequence[str]
) -> dict[str, Any]:
    """The request body of a submit, the task type an enum of the configured types."""
    extra = copy.deepcopy(body_schema(model))
    schema = extra["requestBody"]["content"]["application/json"]["schema"]
    if model is BatchRequest:
        task = schema["properties"]["tasks"]["items"]
    elif model is WorkflowRequest:
        task = schema["properties"]["steps"]["items"]
    else:
        task = schema
    task["properties"]["type"]["enum"] = list(task_types)
    return dict(extra["requestBody"])


def errors(codes: Sequence[str]) -> dict[str, Any]:
    return {
        code: {"description": WHY[code], "content": {"application/json": {"schema": ERROR}}} for code in codes
    }


def build(app: FastAPI, task_types: Sequence[str], token: bool) -> dict[str, Any]:
    """The document for ``app``: FastAPI's, then made to say what the daemon really answers."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        openapi_version="3.1.0",
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(copy.deepcopy(SCHEMAS))
    if token:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            _describe(operation, method, path, task_types, token=token)
    return document


def _describe(
    operation: dict[str, Any], method: str, path: str, task_types: Sequence[str], *, token: bool
) -> None:
    """Put the statuses one operation really answers, and its bodies, in its description."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    common = ["400", "403"] + (["401"] if token and path != "/health" else [])
    known = OPERATIONS.get((method, path))
    if known is None:  # another router's operation: the guards' answers at least
        responses.update(errors(common))
        return
    operation_id, answer, more = known
    operation["operationId"] = operation_id
    for code in ("200", "204"):
        responses.pop(code, None)
    ok, success = _success(method, path, answer)
    responses[ok] = success
    responses.update(errors([*common, *more]))
    if path == "/health":
        if token:
            operation["security"] = [{}, {"bearer": []}]  # the token only adds detail
        if method == "get":
            responses["503"] = {
                "description": "Unhealthy: the queue's database cannot be reached.",
                "content": {"application/json": {"schema": HEALTH}},
            }
    if operation_id == "submit":
        operation["requestBody"] = submit_body(SubmitRequest, task_types)
        success["links"] = {
            name: {"operationId": target, "parameters": {"task_id": "$response.body#/task_id"}}
            for name, target in SUBMIT_LINKS.items()
        }
        responses["202"] = {
            "description": "With ?wait: the task was not final within that many seconds.",
            "content": {"application/json": {"schema": SUBMIT_PENDING}},
            "links": copy.deepcopy(success["links"]),
        }
    elif operation_id == "submit_batch":
        operation["requestBody"] = submit_body(BatchRequest, task_types)
    elif operation_id == "submit_workflow":
        operation["requestBody"] = submit_body(WorkflowRequest, task_types)
        success["links"] = {
            name: {"operationId": target, "parameters": {"workflow_id": "$response.body#/workflow_id"}}
            for name, target in (("GetWorkflow", "get_workflow"), ("RedriveWorkflow", "redrive_workflow"))
        }


def _success(method: str, path: str, answer: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The success status of an operation and its response object."""
    ok = "204" if method == "delete" else "200"
    if method == "head":
        return ok, {"description": "Alive (no body)."}
    if path == "/metrics":
        return ok, {
            "description": "Prometheus text format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    if answer is None:
        return ok, {"description": "Done (no body)."}
    if path == "/api/tasks/{task_id}/logs":
        return ok, {
            "description": "The log and progress events (JSON), or with format=text a line per log.",
            "content": {
                "application/json": {"schema": answer},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    return ok, {"description": "OK", "content": {"application/json": {"schema": answer}}}


def install_openapi(app: FastAPI, task_types: Sequence[str], *, token: bool) -> None:
    """Serve ``build``'s document at /openapi.json (built once, at the first request)."""
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            built.update(build(app, task_types, token))
        return built

    app.openapi = openapi  # type: ignore[method-assign]
