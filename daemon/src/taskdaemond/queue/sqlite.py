"""The SQLite queue: one file in WAL mode, one writer connection, and a thread for what is slow.

The everyday statements (a claim, a group of outcomes, a submit, a task read) take tens of
microseconds: they run on the event loop itself. Handing each to a thread and back cost more
than the statement (75 us a round trip on the 2-core build machine, twice per task: a claim and
an outcome) and kept the SQLite queue at half the memory queue's rate. What may take long runs
on the writer's thread: payloads over INLINE_PAYLOAD_BYTES, listings, retention, migrations, and
any statement that finds the write lock held by another process (the loop never waits for a
lock: it hands the call to the thread, which waits up to the busy timeout). Calls keep their
order: while one is on the thread, the next ones queue behind it there. Claims take a batch in
one statement; the scheduler hands outcomes over in groups, each group one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from taskdaemond import defaults, encryption
from taskdaemond.queue import schedule_state
from taskdaemond.queue import sqlite_dependencies as deps
from taskdaemond.queue import sqlite_retention as retention
from taskdaemond.queue import sqlite_sql as sql
from taskdaemond.queue._migrations import load
from taskdaemond.queue._rows import counts_of, list_params, page_of, row_to_record
from taskdaemond.queue.base import Storage, TaskQueue, claim_order_key
from taskdaemond.queue.ids import new_task_id
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
    values_in_hand,
)
from taskdaemond.queue.schedule_state import ScheduleAdvance, ScheduleState
from taskdaemond.statuses import FINAL_STATUSES, REDRIVABLE_STATUSES, UNSUCCESSFUL_STATUSES, TaskStatus

T = TypeVar("T")

log = logging.getLogger("taskdaemond.queue.sqlite")

#: WAL with synchronous=NORMAL: a commit is in the WAL file before the call returns, so it
#: survives the daemon being killed at any moment; only an OS crash or power cut may lose
#: the last commits. (FULL would fsync every commit.)
SYNCHRONOUS = "NORMAL"

#: Payload bytes (task data or results, together) above which a call goes to the writer's
#: thread rather than running on the event loop: a 16 MiB task takes some 50 ms to write.
INLINE_PAYLOAD_BYTES = 256 * 1024


def data_size(tasks: Sequence[NewTask]) -> int:
    """Bytes of the data a submit stores."""
    return sum(len(task.data_json) for task in tasks)


def results_size(transitions: Sequence[Transition]) -> int:
    """Bytes of the results a group of outcomes stores."""
    return sum(len(t.result_json) for t in transitions if t.result_json is not None)


class WriterBusy(sqlite3.OperationalError):
    """Another connection holds the write lock: the call goes to the writer's thread to wait."""


@dataclass
class FreshData:
    """The data of the tasks a transaction inserts, for a claim in the same transaction."""

    #: The seq of the first task the transaction inserts (set by the submit).
    first_seq: int = sql.NO_FRESH_SEQ
    by_seq: dict[int, str] = field(default_factory=dict)

    def data_of(self, db: sqlite3.Connection, seq: int, cipher: encryption.Cipher | None) -> str | None:
        """The data of the task ``seq`` (inserted by the transaction): in hand, or read when it
        took another way in (a task with dependencies the submit found completed)."""
        data = self.by_seq.get(seq)
        if data is None:
            data = encryption.reveal(db.execute(sql.DATA_BY_SEQ, (seq,)).fetchone()[0], cipher)
        return data


class SqliteQueue(TaskQueue):
    """Tasks in a SQLite file at ``path``."""

    def __init__(
        self, path: Path, task_selection: str = "fifo", cipher: encryption.Cipher | None = None
    ) -> None:
        self.path = Path(path)
        #: Encryption at rest (encryption.py): with a key, data and results are stored encrypted;
        #: without one, encrypted tasks are never claimed.
        self.cipher = cipher
        gate = "" if cipher is not None else sql.CLAIM_GATE_NO_KEY
        self._claim_sql = sql.CLAIM.format(order=sql.CLAIM_ORDER[task_selection], gate=gate)
        self._claim_key = claim_order_key(task_selection)
        self._claim_index = sql.CLAIM_INDEX_OF[task_selection]
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-queue")
        self._db: sqlite3.Connection | None = None
        #: Calls handed to the writer's thread and not finished: while any is, the next calls
        #: queue behind them there (their order is the callers'), none runs on the loop.
        self._on_thread = 0
        self._inline = False  # True while the connection is open for calls on the loop
        # A second connection, on a thread of its own, for reads that scan many rows (counts):
        # in WAL mode they see the last commit and never hold up the writer.
        self._reader_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reader")
        self._reader: sqlite3.Connection | None = None
        #: Migrations this daemon applied when it opened the file (``NNNN_name``).
        self.applied_migrations: list[str] = []
        self._checkpointer: asyncio.Task[None] | None = None
        self._written = False  # a commit since the last checkpoint

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the writer's thread, after the calls handed there before it."""
        loop = asyncio.get_running_loop()
        self._on_thread += 1
        job = self._executor.submit(self._with_busy_timeout, fn, *args)
        # Counted down once the job has run, not when its caller stops waiting (a cancelled
        # caller leaves the job running on the connection).
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._thread_done))
        return await asyncio.wrap_future(job)

    def _thread_done(self) -> None:
        self._on_thread -= 1

    async def _quick(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the event loop when the connection is free (nothing on the thread);
        else, or when another process holds the write lock, on the writer's thread."""
        if self._inline and not self._on_thread:
            try:
                return fn(*args)
            except WriterBusy:
                pass  # nothing was done: BEGIN failed
        return await self._call(fn, *args)

    async def _sized(self, size: int, fn: Callable[..., T], *args: Any) -> T:
        """A call carrying ``size`` bytes of payloads: _quick when small, else on the thread."""
        if size > INLINE_PAYLOAD_BYTES:
            return await self._call(fn, *args)
        return await self._quick(fn, *args)

    def _with_busy_timeout(self, fn: Callable[..., T], *args: Any) -> T:
        """On the writer's thread: wait for another connection's write lock, up to the busy
        timeout (the loop's calls never wait: the connection's own timeout is 0)."""
        db = self._db
        if db is None or not self._inline:  # opening, or closed
            return fn(*args)
        db.execute(f"PRAGMA busy_timeout = {defaults.SQLITE_BUSY_TIMEOUT_MS}")
        try:
            return fn(*args)
        finally:
            db.execute("PRAGMA busy_timeout = 0")

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` on the reader connection (opened on first use, on the reader's thread)."""

        def work() -> T:
            if self._reader is None:
                self._reader = sqlite3.connect(self.path, isolation_level=None)
                self._reader.execute(f"PRAGMA busy_timeout = {defaults.SQLITE_BUSY_TIMEOUT_MS}")
            return fn(self._reader)

        return await asyncio.get_running_loop().run_in_executor(self._reader_executor, work)

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None, "queue is not open"
        return self._db

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                raise WriterBusy(*exc.args) from exc
            raise
        try:
            value = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._written = True
        return value

    # -- lifecycle -------------------------------------------------------------------

    async def open(self, *, recover: bool = True) -> int:
        recovered = await self._call(self._open, time.time(), recover)
        self.db.execute("PRAGMA busy_timeout = 0")  # see _quick and _with_busy_timeout
        self._inline = True
        if recover:  # a daemon; a tool (recover=False) keeps SQLite's own checkpoints
            self._checkpointer = asyncio.create_task(self._checkpoints(), name="sqlite-checkpoints")
        return recovered

    async def _checkpoints(self) -> None:
        """Copy the WAL into the database file on the reader's thread, after writes, so that no
        commit waits for it. (SQLite's own checkpoint runs inside the commit that takes the WAL
        past 1000 pages: that commit also copied the WAL into the file and fsynced both, some
        40 ms for a 16 MiB task, twice per task: submit and result.) PASSIVE never blocks the
        writer; a checkpoint that could not finish is taken up by the next one."""
        while True:
            await asyncio.sleep(defaults.SQLITE_CHECKPOINT_INTERVAL)
            if not self._written:
                continue
            self._written = False
            try:
                await self._read(lambda reader: reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())
            except sqlite3.Error as exc:  # the next pass tries again
                self._written = True
                log.warning("WAL checkpoint of %s failed: %s", self.path, exc)

    def _open(self, now: float, recover: bool = True) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Used from the loop and from the writer's thread, never both at once (_quick).
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        retention.set_incremental_if_new(self.db)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        self.db.execute(f"PRAGMA busy_timeout = {defaults.SQLITE_BUSY_TIMEOUT_MS}")
        if recover:  # the daemon checkpoints beside the writer (_checkpoints)
            self.db.execute("PRAGMA wal_autocheckpoint = 0")
        self._migrate()
        for name, create in sql.CLAIM_INDEXES.items():
            self.db.execute(create if name == self._claim_index else f"DROP INDEX IF EXISTS {name}")
        if not recover:
            return 0
        return self._transaction(lambda db: db.execute(sql.RECOVER_PROCESSING, (now,)).rowcount)

    def _migrate(self) -> None:
        """Apply the migrations this file lacks, each in its own transaction with the new
        ``user_version`` (one connection per file: no other daemon migrates it meanwhile)."""
        current = self.db.execute("PRAGMA user_version").fetchone()[0]
        for migration in load(sql.MIGRATIONS_PACKAGE):
            if migration.version <= current:
                continue
            # executescript commits first and runs each statement as it comes: BEGIN/COMMIT
            # inside the script keep the migration and its version in one transaction.
            self.db.executescript(
                f"BEGIN IMMEDIATE;\n{migration.sql}\nPRAGMA user_version = {migration.version};\nCOMMIT;"
            )
            self.applied_migrations.append(migration.label)

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        if self._reader is not None:
            await self._read(lambda reader: reader.close())
            self._reader = None
        self._reader_executor.shutdown(wait=True)
        if self._db is not None:
            self._inline = False
            await self._call(self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        self.db.close()
        self._db = None

    # -- writes ----------------------------------------------------------------------

    async def submit(self, tasks: Sequence[NewTask], now: float) -> list[tuple[str, bool]]:
        changes = DependentChanges()

        def work(db: sqlite3.Connection) -> list[tuple[str, bool]]:
            return self._submit(db, tasks, now, changes)

        answers: list[tuple[str, bool]] = await self._sized(data_size(tasks), self._transaction, work)
        self._dependents_changed(changes)
        return answers

    async def submit_workflow(self, workflow: NewWorkflow, now: float) -> tuple[str, bool]:
        changes = DependentChanges()

        def work(db: sqlite3.Connection) -> tuple[str, bool]:
            existing = deps.insert_workflow(db, workflow, now)
            if existing is not None:
                return existing, False
            self._submit(db, workflow.steps, now, changes)
            return workflow.id, True

        answer: tuple[str, bool] = await self._sized(data_size(workflow.steps), self._transaction, work)
        self._dependents_changed(changes)
        return answer

    def _submit(
        self,
        db: sqlite3.Connection,
        tasks: Sequence[NewTask],
        now: float,
        changes: DependentChanges | None = None,
        fresh: FreshData | None = None,
    ) -> list[tuple[str, bool]]:
        """Insert ``tasks``; each one's id and whether it was created (not found by its
        idempotency key). ``fresh`` is given the first seq and the data of the tasks inserted."""
        answers: list[tuple[str, bool]] = []
        rows: list[tuple[Any, ...]] = []
        waiting: list[str] = []
        datas: list[tuple[int, str]] = []
        fresh = fresh if fresh is not None else FreshData()
        seq = fresh.first_seq = int(db.execute(sql.NEXT_SEQ).fetchone()[0])

        def insert() -> None:
            db.executemany(sql.INSERT_TASK, rows)
            db.executemany(sql.INSERT_DATA, datas)
            rows.clear()
            datas.clear()

        for plain in tasks:
            task = encryption.seal(plain, self.cipher)
            if task.idempotency_key is not None:
                if rows:  # earlier tasks of this batch may hold the key
                    insert()
                found = db.execute(sql.FIND_BY_IDEMPOTENCY_KEY, (task.idempotency_key,)).fetchone()
                if found is not None:
                    answers.append((found[0], False))
                    continue
            task_id = task.task_id or new_task_id()
            if task.dependencies or task.workflow_id is not None:
                if rows:  # dependencies may be earlier tasks of this batch
                    insert()
                waiting += deps.insert_task(db, task_id, task, now)
                seq = int(db.execute(sql.NEXT_SEQ).fetchone()[0])  # that insert took a seq
                answers.append((task_id, True))
                continue
            rows.append(
                (
                    seq,
                    task_id,
                    task.task_type,
                    task.priority,
                    task.max_retries,
                    now + task.delay,
                    task.idempotency_key,
                    now,
                    now,
                    task.tags_json,
                    int(task.encrypted),
                )
            )
            datas.append((seq, task.data_json))
            fresh.by_seq[seq] = plain.data_json
            seq += 1
            answers.append((task_id, True))
        if rows:
            insert()
        # Dependencies that completed, or failed for good, before the submit: settled now.
        if waiting:
            deps.settle(db, waiting, now, changes if changes is not None else DependentChanges())
        return answers

    async def schedule_states(self) -> dict[str, ScheduleState]:
        rows = await self._quick(lambda: self.db.execute(schedule_state.SELECT_STATES).fetchall())
        return {row[0]: schedule_state.state_of(row) for row in rows}

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
        params = schedule_state.advance_params(expected, name, timing, due, now)

        def work(db: sqlite3.Connection) -> ScheduleAdvance:
            cas = (
                schedule_state.SQLITE_INSERT_STATE
                if expected is None
                else schedule_state.SQLITE_ADVANCE_STATE
            )
            if db.execute(cas, params).rowcount != 1:
                return ScheduleAdvance(won=False)
            if task is None:
                return ScheduleAdvance(won=True)
            [(task_id, created)] = self._submit(db, [task], now)
            db.execute(schedule_state.SQLITE_RECORD_RUN, {**params, "task_id": task_id})
            return ScheduleAdvance(won=True, task_id=task_id, created=created)

        return await self._sized(len(task.data_json) if task else 0, self._transaction, work)

    async def claim(self, task_type: str, limit: int, now: float) -> list[ClaimedTask]:
        return await self._quick(self._transaction, lambda db: self._claim(db, task_type, limit, now))

    def _claim(
        self,
        db: sqlite3.Connection,
        task_type: str,
        limit: int,
        now: float,
        fresh: FreshData | None = None,
    ) -> list[ClaimedTask]:
        """Claim up to ``limit`` tasks. ``fresh``: the data of the tasks this transaction
        inserted, which the claim then does not read back."""
        first_fresh = fresh.first_seq if fresh is not None else sql.NO_FRESH_SEQ
        params = {"task_type": task_type, "limit": limit, "now": now, "fresh": first_fresh}
        rows = db.execute(self._claim_sql, params).fetchall()
        with_dependencies = [row[0] for row in rows if row[8]]
        found = deps.message_dependencies(db, with_dependencies, self.cipher) if with_dependencies else {}
        claimed = []
        for task_id, claimed_type, stored, attempt, max_retries, priority, seq, tags, _ in rows:
            if stored is None:  # inserted by this transaction: see sql.CLAIM
                data = fresh.data_of(db, seq, self.cipher) if fresh else None
            else:
                data = encryption.reveal(stored, self.cipher)
            if data is None:  # a key this daemon lacks: fail it, saying so (a redrive runs it again)
                error = encryption.unreadable_error(attempt, self.cipher, now)
                db.execute(
                    sql.FAIL_UNREADABLE,
                    {"error_text": error.error, "error": error.to_json(), "now": now, "seq": seq},
                )
                continue
            claimed.append(
                ClaimedTask(
                    task_id, claimed_type, data, attempt, max_retries, priority, seq, tags, found.get(task_id)
                )
            )
        # RETURNING does not keep the ORDER BY of the sub-select: put the order back.
        claimed.sort(key=self._claim_key)
        return claimed

    async def submit_and_claim(
        self, tasks: Sequence[NewTask], now: float, task_type: str, limit: int
    ) -> tuple[list[tuple[str, bool]], list[ClaimedTask]]:
        changes = DependentChanges()

        def work(db: sqlite3.Connection) -> tuple[list[tuple[str, bool]], list[ClaimedTask]]:
            fresh = FreshData()
            answers = self._submit(db, tasks, now, changes, fresh)
            return answers, self._claim(db, task_type, limit, now, fresh)

        answer: tuple[list[tuple[str, bool]], list[ClaimedTask]]
        answer = await self._sized(data_size(tasks), self._transaction, work)
        self._dependents_changed(changes)
        return answer

    async def release(self, task_ids: Sequence[str]) -> None:
        if not task_ids:
            return
        now = time.time()
        await self._quick(
            self._transaction, lambda db: db.executemany(sql.RELEASE, [(now, i) for i in task_ids])
        )

    async def record(
        self, transitions: Sequence[Transition], events: Sequence[TaskEvent], now: float
    ) -> None:
        def work(db: sqlite3.Connection) -> DependentChanges:
            return self._record(db, transitions, events, now)

        self._dependents_changed(await self._sized(results_size(transitions), self._transaction, work))

    async def record_and_get(
        self,
        transitions: Sequence[Transition],
        events: Sequence[TaskEvent],
        now: float,
        task_ids: Sequence[str],
    ) -> list[TaskRecord]:
        in_hand = values_in_hand(transitions)

        def work() -> tuple[DependentChanges, list[TaskRecord]]:
            changes = self._transaction(lambda db: self._record(db, transitions, events, now))
            # After the commit: as committed.
            records = [self._get_completed(task_id, in_hand.get(task_id), now) for task_id in task_ids]
            return changes, [record for record in records if record is not None]

        changes, records = await self._sized(results_size(transitions), work)
        self._dependents_changed(changes)
        return records

    def _record(
        self,
        db: sqlite3.Connection,
        transitions: Sequence[Transition],
        events: Sequence[TaskEvent],
        now: float,
    ) -> DependentChanges:
        cipher = self.cipher  # results are stored encrypted when the daemon holds a key
        if events:
            db.executemany(
                sql.INSERT_EVENT,
                [
                    (e.task_id, e.at, json.dumps({**e.message, "at": e.at}, separators=(",", ":")))
                    for e in events
                ],
            )
            progress = [
                (e.message["progress"], e.message.get("message"), e.task_id)
                for e in events
                if e.message.get("event") == "progress"
            ]
            if progress:
                db.executemany(sql.UPDATE_PROGRESS, progress)
        completed: list[Transition] = []
        others: list[Transition] = []
        for t in transitions:
            (completed if t.status is TaskStatus.COMPLETED and t.error is None and t.seq else others).append(
                t
            )
        if completed:
            # The result first: its guard (still processing) is the one the completion passes.
            db.executemany(
                sql.SAVE_RESULT,
                [{"result": encryption.seal_text(t.result_json, cipher), "seq": t.seq} for t in completed],
            )
            db.executemany(
                sql.COMPLETE, [{"metadata": t.metadata_json, "now": now, "seq": t.seq} for t in completed]
            )
        if others:
            results = [
                {"result": encryption.seal_text(t.result_json, cipher), "id": t.task_id}
                for t in others
                if t.result_json is not None
            ]
            if results:
                db.executemany(sql.SAVE_RESULT_BY_ID, results)
            db.executemany(
                sql.APPLY_TRANSITION,
                [
                    {
                        "id": t.task_id,
                        "status": t.status.value,
                        "metadata": t.metadata_json,
                        "run_at": t.run_at,
                        "error_text": t.error.error if t.error is not None else None,
                        "error": t.error.to_json() if t.error is not None else None,
                        "crashed": int(t.crashed),
                        "finished_at": now if t.status in FINAL_STATUSES else None,
                        "now": now,
                    }
                    for t in others
                ],
            )
        return SqliteQueue._dependents(db, transitions, now)

    @staticmethod
    def _dependents(
        db: sqlite3.Connection, transitions: Sequence[Transition], now: float
    ) -> DependentChanges:
        """In the transaction that records the outcomes: completed tasks release their dependents,
        tasks that ended otherwise end theirs. (A transition that did not apply, its task no
        longer processing, finds its dependents already settled.)"""
        changes = DependentChanges()
        completed = [t.task_id for t in transitions if t.status is TaskStatus.COMPLETED]
        if completed:
            deps.release(db, completed, now, changes)
        ended = [t.task_id for t in transitions if t.status in UNSUCCESSFUL_STATUSES]
        if ended:
            deps.cascade(db, ended, now, changes)
        return changes

    async def cancel_pending(self, task_id: str, now: float) -> TaskStatus | None:
        changes = DependentChanges()

        def work(db: sqlite3.Connection) -> TaskStatus | None:
            row = db.execute(sql.GET_STATUS, (task_id,)).fetchone()
            if row is None:
                return None
            status = TaskStatus(row[0])
            if status in sql.CANCELLABLE_NOW:
                db.execute(sql.CANCEL, (now, now, task_id))
                deps.cascade(db, [task_id], now, changes)
            return status

        before: TaskStatus | None = await self._quick(self._transaction, work)
        self._dependents_changed(changes)
        return before

    async def delete(self, task_id: str) -> TaskStatus | None:
        changes = DependentChanges()

        def work(db: sqlite3.Connection) -> TaskStatus | None:
            row = db.execute(sql.GET_STATUS, (task_id,)).fetchone()
            if row is None:
                return None
            if row[0] != TaskStatus.COMPLETED.value:  # a completed one counts as met once gone
                deps.cascade(db, [task_id], now, changes, verb="was deleted")
            db.execute(sql.DELETE_TASK, (task_id,))
            db.execute(sql.DELETE_EVENTS, (task_id,))
            deps.delete_edges(db, [task_id])
            return TaskStatus(row[0])

        now = time.time()
        before: TaskStatus | None = await self._quick(self._transaction, work)
        self._dependents_changed(changes)
        return before

    async def redrive(self, task_id: str, now: float) -> TaskStatus | None:
        changes = DependentChanges()

        def work(db: sqlite3.Connection) -> TaskStatus | None:
            nonlocal changes
            row = db.execute(sql.GET_STATUS, (task_id,)).fetchone()
            if row is None:
                return None
            status = TaskStatus(row[0])
            if status in REDRIVABLE_STATUSES:
                db.execute(sql.DROP_RESULT, (task_id,))
                (dependencies,) = db.execute(sql.REDRIVE, (now, now, task_id)).fetchone()
                changes = deps.after_redrive(db, task_id, bool(dependencies), now)
            return status

        before: TaskStatus | None = await self._quick(self._transaction, work)
        self._dependents_changed(changes)
        return before

    # -- reads -----------------------------------------------------------------------

    async def get(self, task_id: str) -> TaskRecord | None:
        return await self._quick(self._get, task_id)

    async def reencrypt_batch(
        self, table: str, after: int, limit: int, tally: encryption.Reencrypted
    ) -> int | None:
        cipher = self.cipher
        assert cipher is not None, "reencrypt needs DAEMON_ENCRYPTION_KEY"

        def work(db: sqlite3.Connection) -> int | None:
            rows = db.execute(sql.PAYLOAD_BATCH[table], (after, limit)).fetchall()
            if not rows:
                return None
            rewrites, were_plain = encryption.reencrypt_rows(rows, cipher, tally)
            db.executemany(sql.PAYLOAD_REWRITE[table], rewrites)
            if table == "task_data":
                db.executemany(sql.MARK_ENCRYPTED, [(seq,) for seq in were_plain])
            return int(rows[-1][0])

        return await self._call(self._transaction, work)

    async def get_if_final(self, task_id: str) -> TaskRecord | TaskStatus | None:
        def work() -> TaskRecord | TaskStatus | None:
            row = self.db.execute(sql.GET_STATUS, (task_id,)).fetchone()
            if row is None:
                return None
            status = TaskStatus(row[0])
            return self._get(task_id) if status.is_final else status

        return await self._quick(work)

    def _get_completed(self, task_id: str, in_hand: tuple[str, str] | None, now: float) -> TaskRecord | None:
        """The record of a task, as ``_get``; when a completion at ``now`` holding ``in_hand``
        (data, result) ended it, with those: the values just written are not read back (for a
        16 MiB task, 80 of its 750 ms there and back)."""
        if in_hand is None:
            return self._get(task_id)
        row = self.db.execute(sql.GET_TASK_WITHOUT_VALUES, (task_id,)).fetchone()
        if row is None:
            return None
        record = self._record_of(task_id, row)
        # Not this completion's record: read it whole, as it is.
        return record if record.take_completed_values(in_hand, now) else self._get(task_id)

    def _get(self, task_id: str) -> TaskRecord | None:
        row = self.db.execute(sql.GET_TASK, (task_id,)).fetchone()
        return None if row is None else self._record_of(task_id, row)

    def _record_of(self, task_id: str, row: Sequence[Any]) -> TaskRecord:
        """The record of the task row ``row`` of ``task_id``, with its events and dependencies."""
        events = [json.loads(body) for (body,) in self.db.execute(sql.GET_EVENTS, (task_id,))]
        record = row_to_record(row, events, self.cipher)
        record.depends_on = deps.depends_on(self.db, task_id)
        return record

    async def get_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        # On the reader: a workflow of thousands of steps is read without holding up claims.
        return await self._read(lambda reader: deps.get_workflow(reader, workflow_id))

    async def list_workflows(self, limit: int, cursor: str | None) -> WorkflowPage:
        return await self._read(lambda reader: deps.list_workflows(reader, limit, cursor))

    async def list(
        self,
        *,
        status: TaskStatus | None,
        task_type: str | None,
        limit: int,
        cursor: str | None,
        filters: TaskFilters | None = None,
    ) -> TaskPage:
        return await self._call(self._list, status, task_type, limit, cursor, filters)

    def _list(
        self,
        status: TaskStatus | None,
        task_type: str | None,
        limit: int,
        cursor: str | None,
        filters: TaskFilters | None = None,
    ) -> TaskPage:
        query = sql.list_tasks(
            status=status is not None,
            task_type=task_type is not None,
            cursor=cursor is not None,
            filters=filters,
        )
        params = list_params(status, task_type, limit, cursor, filters)
        return page_of(self.db.execute(query, params).fetchall(), limit, self.cipher)

    async def counts(self) -> dict[str, int]:
        # A scan of every task: on the reader, so that claims and submits do not wait for it.
        rows = await self._read(lambda reader: reader.execute(sql.COUNT_BY_STATUS).fetchall())
        return counts_of(rows)

    # -- retention (sqlite_retention.py) ---------------------------------------------------

    async def prune(self, cutoffs: Mapping[TaskStatus, float], limit: int) -> dict[TaskStatus, int]:
        return await self._call(self._transaction, lambda db: retention.prune_by_age(db, cutoffs, limit))

    async def prune_excess(self, keep: int, limit: int) -> dict[TaskStatus, int]:
        excess = await self.count_finished() - keep  # counted on the reader: a scan
        if excess <= 0:
            return {}
        return await self._call(self._transaction, lambda db: retention.prune_oldest(db, min(limit, excess)))

    async def count_prunable(self, cutoffs: Mapping[TaskStatus, float]) -> dict[TaskStatus, int]:
        return await self._read(lambda reader: retention.count_prunable(reader, cutoffs))

    async def count_finished(self) -> int:
        return await self._read(retention.count_finished)

    async def storage(self) -> Storage:
        return await self._call(lambda: retention.storage(self.db, self.path))

    async def reclaim_space(self) -> int:
        """Free pages beyond the reserve go back, a few MiB per call on the writer's thread,
        so claims get in between."""
        reclaimed = 0
        for _ in range(10_000):  # bounded: each step frees up to VACUUM_PAGES pages
            step = await self._call(lambda: retention.vacuum_step(self.db))
            if step <= 0:
                break
            reclaimed += step
        return reclaimed

    async def vacuum(self) -> int:
        """A full VACUUM, converting the file to incremental mode (the daemon must be stopped)."""
        return await self._call(lambda: retention.full_vacuum(self.db))
