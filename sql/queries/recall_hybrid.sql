-- Hybrid recall: keyword (FTS5 bm25) and vector (cosine) candidates, each scored on BOTH sides
-- (pool_bm25 below), fused, then smoothed over thread neighbours, in one statement.
-- Used by vector tiers for mode="hybrid" and mode="vector" (:w_keyword = 0).
--
-- Parameters
--   :match        safe FTS5 expression from memento/fts_query.py (or NULL: no searchable word)
--   :pool_terms   NULL, or in a big store what memento_bm25 needs to score the pool's other members
--                 (pool_bm25 below; memento/bm25.py)
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
-- The keyword side's bm25 of every pool member, exactly as the whole keyword search scores it (NULL:
-- it holds none of the words). Known already for the best matches a split or rare-word search found
-- (:top). The other members (vector candidates, neighbours, dated matches), in a small store: a walk
-- of the question's matches that scores only them, here ("+rowid": FTS5 walks the matches once; a
-- plain "rowid IN" would run one FTS5 query per member, measured at 10k memories: 6.3 ms vs 0.26 ms).
-- A walk costs what the store's size costs (FTS5 counts each word's holders again for its idf: at
-- 100k memories 5-8 ms, at 1M 33+ ms), so where the question's words are held by more than
-- RankingSettings.pool_walk_holders memories, :pool_terms is set, this walk is skipped, and
-- pool_parts scores each member with memento_bm25 from its own indexed columns
-- (memories_fts_source; memento/bm25.py): the same double as bm25(), ~15 us a member at any size.
pool_bm25 AS MATERIALIZED (
-- (:top's members, in the pool or not: joined below)
  SELECT t.value ->> 0 AS id, t.value ->> 1 AS bm25 FROM json_each(:top) AS t
  UNION ALL
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE :w_keyword > 0 AND :match IS NOT NULL AND :pool_terms IS NULL
    AND memories_fts MATCH :match AND +rowid IN pool_ids
    AND +rowid NOT IN (SELECT t.value ->> 0 FROM json_each(:top) AS t)
),
-- Each pool member that passes the filters and is not hidden, its parts computed once (scored
-- uses them three times; memento_bm25 and the cosine are not computed again for each use):
-- keyword part = bm25 relative to the best match (1 = best, 0 = no match); vector part = cosine
-- similarity (fixed bounds -1..1, never divided by the best one, so the score is monotonic in
-- similarity whatever the query; 0 without a trusted vector, i.e. one made by :model for the
-- memory's current text), its float vector read from memories_vec_auxiliary as in vector above
-- (reading it again costs less than looking it up in vector's list); factor: recall_parts.sql's.
pool_parts AS MATERIALIZED (
  SELECT p.id, m.thread,
         :w_keyword * coalesce(coalesce(b.bm25, memento_bm25(:pool_terms, CAST(s.text AS BLOB),
           CAST(s.tags AS BLOB), CAST(s.context AS BLOB), :text_weight, :tag_weight, :context_weight))
           / (SELECT min(bm25) FROM keyword), 0.0)
       + :w_vector * CASE WHEN :w_vector > 0 AND m.embedded_with = :model THEN 1.0 - coalesce(
             (SELECT vec_distance_cosine(a.value00, :qvec) FROM memories_vec_auxiliary AS a WHERE a.rowid = p.id),
             1.0) ELSE 0.0 END AS base,
-- include: boost_factor
-- include: date_factor
         AS factor
  FROM pool_ids AS p
  CROSS JOIN memories AS m ON m.id = p.id
  LEFT JOIN pool_bm25 AS b ON b.id = p.id
  LEFT JOIN memories_fts_source AS s ON s.id = p.id AND :pool_terms IS NOT NULL
  WHERE (:filtering = 0 OR p.id IN filtered)
    AND (m.expires_at IS NULL OR m.expires_at > :now)
    AND (:include_superseded OR m.superseded_by IS NULL)
),
-- Fused score: the boost factor (recall_parts.sql) lifts a positive score and shrinks a negative one
-- toward 0. lift, the thread channel: :w_thread x the thread's score, the best positive fused score
-- among its members that are ranked here (0 without a thread); smoothed_final adds it to the
-- memory's score. A window over the pool, no stored thread row: a thread of any length costs what
-- its ranked members do.
scored AS MATERIALIZED (
  SELECT id, fused, CASE WHEN thread IS NULL OR :w_thread <= 0 THEN 0.0
                         ELSE :w_thread * max(max(fused, 0.0)) OVER (PARTITION BY thread) END AS lift
  FROM (SELECT id, thread, CASE WHEN base >= 0 THEN base * factor ELSE base / factor END AS fused FROM pool_parts)
),
-- include: smoothed_final
-- The vector side's best cosine similarity, for relevance's gate (recall_parts.sql, part hits);
-- NULL without a vector candidate.
best_similarity AS (SELECT 1.0 - min(distance) AS cosine FROM vector)
-- include: hits
;
