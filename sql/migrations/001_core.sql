-- 001_core: the memory store. Plain tables first, so the plain sqlite3 shell reads it well:
--   sqlite3 memento.db "select id, created_at, tags, text from memories order by id desc limit 5"

-- One row per memory. AUTOINCREMENT: an id is never reused after forget(), so an id an agent
-- kept can never silently point at a different memory.
CREATE TABLE memories (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  text          TEXT    NOT NULL CHECK (length(text) > 0),
  tags          TEXT    NOT NULL DEFAULT '[]'  -- JSON array of normalized tag strings
                CHECK (json_valid(tags) AND json_type(tags) = 'array'),
  metadata      TEXT    NOT NULL DEFAULT '{}'  -- JSON object, the caller's own fields
                CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
  created_at    TEXT    NOT NULL,              -- ISO-8601 UTC, fixed width: 2026-11-25T05:43:17.123Z
  updated_at    TEXT    NOT NULL,
  pinned        INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
  embedded_with TEXT                           -- model id of its vector; NULL = keyword-only or pending
);
CREATE INDEX memories_created_at ON memories (created_at);
CREATE INDEX memories_pending ON memories (id) WHERE embedded_with IS NULL;

-- Tags as rows, for filtering with an index. Derived from memories.tags by the triggers below,
-- so it can never disagree with it (even after an edit made in the sqlite3 shell).
CREATE TABLE memory_tags (
  tag       TEXT    NOT NULL,
  memory_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
  PRIMARY KEY (tag, memory_id)
) WITHOUT ROWID;
CREATE INDEX memory_tags_memory ON memory_tags (memory_id);

-- Keyword index. External content: the text is stored once, in memories; FTS5 keeps only the index.
-- Tags are indexed too (at a lower weight, see sql/queries) so "prefs" finds memories tagged prefs.
CREATE VIRTUAL TABLE memories_fts USING fts5 (
  text, tags,
  content = 'memories', content_rowid = 'id',
  tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER memories_after_insert AFTER INSERT ON memories BEGIN
  INSERT INTO memories_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
  INSERT INTO memory_tags (tag, memory_id) SELECT DISTINCT value, new.id FROM json_each(new.tags);
END;

CREATE TRIGGER memories_after_delete AFTER DELETE ON memories BEGIN
  INSERT INTO memories_fts (memories_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
END;

CREATE TRIGGER memories_after_update_content AFTER UPDATE OF text, tags ON memories BEGIN
  INSERT INTO memories_fts (memories_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
  INSERT INTO memories_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
  DELETE FROM memory_tags WHERE memory_id = old.id;
  INSERT INTO memory_tags (tag, memory_id) SELECT DISTINCT value, new.id FROM json_each(new.tags);
END;

-- Facts about the store itself: tier, model id, vector dimension, who wrote it.
CREATE TABLE store_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
