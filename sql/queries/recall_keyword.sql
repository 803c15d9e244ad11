-- Keyword recall (the minimal tier, and recall(mode="keyword") in every tier).
-- :match is a safe FTS5 expression built by memento/fts_query.py (every term quoted, OR-joined);
-- user text never reaches MATCH unquoted.
-- :tags (JSON array, or NULL) keeps memories carrying all of those tags;
-- :since (inclusive) / :until (exclusive) are ISO-8601 UTC bounds on created_at, or NULL;
-- :thread keeps one thread's memories, or NULL.
-- Weights (:text_weight, :tag_weight, :context_weight, :w_keyword, :gamma, :candidates) come
-- from memento/ranking.py, which also states the formula and the dev-set numbers behind it.

-- name: recall_keyword
WITH
-- Memories that pass the filters. Only evaluated when a filter is set; applied before LIMIT,
-- so a selective filter never hides a match that ranks below the first k unfiltered ones.
filtered AS (
  SELECT id FROM memories
  WHERE (:since IS NULL OR created_at >= :since)
    AND (:until IS NULL OR created_at <  :until)
    AND (:thread IS NULL OR thread = :thread)
    AND (:tags IS NULL OR id IN (
          SELECT memory_id FROM memory_tags
          WHERE tag IN (SELECT value FROM json_each(:tags))
          GROUP BY memory_id HAVING count(*) = json_array_length(:tags)))
),
-- Every match with its bm25 (text, tags, and the thread neighbour's text in the context
-- column, each with its weight). FTS5 scores every match for ORDER BY anyway; keeping them lets a
-- thread neighbour outside the candidates get its exact bm25 without a second FTS5 query
-- (a rowid lookup per neighbour cost ~0.15 ms each: 19 ms a query on a LoCoMo conversation).
matches AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25  -- lower is better
  FROM memories_fts
  WHERE memories_fts MATCH :match
    AND (coalesce(:since, :until, :tags, :thread) IS NULL OR rowid IN filtered)
),
-- The best :candidates by bm25.
keyword AS MATERIALIZED (
  SELECT id, bm25 FROM matches ORDER BY bm25, id DESC LIMIT :candidates
),
-- Each candidate's previous and next memory in its thread (NULL without a thread), when
-- smoothing is on.
candidate_links AS MATERIALIZED (
  SELECT m.id,
         (SELECT p.id FROM memories AS p
          WHERE p.thread = m.thread AND (p.created_at, p.id) < (m.created_at, m.id)
          ORDER BY p.created_at DESC, p.id DESC LIMIT 1) AS prev_id,
         (SELECT n.id FROM memories AS n
          WHERE n.thread = m.thread AND (n.created_at, n.id) > (m.created_at, m.id)
          ORDER BY n.created_at, n.id LIMIT 1) AS next_id
  FROM keyword CROSS JOIN memories AS m ON m.id = keyword.id
  WHERE :gamma > 0
),
-- What is ranked: the candidates and their neighbours (a neighbour that fails a filter is out).
pool AS MATERIALIZED (
  SELECT id FROM keyword
  UNION SELECT prev_id FROM candidate_links WHERE prev_id IS NOT NULL
  UNION SELECT next_id FROM candidate_links WHERE next_id IS NOT NULL
),
pool_kept AS MATERIALIZED (
  SELECT id FROM pool
  WHERE coalesce(:since, :until, :tags, :thread) IS NULL OR id IN filtered
),
-- Fused score of every pool member: its bm25 relative to the best (1 = best match, 0 = no match).
-- A neighbour outside the candidates gets its own exact bm25 too (from matches).
scored AS MATERIALIZED (
  SELECT pool_kept.id,
         :w_keyword * coalesce(
           (SELECT matches.bm25 FROM matches WHERE matches.id = pool_kept.id)
           / (SELECT min(bm25) FROM keyword), 0.0) AS fused
  FROM pool_kept
),
-- Links of every pool member, for smoothing.
pool_links AS MATERIALIZED (
  SELECT s.id, s.fused,
         (SELECT p.id FROM memories AS p
          WHERE p.thread = m.thread AND (p.created_at, p.id) < (m.created_at, m.id)
          ORDER BY p.created_at DESC, p.id DESC LIMIT 1) AS prev_id,
         (SELECT n.id FROM memories AS n
          WHERE n.thread = m.thread AND (n.created_at, n.id) > (m.created_at, m.id)
          ORDER BY n.created_at, n.id LIMIT 1) AS next_id
  FROM scored AS s CROSS JOIN memories AS m ON m.id = s.id
),
-- Smoothing: a memory gets :gamma of its better neighbour's fused score (a neighbour outside the
-- pool is taken as 0: it matched neither side well enough to be a candidate).
final AS MATERIALIZED (
  SELECT l.id, l.fused + :gamma * max(0.0, coalesce(sp.fused, 0.0), coalesce(sn.fused, 0.0)) AS score
  FROM pool_links AS l
  LEFT JOIN scored AS sp ON sp.id = l.prev_id
  LEFT JOIN scored AS sn ON sn.id = l.next_id
  ORDER BY score DESC, l.id DESC
  LIMIT :k
)
-- memories rows are read for the k winners only.
SELECT m.id, m.text, m.tags, m.metadata, m.created_at, final.score, m.thread
FROM final CROSS JOIN memories AS m ON m.id = final.id
ORDER BY final.score DESC, m.id DESC;
