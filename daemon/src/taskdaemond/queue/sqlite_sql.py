"""Every SQL statement of the SQLite queue, named, in one place (the schema is in its migrations)."""

from taskdaemond.queue._rows import list_query
from taskdaemond.queue.models import TaskFilters
from taskdaemond.statuses import TaskStatus, sql_literal

# Statuses as SQL literals: every statement below is built from constants only.
_CANCELLED = sql_literal(TaskStatus.CANCELLED)
_COMPLETED = sql_literal(TaskStatus.COMPLETED)
_FAILED = sql_literal(TaskStatus.FAILED)
_PENDING = sql_literal(TaskStatus.PENDING)
_PROCESSING = sql_literal(TaskStatus.PROCESSING)

#: The package whose NNNN_name.sql files are this queue's migrations.
MIGRATIONS_PACKAGE = "taskdaemond.queue.sqlite_migrations"

#: The claim index of each task selection. Only the one in use is kept: every index is
#: rewritten twice per task (claimed, then finished), so a spare one costs throughput.
CLAIM_INDEXES = {
    "tasks_claim_fifo": "CREATE INDEX IF NOT EXISTS tasks_claim_fifo ON tasks (task_type, status, seq)",
    "tasks_claim_priority": (
        "CREATE INDEX IF NOT EXISTS tasks_claim_priority ON tasks (task_type, status, priority DESC, seq)"
    ),
}
CLAIM_INDEX_OF = {"fifo": "tasks_claim_fifo", "lifo": "tasks_claim_fifo", "priority": "tasks_claim_priority"}

RECOVER_PROCESSING = f"UPDATE tasks SET status = {_PENDING}, updated_at = ? WHERE status = {_PROCESSING}"

FIND_BY_IDEMPOTENCY_KEY = f"""
SELECT id FROM tasks WHERE idempotency_key = ? AND status != {_FAILED} ORDER BY seq LIMIT 1
"""

#: The seq the next task gets (seq is the rowid: SQLite gives max + 1 too). Submits set it
#: themselves, so that a batch's data rows are inserted with one executemany of their own.
NEXT_SEQ = "SELECT coalesce(max(seq), 0) + 1 FROM tasks"

INSERT_TASK = f"""
INSERT INTO tasks (seq, id, task_type, status, priority, max_retries, run_at,
                   idempotency_key, created_at, updated_at, tags, encrypted)
VALUES (?, ?, ?, {_PENDING}, ?, ?, ?, ?, ?, ?, ?, ?)
"""

#: A task's data, in its own table (migration 0006): updates of the task never rewrite it.
INSERT_DATA = "INSERT INTO task_data (seq, data) VALUES (?, ?)"

#: A task's data and result, as a column of a statement on tasks.
DATA_OF_TASK = "(SELECT data FROM task_data WHERE task_data.seq = tasks.seq)"
RESULT_OF_TASK = "(SELECT result FROM task_results WHERE task_results.seq = tasks.seq)"

#: What a daemon without an encryption key adds to its claim: it never takes an encrypted task.
CLAIM_GATE_NO_KEY = " AND encrypted = 0"

#: A claimed task whose data no key of this daemon decrypts fails at once, saying so.
FAIL_UNREADABLE = f"""
UPDATE tasks
SET status = {_FAILED}, last_error = :error_text, errors = json_insert(errors, '$[#]', json(:error)),
    finished_at = :now, updated_at = :now
WHERE seq = :seq AND status = {_PROCESSING}
"""

#: ORDER BY of a claim for each task selection.
CLAIM_ORDER = {
    "fifo": "seq",
    "lifo": "seq DESC",
    "priority": "priority DESC, seq",
}

#: started_at is never before the task became pending (its updated_at): the claim's time is read
#: before the statement runs, and a dependency completed meanwhile released the task later.
#: Tasks from seq :fresh on come back without their data: a submit that claims in its own
#: transaction has the data of the tasks it just inserted (up to 64 MiB each) in hand.
CLAIM = f"""
UPDATE tasks
SET status = {_PROCESSING}, attempts = attempts + 1,
    started_at = max(:now, updated_at), updated_at = max(:now, updated_at)
WHERE seq IN (
    SELECT seq FROM tasks
    WHERE task_type = :task_type AND status = {_PENDING} AND run_at <= :now{{gate}}
    ORDER BY {{order}}
    LIMIT :limit
)
RETURNING id, task_type, CASE WHEN seq >= :fresh THEN NULL ELSE {DATA_OF_TASK} END,
          attempts - 1, max_retries, priority, seq, tags, dependencies
"""

#: The :fresh of a claim that has no data in hand.
NO_FRESH_SEQ = 2**63 - 1

DATA_BY_SEQ = "SELECT data FROM task_data WHERE seq = ?"

RELEASE = f"""
UPDATE tasks SET status = {_PENDING}, attempts = attempts - 1, updated_at = ?
WHERE id = ? AND status = {_PROCESSING}
"""

#: The result of a task that is still processing (placed before the transition that ends it,
#: which the same guard lets through): a task deleted or cancelled meanwhile gets none.
SAVE_RESULT = f"""
INSERT OR REPLACE INTO task_results (seq, result)
SELECT seq, :result FROM tasks WHERE seq = :seq AND status = {_PROCESSING}
"""
SAVE_RESULT_BY_ID = f"""
INSERT OR REPLACE INTO task_results (seq, result)
SELECT seq, :result FROM tasks WHERE id = :id AND status = {_PROCESSING}
"""

APPLY_TRANSITION = f"""
UPDATE tasks
SET status = :status,
    metadata = COALESCE(:metadata, metadata),
    run_at = COALESCE(:run_at, run_at),
    last_error = COALESCE(:error_text, last_error),
    errors = CASE WHEN :error IS NULL THEN errors ELSE json_insert(errors, '$[#]', json(:error)) END,
    crashes = crashes + :crashed,
    finished_at = :finished_at,
    updated_at = :now
WHERE id = :id AND status = {_PROCESSING}
"""

#: The everyday transition, kept simple: it runs once per completed task (after SAVE_RESULT).
COMPLETE = f"""
UPDATE tasks
SET status = {_COMPLETED}, metadata = COALESCE(:metadata, metadata), finished_at = :now, updated_at = :now
WHERE seq = :seq AND status = {_PROCESSING}
"""

INSERT_EVENT = "INSERT INTO events (task_id, at, body) VALUES (?, ?, ?)"

UPDATE_PROGRESS = "UPDATE tasks SET progress = ?, progress_message = ? WHERE id = ?"


def _task_columns(data: str, result: str) -> str:
    return f"""
seq, id, task_type, {data}, status, priority, attempts, max_retries, run_at, idempotency_key,
created_at, updated_at, started_at, finished_at, {result}, metadata, last_error, errors, crashes,
progress, progress_message, tags, workflow_id, step, on_dependency_failure
"""


TASK_COLUMNS = _task_columns(DATA_OF_TASK, RESULT_OF_TASK)

#: A task whose tags hold {key}: {value} (json_each reads the tags object).
TAG_MATCH = (
    "EXISTS (SELECT 1 FROM json_each(tasks.tags) WHERE json_each.key = {key} AND json_each.value = {value})"
)

GET_TASK = f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"

#: A task's row with NULL for its data and result, for a caller that holds both already.
GET_TASK_WITHOUT_VALUES = f"SELECT {_task_columns('NULL', 'NULL')} FROM tasks WHERE id = ?"

GET_EVENTS = "SELECT body FROM events WHERE task_id = ? ORDER BY rowid"

GET_STATUS = "SELECT status FROM tasks WHERE id = ?"

CANCEL = f"UPDATE tasks SET status = {_CANCELLED}, finished_at = ?, updated_at = ? WHERE id = ?"

#: Statuses a cancel ends at once (a running task is stopped by its daemon instead).
CANCELLABLE_NOW = frozenset({TaskStatus.PENDING, TaskStatus.WAITING})

DELETE_TASK = "DELETE FROM tasks WHERE id = ?"

DELETE_EVENTS = "DELETE FROM events WHERE task_id = ?"

REDRIVE = f"""
UPDATE tasks
SET status = {_PENDING}, attempts = 0, run_at = ?, finished_at = NULL, updated_at = ?, failed_by = NULL
WHERE id = ?
RETURNING dependencies
"""

#: A redriven task runs again from its data: the result of an earlier run goes.
DROP_RESULT = "DELETE FROM task_results WHERE seq = (SELECT seq FROM tasks WHERE id = ?)"

COUNT_BY_STATUS = "SELECT status, count(*) FROM tasks GROUP BY status"


def list_tasks(*, status: bool, task_type: bool, cursor: bool, filters: TaskFilters | None = None) -> str:
    """SELECT for one page of tasks, newest first, with the filters that are given."""
    return list_query(
        TASK_COLUMNS,
        lambda name: f":{name}",
        status=status,
        task_type=task_type,
        cursor=cursor,
        filters=filters,
        tag_match=TAG_MATCH,
    )


#: ``taskdaemond reencrypt``: a batch of stored payloads after a seq, and their rewrite.
PAYLOAD_BATCH = {
    "task_data": "SELECT seq, data FROM task_data WHERE seq > ? ORDER BY seq LIMIT ?",
    "task_results": "SELECT seq, result FROM task_results WHERE seq > ? ORDER BY seq LIMIT ?",
}
PAYLOAD_REWRITE = {
    "task_data": "UPDATE task_data SET data = ? WHERE seq = ?",
    "task_results": "UPDATE task_results SET result = ? WHERE seq = ?",
}
MARK_ENCRYPTED = "UPDATE tasks SET encrypted = 1 WHERE seq = ?"
