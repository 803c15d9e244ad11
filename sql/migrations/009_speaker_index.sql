-- 009: an index of the memories' speakers (issue 25). Relevance asks, once per query that holds a
-- word no memory's text holds, whether that word is a stored speaker's name (memento/relevance.py):
-- the distinct speakers are read by seeking from one to the next in this index (a few reads per
-- speaker, sql/queries/word_counts.sql), where without it the read walked the whole table (~130 ms
-- at 1M memories). Partial: memories without a speaker cost nothing here.
CREATE INDEX memories_speaker ON memories (speaker) WHERE speaker IS NOT NULL;
