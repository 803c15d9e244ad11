-- The pocket tier's static token table, a read-only file the package ships
-- (memento/pocket/static-minilm-l6.sqlite, written by tools/pocket_table.py).
--   meta     format, dim, recipe, model, licence, content_sha256, ...
--   tokens   one row per WordPiece token: id (the model's vocabulary id), piece ("tea", "##ing"),
--            its static vector as int8 (vec, dim bytes) times scale
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE tokens (
  id    INTEGER PRIMARY KEY,
  piece TEXT NOT NULL UNIQUE,
  scale REAL NOT NULL,
  vec   BLOB NOT NULL
);
