"""`make demo`: start taskdaemond on a handlers.toml, submit a task to every handler, print the
results as a table, stop the daemon cleanly (SIGTERM, by pid).

    .venv/bin/python daemon/scripts/demo.py --config examples/handlers.toml [--data TYPE=JSON ...]

Sample data is picked by the task type's name (hello -> {"name": ...}, wordcount -> {"text": ...},
primes -> {"limit": ...}); --data gives any type its own. Exits 1 if a task did not complete.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from taskdaemond.config import load_config

#: Sample task data by a word in the task type's name.
SAMPLES: dict[str, dict[str, Any]] = {
    "hello": {"name": "TaskDaemon"},
    "wordcount": {"text": "the quick brown fox jumps over the lazy dog and the quick cat"},
    "primes": {"limit": 100},
}
START_TIMEOUT = 60.0  # seconds for the daemon and its warm pools to come up
TASK_TIMEOUT = 60.0  # seconds each task may take


def sample_for(task_type: str, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if task_type in overrides:
        return overrides[task_type]
    return next((data for word, data in SAMPLES.items() if word in task_type), {})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    overrides = {}
    for item in items:
        task_type, _, text = item.partition("=")
        data = json.loads(text)
        if not isinstance(data, dict):
            sys.exit(f"demo: --data {task_type}: the data must be a JSON object")
        overrides[task_type] = data
    return overrides


def wait_until_ready(client: httpx.Client, daemon: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            sys.exit(f"demo: the daemon exited with {daemon.returncode}:\n{log.read_text()}")
        try:
            pools = client.get("/health").json()["pools"]
            if all(pool["idle"] + pool["active"] > 0 for pool in pools.values()):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sys.exit(f"demo: the daemon was not ready within {START_TIMEOUT:g} s; log: {log}")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", required=True, help="handlers.toml to run")
    parser.add_argument(
        "--data", action="append", default=[], metavar="TYPE=JSON", help="task data for a type"
    )
    args = parser.parse_args()
    overrides = parse_overrides(args.data)
    config = load_config(args.config, {})
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="taskdaemon-demo-") as tmp:
        log = Path(tmp) / "daemon.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
        env.update({"DAEMON_PORT": str(port), "DAEMON_DB_PATH": str(Path(tmp) / "demo.db")})
        print(
            f"starting taskdaemond on 127.0.0.1:{port} with {args.config} ({len(config.handlers)} handlers)"
        )
        with log.open("wb") as log_file:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "taskdaemond", "serve", "--config", args.config],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
            )
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TASK_TIMEOUT + 10) as client:
                    wait_until_ready(client, daemon, log)
                    submitted = []
                    for task_type in config.handlers:
                        data = sample_for(task_type, overrides)
                        task_id = client.post("/queue", json={"type": task_type, "data": data}).json()[
                            "task_id"
                        ]
                        submitted.append((task_type, data, task_id))
                    rows = []
                    for task_type, data, task_id in submitted:
                        task = client.get(f"/api/tasks/{task_id}", params={"wait": TASK_TIMEOUT}).json()
                        outcome = task["result"] if task["status"] == "completed" else task["last_error"]
                        rows.append(
                            [task_type, json.dumps(data)[:40], task["status"], json.dumps(outcome)[:70]]
                        )
            finally:
                daemon.send_signal(signal.SIGTERM)
                code = daemon.wait(60)
        print(table(rows, ["type", "data", "status", "result / error"]))
        print(f"daemon stopped (exit code {code})")
        return 0 if code == 0 and all(row[2] == "completed" for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
