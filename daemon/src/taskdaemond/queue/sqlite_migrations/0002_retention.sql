-- Retention: the pruner finds finished tasks by status and finish time. A partial index: only
-- finished rows are in it, each entered once, at the end (finish times grow), when the task
-- finishes; claims and retries (finished_at stays NULL) never touch it.
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (status, finished_at) WHERE finished_at IS NOT NULL;
