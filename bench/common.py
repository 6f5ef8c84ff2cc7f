"""What every measurement shares: modes, statistics, result files, tables, free ports, servers.

Benchmarks are not tests: the machines are shared and noisy, so every figure is the median of
several repetitions (with min and max), and the headline figures are ratios of rates measured in
the same run, repetitions interleaved.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
HANDLERS = BENCH / "handlers"
PYTHON = sys.executable


@dataclass(frozen=True)
class Mode:
    """How much each measurement does: quick (under 5 minutes in all) or full (for publishing)."""

    name: str
    repeat: int  # repetitions of each measurement, interleaved
    sdk_repeat: int  # repetitions of the SDK loop measurements (cheap, and the noisiest)
    sdk_tasks: int  # tasks per SDK loop measurement
    tasks: int  # tasks per daemon (and process pool) throughput measurement
    instances: tuple[int, ...]  # worker processes for the throughput measurements
    peer_tasks: int  # tasks per broker-based peer measurement (they run 20-40x slower)
    peer_instances: tuple[int, ...]  # worker processes for the broker-based peers
    latency_tasks: int
    payload_sizes: tuple[int, ...]
    footprint_queued: int


KIB, MIB = 1024, 1024 * 1024
SIZES = (KIB, 64 * KIB, MIB, 16 * MIB, 64 * MIB)
MODES = {
    "quick": Mode(
        name="quick",
        repeat=3,
        sdk_repeat=5,
        sdk_tasks=5_000,
        tasks=10_000,
        instances=(1, 2, 4),
        peer_tasks=500,
        peer_instances=(2,),
        latency_tasks=2_000,
        payload_sizes=SIZES,
        footprint_queued=100_000,
    ),
    "full": Mode(
        name="full",
        repeat=5,
        sdk_repeat=9,
        sdk_tasks=30_000,
        tasks=100_000,
        instances=(1, 2, 4),
        peer_tasks=5_000,
        peer_instances=(1, 2, 4),
        latency_tasks=2_000,
        payload_sizes=SIZES,
        footprint_queued=100_000,
    ),
}


def summary(samples: list[float]) -> dict[str, Any]:
    """Median, min and max of repeated measurements, and the samples themselves."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": samples,
    }


def ratio(numerator: list[float], denominator: list[float]) -> dict[str, Any]:
    """Ratios of paired repetitions (run i over run i), summarised: pairs ran side by side."""
    return summary([n / d for n, d in zip(numerator, denominator, strict=True)])


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_result(name: str, mode: Mode, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"name": name, "mode": mode.name, "machine": machine(), **data}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """A plain aligned table: first column left, the rest right."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header, *rows]:
        cells = [str(row[0]).ljust(widths[0])] + [
            str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("  " + "  ".join(cells))
    sys.stdout.flush()


def spread(stats: dict[str, Any], fmt: str = "{:,.0f}") -> str:
    """'median (min-max)' for a table cell."""
    return f"{fmt.format(stats['median'])} ({fmt.format(stats['min'])}-{fmt.format(stats['max'])})"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{what} exited with {process.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise BenchError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM the process by its pid, then SIGKILL when it does not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BenchError(RuntimeError):
    """A system under measurement did not start, did not finish, or answered wrongly."""


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"taskdaemon-bench-{prefix}-") as tmp:
        yield Path(tmp)


@contextmanager
def redis_server() -> Iterator[str]:
    """Debian's redis-server on 127.0.0.1, a free port and a temp dir, no persistence; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed: run bench/setup.sh")
    port = free_port()
    with workdir("redis") as tmp:
        process = subprocess.Popen(  # noqa: S603 - Debian's redis-server, our arguments
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(tmp),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, process, "redis-server")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            stop(process)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")
