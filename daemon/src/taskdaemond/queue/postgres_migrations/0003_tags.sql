-- Tags: the submitter's labels for a task, an object of strings (NULL: none). GET /api/tasks
-- ?tag=key:value matches them with @>; no index: the listing walks the newest tasks first and
-- stops at a page, and an index on tags would be written by every tagged task's every update.
ALTER TABLE tasks ADD COLUMN tags jsonb;
