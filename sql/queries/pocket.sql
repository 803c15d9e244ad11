-- The pocket tier (memento/pocket/): its static token table (a file of its own, read-only) and the
-- store's memories_pocket (sql/pocket/create_pocket.sql).

-- The token table ------------------------------------------------------------------------------

-- name: pocket_table_meta
SELECT key, value FROM meta;

-- name: pocket_table_insert_meta
INSERT INTO meta (key, value) VALUES (:key, :value);

-- name: pocket_table_insert_token
INSERT INTO tokens (id, piece, scale, vec) VALUES (:id, :piece, :scale, :vec);

-- name: pocket_pieces
-- Which of a word's candidate pieces (a JSON array) are tokens: the tokenizer's one read per piece.
SELECT piece, id FROM tokens WHERE piece IN (SELECT value FROM json_each(:pieces));

-- name: pocket_rows
-- The rows of a text's tokens (a JSON array of ids).
SELECT id, scale, vec FROM tokens WHERE id IN (SELECT value FROM json_each(:ids));

-- The store's memories_pocket ------------------------------------------------------------------

-- name: pocket_table_exists
SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'memories_pocket';

-- name: pocket_write
INSERT OR REPLACE INTO memories_pocket (id, vec, norm) VALUES (:id, :vec, :norm);

-- name: pocket_pending_count
-- Memories without a static vector: new with embed="later", edited, written by another tier.
SELECT count(*) FROM memories AS m WHERE NOT EXISTS (SELECT 1 FROM memories_pocket AS p WHERE p.id = m.id);

-- name: pocket_pending_batch
SELECT m.id, m.text FROM memories AS m
WHERE m.id > :after_id AND NOT EXISTS (SELECT 1 FROM memories_pocket AS p WHERE p.id = m.id)
ORDER BY m.id LIMIT +:limit;

-- name: pocket_pending_text
-- The text a pending memory still has (no row: forgotten, or computed meanwhile).
SELECT text FROM memories AS m WHERE id = :id AND NOT EXISTS (SELECT 1 FROM memories_pocket AS p WHERE p.id = m.id);

-- name: pocket_reset
DELETE FROM memories_pocket;

-- name: pocket_orphan_count
-- Rows whose memory is gone: the forget trigger makes none; a store copied table by table could.
SELECT count(*) FROM memories_pocket AS p WHERE NOT EXISTS (SELECT 1 FROM memories AS m WHERE m.id = p.id);

-- name: pocket_delete_orphans
DELETE FROM memories_pocket WHERE id NOT IN (SELECT id FROM memories);

-- name: pocket_vector_count
SELECT count(*) FROM memories_pocket;
