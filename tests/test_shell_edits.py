"""Edits typed into the real sqlite3 shell keep tag rows and the keyword index exact.

The shell runs with foreign keys off (no ON DELETE CASCADE) and recursive triggers off (REPLACE
deletes the row it replaces without the delete trigger), so the schema's triggers must hold by
themselves: a DELETE removes the tag rows, a REPLACE that would bypass them is refused.
"""
from __future__ import annotations

import subprocess

import apsw

import memento

from .conftest import sqlite3_shell


def shell(path, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run([sqlite3_shell(), str(path), sql], capture_output=True, text=True)


def healthy(path) -> None:
    with memento.open(path, tier="minimal") as mem:
        failed = [(c.name, c.detail) for c in mem.doctor() if not c.ok and c.name != "owner-only file permissions"]
    assert failed == []


def tag_rows(path) -> list:
    conn = apsw.Connection(str(path))
    try:
        return conn.execute("SELECT memory_id, tag FROM memory_tags ORDER BY memory_id, tag").fetchall()
    finally:
        conn.close()


def test_shell_delete_removes_tag_rows(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        gone = mem.remember("the plumber comes on Tuesday", tags=["home", "todo"])
        kept = mem.remember("renew the passport", tags=["todo"])
    assert shell(store_path, f"DELETE FROM memories WHERE id = {gone.id};").returncode == 0
    assert tag_rows(store_path) == [(kept.id, "todo")]
    healthy(store_path)
    with memento.open(store_path, tier="minimal") as mem:
        assert [h.id for h in mem.recall("passport plumber", tags=["todo"])] == [kept.id]
    assert shell(store_path, "DELETE FROM memories;").returncode == 0
    assert tag_rows(store_path) == []
    healthy(store_path)


def test_shell_replace_into_is_refused_and_changes_nothing(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        first = mem.remember("kiwi smoothie recipe", tags=["food"], thread="t", created_at="2024-01-01")
        second = mem.remember("mango lassi recipe", tags=["food"], thread="t", created_at="2024-01-02")
    for sql in (f"REPLACE INTO memories (id, text, created_at, updated_at) "
                f"VALUES ({first.id}, 'plain water', '2024-01-01', '2024-01-01');",
                f"INSERT OR REPLACE INTO memories (id, text, tags, created_at, updated_at) "
                f"VALUES ({first.id}, 'plain water', '[\"drinks\"]', '2024-01-01', '2024-01-01');",
                f"UPDATE OR REPLACE memories SET id = {first.id} WHERE id = {second.id};"):
        done = shell(store_path, sql)
        assert done.returncode != 0, sql
        assert "memento: " in done.stderr and "REPLACE" in done.stderr, done.stderr
    healthy(store_path)
    assert tag_rows(store_path) == [(first.id, "food"), (second.id, "food")]
    with memento.open(store_path, tier="minimal") as mem:
        assert [(h.id, h.text) for h in mem.recall("kiwi")][0] == (first.id, "kiwi smoothie recipe")
        assert mem.recall("water") == []
        assert mem.get(second.id).text == "mango lassi recipe"


def test_shell_upsert_and_insert_or_ignore_still_work_exactly(store_path):
    """Only REPLACE is refused: an upsert is an UPDATE (its triggers run), OR IGNORE changes nothing."""
    with memento.open(store_path, tier="minimal") as mem:
        first = mem.remember("kiwi smoothie recipe", tags=["food"], thread="t", created_at="2024-01-01")
        second = mem.remember("so refreshing", thread="t", created_at="2024-01-02")
    done = shell(store_path,
                 f"INSERT OR IGNORE INTO memories (id, text, created_at, updated_at) "
                 f"VALUES ({first.id}, 'ignored', '2024-01-01', '2024-01-01');"
                 f"INSERT INTO memories (id, text, tags, created_at, updated_at) "
                 f"VALUES ({first.id}, 'banana bread recipe', '[\"baking\"]', '2024-01-01', '2024-01-01') "
                 "ON CONFLICT (id) DO UPDATE SET text = excluded.text, tags = excluded.tags;")
    assert done.returncode == 0, done.stderr
    healthy(store_path)
    assert tag_rows(store_path) == [(first.id, "baking")]
    with memento.open(store_path, tier="minimal") as mem:
        assert mem.recall("kiwi") == []
        assert {h.id for h in mem.recall("banana")} == {first.id, second.id}  # second: by its context
