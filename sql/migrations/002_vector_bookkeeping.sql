-- 002: bookkeeping that keeps vectors honest, in plain SQL (works without the vec0 extension).
-- The vectors themselves live in memories_vec, created only by vector tiers (sql/vector/).

-- A forgotten memory's vector must go too, but deleting from vec0 needs the extension, which a
-- keyword-only visitor (tier="minimal", e.g. a Pi reading a server's store) may not have. So deletes
-- are queued here and applied by the next vector-tier connection (and at once by a vector tier).
CREATE TABLE vector_deletes (
  memory_id INTEGER PRIMARY KEY
);

CREATE TRIGGER memories_queue_vector_delete AFTER DELETE ON memories
WHEN old.embedded_with IS NOT NULL BEGIN
  INSERT OR IGNORE INTO vector_deletes (memory_id) VALUES (old.id);
END;

-- New text makes the old vector wrong: mark the memory pending (backfill() re-embeds it).
-- Recall's vector side only trusts rows whose embedded_with names the store's model.
CREATE TRIGGER memories_text_changed AFTER UPDATE OF text ON memories
WHEN old.text IS NOT new.text BEGIN
  UPDATE memories SET embedded_with = NULL WHERE id = new.id;
END;
