"""The PostgreSQL queue: one database shared by any number of daemons on any number of hosts.

psycopg 3 with its async connection pool. Claims take a batch with ``FOR UPDATE SKIP LOCKED``
and stamp each task with the claiming daemon and a lease expiry (on the database's clock);
the daemon renews its leases while the tasks run, and every daemon puts tasks whose lease
lapsed back to pending (at-least-once: a task may run twice, never zero times). Outcomes are
applied only while the daemon still holds the task. Submits NOTIFY the other daemons, which
LISTEN on a connection of their own (their slow poll stays as the fallback). The schema is
created and upgraded by the versioned files in ``queue/migrations``, applied under an
advisory lock so that daemons starting together do not race.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from taskdaemond import __version__, defaults, encryption
from taskdaemond.queue import postgres_dependencies as deps
from taskdaemond.queue import postgres_sql as sql
from taskdaemond.queue import retention_sql, schedule_state
from taskdaemond.queue._migrations import load
from taskdaemond.queue._rows import counts_of, list_params, page_of, row_to_record
from taskdaemond.queue.base import QueueUnavailable, Storage, TaskQueue, _ignore, claim_order_key
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

log = logging.getLogger("taskdaemond.queue.postgres")

T = TypeVar("T")
Connection = psycopg.AsyncConnection[Any]


def redact(url: str) -> str:
    """``url`` without its password, to show in messages and logs."""
    url = re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", url)
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
    except ValueError:
        return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)


def scrub(text: str, url: str) -> str:
    """``text`` (an error message, which may quote the URL) without the URL's password."""
    text = re.sub(r"://([^:/@\s\"']*):[^@\s\"']*@", r"://\1:***@", text)
    text = re.sub(r"(?i)(password=)[^&\s\"']*", r"\1***", text)
    with contextlib.suppress(ValueError):
        password = urlsplit(url).password
        if password:
            text = text.replace(password, "***")
    return text


def check_url(url: str) -> None:
    """Raise ValueError saying what is wrong with a PostgreSQL URL (password left out)."""
    if not re.match(r"^postgres(ql)?://", url):
        raise ValueError("must start with postgresql:// (or postgres://)")
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"malformed: {scrub(' '.join(str(exc).split()), url)}") from None
    for port in str(params.get("port") or "5432").split(","):
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"port {port!r} is not a port number")


class PostgresQueue(TaskQueue):
    """Tasks in the PostgreSQL database at ``url``, shared with other daemons."""

    shared = True

    def __init__(
        self,
        url: str,
        task_selection: str = "fifo",
        *,
        lease_seconds: float = defaults.DEFAULT_LEASE_SECONDS,
        min_connections: int = defaults.POSTGRES_MIN_CONNECTIONS,
        max_connections: int = defaults.POSTGRES_MAX_CONNECTIONS,
        cipher: encryption.Cipher | None = None,
    ) -> None:
        self.url = url
        self.lease_seconds = lease_seconds
        #: Encryption at rest (encryption.py): with a key, data and results are stored encrypted;
        #: without one, encrypted tasks are never claimed (a daemon with the key runs them).
        self.cipher = cipher
        self.daemon_id = uuid.uuid4().hex[:8]
        gate = "" if cipher is not None else sql.CLAIM_GATE_NO_KEY
        self._claim_sql = sql.CLAIM.format(order=sql.CLAIM_ORDER[task_selection], gate=gate)
        self._claim_key = claim_order_key(task_selection)
        self._min_connections = min_connections
        self._max_connections = max_connections
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._on_new_tasks: Callable[[str], None] = _ignore
        self._on_cancel: Callable[[str], None] = _ignore
        self._on_changes: Callable[[list[str]], None] | None = None
        self._listener: asyncio.Task[None] | None = None
        #: Set while the LISTEN connection is up (notifications from other daemons arrive).
        self.listening = asyncio.Event()
        self._closing = False
        #: Migrations this daemon applied at open (the others were there already).
        self.applied_migrations: list[str] = []

    def bind(
        self,
        daemon_id: str,
        on_new_tasks: Callable[[str], None] = _ignore,
        on_cancel: Callable[[str], None] = _ignore,
    ) -> None:
        self.daemon_id = daemon_id
        self._on_new_tasks = on_new_tasks
        self._on_cancel = on_cancel

    def watch_changes(self, on_changes: Callable[[list[str]], None]) -> None:
        self._on_changes = on_changes

    @property
    def application_name(self) -> str:
        return sql.APPLICATION_NAME.format(version=__version__, daemon=self.daemon_id)

    def _changes(self, payload: str) -> None:
        """A CHANGES_CHANNEL notification: tell the live streams, unless this daemon sent it."""
        daemon, *task_ids = payload.split()
        if daemon != self.daemon_id and self._on_changes is not None:
            self._on_changes(task_ids)

    async def _announce(self, conn: Connection, task_ids: Sequence[str]) -> None:
        """NOTIFY the other daemons (delivered at commit) that these tasks changed."""
        if not task_ids or self._on_changes is None:
            return
        step = defaults.CHANGES_PER_NOTIFY
        payloads = [
            " ".join([self.daemon_id, *task_ids[i : i + step]]) for i in range(0, len(task_ids), step)
        ]
        await conn.execute(sql.NOTIFY, (sql.CHANGES_CHANNEL, payloads))

    async def daemons(self) -> list[dict[str, Any]]:
        async def work(conn: Connection) -> list[tuple[Any, ...]]:
            return await (await conn.execute(sql.DAEMONS)).fetchall()

        found = []
        for name, connected_at, connections in await self._run(work, transaction=False):
            _, version, daemon_id = [*name.split(), "", ""][:3]
            found.append(
                {
                    "daemon_id": daemon_id,
                    "version": version,
                    "connected_at": connected_at,
                    "connections": connections,
                }
            )
        return found

    @property
    def pool(self) -> AsyncConnectionPool[Connection]:
        assert self._pool is not None, "queue is not open"
        return self._pool

    def _unavailable(self, exc: BaseException) -> QueueUnavailable:
        text = scrub(str(exc).strip(), self.url)
        reason = text.splitlines()[0] if text else type(exc).__name__
        return QueueUnavailable(f"PostgreSQL at {redact(self.url)} is unavailable: {reason}")

    async def _run(
        self, work: Callable[[Connection], Awaitable[T]], *, retry: bool = True, transaction: bool = True
    ) -> T:
        """``work`` on a pooled connection, in one transaction unless it is a single statement
        (autocommit: BEGIN and COMMIT would be two more round trips). A connection that broke
        (the server restarted, the network dropped) is tried once more on a fresh one when
        ``retry``: every statement here is safe to repeat except a submit's insert."""
        for attempt in range(2):
            try:
                async with self.pool.connection() as conn:
                    if not transaction:
                        return await work(conn)
                    async with conn.transaction():
                        return await work(conn)
            except PoolTimeout as exc:
                raise self._unavailable(exc) from None
            except psycopg.OperationalError as exc:
                if attempt or not retry:
                    raise self._unavailable(exc) from None
        raise AssertionError("unreachable")

    # -- lifecycle -------------------------------------------------------------------

    async def open(self, *, recover: bool = True) -> int:
        self._closing = False
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            self.url,
            min_size=self._min_connections,
            max_size=self._max_connections,
            kwargs={
                "autocommit": True,
                "connect_timeout": int(defaults.POSTGRES_CONNECT_TIMEOUT),
                "application_name": self.application_name,
            },
            # A connection is checked as it leaves the pool: after the server restarted, the
            # stale ones are dropped instead of failing a request each.
            check=AsyncConnectionPool.check_connection,
            timeout=defaults.POSTGRES_CONNECT_TIMEOUT,
            open=False,
            name=f"taskdaemon-{self.daemon_id}",
        )
        try:
            await pool.open(wait=True, timeout=defaults.POSTGRES_CONNECT_TIMEOUT)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise self._unavailable(exc) from None
        self._pool = pool
        try:
            await self._migrate()
            reclaimed = await self.reclaim_expired(time.time()) if recover else []
        except BaseException:
            await self.close()
            raise
        if recover:  # a daemon; a tool (recover=False) needs no notifications
            self._listener = asyncio.create_task(self._listen(), name="postgres-listen")
        return len(reclaimed)

    async def _migrate(self) -> None:
        """Apply the migrations this database lacks, under a session advisory lock: a daemon
        starting at the same moment waits here, then finds them applied."""
        try:
            async with self.pool.connection() as conn:
                await conn.execute("SELECT pg_advisory_lock(%s)", (sql.MIGRATION_LOCK_KEY,))
                try:
                    await conn.execute(sql.MIGRATIONS_TABLE)
                    applied = {
                        row[0] for row in await (await conn.execute(sql.APPLIED_MIGRATIONS)).fetchall()
                    }
                    for migration in load(sql.MIGRATIONS_PACKAGE):
                        if migration.version in applied:
                            continue
                        async with conn.transaction():
                            await conn.execute(migration.sql.encode())
                            await conn.execute(sql.RECORD_MIGRATION, (migration.version, migration.name))
                        self.applied_migrations.append(migration.label)
                        log.info("applied migration %s to %s", migration.label, redact(self.url))
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (sql.MIGRATION_LOCK_KEY,))
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise self._unavailable(exc) from None

    async def _listen(self) -> None:
        """LISTEN for new tasks and cancels on a connection outside the pool; reconnect when it
        breaks. Missed notifications cost at most one slow poll."""
        lost = False
        while not self._closing:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=int(defaults.POSTGRES_CONNECT_TIMEOUT),
                    application_name=self.application_name,
                )
                async with conn:
                    await conn.execute(f"LISTEN {sql.TASKS_CHANNEL}")
                    await conn.execute(f"LISTEN {sql.CANCEL_CHANNEL}")
                    await conn.execute(f"LISTEN {sql.CHANGES_CHANNEL}")
                    self.listening.set()
                    if lost:
                        log.info("LISTEN connection to %s is back", redact(self.url))
                        lost = False
                    async for notice in conn.notifies():
                        if notice.channel == sql.TASKS_CHANNEL:
                            self._on_new_tasks(notice.payload)
                        elif notice.channel == sql.CANCEL_CHANNEL:
                            self._on_cancel(notice.payload)
                        elif notice.channel == sql.CHANGES_CHANNEL:
                            self._changes(notice.payload)
            except (psycopg.Error, OSError) as exc:
                self.listening.clear()
                if not self._closing and not lost:  # once per outage, not once per retry
                    reason = scrub(" ".join(str(exc).split()), self.url)
                    log.warning("LISTEN connection to %s lost (%s); reconnecting", redact(self.url), reason)
                lost = True
            await asyncio.sleep(defaults.POSTGRES_LISTEN_RETRY)

    async def close(self) -> None:
        self._closing = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # -- writes ----------------------------------------------------------------------

    async def submit_workflow(self, workflow: NewWorkflow, now: float) -> tuple[str, bool]:
        changes = DependentChanges()

        async def work(conn: Connection) -> tuple[str, bool]:
            existing = await deps.insert_workflow(conn, workflow, now)
            if existing is not None:
                return existing, False
            answers = await self._submit(conn, workflow.steps, now, changes)
            await self._tell(conn, changes, [task_id for task_id, _ in answers])
            return workflow.id, True

        answer = await self._run(work, retry=False)
        self._dependents_changed(changes)
        return answer

    async def get_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        return await self._run(lambda conn: deps.get_workflow(conn, workflow_id), transaction=False)

    async def list_workflows(self, limit: int, cursor: str | None) -> WorkflowPage:
        return await self._run(lambda conn: deps.list_workflows(conn, limit, cursor), transaction=False)

    async def _tell(self, conn: Connection, changes: DependentChanges, also: Sequence[str] = ()) -> None:
        """Inside the transaction: wake the daemons for the released tasks' types, and tell the
        live streams of every daemon which tasks changed (both delivered at commit)."""
        if changes.released:
            await conn.execute(sql.NOTIFY, (sql.TASKS_CHANNEL, sorted({t for _, t in changes.released})))
        await self._announce(conn, [*also, *(i for i, _ in changes.released), *changes.ended])

    async def submit(self, tasks: Sequence[NewTask], now: float) -> list[tuple[str, bool]]:
        changes = DependentChanges()

        # Not retried: a commit whose answer was lost would insert the tasks twice.
        async def work(conn: Connection) -> list[tuple[str, bool]]:
            answers = await self._submit(conn, tasks, now, changes)
            await self._tell(conn, changes, [task_id for task_id, created in answers if created])
            return answers

        answers = await self._run(work, retry=False)
        self._dependents_changed(changes)
        return answers

    async def _submit(
        self, conn: Connection, tasks: Sequence[NewTask], now: float, changes: DependentChanges | None = None
    ) -> list[tuple[str, bool]]:
        answers: list[tuple[str, bool]] = []
        waiting: list[str] = []
        rows: list[tuple[Any, ...]] = []
        created_types: set[str] = set()

        async def insert() -> None:
            if rows:
                columns = list(zip(*rows, strict=True))
                names = (
                    "ids",
                    "types",
                    "datas",
                    "priorities",
                    "retries",
                    "run_ats",
                    "keys",
                    "tags",
                    "encrypted",
                )
                await conn.execute(
                    sql.INSERT_TASKS, {"now": now, **dict(zip(names, map(list, columns), strict=True))}
                )
                rows.clear()

        for plain in tasks:
            task = encryption.seal(plain, self.cipher)
            if task.idempotency_key is not None:
                await insert()  # earlier tasks of this batch may hold the key
                # Two daemons submitting one key at once: the second waits here for the first.
                await conn.execute(sql.LOCK_IDEMPOTENCY_KEY, (task.idempotency_key,))
                found = await (
                    await conn.execute(sql.FIND_BY_IDEMPOTENCY_KEY, (task.idempotency_key,))
                ).fetchone()
                if found is not None:
                    answers.append((found[0], False))
                    continue
            task_id = task.task_id or new_task_id()
            if task.dependencies or task.workflow_id is not None:
                await insert()  # dependencies may be earlier tasks of this batch
                waiting += await deps.insert_task(conn, task_id, task, now)
                created_types.add(task.task_type)
                answers.append((task_id, True))
                continue
            rows.append(
                (
                    task_id,
                    task.task_type,
                    task.data_json,
                    task.priority,
                    task.max_retries,
                    now + task.delay,
                    task.idempotency_key,
                    task.tags_json,
                    int(task.encrypted),
                )
            )
            created_types.add(task.task_type)
            answers.append((task_id, True))
        await insert()
        # Dependencies that completed, or failed for good, before the submit: settled now.
        await deps.settle(conn, waiting, now, changes if changes is not None else DependentChanges())
        if created_types:  # delivered at commit, to every daemon listening
            await conn.execute(sql.NOTIFY, (sql.TASKS_CHANNEL, sorted(created_types)))
        return answers

    async def schedule_states(self) -> dict[str, ScheduleState]:
        async def work(conn: Connection) -> list[tuple[Any, ...]]:
            return await (await conn.execute(schedule_state.SELECT_STATES)).fetchall()

        return {row[0]: schedule_state.state_of(row) for row in await self._run(work, transaction=False)}

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

        async def work(conn: Connection) -> ScheduleAdvance:
            # Another daemon's update of the row holds its lock until it commits; this one then
            # sees the new last_due and matches nothing.
            cas = (
                schedule_state.POSTGRES_INSERT_STATE
                if expected is None
                else schedule_state.POSTGRES_ADVANCE_STATE
            )
            if (await conn.execute(cas, params)).rowcount != 1:
                return ScheduleAdvance(won=False)
            if task is None:
                return ScheduleAdvance(won=True)
            [(task_id, created)] = await self._submit(conn, [task], now)
            await conn.execute(schedule_state.POSTGRES_RECORD_RUN, {**params, "task_id": task_id})
            if created:
                await self._announce(conn, [task_id])
            return ScheduleAdvance(won=True, task_id=task_id, created=created)

        # Not retried: like a submit, a commit whose answer was lost would look like a lost race
        # the second time (harmless: the run was enqueued), never like a second run.
        return await self._run(work, retry=False)

    async def claim(self, task_type: str, limit: int, now: float) -> list[ClaimedTask]:
        # One statement (and one read): no transaction of its own.
        claimed = await self._run(lambda conn: self._claim(conn, task_type, limit, now), transaction=False)
        # RETURNING does not keep the ORDER BY of the sub-select: put the order back.
        claimed.sort(key=self._claim_key)
        return claimed

    async def submit_and_claim(
        self, tasks: Sequence[NewTask], now: float, task_type: str, limit: int
    ) -> tuple[list[tuple[str, bool]], list[ClaimedTask]]:
        """Both in one transaction: the notify that wakes this daemon's claim loop is sent at its
        commit, once this claim has taken its tasks. (A claim of its own after the submit's commit
        raced the loop's: each skipped the rows the other had locked, and the tasks reached the
        instance out of order.)"""
        changes = DependentChanges()

        async def work(conn: Connection) -> tuple[list[tuple[str, bool]], list[ClaimedTask]]:
            answers = await self._submit(conn, tasks, now, changes)
            claimed = await self._claim(conn, task_type, limit, now)
            await self._tell(conn, changes, [task_id for task_id, created in answers if created])
            return answers, claimed

        answers, claimed = await self._run(work, retry=False)  # as submit: not retried
        self._dependents_changed(changes)
        claimed.sort(key=self._claim_key)
        return answers, claimed

    async def _claim(self, conn: Connection, task_type: str, limit: int, now: float) -> list[ClaimedTask]:
        params = {
            "task_type": task_type,
            "limit": limit,
            "now": now,
            "daemon": self.daemon_id,
            "lease": self.lease_seconds,
        }
        claimed = []
        waited: list[str] = []
        for *row, dependencies in await (await conn.execute(self._claim_sql, params)).fetchall():
            task = ClaimedTask(*row)
            data = encryption.reveal(task.data_json, self.cipher)
            if data is None:  # a key this daemon lacks: fail it, saying so (a redrive runs it again)
                error = encryption.unreadable_error(task.attempt, self.cipher, now)
                await conn.execute(
                    sql.FAIL_UNREADABLE,
                    {
                        "error_text": error.error,
                        "error": error.to_json(),
                        "now": now,
                        "seq": task.seq,
                        "daemon": self.daemon_id,
                    },
                )
                continue
            claimed.append(task if data is task.data_json else replace(task, data_json=data))
            if dependencies:
                waited.append(task.id)
        if not waited:
            return claimed
        # The dependencies' results are final: read after the claim, outside its statement.
        found = await deps.message_dependencies(conn, waited, self.cipher)
        return [replace(t, dependencies_json=found.get(t.id)) if t.id in found else t for t in claimed]

    async def release(self, task_ids: Sequence[str]) -> None:
        if not task_ids:
            return
        params = {"ids": list(task_ids), "now": time.time(), "daemon": self.daemon_id}
        await self._run(lambda conn: conn.execute(sql.RELEASE, params), transaction=False)

    async def record(
        self, transitions: Sequence[Transition], events: Sequence[TaskEvent], now: float
    ) -> None:
        # The everyday group, completions only, was one statement without a transaction. Not any
        # more: a completion releases its dependents, and a failure ends them, in the transaction
        # that records it (a daemon killed between the two cannot lose them).
        changes = DependentChanges()

        async def work(conn: Connection) -> None:
            await self._record(conn, transitions, events, now)
            completed = [t.task_id for t in transitions if t.status is TaskStatus.COMPLETED]
            if completed:
                await deps.release(conn, completed, now, changes)
            ended = [t.task_id for t in transitions if t.status in UNSUCCESSFUL_STATUSES]
            if ended:
                await deps.cascade(conn, ended, now, changes)
            if changes:
                await self._tell(conn, changes)

        await self._run(work)
        self._dependents_changed(changes)

    async def record_and_get(
        self,
        transitions: Sequence[Transition],
        events: Sequence[TaskEvent],
        now: float,
        task_ids: Sequence[str],
    ) -> list[TaskRecord]:
        """``record``, then the records of the waited tasks it completed, read without their data
        and result and given those the completions hold: not read back out of TOAST (about 60 ms
        of a 16 MiB task's 1.8 s). Other waiters read for themselves."""
        await self.record(transitions, events, now)
        in_hand = values_in_hand(transitions)
        wanted = [task_id for task_id in task_ids if task_id in in_hand]
        if not wanted:
            return []

        async def work(conn: Connection) -> list[TaskRecord]:
            records = []
            for task_id in wanted:
                record = await self._read_record(conn, sql.GET_TASK_WITHOUT_VALUES, task_id)
                # Only this completion's own record: a task deleted or changed meanwhile is read
                # by its waiter as it is now.
                if record is not None and record.take_completed_values(in_hand[task_id], now):
                    records.append(record)
            return records

        try:
            return await self._run(work)
        except QueueUnavailable:  # the outcomes are committed: the waiters read for themselves
            return []

    @staticmethod
    def _completes(t: Transition) -> bool:
        """True for a transition applied by the batched COMPLETE statement."""
        return t.status is TaskStatus.COMPLETED and t.error is None and bool(t.seq)

    async def _record(
        self, conn: Connection, transitions: Sequence[Transition], events: Sequence[TaskEvent], now: float
    ) -> None:
        if events:
            bodies = [json.dumps({**e.message, "at": e.at}, separators=(",", ":")) for e in events]
            await conn.execute(
                sql.INSERT_EVENTS, ([e.task_id for e in events], [e.at for e in events], bodies)
            )
            progress = [
                (e.message["progress"], e.message.get("message"), e.task_id)
                for e in events
                if e.message.get("event") == "progress"
            ]
            if progress:
                async with conn.cursor() as cursor:
                    await cursor.executemany(sql.UPDATE_PROGRESS, progress)
        completed: list[Transition] = []
        others: list[Transition] = []
        for t in transitions:
            (completed if self._completes(t) else others).append(t)
        if completed:
            await conn.execute(
                sql.COMPLETE,
                {
                    "seqs": [t.seq for t in completed],
                    "results": [encryption.seal_text(t.result_json, self.cipher) for t in completed],
                    "metadatas": [t.metadata_json for t in completed],
                    "now": now,
                    "daemon": self.daemon_id,
                },
            )
        if others:
            results = [
                {
                    "result": encryption.seal_text(t.result_json, self.cipher),
                    "id": t.task_id,
                    "daemon": self.daemon_id,
                }
                for t in others
                if t.result_json is not None
            ]
            async with conn.cursor() as cursor:
                if results:
                    await cursor.executemany(sql.SAVE_RESULT, results)
                await cursor.executemany(
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
                            "daemon": self.daemon_id,
                        }
                        for t in others
                    ],
                )
        # Completions announced themselves (COMPLETE); the other changes are announced here.
        await self._announce(conn, sorted({e.task_id for e in events} | {t.task_id for t in others}))

    async def renew(self, task_ids: Sequence[str]) -> int:
        if not task_ids:
            return 0
        params = {"ids": list(task_ids), "lease": self.lease_seconds, "daemon": self.daemon_id}

        async def work(conn: Connection) -> int:
            return (await conn.execute(sql.RENEW, params)).rowcount

        return await self._run(work, transaction=False)

    async def reclaim_expired(self, now: float) -> list[tuple[str, str]]:
        async def work(conn: Connection) -> list[tuple[str, str]]:
            rows = await (
                await conn.execute(sql.REAP_EXPIRED, {"now": now, "limit": defaults.POSTGRES_REAP_LIMIT})
            ).fetchall()
            reclaimed = [(row[0], row[1]) for row in rows]
            if reclaimed:  # wake the daemons that have room for them
                await conn.execute(sql.NOTIFY, (sql.TASKS_CHANNEL, sorted({t for _, t in reclaimed})))
            return reclaimed

        return await self._run(work)

    async def _locked_status(
        self, conn: Connection, task_id: str
    ) -> tuple[TaskStatus, str | None, str] | None:
        row = await (await conn.execute(sql.GET_STATUS_FOR_UPDATE, (task_id,))).fetchone()
        return None if row is None else (TaskStatus(row[0]), row[1], row[2])

    async def cancel_pending(self, task_id: str, now: float) -> TaskStatus | None:
        async def work(conn: Connection) -> TaskStatus | None:
            found = await self._locked_status(conn, task_id)
            if found is None:
                return None
            if found[0] in (TaskStatus.PENDING, TaskStatus.WAITING):
                await conn.execute(sql.CANCEL, {"id": task_id, "now": now})
                await deps.cascade(conn, [task_id], now, changes)
                await self._tell(conn, changes, [task_id])
            return found[0]

        changes = DependentChanges()
        before = await self._run(work)
        self._dependents_changed(changes)
        return before

    async def cancel_elsewhere(self, task_id: str, now: float) -> bool:
        async def work(conn: Connection) -> bool:
            found = await self._locked_status(conn, task_id)
            if found is None or found[0] is not TaskStatus.PROCESSING or found[1] == self.daemon_id:
                return False
            # Cancelled at once (its daemon may be gone); the daemon running it, told at
            # commit, stops its handler, and its late outcome no longer applies.
            await conn.execute(sql.CANCEL, {"id": task_id, "now": now})
            await conn.execute(sql.NOTIFY, (sql.CANCEL_CHANNEL, [task_id]))
            return True

        return await self._run(work)

    async def delete(self, task_id: str) -> TaskStatus | None:
        async def work(conn: Connection) -> TaskStatus | None:
            found = await self._locked_status(conn, task_id)
            if found is None:
                return None
            if found[0] is not TaskStatus.COMPLETED:  # a completed one counts as met once gone
                await deps.cascade(conn, [task_id], now, changes, verb="was deleted")
            await conn.execute(sql.DELETE_TASK, (task_id,))
            await conn.execute(sql.DELETE_EVENTS, (task_id,))
            await deps.delete_edges(conn, [task_id])
            await self._tell(conn, changes, [task_id])
            if found[0] is TaskStatus.PROCESSING and found[1] != self.daemon_id:
                await conn.execute(sql.NOTIFY, (sql.CANCEL_CHANNEL, [task_id]))
            return found[0]

        changes = DependentChanges()
        now = time.time()
        before = await self._run(work)
        self._dependents_changed(changes)
        return before

    async def redrive(self, task_id: str, now: float) -> TaskStatus | None:
        async def work(conn: Connection) -> TaskStatus | None:
            found = await self._locked_status(conn, task_id)
            if found is None:
                return None
            if found[0] in REDRIVABLE_STATUSES:
                await conn.execute(sql.DROP_RESULT, {"id": task_id})
                row = await (await conn.execute(sql.REDRIVE, {"id": task_id, "now": now})).fetchone()
                revived = await deps.after_redrive(conn, task_id, bool(row and row[0]), now)
                changes.released += revived.released
                changes.ended += revived.ended
                await conn.execute(sql.NOTIFY, (sql.TASKS_CHANNEL, [found[2]]))
                await self._tell(conn, changes, [task_id])
            return found[0]

        changes = DependentChanges()
        before = await self._run(work)
        self._dependents_changed(changes)
        return before

    # -- reads -----------------------------------------------------------------------

    async def get(self, task_id: str) -> TaskRecord | None:
        return await self._run(lambda conn: self._read_record(conn, sql.GET_TASK, task_id))

    async def _read_record(self, conn: Connection, query: str, task_id: str) -> TaskRecord | None:
        """The record of ``task_id`` from its row as ``query`` reads it, with its events and
        dependencies; None when there is no such task."""
        row = await (await conn.execute(query, (task_id,))).fetchone()
        if row is None:
            return None
        bodies = await (await conn.execute(sql.GET_EVENTS, (task_id,))).fetchall()
        record = row_to_record(row, [json.loads(body) for (body,) in bodies], self.cipher)
        record.depends_on = await deps.depends_on(conn, task_id)
        return record

    async def reencrypt_batch(
        self, table: str, after: int, limit: int, tally: encryption.Reencrypted
    ) -> int | None:
        cipher = self.cipher
        assert cipher is not None, "reencrypt needs DAEMON_ENCRYPTION_KEY"

        async def work(conn: Connection) -> int | None:
            rows = await (await conn.execute(sql.PAYLOAD_BATCH[table], (after, limit))).fetchall()
            if not rows:
                return None
            rewrites, were_plain = encryption.reencrypt_rows([(r[0], r[1]) for r in rows], cipher, tally)
            async with conn.cursor() as cursor:
                if rewrites:
                    await cursor.executemany(sql.PAYLOAD_REWRITE[table], rewrites)
                if table == "task_data" and were_plain:
                    await cursor.executemany(sql.MARK_ENCRYPTED, [(seq,) for seq in were_plain])
            return int(rows[-1][0])

        return await self._run(work)

    async def get_if_final(self, task_id: str) -> TaskRecord | TaskStatus | None:
        async def work(conn: Connection) -> TaskStatus | None:
            row = await (await conn.execute(sql.GET_STATUS, (task_id,))).fetchone()
            return None if row is None else TaskStatus(row[0])

        status = await self._run(work, transaction=False)
        return await self.get(task_id) if status is not None and status.is_final else status

    async def list(
        self,
        *,
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

        async def work(conn: Connection) -> TaskPage:
            return page_of(await (await conn.execute(query, params)).fetchall(), limit, self.cipher)

        return await self._run(work, transaction=False)

    async def counts(self) -> dict[str, int]:
        async def work(conn: Connection) -> list[tuple[Any, ...]]:
            return await (await conn.execute(sql.COUNT_BY_STATUS)).fetchall()

        return counts_of(await self._run(work, transaction=False))

    # -- retention (statements in retention_sql.py) -------------------------------------------

    async def prune(self, cutoffs: Mapping[TaskStatus, float], limit: int) -> dict[TaskStatus, int]:
        async def work(conn: Connection) -> dict[TaskStatus, int]:
            gone: dict[TaskStatus, int] = {}
            for status, cutoff in cutoffs.items():
                left = limit - sum(gone.values())
                if status not in FINAL_STATUSES or left <= 0:
                    continue
                params = {"status": status.value, "cutoff": cutoff, "limit": left}
                for name, count in await (
                    await conn.execute(retention_sql.POSTGRES_PRUNE_BY_AGE, params)
                ).fetchall():
                    gone[TaskStatus(name)] = gone.get(TaskStatus(name), 0) + int(count)
            return gone

        return await self._run(work)

    async def prune_excess(self, keep: int, limit: int) -> dict[TaskStatus, int]:
        async def work(conn: Connection) -> dict[TaskStatus, int]:
            lock = await conn.execute(
                retention_sql.POSTGRES_TRY_PRUNE_LOCK, (retention_sql.POSTGRES_PRUNE_LOCK_KEY,)
            )
            row = await lock.fetchone()
            if row is None or not row[0]:
                return {}  # another daemon applies the cap right now
            found = await (await conn.execute(retention_sql.POSTGRES_COUNT_FINISHED)).fetchone()
            excess = (int(found[0]) if found else 0) - keep
            if excess <= 0:
                return {}
            rows = await (
                await conn.execute(retention_sql.POSTGRES_PRUNE_OLDEST, {"limit": min(limit, excess)})
            ).fetchall()
            return {TaskStatus(name): int(count) for name, count in rows}

        return await self._run(work)

    async def count_prunable(self, cutoffs: Mapping[TaskStatus, float]) -> dict[TaskStatus, int]:
        async def work(conn: Connection) -> dict[TaskStatus, int]:
            counts: dict[TaskStatus, int] = {}
            for status, cutoff in cutoffs.items():
                if status in FINAL_STATUSES:
                    cursor = await conn.execute(retention_sql.POSTGRES_COUNT_PRUNABLE, (status.value, cutoff))
                    row = await cursor.fetchone()
                    counts[status] = int(row[0]) if row else 0
            return counts

        return await self._run(work, transaction=False)

    async def count_finished(self) -> int:
        async def work(conn: Connection) -> int:
            row = await (await conn.execute(retention_sql.POSTGRES_COUNT_FINISHED)).fetchone()
            return int(row[0]) if row else 0

        return await self._run(work, transaction=False)

    async def storage(self) -> Storage:
        async def work(conn: Connection) -> Storage:
            row = await (await conn.execute(retention_sql.POSTGRES_SIZE)).fetchone()
            return Storage(size_bytes=int(row[0]) if row else 0)

        return await self._run(work, transaction=False)


def preflight(url: str) -> str | None:
    """Why the daemon cannot use the database at ``url`` (malformed, unreachable, refused),
    or None when it can; checked before the server starts, so the error is one clear line."""
    try:
        check_url(url)
    except ValueError as exc:
        return f"invalid database_url {redact(url)}: {exc}"
    try:
        with psycopg.connect(url, connect_timeout=int(defaults.POSTGRES_CONNECT_TIMEOUT)) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = scrub(" ".join(str(exc).split()), url) or type(exc).__name__
        return f"cannot connect to PostgreSQL at {redact(url)}: {reason}"
    return None
