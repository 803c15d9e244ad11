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
-- The best :candidates by bm25, from the FTS index alone (text, tags, and the thread
-- neighbour's text in the context column, each with its weight).
keyword AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25  -- lower is better
  FROM memories_fts
  WHERE memories_fts MATCH :match
    AND (coalesce(:since, :until, :tags, :thread) IS NULL OR rowid IN filtered)
  ORDER BY bm25, rowid DESC
  LIMIT :candidates
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
-- The exact bm25 of every pool member that matches (a neighbour outside the candidates too).
-- "+rowid": FTS5 walks the query's matches once and scores only pool members; a plain
-- "rowid IN" would run one FTS5 query per member (measured at 10k memories: 6.3 ms vs 0.26 ms).
pool_bm25 AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE memories_fts MATCH :match AND +rowid IN (SELECT id FROM pool_kept)
),
-- Fused score of every pool member: its bm25 relative to the best (1 = best match, 0 = no match).
scored AS MATERIALIZED (
  SELECT pool_kept.id,
         :w_keyword * coalesce(pool_bm25.bm25 / (SELECT min(bm25) FROM keyword), 0.0) AS fused
  FROM pool_kept LEFT JOIN pool_bm25 ON pool_bm25.id = pool_kept.id
),
-- Thread neighbours as edges (previous, next), each pair once. Only a candidate's links are
-- looked up, so two neighbours that are both outside the candidates lend each other nothing
-- (their scores are low on both sides anyway; looking up every pool member's links cost
-- ~0.8 ms more at 10k memories).
edges AS MATERIALIZED (
  SELECT prev_id AS a, id AS b FROM candidate_links WHERE prev_id IS NOT NULL
  UNION
  SELECT id, next_id FROM candidate_links WHERE next_id IS NOT NULL
),
-- Both ends of every edge, keyed by the edge's first memory (a memory is the first of one
-- edge at most: the one to its next memory).
edge_ends AS (
  SELECT a AS id, a AS edge FROM edges
  UNION ALL
  SELECT b, a FROM edges
),
-- Smoothing: score = fused + :gamma * max(0, best fused score among its linked neighbours).
-- A neighbour's score is read with a window over the edge's two ends (scored is referenced once:
-- SQLite 3.54 refuses this statement with scored joined to itself, "subqueries nested too deep").
final AS MATERIALIZED (
  SELECT id, fused + :gamma * max(0.0, coalesce(max(partner_fused), 0.0)) AS score
  FROM (
    SELECT s.id, s.fused,
           CASE WHEN ee.edge IS NOT NULL AND count(*) OVER edge = 2
                THEN sum(s.fused) OVER edge - s.fused END AS partner_fused
    FROM scored AS s LEFT JOIN edge_ends AS ee ON ee.id = s.id
    WINDOW edge AS (PARTITION BY ee.edge))
  GROUP BY id
  ORDER BY score DESC, id DESC
  LIMIT :k
)
-- memories rows are read for the k winners only.
SELECT m.id, m.text, m.tags, m.metadata, m.created_at, final.score, m.thread
FROM final CROSS JOIN memories AS m ON m.id = final.id
ORDER BY final.score DESC, m.id DESC;
