-- Opening a store file (memento/storefile.py, memento/schema.py): reads only.

-- name: file_header
-- Who wrote the file, how far its schema got, whether it has any schema objects, and its journal
-- mode: one statement, so one snapshot (a store being created by another process is never seen
-- half-way, e.g. with tables but without its application id).
SELECT application_id, user_version, (SELECT count(*) FROM sqlite_schema) AS objects, journal_mode
FROM pragma_application_id, pragma_user_version, pragma_journal_mode;

-- name: table_names
-- Ordinary and virtual tables (FTS5 shadow tables included), SQLite's own left out.
SELECT name FROM sqlite_schema
WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY name;

-- name: table_columns
-- The columns of each table named in :tables (a JSON array), in table order; a missing table has no rows.
SELECT t.value AS table_name, c.name AS column_name
FROM json_each(:tables) AS t, pragma_table_info(t.value) AS c
ORDER BY t.key, c.cid;

-- name: can_read
-- The cheapest read that needs the file's -shm in WAL mode: shows whether a read-only open can read.
SELECT count(*) FROM sqlite_schema;

-- name: vec_table_exists
SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'memories_vec';

-- name: vec_float_column_exists
-- Hybrid recall reads float vectors by rowid from the plain table where sqlite-vec 0.1.x keeps
-- memories_vec's auxiliary column (recall_hybrid.sql): is it where we read it?
SELECT count(*) FROM pragma_table_info('memories_vec_auxiliary') WHERE name = 'value00';

-- name: queued_vector_deletes
SELECT count(*) FROM vector_deletes;
