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
-- How many memories pass the filters (NULL when there is no filter).
filter_size AS MATERIALIZED (
  SELECT CASE WHEN coalesce(:since, :until, :tags, :thread) IS NULL THEN NULL
              ELSE (SELECT count(*) FROM filtered) END AS n
),
-- Keyword side: the best :candidates by bm25, read from the FTS index alone.
keyword AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE :w_keyword > 0 AND :match IS NOT NULL AND memories_fts MATCH :match
    AND ((SELECT n FROM filter_size) IS NULL OR rowid IN filtered)
  ORDER BY bm25, rowid DESC
  LIMIT :candidates
),
-- Vector side, broad search: hamming KNN over sign bits. With a filter that passes many memories,
-- the list grows by the filter's selectivity so that enough candidates survive it; with a
-- selective filter (vector_exact below does the work) or w_vector = 0 it is empty (k = 0).
vector_prefilter AS MATERIALIZED (
  SELECT rowid AS id, embedding
  FROM memories_vec
  WHERE embedding_bits MATCH vec_quantize_binary(:qvec)
    AND k = CASE
      WHEN :w_vector <= 0 THEN 0
      WHEN (SELECT n FROM filter_size) IS NULL THEN :prefilter
      WHEN (SELECT n FROM filter_size) <= :exact_limit THEN 0
      ELSE min(4096, :prefilter * (SELECT count(*) FROM memories) / (SELECT n FROM filter_size))
    END
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
  WHERE (SELECT n FROM filter_size) IS NULL OR c.id IN filtered
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
  WHERE (SELECT n FROM filter_size) IS NULL OR id IN filtered
),
-- Both sides, exactly, for every pool member. Keyword: its bm25 relative to the best match
-- (1 = best, 0 = no match); a member outside the keyword list gets its own bm25 by a rowid
-- lookup in the index. Vector: its cosine similarity (fixed bounds -1..1, never divided by the
-- best one, so the score is monotonic in similarity whatever the query), read by rowid from the
-- float column (~0.01 ms a row); 0 for a memory without a trusted vector.
scored AS MATERIALIZED (
  SELECT pool.id,
         :w_keyword * coalesce(coalesce(
           (SELECT keyword.bm25 FROM keyword WHERE keyword.id = pool.id),
           (SELECT bm25(memories_fts, :text_weight, :tag_weight, :context_weight) FROM memories_fts
            WHERE :w_keyword > 0 AND memories_fts MATCH :match AND rowid = pool.id),
           0.0) / (SELECT min(bm25) FROM keyword), 0.0)
       + :w_vector * coalesce(
           (SELECT 1.0 - vector.distance FROM vector WHERE vector.id = pool.id),
           (SELECT 1.0 - vec_distance_cosine(v.embedding, :qvec) FROM memories_vec AS v
            JOIN memories AS m ON m.id = v.rowid AND m.embedded_with = :model
            WHERE v.rowid = pool.id),
           0.0) AS fused
  FROM pool
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
-- pool counts 0: it was a candidate on neither side).
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
