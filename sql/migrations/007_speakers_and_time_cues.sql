-- 007: who said it, and whether it says when. Two plain columns a person can read in the sqlite3 shell:
--   speaker   who said or wrote the memory (a person's name, "user", "assistant"...); NULL = not known.
--             Recall lifts a memory whose speaker the question names (memento/ranking.py).
--   time_cue  1 when the text holds a time expression (a date, a weekday, a month, a year,
--             "yesterday", "last year"...), 0 when it holds none, NULL = not known yet. memento
--             computes it when it writes a text (memento/time_cues.py); SQLite has no regular
--             expressions, so the trigger below clears it whenever the text changes without it (a
--             shell edit, update()), and memento computes every NULL one at its next write. Recall
--             lifts a memory with a time cue for a question that asks when (a NULL counts as 0).

ALTER TABLE memories ADD COLUMN speaker TEXT CHECK (speaker IS NULL OR length(speaker) > 0);
ALTER TABLE memories ADD COLUMN time_cue INTEGER CHECK (time_cue IS NULL OR time_cue IN (0, 1));

-- Rows whose cue must be (re)computed: existing memories after this migration, edited texts.
CREATE INDEX memories_time_cue_unknown ON memories (id) WHERE time_cue IS NULL;

CREATE TRIGGER memories_time_cue_stale AFTER UPDATE OF text ON memories
WHEN old.text IS NOT new.text AND new.time_cue IS NOT NULL BEGIN
  UPDATE memories SET time_cue = NULL WHERE id = new.id;
END;
