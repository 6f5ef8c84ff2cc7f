-- Periodic tasks: one row per schedule that ever ran, its progress. A run is enqueued in the
-- same transaction as the compare-and-set of last_due that claims it, so each due time is
-- enqueued once, whatever the number of daemons and restarts (and whether retention pruned the
-- task holding its idempotency key). A schedule removed from handlers.toml leaves its row,
-- unread; `timing` tells a changed definition (which starts again from now).
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    timing TEXT NOT NULL,           -- the cron expression and zone, or the interval
    last_due REAL NOT NULL,         -- the last due time handled: run, skipped, or the start
    last_run_due REAL,              -- the due time of the last run enqueued
    last_task_id TEXT,              -- that run's task
    runs INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
