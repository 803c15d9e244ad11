-- Hybrid recall: keyword (FTS5 bm25) and vector (cosine) candidates, each scored on BOTH sides
-- exactly, fused, then smoothed over thread neighbours, in one statement.
-- Used by vector tiers for mode="hybrid" and mode="vector" (:w_keyword = 0).
--
-- Parameters
--   :match        safe FTS5 expression from memento/fts_query.py (or NULL: no searchable word)
--   :qvec         the query's float32 vector (L2-normalized, as stored)
--   :model        the store's model id: only vectors made by it are trusted
--   :k            results wanted;  :candidates  how many each side contributes
--   :prefilter    hamming-KNN list size before exact cosine rescoring (the approximate step)
--   :exact_limit  a filter passing at most this many memories scores them all exactly instead
--   :tags, :since, :until, :thread   filters, as in recall_keyword.sql
--   :now, :include_superseded, :any_hidden, :hidden   expired and superseded memories are left out
--   :half_life_days, :as_of, :pin_boost   recency decay and pin boost (final)
--   :text_weight, :tag_weight, :context_weight   bm25 column weights
--   :w_keyword, :w_vector, :gamma   fusion and smoothing (the formula: memento/ranking.py)
--     fused = w_keyword * bm25 / best bm25 + w_vector * cosine similarity   (either part 0 if absent)
--     score = fused + gamma * max(0, fused of the previous memory, fused of the next memory in the thread)
-- Every value, and the dev-set numbers that chose it, is in memento/ranking.py.

-- name: recall_hybrid
WITH
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
-- Memories recall never returns, whatever the filters: expired ones (expires_at <= :now), and
-- superseded ones unless :include_superseded, read from their partial indexes (005). Left out
-- inside the candidate CTEs, before any LIMIT, so k results still come back. :any_hidden
-- (memento counts them first, :hidden, from the same indexes) skips every test when there are none.
hidden AS MATERIALIZED (
  SELECT id FROM memories WHERE expires_at <= :now
  UNION ALL  -- not UNION: its merge scans memories in id order instead of using the indexes
  SELECT id FROM memories WHERE :include_superseded = 0 AND superseded_by IS NOT NULL
),
-- How many memories pass the filters (n: NULL when there is no filter), and from it the size of
-- the hamming-KNN list (knn_k): with a filter that passes many memories the list grows by the
-- filter's selectivity so that enough candidates survive it; with a selective filter
-- (vector_exact below does the work) or w_vector = 0 it is empty. :hidden (the number of hidden
-- memories, counted by memento's probe) grows it the same way, by total / (total - hidden):
-- growing it by :hidden itself (exact, but 1,000 more exact cosines with 10% of 10k hidden)
-- doubled hybrid recall time. With nothing hidden the size is what it was before.
filter_size AS MATERIALIZED (
  SELECT n, CASE
      WHEN :w_vector <= 0 THEN 0
      WHEN n IS NULL AND :hidden = 0 THEN :prefilter
      WHEN n <= :exact_limit THEN 0
      WHEN :hidden = 0 THEN min(4096, :prefilter * (SELECT count(*) FROM memories) / max(n, 1))
      ELSE min(4096, 1 + CAST(:prefilter * (SELECT count(*) * 1.0 / max(coalesce(n, count(*)), 1)
                                                   * count(*) / max(count(*) - :hidden, 1) FROM memories) AS INTEGER))
    END AS knn_k
  FROM (SELECT CASE WHEN coalesce(:since, :until, :tags, :thread) IS NULL THEN NULL
                    ELSE (SELECT count(*) FROM filtered) END AS n)
),
-- Keyword side: the best :candidates by bm25, read from the FTS index alone.
keyword AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE :w_keyword > 0 AND :match IS NOT NULL AND memories_fts MATCH :match
    AND ((SELECT n FROM filter_size) IS NULL OR rowid IN filtered)
    AND (:any_hidden = 0 OR rowid NOT IN hidden)
  ORDER BY bm25, rowid DESC
  LIMIT :candidates
),
-- Vector side, broad search: hamming KNN over sign bits (knn_k long, see filter_size).
vector_prefilter AS MATERIALIZED (
  SELECT rowid AS id, embedding
  FROM memories_vec
  WHERE embedding_bits MATCH vec_quantize_binary(:qvec)
    AND k = (SELECT knn_k FROM filter_size)
),
-- Vector side, selective filter: every memory passing it is scored exactly; a short KNN list
-- post-filtered would silently drop matches.
vector_exact AS MATERIALIZED (
  SELECT v.rowid AS id, v.embedding
  FROM filtered CROSS JOIN memories_vec AS v ON v.rowid = filtered.id  -- CROSS: filtered drives
  WHERE :w_vector > 0 AND coalesce(:since, :until, :tags, :thread) IS NOT NULL  -- no filter: skipped at once
    AND (SELECT n FROM filter_size) <= :exact_limit
),
-- The best :candidates by exact cosine distance; a vector made before the text changed (or by
-- another model) is ignored: its memory's embedded_with no longer names :model.
vector AS MATERIALIZED (
  SELECT c.id, vec_distance_cosine(c.embedding, :qvec) AS distance
  FROM (SELECT id, embedding FROM vector_prefilter UNION ALL SELECT id, embedding FROM vector_exact) AS c
  JOIN memories AS m ON m.id = c.id AND m.embedded_with = :model
  WHERE ((SELECT n FROM filter_size) IS NULL OR c.id IN filtered)
    AND (m.expires_at IS NULL OR m.expires_at > :now)
    AND (:include_superseded OR m.superseded_by IS NULL)
  ORDER BY distance, c.id DESC
  LIMIT :candidates
),
-- Both sides' candidates.
candidates AS MATERIALIZED (
  SELECT id FROM keyword UNION SELECT id FROM vector
),
-- Each candidate's previous and next memory in its thread, when smoothing is on.
candidate_links AS MATERIALIZED (
  SELECT m.id,
         (SELECT p.id FROM memories AS p
          WHERE p.thread = m.thread AND (p.created_at, p.id) < (m.created_at, m.id)
          ORDER BY p.created_at DESC, p.id DESC LIMIT 1) AS prev_id,
         (SELECT n.id FROM memories AS n
          WHERE n.thread = m.thread AND (n.created_at, n.id) > (m.created_at, m.id)
          ORDER BY n.created_at, n.id LIMIT 1) AS next_id
  FROM candidates CROSS JOIN memories AS m ON m.id = candidates.id
  WHERE :gamma > 0
),
-- What is ranked: the candidates and their neighbours (a neighbour that fails a filter is out).
pool AS MATERIALIZED (
  SELECT id FROM (
    SELECT id FROM candidates
    UNION SELECT prev_id FROM candidate_links WHERE prev_id IS NOT NULL
    UNION SELECT next_id FROM candidate_links WHERE next_id IS NOT NULL)
  WHERE ((SELECT n FROM filter_size) IS NULL OR id IN filtered)
    AND (:any_hidden = 0 OR id NOT IN hidden)
),
-- The exact bm25 of every pool member that matches (vector candidates and neighbours too).
-- "+rowid": FTS5 walks the query's matches once and scores only pool members; a plain
-- "rowid IN" would run one FTS5 query per member (measured at 10k memories: 6.3 ms vs 0.26 ms).
pool_bm25 AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE :w_keyword > 0 AND :match IS NOT NULL
    AND memories_fts MATCH :match AND +rowid IN (SELECT id FROM pool)
),
-- The exact cosine similarity of every pool member with a trusted vector (keyword candidates
-- and neighbours too): a rowid read of memories_vec's float column (~10 us a read, see
-- bench/point_read.py); the vector list's own rows reuse their distance.
pool_cosine AS MATERIALIZED (
  SELECT pool.id, 1.0 - coalesce(
           (SELECT vector.distance FROM vector WHERE vector.id = pool.id),
           (SELECT vec_distance_cosine(v.embedding, :qvec) FROM memories_vec AS v WHERE v.rowid = pool.id))
         AS similarity
  FROM pool JOIN memories AS m ON m.id = pool.id AND m.embedded_with = :model
  WHERE :w_vector > 0
),
-- Fused score: keyword part = bm25 relative to the best match (1 = best, 0 = no match); vector
-- part = cosine similarity (fixed bounds -1..1, never divided by the best one, so the score is
-- monotonic in similarity whatever the query; 0 without a trusted vector).
scored AS MATERIALIZED (
  SELECT pool.id,
         :w_keyword * coalesce(pool_bm25.bm25 / (SELECT min(bm25) FROM keyword), 0.0)
       + :w_vector * coalesce(pool_cosine.similarity, 0.0) AS fused
  FROM pool
  LEFT JOIN pool_bm25 ON pool_bm25.id = pool.id
  LEFT JOIN pool_cosine ON pool_cosine.id = pool.id
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
smoothed AS (
  SELECT id, fused + :gamma * max(0.0, coalesce(max(partner_fused), 0.0)) AS smoothed
  FROM (
    SELECT s.id, s.fused,
           CASE WHEN ee.edge IS NOT NULL AND count(*) OVER edge = 2
                THEN sum(s.fused) OVER edge - s.fused END AS partner_fused
    FROM scored AS s LEFT JOIN edge_ends AS ee ON ee.id = s.id
    WINDOW edge AS (PARTITION BY ee.edge))
  GROUP BY id
),
-- Recency and pins (memento/ranking.py): score = smoothed * factor (smoothed / factor when
-- negative). factor = 1 + :pin_boost for a pinned memory, else 0.5 ** (age in days at :as_of /
-- :half_life_days) when a half-life is set, else 1. Without a half-life and without pins in the
-- store no memories row is read and every score is exactly the smoothed one.
final AS MATERIALIZED (
  SELECT id, CASE WHEN smoothed >= 0 THEN smoothed * factor ELSE smoothed / factor END AS score
  FROM (
    SELECT id, smoothed,
           CASE WHEN :half_life_days IS NULL
                 AND (:pin_boost = 0 OR NOT EXISTS (SELECT 1 FROM memories WHERE pinned = 1)) THEN 1.0
                ELSE (SELECT CASE WHEN m.pinned = 1 THEN 1.0 + :pin_boost
                                  WHEN :half_life_days IS NULL THEN 1.0
                                  ELSE max(1e-300, pow(0.5, max(0.0, julianday(:as_of) - julianday(m.created_at))
                                                            / :half_life_days)) END
                      FROM memories AS m WHERE m.id = smoothed.id) END AS factor
    FROM smoothed)
  ORDER BY score DESC, id DESC
  LIMIT :k
)
-- memories rows are read for the k winners only.
SELECT m.id, m.text, m.tags, m.metadata, m.created_at, final.score, m.thread
FROM final CROSS JOIN memories AS m ON m.id = final.id
ORDER BY final.score DESC, m.id DESC;
