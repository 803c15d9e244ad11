-- 006: the keyword index's context column, written so that every step is one index seek, that
-- no hidden memory's text is findable through its neighbour, and that shell edits keep the index
-- and tag rows exact. The view and every trigger that 004 made are replaced, and the index is
-- rebuilt from the new view.
--
-- 1. Ties. "The memory before position (c, i) in its thread" is not the row value
--    (x.created_at, x.id) < (c, i): SQLite plans that as a seek on created_at alone and then steps
--    through every row sharing that created_at, so with ties (remember_many without created_at
--    stamps a whole batch with one time; an OpenClaw file's chunks share the file's time; logs
--    have one-second resolution) each insert walks the whole tie and ingest is quadratic (16,000
--    memories in one thread: 25 s against 0.7 s with distinct times). It is two seeks along
--    memories_thread (thread, created_at, id), the first that finds a row wins:
--      the last row with the same created_at and a smaller id  (thread = t AND created_at = c AND id < i)
--      the last row with a smaller created_at                   (thread = t AND created_at < c)
--    and "the memory after" the same way round. tests/test_threads_ties.py counts the VM steps.
--
-- 2. Hidden neighbours. Expiry happens by the clock, with no write, so the index cannot follow
--    it in time. The rule that holds anyway: a memory that can be hidden (it has an expires_at,
--    or it is superseded) never serves as its successor's context; that successor's context is
--    NULL. Positions do not change: the context is still the previous memory's text or nothing,
--    the same neighbour recall's smoothing links to (a hidden neighbour lends nothing there either).
--    Setting or clearing expires_at or superseded_by is an indexed change, like an edit of text.
--
-- 3. Shell edits. The sqlite3 shell runs with foreign keys off, so the delete trigger deletes the
--    memory's tag rows itself (with them on, the cascade has done it and this finds none).
--    REPLACE INTO memories (and UPDATE OR REPLACE onto another id) deletes the row it replaces
--    without firing the delete trigger (recursive_triggers is off by default), which would leave
--    the old text in the index: such a statement is refused. The insert trigger sees it: the index
--    still holds a row under the new id (a new memory's id is never in the index otherwise).
--
-- As in 004, the triggers read memories, not the view (through the view INSERT ... RETURNING runs
-- 4x slower), and compute the old indexed values of the (at most three) rows a change touches.
-- Only the changed memory differs between the old and the new table, so each lookup leaves it
-- out (id <> e, e = the memory's id after the change) and is the same before and after it.
-- Triggers cannot use WITH, hence the repeated subqueries. For a position P = (t, c, i):
--   prev(P)  = id of the last memory other than e before P in thread t:
--              coalesce((SELECT x.id FROM memories AS x WHERE x.thread = t AND x.created_at = c AND x.id < i
--                          AND x.id <> e ORDER BY x.id DESC LIMIT 1),
--                       (SELECT x.id FROM memories AS x WHERE x.thread = t AND x.created_at < c
--                          AND x.id <> e ORDER BY x.created_at DESC, x.id DESC LIMIT 1))
--   next(P)  = id of the first memory other than e after P, the same way round
--   ctx(P)   = text of prev(P) if that memory can never be hidden (expires_at and superseded_by NULL), else NULL
--   own(m)   = m.text if m can never be hidden, else NULL: what m gives its next memory as context

DROP TRIGGER memories_after_insert;
DROP TRIGGER memories_after_delete;
DROP TRIGGER memories_after_update_indexed;
DROP VIEW memories_fts_source;

-- What the keyword index holds for each memory (the FTS table's external content: FTS5's
-- integrity-check compares the index with it, 'rebuild' recomputes the index from it).
CREATE VIEW memories_fts_source AS
SELECT m.id, m.text, m.tags,
       (SELECT p.text FROM memories AS p
        WHERE p.id = coalesce(
                (SELECT x.id FROM memories AS x
                 WHERE x.thread = m.thread AND x.created_at = m.created_at AND x.id < m.id
                 ORDER BY x.id DESC LIMIT 1),
                (SELECT x.id FROM memories AS x
                 WHERE x.thread = m.thread AND x.created_at < m.created_at
                 ORDER BY x.created_at DESC, x.id DESC LIMIT 1))
          AND p.expires_at IS NULL AND p.superseded_by IS NULL) AS context
FROM memories AS m;

-- Insert: next(new) had ctx(new) as context; now it has own(new).
CREATE TRIGGER memories_after_insert AFTER INSERT ON memories BEGIN
  SELECT RAISE(ABORT, 'memento: REPLACE INTO memories would drop the replaced memory without updating the keyword index and tag rows; use UPDATE memories SET ... WHERE id = ... instead')
  WHERE EXISTS (SELECT 1 FROM memories_fts_docsize WHERE id = new.id);
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    SELECT 'delete', n.id, n.text, n.tags,
           (SELECT p.text FROM memories AS p WHERE p.expires_at IS NULL AND p.superseded_by IS NULL AND p.id = coalesce(
              (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at = new.created_at
                 AND x.id < new.id AND x.id <> new.id ORDER BY x.id DESC LIMIT 1),
              (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at < new.created_at
                 AND x.id <> new.id ORDER BY x.created_at DESC, x.id DESC LIMIT 1)))
    FROM memories AS n
    WHERE n.id = coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at = new.created_at
               AND x.id > new.id AND x.id <> new.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at > new.created_at
               AND x.id <> new.id ORDER BY x.created_at, x.id LIMIT 1));
  INSERT INTO memories_fts (rowid, text, tags, context)
    VALUES (new.id, new.text, new.tags,
            (SELECT p.text FROM memories AS p WHERE p.expires_at IS NULL AND p.superseded_by IS NULL AND p.id = coalesce(
               (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at = new.created_at
                  AND x.id < new.id AND x.id <> new.id ORDER BY x.id DESC LIMIT 1),
               (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at < new.created_at
                  AND x.id <> new.id ORDER BY x.created_at DESC, x.id DESC LIMIT 1))));
  INSERT INTO memories_fts (rowid, text, tags, context)
    SELECT n.id, n.text, n.tags,
           CASE WHEN new.expires_at IS NULL AND new.superseded_by IS NULL THEN new.text END
    FROM memories AS n
    WHERE n.id = coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at = new.created_at
               AND x.id > new.id AND x.id <> new.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at > new.created_at
               AND x.id <> new.id ORDER BY x.created_at, x.id LIMIT 1));
  INSERT INTO memory_tags (tag, memory_id) SELECT DISTINCT value, new.id FROM json_each(new.tags);
END;

-- Delete: the memory leaves the index with the context it had, ctx(old); next(old) had own(old)
-- as context and now gets ctx(old). Its tag rows go too (the shell has foreign keys off).
CREATE TRIGGER memories_after_delete AFTER DELETE ON memories BEGIN
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    VALUES ('delete', old.id, old.text, old.tags,
            (SELECT p.text FROM memories AS p WHERE p.expires_at IS NULL AND p.superseded_by IS NULL AND p.id = coalesce(
               (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
                  AND x.id < old.id AND x.id <> old.id ORDER BY x.id DESC LIMIT 1),
               (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at < old.created_at
                  AND x.id <> old.id ORDER BY x.created_at DESC, x.id DESC LIMIT 1))));
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    SELECT 'delete', n.id, n.text, n.tags,
           CASE WHEN old.expires_at IS NULL AND old.superseded_by IS NULL THEN old.text END
    FROM memories AS n
    WHERE n.id = coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
               AND x.id > old.id AND x.id <> old.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at > old.created_at
               AND x.id <> old.id ORDER BY x.created_at, x.id LIMIT 1));
  INSERT INTO memories_fts (rowid, text, tags, context)
    SELECT n.id, n.text, n.tags,
           (SELECT p.text FROM memories AS p WHERE p.expires_at IS NULL AND p.superseded_by IS NULL AND p.id = coalesce(
              (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
                 AND x.id < old.id AND x.id <> old.id ORDER BY x.id DESC LIMIT 1),
              (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at < old.created_at
                 AND x.id <> old.id ORDER BY x.created_at DESC, x.id DESC LIMIT 1)))
    FROM memories AS n
    WHERE n.id = coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
               AND x.id > old.id AND x.id <> old.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at > old.created_at
               AND x.id <> old.id ORDER BY x.created_at, x.id LIMIT 1));
  DELETE FROM memory_tags WHERE memory_id = old.id;
END;

-- Update of anything the index depends on (text, tags, thread, created_at, id, and whether the
-- memory can be hidden): the memory leaves its old place and takes its new one. Rows whose
-- indexed values change:
--   the memory itself   indexed with ctx(old), now ctx(new);
--   N_old = next(old)   indexed with own(old); now own(new) if it is also next(new), else ctx(old);
--   N_new = next(new)   (when it is not N_old) indexed with ctx(new), now own(new).
-- The WHEN clause skips updates that change none of it (pinned, metadata, a new expiry date of a
-- memory that had one already): their index rows stay as they are.
CREATE TRIGGER memories_after_update_indexed
AFTER UPDATE OF text, tags, thread, created_at, id, expires_at, superseded_by ON memories
WHEN old.text IS NOT new.text OR old.tags IS NOT new.tags OR old.thread IS NOT new.thread
  OR old.created_at IS NOT new.created_at OR old.id IS NOT new.id
  OR (old.expires_at IS NULL) <> (new.expires_at IS NULL)
  OR (old.superseded_by IS NULL) <> (new.superseded_by IS NULL) BEGIN
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    VALUES ('delete', old.id, old.text, old.tags,
            (SELECT p.text FROM memories AS p WHERE p.expires_at IS NULL AND p.superseded_by IS NULL AND p.id = coalesce(
               (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
                  AND x.id < old.id AND x.id <> new.id ORDER BY x.id DESC LIMIT 1),
               (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at < old.created_at
                  AND x.id <> new.id ORDER BY x.created_at DESC, x.id DESC LIMIT 1))));
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    SELECT 'delete', n.id, n.text, n.tags,
           CASE WHEN old.expires_at IS NULL AND old.superseded_by IS NULL THEN old.text END
    FROM memories AS n
    WHERE n.id = coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
               AND x.id > old.id AND x.id <> new.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at > old.created_at
               AND x.id <> new.id ORDER BY x.created_at, x.id LIMIT 1));
  INSERT INTO memories_fts (memories_fts, rowid, text, tags, context)
    SELECT 'delete', n.id, n.text, n.tags,
           (SELECT p.text FROM memories AS p WHERE p.expires_at IS NULL AND p.superseded_by IS NULL AND p.id = coalesce(
              (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at = new.created_at
                 AND x.id < new.id AND x.id <> new.id ORDER BY x.id DESC LIMIT 1),
              (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at < new.created_at
                 AND x.id <> new.id ORDER BY x.created_at DESC, x.id DESC LIMIT 1)))
    FROM memories AS n
    WHERE n.id = coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at = new.created_at
               AND x.id > new.id AND x.id <> new.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at > new.created_at
               AND x.id <> new.id ORDER BY x.created_at, x.id LIMIT 1))
      AND n.id IS NOT coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
               AND x.id > old.id AND x.id <> new.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at > old.created_at
               AND x.id <> new.id ORDER BY x.created_at, x.id LIMIT 1));
  INSERT INTO memories_fts (rowid, text, tags, context)
    VALUES (new.id, new.text, new.tags,
            (SELECT p.text FROM memories AS p WHERE p.expires_at IS NULL AND p.superseded_by IS NULL AND p.id = coalesce(
               (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at = new.created_at
                  AND x.id < new.id AND x.id <> new.id ORDER BY x.id DESC LIMIT 1),
               (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at < new.created_at
                  AND x.id <> new.id ORDER BY x.created_at DESC, x.id DESC LIMIT 1))));
  INSERT INTO memories_fts (rowid, text, tags, context)
    SELECT n.id, n.text, n.tags,
           CASE WHEN n.id IS coalesce(
                  (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at = new.created_at
                     AND x.id > new.id AND x.id <> new.id ORDER BY x.id LIMIT 1),
                  (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at > new.created_at
                     AND x.id <> new.id ORDER BY x.created_at, x.id LIMIT 1))
                THEN CASE WHEN new.expires_at IS NULL AND new.superseded_by IS NULL THEN new.text END
                ELSE (SELECT p.text FROM memories AS p WHERE p.expires_at IS NULL AND p.superseded_by IS NULL AND p.id = coalesce(
                  (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
                     AND x.id < old.id AND x.id <> new.id ORDER BY x.id DESC LIMIT 1),
                  (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at < old.created_at
                     AND x.id <> new.id ORDER BY x.created_at DESC, x.id DESC LIMIT 1))) END
    FROM memories AS n
    WHERE n.id = coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
               AND x.id > old.id AND x.id <> new.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at > old.created_at
               AND x.id <> new.id ORDER BY x.created_at, x.id LIMIT 1));
  INSERT INTO memories_fts (rowid, text, tags, context)
    SELECT n.id, n.text, n.tags,
           CASE WHEN new.expires_at IS NULL AND new.superseded_by IS NULL THEN new.text END
    FROM memories AS n
    WHERE n.id = coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at = new.created_at
               AND x.id > new.id AND x.id <> new.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = new.thread AND x.created_at > new.created_at
               AND x.id <> new.id ORDER BY x.created_at, x.id LIMIT 1))
      AND n.id IS NOT coalesce(
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at = old.created_at
               AND x.id > old.id AND x.id <> new.id ORDER BY x.id LIMIT 1),
            (SELECT x.id FROM memories AS x WHERE x.thread = old.thread AND x.created_at > old.created_at
               AND x.id <> new.id ORDER BY x.created_at, x.id LIMIT 1));
END;

-- UPDATE OR REPLACE moving a memory onto another memory's id deletes that memory without its
-- delete trigger: refused, before anything changes (a plain UPDATE fails on the key anyway).
CREATE TRIGGER memories_refuse_replace_by_id BEFORE UPDATE OF id ON memories
WHEN new.id IS NOT old.id AND EXISTS (SELECT 1 FROM memories WHERE id = new.id) BEGIN
  SELECT RAISE(ABORT, 'memento: UPDATE OR REPLACE onto another memory''s id would drop that memory without updating the keyword index and tag rows; delete it first');
END;

-- Tag rows whose memory a shell DELETE (foreign keys off) removed under an older version.
DELETE FROM memory_tags WHERE memory_id NOT IN (SELECT id FROM memories);

INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');
