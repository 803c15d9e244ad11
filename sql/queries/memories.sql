-- Plain reads and writes of memories. Blocks are named with "-- name:"; parameters are named.
-- "LIMIT +:n": the unary + keeps the statement from being recompiled on every run (recall_parts.sql).

-- part: memory_columns
-- A memory's row as memento reads it, in the order values.Memory.from_row takes it.
  id, text, tags, metadata, created_at, updated_at, pinned, embedded_with, thread, expires_at, superseded_by,
  speaker

-- name: insert_memory
-- :id NULL takes the next id (AUTOINCREMENT); an import passes an id this store never used.
INSERT INTO memories (id, text, tags, metadata, created_at, updated_at, pinned, thread, expires_at, text_key,
                      speaker, time_cue)
VALUES (:id, :text, :tags, :metadata, :created_at, :updated_at, :pinned, :thread, :expires_at, :text_key,
        :speaker, :time_cue)
RETURNING
-- include: memory_columns
;

-- name: get_memory
SELECT
-- include: memory_columns
FROM memories WHERE id = :id;

-- name: update_memory
-- NULL parameters keep the stored value; expires_at changes only when :set_expires_at is 1 (then
-- a NULL :expires_at clears it: the memory never expires).
UPDATE memories SET
  text       = coalesce(:text, text),
  thread     = coalesce(:thread, thread),
  speaker    = coalesce(:speaker, speaker),
  tags       = coalesce(:tags, tags),
  metadata   = coalesce(:metadata, metadata),
  pinned     = coalesce(:pinned, pinned),
  expires_at = CASE WHEN :set_expires_at THEN :expires_at ELSE expires_at END,
  updated_at = :updated_at
WHERE id = :id
RETURNING
-- include: memory_columns
;

-- name: delete_memory
DELETE FROM memories WHERE id = :id RETURNING id;

-- name: list_memories
-- Keyset pagination in id order: constant cost per page however large the store is.
-- Expired memories are listed only with :include_expired (export); :pinned (1, or NULL for all)
-- keeps pinned ones.
SELECT
-- include: memory_columns
FROM memories
WHERE id > :after_id
  AND (:include_expired OR expires_at IS NULL OR expires_at > :now)
  AND (:pinned IS NULL OR pinned = :pinned)
  AND (:tags IS NULL OR id IN (
        SELECT memory_id FROM memory_tags
        WHERE tag IN (SELECT value FROM json_each(:tags))
        GROUP BY memory_id HAVING count(*) = json_array_length(:tags)))
ORDER BY id
LIMIT +:limit;

-- name: list_newest
-- The newest :limit memories by (created_at, id), read backwards along memories_created_at (its
-- entries end with the rowid): constant cost however large the store is. Expired ones are left out.
SELECT
-- include: memory_columns
FROM memories
WHERE (expires_at IS NULL OR expires_at > :now)
  AND (:tags IS NULL OR id IN (
        SELECT memory_id FROM memory_tags
        WHERE tag IN (SELECT value FROM json_each(:tags))
        GROUP BY memory_id HAVING count(*) = json_array_length(:tags)))
ORDER BY created_at DESC, id DESC
LIMIT +:limit;

-- name: list_thread
-- One thread in its order (created_at, id), keyset-paginated on that order (index memories_thread):
-- the rest of the page's created_at after :after_id, then the later created_at values, each arm a
-- seek. The row value (created_at, id) > (:after_created_at, :after_id) seeks on created_at alone
-- and steps through every memory sharing it (migration 006), a whole thread per page when its
-- memories share one created_at. "= +:x": compared with a bare parameter in a statement with an
-- ORDER BY, SQLite 3.54 recompiles the statement at every run (recall_parts.sql's "LIMIT +:n").
WITH tagged AS (
  SELECT memory_id FROM memory_tags
  WHERE :tags IS NOT NULL AND tag IN (SELECT value FROM json_each(:tags))
  GROUP BY memory_id HAVING count(*) = json_array_length(:tags)
)
SELECT
-- include: memory_columns
FROM (
  SELECT * FROM (
    SELECT * FROM memories
    WHERE thread = +:thread AND created_at = +:after_created_at AND id > :after_id
      AND (:include_expired OR expires_at IS NULL OR expires_at > :now)
      AND (:pinned IS NULL OR pinned = +:pinned)
      AND (:tags IS NULL OR id IN tagged)
    ORDER BY id
    LIMIT +:limit)
  UNION ALL
  SELECT * FROM (
    SELECT * FROM memories
    WHERE thread = +:thread AND created_at > :after_created_at
      AND (:include_expired OR expires_at IS NULL OR expires_at > :now)
      AND (:pinned IS NULL OR pinned = +:pinned)
      AND (:tags IS NULL OR id IN tagged)
    ORDER BY created_at, id
    LIMIT +:limit))
ORDER BY created_at, id
LIMIT +:limit;

-- name: thread_before
-- recall(..., context=n): up to :n memories just before memory :id in its thread, nearest first,
-- hidden ones left out as recall leaves them out (expired: expires_at <= :now; superseded unless
-- :include_superseded). Two seeks, as in list_thread: the same created_at with a smaller id,
-- then the earlier created_at values.
WITH h AS (SELECT thread, created_at, id FROM memories WHERE id = +:id)
SELECT id, text FROM (
  SELECT * FROM (
    SELECT p.id, p.text, p.created_at FROM h CROSS JOIN memories AS p
      ON p.thread = h.thread AND p.created_at = h.created_at AND p.id < h.id
    WHERE (p.expires_at IS NULL OR p.expires_at > :now) AND (:include_superseded OR p.superseded_by IS NULL)
    ORDER BY p.id DESC
    LIMIT +:n)
  UNION ALL
  SELECT * FROM (
    SELECT p.id, p.text, p.created_at FROM h CROSS JOIN memories AS p
      ON p.thread = h.thread AND p.created_at < h.created_at
    WHERE (p.expires_at IS NULL OR p.expires_at > :now) AND (:include_superseded OR p.superseded_by IS NULL)
    ORDER BY p.created_at DESC, p.id DESC
    LIMIT +:n))
ORDER BY created_at DESC, id DESC
LIMIT +:n;

-- name: thread_after
-- ... and up to :n just after it, nearest first, the same way round.
WITH h AS (SELECT thread, created_at, id FROM memories WHERE id = +:id)
SELECT id, text FROM (
  SELECT * FROM (
    SELECT x.id, x.text, x.created_at FROM h CROSS JOIN memories AS x
      ON x.thread = h.thread AND x.created_at = h.created_at AND x.id > h.id
    WHERE (x.expires_at IS NULL OR x.expires_at > :now) AND (:include_superseded OR x.superseded_by IS NULL)
    ORDER BY x.id
    LIMIT +:n)
  UNION ALL
  SELECT * FROM (
    SELECT x.id, x.text, x.created_at FROM h CROSS JOIN memories AS x
      ON x.thread = h.thread AND x.created_at > h.created_at
    WHERE (x.expires_at IS NULL OR x.expires_at > :now) AND (:include_superseded OR x.superseded_by IS NULL)
    ORDER BY x.created_at, x.id
    LIMIT +:n))
ORDER BY created_at, id
LIMIT +:n;

-- name: count_memories
-- Every row (doctor compares it with the indexes).
SELECT count(*) FROM memories;

-- name: count_by_kind
-- count() and stats(): every row (count(*) reads the smallest index), and the hidden ones, each
-- set read through its partial index (memories_expires_at, memories_superseded): expired, superseded
-- and not expired, superseded and expired.
SELECT (SELECT count(*) FROM memories),
       (SELECT count(*) FROM memories WHERE expires_at <= :now),
       (SELECT count(*) FROM memories WHERE superseded_by IS NOT NULL AND (expires_at IS NULL OR expires_at > :now)),
       (SELECT count(*) FROM memories WHERE superseded_by IS NOT NULL AND expires_at <= :now);

-- name: count_tags
SELECT count(DISTINCT tag) FROM memory_tags;

-- name: time_range
SELECT min(created_at), max(created_at) FROM memories;

-- name: get_meta
SELECT value FROM store_meta WHERE key = :key;

-- name: set_meta
INSERT INTO store_meta (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: all_meta
-- An importer's read positions (keys 'position:...', thousands of them) are not the store's record.
SELECT key, value FROM store_meta WHERE key < 'position:' OR key >= 'position;' ORDER BY key;

-- name: meta_range
-- The store_meta rows whose key starts with a prefix: :low <= key < :high (a primary key range).
SELECT key, value FROM store_meta WHERE key >= :low AND key < :high ORDER BY key;

-- name: delete_meta
DELETE FROM store_meta WHERE key = :key;

-- name: largest_memory_id
-- O(1): the last entry of the rowid b-tree. How big the store is, for the split keyword scan.
SELECT max(id) FROM memories;

-- name: time_cues_unknown
-- Memories whose time cue must be computed (after migration 007, or their text was edited).
SELECT id, text FROM memories WHERE time_cue IS NULL ORDER BY id LIMIT +:limit;

-- name: set_time_cue
UPDATE memories SET time_cue = :cue WHERE id = :id;
