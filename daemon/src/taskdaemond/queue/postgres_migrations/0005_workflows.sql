-- Workflows: tasks that wait for other tasks, as in the SQLite queue (its 0005 says why each
-- column is there). A task with unmet dependencies is 'waiting', which no claim reads; the
-- transaction that completes its last dependency makes it 'pending'.
ALTER TABLE tasks
    ADD COLUMN workflow_id text,
    ADD COLUMN step text,
    ADD COLUMN on_dependency_failure text,
    ADD COLUMN failed_by text,
    ADD COLUMN dependencies integer NOT NULL DEFAULT 0;
CREATE TABLE task_dependencies (
    task_id         text NOT NULL,
    depends_on      text NOT NULL,
    key             text NOT NULL,
    depends_on_type text NOT NULL,
    PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX task_dependencies_on ON task_dependencies (depends_on);
CREATE INDEX tasks_workflow ON tasks (workflow_id, seq) WHERE workflow_id IS NOT NULL;
CREATE INDEX tasks_failed_by ON tasks (failed_by) WHERE failed_by IS NOT NULL;
CREATE TABLE workflows (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              text NOT NULL UNIQUE,
    name            text,
    on_failure      text NOT NULL,
    idempotency_key text,
    created_at      double precision NOT NULL
);
CREATE INDEX workflows_idempotency ON workflows (idempotency_key) WHERE idempotency_key IS NOT NULL;
