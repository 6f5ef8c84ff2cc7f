-- Payloads in tables of their own, as in the SQLite queue (issue 19): a task's data and its
-- result each get a row keyed by the task's seq. PostgreSQL already keeps a large value out of
-- line (TOAST) and an UPDATE that leaves it alone copies only its pointer, so the split buys
-- less here than in SQLite; measured with bench/payload_queues.py (16 MiB, before -> after,
-- loaded 2-core machine): submit 504 -> 461-512 ms (the TOAST write itself: 8,000 chunks;
-- lz4 or EXTERNAL storage did not change it), claim 104 -> 71-93, result 569 -> 409-441. Not
-- worse, a little better, and one shape of queue across both engines (the statements and
-- _rows.py stay alike). Deleting a task deletes its payloads (ON DELETE CASCADE).
CREATE TABLE task_data (
    seq  bigint PRIMARY KEY REFERENCES tasks (seq) ON DELETE CASCADE,
    data text   NOT NULL
);
CREATE TABLE task_results (
    seq    bigint PRIMARY KEY REFERENCES tasks (seq) ON DELETE CASCADE,
    result text   NOT NULL
);
INSERT INTO task_data (seq, data) SELECT seq, data FROM tasks;
INSERT INTO task_results (seq, result) SELECT seq, result FROM tasks WHERE result IS NOT NULL;
ALTER TABLE tasks DROP COLUMN data;
ALTER TABLE tasks DROP COLUMN result;
ALTER TABLE task_data SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE task_results SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
