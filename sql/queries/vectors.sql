-- Writes and bookkeeping for memories_vec (vector tiers only: they need the vec0 extension).
-- "LIMIT +:n": the unary + keeps the statement from being recompiled on every run (recall_parts.sql).

-- name: vec_delete
DELETE FROM memories_vec WHERE rowid = :id;

-- name: vec_insert
-- :cell: the vector's partition, its nearest centroid (memento/vectors/partitions.py), 0 when the
-- store has none.
INSERT INTO memories_vec (rowid, cell, embedding_bits, embedding_int8, embedding)
VALUES (:id, :cell, vec_quantize_binary(:embedding), vec_quantize_int8(:embedding, 'unit'), :embedding);

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

-- name: vec_layout_current
-- Has memories_vec today's columns: each vector's cell (stores made before migration 008 have
-- none) and its int8 form (added later: older stores have none)? If not, it is made again.
SELECT count(*) = 2 FROM pragma_table_info('memories_vec') WHERE name IN ('cell', 'embedding_int8');

-- name: vec_chunk_index_exists
-- The index on vec0's chunk table that lets it find a cell's chunks (sql/vector/create_vec.sql).
SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'memories_vec_chunks_by_cell';

-- name: vec_ids
-- Partitioning (memento/vectors/partitions.py): every stored vector's memory id (the sample's pool).
SELECT rowid FROM memories_vec_auxiliary ORDER BY rowid;

-- name: vec_one
SELECT value00 FROM memories_vec_auxiliary WHERE rowid = :id;

-- name: vector_staging_create
-- Partitioning makes memories_vec again (vec0 cannot update a partition key, nor be renamed): the
-- vectors wait here meanwhile, in the temporary database (a file, not memory), inside the
-- partitioning's write transaction.
CREATE TEMP TABLE vector_staging (id INTEGER PRIMARY KEY, embedding BLOB NOT NULL);

-- name: vector_staging_fill
INSERT INTO temp.vector_staging (id, embedding) SELECT rowid, value00 FROM memories_vec_auxiliary;

-- name: vector_staging_slice
SELECT id, embedding FROM temp.vector_staging WHERE id > :after ORDER BY id LIMIT :n;

-- name: vector_staging_drop
DROP TABLE IF EXISTS temp.vector_staging;

-- name: vector_partitions_read
SELECT id, centroid FROM vector_partitions ORDER BY id;

-- name: vector_partitions_clear
DELETE FROM vector_partitions;

-- name: vector_partition_insert
INSERT INTO vector_partitions (id, centroid) VALUES (:id, :centroid);

-- name: vec_rows_outside_cells
-- Vectors whose cell has no centroid (0 is right only while the store has no centroids): a search
-- never reads them. Left by a shell edit of vector_partitions, or a write that failed half-way.
SELECT count(*) FROM memories_vec
WHERE cell NOT IN (SELECT id FROM vector_partitions)
  AND (cell <> 0 OR EXISTS (SELECT 1 FROM vector_partitions));

-- name: vector_partitions_count
SELECT count(*) FROM vector_partitions;
