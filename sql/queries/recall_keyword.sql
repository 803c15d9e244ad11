-- Keyword recall (the minimal tier, and recall(mode="keyword") in every tier).
-- :match is a safe FTS5 expression built by memento/fts_query.py (every term quoted, OR-joined);
-- user text never reaches MATCH unquoted.
-- :tags (JSON array, or NULL) keeps memories carrying all of those tags;
-- :since (inclusive) / :until (exclusive) are ISO-8601 UTC bounds on created_at, or NULL;
-- :thread keeps one thread's memories, or NULL.
-- :now, :include_superseded, :any_hidden: expired and superseded memories are left out (hidden);
-- :half_life_days, :as_of, :pin_boost: recency decay and the pin boost (final below).
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
-- Memories recall never returns, whatever the filters: expired ones (expires_at <= :now), and
-- superseded ones unless :include_superseded. Each set is read from its partial index (005).
-- :any_hidden (memento counts them first from the same two indexes) says whether there
-- are any: when not, no candidate is tested against this list at all (testing cost ~0.3 ms at
-- 10k memories even for an empty list).
hidden AS MATERIALIZED (
  SELECT id FROM memories WHERE expires_at <= :now
  UNION ALL  -- not UNION: its merge scans memories in id order instead of using the indexes
  SELECT id FROM memories WHERE :include_superseded = 0 AND superseded_by IS NOT NULL
),
-- The best :candidates by bm25, from the FTS index alone (text, tags, and the thread
-- neighbour's text in the context column, each with its weight); hidden ones are left out
-- before the LIMIT.
keyword AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25  -- lower is better
  FROM memories_fts
  WHERE memories_fts MATCH :match
    AND (coalesce(:since, :until, :tags, :thread) IS NULL OR rowid IN filtered)
    AND (:any_hidden = 0 OR rowid NOT IN hidden)
  ORDER BY bm25, rowid DESC
  LIMIT :candidates
),
-- Each candidate with its place in its thread and its previous and next memory there (NULL
-- without a thread, or when smoothing is off).
candidate_links AS MATERIALIZED (
  SELECT m.id, keyword.bm25, m.thread, m.created_at,
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
-- Neighbours that are not candidates themselves (and pass the filters).
neighbours AS MATERIALIZED (
  SELECT m.id, m.thread, m.created_at
  FROM (SELECT prev_id AS id FROM candidate_links UNION SELECT next_id FROM candidate_links) AS x
  CROSS JOIN memories AS m ON m.id = x.id
  WHERE x.id NOT IN (SELECT id FROM keyword)
    AND (coalesce(:since, :until, :tags, :thread) IS NULL OR x.id IN filtered)
    AND (m.expires_at IS NULL OR m.expires_at > :now)
    AND (:include_superseded OR m.superseded_by IS NULL)
),
-- What is ranked, with each one's fused score: bm25 relative to the best match (1 = best).
-- A neighbour outside the candidates counts its own keyword part as 0 (it is a weaker match than
-- every candidate, or none): scoring it exactly took a second pass over the matches, 1.3 ms at
-- 100k memories, for dev R@10 0.7229 instead of 0.7223. Neighbours carry no links of their own.
pool AS MATERIALIZED (
  SELECT id, :w_keyword * bm25 / (SELECT min(bm25) FROM keyword) AS fused, thread, created_at, prev_id, next_id
  FROM candidate_links
  UNION ALL
  SELECT id, 0.0, thread, created_at, NULL, NULL
  FROM neighbours
),
-- Each pool member next to the pool members before and after it in its thread (a window over the
-- thread order). They are its true neighbours when a candidate's link says so: a candidate's
-- links are exact; two neighbours that are not candidates lend each other nothing.
adjacent AS (
  SELECT id, fused,
         CASE WHEN prev_id = lag(id) OVER w OR lag(next_id) OVER w = id THEN lag(fused) OVER w END AS prev_fused,
         CASE WHEN next_id = lead(id) OVER w OR lead(prev_id) OVER w = id THEN lead(fused) OVER w END AS next_fused
  FROM pool
  WINDOW w AS (PARTITION BY thread ORDER BY created_at, id)
),
-- Smoothing: score = fused + :gamma * max(0, fused of the previous, fused of the next).
smoothed AS (
  SELECT id, fused + :gamma * max(0.0, coalesce(prev_fused, 0.0), coalesce(next_fused, 0.0)) AS smoothed
  FROM adjacent
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
