"""The in-memory queue: the same semantics as SQLite, nothing on disk. For tests and trials."""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from taskdaemond.queue.base import TaskQueue
from taskdaemond.queue.ids import new_task_id
from taskdaemond.queue.memory_dependencies import Dependencies
from taskdaemond.queue.models import (
    ClaimedTask,
    DependentChanges,
    NewTask,
    NewWorkflow,
    TaskEvent,
    TaskFilters,
    TaskPage,
    TaskRecord,
    Transition,
    WorkflowPage,
    WorkflowRecord,
)
from taskdaemond.queue.schedule_state import ScheduleAdvance, ScheduleState
from taskdaemond.statuses import FINAL_STATUSES, REDRIVABLE_STATUSES, UNSUCCESSFUL_STATUSES, TaskStatus

#: Heap entry: (order key..., generation, task id). A generation that no longer matches the
#: task's marks an entry left behind by a cancel, delete or claim: it is skipped.
_Entry = tuple[int, int, int, str]


class MemoryQueue(TaskQueue):
    """Tasks in dictionaries and heaps; lost when the process ends."""

    def __init__(self, task_selection: str = "fifo") -> None:
        self.task_selection = task_selection
        self._tasks: dict[str, TaskRecord] = {}
        self._generation: dict[str, int] = {}
        self._ready: dict[str, list[_Entry]] = {}
        self._delayed: dict[str, list[tuple[float, int, str]]] = {}
        self._seq = 0
        self._schedules: dict[str, ScheduleState] = {}
        self._deps = Dependencies(self._tasks, self._enqueue)

    async def open(self, *, recover: bool = True) -> int:
        return 0

    async def close(self) -> None:
        return None

    def _order(self, record: TaskRecord) -> tuple[int, int]:
        if self.task_selection == "priority":
            return (-record.priority, record.seq)
        if self.task_selection == "lifo":
            return (0, -record.seq)
        return (0, record.seq)

    def _enqueue(self, record: TaskRecord, now: float) -> None:
        generation = self._generation.get(record.id, 0) + 1
        self._generation[record.id] = generation
        if record.run_at > now:
            heapq.heappush(
                self._delayed.setdefault(record.task_type, []), (record.run_at, generation, record.id)
            )
        else:
            heapq.heappush(
                self._ready.setdefault(record.task_type, []), (*self._order(record), generation, record.id)
            )

    async def submit(self, tasks: Sequence[NewTask], now: float) -> list[tuple[str, bool]]:
        self._deps.check_all(tasks)  # all or nothing
        changes = DependentChanges()
        answers = self._submit(tasks, now, changes)
        self._dependents_changed(changes)
        return answers

    async def submit_workflow(self, workflow: NewWorkflow, now: float) -> tuple[str, bool]:
        self._deps.check_all(workflow.steps)  # all or nothing
        existing = self._deps.add_workflow(workflow, now)
        if existing is not None:
            return existing, False
        changes = DependentChanges()
        self._submit(workflow.steps, now, changes)
        self._dependents_changed(changes)
        return workflow.id, True

    def _submit(
        self, tasks: Sequence[NewTask], now: float, changes: DependentChanges
    ) -> list[tuple[str, bool]]:
        answers: list[tuple[str, bool]] = []
        waiting: list[str] = []
        for task in tasks:
            if task.idempotency_key is not None:
                found = next(
                    (
                        r
                        for r in self._tasks.values()
                        if r.idempotency_key == task.idempotency_key and r.status is not TaskStatus.FAILED
                    ),
                    None,
                )
                if found is not None:
                    answers.append((found.id, False))
                    continue
            self._seq += 1
            record = TaskRecord(
                id=task.task_id or new_task_id(),
                task_type=task.task_type,
                status=TaskStatus.WAITING if task.dependencies else TaskStatus.PENDING,
                data=json.loads(task.data_json),
                priority=task.priority,
                attempts=0,
                max_retries=task.max_retries,
                run_at=now + task.delay,
                created_at=now,
                updated_at=now,
                seq=self._seq,
                idempotency_key=task.idempotency_key,
                tags=json.loads(task.tags_json) if task.tags_json else {},
                workflow_id=task.workflow_id,
                step=task.step,
                on_dependency_failure=task.on_dependency_failure,
                depends_on=[],
            )
            self._tasks[record.id] = record
            if task.dependencies:
                self._deps.add(record, task)
                waiting.append(record.id)
            else:
                self._enqueue(record, now)
            answers.append((record.id, True))
        self._deps.settle(waiting, now, changes)
        return answers

    async def schedule_states(self) -> dict[str, ScheduleState]:
        return dict(self._schedules)

    async def advance_schedule(
        self,
        expected: ScheduleState | None,
        *,
        name: str,
        timing: str,
        due: float,
        task: NewTask | None,
        now: float,
    ) -> ScheduleAdvance:
        # One event loop, no await before the write: the check and the set cannot interleave.
        if self._schedules.get(name) != expected:
            return ScheduleAdvance(won=False)
        state = replace(expected, timing=timing, last_due=due, updated_at=now) if expected else None
        state = state or ScheduleState(name, timing, due, updated_at=now)
        if task is None:
            self._schedules[name] = state
            return ScheduleAdvance(won=True)
        [(task_id, created)] = await self.submit([task], now)
        self._schedules[name] = replace(state, last_run_due=due, last_task_id=task_id, runs=state.runs + 1)
        return ScheduleAdvance(won=True, task_id=task_id, created=created)

    async def claim(self, task_type: str, limit: int, now: float) -> list[ClaimedTask]:
        ready = self._ready.setdefault(task_type, [])
        delayed = self._delayed.get(task_type, [])
        while delayed and delayed[0][0] <= now:
            _, generation, task_id = heapq.heappop(delayed)
            record = self._tasks.get(task_id)
            if record is not None and self._generation.get(task_id) == generation:
                heapq.heappush(ready, (*self._order(record), generation, task_id))
        claimed: list[ClaimedTask] = []
        while ready and len(claimed) < limit:
            *_, generation, task_id = heapq.heappop(ready)
            record = self._tasks.get(task_id)
            if (
                record is None
                or self._generation.get(task_id) != generation
                or record.status is not TaskStatus.PENDING
            ):
                continue
            self._generation[task_id] = generation + 1
            record.status = TaskStatus.PROCESSING
            record.attempts += 1
            # Never before it became pending (a claim's clock may be read before a release).
            record.started_at = record.updated_at = max(now, record.updated_at)
            claimed.append(
                ClaimedTask(
                    record.id,
                    record.task_type,
                    json.dumps(record.data, separators=(",", ":")),
                    record.attempts - 1,
                    record.max_retries,
                    record.priority,
                    record.seq,
                    json.dumps(record.tags, separators=(",", ":")) if record.tags else None,
                    self._deps.message(record.id) if record.depends_on else None,
                )
            )
        return claimed

    async def release(self, task_ids: Sequence[str]) -> None:
        now = time.time()
        for task_id in task_ids:
            record = self._tasks.get(task_id)
            if record is not None and record.status is TaskStatus.PROCESSING:
                record.status = TaskStatus.PENDING
                record.attempts -= 1
                record.updated_at = now
                self._enqueue(record, now)

    async def record(  # noqa: C901 - the in-memory twin of each engine's record, field by field
        self, transitions: Sequence[Transition], events: Sequence[TaskEvent], now: float
    ) -> None:
        for event in events:
            record = self._tasks.get(event.task_id)
            if record is None:
                continue
            record.logs.append({**event.message, "at": event.at})
            if event.message.get("event") == "progress":
                record.progress = event.message["progress"]
                record.progress_message = event.message.get("message")
        for transition in transitions:
            record = self._tasks.get(transition.task_id)
            if record is None or record.status is not TaskStatus.PROCESSING:
                continue
            record.status = transition.status
            if transition.result_json is not None:
                record.result = json.loads(transition.result_json)
            if transition.metadata_json is not None:
                record.metadata = json.loads(transition.metadata_json)
            if transition.error is not None:
                record.last_error = transition.error.error
                record.errors.append(json.loads(transition.error.to_json()))
            if transition.run_at is not None:
                record.run_at = transition.run_at
            record.crashes += int(transition.crashed)
            record.finished_at = now if transition.status in FINAL_STATUSES else None
            record.updated_at = now
            if transition.status is TaskStatus.PENDING:
                self._enqueue(record, now)
        changes = DependentChanges()
        self._deps.release([t.task_id for t in transitions if t.status is TaskStatus.COMPLETED], now, changes)
        self._deps.cascade(
            [t.task_id for t in transitions if t.status in UNSUCCESSFUL_STATUSES], now, changes
        )
        self._dependents_changed(changes)

    async def record_and_get(
        self,
        transitions: Sequence[Transition],
        events: Sequence[TaskEvent],
        now: float,
        task_ids: Sequence[str],
    ) -> list[TaskRecord]:
        await self.record(transitions, events, now)
        records = [await self.get(task_id) for task_id in task_ids]
        return [record for record in records if record is not None]

    async def get(self, task_id: str) -> TaskRecord | None:
        record = self._tasks.get(task_id)
        if record is None:
            return None
        return replace(
            record,
            logs=list(record.logs),
            errors=list(record.errors),
            depends_on=list(record.depends_on or []),
        )

    async def get_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        return self._deps.workflow(workflow_id)

    async def list_workflows(self, limit: int, cursor: str | None) -> WorkflowPage:
        return self._deps.list_workflows(limit, cursor)

    async def list(
        self,
        *,
        status: TaskStatus | None,
        task_type: str | None,
        limit: int,
        cursor: str | None,
        filters: TaskFilters | None = None,
    ) -> TaskPage:
        f = filters or TaskFilters()
        after = int(cursor) if cursor is not None else None
        error = f.error.lower() if f.error else None
        matching = [
            r
            for r in sorted(self._tasks.values(), key=lambda r: r.seq if f.oldest_first else -r.seq)
            if (status is None or r.status is status)
            and (task_type is None or r.task_type == task_type)
            and (after is None or (r.seq > after if f.oldest_first else r.seq < after))
            and (f.since is None or r.created_at >= f.since)
            and (f.until is None or r.created_at < f.until)
            and (error is None or error in (r.last_error or "").lower())
            and (f.tag is None or r.tags.get(f.tag[0]) == f.tag[1])
        ]
        page = [replace(r, logs=[], depends_on=None) for r in matching[:limit]]
        next_cursor = str(page[-1].seq) if len(matching) > limit and page else None
        return TaskPage(page, next_cursor)

    async def cancel_pending(self, task_id: str, now: float) -> TaskStatus | None:
        record = self._tasks.get(task_id)
        if record is None:
            return None
        before = record.status
        if before in (TaskStatus.PENDING, TaskStatus.WAITING):
            record.status = TaskStatus.CANCELLED
            record.finished_at = record.updated_at = now
            changes = DependentChanges()
            self._deps.cascade([task_id], now, changes)
            self._dependents_changed(changes)
        return before

    async def delete(self, task_id: str) -> TaskStatus | None:
        record = self._tasks.get(task_id)
        if record is None:
            return None
        changes = DependentChanges()
        if record.status is not TaskStatus.COMPLETED:  # a completed one counts as met once gone
            self._deps.cascade([task_id], time.time(), changes, verb="was deleted")
        del self._tasks[task_id]
        self._generation.pop(task_id, None)
        self._deps.forget(task_id)
        self._dependents_changed(changes)
        return record.status

    async def redrive(self, task_id: str, now: float) -> TaskStatus | None:
        record = self._tasks.get(task_id)
        if record is None:
            return None
        before = record.status
        if before in REDRIVABLE_STATUSES:
            record.status = TaskStatus.PENDING
            record.attempts = 0
            record.run_at = now
            record.finished_at = None
            record.result = None
            record.updated_at = now
            if not record.depends_on:
                self._enqueue(record, now)
            self._dependents_changed(self._deps.after_redrive(record, now))
        return before

    async def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in TaskStatus}
        for record in self._tasks.values():
            counts[record.status.value] += 1
        return counts

    # -- retention ----------------------------------------------------------------------

    def _drop(self, records: Sequence[TaskRecord]) -> dict[TaskStatus, int]:
        gone: dict[TaskStatus, int] = {}
        for record in records:
            del self._tasks[record.id]
            self._generation.pop(record.id, None)
            self._deps.forget(record.id)
            gone[record.status] = gone.get(record.status, 0) + 1
        return gone

    def _finished(self) -> Sequence[TaskRecord]:
        """Finished tasks, oldest finished first."""
        done = [r for r in self._tasks.values() if r.status in FINAL_STATUSES and r.finished_at is not None]
        return sorted(done, key=lambda r: r.finished_at or 0.0)

    async def prune(self, cutoffs: Mapping[TaskStatus, float], limit: int) -> dict[TaskStatus, int]:
        old = [
            r for r in self._finished() if r.status in cutoffs and (r.finished_at or 0.0) < cutoffs[r.status]
        ]
        return self._drop(old[:limit])

    async def prune_excess(self, keep: int, limit: int) -> dict[TaskStatus, int]:
        finished = self._finished()
        return self._drop(finished[: min(limit, max(0, len(finished) - keep))])

    async def count_prunable(self, cutoffs: Mapping[TaskStatus, float]) -> dict[TaskStatus, int]:
        counts = dict.fromkeys((s for s in cutoffs if s in FINAL_STATUSES), 0)
        for r in self._finished():
            if r.status in counts and (r.finished_at or 0.0) < cutoffs[r.status]:
                counts[r.status] += 1
        return counts

    async def count_finished(self) -> int:
        return len(self._finished())
