-- Tags: the submitter's labels for a task, compact JSON of an object of strings (NULL: none).
-- GET /api/tasks?tag=key:value reads them with json_each; no index: the listing walks the newest
-- tasks first and stops at a page.
ALTER TABLE tasks ADD COLUMN tags TEXT;
