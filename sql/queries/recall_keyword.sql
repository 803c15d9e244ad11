-- Keyword recall (the minimal tier, and recall(mode="keyword") in every tier).
-- :match is a safe FTS5 expression built by memento/fts_query.py (every term quoted, OR-joined);
-- user text never reaches MATCH unquoted.
-- :tags (JSON array, or NULL) keeps memories carrying all of those tags;
-- :since (inclusive) / :until (exclusive) are ISO-8601 UTC bounds on created_at, or NULL;
-- :thread keeps one thread's memories, or NULL.
-- :filtering is 1 when any of those four is set (the per-row test is one comparison, not four).
-- :now, :include_superseded: expired and superseded memories are left out (hidden);
-- :overfetch (> :candidates): how many matches the first step reads, see top below;
-- :half_life_days, :as_of, :pin_boost: recency decay and the pin boost (final below).
-- Weights (:text_weight, :tag_weight, :context_weight, :w_keyword, :gamma, :candidates, :overfetch) come
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
-- Memories recall never returns, whatever the filters: expired ones (expires_at <= :now), and
-- superseded ones unless :include_superseded, each set read from its partial index (005). Only
-- the exact path below reads this list (building it costs ~1 ms per 10k hidden memories).
hidden AS MATERIALIZED (
  SELECT id FROM memories WHERE expires_at <= :now
  UNION ALL  -- not UNION: its merge scans memories in id order instead of using the indexes
  SELECT id FROM memories WHERE :include_superseded = 0 AND superseded_by IS NOT NULL
),
-- The best :candidates visible matches by bm25 (text, tags, and the thread neighbour's text in
-- the context column, each with its weight), found in two steps so that hidden memories cost
-- nothing when few are hidden, and never hide a match before the LIMIT when many are:
-- 1. top: the best :overfetch matches (more than :candidates), hidden ones then dropped by a
--    point read of each row.
top AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25  -- lower is better
  FROM memories_fts
  WHERE memories_fts MATCH :match
    AND (:filtering = 0 OR rowid IN filtered)
  ORDER BY bm25, rowid DESC
  LIMIT :overfetch
),
top_visible AS MATERIALIZED (
  SELECT id, bm25 FROM top
  WHERE :any_hidden = 0  -- nothing hidden in the store: no row is read
     OR EXISTS (SELECT 1 FROM memories AS m
                WHERE m.id = top.id AND (m.expires_at IS NULL OR m.expires_at > :now)
                  AND (:include_superseded OR m.superseded_by IS NULL))
),
-- 2. exact: when top lost so many rows that fewer than :candidates are left while more matches
--    exist, the matches are searched again with every hidden memory left out inside the scan.
--    Otherwise its LIMIT is 0 and SQLite does not start the scan at all.
exact AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE memories_fts MATCH :match
    AND (:filtering = 0 OR rowid IN filtered)
    AND rowid NOT IN hidden
  ORDER BY bm25, rowid DESC
  LIMIT CASE WHEN (SELECT count(*) FROM top_visible) >= :candidates
               OR (SELECT count(*) FROM top) < :overfetch THEN 0 ELSE :candidates END
),
-- top_visible holds the best visible matches whenever exact was skipped (every visible match
-- outside top ranks below all of top), and is a subset of exact otherwise.
keyword AS MATERIALIZED (
  SELECT id, bm25 FROM top_visible WHERE NOT EXISTS (SELECT 1 FROM exact)
  UNION ALL
  SELECT id, bm25 FROM exact
  ORDER BY bm25, id DESC
  LIMIT :candidates
),
-- Each candidate with its fused score, bm25 relative to the best match (1 = best), and its
-- previous and next memory in its thread (NULL without a thread, or when smoothing is off).
candidate_links AS MATERIALIZED (
  SELECT m.id, :w_keyword * keyword.bm25 / (SELECT min(bm25) FROM keyword) AS fused,
         CASE WHEN :gamma > 0 THEN
           (SELECT p.id FROM memories AS p
            WHERE p.thread = m.thread AND (p.created_at, p.id) < (m.created_at, m.id)
            ORDER BY p.created_at DESC, p.id DESC LIMIT 1) END AS prev_id,
         CASE WHEN :gamma > 0 THEN
           (SELECT n.id FROM memories AS n
            WHERE n.thread = m.thread AND (n.created_at, n.id) > (m.created_at, m.id)
            ORDER BY n.created_at, n.id LIMIT 1) END AS next_id
  FROM keyword CROSS JOIN memories AS m ON m.id = keyword.id
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
  LIMIT :k
)
-- memories rows are read for the k winners only.
SELECT m.id, m.text, m.tags, m.metadata, m.created_at, final.score, m.thread
FROM final CROSS JOIN memories AS m ON m.id = final.id
ORDER BY final.score DESC, m.id DESC;
