"""Payload scaling: task_data of 1 KiB to 64 MiB through the daemon and a Python handler and back.

For each size, MB/s of payload (the size over the round-trip time), three ways, interleaved:
  - pipe:    the task line through a pipe to a process that writes it straight back
             (bench/handlers/pipe_echo.py): the raw pipe bandwidth, there and back;
  - handler: the task line through the Python SDK echo handler, no daemon;
  - taskdaemon: POST /queue?wait=60 with the data, answered with the task's final record (data
             and result both), through taskdaemond's SQLite queue and the same handler.
The headline is taskdaemon/pipe per size. The client's own costs are kept small, as the pipe's
are: the stdlib's http.client on one kept-alive connection (httpx adds 1-2 ms a round trip), the
request body encoded before the clock starts (as the pipe's line is), and the answer parsed with
orjson, a few ms for 32 MiB, where the stdlib's json takes about 150.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import orjson

from common import HANDLERS, MIB, PYTHON, Mode, print_table, ratio, spread, summary, workdir, write_result
from daemon_run import Daemon, running_daemon
from sdk_loop import ping_pong

JSON_BODY = {"content-type": "application/json"}


def task_data(size: int) -> dict[str, str]:
    """An object whose JSON is `size` bytes, give or take its 12 bytes of braces and key."""
    return {"blob": "x" * max(0, size - 12)}


def line_for(size: int) -> bytes:
    task = {"task_id": "p1", "task_type": "echo", "task_data": task_data(size), "attempt": 0}
    return json.dumps(task, separators=(",", ":")).encode() + b"\n"


def trips(size: int) -> int:
    """Round trips per measurement: enough for small payloads to take a measurable time, and at
    least three for large ones, so that a measurement is not one process's first large buffer."""
    return max(3, min(50, (4 * MIB) // size))


def pipe_seconds(kind: str, size: int) -> float:
    """Seconds per round trip of a task line of `size` through a warm process."""
    line = line_for(size)
    count = trips(size)
    rate, _, answers = ping_pong([PYTHON, "-u", str(HANDLERS / f"{kind}_echo.py")], [line] * (count + 1), 1)
    if len(answers[-1]) < size:
        raise RuntimeError(f"{kind}: a {size}-byte task came back as {len(answers[-1])} bytes")
    return 1 / rate


def daemon_seconds(daemon: Daemon, size: int) -> float:
    """Seconds per round trip of `size` bytes of task_data through the daemon and back.

    A connection per measurement: the daemon closes one left idle while the pipe is measured."""
    data = task_data(size)
    body = orjson.dumps({"type": "echo", "data": data})
    count = trips(size)
    connection = daemon.http_connection(timeout=300)
    connection.connect()
    started = time.perf_counter()
    for _ in range(count):
        connection.request("POST", "/queue?wait=60", body, JSON_BODY)
        answer = connection.getresponse()
        task = orjson.loads(answer.read())
        if answer.status != 200 or task["status"] != "completed" or task["result"] != data:
            raise RuntimeError(f"taskdaemon: a {size}-byte task: HTTP {answer.status}, {task.get('status')}")
    seconds = (time.perf_counter() - started) / count
    connection.close()
    return seconds


def label(size: int) -> str:
    return f"{size // MIB} MiB" if size >= MIB else f"{size // 1024} KiB"


def run(mode: Mode) -> dict[str, Any]:
    mb_s: dict[int, dict[str, list[float]]] = {
        s: {"pipe": [], "handler": [], "taskdaemon": []} for s in mode.payload_sizes
    }
    with (
        workdir("payload") as tmp,
        running_daemon(tmp, "sqlite", 1, max_body_size=256 * MIB) as daemon,
    ):
        daemon_seconds(daemon, 1024)  # warm-up
        for _ in range(mode.repeat):
            for size in mode.payload_sizes:
                mb_s[size]["pipe"].append(size / 1e6 / pipe_seconds("pipe", size))
                mb_s[size]["handler"].append(size / 1e6 / pipe_seconds("sdk", size))
                mb_s[size]["taskdaemon"].append(size / 1e6 / daemon_seconds(daemon, size))
    results: dict[str, Any] = {}
    rows = []
    for size, by in mb_s.items():
        entry: dict[str, Any] = {kind: summary(values) for kind, values in by.items()}
        entry["taskdaemon_over_pipe"] = ratio(by["taskdaemon"], by["pipe"])
        entry["handler_over_pipe"] = ratio(by["handler"], by["pipe"])
        results[str(size)] = entry
        rows.append(
            [
                label(size),
                spread(entry["pipe"], "{:,.1f}"),
                spread(entry["handler"], "{:,.1f}"),
                spread(entry["taskdaemon"], "{:,.1f}"),
                spread(entry["handler_over_pipe"], "{:.2f}"),
                spread(entry["taskdaemon_over_pipe"], "{:.3f}"),
            ]
        )
    print_table(
        "Payload scaling: MB/s of task_data there and back, one task at a time, "
        f"median (min-max) of {mode.repeat}",
        ["task_data", "raw pipe", "SDK handler", "taskdaemon", "handler/pipe", "taskdaemon/pipe"],
        rows,
    )
    data = {"repeat": mode.repeat, "sizes": results}
    write_result("payload", mode, data)
    return data


if __name__ == "__main__":
    from common import MODES

    run(MODES[sys.argv[1] if len(sys.argv) > 1 else "quick"])
