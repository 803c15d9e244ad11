-- Parts shared by recall_keyword.sql and recall_hybrid.sql (`-- include: <part>` in a statement
-- inserts the part's text there: memento/sqlfiles.py). Parameters as described in those files.
--
-- "LIMIT +:n" and "= +:model": the unary + (a no-op on the value) keeps SQLite from peeking at
-- the bound value while it plans. A bare parameter as a LIMIT, or compared with embedded_with,
-- makes SQLite 3.54 mark the statement for recompiling whenever that parameter is bound, i.e.
-- on every recall: re-preparing a recall statement cost ~0.7 ms (keyword) to ~2 ms (hybrid) at
-- 10k memories, more than the search itself. tests/test_statement_reuse.py keeps it so.

-- part: recall_filters
-- Memories that pass the filters. Only evaluated when a filter is set; applied before LIMIT,
-- so a selective filter never hides a match that ranks below the first k unfiltered ones.
-- The thread filters pick the memories to test: :thread one thread, :source_from/:source_to the
-- threads under a source (names from source + "/" up to source + "0", exactly those that start with
-- source + "/": memento/ranking.py). Three arms, of which the constant tests (SQLite evaluates them
-- before any row) leave one: every memory, or a seek (thread) or a range (source) along
-- memories_thread, which reads only the memories that pass. As one WHERE with "(:thread IS NULL OR
-- thread = :thread)" SQLite scans every memory: keyword recall with one session's filter at 200k
-- memories takes ~200 ms instead of ~10 ms (bench/filter_recall.py).
filtered AS (
  SELECT id FROM (
    SELECT id, created_at FROM memories
    WHERE :thread IS NULL AND :source_from IS NULL
    UNION ALL
    SELECT id, created_at FROM memories
    WHERE thread = :thread AND (:source_from IS NULL OR (thread >= :source_from AND thread < :source_to))
    UNION ALL
    SELECT id, created_at FROM memories
    WHERE :thread IS NULL AND thread >= :source_from AND thread < :source_to
  )
  WHERE (:since IS NULL OR created_at >= :since)
    AND (:until IS NULL OR created_at <  :until)
    AND (:tags IS NULL OR id IN (
          SELECT memory_id FROM memory_tags
          WHERE tag IN (SELECT value FROM json_each(:tags))
          GROUP BY memory_id HAVING count(*) = json_array_length(:tags)))
),
-- Memories recall never returns, whatever the filters: expired ones (expires_at <= :now), and
-- superseded ones unless :include_superseded, each set read from its partial index (005). Only
-- the keyword side's exact path reads this list (building it costs ~1 ms per 10k hidden
-- memories); elsewhere each candidate's own row is checked.
hidden AS MATERIALIZED (
  SELECT id FROM memories WHERE expires_at <= :now
-- (UNION ALL, not UNION: UNION's merge scans memories in id order instead of using the indexes)
  UNION ALL
  SELECT id FROM memories WHERE :include_superseded = 0 AND superseded_by IS NOT NULL
),

-- part: keyword_candidates
-- The best :candidates visible matches by bm25 (text, tags, and the thread neighbour's text in
-- the context column, each with its weight), found in two steps so that hidden memories cost
-- nothing when few are hidden, and never hide a match before the LIMIT when many are:
-- 1. top: the best :overfetch matches (more than :candidates), hidden ones then dropped by a
--    point read of each row. In a big store memento's split scan has found them already, on
--    two connections at once (:top, a JSON array of [id, bm25]; memento/keyword_scan.py), and
--    this statement does not search (best_matches tests :top first).
top AS MATERIALIZED (
  SELECT value ->> 0 AS id, value ->> 1 AS bm25 FROM json_each(:top)
  UNION ALL
  SELECT id, bm25 FROM (
-- include: best_matches
  )
),
-- With nothing hidden and top found by this statement, no row is read. A split scan's upper half
-- read another snapshot than this statement's: its ids are checked here too (a memory forgotten
-- since drops out, and exact below refills the list), so k hits come back whenever k match.
top_visible AS MATERIALIZED (
  SELECT id, bm25 FROM top
  WHERE (:any_hidden = 0 AND :top IS NULL)
     OR EXISTS (SELECT 1 FROM memories AS m
                WHERE m.id = top.id AND (m.expires_at IS NULL OR m.expires_at > :now)
                  AND (:include_superseded OR m.superseded_by IS NULL))
),
-- 2. exact: when top lost so many rows that fewer than :candidates are left while more matches
--    exist (or may exist: a split scan's list is from another snapshot), the matches are searched
--    again with every hidden memory left out inside the scan. Otherwise its LIMIT is 0 and SQLite
--    does not start the scan at all.
exact AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE :w_keyword > 0 AND :match IS NOT NULL AND memories_fts MATCH :match
    AND (:filtering = 0 OR rowid IN filtered)
    AND rowid NOT IN hidden
  ORDER BY bm25, rowid DESC
  LIMIT CASE WHEN (SELECT count(*) FROM top_visible) >= :candidates
               OR ((SELECT count(*) FROM top) < :overfetch AND :top IS NULL) THEN 0 ELSE :candidates END
),
-- top_visible holds the best visible matches whenever exact was skipped (every visible match
-- outside top ranks below all of top), and is a subset of exact otherwise.
keyword AS MATERIALIZED (
  SELECT id, bm25 FROM top_visible WHERE NOT EXISTS (SELECT 1 FROM exact)
  UNION ALL
  SELECT id, bm25 FROM exact
  ORDER BY bm25, id DESC
  LIMIT +:candidates
),

-- part: boost_factor
-- What a question says beyond its words (weights in memento/ranking.py), as a factor of memory m's
-- fused score: 1 + :w_speaker when it names m's speaker (:query_names: the question's words and word
-- runs, folded as memento_fold folds a name: case-insensitive, whole names; part speaker_named), +
-- :w_time when it asks when (:asks_when) and m's text names a time (time_cue, memento/time_cues.py).
-- A factor, not an addition: a memory lifted must match the question by itself too, so a question
-- that names the wrong person does not bury the right memory under that person's weak matches. A
-- weight of 0 gives exactly 1 and reads nothing. The speaker term also needs the statement's
-- speaker_gate CTE to be open (always in the keyword statement; part speaker_gate below).
         (1.0 + CASE WHEN :w_speaker > 0 AND m.speaker IS NOT NULL AND (SELECT open FROM speaker_gate)
                          AND
-- include: speaker_named
                     THEN :w_speaker ELSE 0.0 END
              + CASE WHEN :w_time > 0 AND :asks_when = 1 AND m.time_cue = 1 THEN :w_time ELSE 0.0 END)

-- part: speaker_named
-- Whether memory m's speaker is one the question names: one of :speakers, the stored speakers whose
-- folded name is among the question's words and runs (:query_names; memento/word_counts.py,
-- speakers_named, reads them once per recall), or, when the store has too many speakers to list
-- (:speakers NULL), m's speaker folded here (memento_fold: a Python call per memory scored). NULL
-- (no) for a memory without a speaker.
                          CASE WHEN :speakers IS NULL
                               THEN memento_fold(m.speaker) IN (SELECT value FROM json_each(:query_names))
                               ELSE m.speaker IN (SELECT value FROM json_each(:speakers)) END

-- part: date_factor
-- x (1 + :w_date) when m was stored in a month or year the question names (:query_dates, JSON
-- [from, to) bounds on created_at: memento/recall.py query_dates; NULL: none). :w_date is the
-- statement's own weight (keyword_w_date or w_date: memento/ranking.py).
         * (1.0 + CASE WHEN :query_dates IS NOT NULL
                            AND EXISTS (SELECT 1 FROM json_each(:query_dates) AS r
                                        WHERE m.created_at >= r.value ->> 0 AND m.created_at < r.value ->> 1)
                       THEN :w_date ELSE 0.0 END)

-- part: dated_matches
-- A question that names a month or year also takes the best :candidates matches stored then: the
-- turn that answers "what did she do in May 2023?" need not be among the best matches of the store.
-- Each range is a seek on memories_created_at; "+rowid" keeps FTS5 from looking every such id up in
-- the index one by one (it then filters the matches), so it walks every match: :date_search says
-- whether that walk is small (RankingSettings.date_search_holders). Hidden memories are left out
-- by the statement after the LIMIT.
dated AS MATERIALIZED (
  SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
  FROM memories_fts
  WHERE :date_search = 1 AND :query_dates IS NOT NULL AND :w_keyword > 0 AND :match IS NOT NULL
    AND memories_fts MATCH :match
    AND +rowid IN (SELECT d.id FROM json_each(:query_dates) AS r CROSS JOIN memories AS d
                   WHERE d.created_at >= r.value ->> 0 AND d.created_at < r.value ->> 1)
    AND (:filtering = 0 OR rowid IN filtered)
  ORDER BY bm25, rowid DESC
  LIMIT +:candidates
),

-- part: speaker_gate
-- The speaker boost's gate (boost_factor above; the hybrid and pocket statements): open when the best
-- keyword match was said by a person the question names (or has no speaker, or nothing matches). A
-- question naming the wrong person (LoCoMo's adversarial category) usually matches best what the
-- other person said; lifting every turn of the named one then buries that match under turns that
-- share only its cosine (docs/ranking-weights.md). Closed in mode="vector" (:w_keyword = 0), which
-- has no keyword match to check that against. (The keyword statement has no cosine: its gate is
-- always open.)
speaker_gate AS MATERIALIZED (
  SELECT coalesce((SELECT
-- include: speaker_named
                   FROM keyword CROSS JOIN memories AS m ON m.id = keyword.id
                   ORDER BY keyword.bm25, keyword.id DESC LIMIT 1), :w_keyword > 0) AS open
),

-- part: thread_links
-- Columns prev_id and next_id of memory m (in a candidates' CTE): its previous and next memory in
-- its thread by (created_at, id), NULL without a thread, or when smoothing is off (:gamma = 0).
-- Each is two seeks along index memories_thread, the first that finds a row wins: the nearest
-- with the same created_at (by id), else the nearest with another created_at. The row value
-- (p.created_at, p.id) < (m.created_at, m.id) seeks on created_at alone and then steps through
-- every memory sharing it, a whole batch's worth when created_at ties (migration 006).
         CASE WHEN :gamma > 0 THEN coalesce(
           (SELECT p.id FROM memories AS p
            WHERE p.thread = m.thread AND p.created_at = m.created_at AND p.id < m.id
            ORDER BY p.id DESC LIMIT 1),
           (SELECT p.id FROM memories AS p
            WHERE p.thread = m.thread AND p.created_at < m.created_at
            ORDER BY p.created_at DESC, p.id DESC LIMIT 1)) END AS prev_id,
         CASE WHEN :gamma > 0 THEN coalesce(
           (SELECT n.id FROM memories AS n
            WHERE n.thread = m.thread AND n.created_at = m.created_at AND n.id > m.id
            ORDER BY n.id LIMIT 1),
           (SELECT n.id FROM memories AS n
            WHERE n.thread = m.thread AND n.created_at > m.created_at
            ORDER BY n.created_at, n.id LIMIT 1)) END AS next_id

-- part: best_matches
-- The best :overfetch matches by bm25 (lower is better) with ids from :low_id to :high_id, unless :top
-- holds them already. SQLite tests the terms that name no column before it starts the FTS5 scan.
SELECT rowid AS id, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS bm25
FROM memories_fts
WHERE :top IS NULL AND :w_keyword > 0 AND :match IS NOT NULL AND memories_fts MATCH :match
  AND rowid BETWEEN :low_id AND :high_id
  AND (:filtering = 0 OR rowid IN filtered)
ORDER BY bm25, rowid DESC
LIMIT +:overfetch

-- name: best_matches_between
-- One half of the split scan (memento/keyword_scan.py): recall's parameters, :top NULL, and the
-- half's ids from :low_id to :high_id.
WITH
-- include: recall_filters
matches AS (
-- include: best_matches
)
SELECT id, bm25 FROM matches;

-- part: hits
-- The k winners, best first, each with its relevance; memories rows are read for the winners only
-- (values.Hit.from_row's order; the last four columns are relevance's inputs, read by its bench).
-- relevance = the estimated probability that the memory is what the query needs (0..1), a product:
--   gate  = sigmoid(:r_bias + :r_coverage * ln(coverage + 0.05) + :r_unseen * unseen + :r_cosine * best cosine)
--           whether the store holds anything the query asks about at all, from
--           coverage: the best keyword match's bm25 as a share of the query's words' weight
--                     (:idf_total, the sum of their idf; memento/relevance.py), on a log scale
--                     (it separates better there; + 0.05 keeps a query that matches nothing finite),
--           unseen:   the share of that weight in words no memory holds (:idf_unseen; a month,
--                     weekday or year no memory holds counts in neither: dates live in created_at;
--                     nor does a stored speaker's name no text holds), and
--           the best cosine similarity of the vector side (best_similarity; NULL = 0 without one);
--   hit   = sigmoid(:r_hit_bias + :r_share * share), share = the hit's score / the best hit's (0..1).
-- Both terms are fixed per query except share, which falls down the list (:r_share >= 0), so
-- relevance falls with it. The weights were fitted on the LoCoMo dev set (memento/ranking.py,
-- bench/locomo_relevance.py).
-- What is returned: with :min_score NULL (the default) every hit, unless even the best one's
-- relevance is below :floor (the tier's "nothing relevant is stored": then none); with a
-- :min_score, the hits whose relevance reaches it (a prefix of the list).
-- (final is read once and subqueries nest two deep: SQLite counts every expansion of the CTEs
-- below final against its limit of 1,000, and the hybrid statement is near it. The best hit's
-- share is 1 when its score is positive, so the best relevance needs no second pass.)
SELECT m.id, m.text, m.tags, m.metadata, m.created_at, h.score, m.thread, m.speaker,
       h.gate / (1.0 + exp(-(:r_hit_bias + :r_share * h.share))) AS relevance,
       h.coverage, h.unseen, h.best_cosine, h.share
FROM (SELECT final.id, final.score, g.coverage, g.unseen, g.best_cosine,
             1.0 / (1.0 + exp(-(:r_bias + :r_coverage * ln(g.coverage + 0.05) + :r_unseen * g.unseen
                                + :r_cosine * g.best_cosine))) AS gate,
             CASE WHEN max(final.score) OVER () > 0 THEN max(0.0, final.score / max(final.score) OVER ())
                  ELSE 0.0 END AS share,
             max(final.score) OVER () > 0 AS positive
      FROM final CROSS JOIN (
        SELECT CASE WHEN :idf_total > 0
                    THEN coalesce(-(SELECT min(bm25) FROM keyword), 0.0) / :idf_total ELSE 0.0 END AS coverage,
               CASE WHEN :idf_total > 0 THEN :idf_unseen / :idf_total ELSE 0.0 END AS unseen,
               coalesce((SELECT cosine FROM best_similarity), 0.0) AS best_cosine) AS g) AS h
CROSS JOIN memories AS m ON m.id = h.id
WHERE CASE WHEN :min_score IS NULL THEN h.gate / (1.0 + exp(-(:r_hit_bias + :r_share * h.positive))) >= :floor
           ELSE relevance >= :min_score END
ORDER BY h.score DESC, m.id DESC

-- part: pool_ids
-- What is ranked (hybrid and pocket statements): the candidates and their neighbours, each once (one read of candidate_links).
pool_ids AS MATERIALIZED (
  SELECT DISTINCT CASE side.n WHEN 0 THEN c.id WHEN 1 THEN c.prev_id ELSE c.next_id END AS id
  FROM candidate_links AS c CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2) AS side
  WHERE id IS NOT NULL
),

-- part: smoothed_final
-- Smoothing over thread neighbours, then recency and pins: the CTEs gifts, smoothed and final of
-- the statements that score every pool member (recall_hybrid.sql, recall_pocket.sql), after their
-- scored and candidate_links.
-- Who gives its fused score to whom: every candidate and every linked neighbour to itself (own),
-- and across each link between a candidate and its previous or next memory, both ways (lent).
-- Only a candidate's links are looked up, so two neighbours that are both outside the candidates
-- lend each other nothing (their scores are low on both sides anyway; looking up every pool
-- member's links cost ~0.8 ms more at 10k memories). All rows come from one read of
-- candidate_links (UNION ALL arms each reading it again cost ~0.2 ms apiece).
gifts AS (
  SELECT CASE side.n WHEN 0 THEN c.id WHEN 1 THEN c.prev_id WHEN 2 THEN c.next_id
                     WHEN 3 THEN c.prev_id WHEN 4 THEN c.next_id ELSE c.id END AS giver,
         CASE side.n WHEN 0 THEN c.id WHEN 1 THEN c.prev_id WHEN 2 THEN c.next_id
                     WHEN 3 THEN c.id WHEN 4 THEN c.id WHEN 5 THEN c.prev_id ELSE c.next_id END AS receiver,
         side.n <= 2 AS own
  FROM candidate_links AS c
  CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
              UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6) AS side
),
-- Smoothing: score = fused + :gamma * max(0, best fused score lent to it) + lift (the hybrid
-- statement's thread channel; 0 in the pocket statement). A memory that is not
-- in scored (hidden, filtered out) neither gives nor is ranked. scored is read once: SQLite
-- 3.54 refuses this statement with scored joined twice ("subqueries nested too deep").
smoothed AS (
  SELECT receiver AS id, own_fused + :gamma * max(0.0, coalesce(lent, 0.0)) + lift AS smoothed
  FROM (SELECT gifts.receiver,
               max(CASE WHEN gifts.own THEN scored.fused END) AS own_fused,
               max(CASE WHEN gifts.own THEN scored.lift END) AS lift,
               max(CASE WHEN NOT gifts.own THEN scored.fused END) AS lent
        FROM gifts JOIN scored ON scored.id = gifts.giver
        GROUP BY gifts.receiver)
  WHERE own_fused IS NOT NULL
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
  LIMIT +:k
),
