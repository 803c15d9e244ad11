-- Memory over time (sql/migrations/005_duplicates_supersede_expire.sql): duplicate keys, merges, superseding, expiry.
-- "LIMIT +:n": the unary + keeps the statement from being recompiled on every run (recall_parts.sql).
-- A memory is "current" when it is neither superseded nor expired (expires_at <= :now).

-- name: unkeyed_batch
-- Memories whose text_key is missing or was cleared by a text edit (partial index memories_unkeyed).
SELECT id, text FROM memories WHERE text_key IS NULL ORDER BY id LIMIT +:limit;

-- name: set_text_key
UPDATE memories SET text_key = :key WHERE id = :id;

-- name: current_by_keys
-- remember_many: every current memory whose key is one of the batch's (a JSON array), oldest
-- first, in one query (index memories_text_key); the caller compares normalised texts and threads.
SELECT id, text, thread FROM memories
WHERE text_key IN (SELECT value FROM json_each(:keys))
  AND superseded_by IS NULL AND (expires_at IS NULL OR expires_at > :now)
ORDER BY id;

-- name: tags_and_metadata
SELECT tags, metadata FROM memories WHERE id = :id;

-- name: set_tags
UPDATE memories SET tags = :tags WHERE id = :id;

-- name: merge_duplicate
-- A repeated remember: metadata merged by the caller, pinned if either was, the later expiry
-- (NULL = never, which outlasts any time), updated_at bumped.
UPDATE memories SET
  metadata   = :metadata,
  pinned     = max(pinned, :pinned),
  expires_at = CASE WHEN expires_at IS NULL OR :expires_at IS NULL THEN NULL
                    ELSE max(expires_at, :expires_at) END,
  updated_at = :updated_at
WHERE id = :id
RETURNING
-- include: memory_columns
;

-- name: merge_source
SELECT tags, metadata, pinned, expires_at FROM memories WHERE id = :id;

-- name: supersede_check
-- Does :old exist, who supersedes it already, and is :old reachable from :new by superseded_by
-- (linking them would close a cycle)? The walk is bounded by the chain's length.
WITH RECURSIVE chain (id, depth) AS (
  SELECT superseded_by, 1 FROM memories WHERE id = :new AND superseded_by IS NOT NULL
  UNION
  SELECT m.superseded_by, chain.depth + 1 FROM chain JOIN memories AS m ON m.id = chain.id
  WHERE m.superseded_by IS NOT NULL AND chain.depth < 10000
)
SELECT EXISTS (SELECT 1 FROM memories WHERE id = :old),
       (SELECT superseded_by FROM memories WHERE id = :old),
       EXISTS (SELECT 1 FROM chain WHERE id = :old);

-- name: set_superseded_by
UPDATE memories SET superseded_by = :by WHERE id = :id;

-- name: reinstate
-- Make a superseded memory current again (its superseder may have been forgotten).
UPDATE memories SET superseded_by = NULL WHERE id = :id
RETURNING
-- include: memory_columns
;

-- name: repoint_superseded
-- `memento dedup --apply`: memories superseded by a deleted duplicate are superseded by the kept one.
UPDATE memories SET superseded_by = :new WHERE superseded_by = :old AND id <> :new;

-- name: duplicate_key_rows
-- Current memories that share a text_key with another current memory (the caller groups them
-- by normalised text and thread).
SELECT m.id, m.text, m.thread FROM memories AS m
WHERE m.superseded_by IS NULL AND (m.expires_at IS NULL OR m.expires_at > :now)
  AND m.text_key IN (
    SELECT text_key FROM memories
    WHERE superseded_by IS NULL AND (expires_at IS NULL OR expires_at > :now)
    GROUP BY text_key HAVING count(*) > 1)
ORDER BY m.id;

-- name: current_vectors
-- Vector tiers, `memento dedup --near`: every current memory's trusted vector.
SELECT m.id, v.embedding, m.text FROM memories AS m JOIN memories_vec AS v ON v.rowid = m.id
WHERE m.embedded_with = :model AND m.superseded_by IS NULL
  AND (m.expires_at IS NULL OR m.expires_at > :now)
ORDER BY m.id;

-- name: prune_expired
-- `memento prune --expired`: delete for good (the 003 trigger queues their vectors' deletes).
DELETE FROM memories WHERE expires_at <= :now RETURNING id;

-- name: any_hidden
-- Before a keyword recall: is any memory expired (or superseded, unless included)? One step into
-- each partial index (005), however many there are.
SELECT EXISTS (SELECT 1 FROM memories WHERE expires_at <= :now)
    OR EXISTS (SELECT 1 FROM memories WHERE :include_superseded = 0 AND superseded_by IS NOT NULL);

-- name: hidden_count
-- Before a hybrid recall: how many memories are expired (or superseded, unless included)?
-- Partial-index counts (one both expired and superseded counts twice: harmless, it only sizes the
-- vector list). At 0 the statement reads no row to check.
SELECT (SELECT count(*) FROM memories WHERE expires_at <= :now)
     + (SELECT count(*) FROM memories WHERE :include_superseded = 0 AND superseded_by IS NOT NULL);

-- name: id_sequence
-- An import (memento/import_ids.py): the highest id this store ever gave (AUTOINCREMENT keeps it in
-- sqlite_sequence; max(id) too, should the sequence have been edited in the shell). Every id above
-- it was never used, so an imported memory may keep its id there.
SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'memories'), 0),
           coalesce((SELECT max(id) FROM memories), 0));

-- name: raise_sequence
-- Reserve every id up to :seq for the import (the superseder of an imported memory, not stored yet):
-- no other writer is given one of them. sqlite_sequence is SQLite's own table of AUTOINCREMENT
-- counters, meant to be updated like this; its row for memories exists once a memory was stored.
UPDATE sqlite_sequence SET seq = :seq WHERE name = 'memories' AND seq < :seq;
INSERT INTO sqlite_sequence (name, seq)
SELECT 'memories', :seq WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'memories');
