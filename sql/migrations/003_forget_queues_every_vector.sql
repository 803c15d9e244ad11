-- 003: forget is for good, whatever the memory's embedded_with says.
-- 002 queued a forgotten memory's vector only when embedded_with was set; but a memory whose text
-- was edited (by a keyword-only visit, or reset by reembed) has embedded_with NULL while its old
-- vector still sits in memories_vec, and forgetting it left that vector behind for good. Queue on
-- every delete, as long as the store has a vector table at all (a keyword-only store never fills
-- the queue). Vectors orphaned by older versions are removed by `memento doctor --repair`.
DROP TRIGGER memories_queue_vector_delete;

CREATE TRIGGER memories_queue_vector_delete AFTER DELETE ON memories
WHEN EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'memories_vec') BEGIN
  INSERT OR IGNORE INTO vector_deletes (memory_id) VALUES (old.id);
END;
