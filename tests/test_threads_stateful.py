"""A hypothesis state machine proves the context column of the keyword index stays exact: inserts
anywhere in a thread (created_at drawn from a few values, so most land in the middle and many tie),
edits, forgets, thread changes, created_at changes, expiry and superseding, through the API and as
raw SQL from a second connection (what a person types in the sqlite3 shell, foreign keys off).
After every step the index must hold, for each memory, exactly the text of its previous memory in
thread order (created_at, id), or nothing when that memory can be hidden (it has an expires_at or
is superseded); tag rows match memories.tags; a REPLACE INTO is refused and changes nothing."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import apsw
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import memento
from memento import sqlfiles

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
threads = st.sampled_from(["a", "b", None])
days = st.integers(1, 4).map(lambda d: f"2024-01-0{d}T00:00:00.000Z")


class ContextMachine(RuleBasedStateMachine):
    @initialize()
    def open_store(self):
        self.dir = tempfile.mkdtemp()
        self.path = Path(self.dir) / "s.db"
        self.mem = memento.open(self.path, tier="minimal")
        self.shell = apsw.Connection(str(self.path))  # a second writer, like the sqlite3 shell
        self.shell.set_busy_timeout(5000)
        self.shell.pragma("foreign_keys", False)  # as in the sqlite3 shell
        self.model = {}  # id -> [text, thread, created_at, can be hidden]

    def teardown(self):
        if hasattr(self, "mem"):
            self.mem.close()
            self.shell.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def pick(self, data):
        return data.draw(st.sampled_from(sorted(self.model)))

    @rule(text=texts, thread=threads, day=days)
    def remember(self, text, thread, day):
        m = self.mem.remember(text, thread=thread, created_at=day, tags=text.split()[:1])
        self.model[m.id] = [text, thread, m.created_at, False]

    @rule(items=st.lists(st.tuples(texts, threads, days), max_size=4))
    def remember_many(self, items):
        made = self.mem.remember_many([{"text": t, "thread": th, "created_at": d} for t, th, d in items])
        for m, (t, th, _) in zip(made, items):
            self.model[m.id] = [t, th, m.created_at, False]

    @precondition(lambda self: self.model)
    @rule(data=st.data(), text=texts)
    def edit_text(self, data, text):
        memory_id = self.pick(data)
        self.mem.update(memory_id, text=text)
        self.model[memory_id][0] = text

    @precondition(lambda self: self.model)
    @rule(data=st.data(), thread=st.sampled_from(["a", "b"]))
    def move_thread(self, data, thread):
        memory_id = self.pick(data)
        self.mem.update(memory_id, thread=thread)
        self.model[memory_id][1] = thread

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def forget(self, data):
        memory_id = self.pick(data)
        self.mem.forget(memory_id)
        del self.model[memory_id]

    @precondition(lambda self: self.model)
    @rule(data=st.data(), text=texts, thread=threads, day=days)
    def shell_update(self, data, text, thread, day):
        memory_id = self.pick(data)
        column = data.draw(st.sampled_from(["text", "thread", "created_at", "all"]))
        if column == "all":
            self.shell.execute("UPDATE memories SET text = ?, thread = ?, created_at = ? WHERE id = ?",
                               (text, thread, day, memory_id))
            self.model[memory_id][:3] = [text, thread, day]
        else:
            value = {"text": text, "thread": thread, "created_at": day}[column]
            self.shell.execute(f"UPDATE memories SET {column} = ? WHERE id = ?", (value, memory_id))
            self.model[memory_id][["text", "thread", "created_at"].index(column)] = value

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def shell_delete(self, data):
        memory_id = self.pick(data)
        self.shell.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
        del self.model[memory_id]

    @rule(text=texts, thread=threads, day=days)
    def shell_insert(self, text, thread, day):
        new_id = self.shell.execute(
            "INSERT INTO memories (text, created_at, updated_at, thread) VALUES (?, ?, ?, ?) RETURNING id",
            (text, day, day, thread)).fetchone()[0]
        self.model[new_id] = [text, thread, day, False]

    @precondition(lambda self: self.model)
    @rule(data=st.data(), expires_at=st.sampled_from(["2020-01-01", "2999-01-01", "never"]))
    def set_expiry(self, data, expires_at):
        memory_id = self.pick(data)
        self.mem.update(memory_id, expires_at=expires_at)
        self.model[memory_id][3] = expires_at != "never" or self.superseded(memory_id)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), column=st.sampled_from(["expires_at", "superseded_by"]),
          value=st.sampled_from([None, "set"]))
    def shell_hide(self, data, column, value):
        memory_id = self.pick(data)
        if value is not None:
            value = "2020-01-01T00:00:00.000Z" if column == "expires_at" else memory_id + 100000
        self.shell.execute(f"UPDATE memories SET {column} = ? WHERE id = ?", (value, memory_id))
        self.model[memory_id][3] = bool(self.shell.execute(
            "SELECT expires_at IS NOT NULL OR superseded_by IS NOT NULL FROM memories WHERE id = ?",
            (memory_id,)).get)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), text=texts)
    def shell_replace(self, data, text):
        memory_id = self.pick(data)
        try:
            self.shell.execute("REPLACE INTO memories (id, text, created_at, updated_at) VALUES (?, ?, ?, ?)",
                               (memory_id, text, "2024-01-01", "2024-01-01"))
        except apsw.ConstraintError as e:
            assert "REPLACE" in str(e)
        else:
            raise AssertionError("REPLACE INTO memories was not refused")

    def superseded(self, memory_id) -> bool:
        return self.mem.get(memory_id).superseded_by is not None

    def expected_context(self):
        out = {}
        for memory_id, (_, thread, created_at, _) in self.model.items():
            before = [(c, i) for i, (_, th, c, _) in self.model.items()
                      if thread is not None and th == thread and (c, i) < (created_at, memory_id)]
            previous = self.model[max(before)[1]] if before else None
            out[memory_id] = previous[0] if previous and not previous[3] else None
        return out

    @invariant()
    def index_is_exact(self):
        if not hasattr(self, "mem"):
            return
        # FTS5's own check: the index equals its content (memories_fts_source), context included.
        self.shell.execute("INSERT INTO memories_fts (memories_fts, rank) VALUES ('integrity-check', 1)")
        expected = self.expected_context()
        assert dict(self.shell.execute("SELECT id, context FROM memories_fts_source")) == expected
        # ... and the index itself, read without the view: every memory is found by each word of
        # its expected context in the context column, and by no other word there.
        for word in WORDS:
            found = {r[0] for r in self.shell.execute(
                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?", (f'context : "{word}"',))}
            assert found == {i for i, c in expected.items() if c and word in c.split()}, word
        # tag rows follow memories.tags, also after a DELETE with foreign keys off
        assert self.shell.execute(sqlfiles.query("tag_rows_out_of_step")).get == 0


ContextMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                            suppress_health_check=[HealthCheck.too_slow])
test_context_column_stays_exact = ContextMachine.TestCase
