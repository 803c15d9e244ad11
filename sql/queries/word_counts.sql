-- How many memories hold each word of a query (memento/word_counts.py), and how many the keyword
-- index holds in all: the inputs of the common-word rule (memento/ranking.py: common_word_share)
-- and of anything else that weighs a query's words by their rarity.

-- name: word_document_count
-- :match: one safe FTS5 string (memento/fts_query.py quotes every word); :cap: count no further than
-- this (a word's count costs one step per memory holding it, up to :cap: ~55 ns a step, so ~1 ms for
-- 20,000 at 1M memories; an exact count of a word in half of a million memories would cost ~25 ms).
-- A memory counts when the word is in any indexed column (text, tags, context), as bm25 counts it
-- for its idf.
SELECT count(*) FROM (SELECT 1 FROM memories_fts WHERE memories_fts MATCH :match LIMIT +:cap);

-- name: fts_indexed_rows
-- The keyword index's row count, as bm25 reads it: the first varint of FTS5's averages record
-- (memories_fts_data row 1; memento/word_counts.py decodes it). One page read, where count(*)
-- reads every page of an index (~5 ms at 100k memories).
SELECT block FROM memories_fts_data WHERE id = 1;
