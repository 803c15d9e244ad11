-- 004: threads. A thread names a sequence of memories (a conversation, a session, a log file);
-- its memories are ordered by (created_at, id). A short reply ("Yeah, it was great!") means
-- something only next to the turn before it, so the keyword index gets a third column, `context`:
-- the text of the memory's previous memory in its thread (NULL without a thread or a predecessor).
-- Recall ranks that column with a lower bm25 weight (memento/ranking.py). Memories without a
-- thread index exactly as before.
--
-- "Previous only" rather than "previous + next": on the LoCoMo dev set the prototype and
-- bench/locomo.py --sweep found no gain from the next turn's text (see memento/ranking.py), and
-- one neighbour keeps every write cheap (an append touches no other row).

-- NULL = no thread. An empty name is refused, as validate.thread() does.
ALTER TABLE memories ADD COLUMN thread TEXT CHECK (thread IS NULL OR length(thread) > 0);

-- A thread in order, and "the memory before / after this one" as one index seek.
CREATE INDEX memories_thread ON memories (thread, created_at, id) WHERE thread IS NOT NULL;

-- What the keyword index holds for each memory. It is the FTS table's external content, so
-- FTS5's own integrity-check (memento doctor) compares the index with it, context included,
-- and 'rebuild' recomputes everything from it.
CREATE VIEW memories_fts_source AS
SELECT m.id, m.text, m.tags,
       (SELECT p.text FROM memories AS p
        WHERE p.thread = m.thread AND (p.created_at, p.id) < (m.created_at, m.id)
        ORDER BY p.created_at DESC, p.id DESC LIMIT 1) AS context
FROM memories AS m;

-- The old index had two columns: drop it with its triggers and build the new one from the view.
DROP TRIGGER memories_after_insert;
DROP TRIGGER memories_after_delete;
DROP TRIGGER memories_after_update_content;
DROP TABLE memories_fts;

CREATE VIRTUAL TABLE memories_fts USING fts5 (
  text, tags, context,
  content = 'memories_fts_source', content_rowid = 'id',
  tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');

-- The triggers below keep the index equal to memories_fts_source after every change, whoever
-- makes it (memento, or a person in the sqlite3 shell). An external-content FTS5 row is removed
-- by handing FTS5 the exact values it indexed, so each trigger works out the old values of every
-- row whose indexed text changes: the memory itself and its next memory in the thread (the only
-- row whose context is the memory's text). Only the changed memory differs between the old and
-- the new table, so "the row before/after position P, other than this memory" is the same query
-- before and after the change. (Triggers cannot use WITH, hence the repeated subqueries.)

-- Insert: the new memory's next one had the new memory's predecessor as context (the same row
-- the new memory now has as context); its context becomes the new text.
CREATE TRIGGER memories_after_insert AFTER INSERT ON memories BEGIN
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    SELECT 'delete', n.id, n.text, n.tags, (SELECT s.context FROM memories_fts_source AS s WHERE s.id = new.id)
    FROM memories AS n
    WHERE n.id = (SELECT x.id FROM memories AS x
                  WHERE x.thread = new.thread AND x.id <> new.id AND (x.created_at, x.id) > (new.created_at, new.id)
                  ORDER BY x.created_at, x.id LIMIT 1);
  INSERT INTO memories_fts (rowid, text, tags, context)
    SELECT s.id, s.text, s.tags, s.context FROM memories_fts_source AS s
    WHERE s.id IN (new.id,
                   (SELECT x.id FROM memories AS x
                    WHERE x.thread = new.thread AND x.id <> new.id AND (x.created_at, x.id) > (new.created_at, new.id)
                    ORDER BY x.created_at, x.id LIMIT 1));
  INSERT INTO memory_tags (tag, memory_id) SELECT DISTINCT value, new.id FROM json_each(new.tags);
END;

-- Delete: the memory leaves the index with the context it had (its predecessor, still there);
-- its next memory had the deleted text as context and now gets that predecessor's.
CREATE TRIGGER memories_after_delete AFTER DELETE ON memories BEGIN
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    VALUES ('delete', old.id, old.text, old.tags,
            (SELECT x.text FROM memories AS x
             WHERE x.thread = old.thread AND (x.created_at, x.id) < (old.created_at, old.id)
             ORDER BY x.created_at DESC, x.id DESC LIMIT 1));
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    SELECT 'delete', n.id, n.text, n.tags, old.text
    FROM memories AS n
    WHERE n.id = (SELECT x.id FROM memories AS x
                  WHERE x.thread = old.thread AND (x.created_at, x.id) > (old.created_at, old.id)
                  ORDER BY x.created_at, x.id LIMIT 1);
  INSERT INTO memories_fts (rowid, text, tags, context)
    SELECT s.id, s.text, s.tags, s.context FROM memories_fts_source AS s
    WHERE s.id = (SELECT x.id FROM memories AS x
                  WHERE x.thread = old.thread AND (x.created_at, x.id) > (old.created_at, old.id)
                  ORDER BY x.created_at, x.id LIMIT 1);
END;

-- Update of anything the index depends on (text, tags, thread, created_at, even id): the memory
-- leaves its old place and takes its new one. Rows whose indexed values change:
--   the memory itself         old values: old text/tags, context = the row before its old place;
--   its old next (N_old)      old context = old.text;
--   its new next (N_new)      old context = the row before the memory's new place
--                             (when N_new = N_old, its old context is old.text, handled above).
-- Each is removed with its old values, then re-added from memories_fts_source.
CREATE TRIGGER memories_after_update_indexed AFTER UPDATE OF text, tags, thread, created_at, id ON memories BEGIN
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    VALUES ('delete', old.id, old.text, old.tags,
            (SELECT x.text FROM memories AS x
             WHERE x.thread = old.thread AND x.id <> new.id AND (x.created_at, x.id) < (old.created_at, old.id)
             ORDER BY x.created_at DESC, x.id DESC LIMIT 1));
  -- N_old
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    SELECT 'delete', n.id, n.text, n.tags, old.text
    FROM memories AS n
    WHERE n.id = (SELECT x.id FROM memories AS x
                  WHERE x.thread = old.thread AND x.id <> new.id AND (x.created_at, x.id) > (old.created_at, old.id)
                  ORDER BY x.created_at, x.id LIMIT 1);
  -- N_new, unless it is N_old
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    SELECT 'delete', n.id, n.text, n.tags,
           (SELECT x.text FROM memories AS x
            WHERE x.thread = new.thread AND x.id <> new.id AND (x.created_at, x.id) < (new.created_at, new.id)
            ORDER BY x.created_at DESC, x.id DESC LIMIT 1)
    FROM memories AS n
    WHERE n.id = (SELECT x.id FROM memories AS x
                  WHERE x.thread = new.thread AND x.id <> new.id AND (x.created_at, x.id) > (new.created_at, new.id)
                  ORDER BY x.created_at, x.id LIMIT 1)
      AND n.id IS NOT (SELECT x.id FROM memories AS x
                       WHERE x.thread = old.thread AND x.id <> new.id AND (x.created_at, x.id) > (old.created_at, old.id)
                       ORDER BY x.created_at, x.id LIMIT 1);
  INSERT INTO memories_fts (rowid, text, tags, context)
    SELECT s.id, s.text, s.tags, s.context FROM memories_fts_source AS s
    WHERE s.id IN (new.id,
                   (SELECT x.id FROM memories AS x
                    WHERE x.thread = old.thread AND x.id <> new.id AND (x.created_at, x.id) > (old.created_at, old.id)
                    ORDER BY x.created_at, x.id LIMIT 1),
                   (SELECT x.id FROM memories AS x
                    WHERE x.thread = new.thread AND x.id <> new.id AND (x.created_at, x.id) > (new.created_at, new.id)
                    ORDER BY x.created_at, x.id LIMIT 1));
END;

-- Tag rows follow memories.tags (as in 001).
CREATE TRIGGER memories_after_update_tags AFTER UPDATE OF tags ON memories BEGIN
  DELETE FROM memory_tags WHERE memory_id = old.id;
  INSERT INTO memory_tags (tag, memory_id) SELECT DISTINCT value, new.id FROM json_each(new.tags);
END;
