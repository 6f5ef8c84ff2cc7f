"""The pruner's statements, for both SQL engines. Every one reads finished tasks through the
partial index ``tasks_finished (status, finished_at) WHERE finished_at IS NOT NULL`` (migration
0002 of each engine) and deletes only tasks in a final status: pending and processing tasks
are never pruned, whatever happens between the read and the delete."""

from taskdaemond.statuses import FINAL_STATUSES, sql_literal

#: The final statuses as an SQL list, built from constants only.
FINAL = "(" + ", ".join(sql_literal(s) for s in sorted(FINAL_STATUSES)) + ")"

# -- SQLite (one writer: the statements run in the queue's own transactions) ----------------

#: Up to ?3 tasks of status ?1 that finished before ?2, oldest first.
SQLITE_PRUNE_BY_AGE = f"""
DELETE FROM tasks WHERE seq IN (
    SELECT seq FROM tasks WHERE status = ?1 AND finished_at < ?2 ORDER BY finished_at LIMIT ?3
) AND status IN {FINAL}
RETURNING id, status
"""

#: The ?2 oldest finished tasks of status ?1; merged across statuses for the oldest of all.
SQLITE_OLDEST_FINISHED = """
SELECT seq, finished_at FROM tasks WHERE status = ? AND finished_at IS NOT NULL ORDER BY finished_at LIMIT ?
"""

#: Tasks by seq (a JSON array), if they are still finished.
SQLITE_DELETE_FINISHED = f"""
DELETE FROM tasks WHERE seq IN (SELECT value FROM json_each(?)) AND status IN {FINAL}
RETURNING id, status
"""

#: The events of pruned tasks, by task id (a JSON array).
SQLITE_DELETE_EVENTS = "DELETE FROM events WHERE task_id IN (SELECT value FROM json_each(?))"

#: The dependency edges of pruned tasks, by task id (a JSON array). Edges to a pruned task stay:
#: its dependents were released when it completed (a missing dependency counts as completed).
SQLITE_DELETE_EDGES = "DELETE FROM task_dependencies WHERE task_id IN (SELECT value FROM json_each(?))"

SQLITE_COUNT_PRUNABLE = "SELECT count(*) FROM tasks WHERE status = ? AND finished_at < ?"

SQLITE_COUNT_FINISHED = f"SELECT count(*) FROM tasks WHERE status IN {FINAL} AND finished_at IS NOT NULL"

# -- PostgreSQL (several daemons may prune at once) -----------------------------------------

#: Key of the advisory lock a daemon holds while it applies the cap ("TDPRUNE").
POSTGRES_PRUNE_LOCK_KEY = 0x5444_5052_554E_45

#: Up to %(limit)s tasks of one status finished before %(cutoff)s, oldest first, with their
#: events. SKIP LOCKED: two daemons pruning at once take different rows; a row another
#: transaction changed (a redrive) is re-checked against the WHERE before it is deleted.
POSTGRES_PRUNE_BY_AGE = f"""
WITH victims AS (
    SELECT seq FROM tasks
    WHERE status = %(status)s AND finished_at < %(cutoff)s
    ORDER BY finished_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM tasks AS t USING victims AS v
    WHERE t.seq = v.seq AND t.status IN {FINAL}
    RETURNING t.id, t.status
), events_gone AS (
    DELETE FROM events WHERE task_id IN (SELECT id FROM gone)
), edges_gone AS (
    DELETE FROM task_dependencies WHERE task_id IN (SELECT id FROM gone)
)
SELECT status, count(*) FROM gone GROUP BY status
"""

#: Takes the cap's lock for this transaction, or answers false at once (another daemon has it).
POSTGRES_TRY_PRUNE_LOCK = "SELECT pg_try_advisory_xact_lock(%s)"

POSTGRES_COUNT_FINISHED = f"SELECT count(*) FROM tasks WHERE status IN {FINAL} AND finished_at IS NOT NULL"

#: The %(limit)s oldest finished tasks across statuses (each branch an index range), deleted
#: with their events.
POSTGRES_PRUNE_OLDEST = (
    "WITH oldest AS (SELECT seq FROM ("
    + " UNION ALL ".join(
        f"(SELECT seq, finished_at FROM tasks WHERE status = {sql_literal(s)} AND finished_at IS NOT NULL"
        " ORDER BY finished_at LIMIT %(limit)s)"
        for s in sorted(FINAL_STATUSES)
    )
    + f""") AS candidates ORDER BY finished_at LIMIT %(limit)s
), gone AS (
    DELETE FROM tasks AS t USING oldest AS o
    WHERE t.seq = o.seq AND t.status IN {FINAL}
    RETURNING t.id, t.status
), events_gone AS (
    DELETE FROM events WHERE task_id IN (SELECT id FROM gone)
), edges_gone AS (
    DELETE FROM task_dependencies WHERE task_id IN (SELECT id FROM gone)
)
SELECT status, count(*) FROM gone GROUP BY status
"""
)

POSTGRES_COUNT_PRUNABLE = "SELECT count(*) FROM tasks WHERE status = %s AND finished_at < %s"

#: Bytes the queue's tables take, indexes and TOAST included.
POSTGRES_SIZE = "SELECT pg_total_relation_size('tasks') + pg_total_relation_size('events')"
