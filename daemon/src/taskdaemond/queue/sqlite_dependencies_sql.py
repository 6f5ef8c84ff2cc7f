"""The SQL statements of the SQLite queue's dependencies and workflows (sqlite_dependencies.py)."""

from taskdaemond.statuses import UNSUCCESSFUL_STATUSES, TaskStatus, sql_literal

_WAITING = sql_literal(TaskStatus.WAITING)
_PENDING = sql_literal(TaskStatus.PENDING)
_COMPLETED = sql_literal(TaskStatus.COMPLETED)
_FAILED = sql_literal(TaskStatus.FAILED)
_CANCELLED = sql_literal(TaskStatus.CANCELLED)
_UNSUCCESSFUL = "(" + ", ".join(sql_literal(s) for s in sorted(UNSUCCESSFUL_STATUSES)) + ")"

INSERT_TASK = """
INSERT INTO tasks (id, task_type, status, priority, max_retries, run_at, idempotency_key,
                   created_at, updated_at, tags, workflow_id, step, on_dependency_failure, dependencies,
                   encrypted)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING seq
"""

#: The task's data, in its own table (migration 0006).
INSERT_DATA = "INSERT INTO task_data (seq, data) VALUES (?, ?)"

FIND_TASKS = "SELECT id, task_type FROM tasks WHERE id IN (SELECT value FROM json_each(?))"

INSERT_EDGE = (
    "INSERT OR IGNORE INTO task_dependencies (task_id, depends_on, key, depends_on_type) VALUES (?, ?, ?, ?)"
)

#: A task's dependencies with their state (a pruned dependency has none: it had completed).
DEPENDENCIES_OF = """
SELECT d.key, d.depends_on, t.status, t.last_error
FROM task_dependencies d LEFT JOIN tasks t ON t.id = d.depends_on
WHERE d.task_id = ?
"""

#: Waiting dependents of the tasks in ?1 (a JSON array), with the dependency that names them.
WAITING_DEPENDENTS = f"""
SELECT t.id, t.on_dependency_failure, t.attempts, d.key, d.depends_on, dep.status, dep.last_error
FROM task_dependencies d
JOIN tasks t ON t.id = d.task_id
JOIN tasks dep ON dep.id = d.depends_on
WHERE d.depends_on IN (SELECT value FROM json_each(?1)) AND t.status = {_WAITING}
  AND (?2 OR dep.status IN {_UNSUCCESSFUL})
"""

END_WAITING = f"""
UPDATE tasks
SET status = :status, last_error = :error_text, errors = json_insert(errors, '$[#]', json(:error)),
    failed_by = :failed_by, finished_at = :now, updated_at = :now
WHERE id = :id AND status = {_WAITING}
"""

#: Waiting dependents of the tasks in ?2 whose every dependency has completed become pending.
RELEASE = f"""
UPDATE tasks SET status = {_PENDING}, updated_at = ?1
WHERE status = {_WAITING}
  AND id IN (SELECT task_id FROM task_dependencies WHERE depends_on IN (SELECT value FROM json_each(?2)))
  AND NOT EXISTS (
      SELECT 1 FROM task_dependencies d JOIN tasks t ON t.id = d.depends_on
      WHERE d.task_id = tasks.id AND t.status != {_COMPLETED}
  )
RETURNING id, task_type
"""

MAKE_PENDING = f"UPDATE tasks SET status = {_PENDING}, updated_at = ? WHERE id = ? AND status = {_WAITING}"

MAKE_WAITING = f"UPDATE tasks SET status = {_WAITING}, updated_at = ? WHERE id = ?"

#: Dependents that a dependency in ?2 failed or cancelled wait again (redrive of that one).
REVIVE = f"""
UPDATE tasks
SET status = {_WAITING}, failed_by = NULL, attempts = 0, finished_at = NULL, updated_at = ?1
WHERE failed_by IN (SELECT value FROM json_each(?2)) AND status IN ({_FAILED}, {_CANCELLED})
RETURNING id
"""

#: The message's dependencies of claimed tasks (?1: their ids as a JSON array).
MESSAGE_DEPENDENCIES = """
SELECT d.task_id, d.key, d.depends_on, d.depends_on_type, r.result
FROM task_dependencies d LEFT JOIN tasks t ON t.id = d.depends_on LEFT JOIN task_results r ON r.seq = t.seq
WHERE d.task_id IN (SELECT value FROM json_each(?))
"""

DEPENDS_ON = "SELECT depends_on FROM task_dependencies WHERE task_id = ?"

DELETE_EDGES = "DELETE FROM task_dependencies WHERE task_id IN (SELECT value FROM json_each(?))"

FIND_WORKFLOW_BY_KEY = "SELECT id FROM workflows WHERE idempotency_key = ? ORDER BY seq LIMIT 1"

INSERT_WORKFLOW = (
    "INSERT INTO workflows (id, name, on_failure, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?)"
)

WORKFLOW_COLUMNS = "seq, id, name, on_failure, idempotency_key, created_at"

GET_WORKFLOW = f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = ?"

WORKFLOW_STEPS = """
SELECT step, id, task_type, status, attempts, created_at, started_at, finished_at, last_error, failed_by
FROM tasks WHERE workflow_id = ? ORDER BY seq
"""

WORKFLOW_EDGES = """
SELECT d.task_id, d.key FROM task_dependencies d
WHERE d.task_id IN (SELECT id FROM tasks WHERE workflow_id = ?)
"""

WORKFLOW_COUNTS = """
SELECT workflow_id, status, count(*), min(started_at), max(finished_at)
FROM tasks WHERE workflow_id IN (SELECT value FROM json_each(?)) GROUP BY workflow_id, status
"""


def list_workflows_query(cursor: bool) -> str:
    where = "WHERE seq < ?" if cursor else ""
    return f"SELECT {WORKFLOW_COLUMNS} FROM workflows {where} ORDER BY seq DESC LIMIT ?"
