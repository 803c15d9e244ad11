-- How many memories hold each word of a query (memento/word_counts.py), and how many the keyword
-- index holds in all: the inputs of relevance (memento/relevance.py) and of the rare-word search
-- (memento/rare_words.py), which weigh a query's words by their rarity.

-- name: vocabulary_create
-- The keyword index's own per-word document counts (FTS5's fts5vocab, "row" kind: one row per
-- indexed token with the number of memories holding it in any column), a view of this connection
-- only (temp): nothing is stored. It counts in C over the token's doclist, ~20x faster than
-- counting MATCH rows (1M memories: 0.8 vs 15 ms a query), and exactly.
CREATE VIRTUAL TABLE IF NOT EXISTS temp.memories_fts_vocabulary USING fts5vocab(main, memories_fts, row);

-- name: vocabulary_documents
-- :token: the word as the index stores it (memento/word_counts.py tokenizes it as FTS5 does).
SELECT doc FROM temp.memories_fts_vocabulary WHERE term = :token;

-- name: fts_tokenizer
-- The keyword index's tokenizer (its CREATE statement's tokenize = '...'), for word_counts.py.
SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'memories_fts';

-- name: word_document_count
-- Where the index's tokenizer cannot be used from Python (an older apsw), or a word is not one token.
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

-- name: speaker_names
-- Every speaker the store holds, for relevance (memento/relevance.py): a query word that is a
-- stored speaker's name is no sign the query is about something else, even where no text holds it.
-- A skip scan of the index memories_speaker (migration 009): each step seeks the next speaker
-- after the last one, so the read costs a few page reads per distinct speaker, not one per memory
-- (SQLite's DISTINCT would read every index entry). memento/word_counts.py keeps the answer per
-- connection until the next write, and reads it only for a query with a word no memory's text holds.
WITH RECURSIVE speakers (name) AS (
  SELECT min(speaker) FROM memories WHERE speaker IS NOT NULL
  UNION ALL
  SELECT (SELECT min(speaker) FROM memories WHERE speaker > speakers.name)
  FROM speakers WHERE speakers.name IS NOT NULL
)
-- Each text speaker as its bytes (memento/word_counts.py decodes them): a speaker typed in the sqlite3
-- shell as text that is not UTF-8 would make the read raise, and it runs at every recall.
SELECT CASE WHEN typeof(name) = 'text' THEN CAST(name AS BLOB) END FROM speakers WHERE name IS NOT NULL;
