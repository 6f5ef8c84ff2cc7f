-- The tasks table and its events. IF NOT EXISTS: a queue file made before migrations were
-- versioned (user_version 0) already has them, and adopts this version as it is.
-- Times are seconds since the epoch (REAL).
CREATE TABLE IF NOT EXISTS tasks (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    task_type        TEXT    NOT NULL,
    data             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_retries      INTEGER NOT NULL,
    run_at           REAL    NOT NULL,
    idempotency_key  TEXT,
    created_at       REAL    NOT NULL,
    updated_at       REAL    NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    result           TEXT,
    metadata         TEXT,
    last_error       TEXT,
    errors           TEXT    NOT NULL DEFAULT '[]',
    crashes          INTEGER NOT NULL DEFAULT 0,
    progress         REAL,
    progress_message TEXT
);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status, seq);
CREATE INDEX IF NOT EXISTS tasks_idempotency ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS events (
    task_id TEXT NOT NULL,
    at      REAL NOT NULL,
    body    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_task ON events (task_id);
