-- Periodic tasks: one row per schedule that ever ran, its progress. A run is enqueued in the
-- same transaction as the compare-and-set of last_due that claims it (an UPDATE ... WHERE
-- last_due = <what this daemon read>: a second daemon's update waits for the first's row lock,
-- then matches nothing), so each due time is enqueued once, whatever the number of daemons and
-- restarts. A schedule removed from handlers.toml leaves its row, unread; `timing` tells a
-- changed definition (which starts again from now).
CREATE TABLE IF NOT EXISTS schedules (
    name text PRIMARY KEY,
    timing text NOT NULL,
    last_due double precision NOT NULL,
    last_run_due double precision,
    last_task_id text,
    runs bigint NOT NULL DEFAULT 0,
    updated_at double precision NOT NULL
);
