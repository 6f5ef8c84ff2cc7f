"""The queue interface. SQLite, memory and PostgreSQL implement it; PostgreSQL is shared by
several daemons, so every method is async and works on groups, and a shared queue also keeps
leases (renew, reclaim) and tells its daemon about work that arrived through another one."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from taskdaemond.config import DaemonSettings
from taskdaemond.errors import DaemonError
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
from taskdaemond.statuses import TaskStatus

if TYPE_CHECKING:
    from taskdaemond.encryption import Cipher, Reencrypted

#: Orders in which pending tasks are claimed.
TASK_SELECTIONS = ("fifo", "lifo", "priority")


def claim_order_key(task_selection: str) -> Callable[[ClaimedTask], tuple[int, int]]:
    """Sort key putting claimed tasks in the order ``task_selection`` runs them."""
    if task_selection == "priority":
        return lambda t: (-t.priority, t.seq)
    if task_selection == "lifo":
        return lambda t: (0, -t.seq)
    return lambda t: (0, t.seq)


@dataclass(frozen=True, slots=True)
class Storage:
    """What the queue's store takes on disk: ``size_bytes`` in all (for SQLite the file and its
    WAL), of which ``free_bytes`` are free pages kept for the next inserts."""

    size_bytes: int = 0
    free_bytes: int = 0


class QueueUnavailable(DaemonError):
    """Raised when the queue's database cannot be reached; the API answers 503."""


def _ignore(_: str) -> None:
    return None


class TaskQueue(abc.ABC):
    """A durable (or, for tests, in-memory) store of tasks."""

    #: True when other daemons share the store: claims then hold leases that the daemon
    #: renews every ``lease_seconds / 4`` and that any daemon reclaims once they lapse.
    shared = False
    lease_seconds = 0.0

    def bind(  # noqa: B027 - optional: only a shared queue needs to know its daemon
        self,
        daemon_id: str,
        on_new_tasks: Callable[[str], None] = _ignore,
        on_cancel: Callable[[str], None] = _ignore,
    ) -> None:
        """Name the daemon that uses this queue (claims are recorded under it) and what to call
        when another daemon adds tasks of a type or asks to cancel a task this one runs.
        Called before open(); a queue no other daemon uses may ignore it."""

    #: Told, after the commit, which dependents a transaction released or ended.
    _on_dependents: Callable[[DependentChanges], None] | None = None

    def watch_dependents(self, on_dependents: Callable[[DependentChanges], None]) -> None:
        """What to call once a commit released waiting tasks (their dependencies all completed:
        a dispatcher should look for them) or ended them (a dependency failed for good)."""
        self._on_dependents = on_dependents

    def _dependents_changed(self, changes: DependentChanges) -> None:
        if changes and self._on_dependents is not None:
            self._on_dependents(changes)

    async def renew(self, task_ids: Sequence[str]) -> int:
        """Extend the leases of tasks this daemon holds; how many were still its own."""
        return len(task_ids)

    async def reclaim_expired(self, now: float) -> list[tuple[str, str]]:
        """Put tasks whose lease lapsed back to pending; their (id, task type)."""
        return []

    def watch_changes(self, on_changes: Callable[[list[str]], None]) -> None:  # noqa: B027 - optional
        """What to call with the ids of tasks another daemon changed (submitted, finished,
        logged, cancelled...), for the live streams. Only a shared queue has other daemons."""

    async def daemons(self) -> list[dict[str, Any]]:
        """The daemons connected to a shared queue: ``daemon_id``, ``version``,
        ``connected_at`` (Unix seconds) and ``connections``; empty for a queue of one daemon."""
        return []

    async def cancel_elsewhere(self, task_id: str, now: float) -> bool:
        """Cancel a task another daemon is running (that daemon is told to stop it); False
        when no other daemon holds it."""
        return False

    @abc.abstractmethod
    async def open(self, *, recover: bool = True) -> int:
        """Open the store and recover: tasks left ``processing`` by a stopped daemon go back
        to ``pending`` (at-least-once; their next run has the next attempt number).
        Returns how many were recovered. ``recover=False`` opens without recovering, for a
        tool (``taskdaemond prune``) working beside a running daemon."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the store; every call before it is durable."""

    @abc.abstractmethod
    async def submit(self, tasks: Sequence[NewTask], now: float) -> list[tuple[str, bool]]:
        """Enqueue ``tasks`` in one transaction; for each, (task id, created). A task whose
        idempotency key belongs to a task that is not failed is not created: that task's id
        is returned with created=False. Durable when it returns. A task with dependencies is
        ``waiting`` until they all completed (``pending`` at once if they had); one of them that
        failed for good fails or cancels it at once. Raises UnknownDependencies (nothing is
        enqueued) when a dependency is not a task in the queue."""

    @abc.abstractmethod
    async def submit_workflow(self, workflow: NewWorkflow, now: float) -> tuple[str, bool]:
        """Enqueue a workflow's record and every step in one transaction (steps in dependency
        order, each naming its dependencies by task id); (workflow id, created). A workflow whose
        idempotency key another holds is not created: that one's id, False."""

    @abc.abstractmethod
    async def get_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        """The workflow with its steps, or None."""

    @abc.abstractmethod
    async def list_workflows(self, limit: int, cursor: str | None) -> WorkflowPage:
        """Workflows newest first, one page after ``cursor`` (step counts, no steps)."""

    @abc.abstractmethod
    async def claim(self, task_type: str, limit: int, now: float) -> list[ClaimedTask]:
        """Take up to ``limit`` due pending tasks of ``task_type``, mark them ``processing``
        and count an attempt, in the configured order."""

    async def submit_and_claim(
        self, tasks: Sequence[NewTask], now: float, task_type: str, limit: int
    ) -> tuple[list[tuple[str, bool]], list[ClaimedTask]]:
        """``submit(tasks)``, then ``claim(task_type, limit)``: for a daemon with idle instances,
        so that a new task goes straight to one of them. An engine may do both in one
        transaction (SQLite does: one trip to its thread instead of two)."""
        answers = await self.submit(tasks, now)
        return answers, await self.claim(task_type, limit, now)

    @abc.abstractmethod
    async def release(self, task_ids: Sequence[str]) -> None:
        """Give claimed tasks that never started back to ``pending``, uncounting the attempt."""

    @abc.abstractmethod
    async def record(
        self, transitions: Sequence[Transition], events: Sequence[TaskEvent], now: float
    ) -> None:
        """Apply attempt outcomes and store events, all in one transaction, with what they do to
        dependents: a completed task releases those whose dependencies have all completed, one
        that ended otherwise fails or cancels its waiting dependents, transitively."""

    async def record_and_get(
        self,
        transitions: Sequence[Transition],
        events: Sequence[TaskEvent],
        now: float,
        task_ids: Sequence[str],
    ) -> list[TaskRecord]:
        """``record``, then the records of ``task_ids`` as committed, for clients waiting on them.
        An engine that can read them in the same trip does (SQLite: on its thread, right after
        the commit, which saves the waiter a trip of its own); by default none is read and the
        waiters read them themselves."""
        await self.record(transitions, events, now)
        return []

    @abc.abstractmethod
    async def get(self, task_id: str) -> TaskRecord | None:
        """The task with its errors and logs, or None."""

    async def reencrypt_batch(self, table: str, after: int, limit: int, tally: Reencrypted) -> int | None:
        """Rewrite up to ``limit`` stored values of ``table`` (task_data, task_results) with seq
        beyond ``after`` under the first key; the last seq read, None when there were none. Only
        the SQL queues store values at rest."""
        return None

    async def get_if_final(self, task_id: str) -> TaskRecord | TaskStatus | None:
        """The task if it is final, else its status alone (None: no such task). A wait looks
        with it first: the whole record of a task still running (its data may be 64 MiB)
        would be read for nothing."""
        return await self.get(task_id)

    @abc.abstractmethod
    async def list(
        self,
        *,
        status: TaskStatus | None,
        task_type: str | None,
        limit: int,
        cursor: str | None,
        filters: TaskFilters | None = None,
    ) -> TaskPage:
        """Tasks newest first (``filters.oldest_first``: oldest first), filtered, one page after
        ``cursor``."""

    @abc.abstractmethod
    async def cancel_pending(self, task_id: str, now: float) -> TaskStatus | None:
        """Cancel the task if it is pending or waiting (and its dependents per their policy);
        return its status before (None: no such task)."""

    @abc.abstractmethod
    async def delete(self, task_id: str) -> TaskStatus | None:
        """Remove the task; return its status before (None: no such task)."""

    @abc.abstractmethod
    async def redrive(self, task_id: str, now: float) -> TaskStatus | None:
        """Give a failed or interrupted task a fresh run (attempts and budget start again);
        return its status before (None: no such task). Other statuses are left alone. A task
        with dependencies waits for them again; the dependents its failure failed or cancelled
        wait again (transitively), and run once it has completed."""

    @abc.abstractmethod
    async def counts(self) -> dict[str, int]:
        """How many tasks are in each status (every status present, zero included)."""

    # -- periodic tasks: each due run enqueued once ------------------------------------------

    @abc.abstractmethod
    async def schedule_states(self) -> dict[str, ScheduleState]:
        """The stored progress of every schedule that ever ran, by name (removed ones too)."""

    @abc.abstractmethod
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
        """In one transaction: move schedule ``name`` to ``last_due = due`` only if its row is
        still ``expected`` (None: no row yet), and if so enqueue ``task`` (when given: the run
        of ``due``) and record it as the schedule's last run. Another daemon that moved the
        row first makes this a no-op (``won`` False)."""

    # -- retention: only finished tasks are ever pruned ------------------------------------

    @abc.abstractmethod
    async def prune(self, cutoffs: Mapping[TaskStatus, float], limit: int) -> dict[TaskStatus, int]:
        """Delete, with their events, up to ``limit`` tasks whose status is a key of ``cutoffs``
        (final statuses only) and that finished before its cutoff (seconds since the epoch),
        oldest first, in one short transaction. How many of each status went; fewer than
        ``limit`` in all means none is left. Safe with several daemons pruning at once."""

    @abc.abstractmethod
    async def prune_excess(self, keep: int, limit: int) -> dict[TaskStatus, int]:
        """Delete up to ``limit`` of the finished tasks beyond the ``keep`` newest (by finish
        time), oldest first. On a shared queue one daemon at a time does it (the others find
        nothing to do), so the cap is not applied twice."""

    @abc.abstractmethod
    async def count_prunable(self, cutoffs: Mapping[TaskStatus, float]) -> dict[TaskStatus, int]:
        """How many tasks ``prune`` would delete with these cutoffs (no limit); for dry runs."""

    @abc.abstractmethod
    async def count_finished(self) -> int:
        """How many tasks are finished (completed, failed, cancelled, interrupted)."""

    async def storage(self) -> Storage:
        """The space the store takes (nothing for a store not on disk)."""
        return Storage()

    async def reclaim_space(self) -> int:
        """Give free space beyond a reserve back to the file system; bytes given back. The
        SQLite queue does it with ``incremental_vacuum``; PostgreSQL's autovacuum does it
        itself, so other queues give back nothing."""
        return 0


async def reencrypt_payloads(queue: TaskQueue, batch: int) -> Reencrypted:
    """``taskdaemond reencrypt``: every stored data and result value rewritten under the first
    key of the queue's cipher, in batches of ``batch`` rows, each its own transaction."""
    from taskdaemond.encryption import Reencrypted  # noqa: PLC0415 - encryption imports the queue models

    tally = Reencrypted()
    for table in ("task_data", "task_results"):
        after = 0
        for _ in range(10**9):  # bounded by the rows: each pass moves past the batch it read
            last = await queue.reencrypt_batch(table, after, batch, tally)
            if last is None:
                break
            after = last
    return tally


def open_queue(settings: DaemonSettings, cipher: Cipher | None = None) -> TaskQueue:
    """The queue the settings ask for (not yet opened); ``cipher``: the encryption keys
    (encryption.py) of the SQL queues. The memory queue keeps nothing at rest."""
    if settings.queue == "postgres":
        from taskdaemond.queue.postgres import PostgresQueue  # noqa: PLC0415 - an optional dependency

        assert settings.database_url is not None, "config requires database_url for the postgres queue"
        return PostgresQueue(
            settings.database_url,
            settings.task_selection,
            lease_seconds=settings.lease_seconds,
            cipher=cipher,
        )
    if settings.queue == "memory":
        from taskdaemond.queue.memory import MemoryQueue  # noqa: PLC0415 - implementations import this module

        return MemoryQueue(settings.task_selection)
    from taskdaemond.queue.sqlite import SqliteQueue  # noqa: PLC0415 - implementations import this module

    return SqliteQueue(settings.db_path, settings.task_selection, cipher)
