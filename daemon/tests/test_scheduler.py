"""The scheduler with real handlers and a real queue: retries, budgets, crashes, timeouts,
protocol errors, cancel, and the shutdown sequence."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from taskdaemond.config import Config
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.queue import TaskRecord, open_queue
from taskdaemond.scheduler import Scheduler
from taskdaemond.statuses import TaskStatus
from tests.helpers import FAST_BACKOFF, handler_table, make_config

T = TypeVar("T")


def config(tmp_path: Path, queue: str = "sqlite", **handlers: dict[str, Any]) -> Config:
    tables = handlers or {"echo": handler_table("behave", backoff=FAST_BACKOFF, timeout=10)}
    return make_config(tmp_path, tables, {"queue": queue, "db_path": str(tmp_path / "q.db")})


def with_scheduler(cfg: Config, scenario: Callable[[Scheduler], Awaitable[T]], grace: float = 5) -> T:
    async def main() -> T:
        scheduler = Scheduler(cfg, open_queue(cfg.daemon), DaemonMetrics())
        await scheduler.start()
        try:
            return await scenario(scheduler)
        finally:
            await scheduler.shutdown(grace=grace)

    return asyncio.run(main())


async def submit_and_wait(s: Scheduler, task_type: str, data: dict[str, Any], **kw: Any) -> TaskRecord:
    [task_id] = await s.service.submit([s.service.make_task(task_type, data, **kw)])
    return await s.service.wait_final(task_id, 30)


def counter(s: Scheduler, name: str, task_type: str = "echo") -> float:
    return s.metrics.summary().get(task_type, {}).get(name, 0.0)


def test_task_runs_to_completion(tmp_path: Path) -> None:
    record = with_scheduler(config(tmp_path), lambda s: submit_and_wait(s, "echo", {"echo": [1, 2]}))
    assert record.status is TaskStatus.COMPLETED
    assert record.result == {"echo": [1, 2], "attempt": 0}
    assert record.attempts == 1 and record.errors == []


def test_memory_queue_runs_tasks_too(tmp_path: Path) -> None:
    record = with_scheduler(config(tmp_path, "memory"), lambda s: submit_and_wait(s, "echo", {"echo": 1}))
    assert record.status is TaskStatus.COMPLETED


def test_retryable_error_is_retried_with_the_next_attempt_until_it_succeeds(tmp_path: Path) -> None:
    async def scenario(s: Scheduler) -> tuple[TaskRecord, float]:
        record = await submit_and_wait(
            s, "echo", {"fail": "busy", "retryable": True, "succeed_on_attempt": 2}
        )
        return record, counter(s, "retried")

    record, retried = with_scheduler(config(tmp_path), scenario)
    assert record.status is TaskStatus.COMPLETED
    assert record.result == {"echo": None, "attempt": 2}
    assert [e["attempt"] for e in record.errors] == [0, 1]
    assert retried == 2


def test_retry_budget_spent_fails_the_task_keeping_every_error(tmp_path: Path) -> None:
    async def scenario(s: Scheduler) -> tuple[TaskRecord, float]:
        record = await submit_and_wait(s, "echo", {"fail": "busy", "retryable": True}, max_retries=2)
        return record, counter(s, "failed")

    record, failed = with_scheduler(config(tmp_path), scenario)
    assert record.status is TaskStatus.FAILED
    assert record.attempts == 3 and len(record.errors) == 3
    assert record.last_error == "busy" and failed == 1


def test_non_retryable_error_fails_at_once(tmp_path: Path) -> None:
    record = with_scheduler(config(tmp_path), lambda s: submit_and_wait(s, "echo", {"raise": "bad input"}))
    assert record.status is TaskStatus.FAILED
    assert record.attempts == 1
    assert record.errors[0]["error_type"] == "ValueError"
    assert "bad input" in record.errors[0]["traceback"]


def test_handler_retries_setting_is_the_default_budget(tmp_path: Path) -> None:
    cfg = config(tmp_path, echo=handler_table("behave", retries=0, backoff=FAST_BACKOFF))
    record = with_scheduler(cfg, lambda s: submit_and_wait(s, "echo", {"fail": "x", "retryable": True}))
    assert record.status is TaskStatus.FAILED and record.attempts == 1


def test_retry_after_from_the_handler_sets_the_next_run_time(tmp_path: Path) -> None:
    async def scenario(s: Scheduler) -> TaskRecord:
        [task_id] = await s.service.submit(
            [s.service.make_task("echo", {"fail": "later", "retryable": True, "retry_after": 60})]
        )
        for _ in range(200):
            record = await s.service.get(task_id)
            if record.errors:
                return record
            await asyncio.sleep(0.05)
        raise AssertionError("no attempt failed")

    backoff = {"initial": 0.01, "max": 3600, "jitter": 0}
    record = with_scheduler(config(tmp_path, echo=handler_table("behave", backoff=backoff)), scenario)
    assert record.status is TaskStatus.PENDING
    assert 55 <= record.run_at - record.errors[0]["at"] <= 61


def test_crash_is_retried_counted_apart_and_then_succeeds(tmp_path: Path) -> None:
    async def scenario(s: Scheduler) -> tuple[TaskRecord, float]:
        record = await submit_and_wait(s, "echo", {"crash_on_attempt": 0})
        return record, counter(s, "crashes")

    record, crashes = with_scheduler(config(tmp_path), scenario)
    assert record.status is TaskStatus.COMPLETED and record.result["attempt"] == 1
    assert record.crashes == 1 and crashes == 1
    error = record.errors[0]
    assert error["error_type"] == "HandlerCrashed" and error["crashed"] is True
    assert "exited with code 3" in error["error"] and "about to crash" in error["traceback"]


def test_timeout_is_a_retryable_timeout_error(tmp_path: Path) -> None:
    cfg = config(tmp_path, hang=handler_table("hang", timeout=0.3, retries=1, backoff=FAST_BACKOFF))
    record = with_scheduler(cfg, lambda s: submit_and_wait(s, "hang", {}))
    assert record.status is TaskStatus.FAILED
    assert [e["error_type"] for e in record.errors] == ["Timeout", "Timeout"]
    assert all(e["retryable"] for e in record.errors)


def test_result_breaking_the_schema_fails_the_task_with_a_protocol_error(tmp_path: Path) -> None:
    cfg = config(tmp_path, garbage=handler_table("garbage"))
    record = with_scheduler(cfg, lambda s: submit_and_wait(s, "garbage", {"bad": True}))
    assert record.status is TaskStatus.FAILED and record.attempts == 1
    assert record.errors[0]["error_type"] == "ProtocolError"
    assert "result.schema.json" in (record.last_error or "")


def test_garbage_lines_are_skipped_and_the_task_completes(tmp_path: Path) -> None:
    cfg = config(tmp_path, garbage=handler_table("garbage"))
    record = with_scheduler(cfg, lambda s: submit_and_wait(s, "garbage", {}))
    assert record.status is TaskStatus.COMPLETED and record.result == "fine"


def test_wrong_task_id_fails_the_task_and_restarts_the_instance(tmp_path: Path) -> None:
    async def scenario(s: Scheduler) -> tuple[TaskRecord, int]:
        record = await submit_and_wait(s, "wrong", {})
        await asyncio.sleep(0.3)
        return record, s.dispatcher.pool_states()["wrong"]["slots"][0]["restarts"]

    cfg = config(tmp_path, wrong=handler_table("wrong_id", instances=1))
    record, restarts = with_scheduler(cfg, scenario)
    assert record.status is TaskStatus.FAILED
    assert "someone-else" in (record.last_error or "")
    assert restarts == 1


def test_events_are_stored_with_the_task(tmp_path: Path) -> None:
    record = with_scheduler(config(tmp_path), lambda s: submit_and_wait(s, "echo", {"events": True}))
    assert [e["event"] for e in record.logs] == ["log", "progress", "progress"]
    assert record.progress == 1.0


def test_delayed_task_waits_for_its_time(tmp_path: Path) -> None:
    async def scenario(s: Scheduler) -> tuple[TaskStatus, TaskRecord]:
        [task_id] = await s.service.submit([s.service.make_task("echo", {}, delay=0.8)])
        await asyncio.sleep(0.4)
        early = (await s.service.get(task_id)).status
        return early, await s.service.wait_final(task_id, 20)

    early, record = with_scheduler(config(tmp_path), scenario)
    assert early is TaskStatus.PENDING
    assert record.status is TaskStatus.COMPLETED
    assert record.started_at is not None and record.started_at >= record.run_at


def test_cancel_pending_task_cancels_it_without_running_it(tmp_path: Path) -> None:
    async def scenario(s: Scheduler) -> TaskRecord:
        [task_id] = await s.service.submit([s.service.make_task("echo", {}, delay=30)])
        return await s.service.cancel(task_id)

    record = with_scheduler(config(tmp_path), scenario)
    assert record.status is TaskStatus.CANCELLED and record.attempts == 0


def test_cancel_running_task_stops_its_instance(tmp_path: Path) -> None:
    async def scenario(s: Scheduler) -> tuple[TaskRecord, int]:
        [task_id] = await s.service.submit([s.service.make_task("hang", {})])
        for _ in range(200):
            if s.dispatcher.pools["hang"].running_task_ids():
                break
            await asyncio.sleep(0.02)
        pid = s.dispatcher.pool_states()["hang"]["slots"][0]["pid"]
        record = await s.service.cancel(task_id)
        return record, pid

    from tests.helpers import pid_alive

    cfg = config(tmp_path, hang=handler_table("hang", instances=1))
    record, pid = with_scheduler(cfg, scenario)
    assert record.status is TaskStatus.CANCELLED
    assert not pid_alive(pid)


def test_shutdown_lets_a_short_task_finish_within_the_grace(tmp_path: Path) -> None:
    async def main() -> tuple[dict[str, int], TaskRecord | None]:
        cfg = config(tmp_path)
        s = Scheduler(cfg, open_queue(cfg.daemon), DaemonMetrics())
        await s.start()
        [task_id] = await s.service.submit([s.service.make_task("echo", {"sleep": 0.5})])
        await asyncio.sleep(0.2)
        counts = await s.shutdown(grace=10)
        queue = open_queue(cfg.daemon)
        await queue.open()
        record = await queue.get(task_id)
        await queue.close()
        return counts, record

    counts, record = asyncio.run(main())
    assert counts["finished"] == 1 and counts["interrupted"] == 0
    assert record is not None and record.status is TaskStatus.COMPLETED


def shutdown_with_a_hanging_task(tmp_path: Path, requeue: bool) -> tuple[dict[str, int], TaskRecord | None]:
    async def main() -> tuple[dict[str, int], TaskRecord | None]:
        cfg = config(tmp_path, hang=handler_table("hang", instances=1, requeue_on_interrupt=requeue))
        s = Scheduler(cfg, open_queue(cfg.daemon), DaemonMetrics())
        await s.start()
        [task_id] = await s.service.submit([s.service.make_task("hang", {})])
        for _ in range(200):
            if s.dispatcher.pools["hang"].running_task_ids():
                break
            await asyncio.sleep(0.02)
        counts = await s.shutdown(grace=0.3)
        queue = open_queue(cfg.daemon)
        await queue.open()
        record = await queue.get(task_id)
        await queue.close()
        return counts, record

    return asyncio.run(main())


def test_shutdown_requeues_a_task_still_running_after_the_grace(tmp_path: Path) -> None:
    counts, record = shutdown_with_a_hanging_task(tmp_path, requeue=True)
    assert counts["interrupted"] == 1
    assert record is not None and record.status is TaskStatus.PENDING
    assert record.errors[-1]["error_type"] == "Interrupted"


def test_shutdown_marks_interrupted_when_requeue_on_interrupt_is_false(tmp_path: Path) -> None:
    _, record = shutdown_with_a_hanging_task(tmp_path, requeue=False)
    assert record is not None and record.status is TaskStatus.INTERRUPTED


def test_interrupted_task_can_be_redriven(tmp_path: Path) -> None:
    _, record = shutdown_with_a_hanging_task(tmp_path, requeue=False)
    assert record is not None

    async def scenario(s: Scheduler) -> TaskStatus:
        redriven = await s.service.redrive(record.id)
        return redriven.status

    cfg = config(tmp_path, hang=handler_table("hang", instances=1, requeue_on_interrupt=False))
    assert with_scheduler(cfg, scenario, grace=0.1) in (TaskStatus.PENDING, TaskStatus.PROCESSING)


def test_many_tasks_all_complete_across_instances(tmp_path: Path) -> None:
    async def scenario(s: Scheduler) -> list[TaskRecord]:
        ids = await s.service.submit([s.service.make_task("echo", {"echo": n}) for n in range(300)])
        return [await s.service.wait_final(task_id, 60) for task_id in ids]

    cfg = config(tmp_path, echo=handler_table("behave", instances=2))
    records = with_scheduler(cfg, scenario)
    assert [r.result["echo"] for r in records] == list(range(300))
    assert all(r.status is TaskStatus.COMPLETED and r.attempts == 1 for r in records)


def test_workers_bounds_the_tasks_in_flight_across_every_pool(tmp_path: Path) -> None:
    spans = tmp_path / "spans.txt"

    async def scenario(s: Scheduler) -> list[TaskRecord]:
        tasks = [s.service.make_task(t, {"sleep": 0.1, "span": str(spans)}) for t in ("a", "b", "a", "b")]
        ids = await s.service.submit(tasks)
        return [await s.service.wait_final(task_id, 30) for task_id in ids]

    cfg = make_config(
        tmp_path,
        {"a": handler_table("behave", instances=2), "b": handler_table("behave", instances=2)},
        {"workers": 1, "db_path": str(tmp_path / "q.db")},
    )
    records = with_scheduler(cfg, scenario)
    assert all(r.status is TaskStatus.COMPLETED for r in records)
    events = sorted(
        (float(at), kind) for at, kind in (line.split() for line in spans.read_text().splitlines())
    )
    running = peak = 0
    for _, kind in events:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    assert peak == 1 and len(events) == 8


def test_a_64_mib_result_is_stored_and_read_back(tmp_path: Path) -> None:
    size = 64 * 1024 * 1024
    cfg = config(tmp_path, huge=handler_table("huge", instances=1))
    record = with_scheduler(cfg, lambda s: submit_and_wait(s, "huge", {"size": size}))
    assert record.status is TaskStatus.COMPLETED
    assert isinstance(record.result, str) and len(record.result) == size
