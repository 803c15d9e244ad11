-- The pocket tier's side of a store: each memory's static vector (memento/pocket/), made by the
-- shipped token table named in store_meta ('pocket_table'). Plain SQL: the sqlite3 shell and every
-- tier read and write around it without an extension, and the triggers keep it exact whoever writes.
--   vec   int8 x the table's dim (a BLOB), the mean of the text's token rows; a memory without a row
--         here is pending (the pocket tier's backfill() computes it).
--   norm  the length of vec (0: a text with no known token, which matches nothing), kept so that a
--         cosine costs recall one dot product in Python, not three.
CREATE TABLE IF NOT EXISTS memories_pocket (
  id   INTEGER PRIMARY KEY,   -- = memories.id
  vec  BLOB NOT NULL,
  norm REAL NOT NULL
);

-- A forgotten memory's vector goes with it (a trigger rather than a foreign key: the sqlite3 shell
-- runs with foreign keys off).
CREATE TRIGGER IF NOT EXISTS memories_pocket_forget AFTER DELETE ON memories BEGIN
  DELETE FROM memories_pocket WHERE id = old.id;
END;

-- A changed text makes its vector stale, whoever changes it (update(), the shell, another tier): the
-- memory is pending again.
CREATE TRIGGER IF NOT EXISTS memories_pocket_stale AFTER UPDATE OF text ON memories
WHEN old.text IS NOT new.text BEGIN
  DELETE FROM memories_pocket WHERE id = new.id;
END;
