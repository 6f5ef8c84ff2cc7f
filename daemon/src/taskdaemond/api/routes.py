"""The routes of the HTTP API: TaskDaemon's endpoints, then ours. Each reads the
``TaskService`` from the app's state and does nothing else; errors are raised and answered by
the table in ``api/errors.py``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from taskdaemond import defaults, jsonfast
from taskdaemond.api.bodies import BadRequest, body_schema, parse_body
from taskdaemond.api.models import BatchRequest, SubmitRequest, WorkflowRequest
from taskdaemond.queue.models import NewTask, TaskFilters
from taskdaemond.service import TaskService
from taskdaemond.statuses import StatusFilter
from taskdaemond.tags import TAG_FILTER_PATTERN, parse_tag_filter
from taskdaemond.tasklogs import log_lines

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def task_service(request: Request) -> TaskService:
    """The daemon's service. A coroutine: FastAPI runs a plain function dependency on a worker
    thread, a trip there and back on every request (about a tenth of a one-task round trip)."""
    service: TaskService = request.app.state.service
    return service


Service = Annotated[TaskService, Depends(task_service)]

router = APIRouter()


def _json(value: Any) -> Response:
    """Encoded by orjson straight to bytes: FastAPI's own serialisation of a record (data and
    result, up to 64 MiB each) showed in the profile of a large task's round trip."""
    return Response(jsonfast.dumps_bytes(value), media_type="application/json")


def _new_task(service: TaskService, body: SubmitRequest) -> NewTask:
    return service.make_task(
        body.type,
        body.data,
        priority=body.priority,
        delay=float(body.delay) if body.delay is not None else None,
        idempotency_key=body.idempotency_key,
        max_retries=body.max_retries,
        tags=body.tags,
        depends_on=body.depends_on,
        on_dependency_failure=body.on_dependency_failure,
    )


@router.post(
    "/queue",
    summary="Submit a task; with ?wait, answer with it once it is final",
    tags=["tasks"],
    openapi_extra=body_schema(SubmitRequest),
)
async def submit(
    request: Request,
    service: Service,
    wait: Annotated[
        float | None,
        Query(
            gt=0,
            le=defaults.MAX_LONG_POLL,
            allow_inf_nan=False,
            description="Seconds to wait for the task to be final: 200 with its record, else 202.",
        ),
    ] = None,
) -> Response:
    """Submit and, with ``wait``, wait in the same request: one round trip to the result."""
    body = await parse_body(request, SubmitRequest)
    if wait is None:
        [task_id] = await service.submit([_new_task(service, body)])
        return _json({"task_id": task_id})
    task_id, record = await service.submit_and_wait(_new_task(service, body), wait)
    if record.status.is_final:  # task_id too: clients of the plain submit read that name
        return Response(record.to_api_json(task_id=task_id), media_type="application/json")
    answer = jsonfast.dumps_bytes({"task_id": task_id, "status": record.status.value})
    return Response(answer, status_code=202, media_type="application/json")


@router.post(
    "/queue/batch",
    summary="Submit many tasks in one transaction",
    tags=["tasks"],
    openapi_extra=body_schema(BatchRequest),
)
async def submit_batch(request: Request, service: Service) -> Response:
    body = await parse_body(request, BatchRequest)
    # Encoded by orjson: FastAPI would validate and encode the returned ids one by one.
    return _json({"task_ids": await service.submit([_new_task(service, item) for item in body.tasks])})


@router.post(
    "/workflows",
    summary="Submit a workflow: named steps and their dependencies, in one transaction",
    tags=["workflows"],
    openapi_extra=body_schema(WorkflowRequest),
)
async def submit_workflow(request: Request, service: Service) -> Response:
    body = await parse_body(request, WorkflowRequest)
    steps = [
        (
            step.name,
            service.make_task(
                step.type,
                step.data,
                priority=step.priority,
                delay=float(step.delay) if step.delay is not None else None,
                max_retries=step.max_retries,
                tags=step.tags,
            ),
            step.depends_on,
        )
        for step in body.steps
    ]
    record = await service.submit_workflow(
        steps, name=body.name, on_failure=body.on_failure, idempotency_key=body.idempotency_key
    )
    answer = record.to_api()
    return _json(
        {"workflow_id": record.id, "task_ids": {s["step"]: s["task_id"] for s in answer["steps"]}, **answer}
    )


@router.get("/api/workflows/{workflow_id}", summary="A workflow with its steps", tags=["workflows"])
async def get_workflow(workflow_id: str, service: Service) -> Response:
    return _json((await service.get_workflow(workflow_id)).to_api())


@router.get("/api/workflows", summary="Workflows, newest first, paged", tags=["workflows"])
async def list_workflows(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=defaults.MAX_PAGE_SIZE)] = defaults.DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None,
) -> dict[str, Any]:
    if cursor is not None and int(cursor) > defaults.MAX_CURSOR:
        raise BadRequest(f"cursor: must be an integer from 0 to {defaults.MAX_CURSOR}")
    page = await service.list_workflows(limit=limit, cursor=cursor)
    return {"workflows": [w.to_api() for w in page.workflows], "next_cursor": page.next_cursor}


@router.post(
    "/api/workflows/{workflow_id}/redrive",
    summary="Redrive a workflow's failed steps; the steps they failed wait again",
    tags=["workflows"],
)
async def redrive_workflow(workflow_id: str, service: Service) -> Response:
    return _json((await service.redrive_workflow(workflow_id)).to_api())


@router.get(
    "/api/tasks/{task_id}",
    summary="A task, optionally once it is finished",
    tags=["tasks"],
    response_model=dict[str, Any],
)
async def get_task(
    task_id: str,
    service: Service,
    wait: Annotated[float | None, Query(ge=0, le=defaults.MAX_LONG_POLL, allow_inf_nan=False)] = None,
) -> Response:
    record = await (service.wait_final(task_id, wait) if wait else service.get(task_id))
    return Response(record.to_api_json(), media_type="application/json")


@router.get("/api/tasks", summary="Tasks, newest first, filtered and paged", tags=["tasks"])
async def list_tasks(
    service: Service,
    status: StatusFilter | None = None,
    task_type: Annotated[str | None, Query(alias="type")] = None,
    limit: Annotated[int, Query(ge=1, le=defaults.MAX_PAGE_SIZE)] = defaults.DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None,
    *,
    tag: Annotated[str | None, Query(pattern=TAG_FILTER_PATTERN, description="key:value")] = None,
) -> dict[str, Any]:
    if cursor is not None and int(cursor) > defaults.MAX_CURSOR:
        raise BadRequest(f"cursor: must be an integer from 0 to {defaults.MAX_CURSOR}")
    filters = TaskFilters(tag=parse_tag_filter(tag)) if tag else None
    page = await service.list(
        status=status.status if status else None,
        task_type=task_type,
        limit=limit,
        cursor=cursor,
        filters=filters,
    )
    return {"tasks": [record.to_api() for record in page.tasks], "next_cursor": page.next_cursor}


@router.delete("/api/tasks/{task_id}", status_code=204, summary="Delete a task", tags=["tasks"])
async def delete_task(task_id: str, service: Service) -> Response:
    await service.delete(task_id)
    return Response(status_code=204)


@router.post("/api/tasks/{task_id}/cancel", summary="Cancel a pending or running task", tags=["tasks"])
async def cancel_task(task_id: str, service: Service) -> dict[str, Any]:
    return (await service.cancel(task_id)).to_api()


@router.post("/api/tasks/{task_id}/redrive", summary="Run a failed or interrupted task again", tags=["tasks"])
async def redrive_task(task_id: str, service: Service) -> dict[str, Any]:
    return (await service.redrive(task_id)).to_api()


@router.post("/tasks/{task_id}/retry", summary="Redrive, by another task manager's name", tags=["tasks"])
async def retry_task(task_id: str, service: Service) -> dict[str, Any]:
    return (await service.redrive(task_id)).to_api()


@router.get("/api/tasks/{task_id}/logs", summary="A task's logs, as JSON or as text lines", tags=["tasks"])
async def task_logs(
    task_id: str,
    service: Service,
    format: Annotated[Literal["json", "text"], Query(description="text: a line per log")] = "json",
) -> Response:
    record = await service.get(task_id)
    if format == "text":
        text = "".join(f"{line}\n" for line in log_lines(record.logs))
        return Response(text, media_type="text/plain; charset=utf-8")
    return _json({"task_id": record.id, "logs": record.logs})


@router.api_route(
    "/health", methods=["GET", "HEAD"], summary="Liveness; with the token, queue and pools", tags=["daemon"]
)
async def health(request: Request, service: Service) -> JSONResponse:
    answer = await service.health()
    if not getattr(request.state, "authenticated", True):  # a token is set and was not given
        return JSONResponse({key: answer.body[key] for key in ("status", "version")}, answer.status_code)
    return JSONResponse(answer.body, answer.status_code)


@router.get("/metrics", summary="Prometheus metrics", tags=["daemon"])
async def metrics(service: Service) -> Response:
    return Response(await service.metrics_exposition(), media_type=PROMETHEUS_CONTENT_TYPE)


@router.get("/api/metrics", summary="Metrics as JSON", tags=["daemon"])
async def metrics_json(service: Service) -> dict[str, Any]:
    return await service.metrics_summary()


@router.get(
    "/api/schedules", summary="Periodic tasks: when each is next due, its last run", tags=["schedules"]
)
async def list_schedules(service: Service) -> Response:
    return _json({"schedules": await service.schedules()})
