-- Keyword recall (the minimal tier, and recall(mode="keyword") in every tier).
-- :match is a safe FTS5 expression built by memento/fts_query.py (every term quoted, OR-joined);
-- user text never reaches MATCH unquoted.
-- :tags (JSON array, or NULL) keeps memories carrying all of those tags;
-- :since (inclusive) / :until (exclusive) are ISO-8601 UTC bounds on created_at, or NULL.
-- Filters are applied before LIMIT, so a selective filter never hides a match.

-- name: recall_keyword
SELECT m.id, m.text, m.tags, m.metadata, m.created_at,
       -bm25(memories_fts, :text_weight, :tag_weight) AS score  -- higher is better
FROM memories_fts
JOIN memories AS m ON m.id = memories_fts.rowid
WHERE memories_fts MATCH :match
  AND (:since IS NULL OR m.created_at >= :since)
  AND (:until IS NULL OR m.created_at <  :until)
  AND (:tags IS NULL OR m.id IN (
        SELECT memory_id FROM memory_tags
        WHERE tag IN (SELECT value FROM json_each(:tags))
        GROUP BY memory_id HAVING count(*) = json_array_length(:tags)))
ORDER BY score DESC, m.id DESC  -- ties: the newer memory first
LIMIT :k;
