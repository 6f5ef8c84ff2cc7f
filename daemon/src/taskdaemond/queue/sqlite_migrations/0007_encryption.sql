-- Encryption at rest (issue 18): 1 when the task's data is stored encrypted (encryption.py).
-- A daemon without the key claims only tasks with 0, so an encrypted task waits for a daemon
-- that can read it instead of failing; values written before a key was set keep 0 and stay
-- plain JSON, readable by every daemon.
ALTER TABLE tasks ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0;
