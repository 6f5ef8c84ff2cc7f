-- Encryption at rest (issue 18), as in the SQLite queue: 1 when the task's data is stored
-- encrypted. A daemon without the key claims only tasks with 0 (another daemon, with the key,
-- runs the others); values written before a key was set keep 0 and stay plain JSON.
ALTER TABLE tasks ADD COLUMN encrypted integer NOT NULL DEFAULT 0;
