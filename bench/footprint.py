"""Footprint: resident memory (RSS) and start-up time.

- handler RSS, per SDK: the echo handler written with the SDK, idle after answering one task;
- handler start-up, per SDK: from spawning the process to reading its answer to the first task
  (written at once, so start-up and the first task are timed together);
- daemon RSS: taskdaemond (its own process, not its handlers) idle with one Python handler
  instance, and holding N queued tasks (100,000; submitted with a one-hour delay, so none runs),
  with the SQLite queue and with the memory queue.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx

from common import BenchError, Mode, print_table, rss_kib, spread, summary, workdir, write_result
from daemon_run import running_daemon
from sdk_loop import PROGRAMS, task_lines

BATCH = 1000


def handler_start(language: str) -> tuple[float, int]:
    """Seconds from spawn to the first answer, and the idle RSS (KiB) after it."""
    line = task_lines(1)[0]
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own handler programs
        PROGRAMS[language]("sdk"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        os.write(process.stdin.fileno(), line)
        answer = process.stdout.readline()
        elapsed = time.perf_counter() - started
        if b'"success"' not in answer:
            raise BenchError(f"{language} handler answered {answer!r}")
        time.sleep(0.2)  # let it settle into its read
        rss = rss_kib(process.pid)
    finally:
        process.stdin.close()
        process.wait(30)
    return elapsed, rss


def daemon_rss(queue: str, queued: int) -> tuple[int, int, float]:
    """The daemon's RSS (KiB) idle, then holding `queued` tasks; and the submit rate (tasks/s)."""
    with (
        workdir("footprint") as tmp,
        running_daemon(tmp, queue, 1) as daemon,
        httpx.Client(base_url=daemon.url, timeout=120) as client,
    ):
        time.sleep(0.5)
        idle = rss_kib(daemon.pid)
        started = time.perf_counter()
        for first in range(0, queued, BATCH):
            count = min(BATCH, queued - first)
            body = {
                "tasks": [{"type": "echo", "data": {"n": first + n}, "delay": 3600} for n in range(count)]
            }
            client.post("/queue/batch", json=body).raise_for_status()
        rate = queued / (time.perf_counter() - started)
        depth = client.get("/health").json().get("queue_depth")
        time.sleep(0.5)
        holding = rss_kib(daemon.pid)
        if isinstance(depth, int) and depth < queued:
            raise BenchError(f"{queue}: queue_depth {depth} after submitting {queued}")
    return idle, holding, rate


def run(mode: Mode) -> dict[str, Any]:
    starts: dict[str, list[float]] = {lang: [] for lang in PROGRAMS}
    rss: dict[str, list[float]] = {lang: [] for lang in PROGRAMS}
    for _ in range(mode.sdk_repeat):
        for language in PROGRAMS:
            seconds, kib = handler_start(language)
            starts[language].append(seconds * 1000)
            rss[language].append(kib / 1024)
    handlers = {lang: {"rss_mib": summary(rss[lang]), "start_ms": summary(starts[lang])} for lang in PROGRAMS}
    print_table(
        "Handler footprint, per SDK: idle RSS, and spawn to first answer, "
        f"median (min-max) of {mode.sdk_repeat}",
        ["SDK", "idle RSS MiB", "start-up to first answer ms"],
        [
            [lang, spread(h["rss_mib"], "{:.1f}"), spread(h["start_ms"], "{:.0f}")]
            for lang, h in handlers.items()
        ],
    )
    daemon: dict[str, Any] = {}
    for queue in ("sqlite", "memory"):
        idle, holding, rate = daemon_rss(queue, mode.footprint_queued)
        daemon[queue] = {
            "idle_rss_mib": idle / 1024,
            "queued": mode.footprint_queued,
            "holding_rss_mib": holding / 1024,
            "submit_tasks_per_s": rate,
        }
    print_table(
        f"Daemon footprint: taskdaemond's own RSS, idle and holding {mode.footprint_queued:,} queued tasks",
        ["queue", "idle MiB", f"{mode.footprint_queued:,} queued MiB", "submit tasks/s (batches of 1,000)"],
        [
            [q, f"{d['idle_rss_mib']:.1f}", f"{d['holding_rss_mib']:.1f}", f"{d['submit_tasks_per_s']:,.0f}"]
            for q, d in daemon.items()
        ],
    )
    data = {"handlers": handlers, "daemon": daemon}
    write_result("footprint", mode, data)
    return data


if __name__ == "__main__":
    from common import MODES

    run(MODES[sys.argv[1] if len(sys.argv) > 1 else "quick"])
