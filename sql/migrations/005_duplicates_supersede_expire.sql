-- 005: memory over months. Three plain columns a person can read (and edit) in the sqlite3 shell:
--   expires_at     ISO-8601 UTC like created_at; NULL = never. Past it, a memory is neither
--                  recalled nor listed; `memento prune --expired` deletes it for good.
--   superseded_by  the id of the memory that replaced this one (remember(..., supersedes=id));
--                  NULL = current. Recall leaves superseded memories out unless asked. No foreign
--                  key: forgetting the newer memory leaves the old one superseded by that (now
--                  forgotten, never reused) id; it does not come back silently (Memento.reinstate).
--   text_key       64-bit hash of the text after NFC and whitespace normalisation (memento/dedup.py),
--                  the index behind duplicate detection. SQLite has no NFC, so memento computes it;
--                  the trigger below clears it whenever the text changes without it (a shell edit,
--                  an old version of memento), and memento re-keys NULL keys before its next
--                  duplicate check, so a key never lies.

ALTER TABLE memories ADD COLUMN expires_at TEXT CHECK (expires_at IS NULL OR length(expires_at) > 0);
ALTER TABLE memories ADD COLUMN superseded_by INTEGER CHECK (superseded_by IS NULL OR superseded_by <> id);
ALTER TABLE memories ADD COLUMN text_key INTEGER;

-- Recall excludes expired and superseded memories before its LIMIT; both sets are usually small,
-- so each is read through a partial index holding only its members.
CREATE INDEX memories_expires_at ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX memories_superseded ON memories (superseded_by) WHERE superseded_by IS NOT NULL;

-- Duplicate check: one index seek per remembered text (thread is part of what makes a duplicate).
CREATE INDEX memories_text_key ON memories (text_key, thread);
-- Rows whose key must be (re)computed: existing memories after this migration, shell edits.
CREATE INDEX memories_unkeyed ON memories (id) WHERE text_key IS NULL;

-- Text changed but the key did not come with it: the key is stale, so it is cleared.
CREATE TRIGGER memories_text_key_stale AFTER UPDATE OF text ON memories
WHEN old.text IS NOT new.text AND new.text_key IS old.text_key AND new.text_key IS NOT NULL BEGIN
  UPDATE memories SET text_key = NULL WHERE id = new.id;
END;

-- Pinned memories: `memento list --pinned`.
CREATE INDEX memories_pinned ON memories (id) WHERE pinned = 1;
