-- Keyword recall (the minimal tier, and recall(mode="keyword") in every tier).
-- :match is a safe FTS5 expression built by memento/fts_query.py (every term quoted, OR-joined);
-- user text never reaches MATCH unquoted.
-- :tags (JSON array, or NULL) keeps memories carrying all of those tags;
-- :since (inclusive) / :until (exclusive) are ISO-8601 UTC bounds on created_at, or NULL.

-- name: recall_keyword
WITH
-- Memories that pass the filters. Only evaluated when a filter is set; applied before LIMIT,
-- so a selective filter never hides a match that ranks below the first k unfiltered ones.
filtered AS (
  SELECT id FROM memories
  WHERE (:since IS NULL OR created_at >= :since)
    AND (:until IS NULL OR created_at <  :until)
    AND (:tags IS NULL OR id IN (
          SELECT memory_id FROM memory_tags
          WHERE tag IN (SELECT value FROM json_each(:tags))
          GROUP BY memory_id HAVING count(*) = json_array_length(:tags)))
),
-- The k best by bm25, from the FTS index alone: memories rows are read for the winners only
-- (reading them for every match costs 2x at 100k memories).
keyword AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight) AS bm25  -- lower is better
  FROM memories_fts
  WHERE memories_fts MATCH :match
    AND (coalesce(:since, :until, :tags) IS NULL OR rowid IN filtered)
  ORDER BY bm25, rowid DESC  -- ties: the newer memory first
  LIMIT :k
)
SELECT m.id, m.text, m.tags, m.metadata, m.created_at, -keyword.bm25 AS score  -- higher is better
FROM keyword JOIN memories AS m ON m.id = keyword.id
ORDER BY keyword.bm25, m.id DESC;
