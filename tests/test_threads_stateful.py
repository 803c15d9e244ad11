"""A hypothesis state machine proves the context column of the keyword index stays exact: inserts
anywhere in a thread (created_at drawn from a few values, so most land in the middle), edits,
forgets, thread changes and created_at changes, through the API and as raw SQL from a second
connection (what a person types in the sqlite3 shell). After every step the index must hold, for
each memory, exactly the text of its previous memory in thread order (created_at, id)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import apsw
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import memento

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
        self.model = {}  # id -> [text, thread, created_at]

    def teardown(self):
        if hasattr(self, "mem"):
            self.mem.close()
            self.shell.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def pick(self, data):
        return data.draw(st.sampled_from(sorted(self.model)))

    @rule(text=texts, thread=threads, day=days)
    def remember(self, text, thread, day):
        m = self.mem.remember(text, thread=thread, created_at=day)
        self.model[m.id] = [text, thread, m.created_at]

    @rule(items=st.lists(st.tuples(texts, threads, days), max_size=4))
    def remember_many(self, items):
        made = self.mem.remember_many([{"text": t, "thread": th, "created_at": d} for t, th, d in items])
        for m, (t, th, _) in zip(made, items):
            self.model[m.id] = [t, th, m.created_at]

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
            self.model[memory_id] = [text, thread, day]
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
        self.model[new_id] = [text, thread, day]

    def expected_context(self):
        out = {}
        for memory_id, (_, thread, created_at) in self.model.items():
            before = [(c, i) for i, (_, th, c) in self.model.items()
                      if thread is not None and th == thread and (c, i) < (created_at, memory_id)]
            out[memory_id] = self.model[max(before)[1]][0] if before else None
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


ContextMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                            suppress_health_check=[HealthCheck.too_slow])
test_context_column_stays_exact = ContextMachine.TestCase
