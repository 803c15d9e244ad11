-- Writes and bookkeeping for memories_vec (vector tiers only: they need the vec0 extension).
-- "LIMIT +:n": the unary + keeps the statement from being recompiled on every run (recall_parts.sql).

-- name: vec_delete
DELETE FROM memories_vec WHERE rowid = :id;

-- name: vec_insert
INSERT INTO memories_vec (rowid, embedding_bits, embedding)
VALUES (:id, vec_quantize_binary(:embedding), :embedding);

-- name: mark_embedded
UPDATE memories SET embedded_with = :model WHERE id = :id;

-- name: apply_vector_deletes
DELETE FROM memories_vec WHERE rowid IN (SELECT memory_id FROM vector_deletes);

-- name: clear_vector_deletes
DELETE FROM vector_deletes;

-- name: pending_count
SELECT count(*) FROM memories WHERE embedded_with IS NULL;

-- name: pending_batch
SELECT id, text FROM memories WHERE embedded_with IS NULL AND id > :after_id ORDER BY id LIMIT +:limit;

-- name: text_of
SELECT text FROM memories WHERE id = :id AND embedded_with IS NULL;

-- name: reset_vectors
UPDATE memories SET embedded_with = NULL WHERE embedded_with IS NOT NULL;

-- name: drop_vec
DROP TABLE IF EXISTS memories_vec;

-- name: vec_row_count
SELECT count(*) FROM memories_vec;

-- name: vec_rows_without_memory
SELECT count(*) FROM memories_vec WHERE rowid NOT IN (SELECT id FROM memories);

-- name: delete_orphan_vectors
-- Repair: vectors whose memory is gone (left by versions before migration 003, or a lost queue).
DELETE FROM memories_vec WHERE rowid NOT IN (SELECT id FROM memories);

-- name: embedded_without_vector_count
-- Memories marked as embedded by the store's model whose vector row is missing: vector recall
-- never finds them, and backfill skips them (they are not pending).
SELECT count(*) FROM memories
WHERE embedded_with = :model AND id NOT IN (SELECT rowid FROM memories_vec);

-- name: mark_pending_without_vector
-- Repair: make them pending, so backfill embeds them again.
UPDATE memories SET embedded_with = NULL
WHERE embedded_with = :model AND id NOT IN (SELECT rowid FROM memories_vec);

-- name: other_model_count
-- Memories whose vector names another model than the store's: recall ignores it, backfill skips it.
SELECT count(*) FROM memories WHERE embedded_with IS NOT NULL AND embedded_with <> :model;

-- name: mark_pending_other_model
-- Repair: make them pending, so backfill embeds them with the store's model.
UPDATE memories SET embedded_with = NULL WHERE embedded_with IS NOT NULL AND embedded_with <> :model;
