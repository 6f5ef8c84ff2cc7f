"""The dashboard's routes: public page shells and static assets, and the fragments (behind the
token) that render the task service's answers. Nothing here reads the queue itself."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from taskdaemond import __version__, defaults
from taskdaemond.api.routes import Service
from taskdaemond.errors import InvalidTaskState, TaskNotFound, WorkflowNotFound
from taskdaemond.queue.models import TaskFilters, TaskRecord, iso
from taskdaemond.statuses import FINAL_STATUSES, REDRIVABLE_STATUSES, TaskStatus
from taskdaemond.tags import parse_tag_filter

if TYPE_CHECKING:
    import jinja2

HERE = Path(__file__).parent
STATIC = HERE / "static"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _when(value: float | str | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if value is None:
        return "-"
    text = iso(value) if isinstance(value, int | float) else value
    return (text or "-").replace("T", " ").split(".")[0].rstrip("Z")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{round(value * 100)}%"


@cache
def templates() -> jinja2.Environment:
    """The pages' templates, loaded on the first page asked for: an API-only daemon never holds
    jinja2 (about 2 MiB)."""
    import jinja2  # noqa: PLC0415

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pretty"] = _pretty
    environment.filters["when"] = _when
    environment.filters["percent"] = _percent
    environment.globals["version"] = __version__
    return environment


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates().get_template(name).render(**context), status_code=status_code)


# -- public: page shells and assets --------------------------------------------------------

#: The pages: path, template of the shell's title, and which nav entry is current.
SHELLS = {
    "overview": "Overview",
    "tasks": "Tasks",
    "task": "Task",
    "schedules": "Schedules",
    "workflows": "Workflows",
    "workflow": "Workflow",
}
SHELL_PATH = re.compile(r"^/ui(/|/tasks|/tasks/[^/]+|/schedules|/workflows|/workflows/[^/]+)?$")


def shell_app(token_required: bool) -> Starlette:
    """The public part: each page's frame (no data) and the static assets."""

    async def overview(request: Request) -> HTMLResponse:
        return render("shell.html", page="overview", part="/ui/part/overview", token_required=token_required)

    async def tasks(request: Request) -> HTMLResponse:
        query = request.url.query
        part = "/ui/part/tasks" + (f"?{query}" if query else "")
        return render("shell.html", page="tasks", part=part, token_required=token_required)

    async def task(request: Request) -> HTMLResponse:
        part = f"/ui/part/tasks/{request.path_params['task_id']}"
        return render("shell.html", page="task", part=part, token_required=token_required)

    async def schedules(request: Request) -> HTMLResponse:
        return render(
            "shell.html", page="schedules", part="/ui/part/schedules", token_required=token_required
        )

    async def workflows(request: Request) -> HTMLResponse:
        query = request.url.query
        part = "/ui/part/workflows" + (f"?{query}" if query else "")
        return render("shell.html", page="workflows", part=part, token_required=token_required)

    async def workflow(request: Request) -> HTMLResponse:
        part = f"/ui/part/workflows/{request.path_params['workflow_id']}"
        return render("shell.html", page="workflow", part=part, token_required=token_required)

    return Starlette(
        routes=[
            Route("/ui", overview),
            Route("/ui/", overview),
            Route("/ui/tasks", tasks),
            Route("/ui/tasks/{task_id}", task),
            Route("/ui/schedules", schedules),
            Route("/ui/workflows", workflows),
            Route("/ui/workflows/{workflow_id}", workflow),
            Mount("/ui/static", StaticFiles(directory=STATIC)),
        ]
    )


class PublicPages:
    """Serve the shells and assets before the bearer token is asked for (the outermost
    middleware); every other request goes on to the app."""

    def __init__(self, app: ASGIApp, public: ASGIApp) -> None:
        self.app = app
        self.public = public

    def is_public(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return False
        path: str = scope["path"]
        return path.startswith("/ui/static/") or bool(SHELL_PATH.match(path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.public if self.is_public(scope) else self.app)(scope, receive, send)


# -- behind the token: fragments -----------------------------------------------------------

router = APIRouter(prefix="/ui/part", include_in_schema=False)


@router.get("/overview")
async def overview_part(service: Service) -> HTMLResponse:
    overview = await service.overview()
    history = overview["history"]
    finished = [p.completed + p.failed for p in history]
    depths = [p.depth for p in history]
    return render(
        "overview.html",
        o=overview,
        history=history,
        peak=max([*finished, 1]),
        depth_peak=max([d for d in depths if d is not None] + [1]),
        finished_total=sum(finished),
        statuses=[s.value for s in TaskStatus],
    )


@router.get("/schedules")
async def schedules_part(service: Service) -> HTMLResponse:
    return render("schedules.html", schedules=await service.schedules())


@router.get("/workflows")
async def workflows_part(service: Service, cursor: str | None = None) -> HTMLResponse:
    if cursor is not None and not cursor.isdigit():
        cursor = None
    page = await service.list_workflows(limit=defaults.DEFAULT_PAGE_SIZE, cursor=cursor)
    return render(
        "workflows.html", workflows=[w.to_api() for w in page.workflows], next_cursor=page.next_cursor
    )


@router.get("/workflows/{workflow_id}")
async def workflow_part(workflow_id: str, service: Service) -> HTMLResponse:
    try:
        workflow = (await service.get_workflow(workflow_id)).to_api()
    except WorkflowNotFound:
        return render("workflow.html", workflow=None, workflow_id=workflow_id, status_code=404)
    return render("workflow.html", workflow=workflow, workflow_id=workflow_id)


@router.post("/workflows/{workflow_id}/redrive")
async def workflow_redrive_part(workflow_id: str, service: Service) -> HTMLResponse:
    try:
        workflow = (await service.redrive_workflow(workflow_id)).to_api()
    except WorkflowNotFound:
        return render("workflow.html", workflow=None, workflow_id=workflow_id, status_code=404)
    return render(
        "workflow.html", workflow=workflow, workflow_id=workflow_id, message="Failed steps redriven."
    )


def _parse_time(text: str | None, problems: list[str], name: str) -> float | None:
    """A ``datetime-local`` value (taken as UTC) as Unix seconds; a problem noted if malformed."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    except ValueError:
        problems.append(f"{name}: {text!r} is not a date and time (YYYY-MM-DDTHH:MM)")
        return None


def _query(params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"?{urlencode(kept)}" if kept else ""


@router.get("/tasks")
async def tasks_part(
    request: Request,
    service: Service,
    *,
    status: str | None = None,
    task_type: Annotated[str | None, Query(alias="type")] = None,
    since: str | None = None,
    until: str | None = None,
    error: str | None = None,
    tag: str | None = None,
    order: str | None = None,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]*$")] = None,
) -> HTMLResponse:
    problems: list[str] = []
    wanted_status = None
    if status:
        try:
            wanted_status = TaskStatus(status)
        except ValueError:
            problems.append(f"status: {status!r} is not one of {', '.join(s.value for s in TaskStatus)}")
    wanted_tag = None
    if tag:
        try:
            wanted_tag = parse_tag_filter(tag)
        except ValueError as exc:
            problems.append(f"tag: {exc}")
    filters = TaskFilters(
        since=_parse_time(since, problems, "from"),
        until=_parse_time(until, problems, "until"),
        error=error or None,
        oldest_first=order == "oldest",
        tag=wanted_tag,
    )
    page = await service.list(
        status=wanted_status,
        task_type=task_type or None,
        limit=defaults.UI_PAGE_SIZE,
        cursor=cursor or None,
        filters=filters,
    )
    kept = {k: v for k, v in request.query_params.items() if v and k != "cursor"}
    next_url = f"/ui/tasks?{urlencode({**kept, 'cursor': page.next_cursor})}" if page.next_cursor else None
    flip = {**kept, "order": "newest" if filters.oldest_first else "oldest"}
    return render(
        "tasks.html",
        tasks=page.tasks,
        next_url=next_url,
        first_url=f"/ui/tasks?{urlencode(kept)}" if cursor else None,
        sort_url=f"/ui/tasks?{urlencode(flip)}",
        f={
            "status": status or "",
            "type": task_type or "",
            "since": since or "",
            "until": until or "",
            "error": error or "",
            "tag": tag or "",
            "order": "oldest" if filters.oldest_first else "newest",
        },
        statuses=[s.value for s in TaskStatus],
        task_types=service.task_types,
        problems=problems,
        preview=defaults.ERROR_PREVIEW,
        live_url="/api/events" + _query({"type": task_type or "", "tag": tag or "" if wanted_tag else ""}),
    )


def _task_page(record: TaskRecord | None, task_id: str, message: str | None = None) -> HTMLResponse:
    return render(
        "task.html",
        t=record,
        task_id=task_id,
        message=message,
        final=record is not None and record.status in FINAL_STATUSES,
        redrivable=record is not None and record.status in REDRIVABLE_STATUSES,
        failed=record is not None and record.status is TaskStatus.FAILED,
    )


@router.get("/tasks/{task_id}")
async def task_part(task_id: str, service: Service) -> HTMLResponse:
    try:
        return _task_page(await service.get(task_id), task_id)
    except TaskNotFound:
        return _task_page(None, task_id)


async def _act(service: Service, task_id: str, action: Callable[[], Any], done: str) -> HTMLResponse:
    try:
        await action()
        message = done
    except (TaskNotFound, InvalidTaskState) as exc:
        message = str(exc)
    try:
        record: TaskRecord | None = await service.get(task_id)
    except TaskNotFound:
        record = None
    return _task_page(record, task_id, message)


@router.post("/tasks/{task_id}/cancel")
async def cancel_part(task_id: str, service: Service) -> HTMLResponse:
    return await _act(service, task_id, lambda: service.cancel(task_id), "Cancelled.")


@router.post("/tasks/{task_id}/redrive")
async def redrive_part(task_id: str, service: Service) -> HTMLResponse:
    return await _act(service, task_id, lambda: service.redrive(task_id), "Redriven: the task runs again.")


@router.post("/tasks/{task_id}/delete")
async def delete_part(task_id: str, service: Service) -> HTMLResponse:
    return await _act(service, task_id, lambda: service.delete(task_id), "Deleted.")


@router.post("/tasks/{task_id}/redrive-failed")
async def redrive_failed_part(task_id: str, service: Service) -> HTMLResponse:
    """Redrive every failed task of this task's type."""
    try:
        task_type = (await service.get(task_id)).task_type
    except TaskNotFound:
        return _task_page(None, task_id)
    count = await service.redrive_failed(task_type)
    return _task_page(
        await service.get(task_id), task_id, f"Redriven: {count} failed {task_type} tasks run again."
    )


def install(app: FastAPI, *, token_required: bool) -> None:
    """Add the dashboard to ``app``: the fragments as routes (behind whatever guards the API),
    the shells and assets in front of everything. Call it after the app's other middleware."""
    app.include_router(router)
    app.add_middleware(PublicPages, public=shell_app(token_required))
