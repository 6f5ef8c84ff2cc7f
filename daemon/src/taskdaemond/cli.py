"""The ``taskdaemond`` command: serve, check, call, and a client for a running daemon.

Exit codes (also in the README):
  0  done (for submit --wait / status --wait: the task completed)
  1  the task failed, was cancelled or interrupted; `call` got an error result
  2  bad usage or invalid configuration
  3  the daemon could not be reached
  4  no such task
  5  the daemon refused the request (another 4xx or a 5xx)
  6  --wait ran out before the task finished
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NoReturn

from taskdaemond import __version__, defaults, scaffold
from taskdaemond.config import Config, check_runnable, command_warning, find_config_path, load_config
from taskdaemond.errors import ConfigError
from taskdaemond.statuses import FINAL_STATUSES, StatusFilter, TaskStatus
from taskdaemond.tags import parse_tag_assignment, parse_tag_filter

if TYPE_CHECKING:
    import httpx

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_FOUND = 4
EXIT_REFUSED = 5
EXIT_WAIT_EXPIRED = 6

URL_ENV = "TASKDAEMON_URL"


class CliExit(Exception):
    """Ends the command with ``code`` after printing ``message`` to stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- output -------------------------------------------------------------------------------

STATUS_COLOURS: dict[str, str] = {
    TaskStatus.COMPLETED: "32",
    TaskStatus.FAILED: "31",
    TaskStatus.CANCELLED: "33",
    TaskStatus.INTERRUPTED: "33",
    TaskStatus.PROCESSING: "36",
    TaskStatus.PENDING: "37",
    TaskStatus.WAITING: "34",
}


def use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def colour(text: str, code: str | None) -> str:
    return f"\033[{code}m{text}\033[0m" if code and use_colour() else text


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(header, widths, strict=True))]
    for row in rows:
        cells = []
        for index, (cell, width) in enumerate(zip(row, widths, strict=True)):
            padded = str(cell).ljust(width)
            cells.append(
                colour(padded, STATUS_COLOURS.get(str(cell))) if header[index] == "status" else padded
            )
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def short_json(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def print_task(task: dict[str, Any], logs: bool = True) -> None:
    status = task["status"]
    print(f"task      {task['id']}")
    print(f"type      {task['task_type']}")
    print(f"status    {colour(status, STATUS_COLOURS.get(status))}")
    print(f"attempts  {task.get('attempts')} (retries allowed: {task.get('max_retries')})")
    if task.get("result") is not None or status == TaskStatus.COMPLETED:
        print(f"result    {json.dumps(task.get('result'))}")
    if task.get("last_error"):
        print(f"error     {task['last_error']}")
    progress = task.get("progress")
    if progress:
        print(f"progress  {progress['progress']:.0%} {progress.get('message') or ''}".rstrip())
    if task.get("tags"):
        print(f"tags      {' '.join(f'{k}={v}' for k, v in sorted(task['tags'].items()))}")
    for entry in task.get("logs") or [] if logs else []:
        if entry.get("event") == "log":
            print(f"log       [{entry.get('level')}] {entry.get('message')}")


# -- client -------------------------------------------------------------------------------


def default_url() -> str:
    if os.environ.get(URL_ENV):
        return os.environ[URL_ENV]
    host = os.environ.get("DAEMON_HOST") or defaults.DEFAULT_HOST
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a bind-all address is reached through localhost
        host = "127.0.0.1"
    return f"http://{host}:{os.environ.get('DAEMON_PORT') or defaults.DEFAULT_PORT}"


def request(
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    body: Any = None,
    params: dict[str, Any] | None = None,
    timeout: float = 30.0,
) -> httpx.Response:
    # httpx and rich (cli_live) are imported by the client commands that use them: `serve` would
    # otherwise carry them, about 4 MiB of the idle daemon's memory.
    import httpx  # noqa: PLC0415

    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        with httpx.Client(base_url=args.url, timeout=timeout, headers=headers) as client:
            response = client.request(method, path, json=body, params=params)
    except httpx.HTTPError as exc:
        raise CliExit(EXIT_UNREACHABLE, f"cannot reach the daemon at {args.url}: {exc}") from None
    if response.status_code == 404:
        raise CliExit(EXIT_NOT_FOUND, _error_text(response))
    if response.status_code >= 400:
        raise CliExit(EXIT_REFUSED, f"HTTP {response.status_code}: {_error_text(response)}")
    return response


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text


def parse_data(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CliExit(EXIT_USAGE, f"task data is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CliExit(EXIT_USAGE, f"task data must be a JSON object, got {type(data).__name__}")
    return data


def task_exit_code(task: dict[str, Any]) -> int:
    if task["status"] == TaskStatus.COMPLETED:
        return EXIT_OK
    if task["status"] in FINAL_STATUSES:
        return EXIT_TASK_FAILED
    return EXIT_WAIT_EXPIRED


def show_task(args: argparse.Namespace, task: dict[str, Any], waited: bool, logs: bool = True) -> int:
    if args.json:
        print_json(task)
    else:
        print_task(task, logs)
    return task_exit_code(task) if waited else EXIT_OK


def follow_task(args: argparse.Namespace, task_id: str, seconds: float) -> dict[str, Any]:
    """The task once final (or after ``seconds``). Unless --json, its progress and logs are shown
    as they come meanwhile: a progress bar on a terminal, plain lines otherwise."""
    if not args.json:
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}

        import httpx  # noqa: PLC0415 - see request()

        from taskdaemond import cli_live  # noqa: PLC0415

        def connect(extra: dict[str, str], read_timeout: float) -> AbstractContextManager[httpx.Response]:
            timeout = httpx.Timeout(10.0, read=read_timeout)
            url = f"{args.url}/api/tasks/{task_id}/events"
            return httpx.stream("GET", url, headers=headers | extra, timeout=timeout)

        cli_live.follow(connect, task_id[:8], seconds, terminal=sys.stdout.isatty())
        seconds = max(0.0, seconds - (time.monotonic() - started))
    return wait_for(args, task_id, seconds)


def submit_and_wait(args: argparse.Namespace, body: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Submit and wait in one request (POST /queue?wait): the final record, or after a 202 (the
    wait passed, or is longer than the daemon allows) the task as GET ?wait gives it."""
    started = time.monotonic()
    step = min(seconds, defaults.MAX_LONG_POLL)
    if step <= 0:  # no wait to speak of: the daemon refuses ?wait=0
        return wait_for(args, request(args, "POST", "/queue", body=body).json()["task_id"], 0.0)
    response = request(args, "POST", "/queue", body=body, params={"wait": step}, timeout=step + 30)
    answer: dict[str, Any] = response.json()
    if response.status_code == 200:
        return answer
    return wait_for(args, answer["task_id"], max(0.0, seconds - (time.monotonic() - started)))


def wait_for(args: argparse.Namespace, task_id: str, seconds: float) -> dict[str, Any]:
    """Long-poll the task until final or ``seconds`` elapsed (in steps the server allows)."""
    end = time.monotonic() + seconds
    while True:
        step = max(0.0, min(end - time.monotonic(), defaults.MAX_LONG_POLL))
        task: dict[str, Any] = request(
            args, "GET", f"/api/tasks/{task_id}", params={"wait": step}, timeout=step + 30
        ).json()
        if task["status"] in FINAL_STATUSES or step <= 0:
            return task


# -- commands -----------------------------------------------------------------------------


def check_images(config: Config) -> None:
    """Every image handler's image is there (exit 2 with the build command if not)."""
    # Imported here: the client commands start faster without the runtime.
    from taskdaemond.runtime.container import check_images as engine_has_images  # noqa: PLC0415

    engine_has_images(config)


def cmd_serve(args: argparse.Namespace) -> int:
    # Imported here: the client commands start faster without the server stack.
    from taskdaemond.server import serve, setup_logging  # noqa: PLC0415

    env = dict(os.environ)
    if args.host:
        env["DAEMON_HOST"] = args.host
    if args.port is not None:
        env["DAEMON_PORT"] = str(args.port)
    config = load_config(find_config_path(args.config, env), env)
    check_runnable(config)
    check_images(config)
    setup_logging(config.daemon.log_level)
    return serve(config)


def cmd_check(args: argparse.Namespace) -> int:
    path = find_config_path(args.file or args.config, os.environ)
    config = load_config(path)
    # No container engine here is only a warning (the file may be meant for another machine);
    # an engine that lacks an image is an error (exit 2) naming the command that builds it.
    try:
        check_runnable(config)
    except ConfigError as exc:
        warnings = [f"{exc.key}: {exc.problem}"]
    else:
        warnings = []
        check_images(config)
    # A command that looks like a shell line is valid, but would crash-loop: say so.
    warnings += [w for w in (command_warning(h) for h in config.handlers.values()) if w is not None]
    if args.json:
        print_json(
            {
                "ok": True,
                "file": str(path),
                "handlers": sorted(config.handlers),
                "schedules": sorted(config.schedules),
                "warnings": warnings,
            }
        )
        return EXIT_OK
    print(f"{path}: OK")
    for warning in warnings:
        print(f"warning: {warning}")
    rows = []
    for name, handler in config.handlers.items():
        how = " ".join(handler.command) if handler.command else f"{handler.engine} image {handler.image}"
        rows.append([name, how, str(handler.instances), f"{handler.timeout:g}s", str(handler.retries)])
    print(table(rows, ["type", "runs", "instances", "timeout", "retries"]))
    if config.schedules:
        when = {
            name: f"cron {s.timing.cron} ({s.timing.timezone})"
            if s.timing.cron
            else f"every {s.timing.every:g}s"
            for name, s in config.schedules.items()
        }
        rows = [
            [name, s.task_type, when[name], "yes" if s.catch_up else "no", "yes" if s.enabled else "no"]
            for name, s in config.schedules.items()
        ]
        print()
        print(table(rows, ["schedule", "type", "when", "catch_up", "enabled"]))
    return EXIT_OK


def cmd_call(args: argparse.Namespace) -> int:
    from taskdaemond.call import call_once  # noqa: PLC0415 - see cmd_serve

    config = load_config(find_config_path(args.config, os.environ))
    check_runnable(config)
    check_images(config)
    handler = config.handlers.get(args.type)
    if handler is None:
        raise CliExit(
            EXIT_USAGE, f"unknown task type {args.type!r}; known types: {', '.join(config.handlers)}"
        )
    data = parse_data(args.data)
    timeout = args.timeout if args.timeout is not None else handler.timeout
    events, outcome = asyncio.run(
        call_once(
            handler, data, attempt=args.attempt, timeout=timeout, echo=None if args.json else print_event
        )
    )
    ok = outcome.get("status") == "success"
    if args.json:
        print_json({"events": events, "outcome": outcome})
    else:
        label = colour(outcome["status"], "32" if ok else "31")
        print(f"{label}: {json.dumps(outcome.get('result') if ok else outcome.get('error'))}")
        for key in ("error_type", "retryable", "traceback"):
            if not ok and outcome.get(key) is not None:
                print(f"{key}: {outcome[key]}")
    return EXIT_OK if ok else EXIT_TASK_FAILED


def cmd_reencrypt(args: argparse.Namespace) -> int:
    # Imported here: see cmd_serve.
    from taskdaemond import encryption  # noqa: PLC0415
    from taskdaemond.queue.base import open_queue, reencrypt_payloads  # noqa: PLC0415

    config = load_config(find_config_path(args.config, os.environ))
    cipher = encryption.cipher_from_environment(os.environ)
    if cipher is None:
        raise CliExit(EXIT_USAGE, f"{encryption.KEY_VARIABLE} is not set: there is no key to encrypt with")
    if config.daemon.queue == "memory":
        raise CliExit(EXIT_USAGE, "the memory queue keeps nothing at rest: there is nothing to reencrypt")

    async def run() -> encryption.Reencrypted:
        queue = open_queue(config.daemon, cipher)
        await queue.open(recover=False)
        try:
            return await reencrypt_payloads(queue, defaults.REENCRYPT_BATCH)
        finally:
            await queue.close()

    tally = asyncio.run(run())
    if args.json:
        print_json({"rewritten": tally.rewritten, "unreadable": tally.unreadable})
    else:
        print(f"rewrote {tally.rewritten} stored values under the first key")
        if tally.unreadable:
            print(
                f"{tally.unreadable} values no key in {encryption.KEY_VARIABLE} opens were left as they are"
            )
    return EXIT_OK if not tally.unreadable else EXIT_REFUSED


def cmd_prune(args: argparse.Namespace) -> int:
    # Imported here: see cmd_serve. Works on the configured database itself, beside a running
    # daemon or not (SQLite's WAL lets both write; each batch is one short transaction).
    from taskdaemond.config import parse_duration  # noqa: PLC0415
    from taskdaemond.retention import PruneRefused, prune_command  # noqa: PLC0415

    config = load_config(find_config_path(args.config, os.environ))
    try:
        older_than = parse_duration(args.older_than) if args.older_than is not None else None
    except ValueError as exc:
        raise CliExit(EXIT_USAGE, f"--older-than: {exc}") from None
    statuses = [TaskStatus(s) for s in args.status] if args.status else None
    try:
        answer = asyncio.run(
            prune_command(
                config.daemon,
                older_than=older_than,
                statuses=statuses,
                dry_run=args.dry_run,
                vacuum=args.vacuum,
            )
        )
    except PruneRefused as exc:
        raise CliExit(EXIT_USAGE, str(exc)) from None
    if args.json:
        print_json(answer)
        return EXIT_OK
    pruned: dict[str, int] = answer["pruned"]  # type: ignore[assignment]
    verb = "would prune" if args.dry_run else "pruned"
    print(table([[status, str(count)] for status, count in pruned.items()], ["status", verb]))
    if "beyond_cap" in answer:
        print(f"beyond max_finished_tasks: {answer['beyond_cap']}")
    mib = 1024 * 1024
    size, free = int(answer["size_bytes"]), int(answer["free_bytes"])  # type: ignore[call-overload]
    back = f", {int(answer.get('reclaimed_bytes', 0)) / mib:.1f} MiB given back" if not args.dry_run else ""  # type: ignore[call-overload]
    print(f"database {answer['database']}: {size / mib:.1f} MiB ({free / mib:.1f} MiB free inside){back}")
    return EXIT_OK


def print_event(event: dict[str, Any]) -> None:
    if event.get("event") == "progress":
        print(f"progress {event['progress']:.0%} {event.get('message') or ''}".rstrip())
    else:
        print(f"log [{event.get('level')}] {event.get('message')}")


def cmd_submit(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"type": args.type, "data": parse_data(args.data)}
    for key in ("priority", "delay", "idempotency_key", "max_retries"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.tag:
        body["tags"] = dict(args.tag)
    if args.depends_on:
        body["depends_on"] = [i.strip() for ids in args.depends_on for i in ids.split(",") if i.strip()]
    if args.on_dependency_failure:
        body["on_dependency_failure"] = args.on_dependency_failure
    if args.wait is not None and (args.json or not sys.stdout.isatty()):
        # Off a terminal nothing is drawn as it comes: one request to the result, then the
        # task's logs and progress from its record.
        task = submit_and_wait(args, body, args.wait)
        if not args.json:
            from taskdaemond import cli_live  # noqa: PLC0415 - see request()

            cli_live.replay(task)
        return show_task(args, task, waited=True, logs=False)
    task_id = request(args, "POST", "/queue", body=body).json()["task_id"]
    if args.wait is None:
        if args.json:
            print_json({"task_id": task_id})
        else:
            print(task_id)
        return EXIT_OK
    return show_task(args, follow_task(args, task_id, args.wait), waited=True, logs=False)


def cmd_status(args: argparse.Namespace) -> int:
    if args.wait is not None:
        return show_task(args, follow_task(args, args.id, args.wait), waited=True, logs=False)
    return show_task(args, request(args, "GET", f"/api/tasks/{args.id}").json(), waited=False)


def cmd_tasks(args: argparse.Namespace) -> int:
    params = {
        k: v
        for k, v in (
            ("status", args.status),
            ("type", args.type),
            ("limit", args.limit),
            ("cursor", args.cursor),
        )
        if v is not None
    }
    if args.tag:
        params["tag"] = ":".join(args.tag)
    page = request(args, "GET", "/api/tasks", params=params).json()
    if args.json:
        print_json(page)
        return EXIT_OK
    if sys.stdout.isatty():
        from taskdaemond import cli_live  # noqa: PLC0415 - see request()

        cli_live.tasks_table(page["tasks"])
        if page.get("next_cursor"):
            print(f"more: --cursor {page['next_cursor']}")
        return EXIT_OK
    rows = [
        [
            t["id"],
            t["task_type"],
            t["status"],
            str(t["attempts"]),
            t["created_at"] or "",
            short_json(t["result"]) if t["status"] == TaskStatus.COMPLETED else (t["last_error"] or "")[:60],
        ]
        for t in page["tasks"]
    ]
    print(table(rows, ["id", "type", "status", "attempts", "created", "result / error"]))
    if page.get("next_cursor"):
        print(f"more: --cursor {page['next_cursor']}")
    return EXIT_OK


def schedule_rows(schedules: list[dict[str, Any]]) -> list[list[str]]:
    """One row per schedule: name, type, when, zone, catch_up, next, last run and its status."""
    rows = []
    for s in schedules:
        when = f"cron {s['cron']}" if s["cron"] is not None else f"every {s['every']:g}s"
        last = f"{s['last_due'] or '-'} {s['last_task_status'] or ''}".strip()
        rows.append(
            [
                s["name"],
                s["task_type"],
                when,
                s["timezone"],
                "yes" if s["catch_up"] else "no",
                (s["next_due"] or "disabled") if s["enabled"] else "disabled",
                last,
                s["last_task_id"] or "",
                str(s["runs"]),
            ]
        )
    return rows


#: The columns of `taskdaemond schedules`.
SCHEDULE_COLUMNS = [
    "name",
    "type",
    "when",
    "timezone",
    "catch_up",
    "next due",
    "last run",
    "last task",
    "runs",
]


def cmd_schedules(args: argparse.Namespace) -> int:
    schedules = request(args, "GET", "/api/schedules").json()["schedules"]
    if args.json:
        print_json(schedules)
        return EXIT_OK
    if not schedules:
        print("no schedules: add a [schedules.<name>] table to handlers.toml")
        return EXIT_OK
    if sys.stdout.isatty():
        from taskdaemond import cli_live  # noqa: PLC0415 - see request()

        cli_live.rows_table(SCHEDULE_COLUMNS, schedule_rows(schedules))
        return EXIT_OK
    print(table(schedule_rows(schedules), SCHEDULE_COLUMNS))
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    response = request(args, "POST", f"/api/tasks/{args.id}/cancel")
    return show_task(args, response.json(), waited=False)


def cmd_redrive(args: argparse.Namespace) -> int:
    response = request(args, "POST", f"/api/tasks/{args.id}/redrive")
    return show_task(args, response.json(), waited=False)


# -- parser -------------------------------------------------------------------------------


def _client_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--url",
        default=default_url(),
        help=f"daemon URL (default: ${URL_ENV} or http://$DAEMON_HOST:$DAEMON_PORT)",
    )
    sub.add_argument(
        "--token", default=os.environ.get("DAEMON_TOKEN"), help="bearer token (default: $DAEMON_TOKEN)"
    )
    sub.add_argument("--json", action="store_true", help="print JSON for scripts")


def _config_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--config", "-c", help="handlers.toml (default: $HANDLER_CONFIG or ./handlers.toml)")


def _wait_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=defaults.MAX_LONG_POLL,
        help=f"wait for the task to finish (at most SECONDS, default {defaults.MAX_LONG_POLL:g})",
    )


def _add_daemon_commands(commands: Any) -> None:
    """serve, check and call: the commands that read handlers.toml."""
    serve = commands.add_parser(
        "serve",
        help="run the daemon",
        description="Run the daemon until SIGTERM or SIGINT, then shut down cleanly.",
    )
    _config_option(serve)
    serve.add_argument(
        "--host", help=f"address to bind (default: [daemon] host, $DAEMON_HOST, {defaults.DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, help=f"port (default: [daemon] port, $DAEMON_PORT, {defaults.DEFAULT_PORT})"
    )
    serve.set_defaults(run=cmd_serve)

    check = commands.add_parser(
        "check",
        help="validate handlers.toml without starting",
        description="Validate a handlers.toml (and the DAEMON_* environment).",
    )
    check.add_argument(
        "file", nargs="?", help="the file (default: --config, $HANDLER_CONFIG, ./handlers.toml)"
    )
    _config_option(check)
    check.add_argument("--json", action="store_true", help="print JSON for scripts")
    check.set_defaults(run=cmd_check)

    call = commands.add_parser(
        "call",
        help="run one task through a handler, no server",
        description="Start one instance of the TYPE handler, give it one task, print its events and result, "
        "stop it.",
    )
    call.add_argument("type", help="task type")
    call.add_argument("data", help="task data, a JSON object")
    _config_option(call)
    call.add_argument("--attempt", type=int, default=0, help="attempt number to send (default 0)")
    call.add_argument("--timeout", type=float, help="seconds (default: the handler's timeout)")
    call.add_argument("--json", action="store_true", help="print JSON for scripts")
    call.set_defaults(run=cmd_call)

    prune = commands.add_parser(
        "prune",
        help="delete finished tasks now",
        description="Delete finished tasks from the configured database, as the daemon's pruner does: by "
        "default those older than completed_ttl / failed_ttl and beyond max_finished_tasks. Pending and "
        "processing tasks are never deleted. Safe beside a running daemon (except --vacuum).",
    )
    _config_option(prune)
    prune.add_argument(
        "--older-than", dest="older_than", help='finished more than this long ago ("90s", "36h", "7d")'
    )
    finals = [status.value for status in TaskStatus if status.is_final]
    prune.add_argument("--status", action="append", choices=finals, help="only this status (repeatable)")
    prune.add_argument("--dry-run", dest="dry_run", action="store_true", help="count, delete nothing")
    prune.add_argument(
        "--vacuum",
        action="store_true",
        help="then rewrite the SQLite file to its smallest (stop the daemon first)",
    )
    prune.add_argument("--json", action="store_true", help="print JSON for scripts")
    prune.set_defaults(run=cmd_prune)
    reencrypt = commands.add_parser(
        "reencrypt",
        help="rewrite stored task data and results under the first DAEMON_ENCRYPTION_KEY",
        description="Encryption key rotation: every task's data and result in the configured database, "
        "encrypted under an older key of DAEMON_ENCRYPTION_KEY (or stored before any key), is rewritten "
        "under the first key, in small transactions. Safe beside running daemons. Needs the variable set, "
        "with the old keys after the new one.",
    )
    _config_option(reencrypt)
    reencrypt.add_argument("--json", action="store_true", help="print JSON for scripts")
    reencrypt.set_defaults(run=cmd_reencrypt)


def _argument(parse: Any) -> Any:
    """An argparse type from a parser raising ValueError (argparse then exits 2 with the message)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _add_client_commands(commands: Any) -> None:
    """submit, status, tasks, schedules, cancel and redrive: the commands that talk to a running daemon."""
    submit = commands.add_parser(
        "submit",
        help="submit a task",
        description="Submit a task; print its id, or with --wait its final state.",
    )
    submit.add_argument("type", help="task type")
    submit.add_argument("data", help="task data, a JSON object")
    submit.add_argument(
        "--priority",
        type=int,
        help=f"{defaults.MIN_PRIORITY}-{defaults.MAX_PRIORITY}, default {defaults.DEFAULT_PRIORITY}",
    )
    submit.add_argument("--delay", type=float, help="seconds before it may run")
    submit.add_argument("--idempotency-key", dest="idempotency_key", help="deduplication key")
    submit.add_argument("--max-retries", dest="max_retries", type=int, help="retry budget")
    submit.add_argument(
        "--tag",
        action="append",
        type=_argument(parse_tag_assignment),
        metavar="KEY=VALUE",
        help="a tag (repeatable)",
    )
    submit.add_argument(
        "--depends-on",
        dest="depends_on",
        action="append",
        metavar="ID[,ID...]",
        help="run only once these tasks completed (repeatable); their results reach the handler",
    )
    submit.add_argument(
        "--on-dependency-failure",
        dest="on_dependency_failure",
        choices=["fail", "cancel"],
        help=f"when a dependency fails for good (default {defaults.DEFAULT_ON_DEPENDENCY_FAILURE})",
    )
    _wait_option(submit)
    _client_options(submit)
    submit.set_defaults(run=cmd_submit)

    status = commands.add_parser(
        "status", help="show a task", description="Show a task with its result, errors and logs."
    )
    status.add_argument("id", help="task id")
    _wait_option(status)
    _client_options(status)
    status.set_defaults(run=cmd_status)

    tasks = commands.add_parser("tasks", help="list tasks", description="List tasks, newest first.")
    tasks.add_argument("--status", choices=[status.value for status in StatusFilter])  # aliases too
    tasks.add_argument("--type", help="task type")
    tasks.add_argument("--limit", type=int, help=f"tasks per page (default {defaults.DEFAULT_PAGE_SIZE})")
    tasks.add_argument("--cursor", help="page after this cursor")
    tasks.add_argument(
        "--tag", type=_argument(parse_tag_filter), metavar="KEY:VALUE", help="only tasks with this tag"
    )
    _client_options(tasks)
    tasks.set_defaults(run=cmd_tasks)

    schedules = commands.add_parser(
        "schedules",
        help="list periodic tasks",
        description="List the periodic tasks ([schedules.<name>] in handlers.toml): when each is next due, "
        "its last run and that run's status.",
    )
    _client_options(schedules)
    schedules.set_defaults(run=cmd_schedules)

    for name, run, what, description in (
        ("cancel", cmd_cancel, "cancel a task", "Cancel a pending task, or stop the handler running it."),
        ("redrive", cmd_redrive, "run a failed task again", "Run a failed or interrupted task again."),
    ):
        sub = commands.add_parser(name, help=what, description=description)
        sub.add_argument("id", help="task id")
        _client_options(sub)
        sub.set_defaults(run=run)


def build_parser() -> argparse.ArgumentParser:
    """The command line; every default it names comes from ``defaults``."""
    parser = argparse.ArgumentParser(
        prog="taskdaemond",
        description="The reference TaskDaemon daemon and its client.",
        epilog="Exit codes: 0 ok, 1 task failed, 2 usage or config error, 3 daemon unreachable, "
        "4 not found, 5 request refused, 6 --wait expired.",
    )
    parser.add_argument("--version", action="version", version=f"taskdaemond {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_daemon_commands(commands)
    _add_client_commands(commands)
    # Imported here: cli_workflows uses this module's helpers.
    from taskdaemond import cli_workflows  # noqa: PLC0415

    cli_workflows.add_commands(commands, _client_options, _wait_option)
    scaffold.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = build_parser().parse_args(argv)
    try:
        code = args.run(args)
    except ConfigError as exc:
        print(f"taskdaemond: invalid configuration: {exc}", file=sys.stderr)
        code = exc.exit_code
    except CliExit as exc:
        print(f"taskdaemond: {exc.message}", file=sys.stderr)
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
