"""The FastAPI application: routes, error bodies, lifespan (scheduler start and shutdown)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from taskdaemond import __version__, defaults, jsonfast
from taskdaemond.api.middleware import BearerToken, BodyLimit
from taskdaemond.api.models import BatchRequest, SubmitRequest
from taskdaemond.errors import InvalidTaskState, TaskNotFound, UnknownTaskType
from taskdaemond.queue.base import QueueUnavailable
from taskdaemond.queue.models import NewTask
from taskdaemond.scheduler import Scheduler
from taskdaemond.statuses import TaskStatus

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


class BadRequest(Exception):
    """Raised when a request body is not what the endpoint takes; becomes a 400."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


ModelT = TypeVar("ModelT", bound=BaseModel)


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    """The body as ``model``, whatever Content-Type the client sent (TaskDaemon's clients
    do not all send application/json); BadRequest says what is wrong."""
    raw = await request.body()
    try:
        # Parsed and validated in one pass by pydantic-core (a batch of many tasks is the
        # submit path's cost); a JSON syntax error is reported with the stdlib's words.
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            try:
                jsonfast.loads(raw)
            except ValueError as syntax:
                raise BadRequest(f"malformed JSON: {syntax}") from None
        raise BadRequest(describe_errors(exc.errors()), jsonable(exc.errors())) from None


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI requestBody for an endpoint that parses ``model`` itself."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:  # the document has no $defs: put each definition in place
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


def _describe_validation(exc: RequestValidationError) -> tuple[int, str]:
    for item in exc.errors():
        if item.get("type") == "json_invalid":
            return 400, f"malformed JSON: {item.get('ctx', {}).get('error', item.get('msg'))}"
    return 400, describe_errors(exc.errors())


def describe_errors(errors: Sequence[Any]) -> str:
    """One sentence for pydantic's list of errors: what is wrong, where."""
    problems = []
    for item in errors:
        kind = item.get("type", "")
        loc = [str(part) for part in item.get("loc", ()) if part != "body"]
        field = ".".join(loc)
        if kind == "missing" and loc and loc[-1] == "type":
            problems.append("type is required (the task type)")
        elif kind in ("model_attributes_type", "model_type", "dict_type") and not field:
            problems.append("the body must be a JSON object")
        elif kind == "dict_type" and loc and loc[-1] == "data":
            problems.append(f"{field} must be a JSON object")
        elif kind == "missing":
            problems.append(f"{field} is required")
        else:
            problems.append(f"{field}: {item.get('msg')}" if field else str(item.get("msg")))
    return "; ".join(problems) or "invalid request"


def create_app(scheduler: Scheduler, *, manage_scheduler: bool = True) -> FastAPI:
    """The API over ``scheduler``; the app's lifespan starts and stops it."""
    settings = scheduler.config.daemon
    started_at = time.time()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_scheduler:
            await scheduler.start()
        try:
            yield
        finally:
            if manage_scheduler:
                await scheduler.shutdown()

    app = FastAPI(
        title="taskdaemond",
        version=__version__,
        lifespan=lifespan,
        description="The reference TaskDaemon daemon: TaskDaemon's HTTP API, and more.",
    )

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _describe_validation(exc)
        return error(status, message, detail=jsonable(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(BadRequest)
    async def on_bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        extra = {"detail": exc.detail} if exc.detail is not None else {}
        return error(400, exc.message, **extra)

    @app.exception_handler(UnknownTaskType)
    async def on_unknown_type(_: Request, exc: UnknownTaskType) -> JSONResponse:
        return error(400, str(exc), known_types=exc.known)

    @app.exception_handler(TaskNotFound)
    async def on_not_found(_: Request, exc: TaskNotFound) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(QueueUnavailable)
    async def on_queue_unavailable(_: Request, exc: QueueUnavailable) -> JSONResponse:
        return error(503, str(exc))

    @app.exception_handler(InvalidTaskState)
    async def on_conflict(_: Request, exc: InvalidTaskState) -> JSONResponse:
        return error(409, str(exc))

    def new_task(body: SubmitRequest) -> NewTask:
        return scheduler.make_task(
            body.type,
            body.data,
            priority=body.priority,
            delay=float(body.delay) if body.delay is not None else None,
            idempotency_key=body.idempotency_key,
            max_retries=body.max_retries,
        )

    @app.post("/queue", summary="Submit a task", tags=["tasks"], openapi_extra=_body_schema(SubmitRequest))
    async def submit(request: Request) -> dict[str, str]:
        body = await parse_body(request, SubmitRequest)
        [task_id] = await scheduler.submit([new_task(body)])
        return {"task_id": task_id}

    @app.post(
        "/queue/batch",
        summary="Submit many tasks in one transaction",
        tags=["tasks"],
        openapi_extra=_body_schema(BatchRequest),
    )
    async def submit_batch(request: Request) -> dict[str, list[str]]:
        body = await parse_body(request, BatchRequest)
        tasks = [new_task(item) for item in body.tasks]
        return {"task_ids": await scheduler.submit(tasks)}

    @app.get(
        "/api/tasks/{task_id}",
        summary="A task, optionally once it is finished",
        tags=["tasks"],
        response_model=dict[str, Any],
    )
    async def get_task(
        task_id: str,
        wait: Annotated[float | None, Query(ge=0, le=defaults.MAX_LONG_POLL)] = None,
    ) -> Response:
        record = await (scheduler.wait_final(task_id, wait) if wait else scheduler.get(task_id))
        # Encoded by orjson straight to bytes: FastAPI's own serialisation of the record (data
        # and result, up to 64 MiB each) showed in the profile of a large task's round trip.
        return Response(jsonfast.dumps_bytes(record.to_api()), media_type="application/json")

    @app.get("/api/tasks", summary="Tasks, newest first, filtered and paged", tags=["tasks"])
    async def list_tasks(
        status: TaskStatus | None = None,
        task_type: Annotated[str | None, Query(alias="type")] = None,
        limit: Annotated[int, Query(ge=1, le=defaults.MAX_PAGE_SIZE)] = defaults.DEFAULT_PAGE_SIZE,
        cursor: Annotated[str | None, Query(pattern=r"^[0-9]+$")] = None,
    ) -> dict[str, Any]:
        page = await scheduler.queue.list(status=status, task_type=task_type, limit=limit, cursor=cursor)
        return {"tasks": [record.to_api() for record in page.tasks], "next_cursor": page.next_cursor}

    @app.delete("/api/tasks/{task_id}", status_code=204, summary="Delete a task", tags=["tasks"])
    async def delete_task(task_id: str) -> Response:
        await scheduler.delete(task_id)
        return Response(status_code=204)

    @app.post("/api/tasks/{task_id}/cancel", summary="Cancel a pending or running task", tags=["tasks"])
    async def cancel_task(task_id: str) -> dict[str, Any]:
        return (await scheduler.cancel(task_id)).to_api()

    @app.post("/api/tasks/{task_id}/redrive", summary="Run a failed or interrupted task again", tags=["tasks"])
    async def redrive_task(task_id: str) -> dict[str, Any]:
        try:
            return (await scheduler.redrive(task_id)).to_api()
        except InvalidTaskState as exc:  # TaskDaemon answers 404 when the task is not failed
            return error(404, str(exc))  # type: ignore[return-value]

    @app.get("/health", summary="Liveness, queue depth and pool state", tags=["daemon"])
    async def health() -> Any:
        pools = scheduler.pool_states()
        about = {
            "version": __version__,
            "daemon_id": scheduler.daemon_id,
            "uptime_seconds": round(time.time() - started_at, 3),
            "queue": settings.queue,
        }
        leases = (
            {"leases_expired": scheduler.leases.reclaimed, "lease_seconds": scheduler.queue.lease_seconds}
            if scheduler.leases is not None
            else {}
        )
        try:
            counts = await scheduler.queue.counts()
        except QueueUnavailable as exc:  # the shared database is down: this daemon cannot work
            return JSONResponse({"status": "unhealthy", "error": str(exc), **about, **leases, "pools": pools}, 503)
        degraded = any(p["crash_loop"] or p["idle"] + p["active"] == 0 for p in pools.values())
        return {
            "status": "degraded" if degraded else "healthy",
            **about,
            # With a shared queue: pending tasks of every daemon.
            "queue_depth": counts["pending"],
            "tasks": counts,
            "recovered_at_start": scheduler.recovered,
            **leases,
            "pools": pools,
        }

    @app.get("/metrics", summary="Prometheus metrics", tags=["daemon"])
    async def metrics() -> Response:
        scheduler.metrics.daemon_info.labels(scheduler.daemon_id, settings.queue).set(1)
        with contextlib.suppress(QueueUnavailable):  # the queue gauges keep their last values
            scheduler.metrics.update_queue(await scheduler.queue.counts())
        scheduler.metrics.update_pools(scheduler.pool_states())
        return Response(scheduler.metrics.exposition(), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.get("/api/metrics", summary="Metrics as JSON", tags=["daemon"])
    async def metrics_json() -> dict[str, Any]:
        counts = await scheduler.queue.counts()
        return {
            "queue_size": counts["pending"],
            "tasks": counts,
            "by_type": scheduler.metrics.summary(),
            "pools": {
                t: {k: p[k] for k in ("instances", "idle", "active", "restarting", "crash_loop")}
                for t, p in scheduler.pool_states().items()
            },
        }

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_size)
    if settings.token:
        app.add_middleware(BearerToken, token=settings.token)
    return app


def jsonable(value: Any) -> Any:
    """pydantic error lists may hold exceptions in ``ctx``: keep them printable."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "input"}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
