-- Retention: the pruner finds finished tasks by status and finish time. A partial index: only
-- finished rows are in it, entered once when the task finishes (finished_at stays NULL while
-- it is pending or processing). Built without CONCURRENTLY (migrations run in a transaction):
-- on a large existing table, apply it while submits can wait.
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (status, finished_at) WHERE finished_at IS NOT NULL;
-- Pruned rows leave dead tuples: have autovacuum visit these tables after 2% of their rows
-- changed (the default is 20%), so the space is reused long before the table doubles.
ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
