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

-- name: quick_check
-- Doctor's first look, on a read-only connection: page-level damage, before anything may write.
PRAGMA quick_check;

-- name: fts_rows_out_of_step
-- Memories missing from the FTS index plus index rows whose memory is gone.
SELECT (SELECT count(*) FROM memories WHERE id NOT IN (SELECT id FROM memories_fts_docsize))
     + (SELECT count(*) FROM memories_fts_docsize WHERE id NOT IN (SELECT id FROM memories));

-- name: fts_rebuild
-- Repair: FTS5 rebuilds an external-content index from its content (the view memories_fts_source:
-- text, tags and the thread context, all derived from memories).
INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');

-- name: tags_clear
-- Repair, step 1 of 2: memory_tags is derived from memories.tags; drop it all...
DELETE FROM memory_tags;

-- name: tags_rebuild
-- ...step 2: and derive it again, exactly as the insert trigger does.
INSERT INTO memory_tags (tag, memory_id)
SELECT DISTINCT j.value, m.id FROM memories AS m, json_each(m.tags) AS j;

-- name: non_text_values
-- Rows where a BLOB or a number sits in a column memento reads as text (typed in the sqlite3 shell,
-- e.g. text = readfile(...)). memento reads them as text; doctor names them so a person can fix them.
SELECT count(*) FROM memories
WHERE typeof(text) <> 'text' OR typeof(created_at) <> 'text' OR typeof(updated_at) <> 'text'
   OR typeof(thread) NOT IN ('text', 'null') OR typeof(expires_at) NOT IN ('text', 'null');
