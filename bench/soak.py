"""Soak: a steady load through taskdaemond while the daemon is SIGKILLed at random moments and
restarted; at the end, every submitted task is accounted for. Run on demand (not in `make test`):

    .venv/bin/python bench/soak.py --quick                    # SQLite, 10 kills, under 5 minutes
    .venv/bin/python bench/soak.py --long                     # SQLite, 100 kills, about 55 minutes
    .venv/bin/python bench/soak.py --long --queue postgres    # two daemons, one PostgreSQL, one daemon killed

The submitter sends small tasks at a steady rate (POST /queue/batch, an idempotency key per
task, a batch that got no answer sent again with the same keys until one comes: what a careful
submitter does) and keeps every task id it was given. Each handler run appends the task id, its
attempt and the time to a file (bench/handlers/soak_record.py). The daemon is killed with
SIGKILL at a random moment in each of N equal slices of the run and restarted at once. Every
second the bench samples the database size, the daemon's RSS and the handler runs per second.
Near the start and near the end it times claims (a queue object of its own on the same database,
claiming and releasing tasks of a type no handler serves) and `GET /api/tasks`.

At the end (load stopped, the queue drained) it reads the database and the run records: tasks
submitted, accepted, completed (still in the database, or pruned after they finished: pruning
only ever deletes finished tasks), lost (accepted and not completed: must be 0), run more than
once and whether a kill fell between the runs (the task was in flight at that kill). Retention
is on (`completed_ttl` of 30 s in quick mode, 10 min in long mode, pruned every 5 s), so the
database stays bounded however long the run.

Results: bench/results/soak-<queue>-<mode>.json and, drawn with matplotlib when it is installed
(`bench/.venv`, see setup.sh), soak-<queue>-<mode>.png: database size and throughput over time,
kills marked. `--plot FILE.json` redraws a plot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from common import HANDLERS, PYTHON, RESULTS, free_port, machine, print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

RECORD_HANDLER = HANDLERS / "soak_record.py"
#: Task type of the claim probes: no handler serves it, so only the probe claims it.
PROBE_TYPE = "soak-probe"


@dataclass(frozen=True)
class Plan:
    """How long, how hard, how many kills."""

    name: str
    duration: float  # seconds of load
    kills: int
    rate: float  # tasks per second submitted
    completed_ttl: str
    drain: float  # seconds the queue may take to empty after the load stops
    probes: int  # claims and GETs timed at the start and at the end


QUICK = Plan("quick", duration=170.0, kills=10, rate=400.0, completed_ttl="30s", drain=60.0, probes=100)
LONG = Plan("long", duration=3000.0, kills=100, rate=400.0, completed_ttl="10m", drain=300.0, probes=300)

WARMUP = 8.0  # seconds of load before the first probes and the first kill
BATCH = 100  # tasks per POST /queue/batch


class SoakError(RuntimeError):
    """Raised when a daemon does not start or the queue does not drain in time."""


# -- daemons ----------------------------------------------------------------------------------


class DaemonProcess:
    """One `taskdaemond serve`, killed and restarted by pid."""

    def __init__(self, config: Path, log: Path, env: dict[str, str]) -> None:
        self.config = config
        self.log = log
        self.env = env
        self.port = int(env["DAEMON_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own daemon, from this interpreter
                [PYTHON, "-m", "taskdaemond", "serve", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        self.pids.append(self.process.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SoakError(f"taskdaemond exited with {self.process.returncode}; log: {self.log}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise SoakError(f"taskdaemond did not answer within 60 s; log: {self.log}")

    def kill(self) -> None:
        """SIGKILL: no shutdown runs; its handlers see their stdin close and exit."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


def stray_handlers(record: Path) -> list[int]:
    """Pids of soak handlers still running for this run (their $SOAK_RECORD is ours)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if str(RECORD_HANDLER) not in (entry / "cmdline").read_bytes().decode(errors="replace"):
                continue
            if f"SOAK_RECORD={record}".encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- the store, read directly ---------------------------------------------------------------


class Store:
    """The queue's database as the bench sees it: its size, and at the end every task's status."""

    def __init__(self, queue: str, db: Path, url: str | None) -> None:
        self.queue = queue
        self.db = db
        self.url = url

    def size_bytes(self) -> int:
        if self.queue == "postgres":
            import psycopg

            with psycopg.connect(self.url or "", connect_timeout=3) as conn:
                row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
                return int(row[0]) if row else 0
        total = 0
        for path in (self.db, self.db.with_name(self.db.name + "-wal")):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def statuses(self) -> dict[str, str]:
        query = "SELECT id, status FROM tasks WHERE task_type = 'echo'"
        if self.queue == "postgres":
            import psycopg

            with psycopg.connect(self.url or "") as conn:
                return {row[0]: row[1] for row in conn.execute(query).fetchall()}
        with sqlite3.connect(self.db) as db:
            return {row[0]: row[1] for row in db.execute(query)}

    def unfinished(self) -> int:
        query = "SELECT count(*) FROM tasks WHERE task_type = 'echo' AND status IN ('pending', 'processing')"
        if self.queue == "postgres":
            import psycopg

            with psycopg.connect(self.url or "") as conn:
                row = conn.execute(query).fetchone()
                return int(row[0]) if row else -1
        with sqlite3.connect(self.db, timeout=10) as db:
            return int(db.execute(query).fetchone()[0])

    def open_queue(self) -> Any:
        """A queue object of the bench's own on the same database (no recovery: daemons run)."""
        if self.queue == "postgres":
            from taskdaemond.queue.postgres import PostgresQueue

            return PostgresQueue(self.url or "")
        from taskdaemond.queue.sqlite import SqliteQueue

        return SqliteQueue(self.db)


# -- load, samples, probes ------------------------------------------------------------------


@dataclass
class Shared:
    """What the submitter and the sampler record while the run goes on."""

    accepted: dict[int, str] = field(default_factory=dict)  # task number -> task id
    submitted: int = 0
    retried_batches: int = 0
    samples: list[dict[str, float | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def submitter(urls: list[str], live: dict[str, bool], plan: Plan, shared: Shared, started: float) -> None:
    """Submit ``plan.rate`` tasks a second until stopped; a batch without an answer is sent
    again, same idempotency keys, to a live daemon, until it is accepted."""
    turn = 0
    with httpx.Client(timeout=10) as client:
        while not shared.stop.is_set():
            due = int((time.monotonic() - started) * plan.rate)
            if shared.submitted >= due:
                time.sleep(0.01)
                continue
            first = shared.submitted
            count = min(BATCH, due - first)
            body = {
                "tasks": [
                    {"type": "echo", "data": {"n": n}, "idempotency_key": f"soak-{n}"}
                    for n in range(first, first + count)
                ]
            }
            with shared.lock:
                shared.submitted = first + count
            for attempt in range(100_000):  # bounded; each try waits a little
                if shared.stop.is_set() and attempt:
                    break
                candidates = [u for u in urls if live[u]] or urls
                url = candidates[turn % len(candidates)]
                turn += 1
                try:
                    response = client.post(f"{url}/queue/batch", json=body)
                    if response.status_code == 200:
                        ids = response.json()["task_ids"]
                        with shared.lock:
                            shared.accepted.update(zip(range(first, first + count), ids, strict=True))
                        break
                except httpx.HTTPError:
                    pass
                shared.retried_batches += 1
                time.sleep(0.05)


def sampler(store: Store, victim: DaemonProcess, record: Path, shared: Shared, started: float) -> None:
    """Every second: database size, the killed daemon's RSS, handler runs per second."""
    runs = 0
    offset = 0
    last = (time.monotonic(), 0)
    while not shared.stop.wait(1.0):
        try:
            with record.open("rb") as file:
                file.seek(offset)
                chunk = file.read()
            offset += len(chunk)
            runs += chunk.count(b"\n")
        except FileNotFoundError:
            pass
        now = time.monotonic()
        try:
            size = store.size_bytes() / 2**20
        except Exception:  # noqa: BLE001 - a sample is skipped while the database is busy
            size = None
        shared.samples.append(
            {
                "t": now - started,
                "db_mib": size,
                "rss_mib": rss_mib(victim.pid),
                "runs_per_s": (runs - last[1]) / (now - last[0]),
                "accepted": float(len(shared.accepted)),
            }
        )
        last = (now, runs)


async def time_claims(store: Store, count: int) -> list[float]:
    """Milliseconds of ``count`` claims of one task each, on a queue object of our own."""
    queue = store.open_queue()
    await queue.open(recover=False)
    try:
        from taskdaemond.queue import NewTask

        await queue.submit([NewTask(PROBE_TYPE, "{}", 50, 0) for _ in range(10)], time.time())
        times = []
        for _ in range(count):
            begin = time.perf_counter()
            claimed = await queue.claim(PROBE_TYPE, 1, time.time())
            times.append((time.perf_counter() - begin) * 1000)
            await queue.release([t.id for t in claimed])
        for _ in range(10):
            for task in await queue.claim(PROBE_TYPE, 10, time.time()):
                await queue.delete(task.id)
        return times
    finally:
        await queue.close()


def time_listing(url: str, count: int) -> dict[str, list[float]]:
    """Milliseconds of GET /api/tasks, pending only and unfiltered, ``count`` of each."""
    out: dict[str, list[float]] = {"pending": [], "all": []}
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            queries: tuple[tuple[str, dict[str, str | int]], ...] = (
                ("pending", {"status": "pending", "limit": 100}),
                ("all", {"limit": 100}),
            )
            for name, params in queries:
                begin = time.perf_counter()
                try:
                    client.get("/api/tasks", params=params).raise_for_status()
                except httpx.HTTPError:
                    continue  # the daemon is being restarted: not a listing time
                out[name].append((time.perf_counter() - begin) * 1000)
    return out


def probe(store: Store, url: str, count: int) -> dict[str, float]:
    claims = asyncio.run(time_claims(store, count))
    listing = time_listing(url, count)
    return {
        "claim_ms": statistics.median(claims),
        "list_pending_ms": statistics.median(listing["pending"]),
        "list_all_ms": statistics.median(listing["all"]),
    }


# -- the run --------------------------------------------------------------------------------


def write_config(  # noqa: PLR0913 - the settings of one daemon
    path: Path, plan: Plan, *, port: int, queue: str, db: Path, url: str | None, record: Path
) -> None:
    lines = [
        "[daemon]",
        f"port = {port}",
        f'queue = "{queue}"',
        f"db_path = {json.dumps(str(db))}",
        'log_level = "warning"',
        f'completed_ttl = "{plan.completed_ttl}"',
        "prune_interval = 5",
        "shutdown_grace = 5",
    ]
    if url:
        lines += [f"database_url = {json.dumps(url)}", "lease_seconds = 4"]
    lines += [
        "",
        "[handlers.echo]",
        f"command = {json.dumps([PYTHON, '-u', str(RECORD_HANDLER)])}",
        "instances = 2",
        "retries = 10",
        f"env = {{ SOAK_RECORD = {json.dumps(str(record))} }}",  # handlers get a clean environment
    ]
    path.write_text("\n".join(lines) + "\n")


def kill_times(plan: Plan, rng: random.Random) -> list[float]:
    """One random moment in each of ``kills`` equal slices between the start probes and the end ones."""
    first, last = WARMUP + 12, plan.duration - 12
    width = (last - first) / plan.kills
    return [first + i * width + rng.uniform(0.1, 0.9) * width for i in range(plan.kills)]


def run(plan: Plan, queue: str, seed: int, workdir: Path) -> dict[str, Any]:  # noqa: C901, PLR0915 - reads as its steps
    rng = random.Random(seed)  # noqa: S311 - kill moments, not secrets
    record = workdir / "runs.log"
    db = workdir / "soak.db"
    cluster = None
    url = None
    if queue == "postgres":
        from tests.pgcluster import start_cluster

        cluster = start_cluster({"synchronous_commit": "off"})
        url = cluster.create_database("soak")
    daemons = []
    for index in range(2 if queue == "postgres" else 1):
        port = free_port()
        config = workdir / f"handlers-{index}.toml"
        write_config(config, plan, port=port, queue=queue, db=db, url=url, record=record)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
        env["DAEMON_PORT"] = str(port)
        daemons.append(DaemonProcess(config, workdir / f"daemon-{index}.log", env))
    victim = daemons[0]
    store = Store(queue, db, url)
    shared = Shared()
    kills: list[dict[str, float]] = []
    try:
        for daemon in daemons:
            daemon.start()
        live = {d.url: True for d in daemons}
        started = time.monotonic()
        threads = [
            threading.Thread(target=submitter, args=([d.url for d in daemons], live, plan, shared, started)),
            threading.Thread(target=sampler, args=(store, victim, record, shared, started)),
        ]
        for thread in threads:
            thread.start()
        time.sleep(WARMUP)
        start_probe = probe(store, victim.url, plan.probes)
        print(f"start: {start_probe}", flush=True)
        for at in kill_times(plan, rng):
            time.sleep(max(0.0, at - (time.monotonic() - started)))
            live[victim.url] = False
            moment, killed_at = time.monotonic() - started, time.time()
            victim.kill()
            dead_at = time.time()  # reaped: nothing of it runs after this
            victim.start()
            live[victim.url] = True
            kills.append(
                {"at": killed_at, "dead_at": dead_at, "t": moment, "down_s": time.time() - killed_at}
            )
            print(
                f"kill {len(kills)}/{plan.kills} at {moment:.0f} s: back in {kills[-1]['down_s']:.2f} s",
                flush=True,
            )
        time.sleep(max(0.0, plan.duration - 8 - (time.monotonic() - started)))
        end_probe = probe(store, victim.url, plan.probes)
        print(f"end: {end_probe}", flush=True)
        time.sleep(max(0.0, plan.duration - (time.monotonic() - started)))
        shared.stop.set()
        for thread in threads:
            thread.join(120)
        deadline = time.monotonic() + plan.drain
        while store.unfinished() and time.monotonic() < deadline:
            time.sleep(0.5)
        drained = store.unfinished() == 0
        final_rss = rss_mib(victim.pid)
    finally:
        shared.stop.set()
        for daemon in daemons:
            daemon.stop()
        for pid in stray_handlers(record):
            os.kill(pid, signal.SIGKILL)
    statuses = store.statuses()
    if cluster is not None:
        cluster.destroy()
    return account(
        plan,
        queue=queue,
        seed=seed,
        shared=shared,
        statuses=statuses,
        record=record,
        kills=kills,
        start_probe=start_probe,
        end_probe=end_probe,
        drained=drained,
        final_rss=final_rss,
    )


def account(  # noqa: PLR0913 - everything the run measured
    plan: Plan,
    *,
    queue: str,
    seed: int,
    shared: Shared,
    statuses: dict[str, str],
    record: Path,
    kills: list[dict[str, float]],
    start_probe: dict[str, float],
    end_probe: dict[str, float],
    drained: bool,
    final_rss: float | None,
) -> dict[str, Any]:
    runs: dict[str, list[float]] = defaultdict(list)
    for line in record.read_text().splitlines():
        task_id, _attempt, at = line.split()
        runs[task_id].append(float(at))
    accepted = set(shared.accepted.values())
    completed = {i for i in accepted if statuses.get(i) == "completed" or (i not in statuses and runs.get(i))}
    lost = sorted(accepted - completed)
    twice = {i: sorted(t) for i, t in runs.items() if len(t) > 1}
    # In flight at a kill: a run started before the daemon was dead, the next one after the
    # SIGKILL was sent (a run that started between the two was in flight too).
    across_kill = sum(
        1 for times in twice.values() if any(times[0] <= k["dead_at"] and times[-1] >= k["at"] for k in kills)
    )
    return {
        "plan": plan.__dict__,
        "queue": queue,
        "daemons": 2 if queue == "postgres" else 1,
        "seed": seed,
        "submitted": shared.submitted,
        "accepted": len(accepted),
        "completed": len(completed),
        "completed_still_stored": sum(1 for i in accepted if statuses.get(i) == "completed"),
        "lost": len(lost),
        "lost_ids": lost[:20],
        "lost_statuses": {
            s: sum(1 for i in lost if statuses.get(i, "absent") == s)
            for s in {statuses.get(i, "absent") for i in lost}
        },
        "ran_more_than_once": len(twice),
        "ran_more_than_once_across_a_kill": across_kill,
        "ran_more_than_once_without_a_kill": len(twice) - across_kill,
        "runs_never_accepted": sum(1 for i in runs if i not in accepted),
        "retried_batches": shared.retried_batches,
        "kills": kills,
        "drained": drained,
        "start": start_probe,
        "end": end_probe,
        "final_rss_mib": final_rss,
        "samples": shared.samples,
    }


# -- report ---------------------------------------------------------------------------------


def report(result: dict[str, Any]) -> None:
    plan = result["plan"]
    print_table(
        f"soak ({plan['name']}, {result['queue']}, {result['daemons']} daemon(s), "
        f"{len(result['kills'])} kills, {plan['rate']:.0f} tasks/s for {plan['duration']:.0f} s)",
        ["", "tasks"],
        [
            ["submitted", f"{result['submitted']:,}"],
            ["accepted", f"{result['accepted']:,}"],
            [
                "completed",
                f"{result['completed']:,} ({result['completed_still_stored']:,} still stored, rest pruned)",
            ],
            ["LOST (must be 0)", f"{result['lost']:,} {result['lost_statuses'] or ''}"],
            ["ran more than once", f"{result['ran_more_than_once']:,}"],
            ["  of which a kill fell between the runs", f"{result['ran_more_than_once_across_a_kill']:,}"],
            ["  of which with no kill between", f"{result['ran_more_than_once_without_a_kill']:,}"],
            ["batches sent again (no answer)", f"{result['retried_batches']:,}"],
        ],
    )
    samples = [s for s in result["samples"] if s["db_mib"] is not None]
    step = max(1, len(samples) // 10)
    print_table(
        "over time",
        ["t (s)", "database (MiB)", "daemon RSS (MiB)", "runs/s (1 s)", "accepted"],
        [
            [
                f"{s['t']:.0f}",
                f"{s['db_mib']:.1f}",
                f"{s['rss_mib'] or 0:.0f}",
                f"{s['runs_per_s']:.0f}",
                f"{s['accepted']:,.0f}",
            ]
            for s in samples[::step] + samples[-1:]
        ],
    )
    start, end = result["start"], result["end"]
    print_table(
        "medians at the start and at the end",
        ["", "start (ms)", "end (ms)", "end/start"],
        [
            [name, f"{start[key]:.2f}", f"{end[key]:.2f}", f"{end[key] / start[key]:.2f}"]
            for name, key in (
                ("claim (1 task)", "claim_ms"),
                ("GET /api/tasks?status=pending", "list_pending_ms"),
                ("GET /api/tasks", "list_all_ms"),
            )
        ],
    )
    downs = [k["down_s"] for k in result["kills"]]
    if downs:
        print(f"\nrestart after SIGKILL: median {statistics.median(downs):.2f} s, max {max(downs):.2f} s")
    print(f"drained: {result['drained']}")


def plot(result: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib as mpl  # type: ignore[import-not-found,unused-ignore]

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print("matplotlib is not installed: no plot (bench/setup.sh makes bench/.venv with it; then --plot)")
        return False
    samples = [s for s in result["samples"] if s["db_mib"] is not None]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    top.plot([s["t"] for s in samples], [s["db_mib"] for s in samples], label="database (MiB)")
    top.plot([s["t"] for s in samples], [s["rss_mib"] or 0 for s in samples], label="daemon RSS (MiB)")
    top.set_ylabel("MiB")
    top.legend(loc="upper left")
    bottom.plot(
        [s["t"] for s in result["samples"]], [s["runs_per_s"] for s in result["samples"]], linewidth=0.7
    )
    bottom.set_ylabel("handler runs / s")
    bottom.set_xlabel("seconds")
    for kill in result["kills"]:
        for axis in (top, bottom):
            axis.axvline(kill["t"], color="red", alpha=0.3, linewidth=0.8)
    plan = result["plan"]
    top.set_title(
        f"soak, {plan['name']}: {result['queue']}, {len(result['kills'])} SIGKILLs (red), "
        f"{result['accepted']:,} tasks, {result['lost']} lost"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="10 kills, under 5 minutes (the default)")
    mode.add_argument("--long", action="store_true", help="100 kills, for publishing")
    mode.add_argument("--plot", type=Path, help="redraw the plot of a results file, run nothing")
    parser.add_argument("--queue", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.plot:
        plot(json.loads(args.plot.read_text()), args.plot.with_suffix(".png"))
        return 0
    plan = LONG if args.long else QUICK
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        result = run(plan, args.queue, args.seed, Path(tmp))
    result["machine"] = machine()
    result["wall_s"] = time.monotonic() - began
    report(result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"soak-{args.queue}-{plan.name}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results: {out} ({result['wall_s']:.0f} s)")
    plot(result, out.with_suffix(".png"))
    return 0 if result["lost"] == 0 and result["drained"] else 1


if __name__ == "__main__":
    sys.exit(main())
