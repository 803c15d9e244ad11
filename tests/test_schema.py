"""The file format: migrations, refusing foreign/newer/broken files untouched, sqlite3-shell readability."""
from __future__ import annotations

import hashlib
import json
import subprocess

import apsw
import pytest

import memento
from memento import IncompatibleStoreError, StoreError, schema, sqlfiles
from memento.schema import APPLICATION_ID, latest_version

from .conftest import sqlite3_shell


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_store_is_stamped(store_path):
    with memento.open(store_path, tier="minimal"):
        pass
    conn = apsw.Connection(str(store_path))
    assert conn.pragma("application_id") == APPLICATION_ID
    assert conn.pragma("user_version") == latest_version()
    assert conn.pragma("journal_mode") == "wal"


def test_recorded_tables_are_what_the_migrations_build():
    """Opening reads the tables each version must have from sql/migrations/tables.json (building them
    in memory at every start cost each process several MB on a Pi): the record must match the build."""
    recorded = json.loads(sqlfiles.script("migrations", schema.TABLES_FILE))
    assert recorded == json.loads(schema.tables_record()), \
        "sql/migrations/tables.json is stale: python -m memento.schema > sql/migrations/tables.json"
    with pytest.raises(RuntimeError, match="no tables for schema"):
        schema.expected_tables(latest_version() + 1)


@pytest.mark.parametrize("version", range(1, latest_version()))
def test_a_store_at_every_older_version_opens_and_upgrades(store_path, version):
    store_path.parent.mkdir(parents=True)
    conn = apsw.Connection(str(store_path))
    for migration in sqlfiles.migrations()[:version]:
        conn.execute(migration.sql)
    conn.execute("INSERT INTO memories (text, tags, metadata, created_at, updated_at) "
                 "VALUES ('an old kiwi', '[]', '{}', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')")
    conn.pragma("application_id", APPLICATION_ID)
    conn.pragma("user_version", version)
    conn.close()
    with memento.open(store_path, tier="minimal") as mem:
        assert [h.text for h in mem.recall("kiwi")] == ["an old kiwi"]
    assert apsw.Connection(str(store_path)).pragma("user_version") == latest_version()


def test_refuses_newer_schema_untouched(store_path):
    with memento.open(store_path, tier="minimal") as m:
        m.remember("from the future")
    conn = apsw.Connection(str(store_path))
    conn.pragma("user_version", latest_version() + 1)
    conn.close()
    before = sha(store_path)
    with pytest.raises(IncompatibleStoreError, match="newer memento"):
        memento.open(store_path)
    assert sha(store_path) == before


def test_refuses_other_application_untouched(store_path):
    store_path.parent.mkdir(parents=True)
    conn = apsw.Connection(str(store_path))
    conn.execute("CREATE TABLE notes(x); INSERT INTO notes VALUES (1)")
    conn.close()
    before = sha(store_path)
    with pytest.raises(IncompatibleStoreError, match="another application"):
        memento.open(store_path)
    assert sha(store_path) == before


@pytest.mark.parametrize("content", [b"hello, I am a text file\n" * 10, b"\x00" * 4096])
def test_refuses_non_sqlite_file_untouched(store_path, content):
    store_path.parent.mkdir(parents=True)
    store_path.write_bytes(content)
    with pytest.raises(IncompatibleStoreError):
        memento.open(store_path)
    assert store_path.read_bytes() == content


def test_refuses_truncated_store_untouched(store_path):
    with memento.open(store_path, tier="minimal") as m:
        m.remember_many([f"memory number {i} " * 20 for i in range(300)])
    data = store_path.read_bytes()
    store_path.write_bytes(data[: len(data) // 2])
    before = sha(store_path)
    with pytest.raises(IncompatibleStoreError, match="truncated"):
        memento.open(store_path)
    assert sha(store_path) == before


def test_directory_path_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError):
        memento.open(tmp_path)


def test_sqlite3_shell_reads_memories_and_fts(store_path):
    shell = sqlite3_shell()
    with memento.open(store_path, tier="minimal") as m:
        m.remember("Alice switched from coffee to green tea", tags=["prefs"])
        m.remember("Bob goes hiking")
    out = subprocess.run(
        [shell, str(store_path),
         "select id, tags, text from memories order by id;"
         "select rowid from memories_fts where memories_fts match 'drinking OR tea';"
         "select tag, memory_id from memory_tags;"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ['1|["prefs"]|Alice switched from coffee to green tea', "2|[]|Bob goes hiking", "1",
                   "prefs|1"]


def test_shell_edit_keeps_indexes_in_step(store_path):
    """Triggers live in the schema, so even an UPDATE typed into sqlite3 keeps FTS and tags in step."""
    shell = sqlite3_shell()
    with memento.open(store_path, tier="minimal") as m:
        m.remember("old words", tags=["a"])
    subprocess.run([shell, str(store_path),
                    """update memories set text = 'new words', tags = '["b"]' where id = 1;"""], check=True)
    with memento.open(store_path, tier="minimal") as m:
        assert m.recall("old") == [] and [h.id for h in m.recall("new", tags=["b"])] == [1]
        assert all(c.ok for c in m.doctor())


def test_sql_parts_are_included_where_statements_name_them():
    """Both recall statements take their filters and keyword candidates from one text."""
    blocks = sqlfiles.blocks_of({
        "a.sql": ("-- part: shared\nx AS (SELECT 1),\n\n"
                  "-- name: one\nWITH\n-- include: shared\ny AS (SELECT 2) SELECT 3;"),
        "b.sql": "-- name: two\nWITH\n-- include: shared\nz AS (SELECT 4) SELECT 5;"})
    assert blocks == {"one": "WITH\nx AS (SELECT 1),\ny AS (SELECT 2) SELECT 3;",
                      "two": "WITH\nx AS (SELECT 1),\nz AS (SELECT 4) SELECT 5;"}
    with pytest.raises(RuntimeError, match="includes 'missing'"):
        sqlfiles.blocks_of({"a.sql": "-- name: one\n-- include: missing\nSELECT 1;"})
    with pytest.raises(RuntimeError, match="defined twice"):
        sqlfiles.blocks_of({"a.sql": "-- part: p\nSELECT 1;\n-- name: p\nSELECT 2;"})
    # A part may include another part; a part that includes itself, even through another, is refused.
    nested = sqlfiles.blocks_of({"a.sql": "-- part: inner\nSELECT 1\n-- part: outer\nx AS (\n-- include: inner\n),"
                                          "\n-- name: one\nWITH\n-- include: outer\ny AS (SELECT 2) SELECT 3;"})
    assert nested == {"one": "WITH\nx AS (\nSELECT 1\n),\ny AS (SELECT 2) SELECT 3;"}
    with pytest.raises(RuntimeError, match="includes itself"):
        sqlfiles.blocks_of({"a.sql": "-- part: p\n-- include: q\n-- part: q\n-- include: p\n"
                                     "-- name: one\n-- include: p"})
    for name in ("recall_keyword", "recall_hybrid"):
        text = sqlfiles.query(name)
        assert "-- include:" not in text and "top_visible AS MATERIALIZED" in text and "filtered AS (" in text
        assert "memories_fts MATCH :match\nAND rowid BETWEEN :low_id AND :high_id" in text  # best_matches, via top


def test_a_v5_store_upgrades_with_its_keyword_index_rebuilt(store_path):
    """Version 6 changes what the context column holds (a memory that can be hidden is no one's
    context) and how it is found (ties): a version-5 store is rebuilt on open, exactly, and the tag
    rows a shell DELETE left behind there (foreign keys off) are dropped."""
    store_path.parent.mkdir(parents=True)
    conn = apsw.Connection(str(store_path))
    for migration in sqlfiles.migrations()[:5]:
        conn.execute(migration.sql)
    rows = [("what is the door code?", None), ("the door code is 4711", "2020-01-01T00:00:00.000Z"),
            ("ok, noted", None), ("and the alarm?", None), ("same as the door", None)]
    for text, expires_at in rows:  # one thread, all at one created_at (ties), as remember_many writes
        conn.execute("INSERT INTO memories (text, tags, created_at, updated_at, thread, expires_at) "
                     "VALUES (?, '[\"home\"]', '2024-01-01T10:00:00.000Z', '2024-01-01T10:00:00.000Z', 't', ?)",
                     (text, expires_at))
    conn.pragma("foreign_keys", False)  # as in the sqlite3 shell: the tag rows stay
    conn.execute("DELETE FROM memories WHERE text = 'and the alarm?'")
    conn.pragma("application_id", APPLICATION_ID)
    conn.pragma("user_version", 5)
    assert conn.execute("SELECT count(*) FROM memory_tags").get == 5
    conn.close()
    with memento.open(store_path, tier="minimal") as mem:
        assert [c.name for c in mem.doctor() if not c.ok] == ["owner-only file permissions"]  # made by apsw
        assert mem.recall("4711") == []  # "ok, noted" no longer holds the expired text as context
        assert [h.text for h in mem.recall("noted")][0] == "ok, noted"
        assert [m.text for m in mem.iter(thread="t")] == ["what is the door code?", "ok, noted", "same as the door"]
    conn = apsw.Connection(str(store_path))
    assert conn.pragma("user_version") == latest_version() >= 6
    assert conn.execute("SELECT count(*) FROM memory_tags").get == 4
    conn.close()
