-- Hybrid recall: keyword (FTS5 bm25) and vector (cosine) candidates, each scored on BOTH sides
-- (pool_bm25 below says how exactly), fused, then smoothed over thread neighbours, in one statement.
-- Used by vector tiers for mode="hybrid" and mode="vector" (:w_keyword = 0).
--
-- Parameters
--   :match        safe FTS5 expression from memento/fts_query.py (or NULL: no searchable word)
--   :pool_match   the words the pool's other members are scored by (pool_bm25 below): :match, or
--                 the question's rare words in a big store when they led the keyword search
--                 (memento/recall.py)
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
--   :query_dates, :date_search, :w_date   the months and years the question names, whether to search
--                 them, and their factor (as in recall_keyword.sql: dated below, and scored)
--   :w_keyword, :w_vector, :gamma, :w_thread   fusion, smoothing and the thread channel (the formula: memento/ranking.py)
--     fused = w_keyword * bm25 / best bm25 + w_vector * cosine similarity   (either part 0 if absent)
--     score = fused + gamma * max(0, fused of the previous memory, fused of the next memory in the thread)
--             + w_thread * max(0, the best fused score of a ranked memory of its thread)   (thread channel)
-- Every value, and the dev-set numbers that chose it, is in memento/ranking.py.

-- name: recall_hybrid
WITH
-- include: recall_filters
-- Keyword side: the best :candidates visible matches by bm25, the same part as recall_keyword.sql.
-- include: keyword_candidates
-- Vector side: the best :candidates by exact cosine (vector_search.sql).
-- include: vector_candidates
-- A question naming a month or year: the best keyword matches stored then (hidden ones are left out
-- in scored).
-- include: dated_matches
-- Both sides' candidates.
candidates AS MATERIALIZED (
  SELECT id FROM keyword UNION SELECT id FROM vector UNION SELECT id FROM dated
),
-- Each candidate's previous and next memory in its thread (NULL without a thread, or when
-- smoothing is off).
candidate_links AS MATERIALIZED (
  SELECT m.id,
-- include: thread_links
  FROM candidates CROSS JOIN memories AS m ON m.id = candidates.id
),
-- include: pool_ids
-- include: speaker_gate
-- The bm25 of every pool member that matches. Known already, exactly, for the best matches a
-- split or rare-word search found (:top); the other members (vector candidates, neighbours, dated
-- matches) are scored by a walk of :pool_match's matches that scores only them. :pool_match is
-- :match, unless the keyword search was led by the question's rare words (memento/rare_words.py)
-- and the question's words are held by more than RankingSettings.pool_walk_holders memories: then
-- it is those rare words alone, so a member outside :top is scored by them only. Walking the common
-- words too costs what the store's size costs (FTS5 counts a word's holders for its idf): at 1M
-- memories 33 ms, against 3.4 ms for the rare words.
-- "+rowid": FTS5 walks the matches once and scores only pool members; a plain "rowid IN" would run
-- one FTS5 query per member (measured at 10k memories: 6.3 ms vs 0.26 ms).
pool_bm25 AS MATERIALIZED (
  SELECT t.value ->> 0 AS id, t.value ->> 1 AS bm25 FROM json_each(:top) AS t  -- pool members or not: joined below
  UNION ALL
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE :w_keyword > 0 AND :pool_match IS NOT NULL
    AND memories_fts MATCH :pool_match AND +rowid IN pool_ids
    AND +rowid NOT IN (SELECT t.value ->> 0 FROM json_each(:top) AS t)
),
-- Fused score of every pool member that passes the filters and is not hidden:
-- keyword part = bm25 relative to the best match (1 = best, 0 = no match); vector part = cosine
-- similarity (fixed bounds -1..1, never divided by the best one, so the score is monotonic in
-- similarity whatever the query; 0 without a trusted vector, i.e. one made by :model for the
-- memory's current text), its float vector read from memories_vec_auxiliary as in vector above
-- (reading it again costs less than looking it up in vector's list).
-- The boost factor (recall_parts.sql) lifts a positive score and shrinks a negative one toward 0.
-- lift, the thread channel: :w_thread x the thread's score, the best positive fused score among its
-- members that are ranked here (0 without a thread); smoothed_final adds it to the memory's score. A
-- window over the pool, no stored thread row: a thread of any length costs what its ranked members do.
scored AS MATERIALIZED (
  SELECT id, fused, CASE WHEN thread IS NULL OR :w_thread <= 0 THEN 0.0
                         ELSE :w_thread * max(max(fused, 0.0)) OVER (PARTITION BY thread) END AS lift
  FROM (SELECT id, thread, CASE WHEN base >= 0 THEN base * factor ELSE base / factor END AS fused
  FROM (
    SELECT p.id, m.thread,
           :w_keyword * coalesce(b.bm25 / (SELECT min(bm25) FROM keyword), 0.0)
         + :w_vector * CASE WHEN :w_vector > 0 AND m.embedded_with = :model THEN 1.0 - coalesce(
               (SELECT vec_distance_cosine(a.value00, :qvec) FROM memories_vec_auxiliary AS a WHERE a.rowid = p.id),
               1.0) ELSE 0.0 END AS base,
-- include: boost_factor
-- include: date_factor
           AS factor
    FROM pool_ids AS p
    CROSS JOIN memories AS m ON m.id = p.id
    LEFT JOIN pool_bm25 AS b ON b.id = p.id
    WHERE (:filtering = 0 OR p.id IN filtered)
      AND (m.expires_at IS NULL OR m.expires_at > :now)
      AND (:include_superseded OR m.superseded_by IS NULL)))
),
-- include: smoothed_final
-- The vector side's best cosine similarity, for relevance's gate (recall_parts.sql, part hits);
-- NULL without a vector candidate.
best_similarity AS (SELECT 1.0 - min(distance) AS cosine FROM vector)
-- include: hits
;
