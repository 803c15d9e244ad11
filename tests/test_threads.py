"""Threads: a memory's neighbours in its thread (a conversation, a session, a log) help recall find
it; the context column of the keyword index holds the previous memory's text, kept exact by SQL."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import apsw
import pytest

import memento
from memento import cli
from memento.errors import InvalidInputError

from .conftest import sqlite3_shell

FIXTURES = Path(__file__).parent / "fixtures"


def fts_exact(path) -> None:
    """FTS5's own check against its content (memories_fts_source: text, tags, context)."""
    conn = apsw.Connection(str(path))
    try:
        conn.execute("INSERT INTO memories_fts (memories_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def contexts(path) -> dict:
    conn = apsw.Connection(str(path))
    try:
        return dict(conn.execute("SELECT id, context FROM memories_fts_source"))
    finally:
        conn.close()


def test_thread_is_stored_listed_in_order_and_filters_recall(mem):
    late = mem.remember("we met at the harbour", thread="chat", created_at="2024-01-03")
    early = mem.remember("first we talked about the harbour", thread="chat", created_at="2024-01-01")
    other = mem.remember("the harbour is closed", created_at="2024-01-02")
    made = mem.remember_many([{"text": "harbour again", "thread": "log", "created_at": "2024-01-02"}])
    assert (late.thread, other.thread, made[0].thread) == ("chat", None, "log")
    assert mem.get(late.id).thread == "chat"
    assert [m.id for m in mem.iter(thread="chat")] == [early.id, late.id]  # thread order, not id order
    assert {h.id for h in mem.recall("harbour", thread="chat")} == {early.id, late.id}
    assert {h.id for h in mem.recall("harbour")} == {early.id, late.id, other.id, made[0].id}


@pytest.mark.parametrize("bad", ["", "   ", 7, "x" * 257, "a\x00b"])
def test_bad_thread_is_refused_and_nothing_is_written(mem, bad):
    with pytest.raises(InvalidInputError):
        mem.remember("text", thread=bad)
    with pytest.raises(InvalidInputError):
        mem.remember_many([{"text": "ok"}, {"text": "text", "thread": bad}])
    assert mem.count() == 0


def test_a_reply_is_found_through_the_turn_before_it(mem):
    """"Yeah, it was great!" has none of the query's words; the turn before it has them."""
    mem.remember("Did you go to the pottery workshop on Saturday?", thread="chat", created_at="2024-05-01T10:00")
    reply = mem.remember("Yeah, it was great! I made a bowl.", thread="chat", created_at="2024-05-01T10:01")
    mem.remember("The weather was cold", thread="chat", created_at="2024-05-01T10:02")
    assert reply.id in [h.id for h in mem.recall("pottery workshop")]
    # The same memories without a thread: the reply cannot be found by those words.
    mem2 = memento.open(mem.path.parent / "plain.db", tier="minimal")
    with mem2:
        mem2.remember("Did you go to the pottery workshop on Saturday?")
        lone = mem2.remember("Yeah, it was great! I made a bowl.")
        assert lone.id not in [h.id for h in mem2.recall("pottery workshop")]


def test_memories_without_thread_have_no_context(mem):
    for text in ("one apple", "two pears", "three plums"):
        mem.remember(text)
    assert set(contexts(mem.path).values()) == {None}
    assert [h.text for h in mem.recall("pears")] == ["two pears"]


def test_insert_in_the_middle_edit_forget_and_move_keep_context_exact(mem):
    a = mem.remember("alpha", thread="t", created_at="2024-01-01")
    c = mem.remember("charlie", thread="t", created_at="2024-01-03")
    b = mem.remember("bravo", thread="t", created_at="2024-01-02")  # inserted between a and c
    assert contexts(mem.path) == {a.id: None, b.id: "alpha", c.id: "bravo"}
    mem.update(b.id, text="bravissimo")
    assert contexts(mem.path)[c.id] == "bravissimo"
    mem.update(a.id, thread="u")  # a leaves thread t: b becomes its first memory
    assert contexts(mem.path) == {a.id: None, b.id: None, c.id: "bravissimo"}
    mem.forget(b.id)
    assert contexts(mem.path) == {a.id: None, c.id: None}
    fts_exact(mem.path)
    assert [h.id for h in mem.recall("bravissimo")] == []


def test_shell_edits_keep_the_context_column_exact(store_path):
    """Triggers live in the schema: UPDATE/DELETE typed into sqlite3 keep the index exact."""
    shell = sqlite3_shell()
    with memento.open(store_path, tier="minimal") as m:
        ids = [m.remember(t, thread="t", created_at=f"2024-01-0{i}").id
               for i, t in enumerate(["sunrise hike", "so tired after", "pasta dinner", "slept well"], 1)]
    subprocess.run([shell, str(store_path),
                    f"update memories set created_at = '2024-01-09T00:00:00.000Z' where id = {ids[0]};"
                    f"update memories set text = 'lasagna dinner' where id = {ids[2]};"
                    f"delete from memories where id = {ids[1]};"
                    "insert into memories (text, created_at, updated_at, thread) values "
                    "('museum visit', '2024-01-02T12:00:00.000Z', '2024-01-02T12:00:00.000Z', 't');"],
                   check=True)
    fts_exact(store_path)
    with memento.open(store_path, tier="minimal") as m:
        order = [x.text for x in m.iter(thread="t")]
        assert order == ["museum visit", "lasagna dinner", "slept well", "sunrise hike"]
        assert contexts(store_path)[ids[3]] == "lasagna dinner"
        assert all(c.ok for c in m.doctor())
        # "slept well" is found through its predecessor's new words
        assert ids[3] in [h.id for h in m.recall("lasagna")]


def test_doctor_fails_when_the_context_column_is_out_of_step(store_path):
    with memento.open(store_path, tier="minimal") as m:
        m.remember("first words", thread="t", created_at="2024-01-01")
        second = m.remember("second words", thread="t", created_at="2024-01-02")
    conn = apsw.Connection(str(store_path))
    # Re-index one row with a wrong context, as a buggy writer would.
    conn.execute("INSERT INTO memories_fts (memories_fts, rowid, text, tags, context) "
                 "VALUES ('delete', ?, 'second words', '[]', 'first words')", (second.id,))
    conn.execute("INSERT INTO memories_fts (rowid, text, tags, context) VALUES (?, 'second words', '[]', 'wrong')",
                 (second.id,))
    conn.close()
    with memento.open(store_path, tier="minimal") as m:
        failed = {c.name for c in m.doctor() if not c.ok}
    assert "FTS5 integrity-check" in failed


def test_recall_context_returns_the_neighbours(mem):
    ids = [mem.remember(t, thread="t", created_at=f"2024-01-0{i}").id
           for i, t in enumerate(["zero", "one", "the needle", "three", "four"], 1)]
    hit = mem.recall("needle", context=2)[0]  # its neighbours follow it (smoothing)
    assert [(n.id, n.offset) for n in hit.context] == [(ids[0], -2), (ids[1], -1), (ids[3], 1), (ids[4], 2)]
    assert [n.text for n in hit.context] == ["zero", "one", "three", "four"]
    assert mem.recall("needle")[0].context == ()
    with pytest.raises(InvalidInputError):
        mem.recall("needle", context=-1)


def test_cli_thread_and_context(store_path, capsys):
    db = ["--db", str(store_path), "--tier", "minimal"]
    for i, text in enumerate(["we climbed Mount Rainier", "it was beautiful up there"]):
        assert cli.main(["remember", text, "--thread", "trip", "--created-at", f"2024-07-0{i + 1}", *db]) == 0
    cli.main(["remember", "unrelated", *db])
    capsys.readouterr()
    assert cli.main(["list", "--thread", "trip", "--json", *db]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(m["text"], m["thread"]) for m in listed] == [("we climbed Mount Rainier", "trip"),
                                                          ("it was beautiful up there", "trip")]
    assert cli.main(["recall", "rainier", "--context", "1", "--json", *db]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hits[0]["text"] == "we climbed Mount Rainier"
    assert hits[0]["context"] == [{"id": listed[1]["id"], "text": "it was beautiful up there", "offset": 1}]


def test_v1_store_upgrades_with_threads(tmp_path):
    path = tmp_path / "v1.db"
    shutil.copy(FIXTURES / "store_v1.db", path)
    with memento.open(path, tier="minimal") as m:
        before = [x.text for x in m.iter()]
        assert before and all(x.thread is None for x in m.iter())
        new = m.remember("threaded note about " + before[0].split()[0], thread="t")
        assert new.id in [h.id for h in m.recall(before[0].split()[0], k=50)]
        assert all(c.ok for c in m.doctor() if c.name != "owner-only file permissions")  # a copy: 0644
    fts_exact(path)
