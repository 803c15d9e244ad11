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
--   :tags, :since, :until, :thread, :source_from, :source_to   filters, as in recall_keyword.sql
--   :now, :include_superseded   expired and superseded memories are left out; :hidden (how many
--                 there are) sizes the vector list, :overfetch the keyword side's first step
--   :top, :low_id, :high_id   the split keyword scan's, as in recall_keyword.sql
--   :filtering    1 when any of the filters is set
--   :half_life_days, :as_of, :pin_boost   recency decay and pin boost (final)
--   :text_weight, :tag_weight, :context_weight   bm25 column weights
--   :w_keyword, :w_vector, :gamma   fusion and smoothing (the formula: memento/ranking.py)
--     fused = w_keyword * bm25 / best bm25 + w_vector * cosine similarity   (either part 0 if absent)
--     score = fused + gamma * max(0, fused of the previous memory, fused of the next memory in the thread)
-- Every value, and the dev-set numbers that chose it, is in memento/ranking.py.

-- name: recall_hybrid
WITH
-- include: recall_filters
-- Keyword side: the best :candidates visible matches by bm25, the same part as recall_keyword.sql.
-- include: keyword_candidates
-- Vector side: the best :candidates by exact cosine (vector_search.sql).
-- include: vector_candidates
-- Both sides' candidates, each once, and with the thread channel (:w_thread > 0) a window of one
-- thread: the thread whose candidates' parts (keyword and cosine, as their sides found them) add
-- up highest, around its candidate with the highest part, the anchor: :thread_half memories before
-- it and :thread_half after (by created_at, id; each two seeks along memories_thread, as in
-- thread_links), so a long thread costs no more than a short one. One read of each side: SQLite
-- counts every expansion of keyword and vector against its limit of nested subqueries.
candidates AS MATERIALIZED (
  SELECT DISTINCT coalesce(x.id, c.id) AS id
  FROM (SELECT id, thread, created_at, :w_thread > 0 AND thread IS NOT NULL
                 AND row_number() OVER (ORDER BY thread IS NULL, thread_part DESC, part DESC, id DESC) = 1 AS anchor
        FROM (SELECT c.id, m.thread, m.created_at, c.part, sum(c.part) OVER (PARTITION BY m.thread) AS thread_part
              FROM (SELECT id, sum(part) AS part FROM (
                      SELECT id, :w_keyword * bm25 / min(bm25) OVER () AS part FROM keyword
                      UNION ALL SELECT id, :w_vector * (1.0 - distance) FROM vector) GROUP BY id) AS c
              CROSS JOIN memories AS m ON m.id = c.id)) AS c
  LEFT JOIN memories AS x ON c.anchor AND x.id IN (
    SELECT id FROM (SELECT id FROM memories WHERE thread = c.thread AND created_at = c.created_at AND id <= c.id
                    ORDER BY id DESC LIMIT +:thread_half + 1)
    UNION ALL
    SELECT id FROM (SELECT id FROM memories WHERE thread = c.thread AND created_at < c.created_at
                    ORDER BY created_at DESC, id DESC LIMIT +:thread_half)
    UNION ALL
    SELECT id FROM (SELECT id FROM memories WHERE thread = c.thread AND created_at = c.created_at AND id > c.id
                    ORDER BY id LIMIT +:thread_half)
    UNION ALL
    SELECT id FROM (SELECT id FROM memories WHERE thread = c.thread AND created_at > c.created_at
                    ORDER BY created_at, id LIMIT +:thread_half))
),
-- Each candidate's previous and next memory in its thread (NULL without a thread, or when
-- smoothing is off).
candidate_links AS MATERIALIZED (
  SELECT m.id,
-- include: thread_links
  FROM candidates CROSS JOIN memories AS m ON m.id = candidates.id
),
-- include: pool_ids
-- The exact bm25 of every pool member that matches (vector candidates and neighbours too).
-- "+rowid": FTS5 walks the query's matches once and scores only pool members; a plain
-- "rowid IN" would run one FTS5 query per member (measured at 10k memories: 6.3 ms vs 0.26 ms).
pool_bm25 AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE :w_keyword > 0 AND :match IS NOT NULL
    AND memories_fts MATCH :match AND +rowid IN pool_ids
),
-- Fused score of every pool member that passes the filters and is not hidden:
-- keyword part = bm25 relative to the best match (1 = best, 0 = no match); vector part = cosine
-- similarity (fixed bounds -1..1, never divided by the best one, so the score is monotonic in
-- similarity whatever the query; 0 without a trusted vector, i.e. one made by :model for the
-- memory's current text), its float vector read from memories_vec_auxiliary as in vector above
-- (reading it again costs less than looking it up in vector's list).
-- The boost factor (recall_parts.sql) lifts a positive score and shrinks a negative one toward 0.
-- lift (the thread channel): :w_thread x its thread's score, the sum of its scored members'
-- positive fused scores (0 without a thread); smoothed_final adds it to the memory's score.
scored AS MATERIALIZED (
  SELECT id, fused, CASE WHEN thread_score IS NULL THEN 0.0 WHEN :thread_norm = 0 THEN :w_thread * thread_score
                         ELSE :w_thread * coalesce(thread_score / max(thread_score) OVER (), 0.0) END AS lift
  FROM (SELECT id, fused, CASE WHEN thread IS NOT NULL AND :w_thread > 0 THEN
                            CASE :thread_agg WHEN 1 THEN max(max(fused, 0.0)) OVER t
                                             WHEN 2 THEN avg(max(fused, 0.0)) OVER t
                                             ELSE sum(max(fused, 0.0)) OVER t END END AS thread_score
  FROM (SELECT id, thread, CASE WHEN base >= 0 THEN base * factor ELSE base / factor END AS fused
  FROM (
    SELECT p.id, m.thread,
           :w_keyword * coalesce(b.bm25 / (SELECT min(bm25) FROM keyword), 0.0)
         + :w_vector * CASE WHEN :w_vector > 0 AND m.embedded_with = :model THEN 1.0 - coalesce(
               (SELECT vec_distance_cosine(a.value00, :qvec) FROM memories_vec_auxiliary AS a WHERE a.rowid = p.id),
               1.0) ELSE 0.0 END AS base,
-- include: boost_factor
           AS factor
    FROM pool_ids AS p
    CROSS JOIN memories AS m ON m.id = p.id
    LEFT JOIN pool_bm25 AS b ON b.id = p.id
    WHERE (:filtering = 0 OR p.id IN filtered)
      AND (m.expires_at IS NULL OR m.expires_at > :now)
      AND (:include_superseded OR m.superseded_by IS NULL)))
  WINDOW t AS (PARTITION BY thread))
),
-- include: smoothed_final
-- The vector side's best cosine similarity, for relevance's gate (recall_parts.sql, part hits);
-- NULL without a vector candidate.
best_similarity AS (SELECT 1.0 - min(distance) AS cosine FROM vector)
-- include: hits
;
