"""Every SQL statement of the PostgreSQL queue, named, in one place. The schema itself is in
the versioned files of ``queue/migrations``."""

from taskdaemond import defaults
from taskdaemond.queue._rows import list_query
from taskdaemond.queue.models import TaskFilters
from taskdaemond.statuses import TaskStatus, sql_literal

# Statuses as SQL literals: every statement below is built from constants only.
_CANCELLED = sql_literal(TaskStatus.CANCELLED)
_COMPLETED = sql_literal(TaskStatus.COMPLETED)
_FAILED = sql_literal(TaskStatus.FAILED)
_PENDING = sql_literal(TaskStatus.PENDING)
_PROCESSING = sql_literal(TaskStatus.PROCESSING)

#: Channels of LISTEN/NOTIFY: new (or redriven) tasks, by task type; cancels, by task id.
TASKS_CHANNEL = "taskdaemon_tasks"
CANCEL_CHANNEL = "taskdaemon_cancel"
#: Tasks that changed (for the live streams): payload "<daemon id> <task id> <task id> ...".
CHANGES_CHANNEL = "taskdaemon_changes"

#: application_name of a daemon's connections: pg_stat_activity lists the daemons on the queue.
APPLICATION_NAME = "taskdaemond {version} {daemon}"
DAEMONS = """
SELECT application_name, extract(epoch FROM min(backend_start))::double precision, count(*)
FROM pg_stat_activity
WHERE datname = current_database() AND application_name LIKE 'taskdaemond %'
GROUP BY application_name
ORDER BY min(backend_start)
"""

#: Key of the advisory lock held while migrations run (any constant bigint; "TDMIGRAT").
#: The package whose NNNN_name.sql files are this queue's migrations.
MIGRATIONS_PACKAGE = "taskdaemond.queue.postgres_migrations"

MIGRATION_LOCK_KEY = 0x5444_4D49_4752_4154

#: The database's clock, in seconds since the epoch: leases are set and read on it, so the
#: daemons' own clocks need not agree.
DB_NOW = "extract(epoch FROM clock_timestamp())::double precision"

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS taskdaemon_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
APPLIED_MIGRATIONS = "SELECT version FROM taskdaemon_migrations"
RECORD_MIGRATION = "INSERT INTO taskdaemon_migrations (version, name) VALUES (%s, %s)"

#: Serialises submits of one idempotency key across daemons (released at commit).
LOCK_IDEMPOTENCY_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"

FIND_BY_IDEMPOTENCY_KEY = f"""
SELECT id FROM tasks WHERE idempotency_key = %s AND status <> {_FAILED} ORDER BY seq LIMIT 1
"""

#: Tasks, and their data in a table of its own (migration 0006), in one statement.
INSERT_TASKS = f"""
WITH v AS (
    SELECT * FROM unnest(%(ids)s::text[], %(types)s::text[], %(datas)s::text[], %(priorities)s::int[],
                         %(retries)s::int[], %(run_ats)s::float8[], %(keys)s::text[], %(tags)s::text[],
                         %(encrypted)s::int[])
         WITH ORDINALITY AS v(id, task_type, data, priority, max_retries, run_at, key, tags, encrypted, ord)
), inserted AS (
    INSERT INTO tasks (id, task_type, status, priority, max_retries, run_at, idempotency_key,
                       created_at, updated_at, tags, encrypted)
    SELECT v.id, v.task_type, {_PENDING}, v.priority, v.max_retries, v.run_at, v.key, %(now)s, %(now)s,
           v.tags::jsonb, v.encrypted
    FROM v
    ORDER BY v.ord
    RETURNING seq, id
)
INSERT INTO task_data (seq, data) SELECT inserted.seq, v.data FROM inserted JOIN v ON v.id = inserted.id
"""

#: A task's data and result, as a column of a statement on tasks (aliased ``t`` or not).
DATA_OF_TASK = "(SELECT data FROM task_data WHERE task_data.seq = {table}.seq)"
RESULT_OF_TASK = "(SELECT result FROM task_results WHERE task_results.seq = {table}.seq)"

NOTIFY = "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload"

#: What a daemon without an encryption key adds to its claim: it never takes an encrypted task.
CLAIM_GATE_NO_KEY = " AND encrypted = 0"

#: A claimed task whose data no key of this daemon decrypts fails at once, saying so.
FAIL_UNREADABLE = f"""
UPDATE tasks
SET status = {_FAILED}, last_error = %(error_text)s, errors = errors || jsonb_build_array(%(error)s::jsonb),
    finished_at = %(now)s, updated_at = %(now)s, claimed_by = NULL, lease_expires_at = NULL
WHERE seq = %(seq)s AND status = {_PROCESSING} AND claimed_by = %(daemon)s
"""

#: ORDER BY of a claim for each task selection.
CLAIM_ORDER = {"fifo": "seq", "lifo": "seq DESC", "priority": "priority DESC, seq"}

#: started_at is never before the task became pending (its updated_at): the claim's time is read
#: before the statement runs, and a dependency completed meanwhile released the task later.
#: SKIP LOCKED: daemons claiming at once take different rows instead of waiting for each other.
CLAIM = f"""
WITH picked AS (
    SELECT seq FROM tasks
    WHERE task_type = %(task_type)s AND status = {_PENDING} AND run_at <= %(now)s{{gate}}
    ORDER BY {{order}}
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE tasks AS t
SET status = {_PROCESSING}, attempts = t.attempts + 1,
    started_at = GREATEST(%(now)s, t.updated_at), updated_at = GREATEST(%(now)s, t.updated_at),
    claimed_by = %(daemon)s, lease_expires_at = {DB_NOW} + %(lease)s
FROM picked
WHERE t.seq = picked.seq
RETURNING t.id, t.task_type, {DATA_OF_TASK.format(table="t")}, t.attempts - 1, t.max_retries, t.priority,
          t.seq, t.tags::text, t.dependencies
"""

RELEASE = f"""
UPDATE tasks
SET status = {_PENDING}, attempts = attempts - 1, updated_at = %(now)s,
    claimed_by = NULL, lease_expires_at = NULL
WHERE id = ANY(%(ids)s) AND status = {_PROCESSING} AND claimed_by = %(daemon)s
"""

#: Outcomes apply only while this daemon still holds the task: once a lease has expired and
#: another daemon reclaimed it, a late outcome from the first is dropped. The completed ids are
#: announced on CHANGES_CHANNEL by the same statement (no round trip of its own).
COMPLETE = f"""
WITH v AS (
    SELECT * FROM unnest(%(seqs)s::bigint[], %(results)s::text[], %(metadatas)s::text[])
         AS v(seq, result, metadata)
), done AS (
UPDATE tasks AS t
SET status = {_COMPLETED}, metadata = COALESCE(v.metadata, t.metadata),
    finished_at = %(now)s, updated_at = %(now)s, claimed_by = NULL, lease_expires_at = NULL
FROM v
WHERE t.seq = v.seq AND t.status = {_PROCESSING} AND t.claimed_by = %(daemon)s
RETURNING t.id, t.seq
), saved AS (
INSERT INTO task_results (seq, result) SELECT done.seq, v.result FROM done JOIN v ON v.seq = done.seq
ON CONFLICT (seq) DO UPDATE SET result = EXCLUDED.result
)
SELECT pg_notify('{CHANGES_CHANNEL}', %(daemon)s || ' ' || string_agg(id, ' '))
FROM (SELECT id, (row_number() OVER ()) / {defaults.CHANGES_PER_NOTIFY} AS chunk FROM done) AS numbered
GROUP BY chunk
"""

#: The result of a task this daemon still runs, placed before the transition that ends it.
SAVE_RESULT = f"""
INSERT INTO task_results (seq, result)
SELECT seq, %(result)s FROM tasks WHERE id = %(id)s AND status = {_PROCESSING} AND claimed_by = %(daemon)s
ON CONFLICT (seq) DO UPDATE SET result = EXCLUDED.result
"""

APPLY_TRANSITION = f"""
UPDATE tasks
SET status = %(status)s,
    metadata = COALESCE(%(metadata)s, metadata),
    run_at = COALESCE(%(run_at)s, run_at),
    last_error = COALESCE(%(error_text)s, last_error),
    errors = CASE WHEN %(error)s::jsonb IS NULL THEN errors
                  ELSE errors || jsonb_build_array(%(error)s::jsonb) END,
    crashes = crashes + %(crashed)s,
    finished_at = %(finished_at)s,
    updated_at = %(now)s,
    claimed_by = NULL,
    lease_expires_at = NULL
WHERE id = %(id)s AND status = {_PROCESSING} AND claimed_by = %(daemon)s
"""

INSERT_EVENTS = """
INSERT INTO events (task_id, at, body)
SELECT * FROM unnest(%s::text[], %s::float8[], %s::text[])
"""

UPDATE_PROGRESS = "UPDATE tasks SET progress = %s, progress_message = %s WHERE id = %s"

#: Lease renewal: only rows this daemon still holds.
RENEW = f"""
UPDATE tasks SET lease_expires_at = {DB_NOW} + %(lease)s
WHERE id = ANY(%(ids)s) AND status = {_PROCESSING} AND claimed_by = %(daemon)s
"""

#: Tasks whose lease lapsed (their daemon died or lost the database) go back to pending; the
#: attempt they had stays counted, so the next run has the next attempt number.
REAP_EXPIRED = f"""
WITH expired AS (
    SELECT seq FROM tasks
    WHERE status = {_PROCESSING} AND lease_expires_at < {DB_NOW}
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE tasks AS t
SET status = {_PENDING}, run_at = %(now)s, updated_at = %(now)s,
    last_error = 'LeaseExpired: daemon ' || t.claimed_by || ' stopped renewing its lease',
    errors = t.errors || jsonb_build_array(jsonb_build_object(
        'attempt', t.attempts - 1,
        'error', 'LeaseExpired: daemon ' || t.claimed_by || ' stopped renewing its lease',
        'error_type', 'LeaseExpired', 'retryable', true, 'traceback', NULL, 'crashed', false, 'at', %(now)s)),
    claimed_by = NULL, lease_expires_at = NULL
FROM expired
WHERE t.seq = expired.seq
RETURNING t.id, t.task_type
"""


def _task_columns(data: str, result: str) -> str:
    return f"""
seq, id, task_type, {data}, status, priority, attempts, max_retries, run_at,
idempotency_key, created_at, updated_at, started_at, finished_at, {result},
metadata, last_error, errors::text, crashes, progress, progress_message, tags::text, workflow_id, step,
on_dependency_failure
"""


TASK_COLUMNS = _task_columns(DATA_OF_TASK.format(table="tasks"), RESULT_OF_TASK.format(table="tasks"))

#: A task whose tags hold {key}: {value}.
TAG_MATCH = "tags @> jsonb_build_object({key}::text, {value}::text)"

GET_TASK = f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = %s"

#: A task's row with NULL for its data and result, for a caller that holds both already.
GET_TASK_WITHOUT_VALUES = f"SELECT {_task_columns('NULL', 'NULL')} FROM tasks WHERE id = %s"

GET_EVENTS = "SELECT body FROM events WHERE task_id = %s ORDER BY n"

GET_STATUS = "SELECT status FROM tasks WHERE id = %s"

#: The row is locked for the rest of the transaction, so the status read is the one acted on.
GET_STATUS_FOR_UPDATE = "SELECT status, claimed_by, task_type FROM tasks WHERE id = %s FOR UPDATE"

CANCEL = f"""
UPDATE tasks SET status = {_CANCELLED}, finished_at = %(now)s, updated_at = %(now)s, claimed_by = NULL,
    lease_expires_at = NULL
WHERE id = %(id)s
"""

DELETE_TASK = "DELETE FROM tasks WHERE id = %s"

DELETE_EVENTS = "DELETE FROM events WHERE task_id = %s"

REDRIVE = f"""
UPDATE tasks
SET status = {_PENDING}, attempts = 0, run_at = %(now)s, finished_at = NULL, updated_at = %(now)s,
    failed_by = NULL
WHERE id = %(id)s
RETURNING dependencies
"""

#: A redriven task runs again from its data: the result of an earlier run goes.
DROP_RESULT = "DELETE FROM task_results WHERE seq = (SELECT seq FROM tasks WHERE id = %(id)s)"

COUNT_BY_STATUS = "SELECT status, count(*) FROM tasks GROUP BY status"


def list_tasks(*, status: bool, task_type: bool, cursor: bool, filters: TaskFilters | None = None) -> str:
    """SELECT for one page of tasks, newest first, with the filters that are given."""
    return list_query(
        TASK_COLUMNS,
        lambda name: f"%({name})s",
        status=status,
        task_type=task_type,
        cursor=cursor,
        filters=filters,
        tag_match=TAG_MATCH,
    )


#: ``taskdaemond reencrypt``: a batch of stored payloads after a seq (locked), and their rewrite.
PAYLOAD_BATCH = {
    "task_data": "SELECT seq, data FROM task_data WHERE seq > %s ORDER BY seq LIMIT %s FOR UPDATE",
    "task_results": "SELECT seq, result FROM task_results WHERE seq > %s ORDER BY seq LIMIT %s FOR UPDATE",
}
PAYLOAD_REWRITE = {
    "task_data": "UPDATE task_data SET data = %s WHERE seq = %s",
    "task_results": "UPDATE task_results SET result = %s WHERE seq = %s",
}
MARK_ENCRYPTED = "UPDATE tasks SET encrypted = 1 WHERE seq = %s"
