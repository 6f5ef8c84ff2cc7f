"""The scheduler: claims tasks in batches, hands them to the pools, turns outcomes into retries
or final statuses, and runs the shutdown sequence."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

from taskdaemond import defaults, jsonfast
from taskdaemond.backoff import compute_backoff
from taskdaemond.config import Config, HandlerConfig
from taskdaemond.errors import InvalidTaskState, TaskNotFound, UnknownTaskType
from taskdaemond.leases import LeaseKeeper
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.pool import HandlerPool
from taskdaemond.queue.base import QueueUnavailable, TaskQueue
from taskdaemond.queue.models import AttemptError, ClaimedTask, NewTask, TaskEvent, TaskRecord, Transition
from taskdaemond.runtime import (
    Aborted,
    Crashed,
    HandlerFailed,
    Outcome,
    ProtocolViolation,
    Succeeded,
    TimedOut,
)
from taskdaemond.statuses import TaskStatus
from taskdaemond.writer import GroupWriter

log = logging.getLogger("taskdaemond.scheduler")

#: How much work one claim should buffer, in seconds of the recent throughput: enough to keep
#: fast handlers busy while the next claim runs, little enough that slow tasks stay pending.
CLAIM_AHEAD_SECONDS = 0.05


def _compact(value: Any) -> str:
    return jsonfast.dumps(value)


class Scheduler:
    """Everything between the queue and the handler pools."""

    def __init__(
        self, config: Config, queue: TaskQueue, metrics: DaemonMetrics, engine_executable: str | None = None
    ) -> None:
        self.config = config
        self.queue = queue
        self.metrics = metrics
        self.daemon_id = uuid.uuid4().hex[:8]
        self.handlers: dict[str, HandlerConfig] = dict(config.handlers)
        self.writer = GroupWriter(queue, self._committed)
        self.pools: dict[str, HandlerPool] = {}
        for task_type, handler in self.handlers.items():
            self.pools[task_type] = HandlerPool(
                handler,
                daemon_id=self.daemon_id,
                on_outcome=self._on_outcome,
                on_event=self._on_event,
                on_free=lambda t=task_type: self._wake(t),  # type: ignore[misc]
                next_task=lambda t=task_type: self._next_task(t),  # type: ignore[misc]
                engine_executable=engine_executable,
            )
        self._buffers: dict[str, deque[ClaimedTask]] = {t: deque() for t in self.handlers}
        self._changed: dict[str, asyncio.Event] = {t: asyncio.Event() for t in self.handlers}
        self._due: dict[str, float] = dict.fromkeys(self.handlers, 0.0)  # claim no sooner (unless woken)
        self._rate: dict[str, float] = dict.fromkeys(self.handlers, 0.0)  # tasks/s, recent
        self._taken: dict[str, int] = dict.fromkeys(self.handlers, 0)  # tasks started since the last claim
        self._dispatchers: list[asyncio.Task[None]] = []
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._stopping = False
        self._queue_down = False
        self.recovered = 0
        # A queue shared with other daemons: claims are leases, renewed while held; new tasks
        # and cancels arriving through other daemons are announced by the queue.
        queue.bind(self.daemon_id, self.notify, self._cancel_requested)
        self.leases: LeaseKeeper | None = (
            LeaseKeeper(queue, self._held_task_ids, self._reclaimed) if queue.shared else None
        )

    # -- start -----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the queue (recovering tasks a stopped daemon left running), start the pools."""
        self.recovered = await self.queue.open()
        if self.recovered and self.queue.shared:
            log.warning("%d tasks held by daemons that stopped renewing their leases run again", self.recovered)
        elif self.recovered:
            log.warning("%d tasks were running when the daemon last stopped; they run again", self.recovered)
        self.writer.start()
        if self.leases is not None:
            log.info("daemon %s on a shared queue: leases of %g s", self.daemon_id, self.queue.lease_seconds)
            self.leases.start()
        await asyncio.gather(*(pool.start() for pool in self.pools.values()))
        for task_type in self.handlers:
            self._dispatchers.append(asyncio.create_task(self._dispatch(task_type), name=f"dispatch-{task_type}"))

    # -- leases (a queue shared with other daemons) -------------------------------------

    def _held_task_ids(self) -> list[str]:
        """Tasks this daemon has claimed and not finished: buffered or running."""
        held = [task.id for buffer in self._buffers.values() for task in buffer]
        for pool in self.pools.values():
            held.extend(pool.running_task_ids())
        return held

    def _reclaimed(self, tasks: list[tuple[str, str]]) -> None:
        self.metrics.leases_expired.inc(len(tasks))
        for task_type in {task_type for _, task_type in tasks}:
            self.notify(task_type)

    def _cancel_requested(self, task_id: str) -> None:
        """Another daemon cancelled (or deleted) a task this one holds: drop or stop it."""
        if self._take_from_buffer(task_id) is None:
            for pool in self.pools.values():
                pool.abort(task_id, "cancelled")
        self._resolve(task_id)

    def _wake(self, task_type: str) -> None:
        if self.config.daemon.workers is None:
            self._changed[task_type].set()
        else:  # a freed worker may be the one another task type was waiting for
            for event in self._changed.values():
                event.set()

    def _worker_free(self) -> bool:
        """True while tasks in flight, across every pool, are under ``[daemon] workers``."""
        workers = self.config.daemon.workers
        if workers is None:
            return True
        return sum(pool.size - pool.idle_count for pool in self.pools.values()) < workers

    def notify(self, task_type: str) -> None:
        """New work for ``task_type`` may be due: look at the queue now."""
        if task_type in self._due:
            self._due[task_type] = 0.0
            self._changed[task_type].set()

    # -- dispatch --------------------------------------------------------------------

    def _claim_limit(self, task_type: str, pool: HandlerPool) -> int:
        """How many tasks to hold ready: the free instances plus CLAIM_AHEAD_SECONDS of work."""
        ahead = int(self._rate[task_type] * CLAIM_AHEAD_SECONDS)
        return max(1, min(self.config.daemon.batch_size, pool.idle_count + ahead))

    def _next_task(self, task_type: str) -> ClaimedTask | None:
        """The next claimed task, for an instance that just finished one (no dispatcher round
        trip); wakes the dispatcher when the buffer runs low."""
        buffer = self._buffers[task_type]
        # This instance is still counted busy, so the worker bound allows one more than "<".
        workers = self.config.daemon.workers
        if (
            self._stopping
            or not buffer
            or (workers is not None and sum(p.size - p.idle_count for p in self.pools.values()) > workers)
        ):
            return None
        self._taken[task_type] += 1
        task = buffer.popleft()
        if len(buffer) < max(1, self._claim_limit(task_type, self.pools[task_type]) // 2):
            self._changed[task_type].set()
        return task

    async def _dispatch(self, task_type: str) -> None:
        pool = self.pools[task_type]
        buffer = self._buffers[task_type]
        changed = self._changed[task_type]
        last_claim = time.monotonic()
        while not self._stopping:
            while buffer and pool.idle_count and not self._stopping and self._worker_free():
                pool.dispatch(buffer.popleft())
                self._taken[task_type] += 1
            if self._stopping:
                break
            now = time.time()
            limit = self._claim_limit(task_type, pool)
            if len(buffer) < max(1, limit // 2) and now >= self._due[task_type]:
                elapsed = time.monotonic() - last_claim
                if elapsed > 0 and self._taken[task_type]:
                    self._rate[task_type] = 0.5 * self._rate[task_type] + 0.5 * self._taken[task_type] / elapsed
                last_claim, self._taken[task_type] = time.monotonic(), 0
                changed.clear()
                wanted = limit - len(buffer)
                try:
                    claimed = await self.queue.claim(task_type, wanted, now)
                except QueueUnavailable as exc:  # the shared database is down: said once per outage
                    if not self._queue_down:
                        log.warning("claiming %s tasks failed; trying again shortly: %s", task_type, exc)
                    self._queue_down = True
                    claimed = []
                except Exception:
                    log.exception("claiming %s tasks failed; trying again shortly", task_type)
                    claimed = []
                else:
                    self._queue_down = False
                if claimed:
                    buffer.extend(claimed)
                    if len(claimed) < wanted and not changed.is_set():
                        # A short claim took every due task: the next one comes with a notify
                        # (a submit, a retry) or the poll, not from claiming again at once for
                        # nothing (that wasted claim delayed a lone task's result read).
                        self._due[task_type] = max(self._due[task_type], now + defaults.QUEUE_POLL_INTERVAL)
                    continue
                self._rate[task_type] = 0.0
                if not changed.is_set():  # else a submit during the claim brought tasks it did not see
                    self._due[task_type] = max(self._due[task_type], now + defaults.QUEUE_POLL_INTERVAL)
            if buffer or not pool.idle_count:
                timeout = defaults.QUEUE_POLL_INTERVAL  # a freed instance or a low buffer wakes us sooner
            else:
                timeout = max(0.001, self._due[task_type] - time.time())  # or a notify
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout)
            changed.clear()

    # -- outcomes --------------------------------------------------------------------

    def _on_event(self, task: ClaimedTask, message: dict[str, Any]) -> None:
        self.writer.add_event(TaskEvent(task.id, time.time(), message))

    def _on_outcome(self, task: ClaimedTask, outcome: Outcome, duration: float) -> None:
        handler = self.handlers[task.task_type]
        task_type = task.task_type
        if not isinstance(outcome, Aborted):
            self.metrics.for_type(task_type).duration.observe(duration)
        if isinstance(outcome, Succeeded):
            self.writer.add(
                Transition(
                    task.id,
                    TaskStatus.COMPLETED,
                    result_json=_compact(outcome.result),
                    metadata_json=_compact(outcome.metadata) if outcome.metadata is not None else None,
                    task_type=task_type,
                    seq=task.seq,
                )
            )
            return
        if isinstance(outcome, Aborted):
            self.writer.add(self._aborted(task, handler, outcome))
            return
        retry_after: float | None = None
        crashed = False
        if isinstance(outcome, HandlerFailed):
            error = AttemptError(
                task.attempt, outcome.error, outcome.error_type, outcome.retryable, outcome.traceback, at=time.time()
            )
            retry_after = outcome.retry_after
        elif isinstance(outcome, Crashed):
            crashed = True
            error = AttemptError(
                task.attempt,
                outcome.error,
                "HandlerCrashed",
                True,
                "\n".join(outcome.stderr_tail) or None,
                crashed=True,
                at=time.time(),
            )
        elif isinstance(outcome, TimedOut):
            error = AttemptError(task.attempt, outcome.error, "Timeout", True, at=time.time())
        else:
            assert isinstance(outcome, ProtocolViolation)
            error = AttemptError(task.attempt, outcome.error, "ProtocolError", False, at=time.time())
        if error.retryable and task.attempt < task.max_retries:
            delay = compute_backoff(task.attempt, handler.backoff, retry_after=retry_after)
            run_at = time.time() + delay
            self._due[task_type] = min(self._due[task_type], run_at)
            self._changed[task_type].set()
            self.writer.add(
                Transition(
                    task.id, TaskStatus.PENDING, error=error, run_at=run_at, crashed=crashed, task_type=task_type
                )
            )
            return
        self.writer.add(Transition(task.id, TaskStatus.FAILED, error=error, crashed=crashed, task_type=task_type))

    @staticmethod
    def _aborted(task: ClaimedTask, handler: HandlerConfig, outcome: Aborted) -> Transition:
        if outcome.reason == "cancelled":
            return Transition(task.id, TaskStatus.CANCELLED)
        error = AttemptError(
            task.attempt, "Interrupted: the daemon stopped while the task ran", "Interrupted", True, at=time.time()
        )
        if handler.requeue_on_interrupt:
            return Transition(task.id, TaskStatus.PENDING, error=error, run_at=time.time())
        return Transition(task.id, TaskStatus.INTERRUPTED, error=error)

    def _count(self, transitions: Sequence[Transition]) -> None:
        """Metrics of committed outcomes, added up per group (cheaper than per task)."""
        counts: dict[tuple[str, str], int] = {}
        for t in transitions:
            if t.task_type is None:
                continue
            kinds = []
            if t.status is TaskStatus.COMPLETED:
                kinds.append("completed")
            elif t.status is TaskStatus.FAILED:
                kinds.append("failed")
            elif t.status is TaskStatus.PENDING and t.error is not None and t.error.error_type != "Interrupted":
                kinds.append("retried")
            if t.crashed:
                kinds.append("crashes")
            if t.error is not None and t.error.error_type == "Timeout":
                kinds.append("timeouts")
            for kind in kinds:
                counts[(t.task_type, kind)] = counts.get((t.task_type, kind), 0) + 1
        for (task_type, kind), count in counts.items():
            getattr(self.metrics.for_type(task_type), kind).inc(count)

    def _committed(self, transitions: Sequence[Transition]) -> None:
        self._count(transitions)
        for transition in transitions:
            task_type = transition.task_type
            if transition.status is TaskStatus.PENDING and task_type in self._due:
                # A retry is claimable only now that it is committed.
                self._due[task_type] = min(self._due[task_type], transition.run_at or 0.0)
                self._changed[task_type].set()
            if transition.status.is_final:
                for future in self._waiters.pop(transition.task_id, []):
                    if not future.done():
                        future.set_result(None)

    # -- the API's operations --------------------------------------------------------

    def make_task(
        self,
        task_type: str,
        data: dict[str, Any],
        *,
        priority: int | None = None,
        delay: float | None = None,
        idempotency_key: str | None = None,
        max_retries: int | None = None,
    ) -> NewTask:
        """A NewTask with the handler's defaults; raises UnknownTaskType."""
        handler = self.handlers.get(task_type)
        if handler is None:
            raise UnknownTaskType(task_type, sorted(self.handlers))
        return NewTask(
            task_type=task_type,
            data_json=_compact(data),
            priority=defaults.DEFAULT_PRIORITY if priority is None else priority,
            max_retries=handler.retries if max_retries is None else max_retries,
            delay=delay or 0.0,
            idempotency_key=idempotency_key,
        )

    async def submit(self, tasks: Sequence[NewTask]) -> list[str]:
        """Enqueue (durably, in one transaction) and wake the dispatchers."""
        now = time.time()
        answers = await self.queue.submit(tasks, now)
        received: dict[str, int] = {}
        for task, (_, created) in zip(tasks, answers, strict=True):
            if created:
                received[task.task_type] = received.get(task.task_type, 0) + 1
                if task.delay:
                    self._due[task.task_type] = min(self._due[task.task_type], now + task.delay)
        for task_type, count in received.items():
            self.metrics.tasks_received.labels(task_type).inc(count)
            self._changed[task_type].set()
            if any(not task.delay for task in tasks if task.task_type == task_type):
                self._due[task_type] = 0.0
        return [task_id for task_id, _ in answers]

    async def get(self, task_id: str) -> TaskRecord:
        record = await self.queue.get(task_id)
        if record is None:
            raise TaskNotFound(task_id)
        return record

    async def wait_final(self, task_id: str, timeout: float) -> TaskRecord:
        """The task once it is final, or as it is after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            record = await self.get(task_id)
            remaining = deadline - time.monotonic()
            if record.status.is_final or remaining <= 0:
                return record
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(task_id, []).append(future)
            # Bounded wait: wakes on commit, or re-reads at least every second (a task whose
            # final status came from elsewhere, e.g. a cancel of a pending task).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, min(remaining, 1.0))
            waiters = self._waiters.get(task_id)
            if waiters is not None and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiters[task_id]

    def _take_from_buffer(self, task_id: str) -> ClaimedTask | None:
        for buffer in self._buffers.values():
            for task in buffer:
                if task.id == task_id:
                    buffer.remove(task)
                    return task
        return None

    async def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a pending task, or stop the instance running it. Raises TaskNotFound, or
        InvalidTaskState when the task is already final."""
        before = await self.queue.cancel_pending(task_id, time.time())
        if before is None:
            raise TaskNotFound(task_id)
        if before is TaskStatus.PROCESSING:
            waiting = self._take_from_buffer(task_id)
            if waiting is not None:
                self.writer.add(Transition(task_id, TaskStatus.CANCELLED))
            elif not any(pool.abort(task_id, "cancelled") for pool in self.pools.values()) and not (
                await self.queue.cancel_elsewhere(task_id, time.time())
            ):
                raise InvalidTaskState(f"task {task_id} is finishing; try again")
            await self.wait_final(task_id, defaults.HANDLER_TERM_GRACE + defaults.HANDLER_EOF_GRACE)
        elif before.is_final:
            raise InvalidTaskState(f"task {task_id} is already {before.value}")
        self._resolve(task_id)
        return await self.get(task_id)

    async def delete(self, task_id: str) -> None:
        """Remove a task; one that is running is stopped first. Raises TaskNotFound."""
        before = await self.queue.delete(task_id)
        if before is None:
            raise TaskNotFound(task_id)
        if before is TaskStatus.PROCESSING and self._take_from_buffer(task_id) is None:
            for pool in self.pools.values():
                pool.abort(task_id, "cancelled")
        self._resolve(task_id)

    async def redrive(self, task_id: str) -> TaskRecord:
        """Run a failed or interrupted task again. Raises TaskNotFound or InvalidTaskState."""
        before = await self.queue.redrive(task_id, time.time())
        if before is None:
            raise TaskNotFound(task_id)
        if before not in (TaskStatus.FAILED, TaskStatus.INTERRUPTED):
            raise InvalidTaskState(
                f"task {task_id} is {before.value}; only failed or interrupted tasks can be redriven"
            )
        record = await self.get(task_id)
        self.notify(record.task_type)
        return record

    def _resolve(self, task_id: str) -> None:
        for future in self._waiters.pop(task_id, []):
            if not future.done():
                future.set_result(None)

    # -- state -----------------------------------------------------------------------

    def pool_states(self) -> dict[str, dict[str, Any]]:
        return {task_type: pool.state() for task_type, pool in self.pools.items()}

    # -- shutdown --------------------------------------------------------------------

    async def shutdown(self, grace: float | None = None) -> dict[str, int]:
        """Stop claiming, let tasks in flight finish within ``grace`` seconds, stop the
        handlers, requeue (or mark interrupted) what still ran, commit, close the queue."""
        grace = self.config.daemon.shutdown_grace if grace is None else grace
        # 1. Stop claiming.
        self._stopping = True
        for event in self._changed.values():
            event.set()
        await asyncio.gather(*self._dispatchers, return_exceptions=True)
        # 2. Tasks claimed but not started go back to pending, as if never claimed.
        waiting = [task.id for buffer in self._buffers.values() for task in buffer]
        for buffer in self._buffers.values():
            buffer.clear()
        try:
            await self.queue.release(waiting)
        except QueueUnavailable as exc:  # a shared queue: the leases lapse and others take them
            log.warning("could not return %d unstarted tasks to pending: %s", len(waiting), exc)
        # 3. Tasks in flight may finish within the grace period.
        in_flight = sum(len(pool.running_task_ids()) for pool in self.pools.values())
        deadline = time.monotonic() + grace
        for pool in self.pools.values():
            await pool.wait_idle(max(0.0, deadline - time.monotonic()))
        interrupted = sum(len(pool.running_task_ids()) for pool in self.pools.values())
        # 4. Stop every handler: what still runs is interrupted (requeued or `interrupted`).
        await asyncio.gather(*(pool.stop() for pool in self.pools.values()))
        # 5. Commit every outcome, then close the queue.
        await self.writer.close()
        if self.leases is not None:
            await self.leases.stop()
        await self.queue.close()
        log.info(
            "stopped: %d tasks returned unstarted, %d finished in the grace period, %d interrupted",
            len(waiting),
            in_flight - interrupted,
            interrupted,
        )
        return {"released": len(waiting), "finished": in_flight - interrupted, "interrupted": interrupted}
