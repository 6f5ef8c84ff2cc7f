"""SDK loop cost: no-op echo tasks per second through one handler process over pipes.

For each SDK (python, ruby, typescript) one minimal driver (this file) feeds three programs in
that language:
  - sdk:  the echo handler written with the SDK (bench/handlers/sdk_echo.*);
  - raw:  a hand-written loop with no SDK: read a line, parse, dump, write, flush (raw_echo.*);
  - pipe: the same bytes straight back, nothing parsed (pipe_echo.*): the floor.
two ways: ping-pong, one task in flight at a time as the daemon does (a round trip per task,
so the scheduler's wake-ups weigh in), and streamed, the pipe kept full by a writer thread
(the handler's own rate). The headline is sdk/raw per language (target >= 0.8).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from common import HANDLERS, PYTHON, REPO, BenchError, Mode, print_table, ratio, spread, summary, write_result

PROGRAMS = {
    "python": lambda kind: [PYTHON, "-u", str(HANDLERS / f"{kind}_echo.py")],
    "ruby": lambda kind: ["ruby", "-I", str(REPO / "sdks/ruby/lib"), str(HANDLERS / f"{kind}_echo.rb")],
    "typescript": lambda kind: ["node", str(HANDLERS / f"{kind}_echo.mjs")],
}
KINDS = ("sdk", "raw", "pipe")
WARM_UP = 300  # tasks before timing: the JITs (node, ruby's YJIT when on) and caches settle


def task_lines(count: int) -> list[bytes]:
    return [
        json.dumps(
            {"task_id": f"t{n:08d}", "task_type": "echo", "task_data": {"n": n}, "attempt": 0},
            separators=(",", ":"),
        ).encode()
        + b"\n"
        for n in range(count)
    ]


def cpu_ns(pid: int) -> int:
    """Nanoseconds the process has run on a CPU so far (the scheduler's own count, all threads)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total


def ping_pong(command: list[str], lines: list[bytes], warm_up: int) -> tuple[float, float, list[bytes]]:
    """Tasks/s of one process answering `lines` one at a time, its CPU microseconds per task, and
    the answers, to check. CPU time per task barely moves when the machine is busy; tasks/s does."""
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)  # noqa: S603
    assert process.stdin is not None
    assert process.stdout is not None
    write_fd, read_fd = process.stdin.fileno(), process.stdout.fileno()
    answers: list[bytes] = []

    def round_trip(line: bytes) -> None:
        # One task in flight: the answer is the only thing on the pipe, so a chunk ending in LF
        # ends it. Chunks are joined once (a 64 MiB answer arrives in a thousand of them).
        view = memoryview(line)
        while view:
            view = view[os.write(write_fd, view[: 1 << 20]) :]
        chunks = []
        while True:
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                raise BenchError(f"{command} closed its stdout")
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
        answers.append(b"".join(chunks)[:-1])

    try:
        for line in lines[:warm_up]:
            round_trip(line)
        cpu_before = cpu_ns(process.pid)
        started = time.perf_counter()
        for line in lines[warm_up:]:
            round_trip(line)
        elapsed = time.perf_counter() - started
        cpu = cpu_ns(process.pid) - cpu_before
    finally:
        process.stdin.close()
        process.wait(30)
    timed = len(lines) - warm_up
    return timed / elapsed, cpu / 1000 / timed, answers


def check(kind: str, lines: list[bytes], answers: list[bytes]) -> None:
    """Every answer is the right one: the SDK and raw loops echo task_data under the task's id."""
    for line, answer in zip(lines, answers, strict=True):
        if kind == "pipe":
            if answer + b"\n" != line:
                raise BenchError(f"pipe echo answered {answer!r} to {line!r}")
            continue
        task, result = json.loads(line), json.loads(answer)
        if (
            result.get("status") != "success"
            or result.get("result") != task["task_data"]
            or result.get("task_id") != task["task_id"]
        ):
            raise BenchError(f"{kind} echo answered {answer!r} to {line!r}")


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[: 1 << 20]) :]


def streamed(command: list[str], lines: list[bytes], warm_up: int) -> tuple[float, list[bytes]]:
    """Tasks/s of one process answering `lines` with the pipe kept full (a writer thread feeds it
    while this thread reads): the handler's own rate, without waiting for a round trip per task."""
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)  # noqa: S603
    assert process.stdin is not None
    assert process.stdout is not None
    write_fd, read_fd = process.stdin.fileno(), process.stdout.fileno()

    def read_lines(count: int) -> list[bytes]:
        chunks, seen = [], 0
        while seen < count:
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                raise BenchError(f"{command} closed its stdout")
            chunks.append(chunk)
            seen += chunk.count(b"\n")
        return b"".join(chunks).split(b"\n")[:count]

    try:
        os.write(write_fd, b"".join(lines[:warm_up]))
        answers = read_lines(warm_up)
        body = b"".join(lines[warm_up:])
        started = time.perf_counter()
        writer = threading.Thread(target=write_all, args=(write_fd, body), daemon=True)
        writer.start()
        answers += read_lines(len(lines) - warm_up)
        elapsed = time.perf_counter() - started
        writer.join(30)
    finally:
        process.stdin.close()
        process.wait(30)
    return (len(lines) - warm_up) / elapsed, answers


def run(mode: Mode, languages: tuple[str, ...] = tuple(PROGRAMS)) -> dict[str, Any]:
    lines = task_lines(WARM_UP + mode.sdk_tasks)
    ways = ("ping_pong", "streamed")
    rates = {lang: {way: {kind: [] for kind in KINDS} for way in ways} for lang in languages}
    cpu: dict[str, dict[str, list[float]]] = {lang: {kind: [] for kind in KINDS} for lang in languages}
    for _ in range(mode.sdk_repeat):
        for language in languages:
            for kind in KINDS:
                rate, cpu_us, answers = ping_pong(PROGRAMS[language](kind), lines, WARM_UP)
                check(kind, lines, answers)
                rates[language]["ping_pong"][kind].append(rate)
                cpu[language][kind].append(cpu_us)
                rate, answers = streamed(PROGRAMS[language](kind), lines, WARM_UP)
                check(kind, lines, answers)
                rates[language]["streamed"][kind].append(rate)
    results: dict[str, Any] = {}
    tables: dict[str, list[list[str]]] = {way: [] for way in ways}
    for language in languages:
        results[language] = {}
        for way in ways:
            r = rates[language][way]
            entry: dict[str, Any] = {kind: summary(r[kind]) for kind in KINDS}
            entry["sdk_over_raw"] = ratio(r["sdk"], r["raw"])
            entry["raw_over_pipe"] = ratio(r["raw"], r["pipe"])
            entry["sdk_over_pipe"] = ratio(r["sdk"], r["pipe"])
            row = [language, *(spread(entry[kind]) for kind in KINDS)]
            row += [spread(entry["sdk_over_raw"], "{:.2f}"), spread(entry["sdk_over_pipe"], "{:.2f}")]
            if way == "ping_pong":
                c = cpu[language]
                entry["cpu_us_per_task"] = {kind: summary(c[kind]) for kind in KINDS}
                # The handler's own CPU time per task: raw over SDK (1.0: the SDK costs nothing).
                entry["raw_over_sdk_cpu"] = ratio(c["raw"], c["sdk"])
                row += [
                    " / ".join(f"{entry['cpu_us_per_task'][kind]['median']:.1f}" for kind in KINDS),
                    spread(entry["raw_over_sdk_cpu"], "{:.2f}"),
                ]
            results[language][way] = entry
            tables[way].append(row)
    header = ["language", "sdk", "raw loop", "pipe", "sdk/raw", "sdk/pipe"]
    print_table(
        f"SDK loop cost, ping-pong: echo tasks/s through one process, one task in flight (as the daemon "
        f"does), {mode.sdk_tasks:,} tasks, median (min-max) of {mode.sdk_repeat}; target sdk/raw >= 0.80",
        [*header, "handler CPU us/task sdk / raw / pipe", "raw/sdk CPU"],
        tables["ping_pong"],
    )
    print_table(
        "SDK loop cost, streamed: the same, with the pipe kept full (the handler's own rate)",
        header,
        tables["streamed"],
    )
    data = {
        "tasks": mode.sdk_tasks,
        "repeat": mode.sdk_repeat,
        "target_sdk_over_raw": 0.8,
        "languages": results,
    }
    write_result("sdk_loop", mode, data)
    return data


if __name__ == "__main__":
    import sys

    from common import MODES

    run(MODES[sys.argv[1] if len(sys.argv) > 1 else "quick"])
