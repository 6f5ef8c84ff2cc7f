"""The CLI's workflow commands: ``taskdaemond workflows [ID]`` lists workflows or shows one with
its steps, ``taskdaemond submit-workflow FILE`` submits one from a JSON or TOML file (the body of
POST /workflows; steps as a list, or as a table of tables keyed by step name)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from taskdaemond import defaults
from taskdaemond.cli import (
    EXIT_OK,
    EXIT_TASK_FAILED,
    EXIT_USAGE,
    EXIT_WAIT_EXPIRED,
    CliExit,
    print_json,
    request,
    table,
)
from taskdaemond.queue.models import WORKFLOW_FINAL

WORKFLOW_COLUMNS = ["id", "name", "status", "steps", "done", "created", "duration"]
STEP_COLUMNS = ["step", "status", "depends on", "attempts", "started", "duration", "task id / error"]

#: Seconds between two reads of a workflow that ``--wait`` follows.
WAIT_POLL = 0.5


def read_workflow_file(path: Path) -> dict[str, Any]:
    """The body of POST /workflows from a .json or .toml file; ``steps`` may be a table keyed by
    step name (TOML's natural shape), each entry then getting its ``name``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliExit(EXIT_USAGE, f"{path}: {exc.strerror}") from None
    try:
        body = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise CliExit(EXIT_USAGE, f"{path}: {exc}") from None
    if not isinstance(body, dict):
        raise CliExit(EXIT_USAGE, f"{path}: a workflow is an object with steps")
    steps = body.get("steps")
    if isinstance(steps, dict):
        body["steps"] = [{"name": name, **step} for name, step in steps.items()]
    return body


def workflow_rows(workflows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            w["id"],
            w["name"] or "",
            w["status"],
            str(w["steps_total"]),
            str(w["step_counts"].get("completed", 0)),
            w["created_at"] or "",
            f"{w['duration']:.3f}s" if w["duration"] is not None else "",
        ]
        for w in workflows
    ]


def step_rows(steps: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            s["step"],
            s["status"],
            ", ".join(s["depends_on"]),
            str(s["attempts"]),
            s["started_at"] or "",
            f"{s['duration']:.3f}s" if s["duration"] is not None else "",
            (s["last_error"] or "")[:60] if s["status"] in ("failed", "cancelled") else s["task_id"],
        ]
        for s in steps
    ]


def show(columns: list[str], rows: list[list[str]]) -> None:
    if sys.stdout.isatty():
        from taskdaemond import cli_live  # noqa: PLC0415 - see cli.request()

        cli_live.rows_table(columns, rows)
    else:
        print(table(rows, columns))


def show_workflow(args: argparse.Namespace, workflow: dict[str, Any]) -> int:
    if args.json:
        print_json(workflow)
    else:
        name = f" ({workflow['name']})" if workflow["name"] else ""
        print(f"workflow {workflow['id']}{name}: {workflow['status']}, {workflow['steps_total']} steps")
        show(STEP_COLUMNS, step_rows(workflow.get("steps", [])))
    return EXIT_TASK_FAILED if workflow["status"] in ("failed", "cancelled") else EXIT_OK


def follow(args: argparse.Namespace, workflow_id: str, seconds: float) -> dict[str, Any]:
    """The workflow once final, or EXIT_WAIT_EXPIRED after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        workflow: dict[str, Any] = request(args, "GET", f"/api/workflows/{workflow_id}").json()
        if workflow["status"] in WORKFLOW_FINAL:
            return workflow
        if time.monotonic() >= deadline:
            raise CliExit(EXIT_WAIT_EXPIRED, f"workflow {workflow_id} is still {workflow['status']}")
        time.sleep(min(WAIT_POLL, max(0.0, deadline - time.monotonic())))


def cmd_workflows(args: argparse.Namespace) -> int:
    if args.id is not None:
        if args.redrive:
            request(args, "POST", f"/api/workflows/{args.id}/redrive")
        if args.wait is not None:
            return show_workflow(args, follow(args, args.id, args.wait))
        return show_workflow(args, request(args, "GET", f"/api/workflows/{args.id}").json())
    params = {k: v for k, v in (("limit", args.limit), ("cursor", args.cursor)) if v is not None}
    page = request(args, "GET", "/api/workflows", params=params).json()
    if args.json:
        print_json(page)
        return EXIT_OK
    show(WORKFLOW_COLUMNS, workflow_rows(page["workflows"]))
    if page.get("next_cursor"):
        print(f"more: --cursor {page['next_cursor']}")
    return EXIT_OK


def cmd_submit_workflow(args: argparse.Namespace) -> int:
    body = read_workflow_file(Path(args.file))
    answer = request(args, "POST", "/workflows", body=body, timeout=120).json()
    if args.wait is not None:
        return show_workflow(args, follow(args, answer["workflow_id"], args.wait))
    if args.json:
        print_json({"workflow_id": answer["workflow_id"], "task_ids": answer["task_ids"]})
    else:
        print(answer["workflow_id"])
    return EXIT_OK


def add_commands(commands: Any, client_options: Any, wait_option: Any) -> None:
    """``workflows`` and ``submit-workflow`` on the CLI's subparsers."""
    workflows = commands.add_parser(
        "workflows",
        help="list workflows, or show one",
        description="List workflows, newest first; with an ID, show that workflow and its steps "
        "(exit 1 when it failed or was cancelled).",
    )
    workflows.add_argument("id", nargs="?", help="workflow id")
    workflows.add_argument(
        "--redrive",
        action="store_true",
        help="with ID: redrive its failed steps (their dependents wait again)",
    )
    workflows.add_argument(
        "--limit", type=int, help=f"workflows per page (default {defaults.DEFAULT_PAGE_SIZE})"
    )
    workflows.add_argument("--cursor", help="page after this cursor")
    wait_option(workflows)
    client_options(workflows)
    workflows.set_defaults(run=cmd_workflows)

    submit = commands.add_parser(
        "submit-workflow",
        help="submit a workflow from a JSON or TOML file",
        description="Submit a workflow (named steps with depends_on) from FILE, .json or .toml; print its "
        "id, or with --wait its steps once it is finished.",
    )
    submit.add_argument("file", help="the workflow: a .json or .toml file")
    wait_option(submit)
    client_options(submit)
    submit.set_defaults(run=cmd_submit_workflow)
