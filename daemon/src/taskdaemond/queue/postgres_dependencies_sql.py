"""The SQL statements of the PostgreSQL queue's dependencies and workflows
(postgres_dependencies.py). Several daemons share the queue: dependents are locked (FOR UPDATE,
in id order) before their dependencies are read, so two daemons completing two dependencies of
one task at once cannot both see the other's as unfinished."""

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
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s)
RETURNING seq
"""

#: The task's data, in its own table (migration 0006).
INSERT_DATA = "INSERT INTO task_data (seq, data) VALUES (%s, %s)"

#: The dependencies named by a submit, locked against a concurrent completion or failure (which
#: then waits for the submit to commit, and sees the new dependent).
LOCK_TASKS = "SELECT id, task_type FROM tasks WHERE id = ANY(%s) ORDER BY id FOR SHARE"

INSERT_EDGES = """
INSERT INTO task_dependencies (task_id, depends_on, key, depends_on_type)
SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING
"""

#: Waiting dependents of the tasks in %s, locked in id order.
LOCK_DEPENDENTS = f"""
SELECT id FROM tasks
WHERE id IN (SELECT task_id FROM task_dependencies WHERE depends_on = ANY(%s)) AND status = {_WAITING}
ORDER BY id FOR UPDATE
"""

LOCK_WAITING = f"SELECT id FROM tasks WHERE id = ANY(%s) AND status = {_WAITING} ORDER BY id FOR UPDATE"

#: Of the locked waiting tasks, those whose every dependency has completed become pending.
RELEASE = f"""
UPDATE tasks SET status = {_PENDING}, updated_at = %(now)s
WHERE id = ANY(%(ids)s) AND status = {_WAITING}
  AND NOT EXISTS (
      SELECT 1 FROM task_dependencies d JOIN tasks t ON t.id = d.depends_on
      WHERE d.task_id = tasks.id AND t.status != {_COMPLETED}
  )
RETURNING id, task_type
"""

#: Of the locked waiting tasks, each with its first dependency that ended for good.
FAILED_DEPENDENCY = f"""
SELECT DISTINCT ON (w.id) w.id, w.on_dependency_failure, w.attempts, d.key, d.depends_on, t.status,
       t.last_error
FROM tasks w
JOIN task_dependencies d ON d.task_id = w.id
JOIN tasks t ON t.id = d.depends_on
WHERE w.id = ANY(%s) AND w.status = {_WAITING} AND t.status IN {_UNSUCCESSFUL}
ORDER BY w.id, d.key
"""

#: Waiting dependents of %(ids)s, with the dependency that names them (for a deletion).
DEPENDENTS_OF = f"""
SELECT DISTINCT ON (w.id) w.id, w.on_dependency_failure, w.attempts, d.key, d.depends_on
FROM tasks w JOIN task_dependencies d ON d.task_id = w.id
WHERE d.depends_on = ANY(%s) AND w.status = {_WAITING}
ORDER BY w.id, d.key
"""

END_WAITING = f"""
UPDATE tasks
SET status = %(status)s, last_error = %(error_text)s, errors = errors || jsonb_build_array(%(error)s::jsonb),
    failed_by = %(failed_by)s, finished_at = %(now)s, updated_at = %(now)s
WHERE id = %(id)s AND status = {_WAITING}
"""

MAKE_WAITING = f"UPDATE tasks SET status = {_WAITING}, updated_at = %s WHERE id = %s"

#: Dependents that a dependency in %(ids)s failed or cancelled wait again (its redrive).
REVIVE = f"""
UPDATE tasks
SET status = {_WAITING}, failed_by = NULL, attempts = 0, finished_at = NULL, updated_at = %(now)s
WHERE failed_by = ANY(%(ids)s) AND status IN ({_FAILED}, {_CANCELLED})
RETURNING id
"""

MESSAGE_DEPENDENCIES = """
SELECT d.task_id, d.key, d.depends_on, d.depends_on_type, r.result
FROM task_dependencies d LEFT JOIN tasks t ON t.id = d.depends_on LEFT JOIN task_results r ON r.seq = t.seq
WHERE d.task_id = ANY(%s)
"""

DEPENDS_ON = "SELECT depends_on FROM task_dependencies WHERE task_id = %s"

DELETE_EDGES = "DELETE FROM task_dependencies WHERE task_id = ANY(%s)"

LOCK_WORKFLOW_KEY = "SELECT pg_advisory_xact_lock(hashtextextended('workflow:' || %s, 0))"

FIND_WORKFLOW_BY_KEY = "SELECT id FROM workflows WHERE idempotency_key = %s ORDER BY seq LIMIT 1"

INSERT_WORKFLOW = (
    "INSERT INTO workflows (id, name, on_failure, idempotency_key, created_at) VALUES (%s, %s, %s, %s, %s)"
)

WORKFLOW_COLUMNS = "seq, id, name, on_failure, idempotency_key, created_at"

GET_WORKFLOW = f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = %s"

WORKFLOW_STEPS = """
SELECT step, id, task_type, status, attempts, created_at, started_at, finished_at, last_error, failed_by
FROM tasks WHERE workflow_id = %s ORDER BY seq
"""

WORKFLOW_EDGES = """
SELECT d.task_id, d.key FROM task_dependencies d
WHERE d.task_id IN (SELECT id FROM tasks WHERE workflow_id = %s)
"""

WORKFLOW_COUNTS = """
SELECT workflow_id, status, count(*), min(started_at), max(finished_at)
FROM tasks WHERE workflow_id = ANY(%s) GROUP BY workflow_id, status
"""

LIST_WORKFLOWS = f"SELECT {WORKFLOW_COLUMNS} FROM workflows ORDER BY seq DESC LIMIT %s"

LIST_WORKFLOWS_AFTER = f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE seq < %s ORDER BY seq DESC LIMIT %s"
