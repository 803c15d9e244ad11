-- Keyword recall (the minimal tier, and recall(mode="keyword") in every tier).
-- :match is a safe FTS5 expression built by memento/fts_query.py (every term quoted, OR-joined);
-- user text never reaches MATCH unquoted.
-- :tags (JSON array, or NULL) keeps memories carrying all of those tags;
-- :since (inclusive) / :until (exclusive) are ISO-8601 UTC bounds on created_at, or NULL;
-- :thread keeps one thread's memories, or NULL;
-- :source_from, :source_to keep the threads under a source (recall(source=...)), or NULL.
-- :filtering is 1 when any of those is set (the per-row test is one comparison, not five).
-- :now, :include_superseded: expired and superseded memories are left out (hidden);
-- :overfetch (> :candidates): how many matches the first step reads (keyword_candidates in recall_parts.sql);
-- :top, :low_id, :high_id: the best matches when memento/keyword_scan.py found them already (a JSON
--   array of [id, bm25]), else NULL; the ids searched (every id) (best_matches in recall_parts.sql);
-- :half_life_days, :as_of, :pin_boost: recency decay and the pin boost (final below).
-- :query_dates, :date_search, :w_date: the months and years the question names, as JSON [from, to)
--   bounds on created_at (memento/recall.py query_dates; NULL: none), whether to search them, and
--   their factor, keyword_w_date here (dated_matches and date_factor in recall_parts.sql; pool below).
-- Weights (:text_weight, :tag_weight, :context_weight, :w_keyword, :gamma, :candidates, :overfetch) come
-- from memento/ranking.py, which also states the formula and the dev-set numbers behind it.

-- name: recall_keyword
WITH
-- include: recall_filters
-- include: keyword_candidates
-- include: dated_matches
pool AS MATERIALIZED (
  SELECT id, bm25 FROM keyword
  UNION ALL
  SELECT id, bm25 FROM dated
  WHERE id NOT IN (SELECT id FROM keyword)
    AND EXISTS (SELECT 1 FROM memories AS d
                WHERE d.id = dated.id AND (d.expires_at IS NULL OR d.expires_at > :now)
                  AND (:include_superseded OR d.superseded_by IS NULL))
),
-- The speaker boost applies whatever the best match (boost_factor in recall_parts.sql).
speaker_gate AS (SELECT 1 AS open),
-- Each candidate with its fused score, bm25 relative to the best match (1 = best), and its
-- previous and next memory in its thread (NULL without a thread, or when smoothing is off).
candidate_links AS MATERIALIZED (
  SELECT m.id, :w_keyword * keyword.bm25 / (SELECT min(bm25) FROM pool) *
-- include: boost_factor
-- include: date_factor
         AS fused,
-- include: thread_links
  FROM pool AS keyword CROSS JOIN memories AS m ON m.id = keyword.id
),
-- Smoothing: every candidate gives its fused score to itself and lends it to its previous and
-- next memory; each memory then gets score = own fused + :gamma * max(0, best fused lent to it).
-- A neighbour outside the candidates counts its own keyword part as 0 (it is a weaker match than
-- every candidate, or none; scoring it exactly took a second pass over the matches, 1.3 ms at
-- 100k memories, for dev R@10 0.7229 instead of 0.7223) and so lends nothing itself; it is
-- ranked only if it passes the filters and is not hidden (candidates passed both already).
-- Adjacency is symmetric (a candidate's previous memory has it as its next), so one GROUP BY
-- over three rows per candidate (itself, its previous, its next) scores candidates and their
-- neighbours alike. (Three rows from one read of candidate_links: three UNION ALL arms reading
-- it cost ~0.4 ms more.)
smoothed AS (
  SELECT s.id, coalesce(s.fused, 0.0) + :gamma * max(0.0, coalesce(s.lent, 0.0)) AS smoothed,
         m.pinned, m.created_at
  FROM (SELECT id, max(own) AS fused, max(lent) AS lent
        FROM (SELECT CASE side.n WHEN 0 THEN c.id WHEN 1 THEN c.prev_id ELSE c.next_id END AS id,
                     CASE side.n WHEN 0 THEN c.fused END AS own,
                     CASE side.n WHEN 0 THEN NULL ELSE c.fused END AS lent
              FROM candidate_links AS c CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2) AS side)
        WHERE id IS NOT NULL
        GROUP BY id) AS s
  CROSS JOIN memories AS m ON m.id = s.id
  WHERE s.fused IS NOT NULL
     OR ((:filtering = 0 OR s.id IN filtered)
         AND (m.expires_at IS NULL OR m.expires_at > :now)
         AND (:include_superseded OR m.superseded_by IS NULL))
),
-- Recency and pins (memento/ranking.py): score = smoothed * factor (smoothed / factor when
-- negative). factor = 1 + :pin_boost for a pinned memory, else 0.5 ** (age in days at :as_of /
-- :half_life_days) when a half-life is set, else 1 (every score is then exactly the smoothed one).
final AS MATERIALIZED (
  SELECT id, CASE WHEN smoothed >= 0 THEN smoothed * factor ELSE smoothed / factor END AS score
  FROM (
    SELECT id, smoothed,
           CASE WHEN pinned = 1 THEN 1.0 + :pin_boost
                WHEN :half_life_days IS NULL THEN 1.0
                ELSE max(1e-300, pow(0.5, max(0.0, julianday(:as_of) - julianday(created_at)) / :half_life_days))
           END AS factor
    FROM smoothed)
  ORDER BY score DESC, id DESC
  LIMIT +:k
),
-- No vector side: relevance's gate reads no similarity (recall_parts.sql, part hits).
best_similarity AS (SELECT NULL AS cosine)
-- include: hits
;

-- name: created_years
-- The years of the store's first and last memory (two seeks on memories_created_at), or NULLs:
-- what "in June" spans (memento/recall.py, query_dates). Only times that start with a digit count
-- ('0' <= created_at < ':', ':' being the character after '9'): a time typed in the sqlite3 shell
-- as any other text sorts after every digit and would otherwise be the "last" one.
SELECT (SELECT substr(min(created_at), 1, 4) FROM memories WHERE created_at >= '0' AND created_at < ':'),
       (SELECT substr(max(created_at), 1, 4) FROM memories WHERE created_at >= '0' AND created_at < ':');
