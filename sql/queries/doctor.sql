-- Checks `memento doctor` runs on a store. Each returns rows only when something is wrong,
-- except the counts.

-- name: integrity_check
PRAGMA integrity_check;

-- name: fts_integrity_check
-- FTS5's own check: the index matches the content table (raises SQLITE_CORRUPT_VTAB if not).
INSERT INTO memories_fts (memories_fts, rank) VALUES ('integrity-check', 1);

-- name: fts_row_count
-- Rows in the FTS index (docsize holds one per indexed row).
SELECT count(*) FROM memories_fts_docsize;

-- name: tag_rows_out_of_step
-- Tag rows that disagree with memories.tags (the triggers keep them equal).
SELECT
  (SELECT count(*) FROM (SELECT m.id, j.value FROM memories AS m, json_each(m.tags) AS j
                         EXCEPT SELECT memory_id, tag FROM memory_tags))
+ (SELECT count(*) FROM (SELECT memory_id, tag FROM memory_tags
                         EXCEPT SELECT m.id, j.value FROM memories AS m, json_each(m.tags) AS j));

-- name: probe_insert
-- Doctor's write probe; it runs inside a transaction that is always rolled back.
INSERT INTO memories (text, created_at, updated_at) VALUES (:text, :now, :now) RETURNING id;

-- name: probe_match
SELECT rowid FROM memories_fts WHERE memories_fts MATCH :match;
