-- Payloads in tables of their own (issue 19): a task's data and its result each get a row,
-- keyed by the task's seq, so that the statements that change a task (claim, completion,
-- retry, renewals) rewrite only its small row. SQLite rewrites a whole row, overflow pages
-- included, on every UPDATE: with data in the tasks row a 16 MiB task was written again at
-- its claim and at its completion. Deleting a task deletes its payloads (the trigger), however
-- it is deleted (DELETE, pruning).
CREATE TABLE task_data (
    seq  INTEGER PRIMARY KEY,
    data TEXT    NOT NULL
);
CREATE TABLE task_results (
    seq    INTEGER PRIMARY KEY,
    result TEXT    NOT NULL
);
INSERT INTO task_data (seq, data) SELECT seq, data FROM tasks;
INSERT INTO task_results (seq, result) SELECT seq, result FROM tasks WHERE result IS NOT NULL;
ALTER TABLE tasks DROP COLUMN data;
ALTER TABLE tasks DROP COLUMN result;
CREATE TRIGGER tasks_payloads_gone AFTER DELETE ON tasks BEGIN
    DELETE FROM task_data WHERE seq = old.seq;
    DELETE FROM task_results WHERE seq = old.seq;
END;
