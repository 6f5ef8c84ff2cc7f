-- Workflows: tasks that wait for other tasks. A task with unmet dependencies is 'waiting' (no
-- claim ever reads it); the transaction that completes its last dependency makes it 'pending'.
-- dependencies: how many it has (a claim looks up their results only when there are some);
-- failed_by: the dependency whose failure failed or cancelled it (a redrive of that one revives it).
ALTER TABLE tasks ADD COLUMN workflow_id TEXT;
ALTER TABLE tasks ADD COLUMN step TEXT;
ALTER TABLE tasks ADD COLUMN on_dependency_failure TEXT;
ALTER TABLE tasks ADD COLUMN failed_by TEXT;
ALTER TABLE tasks ADD COLUMN dependencies INTEGER NOT NULL DEFAULT 0;
-- One row per edge: task_id waits for depends_on, named key in its task message.
CREATE TABLE task_dependencies (
    task_id         TEXT NOT NULL,
    depends_on      TEXT NOT NULL,
    key             TEXT NOT NULL,
    depends_on_type TEXT NOT NULL,
    PRIMARY KEY (task_id, depends_on)
) WITHOUT ROWID;
CREATE INDEX task_dependencies_on ON task_dependencies (depends_on);
CREATE INDEX tasks_workflow ON tasks (workflow_id, seq) WHERE workflow_id IS NOT NULL;
CREATE INDEX tasks_failed_by ON tasks (failed_by) WHERE failed_by IS NOT NULL;
CREATE TABLE workflows (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    name            TEXT,
    on_failure      TEXT NOT NULL,
    idempotency_key TEXT,
    created_at      REAL NOT NULL
);
CREATE INDEX workflows_idempotency ON workflows (idempotency_key) WHERE idempotency_key IS NOT NULL;
