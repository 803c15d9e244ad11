-- Pocket recall (the pocket tier's mode="hybrid"): the keyword candidates of recall_keyword.sql, then
-- every candidate and its thread neighbours re-scored with the cosine of their static vectors, fused
-- and smoothed, in one statement. No vector search over the whole store: the static vectors
-- (memories_pocket, int8; memento/pocket/) re-rank what the keywords and the threads found.
-- memento_cosines, an aggregate (the query's cosine with many int8 vectors at once), is a function in
-- pure Python (memento/pocket/table.py), registered on the connection when the store opens in the
-- pocket tier: the tier loads no extension. Each vector's length is stored beside it
-- (memories_pocket.norm).
--
-- Parameters: those of recall_keyword.sql (filters, hidden memories, the split scan, recency, pins,
-- boosts, the dates a question names: :query_dates, :date_search, with :w_date the hybrid one's), and
--   :qvec       the query's static vector (int8 BLOB)
--   :w_keyword, :w_vector, :gamma   fusion and smoothing (memento/ranking.py):
--     fused = (w_keyword * bm25 / best bm25 * keyword factor + w_vector * cosine of the static vectors)
--             * boost factor * date factor
--             (the keyword part is 0 for a neighbour outside the candidates, as in recall_keyword.sql;
--             the cosine part is 0 without a static vector: a memory the backfill has not reached)
--     keyword factor: the keyword statement's boosts (:keyword_w_speaker, :keyword_w_time) on the
--             keyword part; boost factor: recall_parts.sql's (:w_speaker, gated by speaker_gate as in
--             recall_hybrid.sql, and :w_time) on the whole; date factor: recall_parts.sql's (:w_date)
--     score = fused + gamma * max(0, fused of the previous memory, fused of the next memory)

-- name: recall_pocket
WITH
-- include: recall_filters
-- include: keyword_candidates
-- A question naming a month or year: the best keyword matches stored then (recall_parts.sql; hidden
-- ones are left out in scored, as in recall_hybrid.sql).
-- include: dated_matches
-- Each candidate once, with the best keyword match's bm25 (best). keyword is read once: each read of a
-- CTE expands everything below it again, and SQLite caps those expansions.
candidates AS MATERIALIZED (
  SELECT id, bm25, min(CASE WHEN from_keyword THEN bm25 END) OVER () AS best
  FROM (SELECT id, min(bm25) AS bm25, max(from_keyword) AS from_keyword
        FROM (SELECT id, bm25, 1 AS from_keyword FROM keyword UNION ALL SELECT id, bm25, 0 FROM dated)
        GROUP BY id)
),
-- Each candidate's keyword part, computed here once (its speaker is folded once, not once for
-- each use of the fused score below): bm25 relative to the best match (0..1) times the keyword
-- statement's boosts (:keyword_w_speaker, :keyword_w_time); and its previous and next memory in its
-- thread (NULL without a thread, or when smoothing is off).
candidate_links AS MATERIALIZED (
  SELECT m.id,
         :w_keyword * (c.bm25 / c.best)
         * (1.0 + CASE WHEN :keyword_w_speaker > 0 AND m.speaker IS NOT NULL AND
-- include: speaker_named
                       THEN :keyword_w_speaker ELSE 0.0 END
                + CASE WHEN :keyword_w_time > 0 AND :asks_when = 1 AND m.time_cue = 1
                       THEN :keyword_w_time ELSE 0.0 END) AS keyword_part,
-- include: thread_links
  FROM candidates AS c CROSS JOIN memories AS m ON m.id = c.id
),
-- include: pool_ids
-- include: speaker_gate
-- Each pool member's cosine with the query (NULL without a static vector of the query's length),
-- computed once (inside scored, SQLite would evaluate it once for each use of the fused score).
-- memento_cosines, an aggregate, takes every pool member's id, vector and length and returns a JSON
-- object from id to cosine: one computation per recall, not one Python call per member, and its
-- object's keys join the cosines back to the members (reading pool_ids once more would cross
-- SQLite's limit on nested expansions).
pool AS MATERIALIZED (
  SELECT CAST(c.key AS INTEGER) AS id, c.value AS cosine
  FROM json_each((SELECT memento_cosines(CASE WHEN :w_vector > 0 THEN :qvec END, p.id, m.vec, m.norm)
                  FROM pool_ids AS p LEFT JOIN memories_pocket AS m ON m.id = p.id)) AS c
),
-- Fused score of every pool member that passes the filters and is not hidden (candidates passed
-- both already; neighbours are checked here): the keyword part relative to the best match (0..1)
-- times the keyword statement's boosts, plus the cosine of its static vector with the query's, the
-- sum times the boost factor (recall_parts.sql). The keyword statement's boosts lift the keyword
-- part only: as a factor of the whole score they lift every turn of a named speaker by its cosine
-- (~0.5 x w_vector), and questions naming the wrong person (LoCoMo's adversarial category) lost
-- 0.10 R@10 at w_speaker 1; the boost factor on the whole is a small share, sign-aware as in
-- recall_hybrid.sql (bench/results/locomo_boosts_pocket.json).
scored AS MATERIALIZED (
  SELECT id, CASE WHEN base >= 0 THEN base * factor ELSE base / factor END AS fused, 0.0 AS lift
  FROM (SELECT id, keyword_part + cosine_part AS base, factor FROM (
    SELECT p.id,
           coalesce(c.keyword_part, 0.0) AS keyword_part,
           :w_vector * coalesce(p.cosine, 0.0) AS cosine_part,
-- include: boost_factor
-- include: date_factor
           AS factor
    FROM pool AS p
    CROSS JOIN memories AS m ON m.id = p.id
    LEFT JOIN candidate_links AS c ON c.id = p.id
    WHERE (:filtering = 0 OR p.id IN filtered)
      AND (m.expires_at IS NULL OR m.expires_at > :now)
      AND (:include_superseded OR m.superseded_by IS NULL)))
),
-- A neighbour has a score of its own here (its cosine), so it lends too.
-- include: smoothed_final
-- The best static cosine among the keyword candidates and their neighbours, for relevance's gate
-- (recall_parts.sql, part hits); NULL when none has a static vector (or the query none).
best_similarity AS (SELECT max(cosine) AS cosine FROM pool)
-- include: hits
;
