-- Hybrid recall: keyword (FTS5 bm25) and vector (cosine) candidates, fused in one statement.
-- Used by vector tiers for mode="hybrid" and mode="vector" (:w_keyword = 0).
--
-- Parameters
--   :match        safe FTS5 expression from memento/fts_query.py (or NULL: no searchable word)
--   :qvec         the query's float32 vector (L2-normalized, as stored)
--   :model        the store's model id: only vectors made by it are trusted
--   :k            results wanted;  :candidates  how many each side contributes
--   :prefilter    hamming-KNN list size before exact cosine rescoring (the approximate step)
--   :exact_limit  a filter passing at most this many memories scores them all exactly instead
--   :tags, :since, :until   filters, as in recall_keyword.sql
--   :fusion       'rrf'   score = w_keyword / (rrf_k + keyword rank) + w_vector / (rrf_k + vector rank)
--                 'score' score = w_keyword * bm25 / best bm25 + w_vector * similarity / best similarity
--   :w_keyword, :w_vector, :rrf_k, :text_weight, :tag_weight
-- The defaults, and the dev-set numbers that chose them, are in memento/vectors.py.

-- name: recall_hybrid
WITH
filtered AS (
  SELECT id FROM memories
  WHERE (:since IS NULL OR created_at >= :since)
    AND (:until IS NULL OR created_at <  :until)
    AND (:tags IS NULL OR id IN (
          SELECT memory_id FROM memory_tags
          WHERE tag IN (SELECT value FROM json_each(:tags))
          GROUP BY memory_id HAVING count(*) = json_array_length(:tags)))
),
-- How many memories pass the filters (NULL when there is no filter).
filter_size AS MATERIALIZED (
  SELECT CASE WHEN coalesce(:since, :until, :tags) IS NULL THEN NULL
              ELSE (SELECT count(*) FROM filtered) END AS n
),
-- Keyword side: the best :candidates by bm25, read from the FTS index alone.
keyword AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight) AS bm25
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
  WHERE :w_vector > 0 AND coalesce(:since, :until, :tags) IS NOT NULL  -- no filter: skipped at once
    AND (SELECT n FROM filter_size) <= :exact_limit
),
-- Exact cosine distance for all candidates; a vector made before the text changed (or by
-- another model) is ignored: its memory's embedded_with no longer names :model.
vector AS MATERIALIZED (
  SELECT c.id, vec_distance_cosine(c.embedding, :qvec) AS distance
  FROM (SELECT id, embedding FROM vector_prefilter UNION ALL SELECT id, embedding FROM vector_exact) AS c
  JOIN memories AS m ON m.id = c.id AND m.embedded_with = :model
  WHERE (SELECT n FROM filter_size) IS NULL OR c.id IN filtered
  ORDER BY distance, c.id DESC
  LIMIT :candidates
),
keyword_ranked AS (
  SELECT id, bm25, row_number() OVER (ORDER BY bm25, id DESC) AS rank,
         bm25 / (SELECT min(bm25) FROM keyword) AS relative        -- best keyword match = 1
  FROM keyword
),
vector_ranked AS (
  SELECT id, distance, row_number() OVER (ORDER BY distance, id DESC) AS rank,
         (1.0 - distance) / (1.0 - (SELECT min(distance) FROM vector)) AS relative  -- best = 1
  FROM vector
),
fused AS (
  SELECT id, sum(part) AS score FROM (
    SELECT id, :w_keyword * CASE :fusion WHEN 'rrf' THEN 1.0 / (:rrf_k + rank) ELSE relative END AS part
    FROM keyword_ranked
    UNION ALL
    SELECT id, :w_vector * CASE :fusion WHEN 'rrf' THEN 1.0 / (:rrf_k + rank) ELSE relative END
    FROM vector_ranked
  )
  GROUP BY id
)
SELECT m.id, m.text, m.tags, m.metadata, m.created_at, fused.score
FROM fused JOIN memories AS m ON m.id = fused.id
ORDER BY fused.score DESC, m.id DESC
LIMIT :k;
