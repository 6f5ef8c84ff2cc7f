-- The tasks table and its events, as the SQLite queue has them, plus leases: the daemon that
-- claimed a task (claimed_by) and when its claim lapses unless renewed (lease_expires_at,
-- seconds since the epoch on the database's clock, so hosts' clocks need not agree).
-- Times are seconds since the epoch (double precision), as in the SQLite queue.
CREATE TABLE tasks (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               text             NOT NULL UNIQUE,
    task_type        text             NOT NULL,
    data             text             NOT NULL,
    status           text             NOT NULL,
    priority         integer          NOT NULL,
    attempts         integer          NOT NULL DEFAULT 0,
    max_retries      integer          NOT NULL,
    run_at           double precision NOT NULL,
    idempotency_key  text,
    created_at       double precision NOT NULL,
    updated_at       double precision NOT NULL,
    started_at       double precision,
    finished_at      double precision,
    result           text,
    metadata         text,
    last_error       text,
    errors           jsonb            NOT NULL DEFAULT '[]',
    crashes          integer          NOT NULL DEFAULT 0,
    progress         double precision,
    progress_message text,
    claimed_by       text,
    lease_expires_at double precision
);

-- Claims read only pending rows: partial indexes stay small however many tasks are done.
CREATE INDEX tasks_pending_fifo ON tasks (task_type, seq) WHERE status = 'pending';
CREATE INDEX tasks_pending_priority ON tasks (task_type, priority DESC, seq) WHERE status = 'pending';
-- The reaper reads only processing rows, by lease expiry.
CREATE INDEX tasks_leases ON tasks (lease_expires_at) WHERE status = 'processing';
CREATE INDEX tasks_status ON tasks (status, seq);
CREATE INDEX tasks_idempotency ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE events (
    n       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id text             NOT NULL,
    at      double precision NOT NULL,
    body    text             NOT NULL
);
CREATE INDEX events_task ON events (task_id, n);
