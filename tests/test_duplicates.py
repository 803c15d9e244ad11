"""Memory over time: duplicates, on real stores in the minimal tier. Apart from
test_expiry_and_superseding.py so that each pytest process of the emulated Pi lane stays under its 100 MB cap."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import traceback
import unicodedata

import pytest

import memento
from memento.errors import InvalidInputError, MemoryNotFoundError

from .conftest import sqlite3_shell
from .test_expiry_and_superseding import FUTURE, PAST, cli

# -- duplicates ------------------------------------------------------------------------------------

def test_repeated_text_returns_the_stored_memory_merged(mem):
    first = mem.remember("Alice drinks green tea", tags=["prefs"], metadata={"src": "chat", "n": 1})
    time.sleep(0.002)
    decomposed = unicodedata.normalize("NFD", "  Alice\tdrinks   green tea \n")
    again = mem.remember(decomposed, tags=["drinks", "prefs"], metadata={"n": 2, "seen": True}, pinned=True)
    assert again.id == first.id and again.duplicate_of == first.id and first.duplicate_of is None
    assert again.tags == ("prefs", "drinks")
    assert again.metadata == {"src": "chat", "n": 2, "seen": True}
    assert again.pinned and again.updated_at > first.updated_at and again.created_at == first.created_at
    assert mem.count() == 1 and mem.get(first.id).tags == ("prefs", "drinks")
    assert [h.id for h in mem.recall("drinks", tags=["drinks"])] == [first.id]  # tag index follows


def test_what_is_not_a_duplicate(mem):
    a = mem.remember("same words")
    assert mem.remember("Same words").duplicate_of is None           # case counts
    assert mem.remember("same words", thread="chat").duplicate_of is None  # another thread
    assert mem.remember("same words", dedup=False).duplicate_of is None    # opted out
    assert mem.remember("same words").id == a.id
    expired = mem.remember("short lived", expires_at=PAST)
    assert mem.remember("short lived").id != expired.id              # an expired memory is gone
    assert mem.count() == 5 and mem.count(include_expired=True) == 6  # the expired one is not recallable


def test_duplicate_expiry_takes_the_later_time(mem):
    a = mem.remember("temporary fact", expires_at="2998-01-01T00:00:00Z")
    assert mem.remember("temporary fact", expires_at=FUTURE).expires_at == "2999-01-01T00:00:00.000Z"
    assert mem.remember("temporary fact", expires_at="2997-01-01").expires_at == "2999-01-01T00:00:00.000Z"
    assert mem.remember("temporary fact").expires_at is None  # remembered for good now
    assert mem.count() == 1 and mem.get(a.id).expires_at is None


def test_remember_many_merges_duplicates_in_the_batch_and_in_the_store(mem):
    stored = mem.remember("one")
    made = mem.remember_many(["two", {"text": "one", "tags": ["x"]}, "two ", "three", {"text": "two", "tags": ["y"]}])
    two, three = made[0].id, made[3].id
    assert [m.id for m in made] == [two, stored.id, two, three, two]
    assert [m.duplicate_of for m in made] == [None, stored.id, made[0].id, None, made[0].id]
    assert mem.count() == 3 and mem.get(made[0].id).tags == ("y",) and mem.get(stored.id).tags == ("x",)
    assert len(mem.remember_many(["two", "two"], dedup=False)) == 2 and mem.count() == 5


def test_a_duplicate_whose_merge_is_too_big_writes_nothing(mem):
    mem.remember("tag heavy", tags=[f"t{i}" for i in range(60)])
    with pytest.raises(InvalidInputError, match="tags"):
        mem.remember_many(["fresh", {"text": "tag heavy", "tags": [f"u{i}" for i in range(10)]}])
    assert mem.count() == 1


def test_shell_edits_keep_duplicate_detection_exact(mem, store_path):
    a = mem.remember("first text")
    b = mem.remember("second text")
    shell = sqlite3_shell()
    subprocess.run([shell, str(store_path),
                    f"update memories set text = 'the edited text' where id = {a.id};"
                    "insert into memories (text, created_at, updated_at) values ('typed in the shell', "
                    "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');"], check=True)
    keys = dict(mem._conn.execute("select id, text_key from memories").fetchall())
    assert keys[a.id] is None and keys[b.id] is not None  # the trigger cleared the stale key
    assert mem.remember("the  edited text").id == a.id
    assert mem.remember("typed in the shell").duplicate_of == b.id + 1
    assert mem.remember("first text").duplicate_of is None  # the old text is no longer stored
    assert mem.count() == 4


def _in_a_child(work, *args) -> int:
    """fork(): work(*args) in a child process, which exits 0 if it returned and 1 if it raised."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work(*args)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def _exit_code(pid: int, timeout: float) -> int:
    """The child's exit code; a child still running after timeout seconds is killed (-9)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _remember_shared_facts(path, start: float) -> None:
    with memento.open(path, tier="minimal") as mem:
        time.sleep(max(0.0, start - time.time()))
        for i in range(60):
            mem.remember(f"shared fact number {i}", tags=["w"])


@pytest.mark.spawns_python
def test_two_processes_remembering_the_same_texts_store_each_once(store_path):
    # This process and one forked from it (which opens its own connection after the fork): a second
    # interpreter beside pytest would not fit the emulated Pi lane's 100 MB cap, a forked process
    # shares this one's pages until it writes them.
    memento.open(store_path, tier="minimal").close()   # no connection is open across the fork
    start = time.time() + 2.0
    child = _in_a_child(_remember_shared_facts, store_path, start)
    try:
        _remember_shared_facts(store_path, start)
    finally:
        assert _exit_code(child, timeout=120) == 0
    with memento.open(store_path, tier="minimal") as mem:
        texts = [m.text for m in mem.iter()]
    assert len(texts) == 60 and len(set(texts)) == 60


def test_dedup_lists_and_merges_existing_duplicates(mem):
    a = mem.remember("Bob likes jazz", tags=["music"], metadata={"k": 1}, dedup=False)
    b = mem.remember("Bob  likes jazz", tags=["bob"], metadata={"k": 2, "z": 0}, dedup=False)
    c = mem.remember("Bob likes jazz", dedup=False, thread="t1")       # other thread: its own
    d = mem.remember("Bob likes jazz", dedup=False)
    e = mem.remember("Bob likes jazz a lot", supersedes=d.id)  # points at a duplicate that goes away
    groups = mem.duplicates()
    assert [(g.keep, g.others) for g in groups] == [(a.id, (b.id,))]  # d is superseded: history, not a copy
    mem.reinstate(d.id)
    groups = mem.duplicates()
    assert [(g.keep, g.others) for g in groups] == [(a.id, (b.id, d.id))]
    mem.remember("Bob likes jazz a lot", supersedes=d.id)  # e (a duplicate) supersedes d again
    assert mem.merge_duplicates()[0].others == (b.id,)
    kept = mem.get(a.id)
    assert kept.tags == ("music", "bob") and kept.metadata == {"k": 2, "z": 0}
    assert mem.get(d.id).superseded_by == e.id and mem.get(c.id).thread == "t1"
    with pytest.raises(MemoryNotFoundError):
        mem.get(b.id)
    assert mem.duplicates() == [] and all(c.ok for c in mem.doctor())


def test_dedup_apply_repoints_what_a_removed_copy_superseded(mem):
    a = mem.remember("status: green", dedup=False)
    b = mem.remember("status: green", dedup=False)
    old = mem.remember("status: red")
    mem._conn.execute("update memories set superseded_by = ? where id = ?", (b.id, old.id))
    mem.merge_duplicates()
    assert mem.get(old.id).superseded_by == a.id


def test_cli_dedup_and_already_remembered(capsys, store_path):
    db = ["--db", str(store_path), "--tier", "minimal"]
    cli(capsys, "remember", "deploy on fridays is banned", *db)
    code, out, _ = cli(capsys, "remember", "deploy on fridays  is banned", "--tag", "ops", *db)
    assert code == 0 and "already remembered as 1" in out
    cli(capsys, "remember", "deploy on fridays is banned", "--no-dedup", *db)
    code, out, _ = cli(capsys, "dedup", *db)
    assert code == 0 and "#1 <- #2" in out and "--apply" in out
    code, out, _ = cli(capsys, "dedup", "--apply", *db)
    assert code == 0 and "merged 1 group" in out
    code, out, _ = cli(capsys, "dedup", "--near", "0.9", *db)
    assert code == 1


def test_ingest_keys_every_row_and_old_rows_are_keyed_on_first_write(mem):
    mem.remember_many([f"note {i}" for i in range(20)])
    assert mem._conn.execute("select count(*) from memories where text_key is null").fetchone()[0] == 0
    mem._conn.execute("update memories set text_key = null")  # as after migration 005 on an old store
    assert mem.remember("note 7").duplicate_of is not None
    assert mem._conn.execute("select count(*) from memories where text_key is null").fetchone()[0] == 0
