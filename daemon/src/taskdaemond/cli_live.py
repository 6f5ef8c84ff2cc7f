"""What the CLI shows as it happens: a task's progress and logs while ``submit --wait`` (or
``status --wait``) follows its event stream, and the tasks table. On a terminal both are drawn
with rich (a progress bar with the logs printed above it, a table); otherwise, plain lines that
a log file or a pipe takes as they come (``submit --wait`` off a terminal waits in one request
and prints the same lines from the final record: ``replay``)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, TextIO

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

#: Seconds the CLI waits for the next line of an event stream before it reconnects (the daemon
#: sends a keep-alive comment every 10 s).
STREAM_READ_TIMEOUT = 30.0

STATUS_STYLES = {
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "interrupted": "yellow",
    "processing": "cyan",
    "pending": "white",
    "waiting": "blue",
}

Event = tuple[str, dict[str, Any], int | None]


def read_stream(response: httpx.Response) -> Iterator[Event]:
    """The Server-Sent Events of a response: (name, data, id)."""
    name, data, event_id = "message", "", None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data += line[6:]
        elif line.startswith("id: ") and line[4:].isdigit():
            event_id = int(line[4:])
        elif line == "" and data:
            yield name, json.loads(data), event_id
            name, data, event_id = "message", "", None


class PlainView:
    """One line per event, flushed at once: for pipes and log files."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.status = ""

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def event(self, name: str, data: dict[str, Any]) -> None:
        if name == "progress":
            line = f"progress {data['progress']:.0%} {data.get('message') or ''}".rstrip()
        elif name == "log":
            line = f"log [{data.get('level', 'info')}] {data.get('message', '')}"
        elif name == "task" and data["status"] != self.status:
            self.status = data["status"]
            line = f"status {self.status}"
        else:
            return
        print(line, file=self.out, flush=True)


class RichView:
    """A progress bar that moves with the handler's progress events; logs printed above it."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.title = title
        self.bar: TaskID | None = None
        self.status = ""

    def __enter__(self) -> RichView:
        self.progress.__enter__()
        self.bar = self.progress.add_task(self.title, total=1.0, note="")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.progress.__exit__(kind, exc, traceback)

    def event(self, name: str, data: dict[str, Any]) -> None:
        assert self.bar is not None
        if name == "progress":
            self.progress.update(self.bar, completed=data["progress"], note=data.get("message") or "")
        elif name == "log":
            level = data.get("level", "info")
            style = {"error": "red", "warning": "yellow", "debug": "dim"}.get(level, "")
            self.progress.console.print(
                Text(f"[{level}] ", style=style or "bold") + Text(str(data.get("message", "")))
            )
        elif name == "task" and data["status"] != self.status:
            self.status = data["status"]
            style = STATUS_STYLES.get(self.status, "white")
            self.progress.update(
                self.bar, description=f"{escape(self.title)} [{style}]{escape(self.status)}[/]"
            )
            if self.status == "completed":
                self.progress.update(self.bar, completed=1.0)


def follow(
    connect: Callable[[dict[str, str], float], AbstractContextManager[httpx.Response]],
    title: str,
    seconds: float,
    *,
    terminal: bool,
    out: TextIO = sys.stdout,
) -> bool:
    """Show a task's events from its stream (``connect(headers, read_timeout)`` opens it) until
    it is final or ``seconds`` pass; True when the stream said the task is final. A dropped
    stream is opened again where it stopped (Last-Event-ID)."""
    deadline = time.monotonic() + seconds
    seen = 0
    view: PlainView | RichView = RichView(Console(file=out), title) if terminal else PlainView(out)
    with view:
        while time.monotonic() < deadline:
            headers = {"Last-Event-ID": str(seen)} if seen else {}
            read_timeout = max(0.1, min(STREAM_READ_TIMEOUT, deadline - time.monotonic()))
            try:
                with connect(headers, read_timeout) as response:
                    if response.status_code != 200:
                        return False
                    for name, data, event_id in read_stream(response):
                        if event_id is not None:
                            seen = max(seen, event_id)
                        if name == "end":
                            return True
                        view.event(name, data)
                        if time.monotonic() >= deadline:
                            return False
            except httpx.TimeoutException:
                continue  # quiet for a while, or the time is up: the loop decides
            except httpx.HTTPError:
                return False  # the daemon went away: the caller reads the task as it is
    return False


def replay(task: dict[str, Any], out: TextIO = sys.stdout) -> None:
    """A task's stored logs and progress, then its status, as the plain lines ``follow`` prints."""
    view = PlainView(out)
    for entry in task.get("logs") or []:
        if isinstance(entry, dict) and entry.get("event") in ("log", "progress"):
            view.event(str(entry["event"]), entry)
    view.event("task", task)


def tasks_table(tasks: list[dict[str, Any]], out: TextIO = sys.stdout) -> None:
    """The tasks as a rich table, for a terminal."""
    table = Table(show_edge=False, header_style="bold")
    for column in ("id", "type", "status", "progress", "attempts", "created", "tags", "result / error"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "status", "created"))
    for t in tasks:
        progress = t.get("progress")
        outcome = (
            json.dumps(t.get("result"))[:60]
            if t["status"] == "completed"
            else (t.get("last_error") or "")[:60]
        )
        table.add_row(
            t["id"],
            t["task_type"],
            Text(t["status"], style=STATUS_STYLES.get(t["status"], "")),
            f"{progress['progress']:.0%}" if progress else "",
            str(t["attempts"]),
            (t.get("created_at") or "").replace("T", " ")[:19],
            " ".join(f"{k}:{v}" for k, v in sorted((t.get("tags") or {}).items())),
            outcome,
        )
    Console(file=out).print(table)


def rows_table(columns: list[str], rows: list[list[str]], out: TextIO = sys.stdout) -> None:
    """Rows of text as a rich table, for a terminal (``taskdaemond schedules``)."""
    table = Table(show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(file=out).print(table)
